"""The ECG dynamic codec's segment record (docs/ecg_dynamic.md, "Segment bitstream"): Python reference.

encode_segment writes what the device's tc_encode writes for a segment once its level is chosen
(flags force level 0); decode_segment / decode_segments are the host's decoder, which for the lossy
levels runs the int8 decoder of that level (tf.lite, reference kernels) and reconstructs in adu.

Bits are MSB first, the last byte zero-padded (toolchain.codecs.bitstream's convention). The
lossless body is coded and parsed with numpy (a segment is 2047 Rice codes; thousands of segments
are decoded per evaluation), and both directions are checked against the spec by the tests.
Malformed input raises BitstreamError naming the field and the bit offset where it starts.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..bitstream import BitstreamError
from . import ADC_BITS, LOSSY_LEVELS, SEG_N
from .model import LATENT_LEN

TC_MISSING = -32768
ADC_MAX = (1 << ADC_BITS) - 1
IMPUTE_ALL_MISSING = 1024

LEVEL_BITS = 2
FLAG_BITS = 2
MEAN_BITS = ADC_BITS
VALUE_BITS = ADC_BITS
FIRST_BITS = ADC_BITS
K_BITS = 4
N_K = 1 << K_BITS
MAX_LATENT_BITS = 8

FLAG_NONE, FLAG_FLAT, FLAG_SATURATED, FLAG_MISSING = 0, 1, 2, 3
FLAG_NAMES = ("none", "flat", "saturated", "missing")

# Largest zigzagged delta of 0..2047 samples; with k = 11 every delta costs at most 13 bits, so
# the cheapest k never costs more than that.
MAX_ZIGZAG = 2 * ADC_MAX
WORST_CASE_BITS = (LEVEL_BITS + FLAG_BITS + SEG_N + FIRST_BITS + K_BITS
                   + (SEG_N - 1) * ((MAX_ZIGZAG >> 11) + 1 + 11))


@dataclass
class DecodedSegment:
    values: np.ndarray       # (2048,) int64 adu; missing samples hold their imputed value
    missing: np.ndarray      # (2048,) bool: sample missing at the source (flag 3's mask)
    level: int               # 0 lossless, 1..3 CG 16 / 32 / 64
    flag: int                # 0 none, 1 flat, 2 saturated, 3 missing
    mean: int | None         # the sent segment mean (lossy levels), else None


# ---------------------------------------------------------------- the device's front end


def clamp_and_impute(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples clamped to 0..2047, missing ones replaced by the previous present sample (leading
    ones by the first present one; all missing: 1024). Returns (values int64, missing mask)."""
    x = np.asarray(x).astype(np.int64).ravel()
    if x.shape != (SEG_N,):
        raise ValueError(f"a segment has {SEG_N} samples, got {x.size}")
    miss = x == TC_MISSING
    v = np.clip(x, 0, ADC_MAX)
    if miss.all():
        return np.full(SEG_N, IMPUTE_ALL_MISSING, np.int64), miss
    if miss.any():
        idx = np.where(miss, -1, np.arange(SEG_N))
        idx = np.maximum.accumulate(idx)
        idx[idx < 0] = int(np.flatnonzero(~miss)[0])   # leading missing: the first present sample
        v = v[idx]
    return v, miss


def flags_of(x: np.ndarray) -> int:
    """The segment's flag: 3 missing samples, else 1 flat (max == min), else 2 saturated (a sample
    at 0 or 2047), else 0; samples outside 0..2047 count as clamped (so saturated)."""
    v, miss = clamp_and_impute(x)
    if miss.any():
        return FLAG_MISSING
    if v.max() == v.min():
        return FLAG_FLAT
    if (v == 0).any() or (v == ADC_MAX).any():
        return FLAG_SATURATED
    return FLAG_NONE


def segment_mean(values: np.ndarray) -> int:
    """m = (sum x + 1024) >> 11 over the (imputed) segment."""
    return int((int(np.asarray(values, np.int64).sum()) + (SEG_N >> 1)) >> 11)


def latent_u(q: np.ndarray, bits: int) -> np.ndarray:
    """int8 code -> the B-bit value sent: u = min((q + 128 + half) >> s, 2^B - 1), s = 8 - B."""
    s = 8 - bits
    r = (1 << (s - 1)) if s > 0 else 0
    return np.minimum((np.asarray(q, np.int64) + 128 + r) >> s, (1 << bits) - 1)


