"""A user's own sensor series, named in a model spec instead of a built-in loader.

    [my-sensor]
    source = "file"
    path = "readings.csv"        # relative to the specs file's folder, or absolute
    column = "temp_c"            # or columns = ["t1", "t2", ...] (spatial mode, or several sensors)
    time_column = "time"         # optional; ISO 8601 strings or seconds
    period_s = 30
    quantum = 0.01               # physical units per integer code
    unit = "degC"
    sensor_range = [-40, 125]    # data-sheet range, physical units
    mode = "temporal"; n = 32; hidden = 2; latent_bits = 5; eps = [5, 10, 20]

Formats: CSV and Parquet (a column per sensor, optionally a time column) and WFDB record sets
(a signal by name, digital samples: 1 adu per code). Readings become a Signal on a regular
grid with NaN where a reading is missing (a timestamp gap, an empty cell), like the built-in
loaders; codecs then see integer codes round(value / quantum), MISSING for gaps.

Every problem is a SpecError naming the specs file, the model table and the key.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .root import DataError
from .signals import MISSING, Signal

# Option keys of a `source = "file"` table (besides the Spec keys mode, n, hidden, ...).
OPTION_KEYS = {
    "path": "data file (CSV/Parquet) or WFDB record (base name, .hea) or folder of records",
    "format": "csv | parquet | wfdb (default: from the extension; a folder is wfdb)",
    "column": "the column (CSV/Parquet) or WFDB signal name to compress",
    "columns": "several columns / signals: one sensor each (spatial mode: one window per instant)",
    "time_column": "optional timestamps, ISO 8601 or seconds; gaps become missing readings",
    "period_s": "sampling period in seconds (required without time_column; WFDB: from the header)",
    "quantum": "physical units per integer code (WFDB: 1, digital samples)",
    "unit": "physical unit of the readings (report text)",
    "quantity": "what is measured (report text; default: the column name)",
    "sensor_range": "[lo, hi] data-sheet range in `unit` (WFDB: default from the ADC resolution)",
    "word_bits": "bits of one raw reading on the node (default: the fewest that hold sensor_range)",
    "round_to_quantum": "true: round readings to the quantum instead of refusing off-grid readings",
    "out_of_range": "error (default) | missing: readings outside sensor_range",
    "delimiter": "CSV field separator (default ',')",
    "decimal": "CSV decimal mark (default '.')",
    "records": "WFDB: list of record names, or the name of a file listing them (e.g. RECORDS)",
}
FORMATS = ("csv", "parquet", "wfdb")
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".gz": "csv", ".parquet": "parquet",
              ".pq": "parquet", ".hea": "wfdb"}
INT16_MAX = 32767
QUANTUM_TOL = 1e-6  # |value / quantum - round(value / quantum)| allowed (binary floating point)


class SpecError(DataError):
    """A model spec (built-in or a user's specs file) cannot be used as written."""


@dataclass
class UserSource:
    specs_file: Path
    model: str
    path: Path
    format: str
    columns: list[str]
    time_column: str | None = None
    period_s: float | None = None
    quantum: float = 1.0
    unit: str = ""
    quantity: str = ""
    sensor_range: tuple[float, float] | None = None
    word_bits: int | None = None
    round_to_quantum: bool = False
    out_of_range: str = "error"
    delimiter: str = ","
    decimal: str = "."
    records: list[str] | str | None = None

    def where(self, key: str | None = None) -> str:
        return where(self.specs_file, self.model, key)


def where(specs_file: Path | str, model: str, key: str | None = None) -> str:
    """'<specs file> [model] key': the prefix of every message about a spec."""
    return f"{specs_file} [{model}]" + (f" {key}" if key else "")


def _num(v: Any, w: str, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SpecError(f"{w}: expected a number, got {v!r}")
    if positive and v <= 0:
        raise SpecError(f"{w}: must be > 0, got {v!r}")
    return float(v)


def _str(v: Any, w: str) -> str:
    if not isinstance(v, str) or not v:
        raise SpecError(f"{w}: expected a non-empty string, got {v!r}")
    return v


def parse_options(specs_file: Path, model: str, opts: dict[str, Any]) -> UserSource:
    """Check a `source = "file"` table's option keys (types and values; no file is read)."""
    specs_file = Path(specs_file)
    W = lambda k: where(specs_file, model, k)  # noqa: E731
    unknown = sorted(set(opts) - set(OPTION_KEYS))
    if unknown:
        raise SpecError(f"{W(unknown[0])}: unknown key for source = \"file\"; "
                        f"known: {', '.join(OPTION_KEYS)}")
    if "path" not in opts:
        raise SpecError(f"{W('path')}: missing (the data file, relative to {specs_file.parent} or absolute)")
    p = Path(_str(opts["path"], W("path"))).expanduser()
    path = p if p.is_absolute() else specs_file.parent / p
    fmt = opts.get("format")
    if fmt is None:
        fmt = "wfdb" if path.is_dir() or path.suffix == "" else EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise SpecError(f"{W('format')}: cannot tell the format of {path} from its extension; "
                            f"set format = one of {', '.join(FORMATS)}")
    elif fmt not in FORMATS:
        raise SpecError(f"{W('format')}: {fmt!r} is not one of {', '.join(FORMATS)}")
    if ("column" in opts) == ("columns" in opts):
        raise SpecError(f"{W('column')}: give exactly one of column = \"name\" or columns = [\"a\", \"b\", ...]")
    if "column" in opts:
        columns = [_str(opts["column"], W("column"))]
    else:
        cols = opts["columns"]
        if not isinstance(cols, list) or not cols:
            raise SpecError(f"{W('columns')}: expected a non-empty list of names, got {cols!r}")
        columns = [_str(c, W("columns")) for c in cols]
        dup = sorted({c for c in columns if columns.count(c) > 1})
        if dup:
            raise SpecError(f"{W('columns')}: {dup[0]!r} is named twice")
    src = UserSource(specs_file, model, path, fmt, columns)
    if "time_column" in opts:
        if fmt == "wfdb":
            raise SpecError(f"{W('time_column')}: WFDB records have no time column (the header's fs gives the period)")
        src.time_column = _str(opts["time_column"], W("time_column"))
        if src.time_column in columns:
            raise SpecError(f"{W('time_column')}: {src.time_column!r} is also a data column")
    if "period_s" in opts:
        src.period_s = _num(opts["period_s"], W("period_s"), positive=True)
    elif fmt != "wfdb" and src.time_column is None:
        raise SpecError(f"{W('period_s')}: missing; without time_column the rows are taken to be "
                        "period_s seconds apart")
    if fmt == "wfdb":
        if "quantum" in opts and opts["quantum"] != 1:
            raise SpecError(f"{W('quantum')}: WFDB records are read as digital samples, 1 adu per code "
                            "(the header's gain converts to physical units); drop the key or set 1")
        src.quantum = 1.0
        src.unit = _str(opts.get("unit", "adu"), W("unit"))
    else:
        if "quantum" not in opts:
            raise SpecError(f"{W('quantum')}: missing (physical units per integer code, e.g. 0.01 for "
                            "a reading with two decimals)")
        src.quantum = _num(opts["quantum"], W("quantum"), positive=True)
        src.unit = _str(opts.get("unit", "units"), W("unit"))
    src.quantity = _str(opts.get("quantity", columns[0] if len(columns) == 1 else "reading"), W("quantity"))
    if "sensor_range" in opts:
        r = opts["sensor_range"]
        if not isinstance(r, list) or len(r) != 2:
            raise SpecError(f"{W('sensor_range')}: expected [lo, hi], got {r!r}")
        lo, hi = (_num(x, W("sensor_range")) for x in r)
        if not lo < hi:
            raise SpecError(f"{W('sensor_range')}: inverted or empty range [{lo:g}, {hi:g}] (need lo < hi)")
        src.sensor_range = (lo, hi)
    elif fmt != "wfdb":
        raise SpecError(f"{W('sensor_range')}: missing; give the sensor's data-sheet range [lo, hi] in "
                        f"{src.unit} (it sets the raw word and the codec's clipping)")
    if "word_bits" in opts:
        wb = opts["word_bits"]
        if isinstance(wb, bool) or not isinstance(wb, int) or not 2 <= wb <= 16:
            raise SpecError(f"{W('word_bits')}: expected an integer 2..16, got {wb!r}")
        src.word_bits = wb
    if "round_to_quantum" in opts:
        if not isinstance(opts["round_to_quantum"], bool):
            raise SpecError(f"{W('round_to_quantum')}: expected true or false, got {opts['round_to_quantum']!r}")
        src.round_to_quantum = opts["round_to_quantum"]
    if "out_of_range" in opts:
        if opts["out_of_range"] not in ("error", "missing"):
            raise SpecError(f"{W('out_of_range')}: expected \"error\" or \"missing\", got {opts['out_of_range']!r}")
        src.out_of_range = opts["out_of_range"]
    for k in ("delimiter", "decimal"):
        if k in opts:
            if fmt != "csv":
                raise SpecError(f"{W(k)}: only for CSV files")
            setattr(src, k, _str(opts[k], W(k)))
    if "records" in opts:
        if fmt != "wfdb":
            raise SpecError(f"{W('records')}: only for WFDB record sets")
        rec = opts["records"]
        if isinstance(rec, list):
            if not rec:
                raise SpecError(f"{W('records')}: empty list")
            src.records = [str(_str(str(r), W("records"))) for r in rec]
        else:
            src.records = _str(rec, W("records"))
    return src


# ------------------------------------------------------------------ reading files

def _require_path(src: UserSource) -> None:
    p = src.path
    if src.format == "wfdb":
        if p.is_dir() or p.with_suffix(".hea").is_file() or Path(str(p) + ".hea").is_file():
            return
    elif p.is_file():
        return
    raise SpecError(f"{src.where('path')}: {p} does not exist")


def _missing_column(src: UserSource, key: str, name: str, have: list[str], what: str) -> SpecError:
    return SpecError(f"{src.where(key)}: no {what} {name!r} in {src.path}; it has: "
                     f"{', '.join(map(str, have)) or 'none'}")


def _row_label(src: UserSource, idx: int) -> str:
    # CSV: one header line, blank lines kept as rows, so index i is file line i + 2.
    return f"row {idx + 1} (line {idx + 2})" if src.format == "csv" else f"row {idx + 1}"


def _numeric(src: UserSource, key: str, name: str, s) -> np.ndarray:
    """float64 of one column; empty cells -> NaN; any other non-numeric cell is an error."""
    import pandas as pd
    if pd.api.types.is_bool_dtype(s.dtype):
        raise SpecError(f"{src.where(key)}: column {name!r} of {src.path} holds true/false values, not readings")
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    txt = s.astype("string").str.strip()
    if src.decimal != ".":
        txt = txt.str.replace(src.decimal, ".", regex=False)
    v = pd.to_numeric(txt, errors="coerce")
    bad = v.isna() & txt.notna() & (txt != "") & ~txt.str.lower().isin(["nan", "na", "n/a", "null", "none"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SpecError(f"{src.where(key)}: {src.path} {_row_label(src, int(s.index[i]))}: {name!r} = {s.iloc[i]!r} "
                        f"is not a number (leave the cell empty for a missing reading)")
    return v.to_numpy(dtype=np.float64, na_value=np.nan)


def _seconds(src: UserSource, s) -> tuple[np.ndarray, np.datetime64 | None]:
    """Timestamps in seconds from the first one, and that first time (None for plain seconds)."""
    import pandas as pd
    key, name = "time_column", src.time_column
    if s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise SpecError(f"{src.where(key)}: {src.path} {_row_label(src, int(s.index[i]))}: empty timestamp in {name!r}")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        t = s.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
    elif pd.api.types.is_numeric_dtype(s.dtype):
        sec = s.to_numpy(dtype=np.float64)
        if not np.isfinite(sec).all():
            i = int(np.flatnonzero(~np.isfinite(sec))[0])
            raise SpecError(f"{src.where(key)}: {src.path} {_row_label(src, int(s.index[i]))}: timestamp {s.iloc[i]!r}")
        return sec - sec.min(), None
    else:
        txt = s.astype("string").str.strip()
        num = pd.to_numeric(txt, errors="coerce")
        if num.notna().all():
            sec = num.to_numpy(dtype=np.float64)
            return sec - sec.min(), None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = pd.to_datetime(txt, format="ISO8601", utc=True, errors="coerce")
        if t.isna().any():
            i = int(np.flatnonzero(t.isna().to_numpy())[0])
            raise SpecError(f"{src.where(key)}: {src.path} {_row_label(src, int(s.index[i]))}: {name!r} = {s.iloc[i]!r} "
                            "is neither an ISO 8601 time nor a number of seconds")
        t = t.dt.tz_localize(None)
    ns = t.to_numpy(dtype="datetime64[ns]")
    t0 = ns.min()
    return (ns - t0).astype(np.int64) / 1e9, t0.astype("datetime64[ms]")


def _read_table(src: UserSource, rng: tuple[float, float]):
    import pandas as pd
    need = list(src.columns) + ([src.time_column] if src.time_column else [])
    try:
        if src.format == "csv":
            df = pd.read_csv(src.path, sep=src.delimiter, skip_blank_lines=False,
                             dtype={c: "string" for c in need}, keep_default_na=False)
        else:
            import pyarrow.parquet as pq
            have = pq.read_schema(src.path).names
            key = "column" if len(src.columns) == 1 else "columns"
            for k, c in [(key, c) for c in src.columns] + [("time_column", src.time_column)]:
                if c is not None and c not in have:
                    raise _missing_column(src, k, c, have, "column")
            df = pd.read_parquet(src.path, columns=need)
    except SpecError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many kinds on a bad file
        raise SpecError(f"{src.where('path')}: cannot read {src.path} as {src.format} "
                        f"({type(exc).__name__}: {exc})") from None
    key = "column" if len(src.columns) == 1 else "columns"
    for k, c in [(key, c) for c in src.columns] + [("time_column", src.time_column)]:
        if c is not None and c not in df.columns:
            raise _missing_column(src, k, c, list(df.columns), "column")
    if src.format == "csv":
        # Blank lines (kept so row numbers match file lines) hold no reading: with timestamps
        # they are dropped; without, a row is a sampling instant, so they are missing readings.
        cells = df[need].astype("string").apply(lambda s: s.str.strip())
        empty = (cells.isna() | (cells == "")).all(axis=1).to_numpy()
        if src.time_column:
            df = df[~empty]
    if len(df) == 0:
        raise SpecError(f"{src.where('path')}: {src.path} has no data rows")
    vals = np.column_stack([_numeric(src, key, c, df[c]) for c in src.columns])
    notes: dict[str, Any] = {"file": str(src.path), "rows": int(len(df))}
    rows = df.index.to_numpy()  # original row numbers (blank CSV lines dropped above keep theirs)
    vals = _checked(src, vals, rng, lambda i: f"{src.path} {_row_label(src, int(rows[i]))}", notes)
    if not src.time_column:
        return vals, None, float(src.period_s), notes
    sec, t0 = _seconds(src, df[src.time_column])
    order = np.argsort(sec, kind="stable")
    back = int((np.diff(sec) < 0).sum())
    sec, vals = sec[order], vals[order]
    period = src.period_s
    if period is None:
        d = np.diff(sec)
        d = d[d > 0]
        if not d.size:
            raise SpecError(f"{src.where('period_s')}: cannot infer the period from {src.time_column!r} "
                            "(fewer than two distinct timestamps); set period_s")
        period = float(np.median(d))
        notes["period_s_inferred"] = period
    slot = np.rint(sec / period).astype(np.int64)
    keep = np.concatenate([[True], slot[1:] != slot[:-1]])  # one reading per slot: the first
    T = int(slot[-1]) + 1
    grid = np.full((T, vals.shape[1]), np.nan)
    grid[slot[keep]] = vals[keep]
    notes.update(duplicate_slots=int((~keep).sum()), out_of_order_rows=back,
                 gap_slots=int(T - keep.sum()))
    return grid, t0, float(period), notes


def _wfdb_records(src: UserSource) -> list[Path]:
    p = src.path
    if not p.is_dir():
        base = p.with_suffix("") if p.suffix == ".hea" else p
        if src.records is not None:
            raise SpecError(f"{src.where('records')}: path {p} is one record; point path at the folder "
                            "to name records")
        return [base]
    if isinstance(src.records, list):
        names = src.records
    else:
        listing = p / (src.records or "RECORDS")
        if listing.is_file():
            names = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
        elif src.records:
            raise SpecError(f"{src.where('records')}: {listing} does not exist")
        else:
            names = sorted(h.stem for h in p.glob("*.hea"))
    if not names:
        raise SpecError(f"{src.where('path')}: no WFDB records (.hea) in {p}")
    out = []
    for r in names:
        if not (p / f"{r}.hea").is_file():
            raise SpecError(f"{src.where('records')}: record {r!r}: {p / (r + '.hea')} does not exist")
        out.append(p / r)
    return out


def _read_wfdb(src: UserSource) -> list[tuple[str, np.ndarray, float, tuple[int, int] | None, dict]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import wfdb
        from wfdb.io._signal import _digi_nan
    key = "column" if len(src.columns) == 1 else "columns"
    out = []
    for base in _wfdb_records(src):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # wfdb 4.3.1 trips pandas deprecation warnings; not ours
                rec = wfdb.rdrecord(str(base), physical=False)
        except Exception as exc:
            raise SpecError(f"{src.where('path')}: wfdb cannot read record {base} "
                            f"({type(exc).__name__}: {exc})") from None
        names = list(rec.sig_name or [])
        cols, adc = [], []
        for c in src.columns:
            if c not in names:
                raise SpecError(f"{src.where(key)}: no signal {c!r} in record {base}; it has: "
                                f"{', '.join(names) or 'none'}")
            j = names.index(c)
            x = np.asarray(rec.d_signal[:, j], dtype=np.float64)
            x[x == _digi_nan(rec.fmt[j])] = np.nan
            cols.append(x)
            res, zero = int(rec.adc_res[j] or 0), int(rec.adc_zero[j] or 0)
            adc.append((zero - (1 << (res - 1)), zero + (1 << (res - 1)) - 1) if res else None)
        notes = {"record": str(base), "fs": float(rec.fs),
                 "gain": {c: f"{rec.adc_gain[names.index(c)]:g} adu/{rec.units[names.index(c)]}"
                          for c in src.columns}}
        rng = None if any(a is None for a in adc) else (min(a[0] for a in adc), max(a[1] for a in adc))
        out.append((base.name, np.column_stack(cols), 1.0 / float(rec.fs), rng, notes))
    return out


# ------------------------------------------------------------------ to Signals

def word_of(src: UserSource, lo: float, hi: float) -> tuple[int, int, int, int]:
    """(lo_code, hi_code, word_bits, word_lo) of a sensor range."""
    q = src.quantum
    lo_c, hi_c = int(np.rint(lo / q)), int(np.rint(hi / q))
    key = "sensor_range"
    if lo_c <= MISSING or hi_c > INT16_MAX:
        raise SpecError(f"{src.where(key)}: [{lo:g}, {hi:g}] {src.unit} is codes {lo_c}..{hi_c} at quantum "
                        f"{q:g}; codes must lie in {MISSING + 1}..{INT16_MAX} (int16, {MISSING} marks "
                        "a missing reading): use a larger quantum")
    if hi_c <= lo_c:
        raise SpecError(f"{src.where(key)}: [{lo:g}, {hi:g}] {src.unit} is a single code at quantum {q:g}")
    need = (hi_c - lo_c).bit_length()
    wb = src.word_bits if src.word_bits is not None else need
    if wb < need:
        raise SpecError(f"{src.where('word_bits')}: {wb} bits cannot hold codes {lo_c}..{hi_c} "
                        f"(sensor_range at quantum {q:g}); need {need}")
    return lo_c, hi_c, wb, lo_c


def _checked(src: UserSource, vals: np.ndarray, rng: tuple[float, float], label, notes: dict) -> np.ndarray:
    """Readings on the quantum grid and inside sensor_range (or errors naming the row via label(i))."""
    q = src.quantum
    ok = ~np.isnan(vals)
    r = np.where(ok, vals, 0.0) / q
    err = np.where(ok, np.abs(r - np.rint(r)), 0.0)
    if err.size and err.max() > QUANTUM_TOL:
        if not src.round_to_quantum:
            i, j = np.unravel_index(int(np.argmax(err)), err.shape)
            raise SpecError(f"{src.where('quantum')}: {label(int(i))}: reading {float(vals[i, j])!r} is not a multiple "
                            f"of quantum {q:g} {src.unit}; give the sensor's true resolution, or set "
                            "round_to_quantum = true")
        notes["rounded_to_quantum"] = int((err > QUANTUM_TOL).sum())
        vals = np.where(ok, np.rint(r) * q, np.nan)
    lo, hi = rng
    codes = np.rint(r)
    out = ok & ((codes < np.rint(lo / q)) | (codes > np.rint(hi / q)))
    if out.any():
        if src.out_of_range == "error":
            i = int(np.flatnonzero(out.any(axis=1))[0])
            v = vals[i][out[i]][0]
            raise SpecError(f"{src.where('sensor_range')}: {label(i)}: reading {v:g} {src.unit} is outside "
                            f"[{lo:g}, {hi:g}] ({int(out.sum())} readings are); widen sensor_range or set "
                            "out_of_range = \"missing\"")
        notes["out_of_range_masked"] = int(out.sum())
        vals = np.where(out, np.nan, vals)
    return vals


def load_user_signals(src: UserSource) -> tuple[list[Signal], int]:
    """The user's series as Signals (one per file, or per WFDB record) and the word's lowest code."""
    _require_path(src)
    sigs = []
    if src.format == "wfdb":
        items = _read_wfdb(src)
        fs = {round(1.0 / it[2], 9) for it in items}
        if len(fs) > 1:
            raise SpecError(f"{src.where('path')}: records have different sampling rates {sorted(fs)} Hz")
        if src.period_s is not None and abs(src.period_s - items[0][2]) > 1e-9 * max(1.0, src.period_s):
            raise SpecError(f"{src.where('period_s')}: {src.period_s:g} s, but the records' header says "
                            f"fs = {1.0 / items[0][2]:g} Hz ({items[0][2]:g} s)")
        rng = src.sensor_range
        if rng is None:
            adc = [it[3] for it in items]
            if any(a is None for a in adc):
                raise SpecError(f"{src.where('sensor_range')}: missing, and the record header gives no ADC "
                                "resolution; give [lo, hi] in adu")
            rng = (float(min(a[0] for a in adc)), float(max(a[1] for a in adc)))
        lo_c, hi_c, wb, word_lo = word_of(src, *rng)
        for name, vals, step, _, notes in items:
            vals = _checked(src, vals, rng, lambda i, r=notes["record"]: f"record {r} sample {i}", notes)
            sigs.append(Signal(dataset=name, quantity=src.quantity, unit=src.unit, values=vals, t0=None,
                               step_s=step, sensors=list(src.columns), quantum=1.0, word_bits=wb,
                               lo=rng[0], hi=rng[1], notes=notes))
        return sigs, word_lo
    rng = src.sensor_range
    lo_c, hi_c, wb, word_lo = word_of(src, *rng)
    vals, t0, period, notes = _read_table(src, rng)
    return [Signal(dataset=src.path.name.split(".")[0], quantity=src.quantity, unit=src.unit, values=vals,
                   t0=t0, step_s=period, sensors=list(src.columns), quantum=src.quantum, word_bits=wb,
                   lo=rng[0], hi=rng[1], notes=notes)], word_lo


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_model_name(specs_file: Path, name: str) -> None:
    """Model names become folder names (models/<name>/, build/<name>/)."""
    if not _NAME.match(name):
        raise SpecError(f"{where(specs_file, name)}: model name must be letters, digits, '.', '_' or '-' "
                        "(it names the model's folders)")
