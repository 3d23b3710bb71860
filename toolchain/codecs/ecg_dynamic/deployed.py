"""The deployed codec: int8 TFLite encoder (+ predictor heads) and per-level int8 decoders, with
the integer conventions the device and the host share. Folder layout (models/ecg-dynamic/):

    encoder.tflite          int8 in (1, 2048, 1); outputs z1 (1,128,1), z2 (1,64,1), z3 (1,32,1), errors (1,12)
    decoder1..3.tflite      int8 in (1, L, 1) latent; out (1, 2048, 1) mean-removed mV
    codec.json              quantization, latent bits, task weights (written by export())
    README.md               model card

Integer conventions (bit-exact on every family; the C is firmware_templates/ecg_dynamic/):
- segment mean: m = (sum(x) + 1024) >> 11 over the 2048 adu samples (after imputation);
- encoder input: q = clamp(zp_in + (((x - m) * in_mult + 32768) >> 16), -128, 127),
  in_mult = round(65536 / (200 * s_in)) (arithmetic shift, floor);
- latent at B bits from the int8 code q: s = 8 - B, u = min((q + 128 + (s ? 1 << (s-1) : 0)) >> s, 2^B - 1);
  the host puts back q' = (u << s) - 128 before the int8 decoder.
- errors (12,): level l's task t prediction is errors[4 (l - 1) + t], t = beat, rpeak, rhythm, weighted.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ... import paths
from . import LEVEL_CG, SEG_N, TASKS
from .model import LATENT_LEN, N_PRED

NAME = "ecg-dynamic"
OUTPUT_NAMES = ("z1", "z2", "z3", "errors")
TASK_IDS = {t: i for i, t in enumerate((*TASKS, "weighted"))}


class DynamicModelError(RuntimeError):
    pass


def default_dir() -> Path:
    return Path(os.environ.get("TINYCODEC_ECG_DYNAMIC", paths.models_dir() / NAME))


@dataclass
class TensorQ:
    scale: float
    zero_point: int
    shape: tuple[int, ...]


@dataclass
class DynamicModel:
    """What the host and the code generators need of a deployed codec folder."""
    root: Path
    name: str
    n: int
    latent_bits: int
    input_q: TensorQ
    outputs: dict[str, TensorQ]        # by OUTPUT_NAMES
    output_order: list[str]            # TFLite output index -> name
    decoder_q: dict[int, dict[str, TensorQ]]
    task_weights: dict[str, float]
    meta: dict = field(default_factory=dict)
    # The heads predict pred_scale[t] * error of task t (beat, rpeak, rhythm, weighted), so that
    # tasks of very different magnitudes share the one int8 errors output without an R-peak BCE of
    # 0.01 rounding to zero; the device folds the scale into its per-task threshold multiplier.
    pred_scale: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)

    mode = "ecg-dynamic"

    @cached_property
    def encoder_tflite(self) -> bytes:
        return (self.root / "encoder.tflite").read_bytes()

    def decoder_tflite(self, level: int) -> bytes:
        return (self.root / f"decoder{level}.tflite").read_bytes()

    @property
    def in_mult(self) -> int:
        return int(round(65536.0 / (200.0 * self.input_q.scale)))

    def latent_len(self, level: int) -> int:
        return LATENT_LEN[level]

    @property
    def cg(self) -> dict[int, int]:
        return dict(LEVEL_CG)


def _tq(d: dict) -> TensorQ:
    return TensorQ(float(d["scale"]), int(d["zero_point"]), tuple(int(s) for s in d["shape"]))


def load_dynamic(where: str | os.PathLike | None = None) -> DynamicModel:
    """A codec folder (default models/ecg-dynamic, or $TINYCODEC_ECG_DYNAMIC); `where` may be the name."""
    root = default_dir() if where in (None, NAME) else Path(where)
    cj = root / "codec.json"
    if not cj.is_file():
        raise DynamicModelError(f"{cj}: no such file (an ECG dynamic codec folder holds codec.json, "
                                "encoder.tflite and decoder1..3.tflite; `make bench-ecg` trains one)")
    try:
        c = json.loads(cj.read_text())
        return DynamicModel(
            root=root, name=c["name"], n=int(c["n"]), latent_bits=int(c["latent_bits"]),
            input_q=_tq(c["input"]), outputs={k: _tq(v) for k, v in c["outputs"].items()},
            output_order=list(c["output_order"]),
            decoder_q={int(k): {io: _tq(v) for io, v in d.items()} for k, d in c["decoders"].items()},
            task_weights={k: float(v) for k, v in c["task_weights"].items()}, meta=c.get("meta", {}),
            pred_scale=_pred_scale(c.get("pred_scale", [1.0] * N_PRED), cj))
    except (KeyError, TypeError, ValueError) as e:
        raise DynamicModelError(f"{cj}: malformed ({type(e).__name__}: {e})") from None


def _pred_scale(v, where: Path) -> tuple[float, ...]:
    s = tuple(float(x) for x in v)
    if len(s) != N_PRED or not all(x > 0 for x in s):
        raise DynamicModelError(f"{where}: pred_scale must be {N_PRED} positive numbers, got {v}")
    return s


def _io(tfl: bytes) -> tuple[dict, list[dict]]:
    from ...train.zoo.common import _interpreter
    ip = _interpreter(tfl)

    def q(d):
        s, z = d["quantization"]
        return {"scale": float(s), "zero_point": int(z), "shape": [int(v) for v in d["shape"]],
                "name": d["name"]}
    return q(ip.get_input_details()[0]), [q(d) for d in ip.get_output_details()]


def _name_outputs(outs: list[dict]) -> list[str]:
    """TFLite output index -> z1/z2/z3/errors, by shape (the latents differ in length)."""
    by_shape = {(1, LATENT_LEN[1], 1): "z1", (1, LATENT_LEN[2], 1): "z2", (1, LATENT_LEN[3], 1): "z3",
                (1, 3 * N_PRED): "errors"}
    names = [by_shape.get(tuple(o["shape"])) for o in outs]
    if sorted(n for n in names if n) != sorted(OUTPUT_NAMES):
        raise DynamicModelError(f"encoder outputs {[o['shape'] for o in outs]} are not z1/z2/z3/errors")
    return names


def export(root: Path, encoder_tflite: bytes, decoder_tflites: dict[int, bytes], latent_bits: int,
           task_weights: dict[str, float], meta: dict | None = None,
           pred_scale: tuple[float, ...] | None = None) -> DynamicModel:
    """Write the folder (tflites + codec.json) and load it back."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "encoder.tflite").write_bytes(encoder_tflite)
    i, outs = _io(encoder_tflite)
    if tuple(i["shape"]) != (1, SEG_N, 1):
        raise DynamicModelError(f"encoder input {i['shape']}, expected (1, {SEG_N}, 1)")
    names = _name_outputs(outs)
    decs = {}
    for lv, tfl in decoder_tflites.items():
        (root / f"decoder{lv}.tflite").write_bytes(tfl)
        di, do = _io(tfl)
        decs[str(lv)] = {"input": di, "output": do[0]}
    c = {"name": NAME, "n": SEG_N, "latent_bits": int(latent_bits), "input": i,
         "outputs": {n: o for n, o in zip(names, outs)}, "output_order": names,
         "decoders": decs, "task_weights": task_weights,
         "pred_scale": [float(x) for x in (pred_scale or [1.0] * N_PRED)], "meta": meta or {}}
    (root / "codec.json").write_text(json.dumps(c, indent=1) + "\n")
    return load_dynamic(root)
