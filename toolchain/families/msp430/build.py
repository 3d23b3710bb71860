"""Build firmware for an MSP430 board (clang-16 + ld.lld-16) and check it fits.

Besides the firmware ELF, build_msp430 also writes a *cycle probe* ELF
(``<name>.cgprobe.elf``, see ``build_cycle_probe``) that sim.py uses to
correct the simulator's cycle count.

RAM is checked twice: build_msp430 refuses static RAM + the board's
stack_reserve_bytes (a guess) that exceeds the chip, before anything runs; after
a simulation, ``check_stack`` refuses static RAM + the peak stack that
sim.run_batch measured (crt0.S paints the free RAM for it).
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from typing import TYPE_CHECKING

from ..common import BuildError, BuildResult, FitError, run_tool
from ..common import read_symbols as _read_symbols
from ..common import section_sizes as _section_sizes

if TYPE_CHECKING:
    from ...boards import Board

CLANG = os.environ.get("TC_CLANG", "clang-16")
LLD = os.environ.get("TC_LLD", "ld.lld-16")
NM = os.environ.get("TC_NM", "llvm-nm-16")
SIZE = os.environ.get("TC_SIZE", "llvm-size-16")
OBJDUMP = os.environ.get("TC_OBJDUMP", "llvm-objdump-16")

# Where Debian's msp430mcu puts <mcu>/periph.x (register symbols such as __WDTCTL).
LDSCRIPT_DIRS = [
    Path(p)
    for p in (os.environ.get("TC_MSP430_LDSCRIPTS"), "/usr/msp430/lib/ldscripts", "/usr/share/msp430mcu/ldscripts")
    if p
]

# Warnings are errors on every target: the firmware must be bit-exact with the
# Python model, and most warnings on integer code are about exactly that.
COMMON_CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
MSP430_CFLAGS = ["-ffreestanding", "-ffunction-sections", "-fdata-sections", "-fno-common"]

NOP_WORD = 0x4303  # mov #0, r3 (R3 in register mode reads 0): 1 word, 1 cycle, no flags


# ---------------------------------------------------------------------------
# small helpers


def _run(cmd: list[str], what: str, log: list[list[str]] | None = None):
    return run_tool(cmd, what, log)


def _ldscript_dir(board: Board) -> Path:
    for base in LDSCRIPT_DIRS:
        if (base / board.cfg.ldscripts / "periph.x").is_file():
            return base / board.cfg.ldscripts
    raise BuildError("finding periph.x", [], f"no {board.cfg.ldscripts}/periph.x under {LDSCRIPT_DIRS} (apt package msp430mcu)")


def _cflags(board: Board, include_dirs: list[Path], defines: dict | None, opt: str) -> list[str]:
    flags = [*board.cfg.clang_flags, opt, *COMMON_CFLAGS, *MSP430_CFLAGS, f"-I{board.dir}"]
    flags += [f"-I{d}" for d in include_dirs]
    for k, v in (defines or {}).items():
        flags.append(f"-D{k}" if v is None else f"-D{k}={v}")
    return flags


def _runtime_sources(board: Board) -> list[Path]:
    """Shared startup and __mspabi_* helpers: every .c/.S in the runtime folder, crt0 first."""
    if board.cfg.runtime is None:
        return []
    files = sorted([*board.cfg.runtime.glob("*.c"), *board.cfg.runtime.glob("*.S")])
    return sorted(files, key=lambda p: p.stem != "crt0")


def _linker_script(board: Board, mode: str = "board") -> str:
    """Fill link.ld.in. mode: "board" (the real chip), "probe" (code may also use
    the gap between RAM and flash, which exists only in the simulator) or
    "sizing" (huge regions, used only to measure a program that does not fit)."""
    vec_bytes = board.vectors_bytes
    vec_origin = board.vectors_origin
    code_origin, ram_origin, ram_bytes = board.flash_origin, board.ram_origin, board.ram_bytes
    if mode == "probe":
        code_origin = min(code_origin, ram_origin + ram_bytes)
    elif mode == "sizing":
        code_origin, vec_origin, ram_bytes = 0x1000000, 0x3000000, 0x1000000 - ram_origin
    code_bytes = (0x1000000 if mode == "sizing" else vec_origin - code_origin)
    fill = "\n".join("    SHORT(__tc_default_isr)" for _ in range(vec_bytes // 2 - 1))
    text = (board.cfg.runtime / "link.ld.in").read_text()
    for key, val in {
        "code_origin": hex(code_origin), "code_bytes": hex(code_bytes),
        "vectors_origin": hex(vec_origin), "vectors_bytes": hex(vec_bytes),
        "ram_origin": hex(ram_origin), "ram_bytes": hex(ram_bytes), "vector_fill": fill,
    }.items():
        text = text.replace(f"@{key}@", val)
    return text


def _link(board: Board, objs: list[Path], elf: Path, mode: str, log: list[list[str]]) -> subprocess.CompletedProcess:
    script = elf.with_suffix(f".{mode}.ld")
    script.write_text(_linker_script(board, mode))
    cmd = [LLD, "-m", "msp430elf", "-L", str(_ldscript_dir(board)), "-T", str(script), "--gc-sections",
           f"-Map={elf.with_suffix('.map')}", "-o", str(elf), *map(str, objs)]
    if mode == "sizing":
        cmd.insert(1, "--noinhibit-exec")  # overflow and 16-bit relocation errors become warnings
        log.append(cmd)
        return subprocess.run(cmd, capture_output=True, text=True)
    return _run(cmd, "link", log)


def section_sizes(elf: Path, tool: str = SIZE) -> dict[str, int]:
    """Allocated sections and their sizes (llvm-size reads any ELF)."""
    return _section_sizes(elf, tool)


def read_symbols(elf: Path, kinds: str = "tTdDbBrR", tool: str = NM) -> dict[str, tuple[int, int]]:
    """Code and data symbols (not periph.x's absolute register names): name -> (addr, size)."""
    return _read_symbols(elf, tool, kinds)


def _usage(sizes: dict[str, int]) -> tuple[int, int, dict[str, int]]:
    g = {k: sizes.get("." + k, 0) for k in ("text", "rodata", "data", "bss", "noinit", "vectors")}
    return g["text"] + g["rodata"] + g["data"] + g["vectors"], g["data"] + g["bss"] + g["noinit"], g


def _check_fit(board: Board, sizes: dict[str, int]) -> None:
    flash, ram, g = _usage(sizes)
    limit = board.flash_limit
    if flash > limit:
        where = (f"but only {limit} B of its {board.flash_bytes} B are reachable by 16-bit code"
                 if limit != board.flash_bytes else f"but the chip has {limit} B")
        raise FitError(
            f"model does not fit {board.name}: flash needs {flash} B (text {g['text']} + rodata "
            f"{g['rodata']} + data init {g['data']} + vectors {g['vectors']}) {where}")
    need = ram + board.stack_reserve_bytes
    if need > board.ram_bytes:
        raise FitError(
            f"model does not fit {board.name}: RAM needs {need} B (data+bss {ram} + stack "
            f"{board.stack_reserve_bytes}) but the chip has {board.ram_bytes} B")


def check_stack(board: Board, ram_bytes_static: int, peak_stack_bytes: int | None, *,
                overflow: bool | None = False) -> None:
    """Dynamic counterpart of the build's fit check: static RAM (BuildResult.ram_bytes)
    plus the peak stack measured in the simulator (sim.run_batch's
    stats["peak_stack_bytes"]) must fit the board's RAM. `overflow` is
    stats["stack_overflow"]: the stack wrote every painted byte, so it may
    have run on into the static data and the measured peak is only a lower bound."""
    if peak_stack_bytes is None:
        raise ValueError(f"no measured stack for {board.name} (the ELF's startup does not paint the stack)")
    need = ram_bytes_static + peak_stack_bytes
    if need > board.ram_bytes:
        raise FitError(
            f"model does not fit {board.name}: RAM needs {need} B (data+bss {ram_bytes_static} + measured "
            f"peak stack {peak_stack_bytes}) but the chip has {board.ram_bytes} B")
    if overflow:
        raise FitError(
            f"model does not fit {board.name}: the stack used all {peak_stack_bytes} B of free RAM above "
            f"data+bss {ram_bytes_static} B (chip {board.ram_bytes} B) and may have overwritten static data")


_FIT_ERRORS = re.compile(r"will not fit in region|overflowed by|range overlaps|out of range")


# ---------------------------------------------------------------------------
# the build


def build_msp430(board: Board, sources: list[Path], include_dirs: list[Path], out_dir: Path,
                 defines: dict | None = None, opt: str = "-Os", probe: bool = True,
                 name: str = "firmware") -> BuildResult:
    """Compile and link `sources` plus the board runtime into out_dir/<name>.elf.

    Raises FitError when flash, or static RAM plus the board's stack reserve,
    exceeds the board; BuildError when a command fails. With probe=True a cycle
    probe ELF is built too (a failure there only sets probe_note)."""
    out_dir = Path(out_dir)
    obj_dir = out_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    flags = _cflags(board, [Path(d) for d in include_dirs], defines, opt)
    log: list[list[str]] = []
    units = [*_runtime_sources(board), *map(Path, sources)]
    objs, asms = [], []
    for i, src in enumerate(units):
        obj = obj_dir / f"{i:02d}_{src.stem}.o"
        if src.suffix == ".c":
            # C goes through assembly text on purpose: clang's direct object path
            # leaves some immediates (frame offsets) in 2-word form that the
            # assembler would encode with the constant generator, and the cycle
            # probe is built from the same text, so both must take this route.
            asm = _to_asm(src, flags, obj_dir / f"{i:02d}_{src.stem}.s", log)
            _run([CLANG, *board.cfg.clang_flags, "-c", str(asm), "-o", str(obj)], f"assembling {asm.name}", log)
        else:
            asm = src
            _run([CLANG, *flags, "-c", str(src), "-o", str(obj)], f"assembling {src.name}", log)
        objs.append(obj)
        asms.append(asm)

    elf = out_dir / f"{name}.elf"
    try:
        _link(board, objs, elf, "board", log)
    except BuildError as e:
        errors = [ln for ln in e.stderr.splitlines() if "error:" in ln]
        if not errors or not all(_FIT_ERRORS.search(ln) for ln in errors):
            raise
        # Measure with roomy regions so the FitError can name the real numbers.
        sizing_elf = out_dir / f"{name}.sizing.elf"
        _link(board, objs, sizing_elf, "sizing", log)
        try:
            _check_fit(board, section_sizes(sizing_elf))
        except FitError as fit:
            raise fit from None
        raise  # did not overflow by our own measure: report lld's words
    sizes = section_sizes(elf)
    _check_fit(board, sizes)
    flash, ram, _ = _usage(sizes)
    result = BuildResult(elf=elf, board=board.name, flash_bytes=flash, ram_bytes=ram,
                         stack_reserve=board.stack_reserve_bytes, sections=sizes,
                         symbols=read_symbols(elf), commands=log)
    elf.with_suffix(".cgprobe.elf").unlink(missing_ok=True)  # never leave a stale probe beside a new ELF
    if probe and board.simulate:  # the probe is only good for the simulator
        try:
            result.probe_elf = build_cycle_probe(board, asms, flags, elf, out_dir / "probe", log)
        except (BuildError, ProbeError) as e:
            result.probe_note = f"no cycle probe: {e}"
    return result


# ---------------------------------------------------------------------------
# cycle probe
#
# mspdebug 0.22's simulator charges instructions whose source is a constant-
# generator immediate (#0/#1/#2/#4/#8/#-1 via R2/R3) as if they read memory:
# `add #1, r12` costs 3 instead of 1. The excess depends only on the
# instruction word (sim_excess_cycles), but how often each one runs depends on
# the data. The probe is the same program with `e` NOPs (1 cycle, 1
# instruction each) placed before every instruction that the simulator
# over-charges by `e` cycles. For the same input, probe instructions - firmware
# instructions = the summed excess, so corrected = raw - that difference.


class ProbeError(Exception):
    """The cycle probe could not be built or does not match the firmware."""


def _is_cg(reg: int, amode: int) -> bool:
    return (reg == 3 and amode != 0) or (reg == 2 and amode >= 2)


def sim_excess_cycles(word: int) -> int:
    """Cycles mspdebug 0.22's sim charges beyond the SLAU144 tables (MSP430x2xx
    family guide, tables 3-15 and 3-16) for an instruction whose first word is `word`."""
    if word >= 0x4000:  # format I (two operands)
        src, ad, amode, dst = (word >> 8) & 0xF, (word >> 7) & 1, (word >> 4) & 3, word & 0xF
        if not _is_cg(src, amode):
            return 0
        if ad == 0 and dst == 0:  # to PC: sim 2 (As=0,2) or 3; real 2 (register-like)
            return 0 if amode in (0, 2) else 1
        return 2 if amode == 1 else 1  # sim treats As=1 as indexed (+2), As=2/3 as indirect (+1)
    if word & 0xFF80 == 0x1200:  # PUSH
        amode, reg = (word >> 4) & 3, word & 0xF
        sim = 3 if amode == 0 else 4 if (amode == 2 or (amode == 3 and reg == 0)) else 5
        real = 3 if (amode == 0 or _is_cg(reg, amode)) else 4 if amode >= 2 else 5
        return sim - real
    return 0  # jumps, CALL, RETI, RRA/RRC/SWPB/SXT: the sim matches the tables


_LABELS = re.compile(r"^(?:\s*(?:[A-Za-z_.$][\w.$]*|\d+):)+")
_DIS_LINE = re.compile(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)")
_SRC_LINE = re.compile(r"^; (.+):(\d+)$")


def disassemble(obj: Path) -> list[tuple[str, int, int, tuple[str, int] | None]]:
    """(section, address, first word, (file, line) or None) per instruction."""
    out = _run([OBJDUMP, "-d", "-l", str(obj)], "llvm-objdump").stdout
    rows, section, src = [], "", None
    for line in out.splitlines():
        if line.startswith("Disassembly of section "):
            section, src = line[len("Disassembly of section "):].rstrip(":"), None
        elif m := _SRC_LINE.match(line):
            src = (m.group(1), int(m.group(2)))
        elif m := _DIS_LINE.match(line):
            b = bytes.fromhex(m.group(2).replace(" ", ""))
            if len(b) >= 2:
                rows.append((section, int(m.group(1), 16), b[0] | (b[1] << 8), src))
    return rows


def _to_asm(src: Path, flags: list[str], out: Path, log: list) -> Path:
    if src.suffix == ".c":
        _run([CLANG, *flags, "-S", str(src), "-o", str(out)], f"compiling {src.name} to asm", log)
    elif src.suffix == ".S":
        _run([CLANG, *flags, "-E", "-P", "-x", "assembler-with-cpp", str(src), "-o", str(out)],
             f"preprocessing {src.name}", log)
    else:
        out.write_text(src.read_text())
    return out


def _mark(asm: Path, asflags: list[str], out_dir: Path, log: list) -> Path:
    """Insert the NOPs into one asm file (uses -g line info to find each instruction's line)."""
    lined = out_dir / f"{asm.stem}.lines.o"
    _run([CLANG, *asflags, "-c", "-g", str(asm), "-o", str(lined)], f"assembling {asm.name}", log)
    excess: dict[int, int] = {}
    for _sec, _addr, word, src in disassemble(lined):
        e = sim_excess_cycles(word)
        if src is None:
            raise ProbeError(f"{asm.name}: instruction without line info")
        line = src[1]
        if line in excess:  # several instructions on one line (a .macro): cannot place NOPs
            raise ProbeError(f"{asm.name}:{line} assembles to several instructions (macro?)")
        excess[line] = e
    lines = asm.read_text().splitlines()
    out = []
    for no, text in enumerate(lines, start=1):
        e = excess.get(no, 0)
        if e:
            # NOPs go after any label on the same line ("1: add #1, r13"), so
            # that branches to the label run them too.
            label = _LABELS.match(text)
            if label:
                out.append(label.group(0))
                text = "\t" + text[label.end():]
        out.extend(["\tnop"] * e)
        out.append(text)
    marked = out_dir / f"{asm.stem}.probe.s"
    marked.write_text("\n".join(out) + "\n")
    return marked


def _text_stream(elf: Path) -> list[tuple[int, int]]:
    return [(addr, word) for sec, addr, word, _ in disassemble(elf) if sec == ".text"]


def _verify_probe(fw_elf: Path, probe_elf: Path) -> None:
    """Probe = firmware + exactly sim_excess_cycles(w) NOPs before each instruction w."""
    fw, pr = _text_stream(fw_elf), _text_stream(probe_elf)
    i = 0
    for _addr, word in fw:
        need = sim_excess_cycles(word)
        for _ in range(need):
            if i >= len(pr) or pr[i][1] != NOP_WORD:
                raise ProbeError(f"probe lacks a NOP before {word:#06x} at probe {pr[i][0]:#x}" if i < len(pr) else "probe too short")
            i += 1
        if i >= len(pr):
            raise ProbeError("probe too short")
        # Jumps carry PC-relative offsets that the NOPs change; keep only the opcode.
        mask = 0xFC00 if 0x2000 <= word < 0x4000 else 0xFFFF
        if (pr[i][1] & mask) != (word & mask):
            raise ProbeError(f"probe differs from firmware at probe {pr[i][0]:#x}: {pr[i][1]:#06x} vs {word:#06x}")
        i += 1
    if i != len(pr):
        raise ProbeError(f"probe has {len(pr) - i} extra instructions")
    # A jump into a NOP run (or onto the instruction after it) would skip NOPs.
    inside, run = set(), 0
    for addr, word in pr:
        if word == NOP_WORD:
            run += 1
            if run > 1:
                inside.add(addr)
        else:
            if run:
                inside.add(addr)
            run = 0
    for addr, word in pr:
        if 0x2000 <= word < 0x4000:
            off = word & 0x3FF
            target = addr + 2 + 2 * (off - 0x400 if off & 0x200 else off)
            if target in inside:
                raise ProbeError(f"jump at {addr:#x} lands inside the NOPs before {target:#x}")


def build_cycle_probe(board: Board, asms: list[Path], flags: list[str], fw_elf: Path,
                      out_dir: Path, log: list) -> Path:
    """Build <fw_elf stem>.cgprobe.elf next to fw_elf from the firmware's asm
    sources (.s from C, or .S) and check it against fw_elf."""
    out_dir.mkdir(parents=True, exist_ok=True)
    objs = []
    for i, src in enumerate(asms):
        asm = src if src.suffix == ".s" else _to_asm(src, flags, out_dir / f"{i:02d}_{src.stem}.s", log)
        marked = _mark(asm, board.cfg.clang_flags, out_dir, log)
        obj = marked.with_suffix(".o")
        _run([CLANG, *board.cfg.clang_flags, "-c", str(marked), "-o", str(obj)], f"assembling {marked.name}", log)
        objs.append(obj)
    probe = fw_elf.with_suffix(".cgprobe.elf")
    _link(board, objs, probe, "probe", log)
    try:
        _verify_probe(fw_elf, probe)
    except ProbeError:
        probe.unlink()
        raise
    return probe
