"""Data layer tests on the real files in $TINYCODEC_DATA (default ../shared/data). No mocks."""
from __future__ import annotations

import gzip
import re
import shutil

import numpy as np
import pytest

from toolchain.data import (
    DS1, DS2, MISSING, PACED, DataError, Signal, data_root, impute_naive, load_gsb_temperature,
    load_intel_lab, load_mitdb_mlii, load_ulb_humidity, load_ulb_temperature, mitdb_split,
    require_file, spatial_windows, split_chronological, temporal_windows,
)

WSN_LOADERS = {
    "gsb": load_gsb_temperature,
    "ulb-library1-h": lambda: load_ulb_humidity("library1"),
    "ulb-library2-h": lambda: load_ulb_humidity("library2"),
    "ulb-no5-h": lambda: load_ulb_humidity("no5"),
    "ulb-library1-t": lambda: load_ulb_temperature("library1"),
    "ulb-no5-t": lambda: load_ulb_temperature("no5"),
    "intel": load_intel_lab,
}


@pytest.fixture(scope="module", params=sorted(WSN_LOADERS))
def wsn(request) -> Signal:
    return WSN_LOADERS[request.param]()


# ----------------------------------------------------------------- loaders


def test_wsn_signal_is_well_formed(wsn: Signal):
    assert wsn.values.dtype == np.float64 and wsn.values.ndim == 2
    assert len(wsn.sensors) == wsn.S == wsn.values.shape[1]
    assert len(set(wsn.sensors)) == wsn.S
    assert wsn.quantum == 0.01 and wsn.word_bits == 16
    v = wsn.values[~np.isnan(wsn.values)]
    assert v.size > 0.5 * wsn.values.size
    # quantum-exact: every reading is an integer number of hundredths
    assert np.abs(v * 100 - np.rint(v * 100)).max() < 1e-6
    assert wsn.lo <= v.min() and v.max() <= wsn.hi
    # no sensor is (almost) empty, no row past the ends is all-missing
    assert (~np.isnan(wsn.values)).mean(axis=0).min() >= 0.5
    assert not np.isnan(wsn.values[0]).all() and not np.isnan(wsn.values[-1]).all()


def test_to_int_round_trips_and_marks_missing(wsn: Signal):
    x = wsn.to_int()
    assert x.dtype == np.int64 and x.shape == wsn.values.shape
    nan = np.isnan(wsn.values)
    assert np.array_equal(x == MISSING, nan)
    np.testing.assert_allclose(x[~nan] * wsn.quantum, wsn.values[~nan], atol=1e-9)
    assert np.array_equal(wsn.days(), np.arange(wsn.T) * wsn.step_s / 86400)


def test_gsb_six_stations_on_a_two_minute_grid():
    g = load_gsb_temperature()
    assert g.dataset == "gsb" and g.quantity == "temperature" and g.unit == "degC"
    assert g.sensors == ["st11", "st12", "st17", "st18", "st19", "st20"]
    assert g.step_s == 120.0 and 29_000 <= g.T <= 31_000
    assert g.t0 == np.datetime64("2007-09-13T15:36")  # st18/19 start 15:35 -> snapped to 15:36
    assert (g.lo, g.hi) == (-40.0, 123.8)
    # First st11 row is "11 2007 9 15 0 7 6.0000": minute 7 (taken 0:07:xx) -> slot 0:08.
    row = int((np.datetime64("2007-09-15T00:08") - g.t0) / np.timedelta64(120, "s"))
    assert g.values[row, 0] == 6.0 and np.isnan(g.values[row - 1, 0])
    # st17 starts on 20 Sep: the union grid pads it with NaN before that
    assert np.isnan(g.values[: int(6 * 720), 2]).all()
    # readings lost to slot collisions are few: compare with the files' non-NaN rows
    for st in g.notes.values():
        assert st["conflicting_rows"] <= 10 and st["backwards"] == 0


