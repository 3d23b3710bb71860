"""A small zoo of fully int8-quantized TFLite models, trained briefly on the project's real data.

The zoo exists to test the int8 C code generator (bit-exact with TFLite Micro) on real,
trained models that are small enough for an MSP430F1611 (10 KB RAM, 48 KB flash) where
they can be: weights of a few KB, int8 activations of at most a few KB per layer.

    from toolchain.train.zoo import build_zoo
    build_zoo()                       # every model -> models/zoo/<name>/
    build_zoo(["ecg-beat-cnn"])       # one model

Each model folder holds
    model.tflite  int8 in, int8 out (TFLiteConverter, Optimize.DEFAULT, TFLITE_BUILTINS_INT8,
                  200 training inputs as the representative data set), batch size 1
    heldout.npz   x: int8 (N, *input shape incl. the batch 1): N = 128 real held-out inputs,
                  quantized with the input tensor's scale / zero point as TFLite does
                  (round half away from zero of x / scale, + zero point, clipped to int8);
                  y_float: float32 (N, *output shape), the float Keras outputs for the same
                  (unquantized) inputs; y_tflm: int8, what TFLite Micro outputs for x (the
                  reference a bit-exact code generator must reproduce); labels (int8) where the
                  data has them; x_float for codec-encoder (its raw windows, native units)
    README.md     model card (data, split, layers, op list, quality float vs int8, rebuild command)

Everything is deterministic for a given seed (keras.utils.set_random_seed, op determinism,
evenly spaced or seeded subsets). Rebuild: `tinycodec zoo [--only NAME ...]` or `make zoo`.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from .. import REPO_ROOT

ZOO_DIR = REPO_ROOT / "models" / "zoo"
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
    from .autoencoder import FloatAE
    from .fit import sphere
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
    from ..data import MISSING
    return X[(X != MISSING).all(1)]


def _build_codec_encoder(seed: int) -> Built:
    from ..codecs import ae_codec
    from ..pipeline import get_model
    from .datasets import prepare
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


# ---------------------------------------------------------------- ECG data

ECG_ADU_PER_MV = 200.0
AAMI = ("N", "S", "V", "F", "Q")
AAMI_SYMBOLS = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
SYM2CLS = {s: i for i, c in enumerate(AAMI) for s in AAMI_SYMBOLS[c]}


def _mlii(record: int) -> np.ndarray:
    from ..data import load_mitdb_mlii
    return load_mitdb_mlii(record).values[:, 0]


def _normalize_ecg(w: np.ndarray) -> np.ndarray:
    """Per-window mean removal, then mV: (adu - mean(window)) / 200."""
    w = np.asarray(w, dtype=np.float64)
    return ((w - w.mean(-1, keepdims=True)) / ECG_ADU_PER_MV).astype(np.float32)


def _ecg_windows(records, per_record: int, n: int = 256) -> np.ndarray:
    out = []
    for r in records:
        x = _mlii(r)
        w = x[: len(x) // n * n].reshape(-1, n)
        out.append(w[_evenly(len(w), per_record)])
    return np.concatenate(out)


def _beats(records, half: int = 64) -> tuple[np.ndarray, np.ndarray]:
    from ..data import data_root
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import wfdb
    X, y = [], []
    for r in records:
        x = _mlii(r)
        ann = wfdb.rdann(str(data_root() / "mitdb" / str(r)), "atr")
        s = np.asarray(ann.sample)
        c = np.array([SYM2CLS.get(sym, -1) for sym in ann.symbol])
        keep = (c >= 0) & (s - half >= 0) & (s + half <= len(x))
        idx = s[keep][:, None] + np.arange(-half, half)[None, :]
        X.append(x[idx])
        y.append(c[keep])
    return np.concatenate(X), np.concatenate(y)


def _cap(X, y, caps: dict[int, int], rng) -> tuple[np.ndarray, np.ndarray]:
    """At most caps[class] beats per class (seeded random subset, original order kept)."""
    keep = []
    for k in range(len(AAMI)):
        i = np.flatnonzero(y == k)
        if len(i) > caps.get(k, len(i)):
            i = np.sort(rng.choice(i, caps[k], replace=False))
        keep.append(i)
    keep = np.sort(np.concatenate(keep))
    return X[keep], y[keep]


def prd(x: np.ndarray, xh: np.ndarray) -> np.ndarray:
    """Percent RMS difference per window, 100 ||x - xh|| / ||x||, on mean-removed windows (= PRDN)."""
    x = x.reshape(len(x), -1)
    xh = xh.reshape(len(xh), -1)
    return 100.0 * np.sqrt(((x - xh) ** 2).sum(1) / np.maximum((x ** 2).sum(1), 1e-12))


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
    from ..data import mitdb_split
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


# ---------------------------------------------------------------- 4. ECG beat classifier

BEAT_HALF = 64
BEAT_EPOCHS = 20
BEAT_TRAIN_CAPS = {0: 5000, 2: 3000}          # N, V subsampled; S, F, Q all
BEAT_EVAL_CAPS = {0: 2000, 1: 1000, 2: 1000}   # DS2 evaluation subset
BEAT_HELDOUT_QUOTA = {0: 48, 1: 32, 2: 28, 3: 16, 4: 4}


def ecg_beat_cnn(batch_size: int | None):
    keras = _keras()
    from keras import layers
    x = keras.Input((2 * BEAT_HALF, 1), batch_size=batch_size, name="beat")
    h = layers.Conv1D(8, 7, padding="same", activation="relu", name="conv1")(x)
    h = layers.MaxPooling1D(2, name="pool1")(h)
    r = layers.Conv1D(8, 5, padding="same", activation="relu", name="res_conv1")(h)
    r = layers.Conv1D(8, 5, padding="same", name="res_conv2")(r)
    h = layers.Add(name="res_add")([h, r])
    h = layers.ReLU(name="res_relu")(h)
    h = layers.MaxPooling1D(2, name="pool2")(h)
    a = layers.Conv1D(8, 3, padding="same", activation="relu", name="branch_conv")(h)
    b = layers.AveragePooling1D(3, strides=1, padding="same", name="branch_avg")(h)
    h = layers.Concatenate(name="concat")([a, b])
    g = layers.Conv1D(16, 1, activation="sigmoid", name="gate")(h)
    h = layers.Multiply(name="gated")([h, g])
    h = layers.AveragePooling1D(4, name="pool3")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(16, activation="relu", name="fc1")(h)
    h = layers.Dense(len(AAMI), name="logits")(h)
    y = layers.Softmax(name="softmax")(h)
    return keras.Model(x, y, name="ecg_beat_cnn")


def _recall(y: np.ndarray, pred: np.ndarray) -> list[float]:
    return [float((pred[y == k] == k).mean()) if (y == k).any() else float("nan") for k in range(len(AAMI))]


def _build_ecg_beat_cnn(seed: int) -> Built:
    from ..data import mitdb_split
    keras = _keras()
    split = mitdb_split()
    rng = np.random.default_rng(seed)
    Xtr, ytr = _cap(*_beats(split["train"], BEAT_HALF), BEAT_TRAIN_CAPS, rng)
    Xva, yva = _cap(*_beats(split["val"], BEAT_HALF), {0: 2000}, rng)
    Xev, yev = _cap(*_beats(split["test"], BEAT_HALF), BEAT_EVAL_CAPS, rng)
    Xtr, Xva, Xev = (_normalize_ecg(a)[..., None] for a in (Xtr, Xva, Xev))
    counts = np.bincount(ytr, minlength=len(AAMI))
    cw = {k: float(len(ytr) / (len(AAMI) * c)) if c else 0.0 for k, c in enumerate(counts)}
    cw = {k: min(v, 20.0) for k, v in cw.items()}  # Q has a handful of beats in DS1
    _seed(seed)
    model = ecg_beat_cnn(None)
    lr = keras.optimizers.schedules.CosineDecay(3e-3, BEAT_EPOCHS * int(np.ceil(len(Xtr) / 64)))
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.time()
    hist = model.fit(Xtr, ytr, validation_data=(Xva, yva), epochs=BEAT_EPOCHS, batch_size=64,
                     class_weight=cw, shuffle=True, verbose=0)
    train_s = time.time() - t0
    va_rec = _recall(yva, model.predict(Xva, verbose=0).argmax(1))
    m1 = ecg_beat_cnn(1)
    m1.set_weights(model.get_weights())
    p_ev = model.predict(Xev, verbose=0)
    held_i = []
    for k, q in BEAT_HELDOUT_QUOTA.items():
        i = np.flatnonzero(yev == k)
        held_i.append(i[_evenly(len(i), q)] if len(i) else i)
    held_i = np.concatenate(held_i)
    if len(held_i) < N_HELDOUT:  # fill with normal beats not yet taken
        rest = np.setdiff1d(np.flatnonzero(yev == 0), held_i)
        held_i = np.concatenate([held_i, rest[_evenly(len(rest), N_HELDOUT - len(held_i))]])
    held_i = np.sort(held_i)[:N_HELDOUT]

    def quality(tfl: bytes):
        _, yq, io_ = _q_through(tfl, Xev)
        pi = yq.reshape(len(Xev), -1).argmax(1)
        pf = p_ev.argmax(1)
        rows = [(f"accuracy, DS2 eval subset ({len(Xev)} beats)", f"{(pf == yev).mean():.3f}",
                 f"{(pi == yev).mean():.3f}"),
                ("balanced accuracy (mean recall over classes present)",
                 f"{np.nanmean(_recall(yev, pf)):.3f}", f"{np.nanmean(_recall(yev, pi)):.3f}")]
        for k, (rf, ri) in enumerate(zip(_recall(yev, pf), _recall(yev, pi))):
            rows.append((f"recall {AAMI[k]} ({int((yev == k).sum())} beats)", f"{rf:.3f}", f"{ri:.3f}"))
        rows.append((f"accuracy, {N_HELDOUT} held-out beats", f"{(pf[held_i] == yev[held_i]).mean():.3f}",
                     f"{(pi[held_i] == yev[held_i]).mean():.3f}"))
        rows.append(("int8 argmax equal to float argmax", "-", f"{(pi == pf).mean():.3f}"))
        return rows

    h = hist.history
    tr_counts = ", ".join(f"{AAMI[k]} {c}" for k, c in enumerate(counts))
    ev_counts = ", ".join(f"{AAMI[k]} {c}" for k, c in enumerate(np.bincount(yev, minlength=len(AAMI))))
    return Built(
        model=m1, representative=Xtr[_evenly(len(Xtr), N_REPRESENTATIVE)], heldout=Xev[held_i],
        labels=yev[held_i].astype(np.int8),
        data=(f"MIT-BIH Arrhythmia Database, lead MLII, one window of {2 * BEAT_HALF} samples "
              f"(0.36 s) centred on each annotated beat (`wfdb.rdann(..., 'atr')`, window "
              f"[R - {BEAT_HALF}, R + {BEAT_HALF})), normalized as (adu - window mean) / 200 (mV). AAMI "
              f"classes from the beat symbols: " + "; ".join(f"{c}: {' '.join(AAMI_SYMBOLS[c])}" for c in AAMI)
              + f" (labels 0..4 in that order; other annotations skipped). Inter-patient split: training "
              f"= DS1 records {split['train']} (N subsampled to {BEAT_TRAIN_CAPS[0]}, V to "
              f"{BEAT_TRAIN_CAPS[2]}, seeded; {tr_counts}), validation = DS1 records {split['val']}, "
              f"evaluation = DS2 records (class-capped seeded subset: {ev_counts}). Held-out inputs: "
              f"{len(held_i)} DS2 beats of that subset, stratified ("
              + ", ".join(f"{AAMI[k]} {int((yev[held_i] == k).sum())}" for k in range(len(AAMI)))
              + "); `labels` holds their classes."),
        train=(f"Adam, learning rate 3e-3 with cosine decay to 0, sparse categorical cross-entropy with balanced class weights (capped at 20: "
               + ", ".join(f"{AAMI[k]} {w:.2f}" for k, w in cw.items())
               + f"), batch 64, {BEAT_EPOCHS} epochs (fixed; no epoch selection), {train_s:.1f} s on the CPU; "
               f"final training accuracy {h['accuracy'][-1]:.3f}, validation accuracy "
               f"{h['val_accuracy'][-1]:.3f}, validation recall "
               + ", ".join(f"{AAMI[k]} {r:.2f}" for k, r in enumerate(va_rec) if not np.isnan(r))
               + f" ({', '.join(f'{AAMI[k]} {c}' for k, c in enumerate(np.bincount(yva, minlength=len(AAMI))))} "
               "validation beats)."),
        train_s=train_s, quality=quality,
        notes=["Morphology only (no RR intervals), so S beats are hard across patients, as usual for "
               "inter-patient MIT-BIH, and the four validation records disagree with DS2 (their V and F beats "
               "are mostly missed); the model exists to exercise ops, not to be a good classifier.",
               "The DS2 evaluation subset is class-capped, so its plain accuracy is not the DS2 "
               "prevalence-weighted accuracy; per-class recalls are unaffected by the caps."])


# ---------------------------------------------------------------- 5. image encoder

IMG = 32
IMG_EPOCHS = 30
FLOWERS = ("daisy", "dandelion", "rose", "sunflower", "tulip")


def _flowers() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train x, train y, test x, test y): RGB scaled to [-1, 1]; test = every 5th image per class."""
    from PIL import Image

    from ..data import data_root
    root = data_root() / "flowers_227"
    parts = {True: ([], []), False: ([], [])}
    for k, cls in enumerate(FLOWERS):
        files = sorted((root / cls).glob("*.jpg"))
        if not files:
            raise FileNotFoundError(f"no JPEGs in {root / cls}")
        for i, f in enumerate(files):
            with Image.open(f) as im:
                a = np.asarray(im.convert("RGB").resize((IMG, IMG), Image.Resampling.BOX), dtype=np.float32)
            xs, ys = parts[i % 5 == 4]
            xs.append(a / 127.5 - 1.0)
            ys.append(k)
    (xtr, ytr), (xte, yte) = parts[False], parts[True]
    return np.stack(xtr), np.array(ytr), np.stack(xte), np.array(yte)


