"""The one container every loader returns: a regular-grid, multi-sensor series.

Values stay float64 with NaN for missing readings (convenient for analysis); codecs
work on `to_int()`, the sensor's own integer counts, where a missing reading is the
MISSING sentinel the device firmware also uses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# int16 minimum: no real reading maps to it (every sensor range here is far inside
# int16 once divided by its quantum), and the firmware uses the same marker.
MISSING = -32768


@dataclass
class Signal:
    dataset: str  # "gsb", "ulb-library1", "ulb-library2", "ulb-no5", "intel", "mitdb-100", ...
    quantity: str  # "temperature", "humidity", "ecg"
    unit: str  # "degC", "%RH", "adu"
    values: np.ndarray  # float64 (T, S) on a regular grid; NaN = missing
    t0: np.datetime64 | None  # time of row 0; None when the source does not say
    step_s: float  # grid step in seconds
    sensors: list[str]  # len S
    quantum: float  # resolution in `unit`: every reading is an integer * quantum
    word_bits: int  # native word per reading on the sensor node
    lo: float  # physical sensor range in `unit` (data sheet)
    hi: float
    # Loader bookkeeping (dropped nodes, duplicate rows, masked readings, split offsets).
    # Informational only; nothing downstream should depend on its keys.
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.ndim != 2:
            raise ValueError(f"{self.dataset}: values must be 2-D (T, S), got shape {self.values.shape}")
        if len(self.sensors) != self.values.shape[1]:
            raise ValueError(
                f"{self.dataset}: {len(self.sensors)} sensor names for {self.values.shape[1]} columns"
            )

    @property
    def T(self) -> int:
        return int(self.values.shape[0])

    @property
    def S(self) -> int:
        return int(self.values.shape[1])

    def missing_fraction(self) -> float:
        return float(np.isnan(self.values).mean()) if self.values.size else 0.0

    def to_int(self) -> np.ndarray:
        """int64 sensor counts round(values / quantum); NaN -> MISSING."""
        out = np.full(self.values.shape, MISSING, dtype=np.int64)
        ok = ~np.isnan(self.values)
        # rint, not truncation: 22.08 / 0.01 is 2207.9999999999995 in binary floating point.
        out[ok] = np.rint(self.values[ok] / self.quantum).astype(np.int64)
        return out

    def days(self) -> np.ndarray:
        """Day index (float) of each row, counted from row 0."""
        return np.arange(self.T, dtype=np.float64) * self.step_s / 86400.0
