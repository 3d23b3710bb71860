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

One module per model (codec_encoder, ecg_cae, ecg_beat_cnn, image_encoder), the MIT-BIH
windows and beats they share (ecg_data), the conversion and TFLite helpers (common); this
module holds the registry, the model cards and build_zoo.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .codec_encoder import CODEC_MODEL, _build_codec_encoder, codec_encoder_keras, codec_float_encode
from .common import (N_HELDOUT, N_REPRESENTATIVE, REBUILD, ZOO_DIR, Built, ZooSpec, _limit_threads,
                     card_ops, convert_int8, dequantize, io_details, quantize_like_tflite, run_tflite,
                     run_tflm, tflite_ops)
from .ecg_beat_cnn import _build_ecg_beat_cnn
from .ecg_cae import _build_ecg_cae_decoder, _build_ecg_cae_encoder
from .image_encoder import _build_image_encoder

# ---------------------------------------------------------------- the zoo

# What code outside the package imports from it (cli: build_zoo; tests/test_zoo.py; tests/test_kpu.py:
# dequantize; kendryte/kpu/layout.py: convert_int8) plus the registry (ZOO, ZooSpec, Built, build_one).
# Private helpers (_keras, _seed, ...) are imported from .common.
__all__ = ["CODEC_MODEL", "ZOO", "ZOO_DIR", "Built", "ZooSpec", "build_one", "build_zoo", "card_ops",
           "codec_encoder_keras", "codec_float_encode", "convert_int8", "dequantize", "io_details",
           "quantize_like_tflite", "run_tflm", "tflite_ops"]

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
    # Byte for byte the text the committed models/zoo/*/README.md were written with (it still names the
    # single-file toolchain/train/zoo.py): change it only together with a rebuild of the zoo.
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
