"""MIT-BIH data shared by the ECG zoo models (ecg_cae, ecg_beat_cnn): MLII windows normalized to
mean-removed mV, AAMI beats around the annotated R peaks, subsets capped per class, PRD."""
from __future__ import annotations

import warnings

import numpy as np

from .common import _evenly

# ---------------------------------------------------------------- ECG data

ECG_ADU_PER_MV = 200.0
AAMI = ("N", "S", "V", "F", "Q")
AAMI_SYMBOLS = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
SYM2CLS = {s: i for i, c in enumerate(AAMI) for s in AAMI_SYMBOLS[c]}


def _mlii(record: int) -> np.ndarray:
    from ...data import load_mitdb_mlii
    return load_mitdb_mlii(record).values[:, 0]


def _normalize_ecg(w: np.ndarray) -> np.ndarray:
    """Per-window mean removal, then mV: (adu - mean(window)) / 200."""
    w = np.asarray(w, dtype=np.float64)
    return ((w - w.mean(-1, keepdims=True)) / ECG_ADU_PER_MV).astype(np.float32)


def _ecg_windows(records, per_record: int, n: int = 256) -> np.ndarray:
    out = []
    for r in records:
        x = _mlii(r)
        w = x[: len(x) // n * n].reshape(-1, n)
        out.append(w[_evenly(len(w), per_record)])
    return np.concatenate(out)


def _beats(records, half: int = 64) -> tuple[np.ndarray, np.ndarray]:
    from ...data import data_root
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import wfdb
    X, y = [], []
    for r in records:
        x = _mlii(r)
        ann = wfdb.rdann(str(data_root() / "mitdb" / str(r)), "atr")
        s = np.asarray(ann.sample)
        c = np.array([SYM2CLS.get(sym, -1) for sym in ann.symbol])
        keep = (c >= 0) & (s - half >= 0) & (s + half <= len(x))
        idx = s[keep][:, None] + np.arange(-half, half)[None, :]
        X.append(x[idx])
        y.append(c[keep])
    return np.concatenate(X), np.concatenate(y)


def _cap(X, y, caps: dict[int, int], rng) -> tuple[np.ndarray, np.ndarray]:
    """At most caps[class] beats per class (seeded random subset, original order kept)."""
    keep = []
    for k in range(len(AAMI)):
        i = np.flatnonzero(y == k)
        if len(i) > caps.get(k, len(i)):
            i = np.sort(rng.choice(i, caps[k], replace=False))
        keep.append(i)
    keep = np.sort(np.concatenate(keep))
    return X[keep], y[keep]


def prd(x: np.ndarray, xh: np.ndarray) -> np.ndarray:
    """Percent RMS difference per window, 100 ||x - xh|| / ||x||, on mean-removed windows (= PRDN)."""
    x = x.reshape(len(x), -1)
    xh = xh.reshape(len(xh), -1)
    return 100.0 * np.sqrt(((x - xh) ** 2).sum(1) / np.maximum((x ** 2).sum(1), 1e-12))