def image_encoder_models(batch_size: int | None):
    keras = _keras()
    from keras import layers
    x = keras.Input((IMG, IMG, 3), batch_size=batch_size, name="image")
    h = layers.ZeroPadding2D(1, name="pad")(x)
    h = layers.Conv2D(8, 3, strides=2, padding="valid", activation="relu", name="conv1")(h)
    h = layers.DepthwiseConv2D(3, padding="same", activation="relu6", name="dwconv")(h)
    h = layers.Conv2D(16, 1, activation="relu", name="pwconv")(h)
    h = layers.Conv2D(8, 3, strides=2, padding="same", name="conv2")(h)
    z = layers.Activation("tanh", name="latent")(h)
    enc = keras.Model(x, z, name="image_encoder")
    zi = keras.Input(tuple(int(s) for s in z.shape[1:]), batch_size=batch_size)
    h = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(zi)
    h = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(h)
    o = layers.Conv2D(3, 3, padding="same", activation="tanh")(h)
    dec = keras.Model(zi, o, name="image_decoder_throwaway")
    return enc, dec


def _psnr(x, xh) -> np.ndarray:
    """PSNR in dB per image, on [-1, 1] pixels (peak-to-peak 2), i.e. the same as on 0..255."""
    mse = ((x - xh) ** 2).reshape(len(x), -1).mean(1)
    return 10 * np.log10(4.0 / np.maximum(mse, 1e-12))


