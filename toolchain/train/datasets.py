"""Model specs (models/specs.toml, or a user's specs file) to integer train / validation / test windows.

A spec names a built-in loader (`source = "gsb_temperature"`, ...) or the user's own data
(`source = "file"`: a CSV / Parquet column or a WFDB record set; toolchain/data/user_file.py).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import paths
from .. import data as D
from ..data import user_file as U
from ..data.splits import MIN_DAYS_FOR_WHOLE_DAY_SPLIT
from ..data.user_file import SpecError

SPECS_FILE = paths.models_dir() / "specs.toml"
WSN_WORD_LO = -32768   # WSN readings travel as int16 counts of 0.01 units
MITDB_TRAIN_WINDOWS = 40000
MITDB_TEST_WINDOWS_PER_RECORD = 300  # evenly spaced through each DS2 record
MAX_MISSING_TEST = 0.5  # windows with more missing readings than this are not sent at all


@dataclass
class Spec:
    name: str
    source: str
    mode: str
    n: int
    hidden: int
    latent_bits: int
    eps: list[int]
    latent_bits_sweep: list[int] = field(default_factory=list)


@dataclass
class FileSpec(Spec):
    """A spec over the user's own data (`source = "file"`), read from a user's specs file."""
    options: dict = field(default_factory=dict)   # user_file.OPTION_KEYS given in the table
    specs_file: str = ""                           # absolute path of the specs file it came from


SPEC_KEYS = {"source", "mode", "n", "hidden", "latent_bits", "eps", "latent_bits_sweep"}


@dataclass
class Prepared:
    spec: Spec
    dataset: str          # data set name for reports
    signal: str           # quantity
    unit: str
    quantum: float
    word_bits: int
    lo: int               # lowest code of the native word
    sensor_lo: int        # data-sheet range, native units
    sensor_hi: int
    train: np.ndarray     # int64 (N, n), complete windows only
    val: np.ndarray
    test: np.ndarray      # may contain MISSING readings (imputed on the device)
    notes: dict = field(default_factory=dict)


def _check_spec(path: Path, name: str, tbl: dict) -> dict:
    """Types and values of the Spec keys, with errors naming the file, the table and the key."""
    W = lambda k: U.where(path, name, k)  # noqa: E731
    if not isinstance(tbl, dict):
        raise SpecError(f"{W(None)}: expected a table of keys, got {tbl!r}")
    U.check_model_name(path, name)
    tbl = dict(tbl)
    if tbl.get("source") == "file" and tbl.get("mode") == "spatial" and "n" not in tbl \
            and isinstance(tbl.get("columns"), list):
        tbl["n"] = len(tbl["columns"])  # spatial: one reading per sensor
    for k in ("source", "mode", "n", "hidden", "latent_bits", "eps"):
        if k not in tbl:
            raise SpecError(f"{W(k)}: missing")
    if not isinstance(tbl["source"], str):
        raise SpecError(f"{W('source')}: expected a string, got {tbl['source']!r}")
    if tbl["source"] != "file":
        extra = sorted(set(tbl) - SPEC_KEYS)
        if extra:
            raise SpecError(f"{W(extra[0])}: unknown key (keys: {', '.join(sorted(SPEC_KEYS))}; "
                            "data-file keys need source = \"file\")")
    if tbl["mode"] not in ("temporal", "spatial"):
        raise SpecError(f"{W('mode')}: expected \"temporal\" or \"spatial\", got {tbl['mode']!r}")

    def ints(k, lo, hi, many=False):
        v = tbl[k] if k in tbl else []
        vs = v if many else [v]
        if (many and (not isinstance(v, list) or (k == "eps" and not v))) or any(
                isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi for x in vs):
            raise SpecError(f"{W(k)}: expected {'a list of integers' if many else 'an integer'} "
                            f"{lo}..{hi}, got {v!r}")
    ints("n", 1, 1024)
    ints("hidden", 1, 64)
    ints("latent_bits", 1, 14)
    ints("eps", 1, 32767, many=True)
    ints("latent_bits_sweep", 1, 14, many=True)
    if tbl["hidden"] >= tbl["n"]:
        raise SpecError(f"{W('hidden')}: {tbl['hidden']} latent units for n = {tbl['n']} readings is no compression")
    return tbl


def load_specs(path: Path = SPECS_FILE) -> dict[str, Spec]:
    """The model specs of a TOML file (default: the built-in models/specs.toml).

    Tables with `source = "file"` become FileSpecs; their data path is relative to the file's folder."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise SpecError(f"specs file {path} does not exist")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML ({exc})") from None
    out: dict[str, Spec] = {}
    for name, tbl in raw.items():
        tbl = _check_spec(path, name, tbl)
        base = {k: tbl[k] for k in SPEC_KEYS if k in tbl}
        if tbl["source"] == "file":
            opts = {k: v for k, v in tbl.items() if k not in SPEC_KEYS}
            U.parse_options(path, name, opts)  # key errors now, not at training time
            out[name] = FileSpec(name=name, **base, options=opts, specs_file=str(path))
        else:
            out[name] = Spec(name=name, **base)
    return out


