"""Keras architecture of the multi-level ECG codec: one encoder trunk, a latent head per level,
a predictor head per level, per-level decoder adapters into one shared decoder.

Only ops the int8 C generator and nncase 1.9 lower (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
RESHAPE, CONCATENATION, RESIZE_NEAREST_NEIGHBOR); no batch norm (nothing to fold).

Encoder (on the wearable), input (2048, 1) mean-removed mV:
    trunk   conv(16,9,/2) -> dwconv(5,/2) + pw(32) -> conv(32,5,/2) -> conv(32,5,/2)  -> (128, 32)
    level 1 (CG 16): conv(1,3)                                                       -> (128, 1)
    level 2 (CG 32): conv(32,3,/2) -> conv(1,3)                                       -> (64, 1)
    level 3 (CG 64): [level 2's conv(32,3,/2)] -> conv(32,3,/2) -> conv(1,3)          -> (32, 1)
    predictor per level: flatten(latent) -> dense(16, relu) -> dense(4, relu)
        = predicted beat CCE, R-peak BCE, rhythm CCE and their weighted sum L_w
    the three predictions concatenated -> "errors" (12,)
Levels 2 and 3 share the stride-2 layer after the trunk, as the paper shares CAE32's layers in CAE64.

Decoder (on the host): adapter per level -> (128, 48), then the shared decoder: four x2 nearest
upsamplings with convolutions -> (2048, 1). Upsampling is Reshape -> Resizing(nearest) -> Reshape
(Keras 3's UpSampling1D becomes TILE, which TFLite Micro lacks).
"""
from __future__ import annotations

from ...train.zoo.common import _keras
from . import SEG_N, TASKS

N_PRED = len(TASKS) + 1      # per level: one error per task, then the weighted sum
LATENT_LEN = {1: SEG_N // 16, 2: SEG_N // 32, 3: SEG_N // 64}
TRUNK_LEN = SEG_N // 16
# Widths: (t1, t2pw, t3, t4 and the level branches). (8, 16, 16, 16) with a 32-channel decoder reached
# validation PRDN 21 / 34 / 52 % (CG 16 / 32 / 64) after 14 epochs; these widths reach it in 4.
ENC_CH = (16, 32, 32, 32)
DEC_CH = 48


def _up(x, name: str):
    from keras import layers
    L, C = int(x.shape[1]), int(x.shape[2])
    x = layers.Reshape((L, 1, C), name=f"{name}_to2d")(x)
    x = layers.Resizing(2 * L, 1, interpolation="nearest", name=f"{name}_resize")(x)
    return layers.Reshape((2 * L, C), name=f"{name}_to1d")(x)


def encoder(batch_size: int | None = None):
    """Outputs [z1 (128,1), z2 (64,1), z3 (32,1), errors (12,)]: all one graph, one C function."""
    keras = _keras()
    from keras import layers
    x = keras.Input((SEG_N, 1), batch_size=batch_size, name="ecg")
    h = layers.Conv1D(ENC_CH[0], 9, strides=2, padding="same", activation="relu", name="t1")(x)
    h = layers.DepthwiseConv1D(5, strides=2, padding="same", activation="relu", name="t2dw")(h)
    h = layers.Conv1D(ENC_CH[1], 1, activation="relu", name="t2pw")(h)
    h = layers.Conv1D(ENC_CH[2], 5, strides=2, padding="same", activation="relu", name="t3")(h)
    t = layers.Conv1D(ENC_CH[3], 5, strides=2, padding="same", activation="relu", name="t4")(h)
    z1 = layers.Conv1D(1, 3, padding="same", name="z1")(t)
    h2 = layers.Conv1D(ENC_CH[3], 3, strides=2, padding="same", activation="relu", name="l2a")(t)
    z2 = layers.Conv1D(1, 3, padding="same", name="z2")(h2)
    h3 = layers.Conv1D(ENC_CH[3], 3, strides=2, padding="same", activation="relu", name="l3a")(h2)
    z3 = layers.Conv1D(1, 3, padding="same", name="z3")(h3)
    preds = []
    for lv, z in ((1, z1), (2, z2), (3, z3)):
        p = layers.Flatten(name=f"p{lv}_flat")(z)
        p = layers.Dense(16, activation="relu", name=f"p{lv}_fc")(p)
        preds.append(layers.Dense(N_PRED, activation="relu", name=f"p{lv}_out")(p))
    errors = layers.Concatenate(name="errors")(preds)
    return keras.Model(x, [z1, z2, z3, errors], name="ecg_dynamic_encoder")


def decoder(level: int, batch_size: int | None = None, shared=None):
    """Latent of `level` -> (2048, 1). `shared`: the shared decoder model (made when None)."""
    keras = _keras()
    from keras import layers
    L = LATENT_LEN[level]
    z = keras.Input((L, 1), batch_size=batch_size, name=f"z{level}")
    h = layers.Conv1D(DEC_CH, 3, padding="same", activation="relu", name=f"a{level}_c0")(z)
    k = 0
    while int(h.shape[1]) < TRUNK_LEN:
        k += 1
        h = _up(h, f"a{level}_up{k}")
        h = layers.Conv1D(DEC_CH, 3, padding="same", activation="relu", name=f"a{level}_c{k}")(h)
    if shared is None:
        shared = shared_decoder(batch_size)
    return keras.Model(z, shared(h), name=f"ecg_dynamic_decoder{level}")


def shared_decoder(batch_size: int | None = None):
    keras = _keras()
    from keras import layers
    h0 = keras.Input((TRUNK_LEN, DEC_CH), batch_size=batch_size, name="adapted")
    h = h0
    for k, (ch, ks) in enumerate(((DEC_CH, 5), (DEC_CH, 5), (16, 7), (16, 9)), start=1):
        h = _up(h, f"d_up{k}")
        h = layers.Conv1D(ch, ks, padding="same", activation="relu", name=f"d_c{k}")(h)
    o = layers.Conv1D(1, 9, padding="same", name="d_out")(h)
    return keras.Model(h0, o, name="ecg_dynamic_shared_decoder")


def codec(batch_size: int | None = None):
    """Encoder, the shared decoder and the three per-level decoders (sharing its weights)."""
    enc = encoder(batch_size)
    sh = shared_decoder(batch_size)
    decs = {lv: decoder(lv, batch_size, sh) for lv in (1, 2, 3)}
    return enc, sh, decs
