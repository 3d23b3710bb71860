"""Host baselines for error-bounded window compression, all with real bitstreams.

Registry `BASELINES`: name -> constructor.  Every codec follows `Baseline`:
    fit(train_windows, word_bits, lo)   learn model parameters (range only for model-free codecs)
    encode(x, eps) -> Encoded           x: one int window; |x - decode(...)| <= eps guaranteed
    decode(enc, n, eps) -> int64 array  from the bitstream (+ fitted parameters) only
`evaluate(codec, windows, eps, word_bits)` encodes/decodes every window and returns the metrics
of `toolchain.codecs.metrics.metrics` plus `windows`.  Bit layouts: see each module's docstring.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..metrics import metrics
from .common import MISSING, Baseline, Encoded, check_window
from .dct import DCT
from .ltc import LTC
from .nlms import NLMS
from .pca import PCA
from .zstd_codec import Zstd, ZstdDict

BASELINES: dict[str, Callable[[], Baseline]] = {
    "ltc": LTC,
    "dct": DCT,
    "pca": PCA,
    "nlms": NLMS,
    "zstd": Zstd,
    "zstd-dict": ZstdDict,
}


def evaluate(codec: Baseline, windows: np.ndarray, eps: int, word_bits: int) -> dict:
    """Encode and decode every window (rows of `windows`); metrics over all of them.

    Keys: bits (total), raw_bits, cr (= raw_bits / bits), cr_mean_window (mean of per-window
    CRs), bits_per_sample, rmse, r2, prd (mean-removed PRD, see metrics.py), max_abs_err,
    violations (samples with |err| > eps), windows.
    """
    windows = np.asarray(windows)
    if windows.ndim != 2:
        raise ValueError(f"windows must be (N, n), got {windows.shape}")
    n = windows.shape[1]
    rec = np.empty(windows.shape, dtype=np.int64)
    bits = np.empty(windows.shape[0], dtype=np.int64)
    for i, x in enumerate(windows):
        enc = codec.encode(x, eps)
        rec[i] = codec.decode(enc, n, eps)
        bits[i] = enc.nbits
    out = metrics(windows, rec, bits, word_bits, eps)
    out["windows"] = int(windows.shape[0])
    return out


__all__ = ["BASELINES", "Baseline", "Encoded", "evaluate", "check_window", "MISSING",
           "LTC", "DCT", "PCA", "NLMS", "Zstd", "ZstdDict"]
