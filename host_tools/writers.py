"""Decoded signals to the files users open: CSV, WFDB (ECG) and Parquet (columnar)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

FORMATS = ("csv", "wfdb", "parquet")


def write_signals(path: Path, fmt: str, channels: dict[str, np.ndarray], fs: float | None = None,
                  units: str = "adu", valid: dict[str, np.ndarray] | None = None) -> list[Path]:
    """Write equally long channels (native integer units). `valid` marks samples that were
    received (False: lost on the link, written as empty / NaN / WFDB's invalid sample)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(channels)
    n = max((len(v) for v in channels.values()), default=0)
    cols = {k: np.asarray(v) for k, v in channels.items()}
    ok = {k: (np.asarray(valid[k], bool) if valid and k in valid else np.ones(len(cols[k]), bool)) for k in names}
    if fmt == "csv":
        with open(path, "w") as f:
            f.write(",".join(["sample", *names]) + "\n")
            for i in range(n):
                row = [str(i)] + [str(int(cols[k][i])) if i < len(cols[k]) and ok[k][i] else "" for k in names]
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
        return [path.parent / f"{rec}.hea", path.parent / f"{rec}.dat"]
    raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
