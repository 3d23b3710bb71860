"""Layered diagnostic reports (Augustyniak, nested report structures): the REPORT payload format.

A report has three layers, as in the paper: a header, a data description layer (type id, count,
then one (index, length, offset) triplet per record) and the data layer, closed by an end mark.
A session's type table (the CONFIG payload) lets the host decode any session's reports.
The byte layout is specified in docs/reports.md; firmware_templates/link/tc_report.c writes the
same bytes. Little-endian throughout.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable, Sequence

REPORT_MAGIC = 0xA1    # format version 1 of a single report
BATCH_MAGIC = 0xB1     # several reports sent together (delayed mode)
SESSION_MAGIC = 0xC1   # a session's type table (CONFIG payload)
END_MARK = b"\xEE\x0D"

HEADER_SIZE = 13       # magic u8, device u16, session u16, seq u16, interval_ms u32, flags u8, n_desc u8
DESC_HEAD_SIZE = 2     # type id u8, count u8
TRIPLET_SIZE = 6       # index u16, length u16, offset u16
BATCH_HEADER_SIZE = 3  # magic u8, count u16
MIN_REPORT_SIZE = HEADER_SIZE + len(END_MARK)
MAX_REPORT_SIZE = 0xFFFF  # offsets are u16 and point from the report's first byte

FLAG_EVENT = 0x01      # a pathological finding is in this report (e.g. the arrhythmia detector fired)
FLAG_BUTTON = 0x02     # the patient pressed the button while this report was collected
FLAG_ADAPTED = 0x04    # first report after the recorder's interpretive software was adapted
FLAGS_KNOWN = FLAG_EVENT | FLAG_BUTTON | FLAG_ADAPTED

MAX_TYPES = 256        # type ids are one byte: up to 256 data structures per session


class ReportError(ValueError):
    """Malformed report, batch or session table (or a definition that cannot be encoded).

    `offset` is the byte offset of the offending field (-1 when the problem is not in bytes),
    `field` names it."""

    def __init__(self, what: str, offset: int, field_name: str, why: str):
        where = f" at offset {offset}" if offset >= 0 else ""
        super().__init__(f"{what}: {field_name}{where}: {why}")
        self.offset = offset
        self.field = field_name
        self.why = why


# ---------------------------------------------------------------------------------------------
# Session: the type table


@dataclass(frozen=True)
class TypeDef:
    """One data structure of a session.

    A leaf (no children) is one diagnostic parameter: `size` bytes per record (0: variable length,
    e.g. a raw signal strip; such a type cannot be scheduled), refreshed at least every
    `validity_ms`, with a `priority` (higher first). A structure embeds previously defined types
    (`children`, in serialization order) and carries no data of its own, so its size, validity and
    priority follow from the children; build it with `structure()`."""
    type_id: int
    name: str
    size: int
    validity_ms: int
    priority: int = 0
    children: tuple[int, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children


def structure(type_id: int, name: str, children: Sequence[TypeDef]) -> TypeDef:
    """A nested structure of `children`: its record is the children's records concatenated, it is as
    valid as its shortest-lived child and as urgent as its most urgent one."""
    if not children:
        raise ReportError("type table", -1, f"type {type_id} ({name!r})", "a structure needs children")
    return TypeDef(type_id, name, sum(c.size for c in children), min(c.validity_ms for c in children),
                   max(c.priority for c in children), tuple(c.type_id for c in children))


@dataclass(frozen=True)
class SessionDef:
    """A monitoring session: its id and its type table, in definition order (children first)."""
    session_id: int
    types: tuple[TypeDef, ...]
    _by_id: dict[int, TypeDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", tuple(self.types))
        object.__setattr__(self, "_by_id", _check_session(self))

    def type(self, type_id: int) -> TypeDef:
        return self._by_id[type_id]

    def has(self, type_id: int) -> bool:
        return type_id in self._by_id

    def leaves_of(self, type_id: int) -> tuple[int, ...]:
        """The leaf parameters a type carries, in the order their bytes appear in its record."""
        t = self._by_id[type_id]
        if t.is_leaf:
            return (t.type_id,)
        return tuple(leaf for c in t.children for leaf in self.leaves_of(c))

    def leaves(self) -> tuple[TypeDef, ...]:
        return tuple(t for t in self.types if t.is_leaf)


def _check_session(s: SessionDef) -> dict[int, TypeDef]:
    def bad(t: TypeDef, why: str) -> ReportError:
        return ReportError("type table", -1, f"type {t.type_id} ({t.name!r})", why)

    _check_range("type table", "session_id", s.session_id, 0xFFFF)
    if len(s.types) > MAX_TYPES:
        raise ReportError("type table", -1, "types", f"{len(s.types)} types, at most {MAX_TYPES}")
    by_id: dict[int, TypeDef] = {}
    leaves: dict[int, frozenset[int]] = {}
    for t in s.types:
        if not 0 <= t.type_id <= 0xFF:
            raise bad(t, "type id outside 0..255")
        if t.type_id in by_id:
            raise bad(t, "type id defined twice")
        if len(t.name.encode("utf-8")) > 0xFF:
            raise bad(t, "name longer than 255 UTF-8 bytes")
        if not 0 <= t.size <= 0xFFFF:
            raise bad(t, "size outside 0..65535")
        if not 1 <= t.validity_ms <= 0xFFFFFFFF:
            raise bad(t, "validity_ms outside 1..2^32-1")
        if not 0 <= t.priority <= 0xFF:
            raise bad(t, "priority outside 0..255")
        if len(t.children) > 0xFF:
            raise bad(t, "more than 255 children")
        own: set[int] = set()
        for c in t.children:
            if c not in by_id:
                raise bad(t, f"child {c} is not defined before it (structures embed earlier types)")
            if by_id[c].size == 0:
                raise bad(t, f"child {c} has variable length; a structure's children must be fixed-size")
            if own & leaves[c]:
                raise bad(t, f"child {c} repeats a parameter already in the structure")
            own |= leaves[c]
        if t.children:
            kids = [by_id[c] for c in t.children]
            if t.size != sum(k.size for k in kids):
                raise bad(t, f"size {t.size} != sum of its children's sizes {sum(k.size for k in kids)}")
            if t.validity_ms != min(k.validity_ms for k in kids):
                raise bad(t, "validity_ms must be the shortest of its children's (use structure())")
            if t.priority != max(k.priority for k in kids):
                raise bad(t, "priority must be the highest of its children's (use structure())")
        by_id[t.type_id] = t
        leaves[t.type_id] = frozenset(own) if t.children else frozenset((t.type_id,))
    return by_id


def encode_session(s: SessionDef) -> bytes:
    """The CONFIG payload announcing a session's type table."""
    out = bytearray(struct.pack("<BHH", SESSION_MAGIC, s.session_id, len(s.types)))
    for t in s.types:
        name = t.name.encode("utf-8")
        out += struct.pack("<BHIBB", t.type_id, t.size, t.validity_ms, t.priority, len(t.children))
        out += bytes(t.children)
        out += bytes((len(name),)) + name
    return bytes(out + END_MARK)