def latent_q(u: np.ndarray, bits: int) -> np.ndarray:
    """B-bit value -> the int8 the host feeds the decoder: (u << s) - 128."""
    s = 8 - bits
    return ((np.asarray(u, np.int64) << s) - 128).astype(np.int8)


def _check_bits(latent_bits: int) -> None:
    if not 1 <= int(latent_bits) <= MAX_LATENT_BITS:
        raise ValueError(f"latent_bits must be 1..{MAX_LATENT_BITS}, got {latent_bits}")


# ---------------------------------------------------------------- writing


class _Bits:
    """MSB-first bit collector built from numpy chunks (one chunk per field or per block)."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self.nbits = 0

    def put(self, value: int, nbits: int) -> None:
        value = int(value)
        if value < 0 or value >> nbits:
            raise BitstreamError(f"value {value} does not fit in {nbits} bits")
        self.put_bits(((value >> np.arange(nbits - 1, -1, -1)) & 1).astype(np.uint8))

    def put_array(self, values: np.ndarray, nbits: int) -> None:
        """Every value as an nbits field, in order."""
        v = np.asarray(values, np.int64)
        if v.size and (v.min() < 0 or v.max() >> nbits):
            raise BitstreamError(f"values do not fit in {nbits} bits")
        self.put_bits(((v[:, None] >> np.arange(nbits - 1, -1, -1)) & 1).astype(np.uint8).ravel())

    def put_bits(self, bits: np.ndarray) -> None:
        self._chunks.append(np.asarray(bits, np.uint8))
        self.nbits += len(bits)

    def to_bytes(self) -> bytes:
        if not self.nbits:
            return b""
        return np.packbits(np.concatenate(self._chunks)).tobytes()


def rice_costs(z: np.ndarray) -> np.ndarray:
    """Bits of Rice-coding every value of z (>= 0) for k = 0..15: (16,) int64."""
    z = np.asarray(z, np.int64)
    ks = np.arange(N_K)
    return ((z[None, :] >> ks[:, None]) + 1 + ks[:, None]).sum(1)


def rice_bits(z: np.ndarray, k: int) -> np.ndarray:
    """The Rice code of every value: quotient in unary (ones, then a zero), then k low bits."""
    z = np.asarray(z, np.int64)
    q = z >> k
    length = q + 1 + k
    start = np.cumsum(length) - length
    out = np.zeros(int(length.sum()), np.uint8)
    if q.sum():
        run_start = np.repeat(start, q)
        within = np.arange(int(q.sum())) - np.repeat(np.cumsum(q) - q, q)
        out[run_start + within] = 1
    for j in range(k):
        out[start + q + 1 + j] = (z >> (k - 1 - j)) & 1
    return out


def zigzag_deltas(v: np.ndarray) -> np.ndarray:
    d = np.diff(np.asarray(v, np.int64))
    return np.where(d >= 0, 2 * d, -2 * d - 1)


def _put_lossless_body(w: _Bits, v: np.ndarray) -> None:
    """first (11), k (4), then the Rice-coded zigzag deltas with the cheapest k (smallest on ties)."""
    z = zigzag_deltas(v)
    k = int(np.argmin(rice_costs(z)))
    w.put(int(v[0]), FIRST_BITS)
    w.put(k, K_BITS)
    w.put_bits(rice_bits(z, k))


def encode_segment(x: np.ndarray, level: int, latent_q: np.ndarray | None, latent_bits: int) -> tuple[bytes, int]:
    """The record of one segment (int adu, TC_MISSING allowed) at `level` (the device's choice; a
    flagged segment is sent at level 0 whatever it is). latent_q: the encoder's int8 code of that
    level (LATENT_LEN[level] values), needed for levels 1..3. Returns (bytes, nbits)."""
    _check_bits(latent_bits)
    if level not in (0, *LOSSY_LEVELS):
        raise ValueError(f"level must be 0..3, got {level}")
    v, miss = clamp_and_impute(x)
    flag = flags_of(x)
    if flag != FLAG_NONE:
        level = 0
    w = _Bits()
    w.put(level, LEVEL_BITS)
    w.put(flag, FLAG_BITS)
    if level:
        if latent_q is None:
            raise ValueError(f"level {level} needs the encoder's int8 latent")
        q = np.asarray(latent_q).ravel()
        if q.size != LATENT_LEN[level]:
            raise ValueError(f"level {level} has {LATENT_LEN[level]} latent values, got {q.size}")
        w.put(segment_mean(v), MEAN_BITS)
        w.put_array(latent_u(q.astype(np.int64), latent_bits), latent_bits)
    elif flag == FLAG_FLAT:
        w.put(int(v[0]), VALUE_BITS)
    else:
        if flag == FLAG_MISSING:
            w.put_bits(miss.astype(np.uint8))
        if not miss.all():
            _put_lossless_body(w, v)
    return w.to_bytes(), w.nbits


# ---------------------------------------------------------------- reading


class _Reader:
    """Fields off an MSB-first bit array, each read naming itself in errors."""

    def __init__(self, data: bytes, nbits: int) -> None:
        nbits = int(nbits)
        if nbits < 0 or nbits > 8 * len(data):
            raise BitstreamError(f"record: bit length {nbits} but only {len(data)} bytes "
                                 f"({8 * len(data)} bits) given")
        self.bits = np.unpackbits(np.frombuffer(bytes(data), np.uint8))[:nbits]
        self.n = nbits
        self.pos = 0

    def read(self, nbits: int, field: str) -> int:
        if self.pos + nbits > self.n:
            raise BitstreamError(f"{field}: truncated at bit {self.pos} (needs {nbits} bits, "
                                 f"{self.n - self.pos} left)")
        v = 0
        for b in self.bits[self.pos:self.pos + nbits]:
            v = (v << 1) | int(b)
        self.pos += nbits
        return v

    def read_array(self, count: int, nbits: int, field: str) -> np.ndarray:
        if self.pos + count * nbits > self.n:
            raise BitstreamError(f"{field}: truncated at bit {self.pos} (needs {count} x {nbits} bits, "
                                 f"{self.n - self.pos} left)")
        b = self.bits[self.pos:self.pos + count * nbits].reshape(count, nbits).astype(np.int64)
        self.pos += count * nbits
        return (b << np.arange(nbits - 1, -1, -1)).sum(1)

    def read_rice(self, count: int, k: int, field: str) -> np.ndarray:
        """count Rice codes with parameter k. A quotient longer than a 0..2047 signal can need is
        refused at the code where it starts."""
        start = self.pos
        tail = self.bits[start:]
        n = len(tail)
        # next_zero[i]: first zero at or after i (n when none), the end of a unary run
        idx = np.where(tail == 0, np.arange(n), n)
        next_zero = np.minimum.accumulate(idx[::-1])[::-1].tolist() + [n]
        if k:
            padded = np.concatenate([tail, np.zeros(k, np.uint8)]).astype(np.int64)
            windows = np.lib.stride_tricks.sliding_window_view(padded, k)[:n + 1]
            low = (windows << np.arange(k - 1, -1, -1)).sum(1).tolist()
        max_q = MAX_ZIGZAG >> k
        out = [0] * count
        p = 0
        for i in range(count):
            z = next_zero[p]
            if z >= n:
                raise BitstreamError(f"{field}: truncated at bit {start + p} (code {i} of {count}: "
                                     f"its unary quotient has no end)")
            q = z - p
            if q > max_q:
                raise BitstreamError(f"{field}: code {i} at bit {start + p} has quotient {q} > {max_q} "
                                     f"(no 11-bit signal has such a delta with k = {k})")
            p = z + 1
            if p + k > n:
                raise BitstreamError(f"{field}: truncated at bit {start + p} (code {i} of {count} needs "
                                     f"{k} low bits, {n - p} left)")
            out[i] = (q << k) | (low[p] if k else 0)
            p += k
        self.pos = start + p
        return np.asarray(out, np.int64)

    def done(self) -> None:
        if self.pos != self.n:
            raise BitstreamError(f"record: {self.n - self.pos} bits left over at bit {self.pos}")


@dataclass
class ParsedSegment:
    """A record's fields: lossless segments fully decoded, lossy ones up to the latent."""
    level: int
    flag: int
    values: np.ndarray | None     # level 0: the samples (imputed values where missing)
    missing: np.ndarray
    mean: int | None = None       # levels 1..3
    u: np.ndarray | None = None   # levels 1..3: the B-bit latent values


