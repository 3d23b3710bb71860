"""Zoo model 1, codec-encoder: the project's error-bounded AE codec encoder (models/gsb-temporal,
n = 32, m = 2) as an int8 TFLite model.

Why it is in the zoo: it is the codec the project ships, so the code generator is checked on a real
codec and not only on toy networks; it exercises FULLY_CONNECTED with fused ReLU6 and LOGISTIC.

How it is built: no training; the weights come from the committed integer model.json
(W1 = W1q / 2^f1, b1 = B1q / 2^(f1 + 15)). The codec's sphering d = 0.5 + 0.4 clip(x - mean, -c, c) / c
is affine except for the clip, so it becomes a Dense + ReLU6 holding the mean removal and the scale,
and the rest of the affine map is folded into the encoder Dense + sigmoid (codec_encoder_keras). The
Keras model equals the float encoder FloatAE.encode(sphere(x)) with the real-valued window mean
(checked to 1e-4 at build time); the device rounds the mean to an integer first, and the card reports
how far that moves the latent. Data: the SensorScope windows and split of models/gsb-temporal. The int8
input covers the whole training range of the raw readings (one scale for all windows), so the int8
latent is coarse by design of this test model.
"""
from __future__ import annotations

import numpy as np

from .common import Built, N_HELDOUT, N_REPRESENTATIVE, _deq_out, _evenly, _keras, _q_through

# ---------------------------------------------------------------- 1. codec-encoder

CODEC_MODEL = "gsb-temporal"


def codec_float_weights(fm) -> tuple[np.ndarray, np.ndarray]:
    """(W1, b1) of the codec's encoder in float, from the committed integer model."""
    W1 = np.asarray(fm.W1, dtype=np.float64) / (1 << fm.f1)
    b1 = np.asarray(fm.B1, dtype=np.float64) / (1 << (fm.f1 + 15))
    return W1, b1


def codec_float_encode(fm, X: np.ndarray, exact_mean: bool = True) -> np.ndarray:
    """The project's float encoder: FloatAE.encode(sphere(X)) with the committed model's weights.

    exact_mean=False uses toolchain.train.fit.sphere itself (window mean rounded to an integer,
    as the device does); exact_mean=True the real-valued mean, which the Keras model computes."""
    from ..autoencoder import FloatAE
    from ..fit import sphere
    W1, b1 = codec_float_weights(fm)
    ae = FloatAE(W1, b1, np.zeros((fm.n, fm.m)), np.zeros(fm.n))
    X = np.asarray(X, dtype=np.float64)
    if exact_mean:
        d = 0.5 + 0.4 * np.clip(X - X.mean(1, keepdims=True), -fm.c, fm.c) / fm.c
    else:
        d = sphere(X.astype(np.int64), fm.c)
    return ae.encode(d)


def codec_encoder_keras(fm, batch_size: int | None = 1):
    """The codec's encoder as Keras: x (n native units) -> sphering Dense + ReLU6 -> Dense(m) + sigmoid.

    Sphering d = 0.5 + 0.4 clip(x - mean(x), -c, c) / c is affine except for the clip, written as
        r = relu6((3/c) (I - 1/n) x + 3) = 3 (clip(x - mean, -c, c) / c + 1)  in [0, 6],
        d = 0.1 + (0.4/3) r,
    so the first Dense holds the mean removal and the scale, and d is folded into the second:
        y = sigmoid(W1 d + b1) = sigmoid((0.4/3) W1 r + b1 + 0.1 W1 1)."""
    keras = _keras()
    from keras import layers
    n, m, c = fm.n, fm.m, float(fm.c)
    W1, b1 = codec_float_weights(fm)
    x = keras.Input((n,), batch_size=batch_size, name="window")
    r = layers.Dense(n, activation="relu6", name="sphere")(x)
    y = layers.Dense(m, activation="sigmoid", name="encoder")(r)
    model = keras.Model(x, y, name="codec_encoder")
    K = (np.eye(n) - 1.0 / n) * (3.0 / c)
    model.get_layer("sphere").set_weights([K.T.astype(np.float32), np.full(n, 3.0, np.float32)])
    model.get_layer("encoder").set_weights([(W1 * (0.4 / 3.0)).T.astype(np.float32),
                                            (b1 + 0.1 * W1.sum(1)).astype(np.float32)])
    return model


