"""MIT-BIH Arrhythmia Database: the MLII lead as raw 11-bit ADC samples.

Codecs work on the digital samples (0..2047 adu, 360 Hz, 200 adu/mV around a 1024
baseline), exactly what the recorder's ADC produced, so no physical-unit rounding
gets in the way of bit-exact tests.

Record groups follow de Chazal et al. (2004), the usual inter-patient split: DS1 for
training, DS2 for testing, the four paced records excluded.
"""
from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np

from .root import DataError, require_file, resolve_root
from .signals import Signal

DS1 = [101, 106, 108, 109, 112, 114, 115, 116, 118, 119, 122, 124, 201, 203, 205, 207, 208, 209, 215, 220, 223, 230]
DS2 = [100, 103, 105, 111, 113, 117, 121, 123, 200, 202, 210, 212, 213, 214, 219, 221, 222, 228, 231, 232, 233, 234]
PACED = [102, 104, 107, 217]

MITDB_FS = 360.0
MITDB_LEN = 650_000
MITDB_ADC_MAX = 2047  # 11-bit ADC
LEAD = "MLII"


@functools.lru_cache(maxsize=64)
def _read_mlii(root: Path, record: int) -> np.ndarray:
    """Digital MLII samples (length 650000) of one record; cached (a read takes ~0.05 s).

    Kept as int16 so that caching all 44 usable records costs ~57 MB, not ~230 MB."""
    with warnings.catch_warnings():
        # wfdb 4.3.1 trips pandas deprecation warnings at import time; not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        import wfdb  # imported lazily: only the ECG path needs it

    hea = require_file(f"mitdb/{record}.hea", root)
    require_file(f"mitdb/{record}.dat", root)
    base = str(hea.with_suffix(""))
    try:
        rec = wfdb.rdrecord(base, physical=False)
    except Exception as exc:  # wfdb raises a mix of ValueError/IndexError/... on bad files
        raise DataError(f"{hea}: wfdb cannot read record {record} ({type(exc).__name__}: {exc})") from None
    names = list(rec.sig_name or [])
    if LEAD not in names:
        raise DataError(f"MIT-BIH record {record} has no {LEAD} lead (leads: {', '.join(names)}) in {hea}")
    if rec.fs != MITDB_FS or rec.sig_len != MITDB_LEN:
        raise DataError(f"{hea}: expected fs={MITDB_FS:g} Hz and {MITDB_LEN} samples, "
                        f"got fs={rec.fs} and {rec.sig_len}")
    # The channel is chosen by name, not position: record 114 has MLII in channel 1.
    x = np.asarray(rec.d_signal[:, names.index(LEAD)], dtype=np.int64)
    if x.min() < 0 or x.max() > MITDB_ADC_MAX:
        raise DataError(f"{hea}: MLII samples span {x.min()}..{x.max()}, outside the 0..{MITDB_ADC_MAX} ADC range")
    return x.astype(np.int16)


def load_mitdb_mlii(record: int, root: str | os.PathLike[str] | None = None) -> Signal:
    """The MLII lead of one MIT-BIH record as a (650000, 1) Signal in ADC units."""
    record = int(record)
    if record in PACED:
        raise DataError(f"MIT-BIH record {record} is paced (paced records {PACED} are excluded: "
                        "pacemaker spikes, and 102/104 have no MLII lead)")
    x = _read_mlii(resolve_root(root), record)
    return Signal(
        dataset=f"mitdb-{record}", quantity="ecg", unit="adu",
        values=x.astype(np.float64)[:, None], t0=None,  # the headers give no start date
        step_s=1.0 / MITDB_FS, sensors=[LEAD], quantum=1.0, word_bits=11,
        lo=0.0, hi=float(MITDB_ADC_MAX),
    )