def _lossless_body(r: _Reader) -> np.ndarray:
    at = r.pos
    first = r.read(FIRST_BITS, "first")
    k = r.read(K_BITS, "k")
    at_d = r.pos
    z = r.read_rice(SEG_N - 1, k, "deltas")
    d = np.where(z & 1, -((z + 1) >> 1), z >> 1)
    v = np.concatenate([[first], first + np.cumsum(d)])
    bad = np.flatnonzero((v < 0) | (v > ADC_MAX))
    if bad.size:
        raise BitstreamError(f"deltas (from bit {at_d}, body at bit {at}): sample {int(bad[0])} decodes to "
                             f"{int(v[bad[0]])}, outside 0..{ADC_MAX}")
    return v.astype(np.int64)


def parse_segment(data: bytes, nbits: int, latent_bits: int) -> ParsedSegment:
    """Every field of one record; no model needed. Raises BitstreamError on malformed data."""
    _check_bits(latent_bits)
    r = _Reader(data, nbits)
    level = r.read(LEVEL_BITS, "level")
    flag = r.read(FLAG_BITS, "flag")
    none = np.zeros(SEG_N, bool)
    if level:
        if flag != FLAG_NONE:
            raise BitstreamError(f"flag: {flag} ({FLAG_NAMES[flag]}) at bit {LEVEL_BITS} with level {level}; "
                                 f"a flagged segment is always level 0")
        mean = r.read(MEAN_BITS, "mean")
        u = r.read_array(LATENT_LEN[level], latent_bits, "latent")
        r.done()
        return ParsedSegment(level, flag, None, none, mean, u)
    if flag == FLAG_FLAT:
        v = np.full(SEG_N, r.read(VALUE_BITS, "value"), np.int64)
        r.done()
        return ParsedSegment(0, flag, v, none)
    miss = none
    if flag == FLAG_MISSING:
        at = r.pos
        miss = r.read_array(SEG_N, 1, "mask").astype(bool)
        if not miss.any():
            raise BitstreamError(f"mask: flag 3 (missing) but the mask at bit {at} marks no sample")
        if miss.all():
            r.done()
            return ParsedSegment(0, flag, np.full(SEG_N, IMPUTE_ALL_MISSING, np.int64), miss)
    v = _lossless_body(r)
    r.done()
    return ParsedSegment(0, flag, v, miss)


