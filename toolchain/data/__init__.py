"""Data layer: dataset loaders returning regular-grid Signals, splits and windowing.

    from toolchain.data import load_gsb_temperature, split_chronological, temporal_windows
    train, val, test = split_chronological(load_gsb_temperature())
    windows, sensor = temporal_windows(train, 64, max_missing=0.0)

The data folder is $TINYCODEC_DATA, default <repo>/../shared/data (see root.py).
"""
from .mitdb import DS1, DS2, PACED, load_mitdb_mlii
from .root import DataError, data_root, require_file
from .signals import MISSING, Signal
from .splits import mitdb_split, split_chronological
from .windows import impute_naive, spatial_windows, temporal_windows
from .wsn import load_gsb_temperature, load_intel_lab, load_ulb_humidity, load_ulb_temperature

__all__ = [
    "DS1", "DS2", "PACED", "MISSING", "DataError", "Signal",
    "data_root", "require_file",
    "load_gsb_temperature", "load_ulb_humidity", "load_ulb_temperature", "load_intel_lab", "load_mitdb_mlii",
    "split_chronological", "mitdb_split",
    "temporal_windows", "spatial_windows", "impute_naive",
]
