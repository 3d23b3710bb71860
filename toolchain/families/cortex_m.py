"""The Cortex-M family: arm-none-eabi-gcc + picolibc builds (gcc_cross), the QEMU twin on
mps2-an386 with exact instruction counts, pyOCD / OpenOCD for the chips.

board.toml [cortex-m]: the CrossConfig keys (cc, size, nm, objcopy, cflags, ldflags, libs,
runtime_sources, linker_script, link_sources, qemu, qemu_args, qemu_package) and
counter_overhead.

Counting: QEMU 7.2 models no DWT CYCCNT. Under `-icount shift=8` every instruction is 256 ns
of virtual time, and the twin's tc_hal_counter (targets/cortex-m-qemu/tc_hal.c) turns the
MPS2 FPGAIO 25 MHz counter (6.4 ticks per instruction) back into exact retired instructions.
On the chips tc_hal_counter is DWT CYCCNT (cycles).
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from . import gcc_cross
from .common import Unsupported
from .cross import CrossFamily

FLASH_TIMEOUT_S = 60
_FAULT_LINE = re.compile(r"tc_hal: fault exc=(\d+) pc=(0x[0-9a-f]+) lr=(0x[0-9a-f]+) xpsr=(0x[0-9a-f]+) "
                         r"cfsr=(0x[0-9a-f]+) hfsr=(0x[0-9a-f]+) mmfar=(0x[0-9a-f]+) bfar=(0x[0-9a-f]+)")
# CFSR bits (ARMv7-M ARM B3.2.15): MemManage [7:0], BusFault [15:8], UsageFault [31:16].
_CFSR = {0: "instruction access violation", 1: "data access violation", 3: "MemManage fault on exception return",
         4: "MemManage fault on exception entry", 8: "instruction bus error", 9: "precise data bus error",
         10: "imprecise data bus error", 11: "bus fault on exception return", 12: "bus fault on exception entry",
         16: "undefined instruction", 17: "invalid state (Thumb bit)", 18: "invalid exception return",
         19: "no coprocessor (FPU off?)", 24: "unaligned access", 25: "divide by zero"}
_EXC = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault", 11: "SVCall", 14: "PendSV",
        15: "SysTick"}


@dataclass
class CortexMConfig(gcc_cross.CrossConfig):
    """[cortex-m] of board.toml."""

    # Instructions between two back-to-back tc_hal_counter() reads (TC_HAL_COUNTER_OVERHEAD in
    # the board's tc_hal.h): the twin's counter is a function of its own, not one instruction.
    counter_overhead: int = 1


class CortexM(CrossFamily):
    arch = "cortex-m"
    config_type = CortexMConfig

    def counter_overhead(self, board) -> int:
        return board.cfg.counter_overhead

    def explain_trap(self, board, elf, uart_text):
        m = _FAULT_LINE.search(uart_text)
        if m is None:
            return None
        exc, pc, lr, _, cfsr, hfsr, mmfar, bfar = m.groups()
        bits = int(cfsr, 16)
        causes = [what for bit, what in _CFSR.items() if bits >> bit & 1]
        if bits >> 15 & 1:
            causes.append(f"bus fault address {bfar}")
        if bits >> 7 & 1:
            causes.append(f"MemManage address {mmfar}")
        if int(hfsr, 16) >> 30 & 1 and not causes:
            causes.append("escalated fault")
        name = _EXC.get(int(exc), f"IRQ {int(exc) - 16}" if int(exc) >= 16 else f"exception {exc}")
        return (f"CPU fault ({name}: {', '.join(causes) or 'no CFSR bits'}; CFSR {cfsr}, HFSR {hfsr}) at pc {pc}, "
                f"lr {lr} (arm-none-eabi-addr2line -e {elf} {pc})")

    def flash(self, board, built, *, port=None, driver=None, baud=None, isp_board=None) -> int:
        """Program the ELF with the [flasher] command (pyOCD or OpenOCD through the board's debug
        probe); `{elf}` in its args is the image."""
        if not board.flasher_args:
            raise Unsupported(f"{board.name} has no flasher ([flasher] args in {board.dir / 'board.toml'})"
                              + (f"; it is emulated: `tinycodec run --target {board.name}`" if board.simulate else ""))
        for opt, val in (("--driver", driver), ("--baud", baud), ("--board", isp_board), ("--port", port)):
            if val:
                print(f"note: {opt} is not used by {board.flasher_tool}; {board.name} is flashed through its "
                      f"debug probe", flush=True)
        cmd = [a.replace("{elf}", str(built.elf)) for a in board.flasher_args]
        if shutil.which(cmd[0]) is None:
            hint = {"pyocd": "pip install pyocd", "openocd": "apt-get install openocd"}.get(cmd[0], "install it")
            raise FileNotFoundError(f"{cmd[0]} is not installed, needed to flash {board.name} ({hint})")
        print("$ " + shlex.join(cmd), flush=True)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=FLASH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{cmd[0]} did not finish in {FLASH_TIMEOUT_S} s: is a {board.name} attached "
                               f"through its debug probe?") from None
        if p.returncode != 0:
            said = [ln for ln in (p.stdout + p.stderr).splitlines() if ln.strip()]
            raise RuntimeError(f"flashing {board.name} with {cmd[0]} failed (no probe or board attached?). "
                               f"{cmd[0]} said:\n" + "\n".join(said[-6:]))
        print(p.stdout[-2000:])
        return 0


FAMILY = CortexM()
