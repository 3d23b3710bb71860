"""Link faults against a real board's stream: bit errors, drops, duplicates, a gap, a cut (on the captured
bytes of a GSB replay), and a live disconnect/reconnect of the host's serial port mid-replay.

The decoder must never raise or hang, must decode every frame the damage did not touch, must not
accept a damaged frame, and must name what it lost by message seq and window number, with the
counts adding up. The figures table is printed (pytest -s) and written by `make bench-link`.
"""
from __future__ import annotations

import pytest

from host_tools.testing.faults import (analyse, capture_replay, format_table, gsb_test_windows, live_disconnect,
                               offline_scenarios)


@pytest.fixture(scope="module")
def gsb_windows():
    return gsb_test_windows()


def test_faults_on_captured_stream(dut_factory, gsb_windows, tmp_path):
    X = gsb_windows
    dut = dut_factory("gsb-temporal", capture=tmp_path / "gsb.bin")
    clean, protect = capture_replay(dut, X)
    assert len(dut.decoder.windows) == len(X) and protect < len(clean) // 10
    rows = [analyse(name, clean, inject(clean), dut.fm) for name, inject in offline_scenarios(protect)]
    print("\n" + format_table(rows))
    for r in rows:
        assert r.violations() == [], f"{r.scenario}: {r.violations()}"
        assert r.messages_kept + r.messages_lost + r.messages_lost_unseen == r.messages_sent, r
        assert r.windows_kept + r.windows_lost + r.windows_lost_unseen == r.windows_sent, r
        assert r.frames_lost <= r.frames_touched, r
        assert r.windows_sent == len(X) and r.decode_ms < 30_000, r
    by = {r.scenario: r for r in rows}
    clean_row = by["clean"]
    assert clean_row.frames_lost == clean_row.messages_lost == clean_row.windows_lost == clean_row.resyncs == 0
    for name in ("ber 1e-4", "ber 1e-3", "drop 1e-3", "duplicate 1e-3", "gap 2 kB"):
        r = by[name]
        assert r.frames_touched > 0 and r.messages_lost > 0 and r.windows_lost > 0 and r.resyncs > 0, \
            f"{name}: the injection damaged nothing the decoder noticed: {r}"
    assert by["ber 1e-3"].frames_lost > by["ber 1e-4"].frames_lost
    cut = by["cut at 80%"]  # a stream that just ends: the decoder cannot know what never came
    assert cut.frames_lost > 0 and cut.messages_lost == 0 and cut.messages_lost_unseen > 0


def test_live_disconnect_reconnect(dut_factory, gsb_windows):
    X = gsb_windows
    dut = dut_factory("gsb-temporal")
    r = live_disconnect(dut, X, at=0.5, pause_s=0.5)
    print("\n" + format_table([r]))
    assert dut.alive(), "the virtual board died when the host's port closed"
    assert r.windows_differing == 0, f"{r.windows_differing} windows differ from the Python codec"
    assert r.frames_lost > 0 and r.messages_lost > 0, \
        f"closing the port lost nothing: the board answered before the close ({r})"
    assert r.misreported == 0 and r.messages_lost_unseen == 0 and r.windows_lost_unseen == 0, r
    assert r.messages_kept + r.messages_lost == r.messages_sent, r
    assert r.windows_kept + r.windows_lost == r.windows_sent == len(X), r
    k = len(X) // 2
    assert max(dut.decoder.windows) == len(X) - 1 and min(dut.decoder.lost_windows()) < k + 8, \
        f"losses not around the disconnect at window {k}: {r.lost_windows}"


def test_lost_codec_config_makes_windows_undecodable_not_wrong(tmp_path):
    """A host that misses the board's CONFIG echo must not decode windows with a stale eps."""
    from host_tools.decoder import HostDecoder
    from toolchain.link.frames import MsgType, Reassembler, StreamDecoder
    from toolchain.pipeline import get_model

    cap = tmp_path / "cap.bin"
    import numpy as np

    from host_tools.virtual_board import VirtualBoard
    from host_tools.link_client import LinkClient
    from host_tools.decoder import CodecSession
    from toolchain.link.app import build_app

    fm = get_model("gsb-temporal")
    b = build_app("gsb-temporal")
    X = np.tile(np.arange(fm.n, dtype=np.int64) * 3 + 100, (8, 1))
    with VirtualBoard(b.exe) as vb:
        lc = LinkClient(vb.port, decoder=HostDecoder(model=fm), capture=str(cap))
        lc.send(MsgType.COMMAND, b"identify")
        lc.expect(MsgType.IDENTIFY, 10)
        lc.configure(CodecSession(3, fm.latent_bits, 0, 1, 0, 4096, 360_000))
        lc.replay(X[:4].ravel())
        lc.wait_windows(4, 20)
        lc.configure(CodecSession(7, fm.latent_bits, 0, 1, 0, 4096, 360_000))
        lc.replay(X[4:].ravel(), start=4 * fm.n)
        lc.wait_windows(8, 20)
        lc.close()
    stream = cap.read_bytes()
    # Decode again, dropping the board's second codec CONFIG (eps 7) from the message flow.
    dec = HostDecoder(model=fm)
    frames = StreamDecoder().feed(stream)
    configs = [f for f in frames if f.type == MsgType.CONFIG and f.payload[:1] == b"\x01"]
    dropped = configs[-1]
    for f in frames:
        if f is not dropped:
            dec._frame(f)
    assert lc.dec.codecs[dropped.payload[13]].eps == 7
    bad = [w for w in dec.windows.values() if w.error]
    assert len(bad) == 4 and all("never arrived" in w.error for w in bad)
    assert all(w.values is not None for k, w in dec.windows.items() if w.error is None)
    assert len(dec.windows) == 8
