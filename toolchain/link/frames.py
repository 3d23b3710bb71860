"""Frames of the device <-> host link: layout, CRC, stream framing, fragmentation, reassembly.

Contract (docs/protocol.md; firmware twin firmware_templates/link/tc_frame.[ch], byte-identical):

    raw frame = type u8 | flags u8 | seq u16 LE | frag_index u8 | frag_count u8 | payload | CRC-16 LE

CRC-16/CCITT-FALSE over header + payload. Byte streams (serial, pty, files) carry
COBS(raw) + 0x00 per frame; packet links (LoRa) carry one raw frame per packet.
Payloads are opaque here; MsgType only names the type byte.
"""
from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import IntEnum

from .cobs import CobsError, cobs_decode, cobs_encode, streamed_len
from .crc import crc16_ccitt_false

HEADER_LEN = 6
CRC_LEN = 2
FRAME_OVERHEAD = HEADER_LEN + CRC_LEN
FRAME_MAX = 264  # TC_FRAME_MAX's default: the largest raw frame a device parses (256 payload + 8)
RAW_MAX = 0xFFFF  # lengths are uint16_t on the device
MAX_FRAGMENTS = 255

FLAG_MORE = 0x01  # more fragments of this message follow
FLAG_ACK = 0x02  # the sender asks for an ACK
FLAGS_DEFINED = FLAG_MORE | FLAG_ACK

# Link MTUs bound a whole raw frame (header + payload + CRC). EU868-style LoRaWAN
# application payload limits per data rate; a serial byte stream has none.
MTU_LORAWAN: dict[str, int] = {"DR0": 51, "DR3": 115, "DR5": 242}
MTU_SERIAL: int | None = None


class MsgType(IntEnum):
    IDENTIFY = 1  # board, firmware hash, model hash
    CONFIG = 2
    SAMPLES = 3  # sensor samples in, for replaying recordings into a board
    REPORT = 4  # compressed windows / reports out
    BENCH = 5  # benchmark result
    LOG = 6
    ERROR = 7
    ACK = 8
    COMMAND = 9