def _build_image_encoder(seed: int) -> Built:
    keras = _keras()
    xtr, ytr, xte, yte = _flowers()
    xaug = np.concatenate([xtr, xtr[:, :, ::-1]])  # + horizontal flips
    _seed(seed)
    enc, dec = image_encoder_models(None)
    xin = keras.Input((IMG, IMG, 3))
    ae = keras.Model(xin, dec(enc(xin)))
    ae.compile(keras.optimizers.Adam(3e-3), "mse")
    t0 = time.time()
    hist = ae.fit(xaug, xaug, validation_data=(xte, xte), epochs=IMG_EPOCHS, batch_size=32,
                  shuffle=True, verbose=0)
    train_s = time.time() - t0
    enc1, _ = image_encoder_models(1)
    enc1.set_weights(enc.get_weights())
    z_te = enc.predict(xte, verbose=0)
    xh_te = dec.predict(z_te, verbose=0)
    held_i = _evenly(len(xte), N_HELDOUT)

    def quality(tfl: bytes):
        _, zq, io_ = _q_through(tfl, xte)
        z_i = _deq_out(zq, io_).reshape(z_te.shape)
        xh_i = dec.predict(z_i, verbose=0)
        pf, pi = _psnr(xte, xh_te), _psnr(xte, xh_i)
        return [
            (f"PSNR dB, encoder + throwaway float decoder ({len(xte)} test images, mean)",
             f"{pf.mean():.2f}", f"{pi.mean():.2f}"),
            (f"PSNR dB ({N_HELDOUT} held-out images, mean)", f"{pf[held_i].mean():.2f}",
             f"{pi[held_i].mean():.2f}"),
            ("latent RMSE vs float (latent in -1..1)", "0", f"{np.sqrt(np.mean((z_i - z_te) ** 2)):.4f}"),
        ]

    h = hist.history
    return Built(
        model=enc1, representative=xtr[_evenly(len(xtr), N_REPRESENTATIVE)], heldout=xte[held_i],
        labels=yte[held_i].astype(np.int8),
        data=(f"Flowers (`flowers_227/`, 750 RGB JPEGs, 227x227, 5 classes: {', '.join(FLOWERS)} = labels "
              f"0..4), resized to {IMG}x{IMG} with PIL's box filter, pixels scaled to [-1, 1] "
              f"(p / 127.5 - 1). Split: per class, files sorted by name, every 5th (index 4, 9, ...) is "
              f"test: {len(xtr)} training / {len(xte)} test images. Representative data: 200 evenly spaced "
              f"training images; held-out: {len(held_i)} evenly spaced test images (`labels` = class)."),
        train=(f"Trained as an autoencoder with a throwaway decoder (Conv2DTranspose 16, 16 -> Conv2D 3 + "
               f"tanh; not exported): Adam 3e-3, MSE, batch 32, {IMG_EPOCHS} epochs over the training images "
               f"and their horizontal flips ({len(xaug)}), {train_s:.1f} s on the CPU; final training MSE "
               f"{h['loss'][-1]:.5f}, test MSE {h['val_loss'][-1]:.5f} (pixels in [-1, 1])."),
        train_s=train_s, quality=quality)


