"""Decoded signals to the files users open: CSV, WFDB (ECG) and Parquet (columnar).

The ECG dynamic codec's segments (`segments`: level and flag of each decoded segment) go along:
CSV and Parquet get per-sample `level` and `flag` columns (empty / null where no segment was
decoded), WFDB an annotation file <record>.lvl with one measurement annotation ('=') per segment
at its first sample, aux_note "level=2 cg=32 flag=none". Not a comment annotation ('"'): WFDB
readers take a comment at sample 0 for a file definition (wfdb.rdann drops it), and the first
segment starts there.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMATS = ("csv", "wfdb", "parquet")
LEVEL_ANN_EXT = "lvl"      # WFDB annotation file of the segments' levels
NOTE_SYMBOL = "="          # WFDB's measurement annotation: the text is in aux_note


@dataclass(frozen=True)
class SegmentInfo:
    """One decoded segment of the ECG dynamic codec: samples start..start+length-1."""
    start: int
    length: int
    level: int   # 0 lossless, 1..3 CG 16 / 32 / 64
    flag: int    # 0 none, 1 flat, 2 saturated, 3 missing


def flag_name(flag: int) -> str:
    from toolchain.codecs.ecg_dynamic.bitstream import FLAG_NAMES
    return FLAG_NAMES[flag]


def segment_note(seg: SegmentInfo) -> str:
    """The annotation text of a segment: level, compression gain in samples, flag."""
    from toolchain.codecs.ecg_dynamic import LEVEL_CG
    return f"level={seg.level} cg={LEVEL_CG[seg.level]} flag={flag_name(seg.flag)}"


def _per_sample(segments: Sequence[SegmentInfo], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(level, flag, covered) per sample of n: covered False where no segment was decoded."""
    level = np.zeros(n, np.int8)
    flag = np.zeros(n, np.int8)
    covered = np.zeros(n, bool)
    for s in segments:
        lo, hi = max(0, s.start), min(n, s.start + s.length)
        level[lo:hi], flag[lo:hi], covered[lo:hi] = s.level, s.flag, True
    return level, flag, covered


def _write_level_annotations(rec: str, write_dir: Path, segments: Sequence[SegmentInfo], fs: float) -> Path:
    import wfdb

    segs = sorted(segments, key=lambda s: s.start)
    wfdb.wrann(rec, LEVEL_ANN_EXT, np.array([s.start for s in segs], dtype=np.int64),
               symbol=[NOTE_SYMBOL] * len(segs), aux_note=[segment_note(s) for s in segs], fs=fs,
               write_dir=str(write_dir))
    return write_dir / f"{rec}.{LEVEL_ANN_EXT}"


def write_signals(path: Path, fmt: str, channels: dict[str, np.ndarray], fs: float | None = None,
                  units: str = "adu", valid: dict[str, np.ndarray] | None = None,
                  segments: Sequence[SegmentInfo] | None = None) -> list[Path]:
    """Write equally long channels (native integer units). `valid` marks samples that were
    received (False: lost on the link, written as empty / NaN / WFDB's invalid sample).
    `segments` (the ECG dynamic codec's): per-sample level/flag columns, or a WFDB .lvl annotation file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(channels)
    n = max((len(v) for v in channels.values()), default=0)
    cols = {k: np.asarray(v) for k, v in channels.items()}
    ok = {k: (np.asarray(valid[k], bool) if valid and k in valid else np.ones(len(cols[k]), bool)) for k in names}
    if segments is not None:
        clash = {"level", "flag", "sample"} & set(names)
        if clash:
            raise ValueError(f"channel name(s) {sorted(clash)} collide with the segment columns level/flag")
        level, flag, covered = _per_sample(segments, n)
    if fmt == "csv":
        extra = ["level", "flag"] if segments is not None else []
        with open(path, "w") as f:
            f.write(",".join(["sample", *names, *extra]) + "\n")
            for i in range(n):
                row = [str(i)] + [str(int(cols[k][i])) if i < len(cols[k]) and ok[k][i] else "" for k in names]
                if extra:
                    row += [str(int(level[i])), flag_name(int(flag[i]))] if covered[i] else ["", ""]
                f.write(",".join(row) + "\n")
        return [path]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = {"sample": pa.array(np.arange(n, dtype=np.int64))}
        for k in names:
            v = np.zeros(n, dtype=np.int32)
            m = np.zeros(n, dtype=bool)
            v[:len(cols[k])] = cols[k]
            m[:len(cols[k])] = ok[k]
            arrays[k] = pa.array(v, mask=~m)
        if segments is not None:
            arrays["level"] = pa.array(level, mask=~covered)
            arrays["flag"] = pa.array([flag_name(int(f)) if c else None for f, c in zip(flag, covered)],
                                      type=pa.string()).dictionary_encode()
        table = pa.table(arrays)
        meta = {b"tinycodec.fs": str(fs).encode(), b"tinycodec.units": units.encode()}
        pq.write_table(table.replace_schema_metadata(meta), path)
        return [path]
    if fmt == "wfdb":
        import wfdb

        if fs is None:
            raise ValueError("WFDB needs a sampling frequency")
        d = np.full((n, len(names)), -32768, dtype=np.int64)  # WFDB's invalid sample for fmt 16
        for j, k in enumerate(names):
            d[:len(cols[k]), j] = np.where(ok[k], cols[k], -32768)
        rec = path.with_suffix("").name
        wfdb.wrsamp(rec, fs=fs, units=[units] * len(names), sig_name=names, d_signal=d.astype(np.int16),
                    fmt=["16"] * len(names), adc_gain=[200.0] * len(names), baseline=[0] * len(names),
                    write_dir=str(path.parent))
        out = [path.parent / f"{rec}.hea", path.parent / f"{rec}.dat"]
        if segments:
            out.append(_write_level_annotations(rec, path.parent, segments, fs))
        return out
    raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
