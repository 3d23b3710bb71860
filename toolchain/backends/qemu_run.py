"""Run a RISC-V ELF in QEMU (board.toml [run]) and collect its UART output and exit code.

The program talks to the host only through the board HAL: tc_hal_putc writes
the UART, which QEMU sends to its stdout; tc_hal_exit writes the SiFive test
device, which ends QEMU with the program's exit code (0..255). A CPU exception
ends it through crt0's trap handler, which prints a `tc_hal: trap` line and
exits with TC_HAL_EXIT_TRAP; run_qemu turns that into a QemuError.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .boards import Board

TRAP_EXIT_CODE = 254  # TC_HAL_EXIT_TRAP in targets/riscv-qemu/tc_hal.h
_TRAP_LINE = re.compile(r"tc_hal: trap mcause=(0x[0-9a-f]+) mepc=(0x[0-9a-f]+) mtval=(0x[0-9a-f]+)")
_MCAUSE = {0: "instruction address misaligned", 1: "instruction access fault", 2: "illegal instruction",
           3: "breakpoint", 4: "load address misaligned", 5: "load access fault",
           6: "store address misaligned", 7: "store access fault", 11: "ecall from M-mode"}
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


def qemu_command(board: Board, elf: Path) -> list[str]:
    """The full QEMU command line for `elf` on `board`."""
    if not board.qemu:
        raise QemuError(f"board {board.name} has no [run] qemu in {board.dir / 'board.toml'}")
    return [board.qemu, *board.qemu_args, "-kernel", str(elf)]


def run_qemu(board: Board, elf: Path, timeout_s: float = 60) -> QemuResult:
    """Run `elf` to its tc_hal_exit; raise QemuError on timeout (with the UART's
    tail), when QEMU itself fails, or when the program takes a CPU exception."""
    elf = Path(elf)
    if not elf.is_file():
        raise QemuError(f"no ELF at {elf}")
    cmd = qemu_command(board, elf)
    if shutil.which(cmd[0]) is None:
        raise QemuError(f"{cmd[0]} not found on PATH (apt package qemu-system-misc provides it)")
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
    if proc.returncode == TRAP_EXIT_CODE and (m := _TRAP_LINE.search(out)):
        cause = int(m.group(1), 16)
        what = _MCAUSE.get(cause, "interrupt" if cause >> 63 else f"mcause {cause}")
        raise QemuError(f"{elf.name} on {board.name}: CPU exception ({what}) at pc {m.group(2)}, "
                        f"mtval {m.group(3)} (riscv64-unknown-elf-addr2line -e {elf} {m.group(2)}); "
                        f"UART output ends with:\n{_tail(out)}")
    return QemuResult(stdout=out, exit_code=proc.returncode, wall_s=wall)
