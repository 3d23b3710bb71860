"""What every zoo model shares: TensorFlow set-up, int8 conversion, TFLite / TFLite Micro runs,
quantization as TFLite does it, the card parser, and what a builder hands back (Built, ZooSpec)."""
from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ... import paths

ZOO_DIR = paths.zoo_dir()
N_HELDOUT = 128
N_REPRESENTATIVE = 200
REBUILD = "tinycodec zoo --only {name}"  # `make zoo` rebuilds them all
OPSET_LINE = re.compile(r"^- op set: (.*)$", re.M)


# ---------------------------------------------------------------- TF helpers

def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    return tf


def _keras():
    _tf()
    import keras
    return keras


def _limit_threads(n: int = 2) -> None:
    tf = _tf()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime is already initialized: keep its setting
        pass


def _seed(seed: int) -> None:
    keras = _keras()
    keras.utils.set_random_seed(seed)
    with contextlib.suppress(Exception):
        _tf().config.experimental.enable_op_determinism()


def convert_int8(model, representative: np.ndarray) -> bytes:
    """Full-integer TFLite flatbuffer (int8 input and output) of a batch-1 Keras model."""
    tf = _tf()
    rep = np.asarray(representative, dtype=np.float32)[:N_REPRESENTATIVE]

    def gen():
        for r in rep:
            yield [r[None]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(conv.convert())


def _interpreter(tfl: bytes):
    """tf.lite.Interpreter with the reference kernels (no XNNPACK delegate), like TFLite Micro's."""
    tf = _tf()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ip = tf.lite.Interpreter(
            model_content=tfl,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    ip.allocate_tensors()
    return ip


def tflite_ops(tfl: bytes) -> list[str]:
    """Builtin op names in execution order."""
    return [o["op_name"] for o in _interpreter(tfl)._get_ops_details()]


def io_details(tfl: bytes) -> dict:
    """Input/output shape, dtype, scale and zero point (single input, single output)."""
    ip = _interpreter(tfl)
    out = {}
    for key, det in (("input", ip.get_input_details()), ("output", ip.get_output_details())):
        if len(det) != 1:
            raise ValueError(f"zoo models have one {key}, this one has {len(det)}")
        d = det[0]
        scale, zp = d["quantization"]
        out[key] = {"shape": tuple(int(s) for s in d["shape"]), "dtype": np.dtype(d["dtype"]).name,
                    "scale": float(scale), "zero_point": int(zp)}
    return out


def quantize_like_tflite(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 = clip(round(x / scale) + zp): float32 division, round half away from zero (std::round)."""
    v = np.asarray(x, dtype=np.float32) / np.float32(scale)
    r = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))
    return np.clip(r.astype(np.int64) + int(zero_point), -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def run_tflite(tfl: bytes, x_int8: np.ndarray) -> np.ndarray:
    """Run the TFLite interpreter on each input of x_int8 (N, *input shape); int8 outputs (N, *out)."""
    ip = _interpreter(tfl)
    i, o = ip.get_input_details()[0]["index"], ip.get_output_details()[0]["index"]
    ys = []
    for x in x_int8:
        ip.set_tensor(i, x)
        ip.invoke()
        ys.append(ip.get_tensor(o).copy())
    return np.stack(ys)


def run_tflm(tfl: bytes, x_int8: np.ndarray, arena_size: int = 256 * 1024) -> np.ndarray:
    """The same through the TFLite Micro interpreter (reference kernels)."""
    from tflite_micro.python.tflite_micro import runtime
    ip = runtime.Interpreter.from_bytes(tfl, arena_size=arena_size)
    ys = []
    for x in x_int8:
        ip.set_input(x, 0)
        ip.invoke()
        ys.append(np.array(ip.get_output(0), copy=True))
    return np.stack(ys)


def card_ops(readme_text: str) -> list[str]:
    """The sorted op set a model card states (its `- op set: A, B, ...` line)."""
    m = OPSET_LINE.search(readme_text)
    if not m:
        raise ValueError("model card has no '- op set: ...' line")
    return [s.strip() for s in m.group(1).split(",") if s.strip()]


def _q_through(tfl: bytes, x_float: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Quantize float inputs for tfl, run it; returns (x int8, y int8, io details)."""
    io_ = io_details(tfl)
    xq = quantize_like_tflite(x_float, io_["input"]["scale"], io_["input"]["zero_point"])
    xq = xq.reshape((len(x_float),) + io_["input"]["shape"])
    return xq, run_tflite(tfl, xq), io_


def _deq_out(y: np.ndarray, io_: dict) -> np.ndarray:
    return dequantize(y, io_["output"]["scale"], io_["output"]["zero_point"])


def _evenly(n_total: int, k: int) -> np.ndarray:
    k = min(k, n_total)
    return np.linspace(0, n_total - 1, k).round().astype(int)


# ---------------------------------------------------------------- what a builder hands back

@dataclass
class Built:
    """A trained (or weight-loaded) model ready to convert, with its held-out data and quality."""
    model: object                          # batch-1 Keras model to convert
    representative: np.ndarray             # float training inputs (no batch axis)
    heldout: np.ndarray                    # float held-out inputs (N, *input shape w/o batch)
    labels: np.ndarray | None = None
    extra: dict = field(default_factory=dict)  # more arrays for heldout.npz
    data: str = ""                         # data and split, for the card
    train: str = ""                        # how it was trained, for the card
    train_s: float = 0.0
    quality: Callable[[bytes], list[tuple[str, str, str]]] | None = None  # (figure, float, int8) rows
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ZooSpec:
    name: str
    purpose: str
    build: Callable[[int], Built]


