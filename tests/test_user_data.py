"""Bring your own data: a spec over a user's CSV / Parquet / WFDB file trains, builds and runs
through the CLI (MSP430F1611 on the mspdebug simulator) without any Python of the user's.

Everything here is written into tmp_path by the test: no shared data root is needed."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from toolchain.data import MISSING
from toolchain.data.user_file import SpecError
from toolchain.train.datasets import FileSpec, load_specs, prepare

CLI = [sys.executable, "-m", "toolchain.cli"]
PERIOD_S = 30
DAYS = 6
T0 = pd.Timestamp("2024-03-01T00:00:00")
LONG_GAP = slice(5200, 5500)            # 2.5 h on day 1 (training days)
SHORT_GAP = slice(14400 + 700, 14400 + 740)  # 20 min early on the test day: partial windows to impute
SPEC = """
[my-sensor]
source = "file"
path = "{path}"
column = "temp_c"
{time}period_s = 30
quantum = 0.01
unit = "degC"
sensor_range = [-40, 125]
mode = "temporal"
n = 32
hidden = 2
latent_bits = 5
eps = [5, 10, 20]
latent_bits_sweep = [3, 4, 5, 6]
{extra}"""


def tc(*args, timeout=300):
    """The CLI as a user runs it (stage files go to the session's TINYCODEC_BUILD, see conftest)."""
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=dict(os.environ),
                          timeout=timeout)


def temperature(seed: int = 0) -> pd.DataFrame:
    """6 days at 30 s of an outdoor temperature: diurnal cycle, weather drift, sensor noise,
    two outages (rows absent from the file) and an empty cell; two decimals like an SHT sensor."""
    rng = np.random.default_rng(seed)
    n = DAYS * 86400 // PERIOD_S
    t = np.arange(n) * PERIOD_S
    day = t / 86400.0
    x = (11 + 6 * np.sin(2 * np.pi * (day - 0.35)) + 1.5 * np.sin(2 * np.pi * day / 5.3)
         + np.cumsum(rng.normal(0, 0.004, n)) + rng.normal(0, 0.04, n))
    keep = np.ones(n, bool)
    keep[LONG_GAP] = keep[SHORT_GAP] = False
    df = pd.DataFrame({"time": (T0 + pd.to_timedelta(t, unit="s"))[keep].strftime("%Y-%m-%dT%H:%M:%S"),
                       "temp_c": np.round(x, 2)[keep],
                       "rh": np.round(np.clip(70 - 3 * (x - 11) + rng.normal(0, 0.3, n), 0, 100), 2)[keep]})
    df.loc[100, "temp_c"] = np.nan
    return df


def write_csv(tmp_path, df=None, name="readings.csv", time=True, extra="", specs="my_specs.toml"):
    (tmp_path / name).write_text((temperature() if df is None else df).to_csv(index=False, float_format="%.2f"))
    f = tmp_path / specs
    f.write_text(SPEC.format(path=name, time='time_column = "time"\n' if time else "", extra=extra))
    return f


@pytest.fixture(scope="module")
def csv_model(tmp_path_factory):
    """Train + save once: a user's CSV, their specs file, their models folder."""
    d = tmp_path_factory.mktemp("user")
    specs = write_csv(d)
    models = d / "models"
    p = tc("train", "--specs", specs, "--model", "my-sensor", "--save", "--models-dir", models, "--iters", "80")
    assert p.returncode == 0, p.stderr
    return d, specs, models, p.stdout