# ---------------------------------------------------------------- the zoo

ZOO: dict[str, ZooSpec] = {s.name: s for s in (
    ZooSpec("codec-encoder",
            "The project's error-bounded AE codec encoder (`models/gsb-temporal`, n = 32, m = 2) as an int8 "
            "TFLite model: window mean removal + sphering folded into a Dense with ReLU6, then Dense(2) + "
            "sigmoid. Tests FULLY_CONNECTED with fused ReLU6 and LOGISTIC on a real codec.",
            _build_codec_encoder),
    ZooSpec("ecg-cae-encoder",
            "Encoder half of a 1-D convolutional ECG autoencoder (256 MLII samples -> 32 x 4 latent). Tests "
            "strided CONV_2D (1-D convolutions), DEPTHWISE_CONV_2D with fused ReLU6, 1x1 convolutions.",
            _build_ecg_cae_encoder),
    ZooSpec("ecg-cae-decoder",
            "Decoder half of the same ECG autoencoder (32 x 4 latent -> 256 samples). Tests "
            "RESIZE_NEAREST_NEIGHBOR (x2 upsampling), RESHAPE and 'same' 1-D convolutions.",
            _build_ecg_cae_decoder),
    ZooSpec("ecg-beat-cnn",
            "1-D CNN heartbeat classifier (AAMI N/S/V/F/Q) on MIT-BIH beats. Tests a residual ADD, "
            "MAX_POOL_2D, AVERAGE_POOL_2D, CONCATENATION of two branches, MUL gating by LOGISTIC, "
            "FULLY_CONNECTED and SOFTMAX.",
            _build_ecg_beat_cnn),
    ZooSpec("image-encoder",
            "Small 2-D convolutional image encoder (32x32 RGB -> 8x8x8 tanh latent) on flower photos. Tests "
            "PAD, strided 'valid' and 'same' CONV_2D, DEPTHWISE_CONV_2D with ReLU6, 1x1 CONV_2D and TANH.",
            _build_image_encoder),
)}