def _complete(X: np.ndarray) -> np.ndarray:
    from ...data import MISSING
    return X[(X != MISSING).all(1)]


def _build_codec_encoder(seed: int) -> Built:
    from ...codecs import ae_codec
    from ...pipeline import get_model
    from ..datasets import prepare
    fm = get_model(CODEC_MODEL)
    prep = prepare(CODEC_MODEL)
    train, test = _complete(prep.train), _complete(prep.test)
    rep = train[_evenly(len(train), N_REPRESENTATIVE)].astype(np.float32)
    held = test[_evenly(len(test), N_HELDOUT)].astype(np.float32)
    model = codec_encoder_keras(fm)
    yk = model.predict(held, verbose=0, batch_size=1)
    ref = codec_float_encode(fm, held)
    err = float(np.abs(yk - ref).max())
    if err > 1e-4:
        raise AssertionError(f"codec-encoder: Keras differs from the project's float encoder by {err:g}")
    ref_dev = codec_float_encode(fm, held, exact_mean=False)
    B = fm.latent_bits

    def quality(tfl: bytes):
        xq, yq, io_ = _q_through(tfl, held)
        yi = _deq_out(yq, io_).reshape(yk.shape)
        mean = ae_codec.window_mean(fm, held.astype(np.int64))
        code_dev = ae_codec.encode_latent(fm, held.astype(np.int64), mean, B)
        code_f = np.minimum(np.floor(yk * (1 << B)), (1 << B) - 1).astype(np.int64)
        code_i = np.minimum(np.floor(yi * (1 << B)), (1 << B) - 1).astype(np.int64)
        return [
            ("max abs diff to the project's float encoder (real-valued window mean)", f"{err:.2e}", "-"),
            ("max abs diff to the project's float encoder (`fit.sphere`, integer mean)",
             f"{np.abs(yk - ref_dev).max():.2e}", "-"),
            ("latent RMSE vs float Keras (latent in 0..1)", "0", f"{np.sqrt(np.mean((yi - yk) ** 2)):.4f}"),
            ("latent max abs error vs float Keras", "0", f"{np.abs(yi - yk).max():.4f}"),
            (f"{B}-bit latent codes equal to the integer codec's (`ae_codec.encode_latent`)",
             f"{(code_f == code_dev).mean():.1%}", f"{(code_i == code_dev).mean():.1%}"),
        ]

    return Built(
        model=model, representative=rep, heldout=held, extra={"x_float": held},
        data=(f"SensorScope Grand-St-Bernard ambient temperature (6 stations, 2-min grid), windows of "
              f"n = {fm.n} readings in native units (0.01 degC), the split of `models/{CODEC_MODEL}` "
              f"(`toolchain.train.datasets.prepare`: chronological by whole days, 70/10/20). "
              f"Representative data: {len(rep)} evenly spaced complete training windows of {len(train)}; "
              f"held-out: {len(held)} evenly spaced complete test-day windows of {len(test)}."),
        train=(f"No training: weights from the committed `models/{CODEC_MODEL}/model.json` (integer "
               f"model, W1 = W1q / 2^{fm.f1}, b1 = B1q / 2^{fm.f1 + 15}), sphering clip c = {fm.c}."),
        quality=quality,
        notes=["The Keras model reproduces the float encoder `FloatAE.encode(sphere(x))` with the real-"
               "valued window mean; the device rounds the mean to an integer first (a non-affine step), "
               "which moves the latent by at most the second figure below.",
               "The int8 input covers the whole training range of the raw readings (one scale for all "
               "windows), so one input step is tens of native units: the int8 latent is coarse by design "
               "of this test model, not a converter problem."])


