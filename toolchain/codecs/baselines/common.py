"""Shared pieces of the host baselines: the interface, input checks and two small codes.

Every baseline is per window, exactly as a sensor would send it: `encode(x, eps)` returns the
bytes plus the exact bit count, and `decode(enc, n, eps)` rebuilds the window from the bitstream
alone (plus the parameters `fit` learnt from training windows). Decoders read with
`bitstream.BitReader(enc.data, enc.nbits)`, so reading past `nbits` raises `BitstreamError`, and
they call `finish()` to reject a stream whose declared length is longer than what was consumed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..bitstream import BitReader, BitWriter, BitstreamError, unzigzag, zigzag

# Value the data loaders use for a missing reading; callers impute before encoding.
MISSING = -32768


@dataclass
class Encoded:
    data: bytes
    nbits: int


class Baseline(Protocol):
    name: str

    def fit(self, train_windows: np.ndarray, word_bits: int, lo: int) -> None: ...

    def encode(self, x: np.ndarray, eps: int) -> Encoded: ...

    def decode(self, enc: Encoded, n: int, eps: int) -> np.ndarray: ...


class RangeMixin:
    """word_bits / lo handling shared by all baselines (defaults: signed 16-bit words)."""

    word_bits: int = 16
    lo: int = -(1 << 15)

    def _set_range(self, word_bits: int, lo: int) -> None:
        if word_bits < 1 or word_bits > 32:
            raise ValueError(f"word_bits must be in 1..32, got {word_bits}")
        self.word_bits, self.lo = int(word_bits), int(lo)

    @property
    def hi(self) -> int:
        return self.lo + (1 << self.word_bits) - 1

    def check(self, x: np.ndarray, eps: int) -> np.ndarray:
        return check_window(x, eps, self.lo, self.word_bits)


def check_train(train_windows: np.ndarray, who: str) -> np.ndarray:
    """Validate training windows for a fitted baseline: (N, n) with no missing sentinel."""
    t = np.asarray(train_windows)
    if t.ndim != 2 or t.shape[0] < 1:
        raise ValueError(f"{who}.fit needs training windows of shape (N, n), got {t.shape}")
    if np.any(t == MISSING):
        raise ValueError(f"{who}.fit: training windows contain the missing sentinel {MISSING}: impute first")
    return t


def check_window(x: np.ndarray, eps: int, lo: int, word_bits: int) -> np.ndarray:
    """Validate one window: 1-D integers inside the sensor range, no missing sentinel, eps >= 0."""
    if int(eps) != eps or eps < 0:
        raise ValueError(f"eps must be an integer >= 0, got {eps!r}")
    x = np.asarray(x)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"a window is a non-empty 1-D array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"windows hold integer readings, got dtype {x.dtype}")
    x = x.astype(np.int64)
    if np.any(x == MISSING):
        raise ValueError(f"window contains the missing-value sentinel {MISSING}: "
                         "impute before encoding")
    hi = lo + (1 << word_bits) - 1
    if x.min() < lo or x.max() > hi:
        raise ValueError(f"window values [{x.min()}, {x.max()}] outside the sensor range "
                         f"[{lo}, {hi}]")
    return x


def finish(r: BitReader, what: str) -> None:
    """Every declared bit must have been consumed."""
    if r.remaining != 0:
        raise BitstreamError(f"{what}: {r.remaining} trailing bits after the decoded window")


def pack(w: BitWriter) -> Encoded:
    return Encoded(w.to_bytes(), w.nbits)


def reader(enc: Encoded) -> BitReader:
    if enc.nbits < 0 or enc.nbits > 8 * len(enc.data):
        raise BitstreamError(f"bit length {enc.nbits} exceeds the {len(enc.data)} bytes given")
    return BitReader(enc.data, enc.nbits)


# --- signed Exp-Golomb (order 0) for the one large leading value some baselines send ---------
# zigzag(v) + 1 = 1bbb..b (m+1 bits): m one-bits, a zero, then the m low bits.  Cost 2m + 1.

def gamma_cost(v: int) -> int:
    m = (zigzag(int(v)) + 1).bit_length() - 1
    return 2 * m + 1


def write_gamma(w: BitWriter, v: int) -> None:
    u = zigzag(int(v)) + 1
    m = u.bit_length() - 1
    w.write_unary(m)
    w.write(u - (1 << m), m)


def read_gamma(r: BitReader) -> int:
    m = r.read_unary(limit=64)
    u = (1 << m) | r.read(m)
    return int(unzigzag(u - 1))


def round_half_up(v: np.ndarray) -> np.ndarray:
    """Deterministic float -> int64 rounding used by every float-domain baseline."""
    return np.floor(np.asarray(v, dtype=np.float64) + 0.5).astype(np.int64)
