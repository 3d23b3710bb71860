"""MSP430 backend: boards, builds and fit checks, the mspdebug simulator and its cycle correction."""
from __future__ import annotations

import random
import re
import struct
import subprocess
from pathlib import Path

import pytest

from toolchain.boards import list_boards, load_board
from toolchain.families.msp430.build import (
    CLANG, NM, FitError, build_msp430, check_stack, sim_excess_cycles)
from toolchain.families.msp430.sim import SimError, SimTimeout, peak_stack, run_batch

HERE = Path(__file__).parent
SIM_ECHO = HERE / "c" / "sim_echo.c"
SIM_STACK = HERE / "c" / "sim_stack.c"
SIM_BOARDS = ["msp430g2553", "msp430f1611"]

# (a, b) pairs at the corners of int16 x int16.
EDGES = [(-32768, -32768), (-32768, 32767), (32767, 32767), (32767, -32768),
         (0, -32768), (-1, -32768), (-1, -1), (1, -1)]


# ---------------------------------------------------------------------------
# Python model of tests/c/sim_echo.c (C semantics: truncating division, wrap-around)


def _wrap(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _cdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _crem(a: int, b: int) -> int:
    return a - b * _cdiv(a, b)


def _nonzero(d: int, bits: int, alt: int) -> int:
    d = _wrap(d | 1, bits)
    return alt if d == -1 else d


def echo_model(x: list[int]) -> bytes:
    o = [0] * 35
    p = [x[2 * i] * x[2 * i + 1] for i in range(8)]
    o[:8] = p
    acc = sum(x[i] * x[15 - i] for i in range(16)) & 0xFFFFFFFF
    sacc = _wrap(acc, 32)
    o[8] = sacc
    o[9] = _wrap(x[0] * x[1], 16)
    o[10] = _wrap(p[0] * x[2], 32)
    o[11] = _cdiv(x[3], _nonzero(x[4], 16, 3))
    o[12] = _crem(x[3], _nonzero(x[10], 16, 3))
    o[13] = (x[5] & 0xFFFF) // ((x[6] & 0xFFFF) | 1)
    o[14] = (x[5] & 0xFFFF) % ((x[12] & 0xFFFF) | 1)
    o[15] = _cdiv(sacc, _nonzero(p[1], 32, 7))
    o[16] = _crem(sacc, _nonzero(p[6], 32, 7))
    o[17] = _wrap(acc // ((p[2] & 0xFFFFFFFF) | 1), 32)
    o[18] = _wrap(acc % ((p[7] & 0xFFFFFFFF) | 1), 32)
    o[19] = sacc >> (x[7] & 31)
    o[20] = _wrap(acc << (x[8] & 31), 32)
    o[21] = _wrap(acc >> (x[9] & 31), 32)
    m = sacc * p[3]
    um = m & (2**64 - 1)
    r64 = [_cdiv(m, _nonzero(p[4] * 8, 64, 5)), _crem(m, _nonzero(p[6] * 8, 64, 5)),
           um // ((p[5] & 0xFFFFFFFF) | 1), um % ((p[7] & 0xFFFFFFFF) | 1)]
    o[22], o[23] = _wrap(m, 32), _wrap(m >> 32, 32)
    for i, r in enumerate(r64):
        o[24 + 2 * i], o[25 + 2 * i] = _wrap(r, 32), _wrap((r & (2**64 - 1)) >> 32, 32)
    o[32] = x[11] >> (x[12] & 15)
    o[33] = ((x[13] & 0xFFFF) << (x[14] & 15)) & 0xFFFF
    o[34] = _wrap(sum(x[i & 15] * x[(i * 7) & 15] for i in range(x[15] & 63)), 32)
    return struct.pack("<35i", *o)


def _inputs(n: int, seed: int = 1) -> list[list[int]]:
    rng = random.Random(seed)
    xs = [[v for pair in EDGES for v in pair]]  # products of the edge pairs land in tc_out[0..7]
    xs.append([-32768] * 16)
    xs += [[rng.randint(-32768, 32767) for _ in range(16)] for _ in range(n)]
    return xs


def _pack(xs: list[list[int]]) -> list[bytes]:
    return [struct.pack("<16h", *x) for x in xs]


# ---------------------------------------------------------------------------
# boards


def test_boards_are_data():
    assert {"msp430g2553", "msp430f1611", "msp430f5529", "native"} <= set(list_boards())
    g, f, f5 = (load_board(n) for n in ("msp430g2553", "msp430f1611", "msp430f5529"))
    assert (g.flash_bytes, g.ram_bytes, g.hwmult) == (16384, 512, "none")
    assert (f.flash_bytes, f.ram_bytes, f.hwmult, f.radio) == (49152, 10240, "16bit", "cc2420")
    assert (f5.flash_bytes, f5.ram_bytes, f5.hwmult, f5.simulate) == (131072, 8192, "32bit", False)
    assert f5.simulate_reason and f5.flash_limit == 0x10000 - 0x4400
    for b in (g, f, f5):
        assert b.vectors_origin + b.vectors_bytes == 0x10000
        assert b.hal_header.is_file() and b.active_current_a > 0 and b.clock_hz > 0


def test_unknown_board_names_the_available_ones():
    with pytest.raises(KeyError) as e:
        load_board("msp430nope")
    assert "msp430g2553" in str(e.value) and "native" in str(e.value)


@pytest.mark.parametrize("flags", [["-mmcu=msp430g2553"], ["-mmcu=msp430f1611"], ["-mhwmult=f5series"]])
def test_runtime_does_not_call_itself(tmp_path, flags):
    runtime = load_board("msp430g2553").cfg.runtime / "runtime.c"
    obj = tmp_path / "runtime.o"
    subprocess.run([CLANG, "--target=msp430", *flags, "-Os", "-ffreestanding", "-std=c99", "-Wall",
                    "-Wextra", "-Werror", "-c", str(runtime), "-o", str(obj)], check=True)
    undefined = subprocess.run([NM, "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    assert undefined.split() == []


# ---------------------------------------------------------------------------
# builds


@pytest.fixture(scope="module")
def echo_builds(tmp_path_factory):
    out = tmp_path_factory.mktemp("echo")
    return {n: build_msp430(load_board(n), [SIM_ECHO], [], out / n) for n in [*SIM_BOARDS, "msp430f5529"]}


def test_builds_are_sized(echo_builds):
    for name, r in echo_builds.items():
        board = load_board(name)
        assert r.elf.is_file()
        assert 1000 < r.flash_bytes <= board.flash_limit
        assert r.ram_bytes == r.sections[".data"] + r.sections[".bss"] + r.sections.get(".noinit", 0)
        assert r.ram_bytes >= 32 + 140  # tc_in + tc_out
        assert r.symbols["tc_in"][1] == 32 and r.symbols["tc_out"][1] == 140
        assert r.stack_reserve == board.stack_reserve_bytes
    helpers = {f"__mspabi_{op}" for op in ("divi", "remi", "divu", "remu", "divli", "remli", "divul", "remul",
                                           "divlli", "remlli", "divull", "remull", "slll", "sral", "srll")}
    mpy = {"msp430g2553": "", "msp430f1611": "_hw", "msp430f5529": "_f5hw"}
    for name, sfx in mpy.items():
        want = helpers | {f"__mspabi_mpy{w}{sfx}" for w in ("i", "l", "ll")}
        assert want <= set(echo_builds[name].symbols), want - set(echo_builds[name].symbols)
    assert echo_builds["msp430f5529"].probe_elf is None  # not simulated, so no probe
    for name in SIM_BOARDS:
        assert echo_builds[name].probe_elf is not None, echo_builds[name].probe_note


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("array_bytes", [440, 700])  # fits the linker but not the stack / overflows RAM
def test_ram_too_small_is_refused(tmp_path, array_bytes):
    src = _write(tmp_path, "big.c", f"""
#include <stdint.h>
uint8_t big[{array_bytes}];
int main(void) {{ for (;;) big[big[0]]++; }}
""")
    with pytest.raises(FitError) as e:
        build_msp430(load_board("msp430g2553"), [src], [], tmp_path / "out")
    m = re.search(r"fit msp430g2553: RAM needs (\d+) B \(data\+bss (\d+) \+ stack 96\) but the chip has 512 B", str(e.value))
    assert m, str(e.value)
    need, static = int(m.group(1)), int(m.group(2))
    assert need == static + 96 and need > 512 and array_bytes <= static < array_bytes + 16


def test_flash_too_small_is_refused(tmp_path):
    src = _write(tmp_path, "rom.c", """
#include <stdint.h>
const uint8_t table[20000] = {1};
volatile uint16_t i;
volatile uint8_t v;
int main(void) { for (;;) v = table[i]; }
""")
    with pytest.raises(FitError) as e:
        build_msp430(load_board("msp430g2553"), [src], [], tmp_path / "out")
    m = re.search(r"fit msp430g2553: flash needs (\d+) B \(text (\d+) \+ rodata (\d+) \+ data init (\d+) "
                  r"\+ vectors 32\) but the chip has 16384 B", str(e.value))
    assert m, str(e.value)
    assert int(m.group(3)) == 20000 and int(m.group(1)) > 20000


def test_f5529_flash_limit_is_the_16bit_part(tmp_path):
    src = _write(tmp_path, "rom.c", """
#include <stdint.h>
const uint8_t a[30000] = {1}, b[30000] = {2};
volatile uint16_t i;
volatile uint8_t v;
int main(void) { for (;;) v = a[i] + b[i]; }
""")
    with pytest.raises(FitError, match=r"only 48128 B of its 131072 B"):
        build_msp430(load_board("msp430f5529"), [src], [], tmp_path / "out")


# ---------------------------------------------------------------------------
# simulation


@pytest.mark.parametrize("name", SIM_BOARDS)
def test_sim_matches_python_model(echo_builds, name):
    xs = _inputs(50)
    results = run_batch(echo_builds[name].elf, _pack(xs), board=load_board(name))
    assert len(results) == len(xs)
    for k, (x, r) in enumerate(zip(xs, results)):
        assert r.output == echo_model(x), f"item {k}"
        assert 0 < r.cycles_corrected < r.cycles_raw


def test_tc_mul16_versions_agree_on_edges(echo_builds, tmp_path):
    """Software (g2553), hardware MPYS (f1611, simulated) and native all give a*b exactly."""
    expected = [a * b for a, b in EDGES]
    for name in SIM_BOARDS:
        (r,) = run_batch(echo_builds[name].elf, _pack(_inputs(0)[:1]), board=load_board(name))
        assert list(struct.unpack("<8i", r.output[:32])) == expected, name
    native = load_board("native")
    src = _write(tmp_path, "edges.c", "#include <stdio.h>\n#include \"tc_hal.h\"\nint main(void) {\n"
                 + "".join(f"    printf(\"%ld\\n\", (long)tc_mul16({a}, {b}));\n" for a, b in EDGES)
                 + "    return 0;\n}\n")
    exe = native.family.build_program(native, [src], [], tmp_path / "native").elf
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert [int(v) for v in out.split()] == expected


# A hand-written kernel whose SLAU144 cycle count is known: per item
# 20 + 14n cycles (n = tc_in), of which the simulator over-charges 8n.
KERNEL = """
    .section .bss.io,"aw",@nobits
    .p2align 1
    .global tc_in, tc_out
    .type tc_in,@object
    .type tc_out,@object
tc_in:  .skip 2
    .size tc_in, 2
tc_out: .skip 4
    .size tc_out, 4

    .section .text.main,"ax",@progbits
    .global main, tc_done
main:
    mov   #tc_out, r12      ; 2  (#N -> Rm)
    mov   &tc_in, r14       ; 3  (&EDE -> Rm)
    clr   r13               ; 1  (#0 is register mode, even in the sim)
1:  add   #1, r13           ; 1  (sim 3: CG #1 seen as indexed)
    add   #2, 0(r12)        ; 4  (sim 5)
    add   #8, r13           ; 1  (sim 2)
    push  #1                ; 3  (sim 5)
    pop   r15               ; 2
    sub   #1, r14           ; 1  (sim 3)
    jne   1b                ; 2
    mov   r13, 2(r12)       ; 4
    call  #tc_done          ; 5
    jmp   main              ; 2
tc_done:
    ret                     ; 3
"""


def test_cycle_correction_matches_slau144(tmp_path):
    src = _write(tmp_path, "kernel.S", KERNEL)
    build = build_msp430(load_board("msp430g2553"), [src], [], tmp_path / "out")
    assert build.probe_elf is not None, build.probe_note
    ns = [1, 2, 7, 100]
    results = run_batch(build.elf, [struct.pack("<H", n) for n in ns], out_len=4)
    for n, r in zip(ns, results):
        assert struct.unpack("<H", r.output[2:])[0] == 9 * n
        assert r.cycles_raw == 20 + 22 * n
        assert r.cycles_corrected == 20 + 14 * n


def test_excess_table():
    assert sim_excess_cycles(0x531C) == 2  # add #1, r12
    assert sim_excess_cycles(0x532C) == 1  # add #2, r12 (incd)
    assert sim_excess_cycles(0x403C) == 0  # mov #imm, r12 (2-word immediate)
    assert sim_excess_cycles(0x430C) == 0  # clr r12 (#0 = register mode)
    assert sim_excess_cycles(0x1213) == 2  # push #1
    assert sim_excess_cycles(0x1222) == 1  # push #4
    assert sim_excess_cycles(0x123C) == 1  # push @r12+
    assert sim_excess_cycles(0x4130) == 0  # ret
    assert sim_excess_cycles(0x12B0) == 0  # call #imm


def test_sim_refuses_f5529(echo_builds):
    with pytest.raises(SimError, match="cannot be simulated"):
        run_batch(echo_builds["msp430f5529"].elf, [bytes(32)], board=load_board("msp430f5529"))


def test_sim_timeout_reports_tail(tmp_path):
    src = _write(tmp_path, "hang.c", """
#include <stdint.h>
uint8_t tc_in[2], tc_out[2];
__attribute__((noinline, used)) void tc_done(void) { __asm__ volatile("" ::: "memory"); }
int main(void) { for (;;) { tc_out[0] = tc_in[0]; if (tc_in[1] == 7) tc_done(); } }  /* 7 never comes */
""")
    build = build_msp430(load_board("msp430g2553"), [src], [], tmp_path / "out", probe=False)
    with pytest.raises(SimTimeout, match=r"(?s)timed out after 2 s with 0 of 1 items done; output tail:\n.*prog firmware.elf"):
        run_batch(build.elf, [b"\x01\x02"], timeout_s=2)


# ---------------------------------------------------------------------------
# peak stack (crt0 paints free RAM, run_batch reads it back)


def _fill_model(seed: int) -> int:
    return sum((seed + i) & 0x3F for i in range(100))


def _rec_model(n: int) -> int:
    r = 0
    for k in range(1, n + 1):
        r = ((r * 3) ^ ((k + 7) & 0x3F)) & 0xFFFF
    return r


def _stack_out(first: int, bss: int = 0) -> bytes:
    return struct.pack("<6H", first, 0x1234, 0xBEEF, 0x0001, bss, 0x5A5A)


@pytest.fixture(scope="module")
def stack_builds(tmp_path_factory):
    out = tmp_path_factory.mktemp("stack")
    return {n: build_msp430(load_board(n), [SIM_STACK], [], out / n) for n in SIM_BOARDS}


@pytest.mark.parametrize("name", SIM_BOARDS)
def test_peak_stack_of_a_local_array(stack_builds, name):
    """fill() has a 100-byte local array: the peak is 100 B plus return addresses and saved registers."""
    board, build = load_board(name), stack_builds[name]
    stats: dict = {}
    (r,) = run_batch(build.elf, [bytes([7, 0])], board=board, stats=stats)
    assert r.output == _stack_out(_fill_model(7))  # .data copied and .bss zeroed under the paint
    assert r.cycles_corrected is not None  # the probe still agrees with the firmware
    peak = stats["peak_stack_bytes"]
    assert 100 <= peak < 100 + 40, stats
    assert stats["stack_overflow"] is False
    # The paint covers exactly the RAM that static data leaves free.
    assert stats["stack_painted_bytes"] == board.ram_bytes - build.ram_bytes
    check_stack(board, build.ram_bytes, peak)


@pytest.mark.parametrize("name", SIM_BOARDS)
def test_peak_stack_is_the_batch_maximum(stack_builds, name):
    """rec(n) costs a fixed frame per level; the batch reports its deepest item."""
    board, elf = load_board(name), stack_builds[name].elf

    def run(depths):
        stats: dict = {}
        res = run_batch(elf, [bytes([0, d]) for d in depths], board=board, stats=stats)
        assert [r.output for r in res] == [_stack_out(_rec_model(d)) for d in depths]
        return stats["peak_stack_bytes"]

    p0, p3, p5, p9 = run([0]), run([3]), run([5]), run([9])
    frame = (p5 - p3) // 2
    assert frame >= 8 + 2 and p5 - p3 == 2 * frame and p9 - p3 == 6 * frame and p3 - p0 == 3 * frame
    assert p0 >= 8 + 4  # rec's local plus the calls to main and rec
    assert run([3, 9, 5]) == p9
    assert run([3, 9, 5]) == run([5, 3, 9])


def test_stack_overflow_is_reported(stack_builds):
    """On the g2553, recursing one level deeper than free RAM allows is flagged and refused."""
    board, build = load_board("msp430g2553"), stack_builds["msp430g2553"]
    free = board.ram_bytes - build.ram_bytes

    def run(depth):
        stats: dict = {}
        # No probe: the overflowing stack overwrites .bss, where the firmware and
        # the probe (different code addresses on the stack) need not agree.
        run_batch(build.elf, [bytes([0, depth])], board=board, stats=stats, probe_elf=False)
        return stats

    p0, p1 = run(0)["peak_stack_bytes"], run(1)["peak_stack_bytes"]
    depth = (free - p0) // (p1 - p0) + 1  # the first depth whose stack exceeds free RAM
    stats = run(depth)
    assert stats["stack_overflow"] is True
    assert stats["peak_stack_bytes"] == stats["stack_painted_bytes"] == free
    with pytest.raises(FitError, match=rf"the stack used all {free} B of free RAM above data\+bss {build.ram_bytes} B"):
        check_stack(board, build.ram_bytes, stats["peak_stack_bytes"], overflow=stats["stack_overflow"])
    # One level shallower may fill free RAM exactly (flagged too: the paint cannot
    # tell "reached the static data" from "went past it"); two levels fit.
    shallow = run(depth - 2)
    assert shallow["stack_overflow"] is False and shallow["peak_stack_bytes"] == p0 + (depth - 2) * (p1 - p0)


def test_check_stack_names_the_numbers():
    g = load_board("msp430g2553")
    check_stack(g, 400, 112)  # exactly full is still a fit
    with pytest.raises(FitError) as e:
        check_stack(g, 420, 100)
    assert str(e.value) == ("model does not fit msp430g2553: RAM needs 520 B (data+bss 420 + measured "
                            "peak stack 100) but the chip has 512 B")


def test_peak_stack_reads_words():
    p = bytes([0xA5]) * 8
    assert (peak_stack(p, 0x300, 0x308).peak_bytes, peak_stack(p, 0x300, 0x308).overflow) == (0, False)
    # Only the high byte of the word at 0x304 changed: the stack reached 0x304.
    s = peak_stack(bytes([0xA5] * 5 + [0x12, 0, 0]), 0x300, 0x308)
    assert (s.peak_bytes, s.overflow, s.painted_bytes) == (4, False, 8)
    s = peak_stack(bytes([0xA5, 0] + [0xA5] * 6), 0x300, 0x308)
    assert (s.peak_bytes, s.overflow) == (8, True)


def test_no_stats_no_paint_read(stack_builds, monkeypatch):
    """Without stats, the script is the one it always was (no extra md)."""
    import toolchain.families.msp430.sim as sim
    seen = []
    real = sim._script
    monkeypatch.setattr(sim, "_script", lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    build = stack_builds["msp430g2553"]
    run_batch(build.elf, [bytes([7, 0])], probe_elf=False)
    run_batch(build.elf, [bytes([7, 0])], probe_elf=False, stats={})
    assert seen[0][-1] == "simio info t" and seen[1][:-1] == seen[0]
    board = load_board("msp430g2553")
    free = board.ram_bytes - build.ram_bytes
    assert seen[1][-1] == f"md {board.ram_origin + build.ram_bytes:#x} {free}"