def test_csv_spec_trains_and_saves_into_the_users_folder(csv_model):
    d, specs, models, out = csv_model
    m = re.search(r"my-sensor: (\d+) train / (\d+) validation / (\d+) test windows", out)
    assert m and int(m[1]) > 300 and int(m[2]) > 50 and int(m[3]) > 50, out
    saved = models / "my-sensor"
    for f in ("model.json", "README.md", "curve.png", "spec.toml"):
        assert (saved / f).is_file(), f
    card = (saved / "README.md").read_text()
    assert "0.01 degC" in card and "chronological 70/10/20 by whole days" in card
    # the saved spec points at the data by absolute path, so build/run work from anywhere
    (saved_spec,) = load_specs(saved / "spec.toml").values()
    assert isinstance(saved_spec, FileSpec) and saved_spec.options["path"] == str(d / "readings.csv")
    p = tc("models", "--specs", specs, "--models-dir", models)
    assert p.returncode == 0 and re.search(r"my-sensor\s+file\s+temporal n=32.*\[trained\]", p.stdout), p.stdout


def test_csv_model_builds_and_runs_on_msp430f1611_within_the_bound(csv_model):
    _, specs, models, _ = csv_model
    p = tc("build", "--model", "my-sensor", "--models-dir", models, "--target", "msp430f1611")
    assert p.returncode == 0, p.stderr
    assert "msp430f1611" in p.stdout and "codec.elf" in p.stdout
    p = tc("run", "--specs", specs, "--model", "my-sensor", "--models-dir", models, "--target", "msp430f1611",
           "--windows", "60")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [ln for ln in p.stdout.splitlines() if "windows bit-exact" in ln]
    assert len(lines) == 3, p.stdout  # the spec's eps = [5, 10, 20]
    imputed = 0
    for ln in lines:
        m = re.search(r"eps=(\d+): (\d+)/(\d+) windows bit-exact, (\d+) bound violations \(max \|err\| (\d+)\)", ln)
        assert m, ln
        eps, exact, ran, viol, maxerr = map(int, m.groups())
        assert ran >= 50 and exact == ran and viol == 0 and maxerr <= eps, ln
        m = re.search(r"(\d+) readings imputed", ln)
        imputed += int(m[1]) if m else 0
    assert imputed > 0  # the outage on the test day reached the device as MISSING readings


def test_link_app_window_spans_the_files_sampling_period(csv_model):
    """The link application's window validity time comes from period_s (32 x 30 s), not a built-in table."""
    from toolchain.link.app import build_app
    from toolchain.pipeline import get_model
    _, _, models, _ = csv_model
    assert get_model("my-sensor", models_dir=models).meta["period_s"] == PERIOD_S
    app = build_app("my-sensor", "native", models_dir=models)
    header = (app.src_dir / "tc_app_session.h").read_text()
    assert f"#define TC_APP_WINDOW_MS {32 * PERIOD_S * 1000}ul" in header
    assert "#define TC_APP_DEFAULT_EPS 5u" in header  # the spec's first eps, from the saved spec.toml
    assert app.exe.is_file()


def test_csv_split_grid_and_missing_readings(tmp_path):
    prep = prepare("my-sensor", write_csv(tmp_path))
    assert prep.quantum == 0.01 and prep.unit == "degC" and prep.word_bits == 15  # 16501 codes
    assert prep.lo == prep.sensor_lo == -4000 and prep.sensor_hi == 12500
    assert prep.notes["gap_slots"] == (LONG_GAP.stop - LONG_GAP.start) + (SHORT_GAP.stop - SHORT_GAP.start)
    assert "by whole days" in prep.notes["split"]
    # 6 days: 4 train, 1 validation, 1 test; train/val complete windows only, test keeps the gaps
    assert 300 < len(prep.train) <= 4 * 2880 // 32 and len(prep.val) == 2880 // 32
    assert 2880 // 32 - 2 <= len(prep.test) < 2880 // 32  # windows > 50 % missing are not sent
    assert not (prep.train == MISSING).any() and (prep.test == MISSING).any()
    ok = prep.train != MISSING
    assert prep.train[ok].min() > 0 and prep.train[ok].max() < 2500  # 0..25 degC in 0.01 counts
    # no time column: rows are period_s apart, short series split by rows
    df = temperature().head(3000)
    prep = prepare("my-sensor", write_csv(tmp_path, df, name="plain.csv", time=False, specs="plain.toml"))
    assert "by rows" in prep.notes["split"] and len(prep.train) + len(prep.val) + len(prep.test) >= 90


