"""The Cortex-M family: the QEMU twin (mps2-an386) with exact instruction counts, its exits and
fault reports, fit checks on the chips, the codec bit-exact on held-out windows, the chips'
images and flashers. (Zoo networks: tests/test_nn_codegen.py; HIL: tests/test_hil_plugin.py.)"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from toolchain.boards import load_board
from toolchain.families.common import FitError, Unsupported, read_symbols
from toolchain.families.gcc_cross import build
from toolchain.families.qemu import QemuError, run_qemu
from toolchain.pipeline import build as build_codec
from toolchain.pipeline import get_model, run, verify
from toolchain.train.datasets import prepare

TWIN = load_board("cortex-m-qemu")
CHIPS = [load_board("nrf52840"), load_board("stm32l4")]

# Loops of known length: `subs; bne` is 2 instructions an iteration, set up by one `mov`.
COUNT_C = r"""
#include <stdint.h>
#include <stdio.h>
#include "tc_hal.h"

#define LOOP(n) __asm__ volatile("ldr r0, =%c0\n1: subs r0, r0, #1\n bne 1b" : : "i"(n) : "r0", "cc")

int main(void)
{
    uint64_t e0 = tc_hal_counter();
    uint64_t e1 = tc_hal_counter();
    uint64_t a0 = tc_hal_counter();
    LOOP(N_A);
    uint64_t a1 = tc_hal_counter();
    uint64_t b0 = tc_hal_counter();
    LOOP(N_B);
    uint64_t b1 = tc_hal_counter();
    printf("empty %llu a %llu b %llu kind %s board %s\n", (unsigned long long)(e1 - e0),
           (unsigned long long)(a1 - a0), (unsigned long long)(b1 - b0), TC_HAL_COUNTER_KIND, TC_BOARD_NAME);
    return 0;
}
"""


def _write(d: Path, name: str, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)
    return d / name


def test_cli_lists_the_three_boards(capsys):
    from toolchain.cli import main
    assert main(["boards"]) in (0, None)
    out = capsys.readouterr().out
    for name in ("cortex-m-qemu", "nrf52840", "stm32l4"):
        assert re.search(rf"^\s*{name}\b", out, re.MULTILINE), out


def test_boards_load_with_their_family_config():
    assert TWIN.arch == "cortex-m" and TWIN.simulate and TWIN.cfg.qemu == "qemu-system-arm"
    assert "shift=8" in TWIN.cfg.qemu_args and TWIN.cfg.counter_overhead > 0
    for chip in CHIPS:
        assert chip.arch == "cortex-m" and not chip.simulate and chip.twin == "cortex-m-qemu"
        assert chip.cfg.runtime_sources[:2] == TWIN.cfg.runtime_sources[:2]  # one startup, one common HAL
        assert chip.cfg.linker_script == TWIN.cfg.linker_script
        assert chip.flash_bytes == 1 << 20 and chip.clock_hz and chip.active_current_a


@pytest.mark.parametrize("n_a, n_b", [(1, 10), (1000, 100_000), (7, 10_000_000)])
def test_instruction_counts_are_exact(tmp_path, n_a, n_b):
    """Differences of tc_hal_counter around loops of N iterations are 2N + the same constant for
    every N: the count is exact, not rounded to the 25 MHz timer's 40 ns."""
    src = _write(tmp_path, "count.c", COUNT_C)
    elf = build(TWIN, [src], [], tmp_path / "out", defines={"N_A": n_a, "N_B": n_b}).elf
    r = run_qemu(TWIN, elf, timeout_s=60)
    assert r.exit_code == 0, r.stdout
    m = re.search(r"empty (\d+) a (\d+) b (\d+) kind (\S+) board (\S+)", r.stdout)
    assert m, r.stdout
    empty, a, b = map(int, m.groups()[:3])
    assert m.group(4) == "instret" and m.group(5) == "cortex-m-qemu"
    # The counter's own cost (TC_HAL_COUNTER_OVERHEAD), plus the caller's moves of the 64-bit result.
    assert TWIN.cfg.counter_overhead <= empty <= TWIN.cfg.counter_overhead + 4
    assert a - 2 * n_a == b - 2 * n_b  # the loop set-up and counter costs, the same for any N
    assert 0 < a - 2 * n_a - empty < 8


@pytest.mark.parametrize("code", [0, 3, 42, 254])
def test_exit_code_is_qemus(tmp_path, code):
    """return from main -> exit() -> semihosting SYS_EXIT_EXTENDED: QEMU exits with the code (254,
    TC_HAL_EXIT_TRAP, without a fault line is reported as it is)."""
    src = _write(tmp_path, "exit.c", '#include "tc_hal.h"\nint main(void) { tc_hal_putc(\'x\'); '
                 f'return {code}; }}\n')
    r = run_qemu(TWIN, build(TWIN, [src], [], tmp_path / "out").elf, timeout_s=30)
    assert r.exit_code == code and r.stdout.startswith("x")


