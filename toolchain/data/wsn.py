"""Loaders for the environmental sensor-network sets (SensorScope GSB, ULB, Intel Lab).

Every loader returns a Signal on a regular time grid with NaN where a sensor has no
reading. Parsed arrays are cached per process (keyed on the resolved data root, so
changing TINYCODEC_DATA between calls is honoured); each call returns a fresh copy,
so callers may modify what they get.

Sensor data sheets behind `quantum`, `word_bits`, `lo`, `hi`:
* SensorScope and ULB (Tmote Sky) nodes carry a Sensirion SHT75 / SHT11: temperature
  -40..123.8 degC, relative humidity 0..100 %RH, both reported here with 0.01
  resolution (the files hold two decimals), sent as 16-bit words.
* Intel Lab: Mica2Dot motes with a weather board whose temperature/humidity sensor
  is also a Sensirion SHT11 (Intel Berkeley Lab data page,
  db.csail.mit.edu/labdata/labdata.html; Madden et al. 2004), so the same
  -40..123.8 degC range; the PCAg subset holds two decimals.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import gzip
import os
from pathlib import Path

import numpy as np

from .root import DataError, require_file, resolve_root
from .signals import Signal

WSN_QUANTUM = 0.01
WSN_WORD_BITS = 16
SHT_TEMP_RANGE = (-40.0, 123.8)  # Sensirion SHT1x/SHT7x data sheet, degC
SHT_HUMIDITY_RANGE = (0.0, 100.0)  # %RH

PathLike = str | os.PathLike[str] | None


def _check_quantum(values: np.ndarray, quantum: float, where: str) -> None:
    """Every reading must be an integer number of quanta: codecs rely on to_int() being exact."""
    v = values[~np.isnan(values)]
    err = np.abs(v / quantum - np.rint(v / quantum))
    if err.size and err.max() > 1e-6:
        bad = v[int(np.argmax(err))]
        raise DataError(f"{where}: reading {bad!r} is not a multiple of the {quantum} quantum")


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="latin-1") if path.suffix == ".gz" else open(path, encoding="latin-1")


# --------------------------------------------------------------------------- GSB

GSB_STATIONS = (11, 12, 17, 18, 19, 20)
GSB_STEP_S = 120.0
_EPOCH = dt.datetime(1970, 1, 1)


def _parse_gsb_file(path: Path, station: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(slot, value) of every reading in one cleaned SensorScope file, plus timeline stats.

    A slot is a 2-minute grid index (minutes since 1970 // 2). Rows carry the minute
    only (seconds were dropped), so a row stamped minute m was taken in [m, m+1):
    its nearest even minute is m when m is even and m+1 when m is odd, i.e.
    slot = (m + 1) // 2. Gap rows ("1 1 1 1 1 1 NaN") carry no time: each stands for
    the 2-minute slot after the previous row. They hold no reading, so they only serve
    to check the timeline (the next stamped row should land right after the gap rows)
    and to extend the station's span.
    """
    slots: list[int] = []
    vals: list[float] = []
    stats = dict(rows=0, gap_rows=0, leading_gap_rows=0, timeline_mismatches=0, backwards=0)
    prev_slot: int | None = None  # slot of the previous row (stamped or gap)
    last_span_slot: int | None = None
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            f = line.split()
            if not f:
                continue
            if len(f) != 7:
                raise DataError(f"{path} line {lineno}: expected 7 fields "
                                f"(station year month day hour minute temperature), got {len(f)}: {line.strip()!r}")
            stats["rows"] += 1
            if f[:6] == ["1"] * 6:
                if f[6].lower() != "nan":
                    raise DataError(f"{path} line {lineno}: gap row must read '1 1 1 1 1 1 NaN', got {line.strip()!r}")
                stats["gap_rows"] += 1
                if prev_slot is None:
                    stats["leading_gap_rows"] += 1  # nothing to time it from
                    continue
                prev_slot += 1
                last_span_slot = prev_slot
                continue
            try:
                st = int(f[0])
                when = dt.datetime(*(int(x) for x in f[1:6]))
                value = float(f[6])
            except ValueError as exc:
                raise DataError(f"{path} line {lineno}: cannot parse {line.strip()!r} ({exc})") from None
            if st != station:
                raise DataError(f"{path} line {lineno}: station id {st}, expected {station}")
            minute = int((when - _EPOCH).total_seconds()) // 60
            slot = (minute + 1) // 2
            # A repeated slot is a re-sent row (handled by _dedupe_slots); any other
            # departure from "previous row + 2 min" is a clock slip or unmarked gap.
            if prev_slot is not None and slot not in (prev_slot, prev_slot + 1):
                stats["timeline_mismatches"] += 1
                if slot < prev_slot:
                    stats["backwards"] += 1
            prev_slot = slot
            last_span_slot = slot if last_span_slot is None else max(last_span_slot, slot)
            if not np.isnan(value):
                slots.append(slot)
                vals.append(value)
    if not slots:
        raise DataError(f"{path}: no readings found")
    stats["last_slot"] = int(last_span_slot)
    return np.asarray(slots, dtype=np.int64), np.asarray(vals, dtype=np.float64), stats


