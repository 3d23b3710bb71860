"""A fake Kendryte K210 on a pseudo-terminal: the ISP side of what kflash talks to.

It answers as the K210 boot ROM does in ISP mode and then as the flash-mode loader ("ISP
program") that kflash uploads and boots, so `kflash -p <pty> ... image.bin` runs end to end
without a board, and the image kflash wrote can be compared byte for byte with the BIN.

The protocol, as kflash 1.1.6 (kflash.py) speaks it:
- Framing: SLIP. Every packet is 0xC0 <bytes> 0xC0, with 0xC0 -> 0xDB 0xDC and
  0xDB -> 0xDB 0xDD inside.
- Request: uint16 op, uint16 0, uint32 checksum, uint32 address, uint32 length, data; all
  little endian. The checksum is CRC-32 (zlib) of everything after it (address, length and
  data). Greetings are 14 bytes: op and zeros (no checksum).
- Reply: uint8 op, uint8 status (0xE0 OK, 0xE1 bad length, 0xE2 bad checksum, 0xE3 invalid
  command, 0xE4 bad init, 0xE7 flash busy) and optional text.
- ROM (ISP mode, entered by a DTR/RTS reset at 115200 baud): 0xC2 NOP (the greeting, answered),
  0xC3 memory write (1024-byte chunks of the loader into SRAM at 0x80000000, each answered),
  0xC6 baud rate (not answered: the host switches right away), 0xC5 boot (not answered: the
  loader starts).
- Loader (flash mode): 0xD2 NOP (greeting), 0xD6 UARTHS baud rate (address 0, length 4, data
  the new rate; not answered), 0xD7 flash init (address = chip: 0 in-chip, 1 on-board SPI
  flash), 0xD8 erase (non-blocking) and 0xD9 status, 0xD4 flash write (chunks of up to 64 KiB
  at flash addresses from 0, each answered after its CRC is checked), 0xD5 reboot.
- What is written to flash for a plain BIN (kflash's flash_firmware with sha256Prefix): a
  header byte (bit 0: AES-encrypted, bit 1: DIO SPI mode), uint32 length, the image, then the
  SHA-256 of header byte + length + image. The boot ROM checks that hash before copying the
  image to SRAM; FlashedImage below does the same.

Baud rate changes are recorded, not applied: a pty carries bytes at any "rate".

Run alone, it prints the pty to pass to kflash and writes the received image to a file:
    python -m host_tools.testing.fake_k210_isp --out received.bin
"""
from __future__ import annotations

import argparse
import hashlib
import os
import select
import struct
import sys
import threading
import time
import tty
import zlib
from dataclasses import dataclass, field

SRAM_ORIGIN = 0x80000000
SRAM_BYTES = 8 * 1024 * 1024           # 6 MiB general + 2 MiB KPU
FLASH_BYTES = 16 * 1024 * 1024         # SPI NOR flash of a Sipeed Maix board

OK, BAD_LEN, BAD_CHECKSUM, INVALID, BAD_INIT = 0xE0, 0xE1, 0xE2, 0xE3, 0xE4
ROM_NOP, ROM_WRITE, ROM_READ, ROM_BOOT, ROM_BAUD = 0xC2, 0xC3, 0xC4, 0xC5, 0xC6
FL_NOP, FL_ERASE, FL_WRITE, FL_REBOOT, FL_BAUD, FL_INIT, FL_ERASE_NB, FL_STATUS = (
    0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9)


def slip_encode(payload: bytes) -> bytes:
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class SlipDecoder:
    """Bytes in, whole packets out (empty packets between back-to-back 0xC0 are dropped)."""

    def __init__(self) -> None:
        self._buf: bytearray | None = None
        self._esc = False

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        for b in data:
            if self._buf is None:
                if b == 0xC0:
                    self._buf = bytearray()
                continue  # noise between packets
            if self._esc:
                self._esc = False
                self._buf.append({0xDC: 0xC0, 0xDD: 0xDB}.get(b, b))
            elif b == 0xDB:
                self._esc = True
            elif b == 0xC0:
                if self._buf:
                    out.append(bytes(self._buf))
                    self._buf = None
                # an empty packet: this 0xC0 opens the next one
            else:
                self._buf.append(b)
        return out


