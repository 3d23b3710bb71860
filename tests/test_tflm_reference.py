"""The int8 references: TFLite Micro's Python interpreter against TensorFlow Lite's reference kernels.

The two do not agree bit for bit: they requantize the int32 accumulator
differently. TFLite Micro rounds twice (gemmlowp's SaturatingRoundingDoublingHighMul,
then RoundingDivideByPOT); TensorFlow Lite 2.21's reference kernels round once
((acc * multiplier + 2^(s-1)) >> s, TFLITE_SINGLE_ROUNDING). An integer model
of both in numpy pins each down exactly, so a change on either side shows here.
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from toolchain.nn.tflm_reference import (  # noqa: E402
    TFLiteReferenceError, run_tflite_ref, run_tflm, run_tflm_all, tflm_arena)

IN_SHAPE = (1, 16)


@pytest.fixture(scope="module")
def model() -> bytes:
    """A tiny fully int8 model: Dense(24, relu) -> Dense(6), input and output int8."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input(IN_SHAPE[1:]),
                          keras.layers.Dense(24, activation="relu", bias_initializer="random_normal"),
                          keras.layers.Dense(6, bias_initializer="random_normal")])
    rng = np.random.default_rng(1)
    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.standard_normal(IN_SHAPE).astype(np.float32)] for _ in range(64))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")  # int8 I/O: expected
        return conv.convert()


def _inputs(n: int, seed: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=IN_SHAPE, dtype=np.int8) for _ in range(n)]


# ---------------------------------------------------------------------------
# integer model of the two FULLY_CONNECTED layers


