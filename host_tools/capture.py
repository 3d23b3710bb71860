"""A captured link byte stream (what a board sent, as LinkClient(capture=...) writes it), taken apart.

frame_spans: where each frame lies in the stream (for deciding which frames a fault touched);
frames_of / messages_of: the stream decoded to frames and to complete messages.
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.link.cobs import CobsError, cobs_decode
from toolchain.link.frames import Frame, FrameError, Message, Reassembler, StreamDecoder, frame_bytes, parse_frame


@dataclass(frozen=True)
class FrameSpan:
    lo: int  # offset of the delimiter before the frame (0 for the stream's first frame)
    hi: int  # offset of the frame's own 0x00 delimiter
    frame: Frame
    raw: bytes  # the raw frame (header + payload + CRC)


def frame_spans(stream: bytes) -> list[FrameSpan]:
    """Every valid frame of a clean stream with the byte range it depends on: its encoding, its own
    delimiter and the delimiter before it (losing that one merges it with its predecessor).
    Segments that are not valid frames (a partial frame at the start of a capture) are skipped."""
    out = []
    prev = 0
    pos = 0
    while True:
        z = stream.find(0, pos)
        if z < 0:
            break
        enc = stream[pos:z]
        if enc:
            try:
                f = parse_frame(cobs_decode(enc))
            except (CobsError, FrameError):
                f = None
            if f is not None:
                out.append(FrameSpan(prev, z, f, frame_bytes(f)))
        prev = z
        pos = z + 1
    return out


def frames_of(stream: bytes) -> tuple[list[Frame], StreamDecoder]:
    """The frames a StreamDecoder accepts from the stream, and the decoder (for its stats)."""
    sd = StreamDecoder()
    return sd.feed(stream), sd


def messages_of(stream: bytes) -> list[Message]:
    """The complete messages in a stream, in order of completion."""
    frames, _ = frames_of(stream)
    ra = Reassembler()
    return [m for f in frames if (m := ra.push(f)) is not None]