def get_spec(name: str, specs_file: Path | None = None) -> Spec:
    """Spec `name` of the built-in specs, or of a user's specs file (whose names must not
    shadow built-in models: they share build/<name>/ and models/<name>/)."""
    user = specs_file is not None and Path(specs_file).expanduser().resolve() != SPECS_FILE.resolve()
    specs = load_specs(Path(specs_file) if user else SPECS_FILE)
    shown = Path(specs_file).expanduser().resolve() if user else "models/specs.toml"
    if name not in specs:
        raise KeyError(f"unknown model {name!r}; {shown} defines: {', '.join(sorted(specs)) or 'none'}")
    if user and name in load_specs():
        raise SpecError(f"{U.where(shown, name)}: a built-in model has this name (models/specs.toml); "
                        "rename the table")
    return specs[name]


def _windows(sig: D.Signal, spec: Spec, max_missing: float) -> np.ndarray:
    if spec.mode == "spatial":
        if sig.S != spec.n:
            raise ValueError(f"{spec.name}: spatial model has n={spec.n} but {sig.dataset} has {sig.S} sensors")
        return D.spatial_windows(sig, max_missing=max_missing)
    return D.temporal_windows(sig, spec.n, max_missing=max_missing)[0]


def _wsn(sigs: list[D.Signal], spec: Spec) -> Prepared:
    parts = {"train": [], "val": [], "test": []}
    for sig in sigs:
        tr, va, te = D.split_chronological(sig)
        parts["train"].append(_windows(tr, spec, 0.0))
        parts["val"].append(_windows(va, spec, 0.0))
        parts["test"].append(_windows(te, spec, MAX_MISSING_TEST))
    s0 = sigs[0]
    cat = {k: np.concatenate(v) if v else np.zeros((0, spec.n), np.int64) for k, v in parts.items()}
    return Prepared(spec, s0.dataset.split("-")[0], s0.quantity, s0.unit, s0.quantum, s0.word_bits,
                    WSN_WORD_LO, int(round(s0.lo / s0.quantum)), int(round(s0.hi / s0.quantum)),
                    cat["train"], cat["val"], cat["test"],
                    notes={"sources": [s.dataset for s in sigs]})


def _mitdb(spec: Spec, test_per_record: int = MITDB_TEST_WINDOWS_PER_RECORD) -> Prepared:
    split = D.mitdb_split()

    def wins(records, per_record=None):
        out = []
        for r in records:
            w = D.temporal_windows(D.load_mitdb_mlii(r), spec.n)[0]
            if per_record and len(w) > per_record:
                w = w[np.linspace(0, len(w) - 1, per_record).round().astype(int)]
            out.append(w)
        return np.concatenate(out)

    train = wins(split["train"])
    if len(train) > MITDB_TRAIN_WINDOWS:  # evenly spaced subset: L-BFGS on all 400k is wasted time
        train = train[np.linspace(0, len(train) - 1, MITDB_TRAIN_WINDOWS).round().astype(int)]
    val = wins(split["val"], 2000)
    test = wins(split["test"], test_per_record)
    sig = D.load_mitdb_mlii(split["test"][0])
    return Prepared(spec, "mitdb", "ecg-mlii", sig.unit, sig.quantum, sig.word_bits, 0, 0,
                    (1 << sig.word_bits) - 1, train, val, test,
                    notes={"train_records": split["train"], "val_records": split["val"],
                           "test_records": split["test"], "test_windows_per_record": test_per_record})


MIN_WINDOWS = {"train": 20, "val": 1, "test": 1}