def test_parquet_spec_trains_and_runs(tmp_path):
    df = temperature(seed=3)
    df["time"] = pd.to_datetime(df["time"])  # a real timestamp column, as Parquet files have
    df.to_parquet(tmp_path / "readings.parquet")
    specs = tmp_path / "pq.toml"
    specs.write_text(SPEC.format(path="readings.parquet", time='time_column = "time"\n', extra="")
                     .replace("[my-sensor]", "[my-parquet]"))
    prep = prepare("my-parquet", specs)
    assert prep.notes["format"] == "parquet" and prep.notes["gap_slots"] == 340
    models = tmp_path / "models"
    p = tc("train", "--specs", specs, "--model", "my-parquet", "--save", "--models-dir", models, "--iters", "40")
    assert p.returncode == 0, p.stderr
    p = tc("run", "--model", "my-parquet", "--models-dir", models, "--target", "native", "--windows", "80",
           "--eps", "10")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "80/80 windows bit-exact, 0 bound violations" in p.stdout


def test_spatial_spec_from_several_columns(tmp_path):
    specs = write_csv(tmp_path, specs="sp.toml")
    text = specs.read_text().replace('column = "temp_c"', 'columns = ["temp_c", "rh"]')
    text = text.replace('mode = "temporal"\nn = 32\nhidden = 2', 'mode = "spatial"\nhidden = 1')
    specs.write_text(text.replace("sensor_range = [-40, 125]", "sensor_range = [-40, 125]\nquantity = \"climate\""))
    prep = prepare("my-sensor", specs)
    assert prep.spec.n == 2 and prep.train.shape[1] == 2 and len(prep.train) > 5000


def test_wfdb_record_set_prepares(tmp_path):
    rng = np.random.default_rng(0)
    fs = 250
    (tmp_path / "ecg").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # wfdb 4.3.1 trips pandas deprecation warnings
        import wfdb
        for r in ("r1", "r2"):
            t = np.arange(fs * 60) / fs
            beat = 1024 + 200 * np.sin(np.pi * 1.2 * t) ** 16 + rng.normal(0, 3, t.size)
            d = np.column_stack([beat, 1024 + rng.normal(0, 5, t.size)]).round().astype(np.int64)
            d[500:520, 0] = -2048  # format 212's "no sample": a missing reading
            wfdb.wrsamp(r, fs=fs, units=["mV", "mV"], sig_name=["MLII", "V5"], d_signal=d, fmt=["212", "212"],
                        adc_gain=[200, 200], baseline=[1024, 1024], write_dir=str(tmp_path / "ecg"))
    (tmp_path / "ecg" / "RECORDS").write_text("r1\nr2\n")
    specs = tmp_path / "ecg.toml"
    specs.write_text('[my-ecg]\nsource = "file"\npath = "ecg"\ncolumn = "MLII"\n'
                     'mode = "temporal"\nn = 32\nhidden = 4\nlatent_bits = 6\neps = [2, 4]\n')
    prep = prepare("my-ecg", specs)
    assert prep.notes["format"] == "wfdb" and prep.notes["records"] == ["r1", "r2"]
    assert prep.unit == "adu" and prep.quantum == 1.0 and prep.word_bits == 12 and prep.lo == -2048
    assert prep.notes["period_s"] == 0.004 and "200 adu/mV" in prep.notes["gain"]["MLII"]
    per_record = fs * 60 // 32
    assert 2 * per_record - 12 <= len(prep.train) + len(prep.val) + len(prep.test) < 2 * per_record  # tails, gap
    assert not (prep.train == MISSING).any()
    specs.write_text(specs.read_text().replace('column = "MLII"', 'column = "II"'))
    with pytest.raises(SpecError, match=r"ecg\.toml \[my-ecg\] column: .*'II'.*it has: MLII, V5"):
        prepare("my-ecg", specs)


