"""Error-bound residual coder: the integer algorithm mirrored by firmware_templates/tc_residual.h.

Given a reconstruction `xhat` the receiver will also compute, the device sends, for every sample,
q = sign(r) * floor((|r| + eps) / (2*eps + 1)) with r = x - xhat. The receiver adds
q * (2*eps + 1), so |x - x_rec| <= eps for every sample (eps = 0: lossless).

Wire layout of one residual block (MSB first):
    mode:2   0 = all q are zero
             1 = sparse: k:4, bitmap:n, then per nonzero q: sign:1 (1 = negative), Rice_k(|q| - 1)
             2 = dense:  k:4, then per sample Rice_k(zigzag(q))
             3 = delta:  k:4, then per sample Rice_k(zigzag(q[i] - q[i-1])), q[-1] = 0
                 (pays where the residual is smooth: a reconstruction that misses a trend)
The encoder picks the cheapest (mode, k), ties broken towards the lower mode, then lower k.
"""
from __future__ import annotations

import numpy as np

from .bitstream import BitReader, BitWriter, unzigzag, zigzag

MODE_BITS = 2
K_BITS = 4
K_MAX = (1 << K_BITS) - 1
MODE_ZERO, MODE_SPARSE, MODE_DENSE, MODE_DELTA = 0, 1, 2, 3


def quantize_residual(r: np.ndarray, eps: int) -> np.ndarray:
    r = np.asarray(r, dtype=np.int64)
    step = 2 * int(eps) + 1
    return np.sign(r) * ((np.abs(r) + eps) // step)


def dequantize_residual(q: np.ndarray, eps: int) -> np.ndarray:
    return np.asarray(q, dtype=np.int64) * (2 * int(eps) + 1)


def _rice_costs(v: np.ndarray) -> np.ndarray:
    """Cost of Rice-coding all of v for each k in 0..K_MAX."""
    v = np.asarray(v, dtype=np.int64)
    ks = np.arange(K_MAX + 1)
    if v.size == 0:
        return np.zeros(K_MAX + 1, dtype=np.int64)
    return ((v[None, :] >> ks[:, None]) + 1 + ks[:, None]).sum(axis=1)


def _delta(q: np.ndarray) -> np.ndarray:
    return np.diff(q, prepend=0)


def choose(q: np.ndarray) -> tuple[int, int, int]:
    """(mode, k, bits) the encoder uses for residual vector q."""
    q = np.asarray(q, dtype=np.int64)
    if not q.any():
        return MODE_ZERO, 0, MODE_BITS
    nz = q[q != 0]
    sparse = MODE_BITS + K_BITS + q.size + nz.size + _rice_costs(np.abs(nz) - 1)
    dense = MODE_BITS + K_BITS + _rice_costs(zigzag(q))
    best = (int(sparse.min()), MODE_SPARSE, int(sparse.argmin()))
    delta = MODE_BITS + K_BITS + _rice_costs(zigzag(_delta(q)))
    for cand in ((int(dense.min()), MODE_DENSE, int(dense.argmin())),
                 (int(delta.min()), MODE_DELTA, int(delta.argmin()))):
        if cand < best:
            best = cand
    bits, mode, k = best
    return mode, k, bits


def encode(w: BitWriter, q: np.ndarray) -> int:
    """Append the residual block for q; returns the bits written."""
    q = np.asarray(q, dtype=np.int64)
    start = w.nbits
    mode, k, bits = choose(q)
    w.write(mode, MODE_BITS)
    if mode == MODE_SPARSE:
        w.write(k, K_BITS)
        for v in q:
            w.write(1 if v else 0, 1)
        for v in q[q != 0]:
            w.write(1 if v < 0 else 0, 1)
            w.write_rice(abs(int(v)) - 1, k)
    elif mode in (MODE_DENSE, MODE_DELTA):
        w.write(k, K_BITS)
        for u in zigzag(q if mode == MODE_DENSE else _delta(q)):
            w.write_rice(int(u), k)
    assert w.nbits - start == bits, "cost model and writer disagree"
    return bits


def decode(r: BitReader, n: int) -> np.ndarray:
    mode = r.read(MODE_BITS)
    q = np.zeros(n, dtype=np.int64)
    if mode == MODE_ZERO:
        return q
    k = r.read(K_BITS)
    if mode == MODE_SPARSE:
        mask = np.array([r.read(1) for _ in range(n)], dtype=bool)
        for i in np.flatnonzero(mask):
            neg = r.read(1)
            mag = r.read_rice(k) + 1
            q[i] = -mag if neg else mag
    else:
        q[:] = unzigzag(np.array([r.read_rice(k) for _ in range(n)], dtype=np.int64))
        if mode == MODE_DELTA:
            q = np.cumsum(q)
    return q
