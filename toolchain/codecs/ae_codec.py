"""The error-bounded AE codec as the exact integer algorithm (the reference the C must equal).

One window of n readings becomes (MSB first):
    missing:1        1 if any reading was missing (the MISSING sentinel); then bitmap:n
    mean:W-t         (window mean - lo) >> t, rounded: the mean on a grid of 2^t native units
                     (t = mean_shift; the mean's rounding error lands in the residual, which
                     the bound covers, so coarser means trade header bits against residual bits)
    y:m*B            the latent code, B bits per unit
    residual block   toolchain.codecs.residual (bound eps on every non-missing reading)
eps, B (latent_bits, 1..14, default model.latent_bits) and t (mean_shift, 0..8, default 0)
are session parameters, not sent per window.
Missing readings are imputed before encoding (temporal mode: mean of the window's observed
readings; spatial mode: the paper's naive method, mean of the other sensors' offsets from their
training means plus this sensor's mean) and reconstructed as imputed values, flagged missing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..quant.fixed_point import (D_MID, SIG_IN_FRAC, SIG_ZMAX, SIG_ZMIN, FixedModel, rshr,
                                 sigmoid_q8)
from . import residual
from .bitstream import BitReader, BitWriter, BitstreamError

MISSING = -32768
MAX_LATENT_BITS = 14  # tc_codec.h TC_MAX_LATENT_BITS
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def div_round(s: np.ndarray, c) -> np.ndarray:
    """Integer division rounding half away from zero (c > 0); tc_div_round() in C."""
    s = np.asarray(s, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    return np.sign(s) * ((np.abs(s) + c // 2) // c)


def _check32(a: np.ndarray, what: str) -> None:
    if a.size and (a.min() < INT32_MIN or a.max() > INT32_MAX):
        raise OverflowError(f"{what} leaves int32: [{a.min()}, {a.max()}]")


def impute(model: FixedModel, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (imputed windows, missing mask)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.int64))
    miss = X == MISSING
    if not miss.any():
        return X.copy(), miss
    Xi = X.copy()
    cnt = (~miss).sum(1)
    mu = np.asarray(model.mu, dtype=np.int64)
    if model.mode == "spatial":
        s = np.where(miss, 0, X - mu).sum(1)
        off = np.where(cnt > 0, div_round(s, np.maximum(cnt, 1)), 0)
        fill = off[:, None] + mu[None, :]
    else:
        s = np.where(miss, 0, X).sum(1)
        fill = np.where(cnt > 0, div_round(s, np.maximum(cnt, 1)), 0)[:, None] + np.zeros_like(X)
        fill = np.where(cnt[:, None] > 0, fill, mu[None, :])
    Xi[miss] = fill[miss]
    return Xi, miss


MAX_MEAN_SHIFT = 8  # tc_codec.h TC_MAX_MEAN_SHIFT


def window_mean(model: FixedModel, X: np.ndarray) -> np.ndarray:
    return np.clip(div_round(X.sum(1), model.n), model.lo, model.hi)


def _shift(mean_shift: int) -> int:
    if not 0 <= int(mean_shift) <= MAX_MEAN_SHIFT:
        raise ValueError(f"mean_shift must be 0..{MAX_MEAN_SHIFT}, got {mean_shift}")
    return int(mean_shift)


def mean_code(model: FixedModel, mean: np.ndarray, t: int) -> np.ndarray:
    """(mean - lo) on the 2^t grid, rounded half up, capped to the top code of W - t bits."""
    code = (np.asarray(mean, dtype=np.int64) - model.lo + ((1 << t) >> 1)) >> t
    return np.minimum(code, ((1 << model.word_bits) - 1) >> t)


def _bits(model: FixedModel, latent_bits: int | None) -> int:
    B = model.latent_bits if latent_bits is None else int(latent_bits)
    if not 1 <= B <= MAX_LATENT_BITS:
        raise ValueError(f"latent_bits must be 1..{MAX_LATENT_BITS}, got {B}")
    return B


def encode_latent(model: FixedModel, X: np.ndarray, mean: np.ndarray,
                  latent_bits: int | None = None) -> np.ndarray:
    a = model.arrays()
    t = np.clip(X - mean[:, None], -model.c, model.c)
    d = D_MID + rshr(t * model.k_in, model.s_in)
    acc = d @ a["W1"].T + a["B1"][None, :]
    _check32(acc, "encoder accumulator")
    z = np.clip(rshr(acc, model.f1 + 15 - SIG_IN_FRAC), SIG_ZMIN, SIG_ZMAX)
    y = sigmoid_q8(z)
    return y >> (15 - _bits(model, latent_bits))


def decode_latent(model: FixedModel, mean: np.ndarray, yq: np.ndarray,
                  latent_bits: int | None = None) -> np.ndarray:
    """xhat from (mean, latent code): shared by the device's encoder and the host decoder."""
    a = model.arrays()
    B = _bits(model, latent_bits)
    yd = (yq << (15 - B)) + (1 << (14 - B))
    acc = yd @ a["W2"].T + a["B2"][None, :]
    _check32(acc, "decoder accumulator")
    z = np.clip(rshr(acc, model.f2 + 15 - SIG_IN_FRAC), SIG_ZMIN, SIG_ZMAX)
    u = sigmoid_q8(z)
    xhat = mean[:, None] + rshr((u - D_MID) * model.k_out, model.s_out)
    return np.clip(xhat, model.lo, model.hi)