def _quantize_multiplier(scale: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: scale = q * 2^(shift - 31), q in [2^30, 2^31)."""
    m, shift = math.frexp(scale)
    q = math.floor(m * (1 << 31) + 0.5)  # TfLiteRound: half away from zero (m > 0)
    if q == 1 << 31:
        q, shift = q // 2, shift + 1
    return q, shift


def _rescale_twice(x: int, q: int, shift: int) -> int:
    """TFLite Micro: SaturatingRoundingDoublingHighMul(x << left, q), then RoundingDivideByPOT(right)."""
    x <<= max(shift, 0)
    if x == q == -(1 << 31):
        hi = (1 << 31) - 1
    else:
        ab = x * q
        v = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
        hi = abs(v) >> 31 if v >= 0 else -(abs(v) >> 31)  # C division truncates toward zero
    e = max(-shift, 0)
    mask = (1 << e) - 1
    return (hi >> e) + ((hi & mask) > (mask >> 1) + (1 if hi < 0 else 0))


def _rescale_once(x: int, q: int, shift: int) -> int:
    """TensorFlow Lite (TFLITE_SINGLE_ROUNDING): one rounding shift of the 64-bit product."""
    s = 31 - shift
    return (x * q + (1 << (s - 1))) >> s


def _int8_model(model: bytes, rescale: Callable[[int, int, int], int]) -> Callable[[np.ndarray], np.ndarray]:
    """x (int8, IN_SHAPE) -> output, computed from the model's int8 weights, int32 biases and scales."""
    import tensorflow as tf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        it = tf.lite.Interpreter(model_content=model,
                                 experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    det = {d["index"]: d for d in it.get_tensor_details()}
    ops = it._get_ops_details()
    assert [o["op_name"] for o in ops] == ["FULLY_CONNECTED"] * 2
    layers = []
    for o, relu in zip(ops, (True, False)):  # the fixture's Dense(relu) then Dense()
        xi, wi, bi = (int(i) for i in o["inputs"])
        out = int(o["outputs"][0])
        sx, zx = det[xi]["quantization"]
        so, zo = det[out]["quantization"]
        ws = det[wi]["quantization_parameters"]["scales"]
        mults = [_quantize_multiplier(float(sx) * float(w) / float(so)) for w in ws]
        bias = it.get_tensor(bi).astype(np.int64) if bi >= 0 else np.zeros(len(ws), np.int64)
        layers.append((it.get_tensor(wi).astype(np.int64), bias, zx, zo, mults, relu))

    def run(x: np.ndarray) -> np.ndarray:
        h = x.astype(np.int64)
        for w, bias, zx, zo, mults, relu in layers:
            acc = (h - zx) @ w.T + bias
            y = [rescale(int(a), q, s) + zo for a, (q, s) in zip(acc[0], mults)]
            h = np.clip(np.array([y]), zo if relu else -128, 127)
        return h.astype(np.int8)
    return run


def test_tflm_and_tflite_reference_kernels_agree_to_one_lsb(model):
    xs = _inputs(20)
    micro, ref = run_tflm(model, xs), run_tflite_ref(model, xs)
    assert len(micro) == len(ref) == 20
    for a, b in zip(micro, ref):
        assert a.dtype == b.dtype == np.int8 and a.shape == b.shape == (1, 6)
    diff = np.abs(np.array(micro, np.int16) - np.array(ref, np.int16))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.9
    # Different inputs give different outputs (the comparison is not vacuous).
    assert len({a.tobytes() for a in micro}) > 10


def test_tflm_rounds_twice_tflite_reference_rounds_once(model):
    xs = _inputs(200, seed=3)
    micro, ref = np.array(run_tflm(model, xs)), np.array(run_tflite_ref(model, xs))
    twice, once = _int8_model(model, _rescale_twice), _int8_model(model, _rescale_once)
    np.testing.assert_array_equal(micro, np.array([twice(x) for x in xs]))
    np.testing.assert_array_equal(ref, np.array([once(x) for x in xs]))
    assert (micro != ref).any()  # the inputs do tell the two roundings apart


def test_outputs_are_copies_and_all_outputs(model):
    xs = _inputs(3)
    every = run_tflm_all(model, xs)
    assert [len(outs) for outs in every] == [1, 1, 1]
    assert not np.array_equal(every[0][0], every[1][0]) or not np.array_equal(every[1][0], every[2][0])
    np.testing.assert_array_equal(every[2][0], run_tflm(model, xs[2:])[0])


def test_arena_is_reported(model):
    a = tflm_arena(model)
    assert set(a) == {"total", "head", "tail"}
    assert all(isinstance(v, int) and v > 0 for v in a.values())
    assert a["total"] == a["head"] + a["tail"]


def test_wrong_input_shape_or_dtype_is_named(model):
    with pytest.raises(TFLiteReferenceError, match=r"input 0: shape \(16,\) dtype int8.*shape \(1, 16\) dtype int8"):
        run_tflm(model, [np.zeros(16, np.int8)])
    with pytest.raises(TFLiteReferenceError, match=r"input 1: shape \(1, 16\) dtype float32"):
        run_tflite_ref(model, [np.zeros(IN_SHAPE, np.int8), np.zeros(IN_SHAPE, np.float32)])


def test_model_whose_activations_outgrow_the_default_arena():
    """TFLite Micro's default arena is 10x the model's bytes. A conv on a 224x224x3 image has a few
    hundred bytes of weights and 800 kB of activations: the reference retries with an arena bounded
    by the tensors and runs it (the image codec's encoder hit this)."""
    import keras

    from toolchain.train.zoo.common import convert_int8
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((224, 224, 3)), keras.layers.Conv2D(16, 3, padding="same", activation="relu")])
    rng = np.random.default_rng(0)
    tfl = convert_int8(m, rng.random((4, 224, 224, 3), dtype=np.float32))
    assert 10 * len(tfl) < 224 * 224 * 16
    x = rng.integers(-128, 128, (1, 224, 224, 3), dtype=np.int8)
    (out,), = run_tflm_all(tfl, [x])
    assert out.shape == (1, 224, 224, 16) and out.dtype == np.int8
    assert len(np.unique(out)) > 1
