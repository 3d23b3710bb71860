"""Reporting modes (the paper's section 3): immediate and delayed reporting, switched on events.

Effective mode: delayed while the link is down (reports are buffered); otherwise immediate while an
urgent condition holds (a report flagged FLAG_EVENT, the patient's button, a software adaptation;
each holds for `hold_ms` after its last occurrence, then recedes); otherwise the configured mode.

Immediate mode sends each report at once, as it is. Delayed mode buffers reports and sends them as
one batch (encode_batch) when the next report would not fit in `max_bytes`, when the batch is
exactly `max_bytes`, or once its first report is `max_age_ms` old (defaults 32 kB / 360 s, the
paper's prototype). Becoming urgent or getting the link back flushes the buffer. With the link down
nothing is sent; when the buffer is full the oldest reports are dropped (the server sees the gap in
the sequence numbers), so that the freshest state goes out first on reconnection.

Deterministic: time is passed in (ms, a u32 clock that wraps). firmware_templates/link/
tc_reporter.c is the same machine and produces the same payload bytes for the same events.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .reports import BATCH_HEADER_SIZE, FLAG_EVENT, MIN_REPORT_SIZE, ReportError, encode_batch, report_length

IMMEDIATE = "immediate"
DELAYED = "delayed"
MODES = (IMMEDIATE, DELAYED)

DEFAULT_MAX_BYTES = 32 * 1024
DEFAULT_MAX_AGE_MS = 360_000
DEFAULT_HOLD_MS = 60_000
_U32 = 0xFFFFFFFF


class ReporterError(ValueError):
    """A report the reporter refuses (malformed, or too big for any batch), or bad limits."""


@dataclass(frozen=True)
class ReporterConfig:
    mode: str = DELAYED
    max_bytes: int = DEFAULT_MAX_BYTES   # one batch payload, its 3-byte header included
    max_age_ms: int = DEFAULT_MAX_AGE_MS
    hold_ms: int = DEFAULT_HOLD_MS

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ReporterError(f"reporter config: mode {self.mode!r}, expected one of {MODES}")
        lo = BATCH_HEADER_SIZE + MIN_REPORT_SIZE
        if not lo <= self.max_bytes <= 0xFFFF:
            raise ReporterError(f"reporter config: max_bytes {self.max_bytes} outside {lo}..65535")
        for name in ("max_age_ms", "hold_ms"):
            v = getattr(self, name)
            if not 0 <= v <= _U32:
                raise ReporterError(f"reporter config: {name} {v} outside 0..2^32-1")


@dataclass(frozen=True)
class Sent:
    t_ms: int
    payload: bytes
    reports: int
    reason: str        # "immediate", or what flushed the batch: size, age, event, button, ...


@dataclass(frozen=True)
class LogEntry:
    t_ms: int
    kind: str          # an input (submit, tick, button, adaptation, link_lost, link_restored),
    detail: str        # or what it caused: switch, recede, send, drop


@dataclass
class Reporter:
    config: ReporterConfig = field(default_factory=ReporterConfig)
    sent: list[Sent] = field(default_factory=list, init=False)
    log: list[LogEntry] = field(default_factory=list, init=False)
    link_up: bool = field(default=True, init=False)
    urgent: bool = field(default=False, init=False)
    dropped: int = field(default=0, init=False)      # reports dropped while the link was down
    _urgent_at: int = field(default=0, init=False)
    _first_at: int = field(default=0, init=False)    # when the oldest buffered report arrived
    _buffer: list[bytes] = field(default_factory=list, init=False)
    _mode: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self._mode = self._effective()

    # -- state ------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """The effective mode."""
        return self._mode

    @property
    def buffered_reports(self) -> int:
        return len(self._buffer)

    @property
    def buffered_bytes(self) -> int:
        """Size the batch would have now (0 when nothing is buffered)."""
        return BATCH_HEADER_SIZE + sum(map(len, self._buffer)) if self._buffer else 0

    def _effective(self) -> str:
        if not self.link_up:
            return DELAYED
        return IMMEDIATE if self.urgent else self.config.mode

    def _update_mode(self, t: int, reason: str) -> None:
        new = self._effective()
        if new != self._mode:
            self.log.append(LogEntry(t, "switch", f"{self._mode}->{new} ({reason})"))
            self._mode = new

    def _send(self, t: int, payload: bytes, reports: int, reason: str) -> None:
        self.sent.append(Sent(t, payload, reports, reason))
        self.log.append(LogEntry(t, "send", f"{reports} report(s), {len(payload)} B ({reason})"))

    def _flush(self, t: int, reason: str) -> None:
        if self._buffer:
            self._send(t, encode_batch(self._buffer), len(self._buffer), reason)
            self._buffer = []

    def _expire(self, t: int) -> None:
        if self.urgent and (t - self._urgent_at) & _U32 >= self.config.hold_ms:
            self.urgent = False
            self.log.append(LogEntry(t, "recede", "urgent condition over"))
            self._update_mode(t, "recede")

    def _make_urgent(self, t: int, reason: str) -> None:
        self.urgent = True
        self._urgent_at = t
        self._update_mode(t, reason)
        if self.link_up:
            self._flush(t, reason)

    def _begin(self, t: int, kind: str, detail: str = "") -> None:
        if not 0 <= t <= _U32:
            raise ReporterError(f"reporter {kind}: time {t} ms outside the u32 clock")
        self.log.append(LogEntry(t, kind, detail))
        self._expire(t)

    # -- inputs -----------------------------------------------------------------------------

    def submit(self, t: int, report: bytes) -> None:
        """A finished report (encode_report's bytes)."""
        try:
            n = report_length(report)
        except ReportError as e:
            raise ReporterError(f"reporter submit at t={t}: not a report: {e}") from None
        if n != len(report):
            raise ReporterError(f"reporter submit at t={t}: {len(report) - n} bytes after the report")
        if BATCH_HEADER_SIZE + n > self.config.max_bytes:
            raise ReporterError(f"reporter submit at t={t}: a {n}-byte report never fits a batch of "
                                f"max_bytes={self.config.max_bytes}")
        self._begin(t, "submit", f"{n} B")
        if report[11] & FLAG_EVENT:
            self._make_urgent(t, "event")
        if self._mode == IMMEDIATE:
            self._send(t, bytes(report), 1, "immediate")
        else:
            self._enqueue(t, bytes(report))

    def _enqueue(self, t: int, report: bytes) -> None:
        cfg = self.config
        if self._buffer and self.buffered_bytes + len(report) > cfg.max_bytes:
            if self.link_up:
                self._flush(t, "size")
            else:
                n = 0
                while self._buffer and self.buffered_bytes + len(report) > cfg.max_bytes:
                    self._buffer.pop(0)
                    n += 1
                self.dropped += n
                self.log.append(LogEntry(t, "drop", f"{n} oldest report(s), link down"))
        if not self._buffer:
            self._first_at = t
        self._buffer.append(report)
        if self.link_up:
            if self.buffered_bytes == cfg.max_bytes:
                self._flush(t, "size")
            elif (t - self._first_at) & _U32 >= cfg.max_age_ms:
                self._flush(t, "age")

    def tick(self, t: int) -> None:
        """Time passes: an urgent condition may recede, the age limit may be reached."""
        self._begin(t, "tick")
        if self.link_up and self._buffer and (t - self._first_at) & _U32 >= self.config.max_age_ms:
            self._flush(t, "age")

    def button(self, t: int) -> None:
        self._begin(t, "button")
        self._make_urgent(t, "button")

    def adaptation(self, t: int) -> None:
        """The recorder's interpretive software was adapted: the server wants to see the outcome now."""
        self._begin(t, "adaptation")
        self._make_urgent(t, "adaptation")

    def link_lost(self, t: int) -> None:
        self._begin(t, "link_lost")
        self.link_up = False
        self._update_mode(t, "link_lost")

    def link_restored(self, t: int) -> None:
        self._begin(t, "link_restored")
        self.link_up = True
        self._update_mode(t, "link_restored")
        self._flush(t, "link_restored")