def decode_session(b: bytes) -> SessionDef:
    """Inverse of encode_session; raises ReportError naming the offset and field of any defect."""
    r = _Reader(b, "type table")
    r.expect_byte(SESSION_MAGIC, "magic")
    session_id = r.u16("session_id")
    n = r.u16("n_types")
    if n > MAX_TYPES:
        raise ReportError("type table", r.pos - 2, "n_types", f"{n} types, at most {MAX_TYPES}")
    types = []
    for i in range(n):
        start = r.pos
        tid = r.u8(f"type[{i}].type_id")
        size = r.u16(f"type[{i}].size")
        validity = r.u32(f"type[{i}].validity_ms")
        prio = r.u8(f"type[{i}].priority")
        nc = r.u8(f"type[{i}].n_children")
        children = tuple(r.take(nc, f"type[{i}].children"))
        nl = r.u8(f"type[{i}].name_len")
        raw = r.take(nl, f"type[{i}].name")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ReportError("type table", r.pos - nl + e.start, f"type[{i}].name", "not UTF-8") from None
        t = TypeDef(tid, name, size, validity, prio, children)
        try:
            SessionDef(session_id, (*types, t))
        except ReportError as e:
            raise ReportError("type table", start, f"type[{i}] (id {tid})", e.why) from None
        types.append(t)
    r.end_mark()
    r.finish()
    return SessionDef(session_id, tuple(types))


