"""Bit-exact integer arithmetic coder (Witten-Neal-Cleary, 32-bit) with an adaptive model.

Used by the `nlms` baseline for its quantised prediction errors.  Symbols are zigzag(q); values
0..M-2 are coded directly and M-1 is an escape followed by Exp-Golomb bits of (value - (M-1)),
each coded as an equiprobable binary decision.  The model starts from a trained prior table
(scaled to PRIOR_TOTAL, every count >= 1) and adds INC to a symbol's count after coding it.

The coded part is the last field of a window, so the encoder drops the trailing zero bits of its
termination and the decoder reads zeros past the end.  Because any prefix then decodes to
*something*, a decoder using this coder re-encodes what it decoded and compares (see nlms).
"""
from __future__ import annotations

import numpy as np

from ..bitstream import BitReader, BitWriter, BitstreamError, unzigzag, zigzag

PREC = 32
TOP = (1 << PREC) - 1
HALF = 1 << (PREC - 1)
QUARTER = 1 << (PREC - 2)
M = 32
PRIOR_TOTAL = 1 << 12
INC = 24
MAX_TOTAL = 1 << 16


def prior_counts(symbols: np.ndarray) -> np.ndarray:
    """Initial counts (int64, length M) from training symbols zigzag(q) (escape-clipped)."""
    s = np.minimum(np.asarray(symbols, dtype=np.int64).ravel(), M - 1)
    hist = np.bincount(s, minlength=M).astype(np.float64) + 0.1
    return np.maximum(1, np.floor(hist / hist.sum() * PRIOR_TOTAL)).astype(np.int64)


class _Model:
    def __init__(self, prior: np.ndarray) -> None:
        self.c = [int(v) for v in prior]

    def interval(self, s: int) -> tuple[int, int, int]:
        lo = sum(self.c[:s])
        return lo, lo + self.c[s], sum(self.c)

    def find(self, target: int) -> tuple[int, int, int]:
        acc = 0
        for s, f in enumerate(self.c):
            if target < acc + f:
                return s, acc, acc + f
            acc += f
        raise AssertionError("target outside the model total")

    def update(self, s: int) -> None:
        self.c[s] += INC
        if sum(self.c) > MAX_TOTAL:
            self.c = [max(1, v >> 1) for v in self.c]


class Encoder:
    def __init__(self) -> None:
        self.low, self.high, self.pending = 0, TOP, 0
        self.bits: list[int] = []

    def _emit(self, b: int) -> None:
        self.bits.append(b)
        self.bits.extend([1 - b] * self.pending)
        self.pending = 0

    def code(self, cl: int, ch: int, tot: int) -> None:
        rng = self.high - self.low + 1
        self.high = self.low + rng * ch // tot - 1
        self.low = self.low + rng * cl // tot
        while True:
            if self.high < HALF:
                self._emit(0)
            elif self.low >= HALF:
                self._emit(1)
                self.low -= HALF
                self.high -= HALF
            elif self.low >= QUARTER and self.high < 3 * QUARTER:
                self.pending += 1
                self.low -= QUARTER
                self.high -= QUARTER
            else:
                break
            self.low = 2 * self.low
            self.high = 2 * self.high + 1

    def finish(self) -> list[int]:
        self.pending += 1
        self._emit(0 if self.low < QUARTER else 1)
        bits = self.bits
        while bits and bits[-1] == 0:       # the decoder reads zeros past the end
            bits.pop()
        return bits


class Decoder:
    def __init__(self, r: BitReader) -> None:
        self.r = r
        self.low, self.high, self.value = 0, TOP, 0
        for _ in range(PREC):
            self.value = (self.value << 1) | self._bit()

    def _bit(self) -> int:
        return self.r.read(1) if self.r.remaining > 0 else 0

    def target(self, tot: int) -> int:
        rng = self.high - self.low + 1
        return ((self.value - self.low + 1) * tot - 1) // rng

    def consume(self, cl: int, ch: int, tot: int) -> None:
        rng = self.high - self.low + 1
        self.high = self.low + rng * ch // tot - 1
        self.low = self.low + rng * cl // tot
        while True:
            if self.high < HALF:
                pass
            elif self.low >= HALF:
                self.low -= HALF
                self.high -= HALF
                self.value -= HALF
            elif self.low >= QUARTER and self.high < 3 * QUARTER:
                self.low -= QUARTER
                self.high -= QUARTER
                self.value -= QUARTER
            else:
                break
            self.low = 2 * self.low
            self.high = 2 * self.high + 1
            self.value = (self.value << 1) | self._bit()


def _encode_bit(e: Encoder, b: int) -> None:
    e.code(b, b + 1, 2)


def _decode_bit(d: Decoder) -> int:
    b = 1 if d.target(2) >= 1 else 0
    d.consume(b, b + 1, 2)
    return b


def encode(w: BitWriter, q: np.ndarray, prior: np.ndarray) -> None:
    """Append the arithmetic-coded q (signed ints) to w."""
    model, e = _Model(prior), Encoder()
    for u in zigzag(np.asarray(q, dtype=np.int64)):
        u = int(u)
        s = min(u, M - 1)
        e.code(*model.interval(s))
        model.update(s)
        if s == M - 1:                       # escape: Exp-Golomb of u - (M-1), bit by bit
            v = u - (M - 1) + 1
            m = v.bit_length() - 1
            for _ in range(m):
                _encode_bit(e, 1)
            _encode_bit(e, 0)
            for i in range(m - 1, -1, -1):
                _encode_bit(e, (v >> i) & 1)
    for b in e.finish():
        w.write(b, 1)


def decode(r: BitReader, n: int, prior: np.ndarray) -> np.ndarray:
    model, d = _Model(prior), Decoder(r)
    out = np.zeros(n, dtype=np.int64)
    for t in range(n):
        tot = sum(model.c)
        s, cl, ch = model.find(d.target(tot))
        d.consume(cl, ch, tot)
        model.update(s)
        u = s
        if s == M - 1:
            m = 0
            while _decode_bit(d):
                m += 1
                if m > 62:
                    raise BitstreamError("arith: escape value too long (corrupt stream)")
            v = 1
            for _ in range(m):
                v = (v << 1) | _decode_bit(d)
            u = M - 1 + v - 1
        out[t] = int(unzigzag(u))
    return out


def cost(q: np.ndarray, prior: np.ndarray) -> int:
    w = BitWriter()
    encode(w, q, prior)
    return w.nbits