class FrameError(ValueError):
    """A frame that cannot be built or parsed.

    ``kind`` is one of "short", "crc", "fields", "cobs", "too_long", "length" so a
    decoder can count rejections by cause without parsing the message.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _field_problem(type_: object, flags: object, seq: object, frag_index: object, frag_count: object) -> str | None:
    """What is wrong with these header fields, or None. Same rules as the C parser."""
    for name, v, hi in (("type", type_, 0xFF), ("flags", flags, 0xFF), ("seq", seq, 0xFFFF),
                        ("frag_index", frag_index, 0xFF), ("frag_count", frag_count, 0xFF)):
        if not isinstance(v, int) or not 0 <= v <= hi:
            return f"{name} {v!r} is not an integer in 0..{hi}"
    assert isinstance(flags, int) and isinstance(frag_index, int) and isinstance(frag_count, int)
    if flags & ~FLAGS_DEFINED:
        return (f"flags 0x{flags:02X} set reserved bits 0x{flags & ~FLAGS_DEFINED:02X} "
                "(only bit0 more-fragments and bit1 ack-requested are defined)")
    if frag_count == 0:
        return "frag_count 0 (an unfragmented message has frag_count 1)"
    if frag_index >= frag_count:
        return f"frag_index {frag_index} >= frag_count {frag_count}"
    more = frag_index + 1 < frag_count
    if bool(flags & FLAG_MORE) != more:
        return (f"more-fragments flag {'set' if not more else 'clear'} on fragment {frag_index} of {frag_count} "
                "(it is set on every fragment but the last)")
    return None


@dataclass(frozen=True)
class Frame:
    """One frame. Construction validates the fields (FrameError names the bad one)."""

    type: int
    seq: int
    payload: bytes
    flags: int = 0
    frag_index: int = 0
    frag_count: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.payload, (bytearray, memoryview)):
            object.__setattr__(self, "payload", bytes(self.payload))
        elif not isinstance(self.payload, bytes):
            raise FrameError("fields", f"Frame seq={self.seq!r}: payload must be bytes, not {type(self.payload).__name__}")
        problem = _field_problem(self.type, self.flags, self.seq, self.frag_index, self.frag_count)
        if problem:
            raise FrameError("fields", f"Frame seq={self.seq!r}: {problem}")
        if FRAME_OVERHEAD + len(self.payload) > RAW_MAX:
            raise FrameError("length", f"Frame seq={self.seq}: {len(self.payload)}-byte payload; a raw frame "
                                       f"is at most {RAW_MAX} bytes (lengths are 16-bit on the device)")


def frame_bytes(f: Frame) -> bytes:
    """The raw frame: header + payload + CRC-16 (little-endian)."""
    body = bytes((f.type, f.flags, f.seq & 0xFF, f.seq >> 8, f.frag_index, f.frag_count)) + f.payload
    return body + crc16_ccitt_false(body).to_bytes(2, "little")


def parse_frame(raw: bytes) -> Frame:
    """Parse one raw frame (a packet, or a COBS-decoded stream frame). Raises FrameError."""
    raw = bytes(raw)
    if len(raw) < FRAME_OVERHEAD:
        raise FrameError("short", f"frame too short: {len(raw)} bytes; a frame is at least {FRAME_OVERHEAD} "
                                  f"({HEADER_LEN}-byte header + {CRC_LEN}-byte CRC)")
    if len(raw) > RAW_MAX:
        raise FrameError("length", f"frame of {len(raw)} bytes; at most {RAW_MAX}")
    carried = int.from_bytes(raw[-2:], "little")
    computed = crc16_ccitt_false(raw[:-2])
    if carried != computed:
        raise FrameError("crc", f"CRC mismatch on a {len(raw)}-byte frame: it carries 0x{carried:04X}, "
                                f"header + payload give 0x{computed:04X}")
    type_, flags, seq_lo, seq_hi, frag_index, frag_count = raw[:HEADER_LEN]
    seq = seq_lo | seq_hi << 8
    problem = _field_problem(type_, flags, seq, frag_index, frag_count)
    if problem:
        raise FrameError("fields", f"frame seq {seq} (type {type_}): bad header fields: {problem}")
    return Frame(type_, seq, raw[HEADER_LEN:-CRC_LEN], flags, frag_index, frag_count)


def encode_stream_frame(f: Frame) -> bytes:
    """The frame as sent on a byte stream: COBS(raw) + 0x00."""
    return cobs_encode(frame_bytes(f)) + b"\x00"


def fragment(msg_type: int, seq: int, payload: bytes, mtu: int | None, flags: int = 0) -> list[Frame]:
    """Split one message into frames whose raw size is at most ``mtu`` (None: one frame).

    Fragments are filled greedily (all full but the last) and share ``seq``. ``flags``
    may only hold FLAG_ACK, copied to every fragment (the more-fragments bit is set
    here). Note a device parses frames of at most TC_FRAME_MAX raw bytes: to send
    to one on a serial link pass mtu=FRAME_MAX (or its build's TC_FRAME_MAX).
    """
    if flags & ~FLAG_ACK:
        raise ValueError(f"fragment: flags 0x{flags:02X}: only FLAG_ACK (0x02) may be passed; "
                         "the more-fragments bit is set by fragment itself")
    payload = bytes(payload)
    if mtu is None:
        return [Frame(msg_type, seq, payload, flags, 0, 1)]
    if mtu <= FRAME_OVERHEAD:
        raise ValueError(f"fragment: MTU {mtu} leaves no room for payload (a frame's overhead is {FRAME_OVERHEAD} bytes)")
    room = mtu - FRAME_OVERHEAD
    n = max(1, -(-len(payload) // room))
    if n > MAX_FRAGMENTS:
        raise ValueError(f"fragment: a {len(payload)}-byte message needs {n} fragments of {room} bytes at MTU {mtu}; "
                         f"at most {MAX_FRAGMENTS} ({MAX_FRAGMENTS * room} bytes per message)")
    return [Frame(msg_type, seq, payload[i * room:(i + 1) * room], flags | (FLAG_MORE if i + 1 < n else 0), i, n)
            for i in range(n)]


# ---------------------------------------------------------------------------
# byte stream -> frames


@dataclass
class LinkStats:
    """Counters of a StreamDecoder. At any time:

    bytes_in == bytes_ok + bytes_discarded + StreamDecoder.pending
    resyncs == crc_errors + cobs_errors + too_long + short_frames + bad_fields
    """

    bytes_in: int = 0
    frames_ok: int = 0
    bytes_ok: int = 0  # bytes of accepted frames, their delimiter included
    crc_errors: int = 0
    cobs_errors: int = 0  # a block cut short by a delimiter
    too_long: int = 0  # more than max_frame raw bytes before a delimiter
    short_frames: int = 0  # under 8 raw bytes
    bad_fields: int = 0  # CRC fine, header fields inconsistent
    resyncs: int = 0  # rejected frames: each needed the next delimiter to recover
    bytes_discarded: int = 0  # bytes in no accepted frame (rejected frames with their delimiter, idle delimiters)

    @property
    def rejected(self) -> int:
        return self.crc_errors + self.cobs_errors + self.too_long + self.short_frames + self.bad_fields


_STAT_OF_KIND = {"crc": "crc_errors", "cobs": "cobs_errors", "too_long": "too_long",
                 "short": "short_frames", "fields": "bad_fields"}


class StreamDecoder:
    """COBS byte stream -> frames. Never raises on bad bytes; counts them in ``stats``.

    Makes the same decisions as tc_frame_parser_feed with TC_FRAME_MAX == max_frame
    (same frames accepted, same rejections by cause). Memory is bounded by max_frame:
    once a frame would exceed it, bytes are dropped up to the next 0x00.
    """

    def __init__(self, max_frame: int = FRAME_MAX):
        if not FRAME_OVERHEAD <= max_frame <= RAW_MAX:
            raise ValueError(f"StreamDecoder: max_frame {max_frame} is not in {FRAME_OVERHEAD}..{RAW_MAX}")
        self.max_frame = max_frame
        self.stats = LinkStats()
        self.last_error: str | None = None  # why the latest frame was rejected, for logs
        self._buf = bytearray()
        self._discarding = False

    @property
    def pending(self) -> int:
        """Bytes held for a frame whose delimiter has not arrived yet."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        data = bytes(data)
        st = self.stats
        st.bytes_in += len(data)
        out: list[Frame] = []
        pos, n = 0, len(data)
        while pos < n:
            z = data.find(0, pos)
            end = n if z < 0 else z
            if self._discarding:
                st.bytes_discarded += end - pos + (z >= 0)
                self._discarding = z < 0
            else:
                self._buf += data[pos:end]
                if z < 0:
                    self._check_overflow()
                else:
                    self._end_frame(out)
            if z < 0:
                break
            pos = z + 1
        return out

    def _reject(self, kind: str, why: str, nbytes: int) -> None:
        st = self.stats
        setattr(st, _STAT_OF_KIND[kind], getattr(st, _STAT_OF_KIND[kind]) + 1)
        st.resyncs += 1
        st.bytes_discarded += nbytes
        self.last_error = why
        self._buf.clear()

    def _overflows(self, enc: bytes | bytearray) -> bool:
        # A COBS encoding is longer than what it decodes to, so only long ones need a look.
        return len(enc) > self.max_frame + 1 and streamed_len(enc, self.max_frame)[0] > self.max_frame

    def _check_overflow(self) -> None:
        if self._overflows(self._buf):
            self._reject("too_long", f"frame longer than {self.max_frame} bytes before a delimiter", len(self._buf))
            self._discarding = True

    def _end_frame(self, out: list[Frame]) -> None:
        enc = bytes(self._buf)
        self._buf.clear()
        size = len(enc) + 1
        if not enc:
            self.stats.bytes_discarded += 1  # idle delimiter (e.g. a sender flushing the line)
            return
        if self._overflows(enc):
            self._reject("too_long", f"frame longer than {self.max_frame} bytes before a delimiter", size)
            return
        try:
            f = parse_frame(cobs_decode(enc))
        except CobsError as e:
            self._reject("cobs", str(e), size)
            return
        except FrameError as e:
            self._reject(e.kind, str(e), size)
            return
        self.stats.frames_ok += 1
        self.stats.bytes_ok += size
        out.append(f)


# ---------------------------------------------------------------------------
# frames -> messages


@dataclass(frozen=True)
class Message:
    type: int
    seq: int
    payload: bytes
    fragments: int  # frames it came in
    ack_requested: bool = False


@dataclass(frozen=True)
class LostMessage:
    seq: int
    fragments: int  # fragments that arrived (0: a gap in seq, nothing arrived)
    frag_count: int | None  # fragments it had; None when none arrived


@dataclass
class ReassemblyStats:
    """Counters of a Reassembler. At any time:

    frames_in == fragments_used + fragments_abandoned + duplicates + late + conflicts + Reassembler.pending_fragments
    lost == len(Reassembler.lost); incomplete <= lost
    """

    frames_in: int = 0
    messages_ok: int = 0
    fragments_used: int = 0  # frames that went into delivered messages
    duplicates: int = 0  # frames already held, or of a delivered message with the same content
    late: int = 0  # frames of a message already declared lost
    conflicts: int = 0  # frames contradicting what is held for their seq (type, frag_count, content)
    lost: int = 0  # messages declared lost
    incomplete: int = 0  # of those, messages of which some fragments arrived
    fragments_abandoned: int = 0  # frames held by messages declared lost
    restarts: int = 0  # the sender's seq went back (restart): bookkeeping started over
    seq_jumps: int = 0  # seq went forward by more than max_gap: not listed as lost


@dataclass
class _Partial:
    type: int
    frag_count: int
    frags: dict[int, bytes] = field(default_factory=dict)
    ack: bool = False


def _after(a: int, b: int) -> bool:
    """a comes after b in 16-bit serial number arithmetic (RFC 1982)."""
    return 0 < (a - b) & 0xFFFF < 0x8000


def _sig(payload: bytes) -> tuple[int, int]:
    return len(payload), zlib.crc32(payload)


class Reassembler:
    """Frames of one sender -> complete messages, in seq order of completion.

    Fragments of a message may arrive in any order and more than once. A message is
    declared lost (``lost``) when a later seq completes first: with its fragment
    count if some arrived, with 0 if none did (a gap in seq). Frames of a seq at or
    behind the last completed one are duplicates when they match what was delivered,
    late when that seq was declared lost, and otherwise mean the sender restarted
    its numbering (bookkeeping starts over). A board that restarts and resends
    a message identical to one still in the window (e.g. IDENTIFY with seq 0 soon
    after its previous boot) is taken as a duplicate: call reset() on a known restart.

    window: completed seqs remembered for duplicate detection. max_gap: a forward
    jump longer than this is a resync (seq_jumps), not that many lost messages.
    max_pending: incomplete messages held at once; beyond it the oldest is lost.
    """

    def __init__(self, window: int = 256, max_gap: int = 1024, max_pending: int = 16):
        if not (1 <= window < 0x8000 and 1 <= max_gap < 0x8000 and max_pending >= 1):
            raise ValueError(f"Reassembler: window {window}, max_gap {max_gap} must be in 1..32767, "
                             f"max_pending {max_pending} at least 1")
        self.window, self.max_gap, self.max_pending = window, max_gap, max_pending
        self.stats = ReassemblyStats()
        self.lost: list[LostMessage] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self._partials: dict[int, _Partial] = {}
        self._last: int | None = None
        # seq -> (type, frag_count, per-fragment signature) of a delivered message, None if lost
        self._recent: OrderedDict[int, tuple[int, int, tuple[tuple[int, int], ...]] | None] = OrderedDict()
        self._given_up: OrderedDict[int, None] = OrderedDict()  # declared lost while still ahead of _last

    @property
    def pending(self) -> int:
        """Messages with some fragments held."""
        return len(self._partials)

    @property
    def pending_fragments(self) -> int:
        return sum(len(p.frags) for p in self._partials.values())

    def reset(self) -> list[LostMessage]:
        """Forget the sender's numbering (it restarted); what was pending is lost."""
        return self._start_over()

    def flush(self) -> list[LostMessage]:
        """End of stream: every pending message is lost. Returns them."""
        n = len(self.lost)
        for s in list(self._partials):
            self._abandon(s)
        return self.lost[n:]

    def push(self, f: Frame) -> Message | None:
        st = self.stats
        st.frames_in += 1
        if f.seq in self._given_up:
            st.late += 1
            return None
        if self._last is not None and f.seq not in self._partials and not _after(f.seq, self._last):
            rec = self._recent.get(f.seq, ())
            if rec is None:
                st.late += 1
                return None
            if rec and rec[0] == f.type and rec[1] == f.frag_count and rec[2][f.frag_index] == _sig(f.payload):
                st.duplicates += 1
                return None
            # Behind the window, or different content under a delivered seq: the sender restarted.
            self._start_over()
            st.restarts += 1
        p = self._partials.get(f.seq)
        if p is None:
            p = self._partials[f.seq] = _Partial(f.type, f.frag_count)
            if len(self._partials) > self.max_pending:
                self._abandon(next(iter(self._partials)))
        elif p.type != f.type or p.frag_count != f.frag_count:
            st.conflicts += 1
            return None
        held = p.frags.get(f.frag_index)
        if held is not None:
            if held == f.payload:
                st.duplicates += 1
            else:
                st.conflicts += 1
            return None
        p.frags[f.frag_index] = f.payload
        p.ack |= bool(f.flags & FLAG_ACK)
        if len(p.frags) < p.frag_count:
            return None
        return self._complete(f.seq)

    def _start_over(self) -> list[LostMessage]:
        n = len(self.lost)
        for s in list(self._partials):
            self._abandon(s)
        self._reset_state()
        return self.lost[n:]

    def _declare_lost(self, m: LostMessage) -> None:
        self.lost.append(m)
        self.stats.lost += 1
        if self._last is None or _after(m.seq, self._last):
            self._given_up[m.seq] = None
            while len(self._given_up) > 4 * self.max_pending:  # bound memory on garbage
                self._given_up.popitem(last=False)
        else:
            self._recent[m.seq] = None

    def _abandon(self, s: int) -> None:
        p = self._partials.pop(s)
        self.stats.incomplete += 1
        self.stats.fragments_abandoned += len(p.frags)
        self._declare_lost(LostMessage(s, len(p.frags), p.frag_count))

    def _complete(self, seq: int) -> Message:
        st = self.stats
        p = self._partials.pop(seq)
        frags = [p.frags[i] for i in range(p.frag_count)]
        prev, self._last = self._last, seq  # set first: what is declared lost below is behind it
        gap = None if prev is None else ((seq - prev) & 0xFFFF) - 1
        if gap is not None and gap <= self.max_gap:
            for k in range(1, gap + 1):
                s = (prev + k) & 0xFFFF
                if s in self._partials:
                    self._abandon(s)
                elif s in self._given_up:
                    del self._given_up[s]
                    self._recent[s] = None
                else:
                    self._declare_lost(LostMessage(s, 0, None))
        else:
            if gap is not None:
                st.seq_jumps += 1
                self._recent.clear()
            for s in sorted((s for s in self._partials if _after(seq, s)), key=lambda s: (s - seq) & 0xFFFF):
                self._abandon(s)
        for s in [s for s in self._given_up if not _after(s, seq)]:
            del self._given_up[s]
            self._recent[s] = None
        self._recent[seq] = (p.type, p.frag_count, tuple(_sig(x) for x in frags))
        self._recent.move_to_end(seq)
        while self._recent:
            s = next(iter(self._recent))
            if ((seq - s) & 0xFFFF) <= self.window and len(self._recent) <= 2 * self.window:
                break
            del self._recent[s]
        st.messages_ok += 1
        st.fragments_used += p.frag_count
        return Message(p.type, seq, b"".join(frags), p.frag_count, p.ack)