@dataclass
class Request:
    op: int
    checksum: int
    address: int
    length: int
    data: bytes

    @property
    def body(self) -> bytes:
        return struct.pack("<II", self.address, self.length) + self.data

    def checksum_ok(self) -> bool:
        return zlib.crc32(self.body) & 0xFFFFFFFF == self.checksum


def parse_request(packet: bytes) -> Request:
    if len(packet) < 2:
        raise ValueError(f"packet of {len(packet)} bytes")
    op = packet[0] | packet[1] << 8
    head = packet[:16].ljust(16, b"\0")  # greetings are 14 bytes
    _, _, checksum, address, length = struct.unpack("<HHIII", head)
    return Request(op, checksum, address, length, packet[16:])


@dataclass
class FlashedImage:
    flags: int        # bit 0: AES-encrypted, bit 1: DIO mode
    data: bytes       # the image as the ROM would copy it to SRAM

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 1)


@dataclass
class Transcript:
    """What the fake board saw, for tests and for the report at the end of a run."""
    greetings_rom: int = 0
    greetings_loader: int = 0
    rom_baud: list[int] = field(default_factory=list)
    loader_baud: list[int] = field(default_factory=list)
    sram_writes: list[tuple[int, int]] = field(default_factory=list)       # (address, length)
    boot_address: int | None = None
    flash_chip: int | None = None
    flash_writes: list[tuple[int, int]] = field(default_factory=list)      # (address, length)
    erases: list[tuple[int, int]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)                      # requests answered with an error
    rebooted: bool = False