@pytest.mark.parametrize("change, pattern", [
    (('column = "temp_c"', 'column = "temperature"'),
     r"my_specs\.toml \[my-sensor\] column: no column 'temperature' in .*readings\.csv; it has: time, temp_c, rh"),
    (("quantum = 0.01", "quantum = 0"), r"my_specs\.toml \[my-sensor\] quantum: must be > 0"),
    (("quantum = 0.01", "quantum = 0.1"),
     r"my_specs\.toml \[my-sensor\] quantum: .*readings\.csv row \d+ \(line \d+\): reading .* not a multiple of quantum 0\.1"),
    (("sensor_range = [-40, 125]", "sensor_range = [125, -40]"),
     r"my_specs\.toml \[my-sensor\] sensor_range: inverted or empty range \[125, -40\]"),
    (("sensor_range = [-40, 125]", "sensor_range = [10, 125]"),
     r"my_specs\.toml \[my-sensor\] sensor_range: .*readings\.csv row \d+ \(line \d+\): reading .* is outside \[10, 125\]"),
    (('path = "readings.csv"', 'path = "nope.csv"'), r"my_specs\.toml \[my-sensor\] path: .*nope\.csv does not exist"),
    (("eps = [5, 10, 20]", "eps = []"), r"my_specs\.toml \[my-sensor\] eps: expected a list of integers"),
    (("unit = \"degC\"", "unit = \"degC\"\ncolour = \"red\""), r"my_specs\.toml \[my-sensor\] colour: unknown key"),
])
def test_spec_errors_name_the_file_the_model_and_the_key(tmp_path, change, pattern):
    specs = write_csv(tmp_path)
    specs.write_text(specs.read_text().replace(*change))
    with pytest.raises(SpecError, match=pattern):
        prepare("my-sensor", specs)


def test_unreadable_cells_and_too_few_rows_are_reported(tmp_path):
    df = temperature().head(3000).astype({"temp_c": object})
    df.loc[1234, "temp_c"] = "21,5x"
    specs = write_csv(tmp_path, df)
    # data row 1235 is line 1236 of the file (one header line)
    with pytest.raises(SpecError, match=r"my_specs\.toml \[my-sensor\] column: .*readings\.csv row 1235 "
                                        r"\(line 1236\): 'temp_c' = '21,5x' is not a number"):
        prepare("my-sensor", specs)
    df = temperature().head(3000).astype({"time": object})
    df.loc[7, "time"] = "yesterday"
    specs = write_csv(tmp_path, df)
    with pytest.raises(SpecError, match=r"\[my-sensor\] time_column: .*row 8 \(line 9\): 'time' = 'yesterday'"):
        prepare("my-sensor", specs)
    specs = write_csv(tmp_path, temperature().head(200))
    with pytest.raises(SpecError, match=r"my_specs\.toml \[my-sensor\] path: 200 rows .* give \d+ train windows "
                                        r"\(need >= 20"):
        prepare("my-sensor", specs)


def test_cli_reports_spec_errors_without_a_traceback(tmp_path):
    specs = write_csv(tmp_path, temperature().head(3000))
    specs.write_text(specs.read_text().replace('column = "temp_c"', 'column = "tmp"'))
    p = tc("train", "--specs", specs, "--model", "my-sensor")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert f"{specs} [my-sensor] column: no column 'tmp'" in p.stderr and "temp_c" in p.stderr
    p = tc("train", "--specs", specs, "--model", "other")
    assert p.returncode == 2 and "my-sensor" in p.stderr
    specs.write_text(specs.read_text().replace("[my-sensor]", "[gsb-temporal]"))
    p = tc("train", "--specs", specs, "--model", "gsb-temporal")
    assert p.returncode == 2 and "built-in model has this name" in p.stderr
