"""LoRa uplinks as a gateway's Semtech UDP packet forwarder sends them (PUSH_DATA).

Protocol (Semtech packet_forwarder PROTOCOL.TXT, version 2): every datagram starts with
version (2), a 2-byte random token and an identifier. PUSH_DATA (0x00) is followed by the
8-byte gateway EUI and a JSON object whose "rxpk" array holds received packets; "data" is
the base64 payload and "stat" is the radio CRC status (1 ok, -1 bad, 0 none). The server
answers every PUSH_DATA with PUSH_ACK (0x01, same token) and every PULL_DATA (0x02, a
keep-alive) with PULL_ACK (0x04). Each payload here is one raw tinycodec frame (no COBS:
the radio packet is the frame boundary).
"""
from __future__ import annotations

import base64
import json
import os
import socket
from dataclasses import dataclass, field

PROTOCOL_VERSION = 2
PUSH_DATA, PUSH_ACK, PULL_DATA, PULL_RESP, PULL_ACK = 0x00, 0x01, 0x02, 0x03, 0x04


class SemtechError(ValueError):
    """A datagram that is not a well-formed packet-forwarder message."""


@dataclass
class Uplink:
    payload: bytes
    gateway: str  # EUI as hex
    crc_ok: bool
    meta: dict = field(default_factory=dict)  # freq, datr, rssi, lsnr, tmst ...


@dataclass
class UdpStats:
    datagrams: int = 0
    push_data: int = 0
    pull_data: int = 0
    uplinks: int = 0
    radio_crc_bad: int = 0
    malformed: int = 0
    errors: list[str] = field(default_factory=list)


def parse_push_data(dgram: bytes) -> tuple[bytes, str, list[Uplink]]:
    """(token, gateway EUI, uplinks) of a PUSH_DATA datagram; SemtechError otherwise."""
    if len(dgram) < 12:
        raise SemtechError(f"datagram of {len(dgram)} B is shorter than a PUSH_DATA header (12 B)")
    if dgram[0] != PROTOCOL_VERSION or dgram[3] != PUSH_DATA:
        raise SemtechError(f"not PUSH_DATA v2 (version {dgram[0]}, identifier {dgram[3]:#04x})")
    token, eui = dgram[1:3], dgram[4:12].hex()
    try:
        body = json.loads(dgram[12:].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SemtechError(f"PUSH_DATA from {eui}: JSON body unreadable ({e})") from None
    ups = []
    for k, pk in enumerate(body.get("rxpk", []) if isinstance(body, dict) else []):
        try:
            data = base64.b64decode(pk["data"], validate=True)
        except (KeyError, TypeError, ValueError) as e:
            raise SemtechError(f"PUSH_DATA from {eui}: rxpk[{k}] has no valid base64 'data' ({e})") from None
        if "size" in pk and pk["size"] != len(data):
            raise SemtechError(f"PUSH_DATA from {eui}: rxpk[{k}] size {pk['size']} != {len(data)} decoded bytes")
        meta = {k2: v for k2, v in pk.items() if k2 != "data"}
        ups.append(Uplink(data, eui, pk.get("stat", 1) == 1, meta))
    return token, eui, ups


def push_data(payloads: list[bytes], gateway_eui: bytes = bytes.fromhex("a84041ffff1f2a3b"),
              token: bytes | None = None, datr: str = "SF7BW125", stat: int = 1) -> bytes:
    """A PUSH_DATA datagram as a gateway would send it (for tests and the LoRa virtual board)."""
    token = token if token is not None else os.urandom(2)
    rxpk = [{"tmst": 1000 * k, "chan": 0, "rfch": 0, "freq": 868.1, "stat": stat, "modu": "LORA", "datr": datr,
             "codr": "4/5", "rssi": -57, "lsnr": 9.5, "size": len(p), "data": base64.b64encode(p).decode()}
            for k, p in enumerate(payloads)]
    return bytes([PROTOCOL_VERSION]) + token + bytes([PUSH_DATA]) + gateway_eui + json.dumps({"rxpk": rxpk}).encode()


class UdpListener:
    """A packet-forwarder server on a UDP port: acknowledges and yields uplinks."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1700):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.stats = UdpStats()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def poll(self, timeout: float) -> list[Uplink]:
        """Uplinks from datagrams arriving within `timeout` seconds (one datagram at most)."""
        self.sock.settimeout(timeout)
        try:
            dgram, addr = self.sock.recvfrom(65535)
        except (socket.timeout, BlockingIOError):
            return []
        self.stats.datagrams += 1
        if len(dgram) >= 4 and dgram[0] == PROTOCOL_VERSION and dgram[3] == PULL_DATA:
            self.stats.pull_data += 1
            self.sock.sendto(bytes([PROTOCOL_VERSION]) + dgram[1:3] + bytes([PULL_ACK]), addr)
            return []
        try:
            token, _, ups = parse_push_data(dgram)
        except SemtechError as e:
            self.stats.malformed += 1
            self.stats.errors.append(str(e))
            return []
        self.stats.push_data += 1
        self.sock.sendto(bytes([PROTOCOL_VERSION]) + token + bytes([PUSH_ACK]), addr)
        good = [u for u in ups if u.crc_ok]
        self.stats.uplinks += len(good)
        self.stats.radio_crc_bad += len(ups) - len(good)
        return good

    def close(self) -> None:
        self.sock.close()
