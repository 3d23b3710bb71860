"""Segments the ECG codec works on, with every label the downstream tasks need.

Why 2048 samples (5.69 s at 360 Hz): close to the paper's 2000-sample windows, so its sample ratios
compare like for like (2048 -> 32 / 64 / 128 latent values for CG 64 / 32 / 16); a power of two, so
each stride-2 layer halves the length exactly; and long enough to hold 5-8 beats, which the rhythm
task (AF is an irregular RR sequence) and the beat classifier's RR features need.

MIT-BIH (MLII, 11-bit adu): non-overlapping segments from sample 0, 317 per record (the last
800 samples of a record are not used). Beats: the AAMI class of every beat annotation (N S V F Q;
other annotations skipped). Rhythm per segment: the rhythm annotation in force at most of its
samples, mapped to CinC's four classes (N normal sinus, A atrial fibrillation or flutter, O every
other rhythm; MIT-BIH has no noise-only rhythm label).

CinC 2017 subset (300 Hz, 1000 adu/mV): resampled to 360 Hz (polyphase 6/5) and mapped onto the
MIT-BIH adu scale (200 adu/mV around 1024, clipped to 0..2047, rounded) so one codec serves both;
non-overlapping 2048-sample segments, each labelled with its record's v3 label (N A O ~). Split: every
5th record of each class (sorted by name) is test, the rest train.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ADU_PER_MV, FS, SEG_N

AAMI = ("N", "S", "V", "F", "Q")
AAMI_SYMBOLS = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
SYM2CLS = {s: i for i, c in enumerate(AAMI) for s in AAMI_SYMBOLS[c]}
RHYTHMS = ("N", "A", "O", "~")      # CinC 2017 classes: normal, AF, other, noisy
RHYTHM_MAP = {"(N": 0, "(AFIB": 1, "(AFL": 1}   # every other MIT-BIH rhythm -> O (2)
CINC_FS = 300.0
CINC_ADU_PER_MV = 1000.0
BASELINE = 1024


def _wfdb():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import wfdb
    return wfdb


@dataclass
class RecordSegments:
    record: int
    x: np.ndarray            # (S, SEG_N) int16 adu
    beat_sample: np.ndarray  # absolute sample of every AAMI beat
    beat_class: np.ndarray   # its class 0..4
    rhythm: np.ndarray       # (S,) rhythm class per segment (0 N, 1 A, 2 O)
    rhythm_per_sample: np.ndarray  # (650000,) int8

    @property
    def n_segments(self) -> int:
        return len(self.x)

    def beats_in(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """Beats whose R peak lies in segment s: (offset in the segment, class)."""
        lo, hi = s * SEG_N, (s + 1) * SEG_N
        m = (self.beat_sample >= lo) & (self.beat_sample < hi)
        return self.beat_sample[m] - lo, self.beat_class[m]

    def segment_of_beat(self) -> np.ndarray:
        return self.beat_sample // SEG_N


@functools.lru_cache(maxsize=64)
def record_segments(record: int) -> RecordSegments:
    from ...data import data_root, load_mitdb_mlii
    wfdb = _wfdb()
    full = load_mitdb_mlii(record).values[:, 0].astype(np.int16)
    S = len(full) // SEG_N
    x = full[: S * SEG_N].reshape(S, SEG_N)
    ann = wfdb.rdann(str(data_root() / "mitdb" / str(record)), "atr")
    samp = np.asarray(ann.sample, dtype=np.int64)
    cls = np.array([SYM2CLS.get(s, -1) for s in ann.symbol])
    keep = cls >= 0
    # rhythm in force per sample: '+' annotations carry "(AFIB" etc. in aux_note (some with a NUL)
    rps = np.full(len(full), 0, np.int8)
    cur, start = 0, 0
    for s, sym, aux in zip(samp, ann.symbol, ann.aux_note):
        if sym != "+" or not aux:
            continue
        rps[start:s] = cur
        cur = RHYTHM_MAP.get(aux.rstrip("\x00").strip(), 2)
        start = s
    rps[start:] = cur
    seg_r = rps[: S * SEG_N].reshape(S, SEG_N)
    rhythm = np.array([np.bincount(r, minlength=3).argmax() for r in seg_r], np.int8)
    return RecordSegments(record, x, samp[keep], cls[keep].astype(np.int8), rhythm, rps)


def normalize(x_adu: np.ndarray) -> np.ndarray:
    """The codec's input: (adu - segment mean) / 200, i.e. mean-removed mV, float32."""
    x = np.asarray(x_adu, dtype=np.float64)
    return ((x - x.mean(-1, keepdims=True)) / ADU_PER_MV).astype(np.float32)


# ---------------------------------------------------------------- CinC 2017 subset

@dataclass
class CincSegments:
    x: np.ndarray        # (S, SEG_N) int16, MIT-BIH adu scale at 360 Hz
    label: np.ndarray    # (S,) 0..3 = N A O ~
    record: np.ndarray   # (S,) record name of each segment


def _cinc_dir() -> Path:
    from ...data import data_root
    return data_root() / "cinc2017_subset"


@functools.lru_cache(maxsize=4)
def cinc_split() -> dict[str, list[str]]:
    """{'train': [...], 'test': [...]}: every 5th record per class (sorted by name) is test."""
    import csv
    rows = list(csv.reader(open(_cinc_dir() / "REFERENCE-v3.csv")))
    by = {}
    for name, lab in rows:
        by.setdefault(lab, []).append(name)
    tr, te = [], []
    for lab in sorted(by):
        names = sorted(by[lab])
        te += names[4::5]
        tr += [n for i, n in enumerate(names) if i % 5 != 4]
    return {"train": sorted(tr), "test": sorted(te)}


@functools.lru_cache(maxsize=4)
def cinc_labels() -> dict[str, int]:
    import csv
    return {name: RHYTHMS.index(lab) for name, lab in csv.reader(open(_cinc_dir() / "REFERENCE-v3.csv"))}


def cinc_record_adu(name: str) -> np.ndarray:
    """One CinC record at 360 Hz on the MIT-BIH adu scale (int16, 0..2047)."""
    from scipy.io import loadmat
    from scipy.signal import resample_poly
    v = loadmat(str(_cinc_dir() / f"{name}.mat"))["val"][0].astype(np.float64)
    mv = resample_poly(v / CINC_ADU_PER_MV, 6, 5)
    return np.clip(np.round(mv * ADU_PER_MV + BASELINE), 0, 2047).astype(np.int16)


@functools.lru_cache(maxsize=4)
def cinc_segments(part: str) -> CincSegments:
    names = cinc_split()[part]
    labels = cinc_labels()
    xs, ys, rs = [], [], []
    for n in names:
        a = cinc_record_adu(n)
        S = len(a) // SEG_N
        if S == 0:
            continue
        xs.append(a[: S * SEG_N].reshape(S, SEG_N))
        ys += [labels[n]] * S
        rs += [n] * S
    return CincSegments(np.concatenate(xs), np.array(ys, np.int8), np.array(rs))


def segment_seconds() -> float:
    return SEG_N / FS