def _layers_table(model) -> list[str]:
    rows = ["| layer | type | output shape | activation | params |", "|---|---|---|---|---|"]
    for layer in model.layers:
        cfg = layer.get_config()
        act = cfg.get("activation", "")
        if layer.__class__.__name__ == "Resizing":
            act = f"nearest, {cfg.get('height')}x{cfg.get('width')}"
        shape = tuple(layer.output.shape)
        rows.append(f"| {layer.name} | {layer.__class__.__name__} | {shape} | {act or ''} | "
                    f"{layer.count_params()} |")
    return rows


def _max_activation_bytes(model) -> int:
    return max(int(np.prod([s for s in layer.output.shape if s is not None])) for layer in model.layers)


def _write_card(path: Path, spec: ZooSpec, b: Built, tfl: bytes, ops: list[str], io_: dict,
                quality: list, tflm_max_diff: int, tflm_equal: float, y_max_lsb: int, npz_bytes: int) -> None:
    m = b.model
    fmt = lambda d: (f"`{d['dtype']}` {d['shape']}, scale {d['scale']:.9g}, zero point {d['zero_point']}")
    q_rows = "\n".join(f"| {a} | {f} | {i} |" for a, f, i in quality)
    notes = "\n".join(f"- {n}" for n in b.notes)
    rebuild = REBUILD.format(name=spec.name)
    if spec.name.startswith("ecg-cae-"):
        rebuild = REBUILD.format(name="ecg-cae-encoder ecg-cae-decoder")
    text = f"""# Zoo model card: {spec.name}

{spec.purpose}

Part of the int8 model zoo (`toolchain/train/zoo.py`) used to test the C code generator against
TFLite Micro. Rebuild: `{rebuild}`
(the zoo is deterministic for a seed; `--seed` changes it).

## Data and split

{b.data}

## Architecture

Keras model `{m.name}` as converted (batch size 1):

{chr(10).join(_layers_table(m))}

- parameters: {m.count_params()}
- largest layer output: {_max_activation_bytes(m)} int8 values
- int8 TFLite size: {len(tfl)} bytes; heldout.npz: {npz_bytes} bytes
- input: {fmt(io_['input'])}
- output: {fmt(io_['output'])}

## TFLite ops

Converted with `TFLiteConverter.from_keras_model`, `Optimize.DEFAULT`, `TFLITE_BUILTINS_INT8`,
int8 input and output, {N_REPRESENTATIVE} training inputs as the representative data set.

- op set: {', '.join(sorted(set(ops)))}
- execution order ({len(ops)} ops): {' -> '.join(ops)}

## Training

{b.train}

## Quality (float Keras vs int8 TFLite through `tf.lite.Interpreter`)

| figure | float | int8 |
|---|---|---|
{q_rows}

Held-out set (`heldout.npz`, {N_HELDOUT} inputs): int8 TFLite output vs the float Keras output
quantized with the output scale: max difference {y_max_lsb} LSB. TFLite Micro (`tflite_micro`
Python interpreter, reference kernels) vs `tf.lite.Interpreter` on the same int8 inputs: {tflm_equal:.1%}
of output values equal, max difference {tflm_max_diff} LSB. The bit-exact reference is TFLite
Micro: `y_tflm` in heldout.npz (TFLite's own int8 LOGISTIC, TANH and SOFTMAX kernels, even the
reference ones, differ from TFLite Micro's by a few LSB on some inputs).

{notes}
"""
    path.write_text(text)


