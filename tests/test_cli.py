"""The command line as a user meets it: clear errors, decode of device output, flashing without a board."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from toolchain.boards import load_board
from toolchain.codecs import ae_codec
from toolchain.pipeline import build, get_model, pack_input

CLI = [sys.executable, "-m", "toolchain.cli"]


def tc(*args, env=None, timeout=300):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=e, timeout=timeout)


def test_missing_data_root_is_a_clear_error(tmp_path):
    p = tc("run", "--model", "gsb-temporal", "--target", "native",
           env={"TINYCODEC_DATA": str(tmp_path / "nowhere")})
    assert p.returncode == 2
    assert "nowhere" in p.stderr and "TINYCODEC_DATA" in p.stderr and "Traceback" not in p.stderr


def test_unknown_board_and_model_name_the_choices():
    p = tc("build", "--model", "gsb-temporal", "--target", "msp430x9999")
    assert p.returncode == 2 and "msp430g2553" in p.stderr and "Traceback" not in p.stderr
    p = tc("build", "--model", "no-such-model", "--target", "native")
    assert p.returncode == 2 and "gsb-temporal" in p.stderr


def test_model_too_large_is_refused_by_the_cli():
    p = tc("build", "--model", "intel-spatial", "--target", "msp430g2553")
    assert p.returncode == 2 and "does not fit msp430g2553" in p.stderr and "512 B" in p.stderr


def test_run_reports_bit_exact_windows():
    p = tc("run", "--model", "gsb-spatial", "--target", "native", "--windows", "200", "--eps", "10")
    assert p.returncode == 0, p.stderr
    assert "200/200 windows bit-exact, 0 bound violations" in p.stdout


def test_decode_device_records_to_csv(tmp_path):
    """Records written by the native firmware decode to the readings, within eps, NaN where missing."""
    fm = get_model("gsb-temporal")
    built = build(fm, load_board("native"))
    rng = np.random.default_rng(0)
    X = (2000 + rng.normal(0, 30, (5, fm.n)).cumsum(1)).astype(np.int64)
    X[2, 4] = ae_codec.MISSING
    recs = b"".join(pack_input(x, 10, fm.latent_bits) for x in X)
    raw = subprocess.run([str(built.artifact)], input=recs, capture_output=True, check=True).stdout
    rec_len = len(raw) // len(X)
    # a stream of records as a host would log them: header + exactly the window's bytes
    stream = b"".join(raw[i * rec_len: i * rec_len + 4 + (raw[i * rec_len] | raw[i * rec_len + 1] << 8) // 8 + 1]
                      if (raw[i * rec_len] | raw[i * rec_len + 1] << 8) % 8 else
                      raw[i * rec_len: i * rec_len + 4 + (raw[i * rec_len] | raw[i * rec_len + 1] << 8) // 8]
                      for i in range(len(X)))
    f = tmp_path / "dev.bin"
    f.write_bytes(stream)
    out = tmp_path / "x.csv"
    p = tc("decode", "--model", "gsb-temporal", "--input", str(f), "--eps", "10", "--output", str(out))
    assert p.returncode == 0, p.stderr
    rows = [r.split(",") for r in out.read_text().strip().splitlines()]
    assert len(rows) == 5 and rows[2][4] == ""
    got = np.array([[float(v) if v else np.nan for v in r] for r in rows])
    want = X * 0.01
    ok = X != ae_codec.MISSING
    assert np.all(np.abs(got[ok] - want[ok]) <= 0.10 + 1e-9)
    f.write_bytes(stream[:-3])
    p = tc("decode", "--model", "gsb-temporal", "--input", str(f), "--eps", "10")
    assert p.returncode != 0 and "window 4" in (p.stderr + p.stdout)


@pytest.mark.parametrize("board", ["msp430g2553", "msp430f1611"])
def test_flash_without_a_board_fails_fast_and_clearly(board):
    t0 = time.time()
    p = tc("flash", "--model", "gsb-temporal", "--target", board, timeout=60)
    assert p.returncode == 2
    assert time.time() - t0 < 30
    assert "mspdebug" in p.stderr and ("no board" in p.stderr or "attached" in p.stderr)


def test_demo_runs_end_to_end_on_the_smallest_board():
    p = tc("demo", "--target", "msp430g2553", timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("200/200 bit-exact with Python, 0 readings outside the bound") == 4
    assert "measured peak stack" in p.stdout
