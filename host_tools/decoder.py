"""Host decoder: a board's link stream -> reports -> windows -> the signal, with link statistics.

Input is a byte stream (serial port, pty, capture file: COBS frames) or raw frames (LoRa
uplinks). Nothing here raises on bad bytes: corrupt frames are dropped and counted,
every valid frame is kept, and what was lost is listed by message sequence number and by
window number.

Two codecs: the error-bounded AE codec (a FixedModel: ae_codec.decode with the session's eps)
and the ECG dynamic codec (a DynamicModel: ecg_dynamic.bitstream.decode_segment at the session's
latent_bits), whose windows also carry their level and flag. load_codec_model() resolves the
name a board sends in IDENTIFY to either.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolchain.codecs import ae_codec
from toolchain.link.frames import Frame, FrameError, MsgType, Reassembler, StreamDecoder, parse_frame
from toolchain.link.reports import ReportError, SessionDef, decode_payload, decode_session

TYPE_WINDOW = 1
CONFIG_CODEC = 0x01
CONFIG_SESSION = 0xC1


@dataclass
class CodecSession:
    eps: int
    latent_bits: int
    mean_shift: int
    per_report: int
    mode: int
    max_batch: int
    max_age_ms: int
    generation: int | None = None  # set by the board's echo; every window names the one it used

    @classmethod
    def parse(cls, p: bytes) -> "CodecSession":
        if len(p) not in (13, 14) or p[0] != CONFIG_CODEC:
            raise ValueError(f"codec CONFIG of {len(p)} B (expected 13, or 14 from the board, starting 0x01)")
        eps, B, t, k, mode, mb, age = struct.unpack("<HBBBBHI", p[1:13])
        return cls(eps, B, t, k, mode, mb, age, p[13] if len(p) == 14 else None)

    def pack(self) -> bytes:
        return bytes([CONFIG_CODEC]) + struct.pack("<HBBBBHI", self.eps, self.latent_bits, self.mean_shift,
                                                   self.per_report, self.mode, self.max_batch, self.max_age_ms)


@dataclass
class Window:
    number: int  # unwrapped window counter (the report record index is its low 16 bits)
    data: bytes
    nbits: int
    imputed: int
    values: np.ndarray | None  # reconstructed readings (native units); None if not decodable
    missing: np.ndarray | None
    error: str | None = None
    level: int | None = None  # ECG dynamic codec: 0 lossless, 1..3 CG 16 / 32 / 64; None for other codecs
    flag: int | None = None   # ECG dynamic codec: 0 none, 1 flat, 2 saturated, 3 missing; None otherwise


def is_dynamic(model) -> bool:
    """The model is the ECG dynamic codec's (a DynamicModel), not the error-bounded codec's."""
    from toolchain.codecs.ecg_dynamic.deployed import DynamicModel
    return isinstance(model, DynamicModel)


def load_codec_model(name: str, models_dir: str | Path | None = None):
    """The model a board names in IDENTIFY: "ecg-dynamic" (or a codec folder with codec.json in
    models_dir) -> load_dynamic, any other name -> the error-bounded codec's get_model. models_dir is
    looked in first: models_dir/<name> when that folder exists, else the default place
    ($TINYCODEC_ECG_DYNAMIC or models/ecg-dynamic; models/<name>/model.json)."""
    from toolchain.link.app import load_app_model
    here = Path(models_dir) if models_dir and (Path(models_dir) / name).is_dir() else None
    return load_app_model(name, here)


@dataclass
class DecodeStats:
    messages: int = 0
    reports: int = 0
    report_errors: int = 0
    windows: int = 0
    window_errors: int = 0
    lost_messages: list[int] = field(default_factory=list)  # seq numbers of messages that never completed
    packets: int = 0  # raw frames given to feed_packet (LoRa uplinks)
    packets_bad: dict = field(default_factory=dict)  # rejected packets by FrameError.kind
    errors: list[str] = field(default_factory=list)  # ERROR messages and decode problems, capped

    def note(self, msg: str) -> None:
        if len(self.errors) < 200:
            self.errors.append(msg)


def parse_identify(p: bytes) -> dict[str, str]:
    out = {}
    for tok in p.decode("ascii", errors="replace").split():
        k, _, v = tok.partition("=")
        out[k] = v
    return out


class HostDecoder:
    """Feed it bytes (or packets); it keeps the board's identity, session and decoded windows."""

    def __init__(self, model=None, models_loader=None):
        self.stream = StreamDecoder()
        self.reasm = Reassembler()
        self.model = model
        self._load = models_loader
        self.board: dict[str, str] | None = None
        self.session: SessionDef | None = None
        self.codec: CodecSession | None = None  # the latest one the board announced
        self.codecs: dict[int, CodecSession] = {}  # by generation
        self.windows: dict[int, Window] = {}
        self.messages: list[tuple[int, int, bytes]] = []  # (type, seq, payload) of non-report messages
        self.stats = DecodeStats()
        self._last_window: int | None = None

    # --- input -----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> int:
        """Bytes of a COBS stream; returns how many messages completed."""
        n = 0
        for f in self.stream.feed(data):
            n += self._frame(f)
        return n

    def feed_packet(self, raw: bytes) -> int:
        """One raw frame (a LoRa uplink); corrupt packets are counted, not raised."""
        self.stats.packets += 1
        try:
            f = parse_frame(raw)
        except FrameError as e:
            self.stats.packets_bad[e.kind] = self.stats.packets_bad.get(e.kind, 0) + 1
            self.stats.note(f"packet dropped ({e.kind}): {e}")
            return 0
        return self._frame(f)

    def finish(self) -> None:
        """End of input: messages still incomplete are lost."""
        for lost in self.reasm.flush():
            self.stats.lost_messages.append(lost.seq)

    # --- messages --------------------------------------------------------------------------------
    def _frame(self, f: Frame) -> int:
        before = len(self.reasm.lost)
        msg = self.reasm.push(f)
        for lost in self.reasm.lost[before:]:
            self.stats.lost_messages.append(lost.seq)
        if msg is None:
            return 0
        self.stats.messages += 1
        try:
            self._message(msg.type, msg.seq, msg.payload)
        except (ValueError, KeyError) as e:  # a valid frame carrying something we cannot use
            self.stats.note(f"message seq {msg.seq} type {msg.type}: {e}")
        return 1

    def _message(self, mtype: int, seq: int, p: bytes) -> None:
        if mtype == MsgType.REPORT:
            self._reports(seq, p)
            return
        self.messages.append((mtype, seq, p))
        if mtype == MsgType.IDENTIFY:
            self.board = parse_identify(p)
            if self.model is None and self._load is not None and self.board.get("model"):
                self.model = self._load(self.board["model"])
        elif mtype == MsgType.CONFIG and p[:1] == bytes([CONFIG_SESSION]):
            self.session = decode_session(p)
        elif mtype == MsgType.CONFIG and p[:1] == bytes([CONFIG_CODEC]):
            self.codec = CodecSession.parse(p)
            if self.codec.generation is not None:
                self.codecs[self.codec.generation] = self.codec
        elif mtype == MsgType.ERROR:
            self.stats.note(f"board error (seq {seq}): {p.decode('ascii', errors='replace')}")

    def _reports(self, seq: int, p: bytes) -> None:
        if self.session is None:
            self.stats.report_errors += 1
            self.stats.note(f"report seq {seq} before the session table: dropped")
            return
        try:
            reports = decode_payload(p, self.session)
        except ReportError as e:
            self.stats.report_errors += 1
            self.stats.note(f"report seq {seq}: {e}")
            return
        for r in reports:
            self.stats.reports += 1
            for d in r.descriptors:
                if d.type_id != TYPE_WINDOW:
                    continue
                for rec in d.records:
                    self._window(rec.index, rec.data)

    def _unwrap(self, index: int) -> int:
        if self._last_window is None:
            n = index
        else:
            delta = (index - self._last_window) & 0xFFFF
            n = self._last_window + (delta if delta < 0x8000 else delta - 0x10000)
        self._last_window = n if self._last_window is None else max(self._last_window, n)
        return n

    def _window(self, index: int, rec: bytes) -> None:
        num = self._unwrap(index)
        self.stats.windows += 1
        if len(rec) < 4:
            self.stats.window_errors += 1
            self.stats.note(f"window {num}: record of {len(rec)} B")
            return
        nbits, imputed, gen = rec[0] | (rec[1] << 8), rec[2], rec[3]
        data = bytes(rec[4:])
        values = missing = level = flag = None
        err = None
        codec = self.codecs.get(gen)
        if (nbits + 7) // 8 != len(data):
            err = f"{nbits} bits in {len(data)} B"
        elif self.model is None:
            err = "no model to decode with (no IDENTIFY received and no --model given)"
        elif codec is None:
            err = (f"encoded with codec session generation {gen}, whose CONFIG never arrived "
                   f"(known: {sorted(self.codecs) or 'none'}): not decodable")
        else:
            try:
                values, missing, level, flag = self._decode(data, nbits, codec)
            except Exception as e:  # noqa: BLE001 - a corrupt-but-CRC-valid window must not stop the stream
                err = f"{type(e).__name__}: {e}"
        if err:
            self.stats.window_errors += 1
            self.stats.note(f"window {num}: {err}")
        self.windows[num] = Window(num, data, nbits, imputed, values, missing, err, level, flag)

    def _decode(self, data: bytes, nbits: int, codec: CodecSession
                ) -> tuple[np.ndarray, np.ndarray, int | None, int | None]:
        """(values, missing mask, level, flag) of one window; level and flag only for the ECG codec."""
        if is_dynamic(self.model):
            from toolchain.codecs.ecg_dynamic.bitstream import decode_segment
            seg = decode_segment(self.model, data, nbits, codec.latent_bits)
            return seg.values, seg.missing, seg.level, seg.flag
        values, missing = ae_codec.decode(self.model, data, nbits, codec.eps, codec.latent_bits, codec.mean_shift)
        return values, missing, None, None

    # --- results ---------------------------------------------------------------------------------
    def lost_windows(self) -> list[int]:
        if not self.windows:
            return []
        have = set(self.windows)
        return [k for k in range(min(have), max(have) + 1) if k not in have]

    def signal(self) -> tuple[np.ndarray, np.ndarray]:
        """Readings in window order from window 0 (temporal: one channel) and a received-mask."""
        if not self.windows or self.model is None:
            return np.zeros(0, np.int64), np.zeros(0, bool)
        n = self.model.n
        last = max(self.windows)
        out = np.zeros((last + 1) * n, np.int64)
        ok = np.zeros_like(out, dtype=bool)
        for k, w in self.windows.items():
            if w.values is not None and k >= 0:
                out[k * n:(k + 1) * n] = w.values
                ok[k * n:(k + 1) * n] = True
        return out, ok

    def summary(self) -> str:
        s, r, a = self.stream.stats, self.reasm.stats, self.stats
        return (f"frames {s.frames_ok}, CRC failures {s.crc_errors}, COBS errors {s.cobs_errors}, resyncs {s.resyncs}, "
                f"bytes discarded {s.bytes_discarded}; messages {a.messages} (lost {len(a.lost_messages)}, "
                f"duplicates {r.duplicates}); reports {a.reports} ({a.report_errors} bad); windows {a.windows} "
                f"({a.window_errors} undecodable, {len(self.lost_windows())} missing)")