def _sample_rows(b: Built) -> np.ndarray:
    return np.asarray(b.heldout, dtype=np.float32)


def build_one(name: str, out_dir: Path = ZOO_DIR, seed: int = 0, log=print) -> list[Path]:
    spec = ZOO[name]
    t0 = time.time()
    b = spec.build(seed)
    tfl = convert_int8(b.model, b.representative)
    io_ = io_details(tfl)
    ops = tflite_ops(tfl)
    held = _sample_rows(b)
    xq = quantize_like_tflite(held, io_["input"]["scale"], io_["input"]["zero_point"])
    xq = xq.reshape((len(held),) + io_["input"]["shape"])
    y_float = b.model.predict(held, verbose=0, batch_size=1).astype(np.float32)
    y_tfl = run_tflite(tfl, xq)
    y_tflm = run_tflm(tfl, xq)
    if y_tflm.shape != y_tfl.shape:
        y_tflm = y_tflm.reshape(y_tfl.shape)
    d = np.abs(y_tflm.astype(np.int64) - y_tfl.astype(np.int64))
    yq_ref = quantize_like_tflite(y_float, io_["output"]["scale"], io_["output"]["zero_point"])
    y_max_lsb = int(np.abs(y_tfl.reshape(yq_ref.shape).astype(np.int64) - yq_ref.astype(np.int64)).max())
    quality = b.quality(tfl) if b.quality else []
    d_out = Path(out_dir) / name
    d_out.mkdir(parents=True, exist_ok=True)
    (d_out / "model.tflite").write_bytes(tfl)
    arrays = {"x": xq, "y_float": y_float.reshape((len(held),) + io_["output"]["shape"]),
              "y_tflm": y_tflm.astype(np.int8)}
    if b.labels is not None:
        arrays["labels"] = b.labels
    arrays.update({k: np.asarray(v, dtype=np.float32) for k, v in b.extra.items()})
    np.savez_compressed(d_out / "heldout.npz", **arrays)
    _write_card(d_out / "README.md", spec, b, tfl, ops, io_, quality, int(d.max()), float((d == 0).mean()),
                y_max_lsb, (d_out / "heldout.npz").stat().st_size)
    log(f"{name}: {len(tfl)} B tflite, {b.model.count_params()} params, ops {sorted(set(ops))}, "
        f"in {io_['input']['shape']} out {io_['output']['shape']}, train {b.train_s:.1f} s, "
        f"total {time.time() - t0:.1f} s; TFLM vs TFLite max diff {int(d.max())} LSB")
    for a, f, i in quality:
        log(f"    {a}: float {f}, int8 {i}")
    return [d_out / "model.tflite", d_out / "heldout.npz", d_out / "README.md"]


def build_zoo(names: list[str] | None = None, out_dir: Path = ZOO_DIR, seed: int = 0,
              log=print) -> list[Path]:
    """Build (train, convert, check, document) the named zoo models, all by default."""
    names = list(ZOO) if not names else list(names)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        raise KeyError(f"unknown zoo model(s) {', '.join(unknown)}; the zoo has: {', '.join(ZOO)}")
    _limit_threads(2)
    out: list[Path] = []
    for n in names:
        out += build_one(n, Path(out_dir), seed, log)
    return out
