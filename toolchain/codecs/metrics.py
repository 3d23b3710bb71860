"""Error and size metrics shared by the AE codec and the baselines.

x, x_rec: integer arrays of the same shape, typically (N windows, n samples); bits: total bits
sent (an int) or the bits of each window (array of N).  Definitions:
    raw_bits        = x.size * word_bits            (the native stream)
    cr              = raw_bits / bits               (aggregate compression ratio)
    cr_mean_window  = mean over windows of n*word_bits / bits_window   (only if bits per window)
    bits_per_sample = bits / x.size
    rmse            = sqrt(mean (x - x_rec)^2)
    r2              = 1 - sum e^2 / sum (x - mean(x))^2
    prd             = 100 * sqrt(sum e^2 / sum (x - mean(x))^2)   (PRD with the mean removed,
                      a.k.a. PRDN; mean(x) = the mean of all of x; 0 if there is no error,
                      inf if x is constant and there is an error)
    max_abs_err     = max |x - x_rec|
    violations      = number of samples with |x - x_rec| > eps
"""
from __future__ import annotations

import math

import numpy as np


def metrics(x: np.ndarray, x_rec: np.ndarray, bits, word_bits: int, eps: int) -> dict:
    x = np.asarray(x, dtype=np.int64)
    x_rec = np.asarray(x_rec, dtype=np.int64)
    if x.shape != x_rec.shape:
        raise ValueError(f"shape mismatch: x {x.shape} vs x_rec {x_rec.shape}")
    b = np.asarray(bits, dtype=np.float64)
    total_bits = float(b.sum())
    raw_bits = int(x.size) * int(word_bits)
    e = (x - x_rec).astype(np.float64)
    sse = float(np.sum(e * e))
    xf = x.astype(np.float64)
    sst = float(np.sum((xf - xf.mean()) ** 2)) if x.size else 0.0
    if sst > 0:
        prd, r2 = 100.0 * math.sqrt(sse / sst), 1.0 - sse / sst
    else:
        prd, r2 = (0.0, 1.0) if sse == 0 else (math.inf, -math.inf)
    out = {
        "bits": int(total_bits) if float(total_bits).is_integer() else total_bits,
        "raw_bits": raw_bits,
        "cr": raw_bits / total_bits if total_bits > 0 else math.inf,
        "bits_per_sample": total_bits / x.size if x.size else 0.0,
        "rmse": math.sqrt(sse / x.size) if x.size else 0.0,
        "r2": r2,
        "prd": prd,
        "max_abs_err": int(np.abs(x - x_rec).max()) if x.size else 0,
        "violations": int(np.sum(np.abs(x - x_rec) > eps)),
    }
    if b.ndim == 1 and x.ndim == 2 and b.size == x.shape[0]:
        per = x.shape[1] * int(word_bits) / np.maximum(b, 1e-12)
        out["cr_mean_window"] = float(per.mean())
    return out