def leaf_values(session: SessionDef, type_id: int, data: bytes) -> list[tuple[int, bytes]]:
    """Splits one record of a (possibly nested) type into its leaf parameters' bytes."""
    out, pos = [], 0
    for leaf in session.leaves_of(type_id):
        size = session.type(leaf).size
        n = size if size else len(data) - pos  # only a lone leaf may have variable length
        out.append((leaf, data[pos:pos + n]))
        pos += n
    if pos != len(data):
        raise ReportError("report", -1, f"record of type {type_id}", f"{len(data)} bytes, expected {pos}")
    return out


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass(frozen=True)
class Record:
    """One record in the data layer: `index` (e.g. the beat number, mod 2^16) and its bytes."""
    index: int
    data: bytes


@dataclass(frozen=True)
class Descriptor:
    """A data description entry: a type id and its records (a time series under one definition).

    On the wire each record becomes an (index, length, offset) triplet; lengths and offsets are
    derived from `records` when encoding (see `report_layout`)."""
    type_id: int
    records: tuple[Record, ...]

    @property
    def count(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class Report:
    device_id: int
    session_id: int
    seq: int
    interval_ms: int   # time to the next report: the server's check of continuity
    flags: int
    descriptors: tuple[Descriptor, ...] = ()


@dataclass(frozen=True)
class Triplet:
    index: int
    length: int
    offset: int


def _check_range(what: str, name: str, v: int, hi: int) -> None:
    if not 0 <= v <= hi:
        raise ReportError(what, -1, name, f"{v} outside 0..{hi}")


def report_layout(r: Report) -> list[list[Triplet]]:
    """The triplets encode_report writes, per descriptor: data follows in description order."""
    pos = HEADER_SIZE + sum(DESC_HEAD_SIZE + TRIPLET_SIZE * d.count for d in r.descriptors)
    out = []
    for d in r.descriptors:
        row = []
        for rec in d.records:
            row.append(Triplet(rec.index, len(rec.data), pos))
            pos += len(rec.data)
        out.append(row)
    return out


def encode_report(r: Report) -> bytes:
    """Serializes a report exactly as tc_report_end() does; raises ReportError if it cannot be encoded."""
    _check_range("report", "device_id", r.device_id, 0xFFFF)
    _check_range("report", "session_id", r.session_id, 0xFFFF)
    _check_range("report", "seq", r.seq, 0xFFFF)
    _check_range("report", "interval_ms", r.interval_ms, 0xFFFFFFFF)
    if r.flags & ~FLAGS_KNOWN & 0xFF or not 0 <= r.flags <= 0xFF:
        raise ReportError("report", -1, "flags", f"0x{r.flags:x} sets bits outside 0x{FLAGS_KNOWN:02x}")
    _check_range("report", "n_desc", len(r.descriptors), 0xFF)
    for i, d in enumerate(r.descriptors):
        _check_range("report", f"desc[{i}].type_id", d.type_id, 0xFF)
        if not 1 <= d.count <= 0xFF:
            raise ReportError("report", -1, f"desc[{i}].count", f"{d.count} records, must be 1..255")
        for j, rec in enumerate(d.records):
            _check_range("report", f"desc[{i}].index[{j}]", rec.index, 0xFFFF)
    layout = report_layout(r)
    total = (HEADER_SIZE + sum(DESC_HEAD_SIZE + TRIPLET_SIZE * d.count for d in r.descriptors)
             + sum(len(rec.data) for d in r.descriptors for rec in d.records) + len(END_MARK))
    if total > MAX_REPORT_SIZE:
        raise ReportError("report", -1, "length", f"{total} bytes, at most {MAX_REPORT_SIZE}")
    out = bytearray(struct.pack("<BHHHIBB", REPORT_MAGIC, r.device_id, r.session_id, r.seq,
                                r.interval_ms, r.flags, len(r.descriptors)))
    for d, row in zip(r.descriptors, layout):
        out += bytes((d.type_id, d.count))
        for t in row:
            out += struct.pack("<HHH", t.index, t.length, t.offset)
    for d in r.descriptors:
        for rec in d.records:
            out += rec.data
    out += END_MARK
    return bytes(out)


def build_report(device_id: int, session_id: int, seq: int, interval_ms: int, flags: int,
                 adds: Iterable[tuple[int, int, bytes]]) -> Report:
    """The report that tc_report_begin / tc_report_add(type, index, data) ... / tc_report_end makes:
    consecutive records of one type share a descriptor (up to 255 records each)."""
    descs: list[tuple[int, list[Record]]] = []
    for type_id, index, data in adds:
        if descs and descs[-1][0] == type_id and len(descs[-1][1]) < 0xFF:
            descs[-1][1].append(Record(index, bytes(data)))
        else:
            descs.append((type_id, [Record(index, bytes(data))]))
    return Report(device_id, session_id, seq, interval_ms, flags,
                  tuple(Descriptor(t, tuple(recs)) for t, recs in descs))


class _Reader:
    """Bounds-checked little-endian reader: every read names its field and offset on failure."""

    def __init__(self, b: bytes, what: str, pos: int = 0):
        self.b, self.what, self.pos = bytes(b), what, pos

    def err(self, offset: int, field_name: str, why: str) -> ReportError:
        return ReportError(self.what, offset, field_name, why)

    def take(self, n: int, field_name: str) -> bytes:
        if self.pos + n > len(self.b):
            raise self.err(self.pos, field_name,
                           f"truncated: needs {n} bytes, {len(self.b) - self.pos} left")
        v = self.b[self.pos:self.pos + n]
        self.pos += n
        return v

    def u8(self, f: str) -> int:
        return self.take(1, f)[0]

    def u16(self, f: str) -> int:
        return int.from_bytes(self.take(2, f), "little")

    def u32(self, f: str) -> int:
        return int.from_bytes(self.take(4, f), "little")

    def expect_byte(self, want: int, f: str) -> None:
        got = self.u8(f)
        if got != want:
            raise self.err(self.pos - 1, f, f"0x{got:02x}, expected 0x{want:02x}")

    def end_mark(self) -> None:
        at = self.pos
        if self.take(len(END_MARK), "end_mark") != END_MARK:
            raise self.err(at, "end_mark", f"{self.b[at:at + 2].hex()}, expected {END_MARK.hex()}")

    def finish(self) -> None:
        if self.pos != len(self.b):
            raise self.err(self.pos, "trailing bytes", f"{len(self.b) - self.pos} bytes after the end mark")


def _parse_report(r: _Reader, session: SessionDef | None) -> Report:
    """Reads one report at r.pos (offsets in it count from its first byte)."""
    base = r.pos
    r.expect_byte(REPORT_MAGIC, "magic")
    device_id = r.u16("device_id")
    sid_at = r.pos
    session_id = r.u16("session_id")
    if session is not None and session_id != session.session_id:
        raise r.err(sid_at, "session_id", f"{session_id}, the type table is session {session.session_id}")
    seq = r.u16("seq")
    interval = r.u32("interval_ms")
    flags = r.u8("flags")
    if flags & ~FLAGS_KNOWN:
        raise r.err(r.pos - 1, "flags", f"0x{flags:02x} sets reserved bits")
    n_desc = r.u8("n_desc")
    heads: list[tuple[int, list[tuple[int, int, int, int]]]] = []
    for i in range(n_desc):
        tid_at = r.pos
        tid = r.u8(f"desc[{i}].type_id")
        if session is not None and not session.has(tid):
            raise r.err(tid_at, f"desc[{i}].type_id", f"type {tid} is not defined in session {session_id}")
        count = r.u8(f"desc[{i}].count")
        if count == 0:
            raise r.err(r.pos - 1, f"desc[{i}].count", "0 records; a descriptor holds at least one")
        trips = []
        for j in range(count):
            at = r.pos
            trips.append((at, r.u16(f"desc[{i}].index[{j}]"), r.u16(f"desc[{i}].length[{j}]"),
                          r.u16(f"desc[{i}].offset[{j}]")))
        heads.append((tid, trips))
    # The data layer holds the records in description order, back to back: anything else is a
    # corrupt pointer, and checking it here means the slices below are always in bounds.
    expect = r.pos - base
    descs = []
    for i, (tid, trips) in enumerate(heads):
        size = session.type(tid).size if session is not None else 0
        recs = []
        for j, (at, index, length, offset) in enumerate(trips):
            if offset != expect:
                raise r.err(at + 4, f"desc[{i}].offset[{j}]",
                            f"points to {offset}, the record must start at {expect}")
            if size and length != size:
                raise r.err(at + 2, f"desc[{i}].length[{j}]", f"{length} bytes, type {tid} records are {size}")
            expect += length
            recs.append((index, length))
        descs.append((tid, recs))
    data_at = r.pos
    data = r.take(expect - (data_at - base), "data layer")
    r.end_mark()
    pos, out = 0, []
    for tid, recs in descs:
        records = []
        for index, length in recs:
            records.append(Record(index, data[pos:pos + length]))
            pos += length
        out.append(Descriptor(tid, tuple(records)))
    return Report(device_id, session_id, seq, interval, flags, tuple(out))


def decode_report(b: bytes, session: SessionDef) -> Report:
    """Inverse of encode_report, checked against the session's type table. Raises ReportError naming
    the offset and field of the first defect; never reads outside `b`."""
    r = _Reader(b, "report")
    rep = _parse_report(r, session)
    r.finish()
    return rep


def report_length(b: bytes, offset: int = 0) -> int:
    """Length of the report starting at b[offset], from its structure alone (no type table)."""
    r = _Reader(b, "report", offset)
    _parse_report(r, None)
    return r.pos - offset


def report_flags(b: bytes) -> int:
    """The flags byte of an encoded report (after checking that b is one whole report)."""
    n = report_length(b)
    if n != len(b):
        raise ReportError("report", n, "trailing bytes", f"{len(b) - n} bytes after the end mark")
    return b[11]


def encode_batch(reports: Sequence[bytes]) -> bytes:
    """Delayed mode's payload: several encoded reports behind a 3-byte batch header."""
    if not 1 <= len(reports) <= 0xFFFF:
        raise ReportError("batch", -1, "count", f"{len(reports)} reports, must be 1..65535")
    return bytes((BATCH_MAGIC,)) + len(reports).to_bytes(2, "little") + b"".join(reports)


def decode_payload(b: bytes, session: SessionDef) -> list[Report]:
    """A REPORT message payload: one report (magic 0xA1) or a batch (magic 0xB1) of them."""
    if not b:
        raise ReportError("payload", 0, "magic", "empty payload")
    if b[0] == REPORT_MAGIC:
        return [decode_report(b, session)]
    r = _Reader(b, "batch")
    r.expect_byte(BATCH_MAGIC, "magic")
    n = r.u16("count")
    if n == 0:
        raise r.err(1, "count", "an empty batch")
    out = []
    for i in range(n):
        try:
            out.append(_parse_report(r, session))
        except ReportError as e:
            raise ReportError("batch", e.offset, f"report[{i}].{e.field}", e.why) from None
    r.finish()
    return out
