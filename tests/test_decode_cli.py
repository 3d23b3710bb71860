"""host_tools/decode_cli.py (`tinycodec decode`) on a captured stream, a damaged one, and UDP uplinks."""
from __future__ import annotations

import socket
import threading

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import wfdb

from host_tools.capture import messages_of
from host_tools.decode_cli import main
from host_tools.decoder import HostDecoder
from host_tools.testing.faults import after, bit_errors, capture_replay, gsb_test_windows, ranges
from host_tools.semtech_udp import PROTOCOL_VERSION, PULL_ACK, PULL_DATA, PUSH_ACK, push_data
from toolchain.data.signals import MISSING
from toolchain.link.frames import MTU_LORAWAN, MsgType, fragment, frame_bytes
from toolchain.pipeline import get_model

WINDOWS = 180  # station st11's test days (with gaps)


@pytest.fixture
def capture(dut_factory, tmp_path):
    """(capture file, its bytes, where the data phase starts, the live decoder, the windows)."""
    X = gsb_test_windows()[:WINDOWS]
    path = tmp_path / "gsb.bin"
    dut = dut_factory("gsb-temporal", capture=path)
    clean, protect = capture_replay(dut, X)
    return path, clean, protect, dut.decoder, X


def _expected(dec: HostDecoder, n: int) -> tuple[np.ndarray, np.ndarray]:
    values, received = dec.signal()
    valid = received.copy()
    for k, w in dec.windows.items():
        valid[k * n:(k + 1) * n] &= ~w.missing
    return values, valid


def test_decode_capture_to_csv_parquet_wfdb(capture, tmp_path, capsys):
    path, _, _, live, X = capture
    values, valid = _expected(live, 32)
    assert not valid.all() and np.array_equal(valid, X.ravel() != MISSING)
    for fmt, name in (("csv", "out.csv"), ("parquet", "out.parquet"), ("wfdb", "out")):
        assert main(["--file", str(path), "--out", str(tmp_path / name), "--format", fmt, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "model=gsb-temporal" in out
    assert f"windows: {WINDOWS} decoded, 0 undecodable, 0 lost; numbers 0..{WINDOWS - 1} seen" in out
    assert "messages: " in out and ", 0 lost;" in out and "CRC failures 0" in out
    col = pd.read_csv(tmp_path / "out.csv")["gsb-temporal"].to_numpy(float)
    np.testing.assert_array_equal(np.isnan(col), ~valid)
    np.testing.assert_array_equal(col[valid], values[valid])
    tab = pq.read_table(tmp_path / "out.parquet")
    assert tab.schema.metadata[b"tinycodec.fs"] == str(1 / 120).encode()
    col = tab.column("gsb-temporal").to_pandas().to_numpy(float)
    np.testing.assert_array_equal(col[valid], values[valid])
    assert np.isnan(col[~valid]).all()
    rec = wfdb.rdrecord(str(tmp_path / "out"), physical=False)
    np.testing.assert_array_equal(rec.d_signal[:, 0], np.where(valid, values, -32768))


def test_decode_damaged_capture_names_what_was_lost(capture, tmp_path, capsys):
    _, clean, protect, _, _ = capture
    damaged = after(protect, lambda d: bit_errors(d, 1e-3, np.random.default_rng(5)))(clean).data
    bad = tmp_path / "damaged.bin"
    bad.write_bytes(damaged)
    ref = HostDecoder(model=get_model("gsb-temporal"))
    ref.feed(damaged)
    ref.finish()
    assert ref.stats.lost_messages and ref.lost_windows()

    assert main(["--file", str(bad), "--out", str(tmp_path / "d.csv")]) == 0  # progress bar on
    got = capsys.readouterr()
    assert f"(seq {ranges(ref.stats.lost_messages)})" in got.out
    assert f"{len(ref.lost_windows())} lost ({ranges(ref.lost_windows())})" in got.out
    assert f"CRC failures {ref.stream.stats.crc_errors}," in got.out
    assert "windows" in got.err and "crc=" in got.err and "gaps=" in got.err  # tqdm's live figures
    assert main(["--file", str(bad), "--strict", "--no-progress"]) == 1
    assert main(["--file", str(tmp_path / "absent.bin"), "--no-progress"]) == 2
    assert "absent.bin" in capsys.readouterr().err


def test_decode_udp_uplinks(capture, tmp_path, capsys):
    _, clean, _, live, X = capture
    msgs = [m for m in messages_of(clean) if m.type in (MsgType.IDENTIFY, MsgType.CONFIG, MsgType.REPORT)]
    frames = [frame_bytes(f) for k, m in enumerate(msgs) for f in fragment(m.type, k, m.payload, MTU_LORAWAN["DR0"])]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    rc: list[int] = []
    t = threading.Thread(target=lambda: rc.append(main(["--udp", str(port), "--duration", "3", "--no-progress",
                                                        "--out", str(tmp_path / "udp.csv")])))
    t.start()
    gw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gw.settimeout(0.2)
    try:
        for _ in range(25):  # until the decoder listens: PULL_DATA -> PULL_ACK
            gw.sendto(bytes([PROTOCOL_VERSION, 1, 2, PULL_DATA]) + bytes(8), ("127.0.0.1", port))
            try:
                if gw.recv(16) == bytes([PROTOCOL_VERSION, 1, 2, PULL_ACK]):
                    break
            except (socket.timeout, ConnectionRefusedError):
                continue
        else:
            pytest.fail(f"decode --udp {port} never answered PULL_DATA")
        gw.settimeout(2.0)
        for i in range(0, len(frames), 2):
            tok = (i // 2 & 0xFFFF).to_bytes(2, "little")
            gw.sendto(push_data(frames[i:i + 2], token=tok), ("127.0.0.1", port))
            assert gw.recv(16) == bytes([PROTOCOL_VERSION]) + tok + bytes([PUSH_ACK])
    finally:
        gw.close()
        t.join(10)
    assert rc == [0]
    out = capsys.readouterr().out
    assert f"windows: {WINDOWS} decoded, 0 undecodable, 0 lost" in out and f"packets: {len(frames)} uplinks" in out
    values, valid = _expected(live, 32)
    col = pd.read_csv(tmp_path / "udp.csv")["gsb-temporal"].to_numpy(float)
    np.testing.assert_array_equal(col[valid], values[valid])
    np.testing.assert_array_equal(np.isnan(col), ~valid)
    assert len(X) == WINDOWS


def test_flash_native_starts_a_virtual_board_that_decode_reads(tmp_path, capsys):
    """`make flash TARGET=native`: the app runs behind a pty and prints the port, like a board."""
    import os
    import signal

    from toolchain.cli import main as tinycodec
    from toolchain.stages import stage_dir

    assert tinycodec(["flash", "--target", "native", "--model", "gsb-temporal"]) == 0
    out = capsys.readouterr().out
    d = stage_dir("gsb-temporal", "native") / "app"
    port, pid = (d / "port").read_text().strip(), int((d / "pid").read_text())
    try:
        assert port in out and port.startswith("/dev/pts/")
        rc = tinycodec(["decode", "--port", port, "--duration", "2"])
        text = capsys.readouterr()
        import re

        m = re.search(r"messages: (\d+) received, (\d+) lost", text.out + text.err)
        assert m and int(m.group(1)) >= 3 and m.group(2) == "0"  # IDENTIFY, session table, codec session
        assert rc == 1  # the board answered but was sent no samples: nothing to decode
    finally:
        os.kill(pid, signal.SIGTERM)