def test_gsb_grid_holds_every_distinct_reading():
    g = load_gsb_temperature()
    path = require_file("sensorscope_gsb/cleaned-stbernard-meteo-12.txt.gz")
    vals = np.array([float(line.split()[6]) for line in gzip.open(path, "rt")])
    n_file = int((~np.isnan(vals)).sum())
    st = g.notes["st12"]
    assert int((~np.isnan(g.values[:, 1])).sum()) == n_file - st["duplicate_rows"] - st["conflicting_rows"]


@pytest.mark.parametrize("deployment, step, n_nodes, min_rows", [
    ("library1", 60.0, 19, 1500), ("library2", 60.0, 20, 350), ("no5", 300.0, 19, 1150)])
def test_ulb_grids(deployment, step, n_nodes, min_rows):
    h = load_ulb_humidity(deployment)
    t = load_ulb_temperature(deployment)
    assert h.dataset == t.dataset == f"ulb-{deployment}"
    assert (h.quantity, h.unit, h.lo, h.hi) == ("humidity", "%RH", 0.0, 100.0)
    assert (t.quantity, t.unit) == ("temperature", "degC")
    assert h.step_s == step and h.S == n_nodes and h.T >= min_rows
    assert h.sensors == t.sensors and h.T == t.T and h.t0 == t.t0
    # grid length matches the file span
    span_s = {"library1": 26.5 * 3600, "library2": 6.14 * 3600, "no5": 99.84 * 3600}[deployment]
    assert abs(h.T * step - span_s) < 0.02 * span_s


def test_ulb_drops_sparse_and_dead_battery_readings():
    h = load_ulb_humidity("no5")
    assert "node4" not in h.sensors and 4 in h.notes["dropped_nodes"]
    assert "node6" not in load_ulb_humidity("library1").sensors  # library1 has no node 6
    t = load_ulb_temperature("no5")
    v = t.values[~np.isnan(t.values)]
    assert v.max() < 40 and v.min() > 10  # the 124.23 / -39.6 brown-out readings are gone


def test_intel_lab():
    s = load_intel_lab()
    assert s.values.shape == (14400, 52) and not np.isnan(s.values).any()
    assert s.t0 is None and s.step_s == 48.0
    assert s.sensors[:5] == ["mote1", "mote2", "mote3", "mote4", "mote6"]
    assert "mote5" not in s.sensors and "mote15" not in s.sensors and s.sensors[-1] == "mote54"


def test_loaders_return_independent_copies():
    a = load_gsb_temperature()
    a.values[:] = 0.0
    assert not np.all(load_gsb_temperature().values == 0.0)


# ----------------------------------------------------------------- MIT-BIH


@pytest.mark.parametrize("record, channel", [(100, 0), (114, 1)])
def test_mitdb_picks_the_mlii_channel(record, channel):
    s = load_mitdb_mlii(record)
    import wfdb  # after the loader, which imports it with its pandas warnings silenced

    rec = wfdb.rdrecord(str(require_file(f"mitdb/{record}.hea").with_suffix("")), physical=False)
    assert rec.sig_name[channel] == "MLII"
    assert s.values.shape == (650_000, 1) and s.values.dtype == np.float64
    assert np.array_equal(s.values[:, 0], rec.d_signal[:, channel])
    assert (s.dataset, s.quantity, s.unit, s.sensors) == (f"mitdb-{record}", "ecg", "adu", ["MLII"])
    assert (s.quantum, s.word_bits, s.lo, s.hi) == (1.0, 11, 0.0, 2047.0)
    assert s.step_s == pytest.approx(1 / 360)
    assert 0 <= s.values.min() and s.values.max() <= 2047


@pytest.mark.parametrize("record", PACED)
def test_mitdb_refuses_paced_records(record):
    with pytest.raises(DataError, match=f"record {record} is paced"):
        load_mitdb_mlii(record)


