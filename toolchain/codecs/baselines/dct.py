"""DCT baseline: orthonormal DCT-II of the window, uniform quantisation, residual fix-up.

With mid = lo + 2^(W-1), c = C (x - mid) (C the orthonormal DCT-II matrix, float64) and a step
delta_j = (2*eps + 1) * 2^((j - 3)/2), j = 0..15, the coefficients are
qc = round_half_up(c / delta_j).
Reconstruction, computed by the same function in encoder and decoder:
    xhat = mid + round_half_up(C^T (qc * delta_j))
and the error-bound residual coder sends q = quantize_residual(x - xhat, eps), so
|x - x_rec| <= eps exactly.  The encoder tries all sixteen j and keeps the cheapest stream.

Bit layout (MSB first):
    j          : 4 bits
    qc[0] (DC) : signed field of bitlen(ceil((isqrt(n) + 1) * 2^(W-1) / delta_j)) + 1 bits
    qc[1:]     : residual block (residual.encode: zero / sparse / dense Rice)
    q          : residual block
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .. import residual
from ..bitstream import BitWriter
from .common import Encoded, RangeMixin, finish, pack, reader, round_half_up

J_BITS = 4
N_STEPS = 1 << J_BITS


@lru_cache(maxsize=16)
def dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n, dtype=np.float64)[:, None]
    t = np.arange(n, dtype=np.float64)[None, :]
    c = np.cos(np.pi * (2.0 * t + 1.0) * k / (2.0 * n)) * np.sqrt(2.0 / n)
    c[0, :] = np.sqrt(1.0 / n)
    c.setflags(write=False)
    return c


def step(eps: int, j: int) -> float:
    return float(2 * int(eps) + 1) * 2.0 ** ((j - 3) / 2.0)


def dc_bits(n: int, word_bits: int, delta: float) -> int:
    bound = math.ceil((math.isqrt(n) + 1) * float(1 << (word_bits - 1)) / delta)
    return int(bound).bit_length() + 1


def reconstruct(qc: np.ndarray, delta: float, mid: int) -> np.ndarray:
    c = dct_matrix(qc.size)
    return mid + round_half_up(c.T @ (qc.astype(np.float64) * delta))


class DCT(RangeMixin):
    name = "dct"

    def fit(self, train_windows: np.ndarray, word_bits: int, lo: int) -> None:
        self._set_range(word_bits, lo)

    @property
    def mid(self) -> int:
        return self.lo + (1 << (self.word_bits - 1))

    def encode(self, x: np.ndarray, eps: int) -> Encoded:
        x = self.check(x, eps)
        n = x.size
        coef = dct_matrix(n) @ (x - self.mid).astype(np.float64)
        best = None
        for j in range(N_STEPS):
            delta = step(eps, j)
            qc = round_half_up(coef / delta)
            q = residual.quantize_residual(x - reconstruct(qc, delta, self.mid), eps)
            bits = (J_BITS + dc_bits(n, self.word_bits, delta) + residual.choose(qc[1:])[2]
                    + residual.choose(q)[2])
            if best is None or bits < best[0]:
                best = (bits, j, qc, q)
        bits, j, qc, q = best
        w = BitWriter()
        w.write(j, J_BITS)
        w.write_signed(int(qc[0]), dc_bits(n, self.word_bits, step(eps, j)))
        residual.encode(w, qc[1:])
        residual.encode(w, q)
        assert w.nbits == bits
        return pack(w)

    def decode(self, enc: Encoded, n: int, eps: int) -> np.ndarray:
        r = reader(enc)
        j = r.read(J_BITS)
        delta = step(eps, j)
        qc = np.empty(n, dtype=np.int64)
        qc[0] = r.read_signed(dc_bits(n, self.word_bits, delta))
        qc[1:] = residual.decode(r, n - 1)
        q = residual.decode(r, n)
        finish(r, "dct")
        return reconstruct(qc, delta, self.mid) + residual.dequantize_residual(q, eps)
