"""Lossless codes for the image codec's integer latents (values 0..bins-1), and the loss-resilient
packets (issue 14). Every size is exact: the bits a receiver needs, headers included.

The receiver knows the codec configuration, so `bins` and the number of values `n` are never sent.

(a) Static canonical Huffman (huffman_encode / huffman_decode), as Starfish. Header, MSB first:

        lo      nb bits    smallest symbol present          nb = bits_for(bins) = ceil(log2 bins)
        span    nb bits    hi - lo (largest symbol present minus lo)
        w       5 bits     width of one code-length field (1..31)
        len[s]  w bits     code length of each symbol lo..hi; 0 = absent

    then the codes of the n values, zero-padded to a whole byte. Codes are canonical (RFC 1951
    sec. 3.2.2: by length, then by symbol), so the lengths are the whole table. A source with one
    distinct symbol gets the 1-bit code "0".

(b) Adaptive range coding with `constriction` (range_encode / range_decode): constriction's
    RangeEncoder (a queue: first in, first out) with a Categorical model per value whose
    probabilities are the counts so far plus a prior: p_i(s) ~ count_{<i}(s) + RANGE_PRIOR, so no
    table is sent: the model starts from the prior and adapts as it goes, and the decoder updates
    the same counts after each value. constriction's words (uint32) are written little-endian and
    trailing zero bytes dropped (the decoder reads missing words as zeros, so they carry nothing).
    Header: the payload's byte count as a LEB128 varint (1 byte below 128 B, 2 below 16 KiB).
    Without it a stream cut short is often the valid code of another latent (measured: 4 of 120
    cuts of 1-4 bytes decoded without complaint), so the length is what makes truncation an
    error; range_decode also re-encodes what it decoded and refuses the stream unless the bytes
    are identical (corruption). Size = 8 * (header + payload bytes).

(c) Fixed length (fixed_encode / fixed_decode): nb = ceil(log2 bins) bits per value, MSB first,
    zero-padded to a whole byte; no header. This is the loss-resilient variant's code: any subset
    of values decodes on its own.

Loss-resilient packets (LatentLayout, packetize, depacketize): the flat latent (C order) is
permuted with a seeded Fisher-Yates shuffle (xorshift32, below; a few lines of C on the device,
so both ends derive the same permutation from the seed), cut into packets of as many values as
fit the payload after toolchain.codecs.image.lora's 4-byte header (image id, index, count), each packet
fixed-length coded. A lost packet removes a scattered subset of the values; depacketize returns
the latent with a `missing` mask, which the decoder fills (codec_model.decoder_input).

    xorshift32 (Marsaglia 2003): x ^= x << 13; x ^= x >> 17; x ^= x << 5   (mod 2^32)
    state = seed mod 2^32 (0 -> 0x9E3779B9); perm = 0..n-1;
    for i = n-1 down to 1: j = xorshift32() mod (i + 1); swap perm[i], perm[j]
    packet k carries the values flat[perm[k*m]], ..., flat[perm[k*m + m - 1]]
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import lora

RANGE_PRIOR = 0.5          # KT-style prior count of every symbol in the adaptive model
LEN_FIELD_BITS = 5         # width of the Huffman header's code-length-width field
MAX_CODE_LEN = (1 << LEN_FIELD_BITS) - 1
_CHUNK = 4096              # values per constriction call while encoding (bounds the table's memory)


class EntropyError(ValueError):
    """A stream that does not decode: truncated, corrupted, or not made for these bins / n."""


def bits_for(bins: int) -> int:
    """ceil(log2(bins)): bits of one fixed-length value (1 for bins = 2)."""
    _check_bins(bins)
    return max(1, (bins - 1).bit_length())


def _check_bins(bins) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins {bins!r}: an integer >= 2 (the number of latent levels)")


def _symbols(q, bins: int, what: str) -> np.ndarray:
    """Flat int64 copy of q, checked to hold integers 0..bins-1."""
    _check_bins(bins)
    a = np.asarray(q)
    if a.dtype.kind not in "iub":
        raise ValueError(f"{what}: latent values must be integers 0..{bins - 1}, got dtype {a.dtype}")
    a = a.astype(np.int64).ravel()
    if a.size == 0:
        raise ValueError(f"{what}: no values to code")
    if a.min() < 0 or a.max() >= bins:
        raise ValueError(f"{what}: values span {a.min()}..{a.max()}, outside 0..{bins - 1} for bins={bins}")
    return a


def _check_n(n, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what}: n {n!r}: the number of values, an integer >= 1")
    return int(n)


# ------------------------------------------------------------------------------ bit I/O

class _BitWriter:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.bits = 0

    def put(self, value: int, width: int) -> None:
        if width:
            self.parts.append(format(value, f"0{width}b"))
            self.bits += width

    def put_str(self, s: str) -> None:
        self.parts.append(s)
        self.bits += len(s)

    def getvalue(self) -> bytes:
        s = "".join(self.parts)
        s += "0" * (-len(s) % 8)
        return int(s, 2).to_bytes(len(s) // 8, "big") if s else b""


class _BitReader:
    def __init__(self, data: bytes, what: str) -> None:
        self.bits = np.unpackbits(np.frombuffer(bytes(data), np.uint8))
        self.pos = 0
        self.what = what

    def get(self, width: int) -> int:
        if self.pos + width > len(self.bits):
            raise EntropyError(f"{self.what}: stream truncated: needs bit {self.pos + width} of "
                               f"{len(self.bits)} ({len(self.bits) // 8} bytes)")
        v = 0
        for b in self.bits[self.pos:self.pos + width]:
            v = (v << 1) | int(b)
        self.pos += width
        return v

    def check_padding(self) -> None:
        rest = self.bits[self.pos:]
        if len(rest) >= 8 or rest.any():
            raise EntropyError(f"{self.what}: {len(rest)} bits after the last value "
                               f"({'non-zero' if rest.any() else 'zero'}): not a stream of these n values")


# ------------------------------------------------------------------------------ (a) Huffman

def huffman_lengths(counts: Sequence[int]) -> np.ndarray:
    """Huffman code length per symbol (0 for count 0); a lone symbol gets length 1.
    Ties break on the smallest symbol, so both ends and every run agree."""
    counts = np.asarray(counts, dtype=np.int64)
    lengths = np.zeros(len(counts), np.int64)
    present = [int(s) for s in np.flatnonzero(counts)]
    if len(present) == 1:
        lengths[present[0]] = 1
        return lengths
    heap = [(int(counts[s]), s, (s,)) for s in present]
    heapq.heapify(heap)
    while len(heap) > 1:
        c1, k1, s1 = heapq.heappop(heap)
        c2, k2, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, min(k1, k2), s1 + s2))
    return lengths


def canonical_codes(lengths: Sequence[int]) -> dict[int, str]:
    """Symbol -> code bit string for canonical Huffman code lengths (RFC 1951 3.2.2)."""
    lengths = [int(v) for v in lengths]
    max_len = max(lengths, default=0)
    bl_count = [0] * (max_len + 1)   # bl_count[0] stays 0
    for v in lengths:
        if v:
            bl_count[v] += 1
    code, next_code = 0, [0] * (max_len + 2)
    for b in range(1, max_len + 1):
        code = (code + bl_count[b - 1]) << 1
        next_code[b] = code
    out = {}
    for s, v in enumerate(lengths):
        if v:
            out[s] = format(next_code[v], f"0{v}b")
            next_code[v] += 1
    return out


def _huffman_table(a: np.ndarray, bins: int) -> tuple[np.ndarray, int, int, int]:
    counts = np.bincount(a, minlength=bins)
    lengths = huffman_lengths(counts)
    present = np.flatnonzero(counts)
    lo, hi = int(present[0]), int(present[-1])
    max_len = int(lengths.max())
    if max_len > MAX_CODE_LEN:
        raise ValueError(f"huffman: a code of {max_len} bits does not fit the {LEN_FIELD_BITS}-bit header field")
    return lengths, lo, hi, max(1, max_len.bit_length())


@dataclass(frozen=True)
class SizeBits:
    """Exact size of one coded latent: header + payload bits; bytes after padding to a byte."""
    header: int
    payload: int

    @property
    def total(self) -> int:
        return self.header + self.payload

    @property
    def nbytes(self) -> int:
        return -(-self.total // 8)


def huffman_bits(q, bins: int) -> SizeBits:
    """Header and payload bits of huffman_encode(q, bins), without encoding."""
    a = _symbols(q, bins, "huffman")
    lengths, lo, hi, w = _huffman_table(a, bins)
    return SizeBits(2 * bits_for(bins) + LEN_FIELD_BITS + (hi - lo + 1) * w,
                    int(np.bincount(a, minlength=bins) @ lengths))


def huffman_encode(q, bins: int) -> bytes:
    """Static canonical Huffman code of the values q (any shape, read in C order) with its header."""
    a = _symbols(q, bins, "huffman")
    lengths, lo, hi, w = _huffman_table(a, bins)
    nb = bits_for(bins)
    bw = _BitWriter()
    bw.put(lo, nb)
    bw.put(hi - lo, nb)
    bw.put(w, LEN_FIELD_BITS)
    for s in range(lo, hi + 1):
        bw.put(int(lengths[s]), w)
    codes = canonical_codes(lengths)
    bw.put_str("".join(codes[int(s)] for s in a))
    return bw.getvalue()


def huffman_decode(data: bytes, bins: int, n: int) -> np.ndarray:
    """The n values (int64, flat) of a huffman_encode stream."""
    _check_bins(bins)
    n = _check_n(n, "huffman")
    r = _BitReader(data, "huffman")
    nb = bits_for(bins)
    lo = r.get(nb)
    hi = lo + r.get(nb)
    w = r.get(LEN_FIELD_BITS)
    if hi >= bins or w == 0:
        raise EntropyError(f"huffman: header says symbols {lo}..{hi}, length fields of {w} bits; "
                           f"not a stream for bins={bins} (corrupted)")
    lengths = [0] * bins
    for s in range(lo, hi + 1):
        lengths[s] = r.get(w)
    used = [v for v in lengths if v]
    if not used or sum(2.0 ** -v for v in used) > 1.0:
        raise EntropyError("huffman: the header's code lengths are not a prefix code (corrupted header)")
    decode = {(len(code), int(code, 2)): s for s, code in canonical_codes(lengths).items()}
    max_len = max(k for k, _ in decode)
    out = np.empty(n, np.int64)
    bits, pos, total = r.bits, r.pos, len(r.bits)
    for i in range(n):
        code = 0
        for k in range(1, max_len + 1):
            if pos >= total:
                raise EntropyError(f"huffman: stream truncated after {i} of {n} values "
                                   f"({len(data)} bytes)")
            code = (code << 1) | int(bits[pos])
            pos += 1
            s = decode.get((k, code))
            if s is not None:
                out[i] = s
                break
        else:
            raise EntropyError(f"huffman: value {i} is no code of the table (corrupted stream)")
    r.pos = pos
    r.check_padding()
    return out


# ------------------------------------------------------------------------------ (b) adaptive range coder

def _constriction():
    try:
        import constriction
    except ImportError as e:  # pragma: no cover - installed by make setup / the image extra
        raise ImportError("the adaptive range coder needs constriction: pip install 'tinycodec[image]' "
                          "(or pip install constriction==0.5.0)") from e
    return constriction


def _adaptive_tables(a: np.ndarray, bins: int, start: int, stop: int, counts0: np.ndarray) -> np.ndarray:
    """Rows start..stop-1 of the adaptive model: counts of a[:i] plus the prior, float32."""
    onehot = np.zeros((stop - start, bins), np.float64)
    onehot[np.arange(stop - start), a[start:stop]] = 1.0
    before = np.cumsum(onehot, axis=0) - onehot
    return (before + counts0 + RANGE_PRIOR).astype(np.float32)


def _range_words(a: np.ndarray, bins: int) -> np.ndarray:
    c = _constriction()
    fam = c.stream.model.Categorical(perfect=False)
    enc = c.stream.queue.RangeEncoder()
    counts = np.zeros(bins, np.float64)
    for b in range(0, len(a), _CHUNK):
        stop = min(len(a), b + _CHUNK)
        enc.encode(a[b:stop].astype(np.int32), fam, _adaptive_tables(a, bins, b, stop, counts))
        counts += np.bincount(a[b:stop], minlength=bins)
    return np.asarray(enc.get_compressed(), dtype=np.uint32)


def _leb128(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _read_leb128(data: bytes, what: str) -> tuple[int, int]:
    v = 0
    for i, b in enumerate(data[:8]):
        v |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return v, i + 1
    raise EntropyError(f"{what}: stream truncated or corrupted inside its length header")


def _range_payload(a: np.ndarray, bins: int) -> bytes:
    return _range_words(a, bins).astype("<u4").tobytes().rstrip(b"\0")


def range_encode(q, bins: int) -> bytes:
    """Adaptive range code of the values q (C order): LEB128 payload length, then the payload."""
    payload = _range_payload(_symbols(q, bins, "range"), bins)
    return _leb128(len(payload)) + payload


def range_bits(q, bins: int) -> SizeBits:
    """Exact size of range_encode(q, bins) (it has to encode to know)."""
    payload = _range_payload(_symbols(q, bins, "range"), bins)
    return SizeBits(8 * len(_leb128(len(payload))), 8 * len(payload))


def range_decode(data: bytes, bins: int, n: int) -> np.ndarray:
    """The n values (int64, flat) of a range_encode stream; EntropyError when it is cut short or
    does not re-encode to the same bytes."""
    _check_bins(bins)
    n = _check_n(n, "range")
    data = bytes(data)
    length, h = _read_leb128(data, "range")
    payload = data[h:]
    if len(payload) != length:
        raise EntropyError(f"range: header says {length} payload bytes, the stream has {len(payload)}"
                           f"{' (truncated)' if len(payload) < length else ' (trailing data)'}")
    if payload.endswith(b"\0"):
        raise EntropyError("range: a payload never ends in a zero byte (they are dropped); corrupted")
    c = _constriction()
    fam = c.stream.model.Categorical(perfect=False)
    padded = payload + b"\0" * (-len(payload) % 4)
    dec = c.stream.queue.RangeDecoder(np.frombuffer(padded, "<u4").astype(np.uint32))
    counts = np.full((1, bins), RANGE_PRIOR, np.float64)
    out = np.empty(n, np.int64)
    for i in range(n):
        s = int(dec.decode(fam, counts.astype(np.float32))[0])
        out[i] = s
        counts[0, s] += 1.0
    if _range_payload(out, bins) != payload:
        raise EntropyError(f"range: the {len(payload)}-byte payload is not the code of {n} values for "
                           f"bins={bins} (corrupted)")
    return out


def adaptive_ideal_bits(q, bins: int) -> float:
    """Information content of q under the adaptive model (what an ideal coder would spend)."""
    a = _symbols(q, bins, "range")
    counts = np.zeros(bins)
    total = 0.0
    for b in range(0, len(a), _CHUNK):
        stop = min(len(a), b + _CHUNK)
        t = _adaptive_tables(a, bins, b, stop, counts).astype(np.float64)
        total -= float(np.log2(t[np.arange(stop - b), a[b:stop]] / t.sum(1)).sum())
        counts += np.bincount(a[b:stop], minlength=bins)
    return total


# ------------------------------------------------------------------------------ (c) fixed length

def fixed_bits(q, bins: int) -> SizeBits:
    return SizeBits(0, _symbols(q, bins, "fixed").size * bits_for(bins))


def fixed_encode(q, bins: int) -> bytes:
    """bits_for(bins) bits per value, MSB first, zero-padded to a byte."""
    a = _symbols(q, bins, "fixed")
    nb = bits_for(bins)
    bits = ((a[:, None] >> np.arange(nb - 1, -1, -1)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits).tobytes()


def fixed_decode(data: bytes, bins: int, n: int) -> np.ndarray:
    _check_bins(bins)
    n = _check_n(n, "fixed")
    nb = bits_for(bins)
    want = -(-n * nb // 8)
    if len(data) != want:
        raise EntropyError(f"fixed: {n} values of {nb} bits are {want} bytes, the stream has {len(data)}"
                           f"{' (truncated)' if len(data) < want else ''}")
    bits = np.unpackbits(np.frombuffer(bytes(data), np.uint8))
    if bits[n * nb:].any():
        raise EntropyError("fixed: non-zero padding bits after the last value (corrupted)")
    v = bits[:n * nb].reshape(n, nb).astype(np.int64) @ (1 << np.arange(nb - 1, -1, -1))
    if v.max() >= bins:
        raise EntropyError(f"fixed: value {int(v.max())} is not a level of bins={bins} (corrupted)")
    return v


def sizes(q, bins: int) -> dict[str, SizeBits]:
    """Exact sizes of the three codes of one latent."""
    return {"huffman": huffman_bits(q, bins), "range": range_bits(q, bins), "fixed": fixed_bits(q, bins)}


# ------------------------------------------------------------------------------ loss-resilient packets

def shuffle_permutation(n: int, seed: int) -> np.ndarray:
    """The seeded Fisher-Yates permutation of 0..n-1 (xorshift32; module docstring)."""
    n = _check_n(n, "shuffle")
    x = int(seed) & 0xFFFFFFFF or 0x9E3779B9
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        j = x % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return np.asarray(perm, np.int64)


@dataclass(frozen=True)
class LatentLayout:
    """What both ends agree on for the packets of one image's latent."""
    shape: tuple[int, ...]      # the integer latent's shape (codec_model.latent_shape)
    bins: int
    payload_bytes: int          # LoRa application payload per packet, lora.HEADER included
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        _check_bins(self.bins)
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"latent shape {self.shape}: every side >= 1")
        if self.per_packet < 1:
            raise lora.PacketError(f"payload {self.payload_bytes} B holds no {bits_for(self.bins)}-bit value "
                                   f"after the {lora.HEADER}-byte header")
        if self.count > lora.MAX_PACKETS:
            raise lora.PacketError(f"{self.n} values need {self.count} packets of {self.payload_bytes} B, "
                                   f"over the {lora.MAX_PACKETS} the header's u8 count allows")

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @property
    def per_packet(self) -> int:
        """Values in a full packet."""
        return (self.payload_bytes - lora.HEADER) * 8 // bits_for(self.bins)

    @property
    def count(self) -> int:
        return -(-self.n // self.per_packet)

    def permutation(self) -> np.ndarray:
        return shuffle_permutation(self.n, self.seed)

    def packet_values(self, k: int) -> np.ndarray:
        """Flat latent positions carried by packet k."""
        return self.permutation()[k * self.per_packet:(k + 1) * self.per_packet]


def packetize(q, layout: LatentLayout, image_id: int = 0) -> list[bytes]:
    """The latent q (layout.shape) as shuffled, fixed-length coded packets with lora's header."""
    a = np.asarray(q)
    if a.shape != layout.shape:
        raise ValueError(f"packetize: latent of shape {a.shape}, the layout is for {layout.shape}")
    flat = _symbols(a, layout.bins, "packetize")[layout.permutation()]
    m = layout.per_packet
    return [lora.packet_header(image_id, k, layout.count) + fixed_encode(flat[k * m:(k + 1) * m], layout.bins)
            for k in range(layout.count)]


@dataclass
class ReceivedLatent:
    latent: np.ndarray      # int64, layout.shape; 0 where missing
    missing: np.ndarray     # bool, layout.shape
    packets_lost: list[int]

    @property
    def missing_rate(self) -> float:
        return float(self.missing.mean())


def depacketize_received(packets: Sequence[bytes], layout: LatentLayout,
                         image_id: int | None = None) -> ReceivedLatent:
    """The latent from the packets that arrived (any order, duplicates allowed), with its
    missing mask. No packet at all gives an all-missing latent (the decoder still draws one)."""
    perm = layout.permutation()
    flat = np.zeros(layout.n, np.int64)
    have = np.zeros(layout.n, bool)
    got = set()
    m = layout.per_packet
    for p in packets:
        pid, k, count, data = lora.parse_header(p)
        if count != layout.count:
            raise lora.PacketError(f"packet {k} says {count} packets, the layout has {layout.count}")
        if image_id is not None and pid != image_id:
            raise lora.PacketError(f"packet {k} belongs to image {pid}, not {image_id}")
        pos = perm[k * m:(k + 1) * m]
        vals = fixed_decode(data, layout.bins, len(pos))
        if k in got and not np.array_equal(flat[pos], vals):
            raise lora.PacketError(f"two different packets with index {k}")
        flat[pos] = vals
        have[pos] = True
        got.add(k)
    lost = [k for k in range(layout.count) if k not in got]
    return ReceivedLatent(flat.reshape(layout.shape), ~have.reshape(layout.shape), lost)


def depacketize(packets: Sequence[bytes | None], received: Sequence[bool] | np.ndarray,
                layout: LatentLayout) -> ReceivedLatent:
    """A simulated link: all packets as sent, and a mask of those that arrived."""
    received = np.asarray(received, bool)
    if received.shape != (len(packets),):
        raise ValueError(f"depacketize: {len(packets)} packets but a received mask of shape {received.shape}")
    return depacketize_received([p for p, r in zip(packets, received) if r], layout)
