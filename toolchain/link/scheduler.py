"""The report reservation procedure (Augustyniak, section 2.3 and 4): which types go in which report.

Reports follow each other at the shortest validity time of the session's parameters (the base
interval T). Parameter i, valid for v_i, is put in every k_i-th report, k_i = floor(v_i / T), so it
is refreshed at most every k_i * T <= v_i. The sequence repeats every lcm(k_i) reports; its first
report carries every parameter (the paper's t0, Fig. 4). In each report the due parameters are
covered by the session's types first-fit, biggest structures first: where the nested structures
line up with the periods (integer ratios), one compound structure replaces several descriptors,
the paper's reason for nesting. The firmware follows the same first-fit from a small table
(schedule_c_table -> tc_sched_due in firmware_templates/link/tc_report.c).

Stream figures: the scheduled stream (with and without our header/descriptor/end-mark bytes), the
constant-rate stream (every parameter in every report, the paper's rigid format) and the theoretical
stream (each parameter's size / its validity time, no overhead).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .reports import Descriptor, Record, Report, SessionDef, encode_report

MAX_LEAVES = 32             # leaf masks are u32 in the C table
MAX_PERIOD_REPORTS = 1 << 20


class ScheduleError(ValueError):
    """The session cannot be scheduled as asked (named type, and why)."""


@dataclass(frozen=True)
class ParamPlan:
    """How often one leaf parameter is sent."""
    type_id: int
    name: str
    size: int
    validity_ms: int
    priority: int
    period_reports: int     # in every period_reports-th report
    refresh_ms: int         # period_reports * interval: <= validity_ms


@dataclass(frozen=True)
class ScheduleEntry:
    """One row of the firmware's table: due when report_no % period == 0 and none of `leaves`
    (bit i: the i-th scheduled parameter) is already in the report."""
    type_id: int
    period: int
    leaves: int


@dataclass(frozen=True)
class Schedule:
    session: SessionDef
    interval_ms: int                        # T: one report per interval
    period_reports: int                     # the sequence repeats after this many reports
    params: tuple[ParamPlan, ...]
    entries: tuple[ScheduleEntry, ...]      # first-fit order
    reports: tuple[tuple[int, ...], ...]    # type ids of each report in one period
    unscheduled: tuple[int, ...] = ()       # variable-length leaves: sent on demand, not scheduled

    @property
    def period_ms(self) -> int:
        return self.period_reports * self.interval_ms


@dataclass(frozen=True)
class Stream:
    """A data stream over one repetition period."""
    scheme: str
    bytes_per_period: float
    period_s: float

    @property
    def bytes_per_s(self) -> float:
        return self.bytes_per_period / self.period_s

    @property
    def bps(self) -> float:
        """Bits per second."""
        return 8.0 * self.bytes_per_s


def _lcm(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


def build_schedule(session: SessionDef, *, interval_ms: int | None = None,
                   max_period_reports: int | None = None, harmonic: bool = False) -> Schedule:
    """The repeating report sequence for `session`.

    interval_ms: the report interval, default (and at most) the shortest validity time.
    max_period_reports: cap on any parameter's period; 1 gives the constant-rate (rigid) format,
        10 with the paper's test case groups every slower parameter into one 3 s category.
    harmonic: round each period down to a multiple of the next faster one (the paper's "rising the
        sampling rate to the nearest sub-multiple"), so periods divide each other and nested
        structures always apply; costs some oversampling when validity ratios are not integers.
    """
    leaves = [t for t in session.leaves() if t.size > 0]
    unscheduled = tuple(t.type_id for t in session.leaves() if t.size == 0)
    if not leaves:
        raise ScheduleError(f"session {session.session_id}: no fixed-size parameters to schedule")
    if len(leaves) > MAX_LEAVES:
        raise ScheduleError(f"session {session.session_id}: {len(leaves)} parameters, the table holds "
                            f"at most {MAX_LEAVES}")
    shortest = min(t.validity_ms for t in leaves)
    T = shortest if interval_ms is None else interval_ms
    if not 1 <= T <= shortest:
        raise ScheduleError(f"session {session.session_id}: interval {T} ms outside 1..{shortest} "
                            "(the shortest validity time)")
    if max_period_reports is not None and max_period_reports < 1:
        raise ScheduleError(f"max_period_reports {max_period_reports} < 1")
    k = {t.type_id: t.validity_ms // T for t in leaves}
    if max_period_reports is not None:
        k = {i: min(v, max_period_reports) for i, v in k.items()}
    if harmonic:
        prev = 1
        for i in sorted(k, key=lambda i: (k[i], i)):
            k[i] = k[i] // prev * prev
            prev = k[i]
    period = _lcm(list(k.values()))
    if period > MAX_PERIOD_REPORTS:
        raise ScheduleError(f"session {session.session_id}: the sequence repeats only after {period} "
                            f"reports (> {MAX_PERIOD_REPORTS}); use harmonic=True or a coarser interval")
    bit = {t.type_id: 1 << n for n, t in enumerate(leaves)}

    # Candidates: every type made of scheduled parameters only, biggest (most parameters) first,
    # then the more urgent, then by id, so the order and the firmware's table agree.
    cands = []
    for t in session.types:
        ls = session.leaves_of(t.type_id)
        if all(leaf in bit for leaf in ls):
            mask = sum(bit[leaf] for leaf in ls)
            cands.append((-len(ls), -t.priority, t.type_id, _lcm([k[leaf] for leaf in ls]), mask))
    cands.sort()
    entries = [ScheduleEntry(tid, per, mask) for _, _, tid, per, mask in cands]
    reports = tuple(due_types(entries, n) for n in range(period))
    used = {tid for rep in reports for tid in rep}
    params = tuple(ParamPlan(t.type_id, t.name, t.size, t.validity_ms, t.priority, k[t.type_id],
                             k[t.type_id] * T) for t in leaves)
    return Schedule(session, T, period, params, tuple(e for e in entries if e.type_id in used), reports,
                    unscheduled)


def due_types(entries: Sequence[ScheduleEntry], report_no: int) -> tuple[int, ...]:
    """The types of report `report_no`: first-fit over the table (tc_sched_due does the same)."""
    covered, out = 0, []
    for e in entries:
        if report_no % e.period == 0 and not covered & e.leaves:
            covered |= e.leaves
            out.append(e.type_id)
    return tuple(out)


def refresh_gaps_ms(s: Schedule) -> dict[int, int]:
    """Longest time between two reports carrying each parameter, over the repeating sequence."""
    out = {}
    for p in s.params:
        at = [n for n, rep in enumerate(s.reports)
              if any(p.type_id in s.session.leaves_of(t) for t in rep)]
        if not at:
            raise ScheduleError(f"parameter {p.type_id} ({p.name!r}) is in no report")
        gaps = [b - a for a, b in zip(at, at[1:])] + [at[0] + s.period_reports - at[-1]]
        out[p.type_id] = max(gaps) * s.interval_ms
    return out


def period_reports(s: Schedule, device_id: int = 0, first_seq: int = 0) -> list[Report]:
    """One period of reports as the firmware builds them (zero-filled data): one record per type,
    in table order; the seq wraps at 2^16."""
    out = []
    for n, rep in enumerate(s.reports):
        descs = tuple(Descriptor(t, (Record(n & 0xFFFF, bytes(s.session.type(t).size)),)) for t in rep)
        out.append(Report(device_id, s.session.session_id, (first_seq + n) & 0xFFFF, s.interval_ms, 0, descs))
    return out


def scheduled_stream(s: Schedule, *, overhead: bool = True, scheme: str = "scheduled") -> Stream:
    """Bytes per period of the schedule: encoded report lengths, or only the data bytes."""
    if overhead:
        total = sum(len(encode_report(r)) for r in period_reports(s))
    else:
        total = sum(s.session.type(t).size for rep in s.reports for t in rep)
    return Stream(scheme, float(total), s.period_ms / 1000.0)


def constant_stream(session: SessionDef, *, overhead: bool = True, scheme: str = "constant") -> Stream:
    """Every parameter in every report at the shortest validity time: the rigid format."""
    return scheduled_stream(build_schedule(session, max_period_reports=1), overhead=overhead, scheme=scheme)


def theoretical_stream(session: SessionDef, period_s: float | None = None,
                       scheme: str = "theoretical") -> Stream:
    """Each parameter's size over its validity time, no overhead; counted over period_s (default:
    the scheduled sequence's period)."""
    leaves = [t for t in session.leaves() if t.size > 0]
    if period_s is None:
        period_s = build_schedule(session).period_ms / 1000.0
    rate = sum(t.size * 1000.0 / t.validity_ms for t in leaves)
    return Stream(scheme, rate * period_s, period_s)


def _c_comment(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text).replace("*/", "* /")


def schedule_c_table(s: Schedule) -> str:
    """The schedule as C for the firmware (include after tc_report.h; walk with tc_sched_due)."""
    for e in s.entries:
        if e.period > 0xFFFF:
            raise ScheduleError(f"type {e.type_id}: period {e.period} reports does not fit the table's u16")
    names = ", ".join(f"bit {n}: {_c_comment(p.name)}" for n, p in enumerate(s.params))
    lines = [
        f"/* Report schedule for session {s.session.session_id}, generated by "
        "toolchain.link.scheduler.schedule_c_table.",
        f" * One report every {s.interval_ms} ms; the sequence repeats every {s.period_reports} reports "
        f"({s.period_ms / 1000:g} s).",
        f" * Leaf parameters: {names}. */",
        f"#define TC_SCHED_SESSION_ID {s.session.session_id}u",
        f"#define TC_SCHED_INTERVAL_MS {s.interval_ms}UL",
        f"#define TC_SCHED_PERIOD {s.period_reports}UL",
        f"#define TC_SCHED_ENTRIES {len(s.entries)}u",
        f"#define TC_SCHED_MAX_DUE {max(len(r) for r in s.reports)}u",
        "static const tc_sched_entry_t tc_sched_table[TC_SCHED_ENTRIES] = {",
    ]
    for e in s.entries:
        t = s.session.type(e.type_id)
        lines.append(f"    {{{e.type_id}u, {e.period}u, 0x{e.leaves:08X}UL}}, /* {_c_comment(t.name)}, "
                     f"{t.size} B */")
    lines.append("};")
    return "\n".join(lines) + "\n"
