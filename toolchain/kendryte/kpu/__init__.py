"""The Kendryte K210's KPU: which layers it can run (placement) and KPU-friendly model layouts.

    from toolchain.kendryte.kpu import place_model, kpu_summary
    kpu_summary(place_model("models/zoo/image-encoder/model.tflite"))
"""
from toolchain.kendryte.kpu.placement import FAQ_LIMITS, KPU_LIMITS, KpuLimits, LayerPlacement, kpu_bytes, kpu_summary, place_model

__all__ = ["FAQ_LIMITS", "KPU_LIMITS", "KpuLimits", "LayerPlacement", "kpu_bytes", "kpu_summary",
           "place_model"]