class FakeK210:
    """The ROM and the flash-mode loader behind one end of a pty; kflash opens `port`."""

    def __init__(self, verbose: bool = False) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: bytes as sent
        self.port = os.ttyname(self._slave)
        self.verbose = verbose
        self.mode = "rom"
        self.sram = bytearray()
        self.flash = bytearray()
        self.t = Transcript()
        self._stop = threading.Event()
        self._rebooted = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-k210", daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeK210:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> FakeK210:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_rebooted(self, timeout_s: float) -> bool:
        return self._rebooted.wait(timeout_s)

    # ------------------------------------------------------------------ results
    @property
    def loader(self) -> bytes:
        """What was written to SRAM from 0x80000000 before the boot command (the ISP program)."""
        return bytes(self.sram)

    def firmware(self) -> FlashedImage:
        """The image in flash, unwrapped from kflash's header and checked against its SHA-256
        as the boot ROM checks it. ValueError naming what is wrong otherwise."""
        f = bytes(self.flash)
        if len(f) < 5 + 32:
            raise ValueError(f"flash holds {len(f)} bytes: no image header")
        flags, n = f[0], struct.unpack_from("<I", f, 1)[0]
        if 5 + n + 32 > len(f):
            raise ValueError(f"header says {n} image bytes but flash holds {len(f) - 5 - 32} after header and hash")
        data, sha = f[5:5 + n], f[5 + n:5 + n + 32]
        if hashlib.sha256(f[:5 + n]).digest() != sha:
            raise ValueError("SHA-256 after the image does not match header + image (the ROM would not boot it)")
        return FlashedImage(flags, data)

    # ------------------------------------------------------------------ protocol
    def _log(self, msg: str) -> None:
        if self.verbose:
            print(f"fake-k210: {msg}", file=sys.stderr, flush=True)

    def _reply(self, op: int, status: int) -> None:
        os.write(self.master, slip_encode(bytes([op, status])))

    def _reject(self, req: Request, status: int, why: str) -> None:
        self.t.rejected.append(f"op 0x{req.op:02x} at 0x{req.address:x}: {why}")
        self._log(self.t.rejected[-1])
        self._reply(req.op & 0xFF, status)

    def _serve(self) -> None:
        dec = SlipDecoder()
        while not self._stop.is_set():
            try:
                ready = select.select([self.master], [], [], 0.05)[0]
                if not ready:
                    continue
                data = os.read(self.master, 65536)
            except OSError:
                return
            for packet in dec.feed(data):
                try:
                    req = parse_request(packet)
                except ValueError as e:
                    self.t.rejected.append(str(e))
                    continue
                (self._rom if self.mode == "rom" else self._loader)(req)

    def _rom(self, r: Request) -> None:
        if r.op == ROM_NOP:
            self.t.greetings_rom += 1
            self._reply(ROM_NOP, OK)
            return
        if r.op not in (ROM_WRITE, ROM_BOOT, ROM_BAUD):
            self._reject(r, INVALID, "not an ISP command this ROM knows")
            return
        if not r.checksum_ok():
            self._reject(r, BAD_CHECKSUM, "CRC-32 mismatch")
            return
        if r.op == ROM_WRITE:
            if r.length != len(r.data):
                self._reject(r, BAD_LEN, f"length field {r.length} but {len(r.data)} data bytes")
            elif not SRAM_ORIGIN <= r.address <= r.address + r.length <= SRAM_ORIGIN + SRAM_BYTES:
                self._reject(r, BAD_LEN, "outside SRAM")
            else:
                off = r.address - SRAM_ORIGIN
                if len(self.sram) < off + r.length:
                    self.sram.extend(bytes(off + r.length - len(self.sram)))
                self.sram[off:off + r.length] = r.data
                self.t.sram_writes.append((r.address, r.length))
                self._reply(ROM_WRITE, OK)
        elif r.op == ROM_BAUD:
            self.t.rom_baud.append(struct.unpack("<I", r.data[:4])[0] if len(r.data) >= 4 else -1)
        else:  # boot: no reply, the loader takes over
            self.t.boot_address = r.address
            if r.address != SRAM_ORIGIN or not self.sram:
                self.t.rejected.append(f"boot at 0x{r.address:x} with {len(self.sram)} bytes loaded")
                return
            self._log(f"booting the {len(self.sram)}-byte loader at 0x{r.address:x}")
            self.mode = "loader"

    def _loader(self, r: Request) -> None:
        if r.op == FL_NOP:
            self.t.greetings_loader += 1
            self._reply(FL_NOP, OK)
            return
        if r.op == FL_STATUS:
            self._reply(FL_STATUS, OK)
            return
        if r.op == FL_REBOOT:
            self.t.rebooted = True
            self._reply(FL_REBOOT, OK)
            self._rebooted.set()
            return
        if r.op not in (FL_WRITE, FL_BAUD, FL_INIT, FL_ERASE, FL_ERASE_NB):
            self._reject(r, INVALID, "not a flash-mode command")
            return
        if not r.checksum_ok():
            self._reject(r, BAD_CHECKSUM, "CRC-32 mismatch")
            return
        if r.op == FL_BAUD:
            self.t.loader_baud.append(struct.unpack("<I", r.data[:4])[0] if len(r.data) >= 4 else -1)
        elif r.op == FL_INIT:
            if r.address not in (0, 1):
                self._reject(r, BAD_INIT, f"flash chip {r.address} (0 in-chip, 1 on-board)")
                return
            self.t.flash_chip = r.address
            self._reply(FL_INIT, OK)
        elif r.op in (FL_ERASE, FL_ERASE_NB):
            self.t.erases.append((r.address, r.length))
            end = min(len(self.flash), r.address + r.length) if r.length else len(self.flash)
            self.flash[r.address:end] = b"\xff" * max(0, end - r.address)
            self._reply(r.op, OK)
        else:  # flash write
            if self.t.flash_chip is None:
                self._reject(r, BAD_INIT, "flash write before flash init")
            elif r.length != len(r.data) or r.address + r.length > FLASH_BYTES:
                self._reject(r, BAD_LEN, f"length {r.length}, {len(r.data)} data bytes, flash {FLASH_BYTES} B")
            else:
                if len(self.flash) < r.address + r.length:
                    self.flash.extend(b"\xff" * (r.address + r.length - len(self.flash)))
                self.flash[r.address:r.address + r.length] = r.data
                self.t.flash_writes.append((r.address, r.length))
                self._reply(FL_WRITE, OK)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the flashed image (unwrapped) here after the reboot command")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    with FakeK210(verbose=args.verbose) as k:
        print(k.port, flush=True)
        t0 = time.monotonic()
        if not k.wait_rebooted(args.timeout):
            print(f"no reboot command within {args.timeout:g} s", file=sys.stderr)
            return 1
        img = k.firmware()
        print(f"received {len(img.data)} B (flags 0x{img.flags:02x}) in {time.monotonic() - t0:.1f} s; "
              f"loader {len(k.loader)} B; rejected: {k.t.rejected or 'none'}", flush=True)
        if args.out:
            with open(args.out, "wb") as f:
                f.write(img.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
