"""RISC-V backend: the riscv-qemu board, builds and fit checks, QEMU runs with exact instruction counts."""
from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import pytest

from toolchain.boards import load_board
from toolchain.families.common import BuildError, FitError
from toolchain.families.qemu import QemuError, run_qemu
from toolchain.families.gcc_cross import build as build_riscv

BOARD = load_board("riscv-qemu")

# Instruction counts around inline-asm loops: each iteration is `addi; bnez`
# (2 instructions), set up by one `li` (N < 2048 fits its 12-bit immediate).
N_SHORT, N_LONG = 100, 1100

COUNT_C = r"""
#include <stdint.h>
#include <stdio.h>
#include "tc_hal.h"

#define LOOP(n) __asm__ volatile("li t0, %0\n1: addi t0, t0, -1\n bnez t0, 1b" : : "i"(n) : "t0")

static void puts_hal(const char *s) { while (*s) tc_hal_putc(*s++); }

int main(void)
{
    puts_hal("hello\n");

    /* Everything in one asm block: rdinstret, li, 2N loop instructions, rdinstret. */
    uint64_t a, b;
    __asm__ volatile("rdinstret %0\n li t0, %2\n1: addi t0, t0, -1\n bnez t0, 1b\n rdinstret %1"
                     : "=&r"(a), "=r"(b) : "i"(N_LONG) : "t0");
    printf("exact %llu\n", (unsigned long long)(b - a));

    /* Through the HAL, as firmware measures. */
    uint64_t e0 = tc_hal_counter();
    uint64_t e1 = tc_hal_counter();
    uint64_t s0 = tc_hal_counter();
    LOOP(N_SHORT);
    uint64_t s1 = tc_hal_counter();
    uint64_t l0 = tc_hal_counter();
    LOOP(N_LONG);
    uint64_t l1 = tc_hal_counter();
    printf("empty %llu short %llu long %llu kind %s board %s\n", (unsigned long long)(e1 - e0),
           (unsigned long long)(s1 - s0), (unsigned long long)(l1 - l0), TC_HAL_COUNTER_KIND, TC_BOARD_NAME);
    return 0;
}
"""

EXIT_C = r"""
#include "tc_hal.h"
int main(void)
{
    const char *s = "bye\n";
    while (*s) tc_hal_putc(*s++);
    tc_hal_exit(EXIT_WITH);
}
"""


def _write(d: Path, name: str, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)
    return d / name


