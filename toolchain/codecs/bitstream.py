"""Bit-exact bit packing shared by every codec and mirrored by firmware_templates/tc_bits.h.

Bits are written MSB first into bytes; the last byte is zero-padded. A codec's size is
counted in bits (what a radio would send after framing), and `to_bytes()` gives the bytes
the device emits.
"""
from __future__ import annotations

import numpy as np


class BitstreamError(ValueError):
    """Raised when a bitstream is truncated or a value does not fit its field."""


class BitWriter:
    def __init__(self) -> None:
        self._bits: list[int] = []

    @property
    def nbits(self) -> int:
        return len(self._bits)

    def write(self, value: int, nbits: int) -> None:
        """Append `value` as an unsigned `nbits`-bit field, MSB first."""
        value = int(value)
        if nbits < 0 or value < 0 or (nbits < 64 and value >> nbits):
            raise BitstreamError(f"value {value} does not fit in {nbits} bits")
        for i in range(nbits - 1, -1, -1):
            self._bits.append((value >> i) & 1)

    def write_signed(self, value: int, nbits: int) -> None:
        """Two's complement field of `nbits` bits."""
        value = int(value)
        lo, hi = -(1 << (nbits - 1)), (1 << (nbits - 1)) - 1
        if not lo <= value <= hi:
            raise BitstreamError(f"value {value} outside signed {nbits}-bit range [{lo}, {hi}]")
        self.write(value & ((1 << nbits) - 1), nbits)

    def write_unary(self, q: int) -> None:
        """q one-bits then a zero (Rice's quotient)."""
        self._bits.extend([1] * int(q))
        self._bits.append(0)

    def write_rice(self, v: int, k: int) -> None:
        v = int(v)
        if v < 0:
            raise BitstreamError(f"Rice code needs v >= 0, got {v}")
        self.write_unary(v >> k)
        self.write(v & ((1 << k) - 1), k)

    def extend(self, other: "BitWriter") -> None:
        self._bits.extend(other._bits)

    def to_bytes(self) -> bytes:
        bits = self._bits + [0] * (-len(self._bits) % 8)
        if not bits:
            return b""
        return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


class BitReader:
    def __init__(self, data: bytes, nbits: int | None = None) -> None:
        self._bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8)).tolist()
        self._n = len(self._bits) if nbits is None else int(nbits)
        if self._n > len(self._bits):
            raise BitstreamError(f"bit length {self._n} exceeds the {len(data)} bytes given")
        self.pos = 0

    @property
    def remaining(self) -> int:
        return self._n - self.pos

    def read(self, nbits: int) -> int:
        if self.pos + nbits > self._n:
            raise BitstreamError(
                f"bitstream truncated: need {nbits} bits at bit {self.pos}, only {self.remaining} left")
        v = 0
        for b in self._bits[self.pos:self.pos + nbits]:
            v = (v << 1) | b
        self.pos += nbits
        return v

    def read_signed(self, nbits: int) -> int:
        v = self.read(nbits)
        return v - (1 << nbits) if v >> (nbits - 1) else v

    def read_unary(self, limit: int = 1 << 20) -> int:
        q = 0
        while self.read(1):
            q += 1
            if q > limit:
                raise BitstreamError(f"unary run longer than {limit} at bit {self.pos}")
        return q

    def read_rice(self, k: int) -> int:
        q = self.read_unary()
        return (q << k) | self.read(k)


def zigzag(v: np.ndarray | int):
    """Map signed to unsigned: 0,-1,1,-2,2 -> 0,1,2,3,4."""
    if isinstance(v, np.ndarray):
        v = v.astype(np.int64)
        return np.where(v >= 0, 2 * v, -2 * v - 1)
    return 2 * v if v >= 0 else -2 * v - 1


def unzigzag(u: np.ndarray | int):
    if isinstance(u, np.ndarray):
        u = u.astype(np.int64)
        return np.where(u & 1, -((u + 1) >> 1), u >> 1)
    return -((u + 1) >> 1) if u & 1 else u >> 1


def rice_cost(v: np.ndarray, k: int) -> int:
    """Bits of Rice-coding every value of `v` (>= 0) with parameter k."""
    v = np.asarray(v, dtype=np.int64)
    return int(np.sum((v >> k) + 1 + k))
