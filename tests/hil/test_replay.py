"""Recordings replayed through the board under test (--dut, native by default).

10 minutes of MIT-BIH record 100 (DS2) and one day of each SensorScope GSB station go in as
SAMPLES; the board's REPORTs must decode to the Python codec's bits, within eps, with nothing
lost, and its own frame/message counters must equal what the host decoded. Delayed reporting
and the mode-switching commands are exercised live.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import wfdb

from host_tools.writers import write_signals
from toolchain.link.frames import MsgType, Reassembler, StreamDecoder
from toolchain.link.reports import BATCH_MAGIC, FLAG_BUTTON, FLAG_EVENT, REPORT_MAGIC, decode_payload

# A flush is acknowledged after the board has worked through every sample sent before it; QEMU's
# Cortex-M UART (CMSDK, one byte of receive buffer) takes its time on a loaded machine.
FLUSH_S = 30.0

ECG_FS = 360.0


def _signal(dut):
    """Decoded samples in window order, and which are valid (received and not missing at the sensor)."""
    dec = dut.decoder
    values, received = dec.signal()
    valid = received.copy()
    for k, w in dec.windows.items():
        if w.missing is not None:
            valid[k * dut.fm.n:(k + 1) * dut.fm.n] &= ~w.missing
    return values, valid


def test_ecg_ten_minutes_mitdb_100(dut_factory, ecg_windows, check_replay, check_link_clean, tmp_path):
    X = ecg_windows
    dut = dut_factory("mitdb-temporal")
    cs = dut.configure(per_report=4)  # eps: the model's first spec eps; 4 windows a report
    sent = dut.replay(X)
    assert sent == -(-X.size // 240)
    dut.command("flush", timeout=FLUSH_S)
    dut.wait_windows(len(X), timeout=60)
    check_replay(dut, X, cs)
    check_link_clean(dut, len(X))
    dec = dut.decoder
    assert dec.stats.reports == -(-len(X) // 4)

    values, valid = _signal(dut)
    assert valid.all() and len(values) == X.size
    write_signals(tmp_path / "rec100", "wfdb", {"MLII": values}, fs=ECG_FS, valid={"MLII": valid})
    rec = wfdb.rdrecord(str(tmp_path / "rec100"), physical=False)
    assert rec.fs == ECG_FS and rec.sig_name == ["MLII"]
    np.testing.assert_array_equal(rec.d_signal[:, 0], values)
    assert np.abs(values - X.ravel()).max() <= cs.eps


@pytest.mark.parametrize("dut", ["gsb-temporal"], indirect=True)
@pytest.mark.parametrize("station", range(6))
def test_gsb_one_day_per_station(dut, gsb_day, station, check_replay, check_link_clean, tmp_path):
    names, per_station = gsb_day
    X = per_station[station]
    assert len(X) == 22, f"{names[station]}: {len(X)} windows in a day"
    cs = dut.configure(per_report=4)
    dut.replay(X)
    dut.command("flush", timeout=FLUSH_S)  # the last report holds 2 windows
    dut.wait_windows(len(X), timeout=30)
    check_replay(dut, X, cs)
    check_link_clean(dut, len(X))

    values, valid = _signal(dut)
    assert len(values) == X.size
    np.testing.assert_array_equal(valid, X.ravel() != -32768)
    name = names[station]
    write_signals(tmp_path / f"{name}.csv", "csv", {name: values}, valid={name: valid})
    write_signals(tmp_path / f"{name}.parquet", "parquet", {name: values}, fs=1 / 120, valid={name: valid})
    from_csv = pd.read_csv(tmp_path / f"{name}.csv")
    from_parquet = pq.read_table(tmp_path / f"{name}.parquet").to_pandas()
    for df in (from_csv, from_parquet):
        col = df[name].to_numpy(dtype=float)
        assert list(df["sample"]) == list(range(X.size))
        np.testing.assert_array_equal(np.isnan(col), ~valid)
        np.testing.assert_array_equal(col[valid], values[valid])


def _report_payloads(dut, since: int) -> list[bytes]:
    """REPORT payloads in the bytes the board sent after offset `since` of its capture."""
    dut.client.capture.flush()
    data = dut.cfg.capture.read_bytes()[since:]
    sd, ra = StreamDecoder(), Reassembler()
    out = []
    for f in sd.feed(data):
        m = ra.push(f)
        if m is not None and m.type == MsgType.REPORT:
            out.append(m.payload)
    return out


def test_delayed_mode_and_mode_switches(dut_factory, gsb_day, check_replay, check_link_clean, tmp_path):
    _, per_station = gsb_day
    X = np.concatenate(per_station[1:])  # 5 stations without long gaps: 110 windows
    dut = dut_factory("gsb-temporal", capture=tmp_path / "capture.bin")

    # Delayed: 2 windows a report, batches of at most 256 bytes, sent when full or on "flush".
    cs = dut.configure(per_report=2, mode=1, max_batch=256)
    mark = dut.client.bytes_in
    dut.replay(X[:40])
    dut.stats()  # a round trip: what the board sent before its reply has been read
    before_flush = dut.decoder.stats.windows
    assert 0 < before_flush < 40, f"{before_flush} windows arrived before flush: batches not held back"
    dut.command("flush", timeout=FLUSH_S)
    dut.wait_windows(40, timeout=10)
    batches = _report_payloads(dut, mark)
    assert len(batches) >= 2 and all(p[0] == BATCH_MAGIC for p in batches), [p[:1].hex() for p in batches]
    assert sum(int.from_bytes(p[1:3], "little") for p in batches) == 20  # reports in the batches
    assert dut.decoder.stats.reports == 20

    # Link lost: everything is held (delayed) until the link is restored.
    dut.configure(per_report=2, mode=0, max_batch=4096)  # immediate unless the link is down
    dut.command("link-lost")
    n0 = dut.decoder.stats.windows
    dut.replay(X[40:60])
    dut.stats()
    assert dut.decoder.stats.windows == n0, "reports were sent while the link was down"
    mark = dut.client.bytes_in
    dut.command("link-restored")
    dut.wait_windows(60, timeout=10)
    held = _report_payloads(dut, mark)
    assert len(held) == 1 and held[0][0] == BATCH_MAGIC and int.from_bytes(held[0][1:3], "little") == 10

    # Event and button: urgent. The pending window closes a flagged report, the delayed buffer goes
    # out as one batch, and later reports are sent one by one although the session says delayed.
    for cmd, flag, lo in (("event", FLAG_EVENT, 60), ("button", FLAG_BUTTON, 85)):
        dut.configure(per_report=2, mode=1, max_batch=4096)  # delayed, nothing urgent
        dut.replay(X[lo:lo + 3])  # one report buffered, one window pending
        dut.stats()
        mark = dut.client.bytes_in
        dut.command(cmd)
        dut.replay(X[lo + 3:lo + 25])  # 22 windows: 11 reports
        dut.wait_windows(lo + 25, timeout=10)
        after = _report_payloads(dut, mark)
        session = dut.decoder.session
        batch = decode_payload(after[0], session)
        singles = after[1:]
        assert after[0][0] == BATCH_MAGIC, f"{cmd!r} did not flush the buffered report as a batch"
        assert len(singles) >= 11 and all(p[0] == REPORT_MAGIC for p in singles), \
            f"after {cmd!r} reports were not sent one by one: {[p[:1].hex() for p in singles]}"
        flagged = batch[-1] if cmd == "button" else decode_payload(singles[0], session)[0]
        assert flagged.flags & flag and flagged.descriptors[0].records[0].index == lo + 2, \
            f"{cmd!r}: the report closed by the command is not flagged 0x{flag:02x}: {flagged}"
    check_replay(dut, X, cs)
    check_link_clean(dut, len(X))