@pytest.fixture(scope="module")
def count_elf(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("count")
    src = _write(d, "count.c", COUNT_C)
    return build_riscv(BOARD, [src], [], d / "out", defines={"N_SHORT": N_SHORT, "N_LONG": N_LONG}).elf


def _counts(stdout: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(exact|empty|short|long) (\d+)", stdout)}


def test_board_is_data():
    assert BOARD.arch == "riscv" and BOARD.simulate
    assert BOARD.ram_origin == 0x80000000 and BOARD.ram_bytes == 6 * 1024 * 1024
    assert BOARD.clock_hz == 400_000_000
    assert BOARD.cfg.linker_script.is_file() and all(p.is_file() for p in BOARD.cfg.runtime_sources)
    assert BOARD.cfg.qemu == "qemu-system-riscv64" and "shift=0" in BOARD.cfg.qemu_args


def test_hello_and_exact_instruction_counts(count_elf):
    r = run_qemu(BOARD, count_elf, timeout_s=30)
    assert r.exit_code == 0
    assert r.stdout.startswith("hello\n")
    assert "kind instret board riscv-qemu" in r.stdout
    c = _counts(r.stdout)
    # rdinstret + li + 2 per iteration, exactly.
    assert c["exact"] == 2 * N_LONG + 2
    # Through tc_hal_counter: the same loop code, so the difference is exactly the extra iterations...
    assert c["long"] - c["short"] == 2 * (N_LONG - N_SHORT)
    # ...and each loop costs 2N + 1 (its li) over two back-to-back counter reads.
    assert c["short"] - c["empty"] == 2 * N_SHORT + 1
    assert c["long"] - c["empty"] == 2 * N_LONG + 1


def test_counts_are_deterministic(count_elf):
    first, second = (run_qemu(BOARD, count_elf, timeout_s=30).stdout for _ in range(2))
    assert first == second


def test_sizes_and_symbols(count_elf, tmp_path):
    src = _write(tmp_path, "count.c", COUNT_C)
    r = build_riscv(BOARD, [src], [], tmp_path / "out", defines={"N_SHORT": N_SHORT, "N_LONG": N_LONG})
    assert r.board == "riscv-qemu" and r.stack_reserve == BOARD.stack_reserve_bytes
    assert r.sections[".text"] > 0 and r.flash_bytes >= r.sections[".text"] + r.sections.get(".rodata", 0)
    assert r.symbols["_start"][0] == BOARD.ram_origin  # where QEMU's reset vector jumps
    assert "main" in r.symbols and "tc_hal_exit" in r.symbols


@pytest.mark.parametrize("code", [1, 42, 255])
def test_nonzero_exit_code_is_reported(tmp_path, code):
    src = _write(tmp_path, "exit.c", EXIT_C)
    elf = build_riscv(BOARD, [src], [], tmp_path / "out", defines={"EXIT_WITH": code}).elf
    r = run_qemu(BOARD, elf, timeout_s=30)
    # The K210 HAL (shared by riscv-qemu) marks the exit on the UART before it stops.
    assert (r.exit_code, r.stdout) == (code, f"bye\n\ntc_hal: exit {code}\n")


def test_return_from_main_is_the_exit_code(tmp_path):
    src = _write(tmp_path, "ret.c", '#include "tc_hal.h"\nint main(void) { tc_hal_putc(\'x\'); return 7; }\n')
    r = run_qemu(BOARD, build_riscv(BOARD, [src], [], tmp_path / "out").elf, timeout_s=30)
    assert (r.exit_code, r.stdout) == (7, "x\ntc_hal: exit 7\n")


def test_cpu_exception_is_a_clear_error(tmp_path):
    src = _write(tmp_path, "trap.c", "#include <stdint.h>\n#include \"tc_hal.h\"\n"
                 "int main(void) { volatile uintptr_t a = 0x10; tc_hal_putc('!'); return *(volatile int *)a; }\n")
    elf = build_riscv(BOARD, [src], [], tmp_path / "out").elf
    with pytest.raises(QemuError, match=r"load access fault.*mtval 0x0+10") as e:
        run_qemu(BOARD, elf, timeout_s=30)
    assert "!" in str(e.value)  # the UART output so far


def test_timeout_names_the_uart_tail(tmp_path):
    src = _write(tmp_path, "spin.c", '#include "tc_hal.h"\nint main(void) {\n'
                 '  const char *s = "spinning"; while (*s) tc_hal_putc(*s++);\n  for (;;) __asm__ volatile("");\n}\n')
    elf = build_riscv(BOARD, [src], [], tmp_path / "out").elf
    with pytest.raises(QemuError, match=r"no exit after 2 s(.|\n)*spinning"):
        run_qemu(BOARD, elf, timeout_s=2)


def test_missing_qemu_names_the_package(count_elf):
    board = dataclasses.replace(BOARD, cfg=dataclasses.replace(BOARD.cfg, qemu="qemu-system-riscv64-not-installed"))
    with pytest.raises(QemuError, match="qemu-system-misc"):
        run_qemu(board, count_elf)


def test_too_big_is_refused_with_numbers(tmp_path):
    src = _write(tmp_path, "big.c", "#include <stdint.h>\n#include \"tc_hal.h\"\n"
                 "int8_t buf[7u << 20];\n"
                 "int main(void) { volatile uint32_t i = 5; buf[i] = 1; return buf[i ^ 1]; }\n")
    with pytest.raises(FitError, match=r"does not fit riscv-qemu: RAM needs \d+ B .*bss 7340\d\d\d.*6291456 B"):
        build_riscv(BOARD, [src], [], tmp_path / "out")


def test_build_error_carries_command_and_stderr(tmp_path):
    src = _write(tmp_path, "bad.c", "int main(void) { return undeclared; }\n")
    with pytest.raises(BuildError) as e:
        build_riscv(BOARD, [src], [], tmp_path / "out")
    assert e.value.cmd[0] == BOARD.cfg.cc and str(src) in e.value.cmd
    assert "undeclared" in e.value.stderr


def test_native_hal_has_the_same_calls(tmp_path):
    """The host HAL: putc to stdout, exit with the code, counter 0."""
    src = _write(tmp_path, "hal.c", '#include <stdio.h>\n#include "tc_hal.h"\nint main(void) {\n'
                 '  tc_hal_putc(\'o\'); tc_hal_putc(\'k\');\n'
                 '  printf(" %llu %s\\n", (unsigned long long)tc_hal_counter(), TC_HAL_COUNTER_KIND);\n'
                 '  tc_hal_exit(5);\n}\n')
    native = load_board("native")
    exe = native.family.build_program(native, [src], [], tmp_path / "out").elf
    p = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    assert (p.returncode, p.stdout) == (5, "ok 0 none\n")