def reconstruct(dm, level: int, mean, y: np.ndarray) -> np.ndarray:
    """x_hat = clip(round(m + 200 * s_o * (y - zp_o)), 0, 2047) in adu from the int8 decoder output y
    ((2048,) with a scalar mean, or (S, 2048) with S means); float64, round half to even."""
    o = dm.decoder_q[level]["output"]
    m = np.asarray(mean, np.float64)
    m = m[..., None] if m.ndim else float(m)
    x = np.round(m + 200.0 * o.scale * (np.asarray(y, np.float64) - o.zero_point))
    return np.clip(x, 0, ADC_MAX).astype(np.int64)


@functools.lru_cache(maxsize=8)
def _decoder_interpreter(tfl: bytes):
    from ...train.zoo.common import _interpreter
    return _interpreter(tfl)


def run_decoder(dm, level: int, q: np.ndarray) -> np.ndarray:
    """The int8 decoder of `level` (tf.lite reference kernels) on int8 latents (S, L): (S, 2048) int8.
    One inference at a time: the converted decoders have a fixed batch of 1."""
    ip = _decoder_interpreter(dm.decoder_tflite(level))
    d = ip.get_input_details()[0]
    o = ip.get_output_details()[0]
    q = np.asarray(q, np.int8).reshape(len(q), *d["shape"][1:])
    out = np.empty((len(q), SEG_N), np.int8)
    for i, qi in enumerate(q):
        ip.set_tensor(d["index"], qi[None])
        ip.invoke()
        out[i] = ip.get_tensor(o["index"]).reshape(SEG_N)
    return out


def decode_segments(dm, items: Iterable[tuple[bytes, int]], latent_bits: int) -> list[DecodedSegment]:
    """Decode many records (data, nbits); the lossy ones are grouped by level, so each level's
    decoder is loaded once."""
    parsed = [parse_segment(d, n, latent_bits) for d, n in items]
    out: list[DecodedSegment | None] = [None] * len(parsed)
    for i, p in enumerate(parsed):
        if p.level == 0:
            out[i] = DecodedSegment(p.values, p.missing, 0, p.flag, None)
    for level in LOSSY_LEVELS:
        idx = [i for i, p in enumerate(parsed) if p.level == level]
        if not idx:
            continue
        y = run_decoder(dm, level, np.stack([latent_q(parsed[i].u, latent_bits) for i in idx]))
        for i, yi in zip(idx, y):
            p = parsed[i]
            out[i] = DecodedSegment(reconstruct(dm, level, p.mean, yi), p.missing, level, 0, p.mean)
    return out  # type: ignore[return-value]


def decode_segment(dm, data: bytes, nbits: int, latent_bits: int) -> DecodedSegment:
    """One record back to adu samples (the host's decoder)."""
    return decode_segments(dm, [(data, nbits)], latent_bits)[0]

