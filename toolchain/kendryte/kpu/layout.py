"""KPU-friendly layouts for 1-D signal models.

The zoo's ECG models convolve along time with 1xK kernels (Conv1D with K = 3, 5, 7) on 1 x L
maps. The K210's KPU runs only square 1x1 and 3x3 kernels on maps of at least 4x4
(:mod:`.placement`), so almost all of their work falls back to the RISC-V CPU. The fix a model
builder (or NAS) can apply is a different layout, not a different compiler: fold the signal of L
samples into an H x W map, row-major (row r holds samples r*W .. r*W + W-1), and use 3x3 kernels.
A 3x3 kernel then sees 3 consecutive samples in 3 rows W samples apart -- a receptive field of
2W + 3 samples, with a different inductive bias than a 1x7 kernel: the variant must be trained and
evaluated like any new architecture before it replaces the original. Here it exists to show the
placement difference, so its weights are untrained (placement does not depend on weight values) and
its int8 calibration uses seeded random inputs.

    from toolchain.kendryte.kpu.layout import ecg_encoder_kpu_tflite, compare_placement
    compare_placement("models/zoo/ecg-cae-encoder/model.tflite", ecg_encoder_kpu_tflite())
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from toolchain.nn.tflite_model import Graph
from toolchain.kendryte.kpu.placement import KPU_LIMITS, KpuLimits, kpu_summary, place_model

__all__ = ["ECG_VARIANT_NAME", "compare_placement", "ecg_encoder_kpu_keras", "ecg_encoder_kpu_tflite",
           "kpu_fold"]

ECG_VARIANT_NAME = "ecg-cae-encoder-kpu2d"


def kpu_fold(length: int, limits: KpuLimits = KPU_LIMITS) -> tuple[int, int]:
    """(H, W) with H * W == length, both >= the KPU minimum, closest to square.

    Square keeps the 3x3 receptive field balanced between neighbouring samples (along W) and
    neighbouring rows (W samples apart)."""
    best = None
    for h in range(limits.min_hw, math.isqrt(length) + 1):
        if length % h == 0:
            w = length // h
            if w <= limits.max_w and h <= limits.max_h:
                best = (h, w)
    if best is None:
        raise ValueError(f"a signal of {length} samples has no H x W fold with H, W >= "
                         f"{limits.min_hw}, W <= {limits.max_w}, H <= {limits.max_h}; pad or crop it "
                         "to a length such as 256 (16 x 16)")
    return best


def ecg_encoder_kpu_keras(length: int = 256, latent_channels: int = 2, seed: int = 0):
    """The ecg-cae-encoder's job (256 samples -> 128 latent values) in a KPU-friendly layout.

    Original (models/zoo/ecg-cae-encoder): Conv1D 7/s2 (8) -> DepthwiseConv1D 5/s2 -> Conv1D 1 (8)
    -> Conv1D 3/s2 (4) = 32 x 4 latent. Variant: fold 256 -> 16 x 16, Conv2D 3x3 (8) + ReLU with a
    2x2 max pool (fused into the KPU conv) -> DepthwiseConv2D 3x3 + ReLU6 -> Conv2D 1x1 (8) + ReLU
    -> Conv2D 3x3 (2) = 8 x 8 x 2 latent, the same 128 values. Untrained (seeded init)."""
    from ...train.zoo.common import _keras, _seed
    keras = _keras()
    from keras import layers
    h, w = kpu_fold(length)
    _seed(seed)
    x = keras.Input((length, 1), batch_size=1, name="ecg")
    t = layers.Reshape((h, w, 1), name="fold")(x)
    t = layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(t)
    t = layers.MaxPooling2D(2, name="pool1")(t)
    t = layers.DepthwiseConv2D(3, padding="same", activation="relu6", name="dwconv2")(t)
    t = layers.Conv2D(8, 1, activation="relu", name="pwconv2")(t)
    z = layers.Conv2D(latent_channels, 3, padding="same", name="latent")(t)
    return keras.Model(x, z, name="ecg_cae_encoder_kpu2d")


def ecg_encoder_kpu_tflite(length: int = 256, seed: int = 0, n_calib: int = 64) -> bytes:
    """The variant as a fully int8 TFLite model, converted like the zoo (zoo.convert_int8).

    Calibration uses seeded standard-normal inputs (about the scale of the zoo's mV-normalized
    windows): enough for a valid int8 model whose placement is the point, not its accuracy."""
    from ...train.zoo.common import convert_int8
    model = ecg_encoder_kpu_keras(length, seed=seed)
    rep = np.random.default_rng(seed).standard_normal((n_calib, length, 1)).astype(np.float32)
    return convert_int8(model, rep)


def compare_placement(original: Graph | str | Path | bytes, variant: Graph | str | Path | bytes) -> dict:
    """kpu_summary of both models, and what moved: {'original': .., 'variant': .., 'gain': ..}."""
    a, b = kpu_summary(place_model(original)), kpu_summary(place_model(variant))
    return {"original": a, "variant": b,
            "gain": {"kpu_mac_share": b["kpu_mac_share"] - a["kpu_mac_share"],
                     "kpu_layers": b["kpu_layers"] - a["kpu_layers"]}}
