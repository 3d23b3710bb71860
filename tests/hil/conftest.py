"""Recordings and checks shared by the HIL tests.

The bench itself (the --dut options, the `dut` / `dut_factory` fixtures and the "tinycodec HIL"
summary) is host_tools/pytest_plugin.py, registered in tests/conftest.py: pytest accepts
`pytest_plugins` only in the top-level conftest. Run with --dut serial --port ... to use a real
board (flashed beforehand with `make flash`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from host_tools.decoder import CodecSession
from host_tools.dut import Dut, window_bits
from toolchain import data as D
from toolchain.data.signals import MISSING

ECG_RECORD = 100  # in DS2, the inter-patient test set
ECG_SAMPLES = 216_000  # 10 minutes at 360 Hz
GSB_DAY_ROWS = 720  # one day at one reading per 120 s
N = 32  # window length of both temporal models


@pytest.fixture(scope="session")
def ecg_windows() -> np.ndarray:
    """The first 10 minutes of MIT-BIH record 100, MLII, as (6750, 32) windows in ADC units."""
    assert ECG_RECORD in D.mitdb_split()["test"], f"record {ECG_RECORD} is not in DS2 any more"
    sig = D.load_mitdb_mlii(ECG_RECORD)
    sig = dataclasses.replace(sig, values=sig.values[:ECG_SAMPLES])
    X, _ = D.temporal_windows(sig, N)
    assert X.shape == (ECG_SAMPLES // N, N)
    return X


@pytest.fixture(scope="session")
def gsb_day() -> tuple[list[str], list[np.ndarray]]:
    """(station names, per station the (22, 32) windows of its first test day)."""
    _, _, test = D.split_chronological(D.load_gsb_temperature())
    day = dataclasses.replace(test, values=test.values[:GSB_DAY_ROWS])
    X, idx = D.temporal_windows(day, N)
    return list(test.sensors), [X[idx == s] for s in range(len(test.sensors))]


def _check_replay(dut: Dut, X: np.ndarray, cs: CodecSession, first: int = 0) -> None:
    """Windows first.. first+len(X)-1 on the board are X: all decoded, bit-exact with the Python
    codec, within eps of every non-missing sample, with the right missing-sample mask."""
    dec = dut.decoder
    ref = window_bits(dut, X, cs)
    missing = [k for k in range(first, first + len(X)) if k not in dec.windows]
    assert not missing, f"windows never received: {missing[:20]} ({dec.summary()})"
    for j, (data, nbits) in enumerate(ref):
        w = dec.windows[first + j]
        assert w.error is None, f"window {first + j}: {w.error}"
        assert (w.data, w.nbits) == (data, nbits), (
            f"window {first + j}: board sent {w.nbits} bits {w.data.hex()}, Python codec {nbits} bits {data.hex()}")
        x = X[j]
        ok = x != MISSING
        np.testing.assert_array_equal(w.missing, ~ok, err_msg=f"window {first + j}: missing-sample mask")
        err = np.abs(w.values[ok] - x[ok])
        assert err.size == 0 or err.max() <= cs.eps, f"window {first + j}: error {err.max()} > eps {cs.eps}"
    assert dec.stats.window_errors == 0 and dec.stats.report_errors == 0, dec.stats.errors[:5]


def _check_link_clean(dut: Dut, windows: int) -> None:
    """Nothing lost or rejected, and the board's own counters equal what the host decoded."""
    dec = dut.decoder
    st = dut.stats()
    assert dec.stats.lost_messages == [], f"lost messages (seq): {dec.stats.lost_messages[:20]}"
    assert dec.lost_windows() == [], f"lost windows: {dec.lost_windows()[:20]}"
    assert dec.stream.stats.rejected == 0, dec.summary()
    assert st.windows == windows, f"board encoded {st.windows} windows, {windows} expected"
    assert st.frames_sent == st.host_frames, f"board sent {st.frames_sent} frames, host decoded {st.host_frames}"
    assert st.messages_sent == st.host_messages, (
        f"board sent {st.messages_sent} messages, host completed {st.host_messages}")
    assert st.frames_bad == 0, f"the board rejected {st.frames_bad} of the host's frames"
    # After the reply (ACK + LOG, one frame each) the board sends nothing until asked.
    dut.poll(0.1)
    base = dut.connected_at  # the host's counts when it connected
    assert dec.stream.stats.frames_ok - base.host_frames == st.frames_sent + 2, dec.summary()
    assert dec.reasm.stats.messages_ok - base.host_messages == st.messages_sent + 2, dec.summary()


@pytest.fixture
def check_replay() -> Callable[..., None]:
    return _check_replay


@pytest.fixture
def check_link_clean() -> Callable[[Dut, int], None]:
    return _check_link_clean
