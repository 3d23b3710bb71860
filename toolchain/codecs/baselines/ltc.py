"""LTC: Lightweight Temporal Compression (Schoellhammer et al., 2004) with integer endpoints.

Encoder (greedy, as in the paper): from the current anchor (t0, v0) keep the cone of slopes s for
which the line v0 + s*(t - t0) stays within [x[t] - eps, x[t] + eps] at every t seen so far, and
extend the segment while the cone is non-empty.  Unlike the float original, endpoints are integers:
the segment ends at the last t1 for which an INTEGER v1 exists with (v1 - v0)/(t1 - t0) inside the
cone, and v1 is the admissible integer closest to x[t1].  The first anchor is (0, x[0]).

Reconstruction (decoder and encoder alike), for t0 <= t <= t1, L = t1 - t0, d = t - t0:
    x_rec[t] = v0 + floor((2*(v1 - v0)*d + L) / (2*L))          (exact integers, round half up)
Why the bound holds without a residual fix-up: the cone is computed with exact rationals, so the
real value y = v0 + (v1 - v0)*d/L lies in [x[t] - eps, x[t] + eps]; both ends are integers, so
rounding y to the nearest integer cannot leave that interval.  The encoder still asserts it.

Bit layout (MSB first):
    x[0] - lo          : W bits
    k                  : 4 bits   Rice parameter of the endpoint deltas (encoder picks the cheapest)
    per segment, until the window is covered:
        L - 1          : bitlen(n - 2 - t0) bits  (L <= n - 1 - t0; the decoder knows t0, so the
                                                  field shrinks towards the end of the window)
        v1 - v0        : Rice_k(zigzag(.))       (signed delta to the previous endpoint)
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..bitstream import BitWriter, BitstreamError, rice_cost, unzigzag, zigzag
from .common import Encoded, RangeMixin, finish, pack, reader

K_BITS = 4


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def segments(x: np.ndarray, eps: int) -> list[tuple[int, int]]:
    """Greedy integer-endpoint LTC: the list of endpoints (t, v), starting with (0, x[0])."""
    xs = [int(v) for v in x]
    n = len(xs)
    t0, v0 = 0, xs[0]
    ends = [(t0, v0)]
    while t0 < n - 1:
        s_lo, s_hi = None, None          # slope cone, exact rationals
        best = None                      # (t1, a, b): last end with an admissible integer v1
        for t1 in range(t0 + 1, n):
            d = t1 - t0
            lo_t = Fraction(xs[t1] - eps - v0, d)
            hi_t = Fraction(xs[t1] + eps - v0, d)
            s_lo = lo_t if s_lo is None or lo_t > s_lo else s_lo
            s_hi = hi_t if s_hi is None or hi_t < s_hi else s_hi
            if s_lo > s_hi:
                break
            a = v0 + _ceil_div(s_lo.numerator * d, s_lo.denominator)
            b = v0 + (s_hi.numerator * d) // s_hi.denominator
            if a <= b:
                best = (t1, a, b)
        t1, a, b = best                  # d = 1 always admits v1 = x[t0 + 1]
        v1 = min(max(xs[t1], a), b)
        ends.append((t1, v1))
        t0, v0 = t1, v1
    return ends


def reconstruct(ends: list[tuple[int, int]], n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.int64)
    t0, v0 = ends[0]
    out[t0] = v0
    for t1, v1 in ends[1:]:
        L = t1 - t0
        d = np.arange(1, L + 1, dtype=np.int64)
        out[t0 + 1:t1 + 1] = v0 + (2 * (v1 - v0) * d + L) // (2 * L)
        t0, v0 = t1, v1
    return out


def _rl_bits(n: int, t0: int) -> int:
    return max(n - 2 - t0, 0).bit_length()


class LTC(RangeMixin):
    name = "ltc"

    def fit(self, train_windows: np.ndarray, word_bits: int, lo: int) -> None:
        self._set_range(word_bits, lo)

    def encode(self, x: np.ndarray, eps: int) -> Encoded:
        x = self.check(x, eps)
        n = x.size
        ends = segments(x, int(eps))
        rec = reconstruct(ends, n)
        assert np.abs(rec - x).max() <= eps, "LTC integer rounding broke the bound"
        vals = np.array([v for _, v in ends], dtype=np.int64)
        deltas = zigzag(np.diff(vals))
        k = int(np.argmin([rice_cost(deltas, k) for k in range(1 << K_BITS)]))
        w = BitWriter()
        w.write(int(x[0]) - self.lo, self.word_bits)
        w.write(k, K_BITS)
        for ((t0, _), (t1, _)), u in zip(zip(ends, ends[1:]), deltas):
            w.write(t1 - t0 - 1, _rl_bits(n, t0))
            w.write_rice(int(u), k)
        return pack(w)

    def decode(self, enc: Encoded, n: int, eps: int) -> np.ndarray:
        r = reader(enc)
        v0 = r.read(self.word_bits) + self.lo
        k = r.read(K_BITS)
        t0 = 0
        ends = [(0, v0)]
        while t0 < n - 1:
            L = r.read(_rl_bits(n, t0)) + 1
            if t0 + L > n - 1:
                raise BitstreamError(f"ltc: segment of length {L} at t={t0} overruns "
                                     f"the window of {n}")
            v0 = v0 + int(unzigzag(r.read_rice(k)))
            t0 += L
            ends.append((t0, v0))
        finish(r, "ltc")
        return reconstruct(ends, n)
