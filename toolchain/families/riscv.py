"""The RISC-V family: riscv64-unknown-elf-gcc + picolibc builds (gcc_cross), QEMU virt runs with
exact retired-instruction counts (qemu, uart_batch), kflash for the K210.

board.toml [riscv]: the CrossConfig keys (cc, size, nm, objcopy, cflags, ldflags, libs,
runtime_sources, linker_script, link_sources, qemu, qemu_args).
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass

from .. import paths
from . import gcc_cross
from .common import Unsupported
from .cross import CrossFamily

KFLASH_TIMEOUT_S = 300        # a multi-MiB image at 115200 baud takes minutes; the codec's is KiB
KFLASH_BOARDS = ("dan", "bit", "bit_mic", "kd233", "goE", "goD", "maixduino", "trainer")
KFLASH_WRAPPER = paths.host_tool("kflash_pty.py")

_TRAP_LINE = re.compile(r"tc_hal: trap mcause=(0x[0-9a-f]+) mepc=(0x[0-9a-f]+) mtval=(0x[0-9a-f]+)")
_MCAUSE = {0: "instruction address misaligned", 1: "instruction access fault", 2: "illegal instruction",
           3: "breakpoint", 4: "load address misaligned", 5: "load access fault",
           6: "store address misaligned", 7: "store access fault", 11: "ecall from M-mode"}


@dataclass
class RiscvConfig(gcc_cross.CrossConfig):
    """[riscv] of board.toml."""


def _check_port(port: str, board, how: str) -> None:
    if not os.path.exists(port):
        raise RuntimeError(f"serial port {port} does not exist: is a {board.name} attached? ({how})")


def kflash_command(board, image, port: str | None = None, baud: int | None = None,
                   isp_board: str | None = None) -> list[str]:
    """The kflash command line for `image` (a raw BIN) on `board`, defaults from [flasher]."""
    fl = board.raw.get("flasher", {})
    port = port or fl.get("port", "/dev/ttyUSB0")
    baud = int(baud or fl.get("baud", 115200))
    isp_board = isp_board or board.flasher_driver or "dan"
    if isp_board not in KFLASH_BOARDS:
        raise ValueError(f"unknown kflash dev board {isp_board!r}; choose one of {', '.join(KFLASH_BOARDS)} "
                         f"(BOARD= for make, --board for tinycodec)")
    return [sys.executable, str(KFLASH_WRAPPER), "-p", port, "-b", str(baud), "-B", isp_board, "-n",
            *board.flasher_args, str(image)]


class Riscv(CrossFamily):
    arch = "riscv"
    config_type = RiscvConfig

    def explain_trap(self, board, elf, uart_text):
        m = _TRAP_LINE.search(uart_text)
        if m is None:
            return None
        cause = int(m.group(1), 16)
        what = _MCAUSE.get(cause, "interrupt" if cause >> 63 else f"mcause {cause}")
        return (f"CPU exception ({what}) at pc {m.group(2)}, mtval {m.group(3)} "
                f"(riscv64-unknown-elf-addr2line -e {elf} {m.group(2)})")

    def flash(self, board, built, *, port=None, driver=None, baud=None, isp_board=None) -> int:
        """Write the raw BIN to the K210's SPI flash with kflash (the ROM's ISP protocol)."""
        if board.flasher_tool != "kflash":
            raise Unsupported(f"{board.name} has no flasher ([flasher] in {board.dir / 'board.toml'})"
                              + (f"; it is emulated: `tinycodec run --target {board.name}`" if board.simulate else ""))
        if driver:
            print(f"note: --driver is an mspdebug option; {board.name} is flashed with kflash "
                  f"(its dev board is --board / BOARD=)", flush=True)
        if importlib.util.find_spec("kflash") is None:
            raise FileNotFoundError(f"kflash is not installed in {sys.executable} "
                                    f"(pip install kflash==1.1.6; make setup installs requirements.txt)")
        if built.image is None:
            raise RuntimeError(f"{board.name}: the build made no raw BIN for kflash")
        cmd = kflash_command(board, built.image, port, baud, isp_board)
        port = cmd[cmd.index("-p") + 1]
        _check_port(port, board, "plug in its USB-serial port and pass it with PORT=/dev/ttyUSBn / --port")
        print("$ " + " ".join(cmd), flush=True)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=KFLASH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"kflash did not finish in {KFLASH_TIMEOUT_S} s on {port}: is a {board.name} "
                               f"attached there?") from None
        out = (p.stdout + p.stderr).replace("\r", "\n")
        lines = [ln.strip() for ln in out.splitlines() if ln.strip() and "|" not in ln]  # no progress bars
        if p.returncode != 0:
            raise RuntimeError(f"flashing {board.name} with kflash on {port} failed (no board in ISP mode there, "
                               f"wrong port or -B board?). kflash said:\n" + "\n".join(lines[-6:]))
        print("\n".join(lines[-8:]))
        print(f"{board.name}: wrote {built.image} ({built.image.stat().st_size} B) through {port}", flush=True)
        return 0


FAMILY = Riscv()