def _user_file(spec: FileSpec) -> Prepared:
    """A user's CSV / Parquet / WFDB series, split chronologically like the WSN sets."""
    src = U.parse_options(Path(spec.specs_file), spec.name, spec.options)
    if spec.mode == "spatial" and len(src.columns) != spec.n:
        raise SpecError(f"{U.where(spec.specs_file, spec.name, 'n')}: spatial mode takes one reading per "
                        f"sensor, so n must be len(columns) = {len(src.columns)}, got {spec.n}")
    sigs, word_lo = U.load_user_signals(src)
    parts = {"train": [], "val": [], "test": []}
    how = set()
    for sig in sigs:
        days = sig.T * sig.step_s / 86400.0
        how.add("whole days" if days >= MIN_DAYS_FOR_WHOLE_DAY_SPLIT else "rows")
        try:
            tr, va, te = D.split_chronological(sig)
        except ValueError as exc:
            raise SpecError(f"{U.where(spec.specs_file, spec.name, 'path')}: {exc}") from None
        parts["train"].append(_windows(tr, spec, 0.0))
        parts["val"].append(_windows(va, spec, 0.0))
        parts["test"].append(_windows(te, spec, MAX_MISSING_TEST))
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    s0 = sigs[0]
    rows = sum(s.T for s in sigs)
    for k, need in MIN_WINDOWS.items():
        if len(cat[k]) < need:
            per = spec.n if spec.mode == "temporal" else 1
            raise SpecError(
                f"{U.where(spec.specs_file, spec.name, 'path')}: {rows} rows of {src.path} give "
                f"{len(cat[k])} {k} windows (need >= {need}; the split is 70/10/20 chronological, train and "
                f"validation windows must be complete): supply more rows (at least ~"
                f"{int(np.ceil(MIN_WINDOWS['train'] * per / 0.7))} without gaps) or a smaller n")
    miss = float(np.mean([s.missing_fraction() for s in sigs]))
    notes = {"file": str(src.path), "format": src.format, "columns": src.columns,
             "split": f"chronological 70/10/20 by {' / '.join(sorted(how))}"
                      + (" per record" if len(sigs) > 1 else ""),
             "period_s": round(s0.step_s, 9), "missing_fraction": round(miss, 4)}
    if len(sigs) > 1:
        notes["records"] = [s.dataset for s in sigs]
    if "gain" in s0.notes:  # WFDB: adu per physical unit, from the header
        notes["gain"] = s0.notes["gain"]
    for k in ("duplicate_slots", "out_of_order_rows", "gap_slots", "rounded_to_quantum", "out_of_range_masked",
              "period_s_inferred"):
        tot = [s.notes[k] for s in sigs if k in s.notes]
        if tot:
            notes[k] = sum(tot) if k != "period_s_inferred" else tot[0]
    return Prepared(spec, s0.dataset if len(sigs) == 1 else src.path.name, s0.quantity, s0.unit, s0.quantum,
                    s0.word_bits, word_lo, int(round(s0.lo / s0.quantum)), int(round(s0.hi / s0.quantum)),
                    cat["train"], cat["val"], cat["test"], notes=notes)


SOURCES = {
    "gsb_temperature": lambda spec: _wsn([D.load_gsb_temperature()], spec),
    "ulb_humidity": lambda spec: _wsn([D.load_ulb_humidity(d) for d in ("library1", "library2", "no5")], spec),
    "intel_temperature": lambda spec: _wsn([D.load_intel_lab()], spec),
    "mitdb_mlii": _mitdb,
    "file": _user_file,
}


@lru_cache(maxsize=None)
def _prepare_builtin(name: str) -> Prepared:
    return _prepare_spec(get_spec(name))


def _prepare_spec(spec: Spec) -> Prepared:
    if spec.source not in SOURCES:
        raise KeyError(f"model {spec.name}: unknown source {spec.source!r}; known: {', '.join(SOURCES)}")
    return SOURCES[spec.source](spec)


def prepare(name: str, specs_file: Path | str | None = None) -> Prepared:
    """Windows of model `name`: a built-in spec (cached per process), or one of a user's specs file
    (read afresh each call, so an edited data file is seen)."""
    if specs_file is None or Path(specs_file).expanduser().resolve() == SPECS_FILE.resolve():
        return _prepare_builtin(name)
    return _prepare_spec(get_spec(name, Path(specs_file)))



def _toml_value(v) -> str:
    import json
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if np.isfinite(v) else "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def write_spec(spec: Spec, path: Path) -> Path:
    """`spec` as a one-table specs file (a file spec's data path made absolute), saved next to a
    user's trained model so that build / run / decode find its data without --specs."""
    tbl = {k: getattr(spec, k) for k in ("source", "mode", "n", "hidden", "latent_bits", "eps",
                                         "latent_bits_sweep")}
    if isinstance(spec, FileSpec):
        opts = dict(spec.options)
        src = U.parse_options(Path(spec.specs_file), spec.name, opts)
        opts["path"] = str(src.path.resolve())
        tbl.update(opts)
    lines = [f"# {spec.name}: the spec this model was trained from"
             + (f" ({spec.specs_file})" if isinstance(spec, FileSpec) else ""),
             f"[{_toml_value(spec.name)}]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in tbl.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
