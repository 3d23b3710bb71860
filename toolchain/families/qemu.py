"""Run an ELF in QEMU (the family table's qemu, qemu_args) and collect its UART output and exit code.

The program talks to the host only through the board HAL: tc_hal_putc writes
the UART, which QEMU sends to its stdout; tc_hal_exit writes the SiFive test
device, which ends QEMU with the program's exit code (0..255). A CPU exception
ends it through crt0's trap handler, which prints a `tc_hal: trap` line and
exits with TC_HAL_EXIT_TRAP; run_qemu turns that into a QemuError.

start_qemu_pty runs a program with its UART on a pseudo-terminal instead, so host tools
(pyserial, kflash-style clients, a terminal) talk to it as to a board on /dev/ttyUSB0.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path


TRAP_EXIT_CODE = 254  # TC_HAL_EXIT_TRAP in every QEMU board's tc_hal.h
_TAIL_CHARS = 2000


class QemuError(Exception):
    """QEMU is missing, failed to start, timed out, or the program trapped."""


@dataclass
class QemuResult:
    stdout: str  # everything the program wrote to the UART
    exit_code: int  # from the SiFive test device: 0 = pass
    wall_s: float


def _tail(text: str) -> str:
    text = text[-_TAIL_CHARS:]
    return text if text.strip() else "(no UART output)"


def _package_hint(board) -> str:
    pkg = getattr(board.cfg, "qemu_package", "")
    return f"apt package {pkg} provides it; make setup installs it" if pkg else "make setup installs it"


def qemu_command(board, elf: Path) -> list[str]:
    """The full QEMU command line for `elf` on `board`."""
    qemu = getattr(board.cfg, "qemu", None)
    if not qemu:
        raise QemuError(f"board {board.name} has no [{board.arch}] qemu in {board.dir / 'board.toml'}")
    return [qemu, *board.cfg.qemu_args, "-kernel", str(elf)]


def run_qemu(board, elf: Path, timeout_s: float = 60) -> QemuResult:
    """Run `elf` to its tc_hal_exit; raise QemuError on timeout (with the UART's
    tail), when QEMU itself fails, or when the program takes a CPU exception."""
    elf = Path(elf)
    if not elf.is_file():
        raise QemuError(f"no ELF at {elf}")
    cmd = qemu_command(board, elf)
    if shutil.which(cmd[0]) is None:
        raise QemuError(f"{cmd[0]} not found on PATH ({_package_hint(board)})")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        raise QemuError(f"{elf.name} on {board.name}: no exit after {timeout_s:g} s (the program must end with "
                        f"tc_hal_exit or return from main); UART output ends with:\n{_tail(out)}") from None
    wall = time.monotonic() - t0
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace").strip()
    if err and proc.returncode != 0:
        # QEMU's own failures (bad ELF, bad option) are on stderr; the program cannot write there.
        raise QemuError(f"{cmd[0]} failed (exit {proc.returncode}) running {elf}:\n{err}\n"
                        f"UART output:\n{_tail(out)}")
    if proc.returncode == TRAP_EXIT_CODE:
        # The family knows its trap line (mcause/mepc on RISC-V, the fault registers on Cortex-M).
        what = board.family.explain_trap(board, elf, out)
        if what:
            raise QemuError(f"{elf.name} on {board.name}: {what}; UART output ends with:\n{_tail(out)}")
    return QemuResult(stdout=out, exit_code=proc.returncode, wall_s=wall)


# ---------------------------------------------------------------- the UART on a pseudo-terminal

_PTY_LINE = re.compile(rb"char device redirected to (/dev/pts/\d+)")
# qemu_args that start_qemu_pty replaces: the UART's and the monitor's backends.
_REPLACED = {"-serial", "-monitor", "-chardev", "-S"}


class QemuPty:
    """A QEMU board whose UART is a pseudo-terminal, as a USB-serial adapter is for a real
    board: host tools open `port` (/dev/pts/N) like /dev/ttyUSB0. Made by start_qemu_pty.

    This object keeps its own descriptor of the pty open (raw mode) from before the VM runs
    until close(), so QEMU never drops UART output for want of a listener; it does not read
    from it unless read() is called, so a tool that opens `port` gets every byte."""

    def __init__(self, board, elf: Path, proc: subprocess.Popen, port: str, fd: int):
        self.board, self.elf, self.proc, self.port, self.fd = board, Path(elf), proc, port, fd
        self._monitor_out = bytearray()
        self._drain = threading.Thread(target=self._drain_monitor, daemon=True)
        self._drain.start()

    def _drain_monitor(self) -> None:
        # The monitor's replies and QEMU's messages: kept (tail) so a full pipe never blocks QEMU.
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
            self._monitor_out += chunk
            del self._monitor_out[:-_TAIL_CHARS]

    def monitor(self, command: str) -> None:
        """Send one command to the QEMU monitor (e.g. "cont", "stop", "system_reset")."""
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()

    def write(self, data: bytes) -> None:
        """Bytes into the board's UART receiver."""
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def read(self, n: int, timeout_s: float = 10.0) -> bytes:
        """Exactly n bytes from the board's UART; QemuError if they do not come in time."""
        buf = bytearray()
        deadline = time.monotonic() + timeout_s
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise QemuError(f"{self.elf.name} on {self.board.name} ({self.port}): {len(buf)} of {n} bytes "
                                f"after {timeout_s:g} s; got {bytes(buf[-200:])!r}")
            buf += os.read(self.fd, n - len(buf))
        return bytes(buf)

    def read_until(self, marker: bytes, timeout_s: float = 10.0) -> bytes:
        """UART bytes up to and including `marker`."""
        buf = bytearray()
        while not buf.endswith(marker):
            buf += self.read(1, timeout_s)
        return bytes(buf)

    def wait(self, timeout_s: float = 60.0) -> int:
        """Wait for the program's tc_hal_exit (QEMU exits with its code)."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise QemuError(f"{self.elf.name} on {self.board.name}: no exit after {timeout_s:g} s") from None

    def close(self) -> int | None:
        """Stop QEMU (monitor `quit`, then kill) and close the pty. Returns QEMU's exit code."""
        if self.proc.poll() is None:
            try:
                self.monitor("quit")
                self.proc.wait(timeout=5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        return self.proc.returncode

    def __enter__(self) -> "QemuPty":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _pty_args(args: list[str]) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in _REPLACED:
            skip = a != "-S"
        else:
            out.append(a)
    return out


def start_qemu_pty(board, elf: Path, timeout_s: float = 15.0) -> QemuPty:
    """Start `elf` on `board` with its UART on a fresh pseudo-terminal.

    QEMU starts stopped (-S) with `-serial pty` and its monitor on stdio; the pty's path is
    read from QEMU's "char device redirected to /dev/pts/N" line, the pty is opened (raw)
    and only then the monitor's `cont` lets the program run, so not one byte of its output
    is lost. Use as a context manager or call close()."""
    elf = Path(elf)
    if not elf.is_file():
        raise QemuError(f"no ELF at {elf}")
    cmd = qemu_command(board, elf)
    if shutil.which(cmd[0]) is None:
        raise QemuError(f"{cmd[0]} not found on PATH ({_package_hint(board)})")
    cmd = [cmd[0], *_pty_args(board.cfg.qemu_args), "-S", "-serial", "pty", "-monitor", "stdio", "-kernel", str(elf)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = bytearray()
    deadline = time.monotonic() + timeout_s
    port = None
    while port is None:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            err = proc.communicate()[1].decode("utf-8", "replace").strip()
            raise QemuError(f"{' '.join(cmd)}: no pty announced in {timeout_s:g} s (QEMU said: "
                            f"{(seen.decode('utf-8', 'replace') + err).strip() or 'nothing'})")
        if select.select([proc.stdout], [], [], left)[0]:
            chunk = proc.stdout.read1(4096)
            seen += chunk
            if (m := _PTY_LINE.search(seen)) is not None:
                port = m.group(1).decode()
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    q = QemuPty(board, elf, proc, port, fd)
    q.monitor("cont")
    return q
