"""A board's messages as LoRaWAN DR0 uplinks through the Semtech UDP packet forwarder protocol.

The messages come from a real GSB replay through the board under test (the native virtual board
by default); they are re-fragmented to DR0's 51-byte frames and sent as PUSH_DATA datagrams from
a second UDP socket playing the gateway, to a UdpListener on an ephemeral port of 127.0.0.1.
"""
from __future__ import annotations

import socket

import numpy as np
import pytest

from host_tools.capture import messages_of
from host_tools.decoder import HostDecoder
from host_tools.dut import window_bits
from host_tools.testing.faults import capture_replay, gsb_test_windows
from host_tools.semtech_udp import (PROTOCOL_VERSION, PULL_ACK, PULL_DATA, PUSH_ACK, PUSH_DATA, UdpListener,
                                    push_data)
from toolchain.data.signals import MISSING
from toolchain.link.frames import MTU_LORAWAN, MsgType, fragment, frame_bytes

EUI = bytes.fromhex("a84041ffff1f2a3b")


@pytest.fixture
def udp():
    listener = UdpListener(port=0)
    gw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gw.bind(("127.0.0.1", 0))
    gw.settimeout(2.0)
    yield listener, gw
    gw.close()
    listener.close()


def _exchange(listener: UdpListener, gw: socket.socket, dgram: bytes) -> tuple[list, bytes | None]:
    """Gateway sends one datagram; the listener handles it; the gateway reads the answer (None if none)."""
    gw.sendto(dgram, ("127.0.0.1", listener.port))
    ups = listener.poll(2.0)
    gw.settimeout(0.2)
    try:
        answer = gw.recv(64)
    except socket.timeout:
        answer = None
    gw.settimeout(2.0)
    return ups, answer


def test_dr0_uplinks_decode_bit_exactly(dut_factory, udp, tmp_path):
    listener, gw = udp
    X = gsb_test_windows()[:180]  # station st11's test days, gaps included
    assert (X == MISSING).any()
    dut = dut_factory("gsb-temporal", capture=tmp_path / "gsb.bin")
    clean, _ = capture_replay(dut, X, per_report=4)
    cs = dut.decoder.codec

    # What a LoRa node would send: its identity, session and reports, numbered as it sends them.
    msgs = [m for m in messages_of(clean) if m.type in (MsgType.IDENTIFY, MsgType.CONFIG, MsgType.REPORT)]
    assert msgs[0].type == MsgType.IDENTIFY and sum(m.type == MsgType.REPORT for m in msgs) == len(X) // 4
    mtu = MTU_LORAWAN["DR0"]
    frames = [frame_bytes(f) for k, m in enumerate(msgs) for f in fragment(m.type, k, m.payload, mtu)]
    assert max(map(len, frames)) == mtu and len(frames) > 2 * len(msgs)  # reports need several uplinks

    # Keep-alive first, as a gateway does.
    token = b"\x0a\x0b"
    ups, ack = _exchange(listener, gw, bytes([PROTOCOL_VERSION]) + token + bytes([PULL_DATA]) + EUI)
    assert ups == [] and ack == bytes([PROTOCOL_VERSION]) + token + bytes([PULL_ACK])

    dec = HostDecoder(model=dut.fm)
    rng = np.random.default_rng(7)
    i, n_dgrams = 0, 0
    while i < len(frames):
        k = int(rng.integers(1, 4))  # 1 to 3 rxpk in a datagram
        token = int(n_dgrams).to_bytes(2, "little")
        ups, ack = _exchange(listener, gw, push_data(frames[i:i + k], EUI, token=token, datr="SF12BW125"))
        assert ack == bytes([PROTOCOL_VERSION]) + token + bytes([PUSH_ACK]), f"datagram {n_dgrams}: answer {ack!r}"
        assert [u.payload for u in ups] == frames[i:i + k] and all(u.gateway == EUI.hex() for u in ups)
        for u in ups:
            assert u.meta["datr"] == "SF12BW125" and u.meta["size"] == len(u.payload)
            dec.feed_packet(u.payload)
        i += k
        n_dgrams += 1
        if n_dgrams == 5:  # a datagram whose JSON is garbage: counted, not acknowledged, not fatal
            ups, ack = _exchange(listener, gw, bytes([PROTOCOL_VERSION]) + b"\x99\x99" + bytes([PUSH_DATA]) + EUI
                                 + b'{"rxpk": [{"data": ')
            assert ups == [] and ack is None
        if n_dgrams == 9:  # a packet the radio received with a bad CRC: acknowledged, dropped
            bad = bytearray(frames[i])
            bad[7] ^= 0x40
            ups, ack = _exchange(listener, gw, push_data([bytes(bad)], EUI, token=b"\x77\x77", stat=-1))
            assert ups == [] and ack == bytes([PROTOCOL_VERSION]) + b"\x77\x77" + bytes([PUSH_ACK])
    dec.finish()

    st = listener.stats
    assert (st.pull_data, st.push_data, st.malformed, st.radio_crc_bad, st.uplinks) == (
        1, n_dgrams + 1, 1, 1, len(frames)), st
    assert "JSON body unreadable" in st.errors[0]
    assert dec.stats.packets == len(frames) and dec.stats.packets_bad == {}
    assert dec.stats.lost_messages == [] and dec.reasm.stats.messages_ok == len(msgs)
    ref = window_bits(dut, X, cs)
    assert sorted(dec.windows) == list(range(len(X))), dec.summary()
    for k, (data, nbits) in enumerate(ref):
        w = dec.windows[k]
        assert w.error is None and (w.data, w.nbits) == (data, nbits), f"window {k}: {w.error}"
        assert np.array_equal(w.values, dut.decoder.windows[k].values)  # same as over the serial link
        ok = X[k] != MISSING
        assert np.all(np.abs(w.values[ok] - X[k][ok]) <= cs.eps)
