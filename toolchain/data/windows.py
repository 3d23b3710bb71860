"""Cut Signals into the integer blocks a codec compresses, and fill spatial gaps.

Everything here works on sensor counts (Signal.to_int()) with the MISSING sentinel,
the representation the device holds, so the arithmetic matches the firmware.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .signals import MISSING, Signal


def temporal_windows(sig: Signal, n: int, stride: int | None = None,
                     max_missing: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Length-n windows of each sensor's series (non-overlapping unless `stride` < n).

    Returns (windows int64 (N, n), sensor_index int64 (N,)), sensor by sensor in time
    order. MISSING readings are kept; windows with a MISSING fraction > max_missing
    are skipped (max_missing=0 keeps only complete windows). A tail shorter than n is
    dropped.
    """
    n = int(n)
    stride = n if stride is None else int(stride)
    if n < 1 or stride < 1:
        raise ValueError(f"window length and stride must be >= 1, got n={n}, stride={stride}")
    x = sig.to_int()
    if x.shape[0] < n:
        return np.empty((0, n), dtype=np.int64), np.empty(0, dtype=np.int64)
    # (T-n+1, S, n) view, then every stride-th start
    w = sliding_window_view(x, n, axis=0)[::stride]
    w = np.ascontiguousarray(w.transpose(1, 0, 2))  # (S, starts, n): sensor-major order
    S, K, _ = w.shape
    w = w.reshape(S * K, n)
    idx = np.repeat(np.arange(S, dtype=np.int64), K)
    keep = (w == MISSING).mean(axis=1) <= max_missing
    return w[keep], idx[keep]


def spatial_windows(sig: Signal, max_missing: float = 1.0) -> np.ndarray:
    """int64 (T', S): each row one instant across all sensors; rows whose MISSING
    fraction exceeds max_missing are dropped."""
    x = sig.to_int()
    if x.size == 0:
        return x
    return x[(x == MISSING).mean(axis=1) <= max_missing]


def impute_naive(x: np.ndarray, sensor_means: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill MISSING entries of spatial vectors (rows = instants, columns = sensors).

    x_ij = round(mean over observed k of (x_ik - mu_k)) + mu_j: the observed sensors'
    common offset from their means, added to the missing sensor's mean. A row with no
    observed sensor gets mu_j. Integer-only, rounding half away from zero, written as
    sign(s) * ((|s| + c // 2) // c) with s = sum of (x_ik - mu_k) and c = count; the
    device firmware runs this exact formula, so do not change it to float arithmetic.
    Returns (imputed copy, number of entries imputed).
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (instants, sensors), got shape {x.shape}")
    mu = np.asarray(sensor_means)
    if mu.shape != (x.shape[1],):
        raise ValueError(f"sensor_means must have shape ({x.shape[1]},), got {mu.shape}")
    if not np.array_equal(mu, np.rint(mu)):
        raise ValueError("sensor_means must be integers (the device stores them as integers)")
    mu = mu.astype(np.int64)
    out = x.astype(np.int64, copy=True)
    miss = out == MISSING
    obs = ~miss
    c = obs.sum(axis=1)
    s = np.where(obs, out - mu, 0).sum(axis=1)
    # round half away from zero of s / c; c == 0 rows get offset 0 (-> mu_j)
    safe_c = np.maximum(c, 1)
    offset = np.sign(s) * ((np.abs(s) + safe_c // 2) // safe_c)
    offset[c == 0] = 0
    filled = offset[:, None] + mu[None, :]
    out[miss] = filled[miss]
    return out, int(miss.sum())