def _dedupe_slots(slots: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """One reading per slot. Repeated rows (same slot, same value: re-sent packets) are
    dropped; when two different readings share a slot (clock slips by a minute) the
    first one in file order is kept. Returns (slots, vals, n_duplicates, n_conflicts)."""
    order = np.argsort(slots, kind="stable")
    s, v = slots[order], vals[order]
    same = np.concatenate([[False], s[1:] == s[:-1]])
    first_of_slot = np.maximum.accumulate(np.where(~same, np.arange(len(s)), 0))
    dup = same & (v == v[first_of_slot])
    conflict = same & ~dup
    return s[~same], v[~same], int(dup.sum()), int(conflict.sum())


@functools.lru_cache(maxsize=4)
def _gsb_cached(root: Path) -> Signal:
    per_station = []
    notes: dict[str, object] = {}
    for st in GSB_STATIONS:
        path = require_file(f"sensorscope_gsb/cleaned-stbernard-meteo-{st}.txt.gz", root)
        slots, vals, stats = _parse_gsb_file(path, st)
        _check_quantum(vals, WSN_QUANTUM, str(path))
        slots, vals, ndup, nconf = _dedupe_slots(slots, vals)
        stats.update(duplicate_rows=ndup, conflicting_rows=nconf)
        notes[f"st{st}"] = stats
        per_station.append((slots, vals, stats["last_slot"]))
    # One common grid over the union of the stations' spans.
    first = min(int(s[0]) for s, _, _ in per_station)
    last = max(max(int(s[-1]), ls) for s, _, ls in per_station)
    values = np.full((last - first + 1, len(GSB_STATIONS)), np.nan)
    for j, (slots, vals, _) in enumerate(per_station):
        values[slots - first, j] = vals
    t0 = np.datetime64(_EPOCH, "s") + np.timedelta64(first * 120, "s")
    return Signal(
        dataset="gsb", quantity="temperature", unit="degC", values=values, t0=t0,
        step_s=GSB_STEP_S, sensors=[f"st{s}" for s in GSB_STATIONS],
        quantum=WSN_QUANTUM, word_bits=WSN_WORD_BITS, lo=SHT_TEMP_RANGE[0], hi=SHT_TEMP_RANGE[1],
        notes=notes,
    )


def _fresh(sig: Signal) -> Signal:
    """A copy of a cached Signal, so callers cannot corrupt the cache."""
    return dataclasses.replace(sig, values=sig.values.copy(), sensors=list(sig.sensors),
                               notes=copy.deepcopy(sig.notes))


def load_gsb_temperature(root: PathLike = None) -> Signal:
    """SensorScope Grand-St-Bernard 2007 ambient temperature, 6 stations on one 2-min grid.

    Clock as written in the files (time zone not stated). Values are kept as recorded,
    including the stations' fault episodes (e.g. -39.46 degC, the SHT "raw 0" reading,
    and spikes up to 116 degC at station 17): they lie inside the sensor range and are
    what a node would have had to encode.
    """
    return _fresh(_gsb_cached(resolve_root(root)))


# --------------------------------------------------------------------------- ULB

ULB_FILES = {
    "library1": ("ulb_wsn/library1/R1.txt", "ulb_wsn/library1/R2.txt", "ulb_wsn/library1/R3.txt"),
    "library2": ("ulb_wsn/library2/readings.txt",),
    "no5": ("ulb_wsn/no5/out.txt",),
}
ULB_COLUMNS = ("timestamp_ms", "node_id", "seq", "internal_temp", "internal_voltage",
               "humidity", "temperature", "PAR", "TSR")
# Nodes with readings in fewer than this fraction of grid slots are dropped. With the
# shipped files this drops only no5 node 4 (5 readings in 4 days); library1 has no
# node 6 at all (19 nodes), library2 keeps all 20.
ULB_MIN_COVERAGE = 0.5
# Below this battery voltage the SHT11 readings are garbage: in no5, nodes 9-12, 14
# and 16 run their batteries down to ~1.6 V and, once under ~2.17 V, report
# temperatures climbing to the SHT raw maximum (124.23 degC) then -39.6 degC, and
# humidity at 148 / -4.65 %RH. Healthy nodes never go under 2.34 V and the failing
# ones still read plausibly at 2.2 V, so readings under 2.2 V are treated as missing.
ULB_MIN_VOLTAGE = 2.2


def _parse_ulb_file(path: Path) -> np.ndarray:
    """Rows (timestamp_s, node, internal_voltage, humidity, temperature) of one ULB file."""
    rows = []
    with open(path, encoding="latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            # Sequence numbers above 999 are printed with a thousands separator: a
            # no-break space in library1/R3 ("1\xa0000"), a dot in no5 ("1.197"). The
            # sequence number is not used, but the no-break space must not split it.
            f = line.replace("\xa0", "").split()
            if not f:
                continue
            if len(f) != len(ULB_COLUMNS):
                raise DataError(f"{path} line {lineno}: expected {len(ULB_COLUMNS)} fields "
                                f"({' '.join(ULB_COLUMNS)}), got {len(f)}: {line.strip()!r}")
            try:
                rows.append((int(f[0]) / 1000.0, int(f[1]),
                             float(f[4].replace(",", ".")),  # decimal comma
                             float(f[5].replace(",", ".")),
                             float(f[6].replace(",", "."))))
            except ValueError as exc:
                raise DataError(f"{path} line {lineno}: cannot parse {line.strip()!r} ({exc})") from None
    if not rows:
        raise DataError(f"{path}: no readings found")
    return np.asarray(rows, dtype=np.float64)


def _ulb_step(t: np.ndarray, node: np.ndarray) -> float:
    """Grid step: the median over nodes of each node's median inter-reading interval,
    rounded to a whole second. Library1/2: 60 s (one sensing packet per one-minute
    sequence, per their ReadMe); no5: 300 s (measured median 300.03 s)."""
    meds = []
    for n in np.unique(node):
        d = np.diff(np.sort(t[node == n]))
        d = d[d > 0.5]  # re-sent packets arrive a fraction of a second apart
        if d.size:
            meds.append(np.median(d))
    if not meds:
        raise DataError("ULB: cannot estimate the sampling step (no node has two readings)")
    return float(np.round(np.median(meds)))


@functools.lru_cache(maxsize=8)
def _ulb_cached(root: Path, deployment: str) -> tuple[np.ndarray, np.ndarray, float, np.datetime64, list[str], dict]:
    """(humidity (T,S), temperature (T,S), step_s, t0, node names, notes) of one deployment."""
    paths = [require_file(rel, root) for rel in ULB_FILES[deployment]]
    raw = np.concatenate([_parse_ulb_file(p) for p in paths])
    where = ", ".join(str(p) for p in paths)
    raw = raw[np.argsort(raw[:, 0], kind="stable")]
    t, node, volt, hum, temp = raw.T
    node = node.astype(np.int64)
    for col in (hum, temp):
        _check_quantum(col, WSN_QUANTUM, where)
    notes: dict[str, object] = {}

    # Invalid readings -> NaN: dying battery, or outside the SHT data-sheet range.
    low_v = volt < ULB_MIN_VOLTAGE
    bad_h = low_v | (hum < SHT_HUMIDITY_RANGE[0]) | (hum > SHT_HUMIDITY_RANGE[1])
    bad_t = low_v | (temp < SHT_TEMP_RANGE[0]) | (temp > SHT_TEMP_RANGE[1])
    hum = np.where(bad_h, np.nan, hum)
    temp = np.where(bad_t, np.nan, temp)
    notes.update(low_voltage_readings=int(low_v.sum()), masked_humidity=int(bad_h.sum()),
                 masked_temperature=int(bad_t.sum()))

    step = _ulb_step(t, node)
    origin = float(t.min())
    # Nodes report once per sequence but at their own offset within it (no5 staggers
    # them over the whole 5-min cycle), so a shared slot boundary would cut through
    # some nodes' readings. Each node's offset is its circular-mean phase; a reading
    # goes to the grid slot nearest its time minus that offset, so row k holds every
    # node's k-th sequence. Within a row the nodes' actual times differ by < step/2.
    ids = np.unique(node)
    slot = np.empty(len(t), dtype=np.int64)
    for n in ids:
        m = node == n
        ang = 2 * np.pi * ((t[m] - origin) % step) / step
        phase = np.angle(np.mean(np.exp(1j * ang))) / (2 * np.pi) * step  # in [-step/2, step/2)
        slot[m] = np.rint((t[m] - origin - phase) / step).astype(np.int64)
    first = int(slot.min())
    slot -= first
    T = int(slot.max()) + 1
    t0 = np.datetime64(int(round(origin + first * step)), "s")

    hum_grid = np.full((T, len(ids)), np.nan)
    temp_grid = np.full((T, len(ids)), np.nan)
    collisions = 0
    for j, n in enumerate(ids):
        m = np.flatnonzero(node == n)
        s = slot[m]
        # Two readings in one slot (re-sent packet, or a late one): keep the first.
        keep = np.concatenate([[True], s[1:] != s[:-1]])  # rows are time-sorted, so slots are non-decreasing
        collisions += int((~keep).sum())
        hum_grid[s[keep], j] = hum[m[keep]]
        temp_grid[s[keep], j] = temp[m[keep]]
    notes["slot_collisions"] = collisions

    # Coverage on the joint validity, so humidity and temperature keep the same nodes.
    coverage = (~np.isnan(hum_grid) | ~np.isnan(temp_grid)).mean(axis=0)
    keep_nodes = coverage >= ULB_MIN_COVERAGE
    notes["dropped_nodes"] = {int(n): round(float(c), 4) for n, c in zip(ids, coverage) if c < ULB_MIN_COVERAGE}
    names = [f"node{int(n)}" for n in ids[keep_nodes]]
    return hum_grid[:, keep_nodes], temp_grid[:, keep_nodes], step, t0, names, notes


def _load_ulb(deployment: str, root: PathLike, quantity: str) -> Signal:
    if deployment not in ULB_FILES:
        raise DataError(f"unknown ULB deployment {deployment!r}; choose one of {sorted(ULB_FILES)}")
    hum, temp, step, t0, names, notes = _ulb_cached(resolve_root(root), deployment)
    if quantity == "humidity":
        values, unit, (lo, hi) = hum, "%RH", SHT_HUMIDITY_RANGE
    else:
        values, unit, (lo, hi) = temp, "degC", SHT_TEMP_RANGE
    return Signal(
        dataset=f"ulb-{deployment}", quantity=quantity, unit=unit, values=values.copy(), t0=t0,
        step_s=step, sensors=list(names), quantum=WSN_QUANTUM, word_bits=WSN_WORD_BITS,
        lo=lo, hi=hi, notes=copy.deepcopy(notes),
    )


def load_ulb_humidity(deployment: str = "library1", root: PathLike = None) -> Signal:
    """ULB Tmote Sky relative humidity. "library1" = R1+R2+R3, "library2", "no5"."""
    return _load_ulb(deployment, root, "humidity")


def load_ulb_temperature(deployment: str = "library1", root: PathLike = None) -> Signal:
    """ULB Tmote Sky (SHT11) temperature, same grid and nodes as load_ulb_humidity."""
    return _load_ulb(deployment, root, "temperature")


# --------------------------------------------------------------------------- Intel

INTEL_ROWS, INTEL_COLS = 14400, 52
INTEL_EXCLUDED_MOTES = (5, 15)  # dropped by the PCAg authors ("too few measurements")
# The PCAg subset does not document its time step; its R script says the 14400 rows
# cover about 8 days, so step = 8 * 86400 / 14400 = 48 s (an estimate, not a fact),
# and the start time is unknown (t0 = None).
INTEL_STEP_S = 8 * 86400 / INTEL_ROWS


@functools.lru_cache(maxsize=4)
def _intel_cached(root: Path) -> tuple[np.ndarray, list[str]]:
    locs = require_file("intel_lab_pcag/mote_locs.txt", root)
    try:
        ids = [int(line.split()[0]) for line in locs.read_text(encoding="latin-1").splitlines() if line.strip()]
    except (ValueError, IndexError) as exc:
        raise DataError(f"{locs}: cannot parse mote ids ({exc})") from None
    motes = [m for m in ids if m not in INTEL_EXCLUDED_MOTES]
    path = require_file("intel_lab_pcag/subsfin.txt.gz", root)
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DataError(f"{path}: cannot parse ({exc})") from None
    if values.shape != (INTEL_ROWS, INTEL_COLS):
        raise DataError(f"{path}: expected {INTEL_ROWS} x {INTEL_COLS} values, got {values.shape[0]} x {values.shape[1]}")
    if len(motes) != INTEL_COLS:
        raise DataError(f"{locs}: {len(motes)} motes after dropping {INTEL_EXCLUDED_MOTES}, expected {INTEL_COLS}")
    _check_quantum(values, WSN_QUANTUM, str(path))
    return values, [f"mote{m}" for m in motes]


def load_intel_lab(root: PathLike = None) -> Signal:
    """Intel Berkeley Lab temperatures (ULB PCAg subset): 14400 x 52 motes, no gaps."""
    values, names = _intel_cached(resolve_root(root))
    return Signal(
        dataset="intel", quantity="temperature", unit="degC", values=values.copy(), t0=None,
        step_s=INTEL_STEP_S, sensors=list(names), quantum=WSN_QUANTUM, word_bits=WSN_WORD_BITS,
        lo=SHT_TEMP_RANGE[0], hi=SHT_TEMP_RANGE[1],
    )