@pytest.mark.parametrize("body, cause", [
    ("*(volatile uint32_t *)0xF0000000u = 1u;", r"precise data bus error.*bus fault address 0xf0000000"),
    ('__asm__ volatile("udf #0");', r"undefined instruction"),
])
def test_fault_is_a_clear_error(tmp_path, body, cause):
    src = _write(tmp_path, "fault.c", "#include <stdint.h>\n#include \"tc_hal.h\"\n"
                 f"int main(void) {{ tc_hal_putc('!'); {body} return 0; }}\n")
    elf = build(TWIN, [src], [], tmp_path / "out").elf
    with pytest.raises(QemuError, match=rf"CPU fault \(HardFault: .*{cause}.*at pc 0x[0-9a-f]+.*addr2line") as e:
        run_qemu(TWIN, elf, timeout_s=30)
    assert "!" in str(e.value)


@pytest.mark.parametrize("chip, kb", [("stm32l4", 100), ("nrf52840", 260)])
def test_too_big_for_the_chip_is_refused_with_numbers(tmp_path, chip, kb):
    board = load_board(chip)
    src = _write(tmp_path, "big.c", f"#include <stdint.h>\n#include \"tc_hal.h\"\nvolatile int8_t buf[{kb}u << 10];\n"
                 "int main(void) { buf[7] = 1; return buf[7]; }\n")
    with pytest.raises(FitError, match=rf"does not fit {chip}: RAM needs \d+ B .*bss \d+ .*"
                                       rf"{board.ram_bytes} B") as e:
        build(board, [src], [], tmp_path / "out")
    assert int(re.search(r"bss (\d+)", str(e.value)).group(1)) >= kb << 10


@pytest.fixture(scope="module")
def fm():
    return get_model("gsb-temporal")


def test_codec_bit_exact_on_held_out_windows(fm):
    """The error-bounded codec on the twin: 200 held-out GSB windows, every eps of the spec."""
    prep = prepare("gsb-temporal")
    X = prep.test[:200]
    built = build_codec(fm, TWIN)
    for eps in prep.spec.eps:
        dev = run(fm, built, X, eps)
        v = verify(fm, X, eps, dev)
        assert (v.windows, v.bit_exact, v.violations) == (200, 200, 0), (eps, v.mismatches)
        ins = [w.instructions for w in dev]
        assert all(i is not None and 1000 < i < 100_000 for i in ins)


@pytest.mark.parametrize("chip", ["nrf52840", "stm32l4"])
def test_chip_images_build_fit_and_refuse_to_run_here(fm, chip):
    board = load_board(chip)
    built = build_codec(fm, board)
    # The BIN is the flash image: text + rodata + .data's initial values (alignment padding aside).
    assert built.image is not None and 0 <= built.image.stat().st_size - built.flash_bytes < 16
    assert built.flash_bytes < board.flash_bytes
    assert built.ram_bytes + built.stack_reserve < board.ram_bytes
    with pytest.raises(RuntimeError, match=rf"{chip} cannot be run here: .*use --target cortex-m-qemu"):
        run(fm, built, prepare("gsb-temporal").test[:2], 10)


@pytest.mark.parametrize("chip, tool", [("nrf52840", "pyocd"), ("stm32l4", "openocd")])
def test_flash_without_a_probe_fails_clearly(fm, chip, tool):
    """No debug probe here (and no pyOCD / OpenOCD installed): the error names the tool and
    what is missing instead of hanging."""
    from toolchain.flash import flash
    with pytest.raises((FileNotFoundError, RuntimeError),
                       match=rf"{tool} is not installed, needed to flash {chip}|flashing {chip} with {tool} failed"):
        flash(fm, load_board(chip))


@pytest.mark.parametrize("chip, tool", [("nrf52840", "pyocd"), ("stm32l4", "openocd")])
def test_flash_with_the_tool_but_no_probe_fails_clearly_and_fast(fm, chip, tool, tmp_path, monkeypatch):
    """The flasher is installed but no probe answers (a stand-in that fails as pyOCD/OpenOCD do):
    the error names the board, the tool and what it said, within seconds."""
    import os
    import time

    from toolchain.flash import flash
    fake = _write(tmp_path / "bin", tool, "#!/bin/sh\necho \"Error: no debug probe found ($*)\" >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"flashing {chip} with {tool} failed .*no probe.*\n.*no debug probe found"):
        flash(fm, load_board(chip))
    assert time.monotonic() - t0 < 30


def test_link_application_builds_for_the_twin():
    """The link application (firmware_templates/app) with the twin's link HAL (TC_HAL_LINK:
    tc_hal_getc polls). Its HIL replay behind a pty: tests/test_hil_plugin.py."""
    from toolchain.link.app import build_app
    app = build_app("gsb-temporal", "cortex-m-qemu")
    assert app.exe.is_file() and app.board == "cortex-m-qemu"
    syms = read_symbols(app.exe, TWIN.cfg.nm)
    assert {"tc_hal_getc", "tc_hal_millis", "tc_hal_bench_counter", "tc_hal_counter"} <= set(syms)


def test_twin_has_no_flasher(fm):
    with pytest.raises(Unsupported, match="cortex-m-qemu has no flasher.*emulated"):
        TWIN.family.flash(TWIN, build_codec(fm, TWIN).result)