def test_mitdb_split():
    sp = mitdb_split()
    assert sp["test"] == DS2 and sp["val"] == DS1[-4:] and sp["train"] + sp["val"] == DS1
    assert not set(sp["train"]) & set(sp["test"]) and not set(PACED) & set(sp["train"] + sp["test"])
    assert mitdb_split(0)["val"] == []


# ----------------------------------------------------------------- splits


def _check_split(sig: Signal):
    parts = split_chronological(sig)
    assert [p.notes["split"] for p in parts] == ["train", "val", "test"]
    assert sum(p.T for p in parts) == sig.T and all(p.T > 0 for p in parts)
    assert np.array_equal(np.concatenate([p.values for p in parts]), sig.values, equal_nan=True)
    starts = [p.notes["split_rows"] for p in parts]
    assert starts[0][0] == 0 and starts[0][1] == starts[1][0] and starts[1][1] == starts[2][0] and starts[2][1] == sig.T
    if sig.t0 is not None:  # each part's t0 is its first row's time: strictly increasing
        assert parts[0].t0 < parts[1].t0 < parts[2].t0
    return parts


def test_split_gsb_on_whole_days():
    g = load_gsb_temperature()
    train, val, test = _check_split(g)
    for p in (val, test):  # cuts are at midnight
        assert p.t0 == p.t0.astype("datetime64[D]")
    assert val.T == 4 * 720 and 8 * 720 <= test.T <= 9 * 720
    assert 0.65 < train.T / g.T < 0.75


@pytest.mark.parametrize("name", ["ulb-library1-h", "ulb-no5-h", "intel"])
def test_split_fractions(name):
    s = WSN_LOADERS[name]()
    train, val, test = _check_split(s)
    if name == "intel":  # 8 days from row 0: 5 / 1 / 2 whole days of 1800 rows
        assert (train.T, val.T, test.T) == (9000, 1800, 3600)
    else:  # < 5 days: 70/10/20 % of the rows
        assert abs(train.T - 0.7 * s.T) <= 1 and abs(test.T - 0.2 * s.T) <= 1


# ----------------------------------------------------------------- windows


def _toy_signal(values) -> Signal:
    return Signal(dataset="toy", quantity="temperature", unit="degC", values=np.asarray(values, float),
                  t0=None, step_s=60.0, sensors=[f"s{i}" for i in range(np.shape(values)[1])],
                  quantum=0.01, word_bits=16, lo=-40, hi=123.8)


def test_temporal_windows_shapes_and_missing_filter():
    v = np.arange(20 * 2, dtype=float).reshape(20, 2) / 100
    v[3, 0] = np.nan
    sig = _toy_signal(v)
    w, idx = temporal_windows(sig, 8)  # 2 full windows per sensor, tail of 4 dropped
    assert w.shape == (4, 8) and w.dtype == np.int64 and list(idx) == [0, 0, 1, 1]
    assert list(w[2]) == list(range(1, 16, 2))  # sensor 1, first window, in counts
    assert w[0, 3] == MISSING
    w, idx = temporal_windows(sig, 8, max_missing=0.0)
    assert w.shape == (3, 8) and list(idx) == [0, 1, 1]
    w, idx = temporal_windows(sig, 8, stride=4)  # starts 0, 4, 8, 12
    assert w.shape == (8, 8) and list(idx) == [0] * 4 + [1] * 4
    assert temporal_windows(sig, 21)[0].shape == (0, 21)


