"""Model specs (models/specs.toml) to integer train / validation / test windows."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import REPO_ROOT
from .. import data as D

SPECS_FILE = REPO_ROOT / "models" / "specs.toml"
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


def load_specs(path: Path = SPECS_FILE) -> dict[str, Spec]:
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    return {name: Spec(name=name, **tbl) for name, tbl in raw.items()}


def get_spec(name: str) -> Spec:
    specs = load_specs()
    if name not in specs:
        raise KeyError(f"unknown model {name!r}; models/specs.toml defines: {', '.join(sorted(specs))}")
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


SOURCES = {
    "gsb_temperature": lambda spec: _wsn([D.load_gsb_temperature()], spec),
    "ulb_humidity": lambda spec: _wsn([D.load_ulb_humidity(d) for d in ("library1", "library2", "no5")], spec),
    "intel_temperature": lambda spec: _wsn([D.load_intel_lab()], spec),
    "mitdb_mlii": _mitdb,
}


@lru_cache(maxsize=None)
def prepare(name: str) -> Prepared:
    spec = get_spec(name)
    if spec.source not in SOURCES:
        raise KeyError(f"model {name}: unknown source {spec.source!r}; known: {', '.join(SOURCES)}")
    return SOURCES[spec.source](spec)
