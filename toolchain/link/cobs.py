"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999): a frame without 0x00 bytes.

The link sends COBS(frame) followed by one 0x00 delimiter, so a receiver that lost
bytes recovers at the next 0x00. Encoding is canonical and byte-identical to
tc_cobs_encode in firmware_templates/link/tc_frame.c: a 254-byte run that ends the
input is not followed by an empty block (``FF d1..d254``, not ``FF d1..d254 01``).
"""
from __future__ import annotations


class CobsError(ValueError):
    """The input is not a COBS encoding; the message says what and at which offset."""


def cobs_max_len(n: int) -> int:
    """Upper bound on len(cobs_encode(x)) for len(x) == n (TC_COBS_MAX in C)."""
    return n + n // 254 + 1


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no trailing delimiter). The result holds no 0x00 byte."""
    out = bytearray()
    segments = bytes(data).split(b"\x00")
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        full_block_ended_input = False
        while len(seg) >= 254:
            out.append(0xFF)
            out += seg[:254]
            seg = seg[254:]
            full_block_ended_input = i == last and not seg
        if not full_block_ended_input:
            out.append(len(seg) + 1)
            out += seg
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block sequence (without its delimiter). Raises CobsError."""
    data = bytes(data)
    if not data:
        raise CobsError("COBS: empty input (an encoding is at least 1 byte; b'' encodes as 01)")
    zero = data.find(0)
    if zero >= 0:
        raise CobsError(f"COBS: 0x00 at offset {zero} of {len(data)} (a delimiter inside an encoding)")
    out = bytearray()
    pos, n = 0, len(data)
    while pos < n:
        code = data[pos]
        end = pos + code
        if end > n:
            raise CobsError(f"COBS: block at offset {pos} (code 0x{code:02X}) needs {code - 1} bytes, "
                            f"only {n - pos - 1} left of {n}")
        out += data[pos + 1:end]
        pos = end
        if code != 0xFF and pos < n:
            out.append(0)
    return bytes(out)


def streamed_len(data: bytes, limit: int) -> tuple[int, bool]:
    """What a byte-at-a-time decoder (tc_frame_parser_feed) has produced from ``data``.

    Returns (bytes produced, True if the last block is complete). A block's implied
    0x00 is produced when the next code byte arrives, as the C parser does, so the
    count matches the parser's buffer fill and hence its TOO_LONG decision. Stops
    counting once the count exceeds ``limit`` (bounded work on garbage); the flag
    is then meaningless.
    """
    pos, n, produced, prev = 0, len(data), 0, 0
    while pos < n and produced <= limit:
        code = data[pos]
        if code == 0:
            raise CobsError(f"COBS: 0x00 at offset {pos} of {len(data)} (a delimiter inside an encoding)")
        if pos and prev != 0xFF:
            produced += 1
        take = min(code - 1, n - pos - 1)
        produced += take
        pos += 1 + take
        prev = code
        if take < code - 1:
            return produced, False
    return produced, True