def test_temporal_windows_on_real_data():
    g = load_gsb_temperature()
    w, idx = temporal_windows(g, 64)
    assert w.shape == (6 * (g.T // 64), 64) and idx.shape == (w.shape[0],)
    w0, idx0 = temporal_windows(g, 64, max_missing=0.0)
    assert 0 < w0.shape[0] < w.shape[0] and not (w0 == MISSING).any()


def test_spatial_windows():
    sig = _toy_signal([[1.0, np.nan, 2.0], [np.nan, np.nan, 3.0], [0.5, 0.25, 0.75]])
    x = spatial_windows(sig)
    assert x.shape == (3, 3) and x[0, 1] == MISSING and x[2, 1] == 25
    assert spatial_windows(sig, max_missing=0.5).shape == (2, 3)
    assert spatial_windows(sig, max_missing=0.0).tolist() == [[50, 25, 75]]


def test_impute_naive_by_hand():
    M = MISSING
    mu = np.array([100, 200, 300, 400])
    x = np.array([
        [110, M, 330, 400],  # s = 10 + 30 + 0 = 40, c = 3: 40/3 = 13.3 -> 13: x1 = 213
        [M, 205, M, 404],  # s = 5 + 4 = 9, c = 2: 4.5 -> 5 (half away from 0): 105, 305
        [M, 195, M, 396],  # s = -9, c = 2: -4.5 -> -5: 95, 295
        [M, M, M, M],  # nothing observed: the means
        [101, 202, 303, 404],  # complete: untouched
        [M, 197, 298, M],  # s = -3 - 2 = -5, c = 2: -2.5 -> -3: 97, 397
        [M, 180, M, M],  # s = -20, c = 1: 80, 280, 380
    ])
    out, n = impute_naive(x, mu)
    expected = np.array([
        [110, 213, 330, 400],
        [105, 205, 305, 404],
        [95, 195, 295, 396],
        [100, 200, 300, 400],
        [101, 202, 303, 404],
        [97, 197, 298, 397],
        [80, 180, 280, 380],
    ])
    assert n == 1 + 2 + 2 + 4 + 0 + 2 + 3
    assert out.dtype == np.int64 and np.array_equal(out, expected)
    assert (x == M).sum() == n  # input untouched


# ----------------------------------------------------------------- errors


def test_missing_data_root_names_the_path(monkeypatch, tmp_path):
    missing = tmp_path / "no" / "such" / "data"
    monkeypatch.setenv("TINYCODEC_DATA", str(missing))
    with pytest.raises(DataError, match="set TINYCODEC_DATA") as exc:
        data_root()
    assert str(missing) in str(exc.value)
    with pytest.raises(DataError, match=re.escape(str(missing))):
        load_gsb_temperature()


def test_missing_file_names_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYCODEC_DATA", str(tmp_path))
    with pytest.raises(DataError) as exc:
        load_intel_lab()
    assert str(tmp_path / "intel_lab_pcag" / "mote_locs.txt") in str(exc.value)


def test_malformed_gsb_file_names_file_and_line(monkeypatch, tmp_path):
    src = data_root() / "sensorscope_gsb"
    dst = tmp_path / "sensorscope_gsb"
    dst.mkdir()
    for f in src.iterdir():
        shutil.copy(f, dst / f.name)
    bad = dst / "cleaned-stbernard-meteo-17.txt.gz"
    lines = gzip.open(src / bad.name, "rt").read().splitlines()
    lines[2] = "17 2007 9 20 20"  # truncated row
    with gzip.open(bad, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    monkeypatch.setenv("TINYCODEC_DATA", str(tmp_path))
    with pytest.raises(DataError) as exc:
        load_gsb_temperature()
    assert str(bad) in str(exc.value) and "line 3" in str(exc.value)


def test_malformed_ulb_file_names_the_file(tmp_path):
    dst = tmp_path / "ulb_wsn" / "library2"
    dst.mkdir(parents=True)
    text = (data_root() / "ulb_wsn/library2/readings.txt").read_text(encoding="latin-1")
    (dst / "readings.txt").write_text(text.replace("52,34", "52;34", 1), encoding="latin-1")
    with pytest.raises(DataError) as exc:
        load_ulb_humidity("library2", root=tmp_path)
    assert str(dst / "readings.txt") in str(exc.value) and "line 1" in str(exc.value)


def test_unknown_ulb_deployment():
    with pytest.raises(DataError, match="unknown ULB deployment"):
        load_ulb_humidity("library3")
