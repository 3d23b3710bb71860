"""Random small int8 networks for property tests of the code generator.

A `GraphSpec` (plain data, so hypothesis can draw and shrink it) describes an
input shape, a chain of layers drawn from every op the generator supports, and
how the representative data is scaled, which randomizes every quantization
parameter the converter picks. `build_tflite(spec)` turns it into a real int8
.tflite through Keras and the TFLite converter.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

LAYER_KINDS = ("conv", "dwconv", "maxpool", "avgpool", "pad", "upsample", "sigmoid", "tanh", "relu6",
               "add", "mul", "concat", "dense")


@dataclass(frozen=True)
class LayerSpec:
    kind: str
    a: int = 1  # filters / pool size / pad amount / units (meaning per kind)
    k: int = 3  # kernel size
    stride: int = 1
    same: bool = True
    act: str = "linear"  # linear | relu | relu6
    bias: bool = True


@dataclass(frozen=True)
class GraphSpec:
    h: int
    w: int
    c: int
    layers: tuple[LayerSpec, ...]
    data_scale: float = 1.0
    data_offset: float = 0.0
    softmax: bool = False
    float_io: bool = False
    seed: int = 0
    notes: list = field(default_factory=list, compare=False, hash=False)


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    return tf


def build_keras(spec: GraphSpec):
    """The Keras model for `spec`; layers that would not fit the current shape are skipped."""
    tf = _tf()
    L = tf.keras.layers
    tf.keras.utils.set_random_seed(spec.seed)
    inp = tf.keras.Input((spec.h, spec.w, spec.c), batch_size=1)
    x = inp
    flat = False
    for n, ls in enumerate(spec.layers):
        h, w, c = (None, None, None) if flat else tuple(int(d) for d in x.shape[1:])
        if flat and ls.kind not in ("dense", "sigmoid", "tanh", "relu6"):
            continue
        k = max(1, min(ls.k, h or 1, w or 1)) if not flat else ls.k
        pad = "same" if ls.same else "valid"
        if ls.kind == "conv":
            dil = 2 if (ls.stride == 1 and ls.a % 3 == 0 and k == 2 and h > 2 and w > 2) else 1
            x = L.Conv2D(ls.a, k, strides=ls.stride, padding=pad, dilation_rate=dil, activation=ls.act,
                         use_bias=ls.bias, name=f"conv{n}")(x)
        elif ls.kind == "dwconv":
            x = L.DepthwiseConv2D(k, strides=ls.stride, padding=pad, depth_multiplier=1 + ls.a % 2,
                                  activation=ls.act, use_bias=ls.bias, name=f"dw{n}")(x)
        elif ls.kind in ("maxpool", "avgpool"):
            p = max(1, min(ls.a, h, w))
            cls = L.MaxPooling2D if ls.kind == "maxpool" else L.AveragePooling2D
            x = cls(p, strides=ls.stride, padding=pad, name=f"pool{n}")(x)
        elif ls.kind == "pad":
            x = L.ZeroPadding2D(((ls.a % 3, ls.k % 2), (ls.k % 3, ls.a % 2)), name=f"pad{n}")(x)
        elif ls.kind == "upsample":
            if h * w > 64:
                continue
            x = L.Resizing(h * 2, w * (1 + ls.a % 2), interpolation="nearest", name=f"up{n}")(x)
        elif ls.kind in ("sigmoid", "tanh", "relu6"):
            x = L.Activation(ls.kind if ls.kind != "relu6" else tf.nn.relu6, name=f"act{n}")(x)
        elif ls.kind in ("add", "mul", "concat"):
            branch = L.Conv2D(c if ls.kind != "concat" else ls.a, 1, activation=ls.act, name=f"branch{n}")(x)
            if ls.kind == "add":
                x = L.Add(name=f"add{n}")([x, branch])
            elif ls.kind == "mul":
                x = L.Multiply(name=f"mul{n}")([x, L.Activation("sigmoid")(branch)])
            else:
                x = L.Concatenate(axis=-1, name=f"cat{n}")([x, branch])
        elif ls.kind == "dense":
            if not flat:
                x = L.Flatten(name=f"flat{n}")(x)
                flat = True
            x = L.Dense(ls.a, activation=ls.act, use_bias=ls.bias, name=f"dense{n}")(x)
        if not flat and min(int(d) for d in x.shape[1:3]) < 1:
            raise ValueError("shape collapsed")
    if spec.softmax:
        if not flat:
            x = L.Flatten()(x)
        x = L.Dense(max(2, spec.layers[0].a if spec.layers else 3), name="logits")(x)
        x = L.Softmax()(x)
    return tf.keras.Model(inp, x)


def representative(spec: GraphSpec, n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(spec.seed)
    return (rng.standard_normal((n, 1, spec.h, spec.w, spec.c)) * spec.data_scale + spec.data_offset).astype(np.float32)


def build_tflite(spec: GraphSpec) -> bytes:
    tf = _tf()
    model = build_keras(spec)
    data = representative(spec)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x] for x in data)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not spec.float_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def quantize_inputs(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float inputs to int8 the way TFLite's QUANTIZE does (round half away, clamp)."""
    q = np.sign(x / scale) * np.floor(np.abs(x / scale) + 0.5) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)
