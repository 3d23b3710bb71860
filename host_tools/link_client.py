"""Talk to a board over a serial port or pty: send messages, wait for answers, replay samples.

Used by the HIL bench (host_tools/pytest_plugin.py) and `tinycodec replay`. All reads go
through a HostDecoder, so everything the board sends is also decoded and counted.
"""
from __future__ import annotations

import struct
import time
from collections.abc import Callable

import numpy as np

from toolchain.link.frames import FRAME_MAX, MsgType, encode_stream_frame, fragment

from .decoder import CodecSession, HostDecoder

SAMPLES_PER_MESSAGE = 240  # 4 + 480 B: two frames on a serial link


class LinkTimeout(TimeoutError):
    pass


class LinkClient:
    def __init__(self, port: str, baud: int = 115200, decoder: HostDecoder | None = None,
                 capture: str | None = None):
        import serial  # pyserial

        self.ser = serial.Serial(port, baud, timeout=0)
        self.dec = decoder or HostDecoder()
        self.tx_seq = 0
        self._consumed = 0
        self.capture = open(capture, "wb") if capture else None
        self.bytes_in = 0

    def close(self) -> None:
        self.ser.close()
        if self.capture:
            self.capture.close()

    # --- sending ---------------------------------------------------------------------------------
    def send(self, mtype: int, payload: bytes) -> int:
        seq = self.tx_seq
        self.tx_seq = (self.tx_seq + 1) & 0xFFFF
        # The board parses frames of at most TC_FRAME_MAX raw bytes: fragment to that.
        for f in fragment(mtype, seq, payload, FRAME_MAX):
            self.ser.write(encode_stream_frame(f))
        return seq

    def command(self, text: str, timeout: float = 10.0) -> int:
        seq = self.send(MsgType.COMMAND, text.encode())
        self.expect_ack(seq, timeout)
        return seq

    def configure(self, codec: CodecSession, timeout: float = 10.0) -> None:
        seq = self.send(MsgType.CONFIG, codec.pack())
        status = self.expect_ack(seq, timeout)
        if status != 0:
            raise ValueError(f"board rejected CONFIG {codec} (status {status})")

    def replay(self, samples: np.ndarray, start: int = 0, chunk: int = SAMPLES_PER_MESSAGE,
               progress: Callable[[int], None] | None = None) -> int:
        """Send int16 samples as SAMPLES messages (u32 index of the first, then the samples),
        reading the board's output as we go so neither side blocks. Returns messages sent."""
        x = np.asarray(samples).astype("<i2")
        sent = 0
        for off in range(0, len(x), chunk):
            part = x[off:off + chunk]
            self.send(MsgType.SAMPLES, struct.pack("<I", start + off) + part.tobytes())
            sent += 1
            self.poll(0.0)
            if progress:
                progress(off + len(part))
        return sent

    # --- receiving -------------------------------------------------------------------------------
    def poll(self, timeout: float) -> int:
        """Read what arrives within `timeout` s (at least what is already there)."""
        end = time.monotonic() + timeout
        got = 0
        while True:
            data = self.ser.read(65536)
            if data:
                got += len(data)
                self.bytes_in += len(data)
                if self.capture:
                    self.capture.write(data)
                self.dec.feed(data)
            if time.monotonic() >= end:
                return got
            if not data:
                time.sleep(0.005)

    def expect(self, mtype: int, timeout: float = 10.0,
               match: Callable[[int, bytes], bool] | None = None) -> tuple[int, bytes]:
        """The next (seq, payload) of message type `mtype` (and `match`), or LinkTimeout."""
        end = time.monotonic() + timeout
        while True:
            msgs = self.dec.messages
            while self._consumed < len(msgs):
                t, seq, p = msgs[self._consumed]
                self._consumed += 1
                if t == mtype and (match is None or match(seq, p)):
                    return seq, p
            if time.monotonic() >= end:
                raise LinkTimeout(f"no {MsgType(mtype).name} message within {timeout:.1f} s "
                                  f"({self.bytes_in} bytes received; {self.dec.summary()})")
            self.poll(0.02)

    def expect_ack(self, seq: int, timeout: float = 10.0) -> int:
        _, p = self.expect(MsgType.ACK, timeout, lambda s, p: len(p) >= 3 and (p[0] | (p[1] << 8)) == seq)
        return p[2]

    def wait_windows(self, n: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while self.dec.stats.windows < n:
            if time.monotonic() >= end:
                raise LinkTimeout(f"{self.dec.stats.windows} of {n} windows within {timeout:.0f} s "
                                  f"({self.dec.summary()})")
            self.poll(0.05)
