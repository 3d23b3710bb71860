"""Zoo models 2 and 3, ecg-cae-encoder / ecg-cae-decoder: the two halves of one 1-D convolutional
ECG autoencoder (256 MLII samples -> 32 x 4 latent -> 256 samples).

Why they are in the zoo: the encoder exercises strided CONV_2D (1-D convolutions become 1xK 2-D ones),
DEPTHWISE_CONV_2D with fused ReLU6 and 1x1 convolutions; the decoder RESIZE_NEAREST_NEIGHBOR (x2
upsampling), RESHAPE and 'same' 1-D convolutions, plus a broadcasting int8 ADD (the converter splits
the bias of the last, one-channel Conv1D off into an ADD of a (1, 1, 1) constant; kept as is).

How they are built: encoder and decoder are trained jointly, once per seed (_ecg_cae caches the run so
both builders share it), as one autoencoder on MIT-BIH MLII windows normalized to mean-removed mV,
inter-patient split (DS1 training / last DS1 records validation, DS2 evaluation); then exported as
two separate int8 models. The decoder's representative and held-out inputs are the float encoder's
latents. x2 upsampling is written Reshape -> Resizing(nearest) -> Reshape because Keras 3's
UpSampling1D converts to EXPAND_DIMS + TILE + RESHAPE and TFLite Micro has no TILE kernel.
"""
from __future__ import annotations

import time
from functools import lru_cache
from typing import Callable

import numpy as np

from .common import Built, N_HELDOUT, N_REPRESENTATIVE, _deq_out, _evenly, _keras, _q_through, _seed, convert_int8
from .ecg_data import _ecg_windows, _normalize_ecg, prd

# ---------------------------------------------------------------- 2./3. ECG conv autoencoder

ECG_N = 256
ECG_TRAIN_PER_RECORD = 250
ECG_VAL_PER_RECORD = 100
ECG_EVAL_PER_RECORD = 50
ECG_EPOCHS = 25


def _upsample1d(x, name: str):
    """x2 nearest-neighbour upsampling along time, as Reshape -> Resizing(nearest) -> Reshape.

    Keras 3's UpSampling1D converts to EXPAND_DIMS + TILE + RESHAPE, and TFLite Micro has no TILE;
    tf.image.resize(nearest) becomes RESIZE_NEAREST_NEIGHBOR (equal to repeating each sample)."""
    from keras import layers
    L, C = int(x.shape[1]), int(x.shape[2])
    x = layers.Reshape((L, 1, C), name=f"{name}_to2d")(x)
    x = layers.Resizing(2 * L, 1, interpolation="nearest", name=f"{name}_resize")(x)
    return layers.Reshape((2 * L, C), name=f"{name}_to1d")(x)


