"""A tiny untrained codec folder with the deployed architecture, for tests on a clean checkout.

The device path (firmware_templates/ecg_dynamic/, reference.py, bitstream.py) must be bit-exact for
*any* weights and quantization, so its tests need a model folder of the right shape, not a good one.
make_dev_model() writes one in about ten seconds: model.py's encoder and decoders with a seeded
random initialization, converted to int8 with random representative data (smooth random signals in
mean-removed mV, so the scales are those of an ECG-sized input), exported like a trained codec
(deployed.export, codec.json included). Nothing here is fit for figures.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import LOSSY_LEVELS, SEG_N, TASKS
from .deployed import DynamicModel, export

DEV_SEED = 1234
N_REP = 32


def _representative(seed: int) -> np.ndarray:
    """Smooth random segments (N_REP, SEG_N) in mV: low-passed noise with a few spikes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (N_REP, SEG_N))
    kernel = np.hanning(31)
    x = np.stack([np.convolve(r, kernel / kernel.sum(), mode="same") for r in x]) * 2.0
    spikes = rng.random((N_REP, SEG_N)) < 0.003
    x += spikes * rng.normal(1.5, 0.3, (N_REP, SEG_N))
    return (x - x.mean(1, keepdims=True)).astype(np.float32)


def make_dev_model(out_dir: str | Path, seed: int = DEV_SEED, latent_bits: int = 6) -> DynamicModel:
    """Write an untrained int8 codec folder (codec.json, encoder.tflite, decoder1..3.tflite) to out_dir."""
    from ...train.zoo.common import _limit_threads, _seed, convert_int8
    from .model import codec

    _limit_threads(2)
    _seed(seed)
    enc, _shared, decs = codec(1)
    rep = _representative(seed)
    tfl_e = convert_int8(enc, rep[..., None])
    zs = enc.predict(rep[..., None], verbose=0, batch_size=8)[:3]
    tfl_d = {lv: convert_int8(decs[lv], zs[lv - 1]) for lv in LOSSY_LEVELS}
    return export(Path(out_dir), tfl_e, tfl_d, latent_bits, {t: 1.0 for t in TASKS},
                  {"dev": f"untrained (seed {seed}) folder from devmodel.make_dev_model: for tests, not figures"})
