"""Train / validation / test splits that never let the future leak into training.

WSN series are split in time (train on the first days, test on the last "test days");
MIT-BIH is split by patient (de Chazal DS1 / DS2).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .mitdb import DS1, DS2
from .signals import Signal

DAY_S = 86400.0
# Spans of at least this many days are split on whole days (GSB ~42 d, Intel 8 d);
# shorter ones (ULB library1 ~1.1 d, library2 ~0.25 d, no5 ~4.2 d) on the time fraction,
# because a 1-day validation or test part would be a large, lumpy share of them.
MIN_DAYS_FOR_WHOLE_DAY_SPLIT = 5.0


def _rows(sig: Signal, start: int, stop: int, part: str) -> Signal:
    t0 = sig.t0
    if t0 is not None:
        t0 = t0 + np.timedelta64(int(round(start * sig.step_s * 1000)), "ms")
    notes = dict(sig.notes, split=part, split_rows=(start, stop))
    return dataclasses.replace(sig, values=sig.values[start:stop].copy(), t0=t0,
                               sensors=list(sig.sensors), notes=notes)


def _day_cuts(sig: Signal, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """Row indices where validation and test start, on day boundaries.

    Days are calendar days (midnight of t0's clock) when t0 is known, else days counted
    from row 0. A partial first day counts as a training day, a partial last day as a
    test day. Validation and test get round(fraction * days) days, at least one each.
    """
    T = sig.T
    offset_s = 0.0  # seconds from the first day boundary at or before row 0 to row 0
    if sig.t0 is not None:
        t0 = sig.t0.astype("datetime64[ms]")
        offset_s = float((t0 - t0.astype("datetime64[D]")) / np.timedelta64(1, "ms")) / 1000.0
    n_days = int(np.ceil((offset_s + T * sig.step_s) / DAY_S - 1e-9))
    d_val = max(1, int(round(fractions[1] * n_days)))
    d_test = max(1, int(round(fractions[2] * n_days)))
    d_train = n_days - d_val - d_test
    if d_train < 1:
        raise ValueError(f"{sig.dataset}: {n_days} days are too few for a whole-day split {fractions}")

    def row_at_day(k: int) -> int:
        # first row whose time is at or after day boundary k
        return int(np.clip(np.ceil((k * DAY_S - offset_s) / sig.step_s - 1e-9), 0, T))

    return row_at_day(d_train), row_at_day(d_train + d_val)


def split_chronological(sig: Signal, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)) -> tuple[Signal, Signal, Signal]:
    """(train, validation, test): consecutive, disjoint time ranges covering every row.

    Spans >= MIN_DAYS_FOR_WHOLE_DAY_SPLIT days are cut on whole days (see _day_cuts);
    shorter spans at round(fraction * T) rows.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    T = sig.T
    if T * sig.step_s / DAY_S >= MIN_DAYS_FOR_WHOLE_DAY_SPLIT:
        a, b = _day_cuts(sig, fractions)
    else:
        a = int(round(fractions[0] * T))
        b = int(round((fractions[0] + fractions[1]) * T))
    return _rows(sig, 0, a, "train"), _rows(sig, a, b, "val"), _rows(sig, b, T, "test")


def mitdb_split(validation_records: int = 4) -> dict[str, list[int]]:
    """Inter-patient split: train = DS1 minus its last N records, val = those N, test = DS2."""
    n = int(validation_records)
    if not 0 <= n < len(DS1):
        raise ValueError(f"validation_records must be in 0..{len(DS1) - 1}, got {validation_records}")
    return {"train": DS1[: len(DS1) - n], "val": DS1[len(DS1) - n:], "test": list(DS2)}