def ecg_cae_models(batch_size: int | None):
    keras = _keras()
    from keras import layers
    x = keras.Input((ECG_N, 1), batch_size=batch_size, name="ecg")
    h = layers.Conv1D(8, 7, strides=2, padding="same", activation="relu", name="conv1")(x)
    h = layers.DepthwiseConv1D(5, strides=2, padding="same", activation="relu6", name="dwconv2")(h)
    h = layers.Conv1D(8, 1, activation="relu", name="pwconv2")(h)
    z = layers.Conv1D(4, 3, strides=2, padding="same", name="latent")(h)
    enc = keras.Model(x, z, name="ecg_cae_encoder")
    zi = keras.Input((ECG_N // 8, 4), batch_size=batch_size, name="latent_in")
    h = _upsample1d(zi, "up1")
    h = layers.Conv1D(8, 5, padding="same", activation="relu", name="dconv1")(h)
    h = _upsample1d(h, "up2")
    h = layers.Conv1D(8, 5, padding="same", activation="relu", name="dconv2")(h)
    h = _upsample1d(h, "up3")
    h = layers.Conv1D(8, 7, padding="same", activation="relu", name="dconv3")(h)
    o = layers.Conv1D(1, 7, padding="same", name="out")(h)
    dec = keras.Model(zi, o, name="ecg_cae_decoder")
    return enc, dec


@lru_cache(maxsize=None)
def _ecg_cae(seed: int) -> dict:
    from ...data import mitdb_split
    keras = _keras()
    split = mitdb_split()
    tr = _normalize_ecg(_ecg_windows(split["train"], ECG_TRAIN_PER_RECORD))[..., None]
    va = _normalize_ecg(_ecg_windows(split["val"], ECG_VAL_PER_RECORD))[..., None]
    ev = _normalize_ecg(_ecg_windows(split["test"], ECG_EVAL_PER_RECORD))[..., None]
    _seed(seed)
    enc, dec = ecg_cae_models(None)
    xin = keras.Input((ECG_N, 1))
    ae = keras.Model(xin, dec(enc(xin)))
    ae.compile(keras.optimizers.Adam(3e-3), "mse")
    t0 = time.time()
    hist = ae.fit(tr, tr, validation_data=(va, va), epochs=ECG_EPOCHS, batch_size=64, shuffle=True,
                  verbose=0)
    train_s = time.time() - t0
    enc1, dec1 = ecg_cae_models(1)
    enc1.set_weights(enc.get_weights())
    dec1.set_weights(dec.get_weights())
    held_i = _evenly(len(ev), N_HELDOUT)
    z_tr = enc.predict(tr[_evenly(len(tr), N_REPRESENTATIVE)], verbose=0)
    z_ev = enc.predict(ev, verbose=0)
    xh_ev = dec.predict(z_ev, verbose=0)
    return {"enc": enc1, "dec": dec1, "dec_any": dec, "tr": tr, "va": va, "ev": ev, "held_i": held_i,
            "z_tr": z_tr, "z_ev": z_ev, "xh_ev": xh_ev, "train_s": train_s, "split": split,
            "hist": {k: [float(v) for v in vs] for k, vs in hist.history.items()},
            "tfl_enc": None}


def _ecg_cae_enc_tflite(seed: int) -> bytes:
    st = _ecg_cae(seed)
    if st["tfl_enc"] is None:
        st["tfl_enc"] = convert_int8(st["enc"], st["tr"])
    return st["tfl_enc"]


def _ecg_data_text(st: dict, what: str) -> str:
    s = st["split"]
    return (f"MIT-BIH Arrhythmia Database, lead MLII (360 Hz, 11-bit, 200 adu/mV), non-overlapping "
            f"windows of {ECG_N} samples (0.71 s), each normalized as (adu - window mean) / 200, i.e. "
            f"mean-removed mV. Inter-patient split (de Chazal): training = DS1 records {s['train']} "
            f"({ECG_TRAIN_PER_RECORD} evenly spaced windows each, {len(st['tr'])} in all), validation = "
            f"the last DS1 records {s['val']} ({len(st['va'])} windows), evaluation = DS2 records "
            f"{s['test']} ({ECG_EVAL_PER_RECORD} evenly spaced windows each, {len(st['ev'])} in all); "
            f"held-out inputs = {N_HELDOUT} evenly spaced windows of that DS2 set. {what}")


def _ecg_train_text(st: dict) -> str:
    h = st["hist"]
    return (f"Encoder and decoder trained jointly as one autoencoder: Adam 3e-3, MSE, batch 64, "
            f"{ECG_EPOCHS} epochs, {st['train_s']:.1f} s on the CPU; final training MSE {h['loss'][-1]:.5f}, "
            f"validation MSE {h['val_loss'][-1]:.5f} (mV^2). Then exported as two separate int8 models.")


def _ecg_quality(seed: int, which: str) -> Callable[[bytes], list]:
    def quality(tfl: bytes):
        st = _ecg_cae(seed)
        ev, hi = st["ev"], st["held_i"]
        p_float = prd(ev, st["xh_ev"])
        dec = st["dec_any"]
        tfl_enc = tfl if which == "encoder" else _ecg_cae_enc_tflite(seed)
        _, zq, io_e = _q_through(tfl_enc, ev)
        z_i = _deq_out(zq, io_e).reshape(st["z_ev"].shape)
        rows = []
        if which == "encoder":
            xh = dec.predict(z_i, verbose=0)
            p_i = prd(ev, xh)
            rows.append(("latent RMSE vs float (DS2 eval)", "0", f"{np.sqrt(np.mean((z_i - st['z_ev']) ** 2)):.4f}"))
            s_, zp_ = io_e["input"]["scale"], io_e["input"]["zero_point"]
            out = (ev < (-128 - zp_) * s_) | (ev > (127 - zp_) * s_)
            rows.append((f"DS2 eval inputs outside the int8 input range {(-128 - zp_) * s_:.2f}..{(127 - zp_) * s_:.2f} mV "
                         "(clipped)", "-", f"{out.mean():.2%} of samples, {out.reshape(len(ev), -1).any(1).mean():.1%} "
                         "of windows"))
            label = "int8 encoder + float decoder"
        else:
            _, yq, io_d = _q_through(tfl, z_i)
            xh = _deq_out(yq, io_d).reshape(ev.shape)
            p_i = prd(ev, xh)
            # the decoder alone, on the float latent
            _, yq2, _ = _q_through(tfl, st["z_ev"])
            p_d = prd(ev, _deq_out(yq2, io_d).reshape(ev.shape))
            rows.append(("PRD %, float encoder + int8 decoder (DS2 eval, mean)", f"{p_float.mean():.2f}",
                         f"{p_d.mean():.2f}"))
            label = "int8 encoder + int8 decoder"
        rows.append((f"PRD %, {label} (DS2 eval, {len(ev)} windows, mean)", f"{p_float.mean():.2f}",
                     f"{p_i.mean():.2f}"))
        rows.append((f"PRD %, {label} (DS2 eval, median)", f"{np.median(p_float):.2f}",
                     f"{np.median(p_i):.2f}"))
        rows.append((f"PRD %, {label} ({N_HELDOUT} held-out windows, mean)", f"{p_float[hi].mean():.2f}",
                     f"{p_i[hi].mean():.2f}"))
        rmse_f = np.sqrt(np.mean((ev - st["xh_ev"]) ** 2)) * 1000
        rmse_i = np.sqrt(np.mean((ev - xh) ** 2)) * 1000
        rows.append((f"RMSE uV, {label} (DS2 eval)", f"{rmse_f:.1f}", f"{rmse_i:.1f}"))
        return rows
    return quality


def _build_ecg_cae_encoder(seed: int) -> Built:
    st = _ecg_cae(seed)
    held = st["ev"][st["held_i"]]
    return Built(
        model=st["enc"], representative=st["tr"][_evenly(len(st["tr"]), N_REPRESENTATIVE)],
        heldout=held, data=_ecg_data_text(st, "Representative data: 200 evenly spaced training windows."),
        train=_ecg_train_text(st), train_s=st["train_s"], quality=_ecg_quality(seed, "encoder"),
        notes=["PRD is computed on the mean-removed windows (so it equals PRDN); the decoder is "
               "`ecg-cae-decoder`'s float Keras model."])


def _build_ecg_cae_decoder(seed: int) -> Built:
    st = _ecg_cae(seed)
    held = st["z_ev"][st["held_i"]]
    return Built(
        model=st["dec"], representative=st["z_tr"], heldout=held,
        data=_ecg_data_text(st, "Decoder inputs are latents: representative data = the float encoder's "
                                "outputs on 200 evenly spaced training windows; held-out x = the float "
                                "encoder's outputs on the held-out windows, quantized with this model's "
                                "input scale / zero point."),
        train=_ecg_train_text(st), train_s=0.0, quality=_ecg_quality(seed, "decoder"),
        notes=["The last Conv1D (one output channel) converts to CONV_2D with a zero bias followed by an "
               "int8 broadcast ADD of a (1, 1, 1) constant holding the bias: converter behaviour, kept as is "
               "(it exercises a broadcasting ADD).",
               "Nearest-neighbour x2 upsampling is written as Reshape -> Resizing(nearest) -> Reshape: "
               "Keras 3's `UpSampling1D` converts to EXPAND_DIMS + TILE + RESHAPE, and TFLite Micro has "
               "no TILE kernel ('Didn't find op for builtin opcode TILE').",
               "The training time is reported on `ecg-cae-encoder` (one joint training)."])