@dataclass
class Batch:
    """Everything the encoder decided for a batch of windows."""
    missing: np.ndarray   # bool (N, n)
    mean: np.ndarray      # (N,)
    yq: np.ndarray        # (N, m)
    q: np.ndarray         # (N, n) quantized residuals
    x_rec: np.ndarray     # (N, n) what the receiver reconstructs
    bits: np.ndarray      # (N,) exact bits per window
    eps: int
    latent_bits: int
    mean_shift: int = 0


def encode_batch(model: FixedModel, X: np.ndarray, eps: int, latent_bits: int | None = None,
                 mean_shift: int = 0) -> Batch:
    """Vectorised encoder: decisions, reconstruction and exact bit counts (no packing)."""
    if eps < 0 or eps > 16383:
        raise ValueError(f"eps must be in 0..16383 native units, got {eps}")
    X = np.atleast_2d(np.asarray(X, dtype=np.int64))
    if X.shape[1] != model.n:
        raise ValueError(f"windows have {X.shape[1]} samples but model {model.name} takes {model.n}")
    B = _bits(model, latent_bits)
    t = _shift(mean_shift)
    Xi, miss = impute(model, X)
    mean = model.lo + (mean_code(model, window_mean(model, Xi), t) << t)
    yq = encode_latent(model, Xi, mean, B)
    xhat = decode_latent(model, mean, yq, B)
    q = residual.quantize_residual(Xi - xhat, eps)
    x_rec = xhat + residual.dequantize_residual(q, eps)
    head = 1 + np.where(miss.any(1), model.n, 0) + model.word_bits - t + model.m * B
    bits = head + np.array([residual.choose(row)[2] for row in q], dtype=np.int64)
    return Batch(miss, mean, yq, q, x_rec, bits, eps, B, t)


def pack(model: FixedModel, batch: Batch, i: int) -> tuple[bytes, int]:
    """The bytes the device emits for window i of a batch, and their exact bit count."""
    w = BitWriter()
    miss = batch.missing[i]
    w.write(1 if miss.any() else 0, 1)
    if miss.any():
        for b in miss:
            w.write(int(b), 1)
    t = batch.mean_shift
    w.write(int(batch.mean[i] - model.lo) >> t, model.word_bits - t)
    for v in batch.yq[i]:
        w.write(int(v), batch.latent_bits)
    residual.encode(w, batch.q[i])
    assert w.nbits == batch.bits[i]
    return w.to_bytes(), w.nbits


def encode(model: FixedModel, X: np.ndarray, eps: int,
           latent_bits: int | None = None, mean_shift: int = 0) -> list[tuple[bytes, int]]:
    batch = encode_batch(model, X, eps, latent_bits, mean_shift)
    return [pack(model, batch, i) for i in range(len(batch.bits))]


def decode(model: FixedModel, data: bytes, nbits: int, eps: int,
           latent_bits: int | None = None, mean_shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Host decoder: (x_rec int64 (n,), missing mask) from one window's bytes."""
    r = BitReader(data, nbits)
    n = model.n
    miss = np.zeros(n, dtype=bool)
    if r.read(1):
        miss[:] = [r.read(1) for _ in range(n)]
    t = _shift(mean_shift)
    mean = (r.read(model.word_bits - t) << t) + model.lo
    B = _bits(model, latent_bits)
    yq = np.array([[r.read(B) for _ in range(model.m)]], dtype=np.int64)
    xhat = decode_latent(model, np.array([mean], dtype=np.int64), yq, B)[0]
    q = residual.decode(r, n)
    if r.remaining:
        raise BitstreamError(f"{r.remaining} bits left over after a window of model {model.name}")
    return xhat + residual.dequantize_residual(q, eps), miss
