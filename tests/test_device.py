"""The generated C on every board against the Python reference: equal bytes on held-out windows,
and the host decoder keeps every reading within eps of what the firmware saw."""
from __future__ import annotations

import numpy as np
import pytest

from toolchain.boards import load_board
from toolchain.families.msp430.build import FitError
from toolchain.codecs import ae_codec
from toolchain.pipeline import build, get_model, run, verify
from toolchain.train.datasets import load_specs, prepare

MODELS = list(load_specs())
WINDOWS = 200


def held_out(name: str, k: int = WINDOWS) -> np.ndarray:
    test = prepare(name).test
    idx = np.linspace(0, len(test) - 1, min(k, len(test))).round().astype(int)
    return test[idx]


def _check(name: str, board: str, eps_list, windows=WINDOWS, mean_shift=0):
    fm = get_model(name)
    built = build(fm, load_board(board))
    X = held_out(name, windows)
    for eps in eps_list:
        dev = run(fm, built, X, eps, mean_shift=mean_shift)
        v = verify(fm, X, eps, dev, mean_shift=mean_shift)
        assert v.windows == len(X) >= min(windows, len(prepare(name).test))
        assert v.bit_exact == v.windows, f"{board} {name} eps={eps}: windows {v.mismatches} differ"
        assert v.violations == 0 and v.max_abs_err <= eps
    return built, dev


@pytest.mark.parametrize("name", MODELS)
def test_native_bit_exact_on_all_test_windows(name):
    _check(name, "native", prepare(name).spec.eps, windows=100000)


@pytest.mark.parametrize("name", [m for m in MODELS if m != "intel-spatial"])
def test_g2553_bit_exact(name):
    spec = prepare(name).spec
    built, dev = _check(name, "msp430g2553", [spec.eps[0], spec.eps[-1]])
    assert built.flash_bytes <= 16384 and built.ram_bytes + built.stack_reserve <= 512
    assert all(w.cycles is not None and 0 < w.cycles < w.cycles_raw for w in dev)


@pytest.mark.parametrize("name", MODELS)
def test_f1611_bit_exact(name):
    spec = prepare(name).spec
    built, dev = _check(name, "msp430f1611", [spec.eps[1]], mean_shift=4)
    assert all(w.cycles is not None and 0 < w.cycles < w.cycles_raw for w in dev)


def test_hardware_multiplier_is_used_where_the_board_has_one():
    fm = get_model("gsb-temporal")
    X = held_out("gsb-temporal", 20)
    cyc = {}
    for board in ("msp430g2553", "msp430f1611"):
        dev = run(fm, build(fm, load_board(board)), X, 10)
        cyc[board] = np.mean([w.cycles for w in dev])
    assert cyc["msp430f1611"] < 0.6 * cyc["msp430g2553"]


@pytest.mark.parametrize("name", MODELS)
def test_f5529_builds_and_is_sized(name):
    built = build(get_model(name), load_board("msp430f5529"))
    assert built.artifact.exists() and 0 < built.flash_bytes < 48128 and 0 < built.ram_bytes < 8192


def test_model_too_large_for_the_board_is_refused_with_numbers():
    with pytest.raises(FitError, match=r"msp430g2553: RAM needs \d+ B .* but the chip has 512 B"):
        build(get_model("intel-spatial"), load_board("msp430g2553"))


@pytest.mark.parametrize("board", ["native", "msp430g2553", "msp430f1611"])
def test_bad_readings_on_the_device(board):
    """NaN readings (MISSING) are imputed and counted on the device; readings outside the sensor's
    data-sheet range still come back within eps through the residual path."""
    fm = get_model("gsb-temporal")
    X = held_out("gsb-temporal", 6).copy()
    X[0, [3, 4, 30]] = ae_codec.MISSING          # three missing readings
    X[1, :] = ae_codec.MISSING                    # a window with nothing observed
    X[2, 7] = 20000                               # 200 degC: beyond the SHT75's 123.8 degC
    X[3, 0] = -32767                              # the lowest int16 reading there is
    X[4, ::2] = 32767                             # saturated ADC every other sample
    X[5, :] = 32767                               # mean at the top of the word (coarse-mean cap)
    built = build(fm, load_board(board))
    for eps, t in ((0, 0), (10, 6)):
        dev = run(fm, built, X, eps, mean_shift=t)
        v = verify(fm, X, eps, dev, mean_shift=t)
        assert v.bit_exact == len(X) and v.violations == 0
        assert [w.imputed for w in dev] == list((X == ae_codec.MISSING).sum(1))
        _, miss = ae_codec.decode(fm, dev[0].data, dev[0].nbits, eps, mean_shift=t)
        assert miss.tolist() == (X[0] == ae_codec.MISSING).tolist() and miss.sum() >= 3


def test_ecg_reading_outside_the_11_bit_adc_range():
    fm = get_model("mitdb-temporal")
    X = held_out("mitdb-temporal", 3).copy()
    X[0, 5], X[1, 9] = 4000, -100    # not an 11-bit code: still within eps after decoding
    dev = run(fm, build(fm, load_board("msp430f1611")), X, 2)
    v = verify(fm, X, 2, dev)
    assert v.bit_exact == 3 and v.violations == 0
