"""Run a batch of inputs through firmware in mspdebug's simulator (one process per batch).

Firmware contract (C side): globals ``tc_in`` and ``tc_out`` and a noinline
function ``tc_done``; main does ``for (;;) { process(tc_in -> tc_out); tc_done(); }``.
tc_done needs ``__asm__ volatile("" ::: "memory")`` in its body, or clang may
treat it as pure and hoist the work out of the loop (see tests/c/sim_echo.c).
Their addresses come from llvm-nm and are passed to mspdebug as numbers.

How it runs: one ``mspdebug -q -n sim`` reads a command script on stdin:
``prog``, ``setbreak tc_done``, one ``run`` to get through reset and a first
(discarded) pass over the zeroed input, then per item ``mw tc_in`` / ``simio
config t clear`` / ``run`` / ``md tc_out`` / ``simio info t``. In stdin mode
mspdebug echoes every command after a ``(mspdebug) `` prompt, which is how the
output is split back into per-command answers.

Cycles per item are the simulator tracer's MCLK count between two arrivals at
``tc_done``: the item's processing plus the loop around it (tc_done's ``ret``,
the jump back, the ``call``: about 10 cycles).

Correction: mspdebug 0.22 over-charges constant-generator immediates
(``add #1,r12`` 3 cycles instead of 1; with ``x(Rn)`` destinations 6 vs 4;
``push #1`` 5 vs 3) and ``push @Rn+`` (5 vs 4); every other instruction
matches the SLAU144 cycle tables (build.sim_excess_cycles). The tracer cannot log instructions, so the per-item excess is measured
with a second ELF, the *cycle probe* (build.build_cycle_probe): the same
code with ``e`` one-cycle NOPs before each instruction the simulator
over-charges by ``e``. Both ELFs run concurrently on the same inputs; per item
``excess = probe instructions - firmware instructions`` and
``cycles_corrected = cycles_raw - excess``, exact under the SLAU144 tables.
Two checks guard it: the outputs must agree and the probe's extra cycles must
equal its extra instructions. Without a probe, cycles_corrected is None.

Peak stack: crt0 paints the free RAM between the static data and the initial
stack pointer, ``[__stack_paint_start, __stack)``, with 0xA5 bytes before it
calls main. After the last item the script ends with one ``md`` of that region
(mspdebug prints any length in full, 16 bytes a line); the lowest word that no
longer holds the pattern is the deepest the stack reached over the whole batch
(reset and warm-up pass included), so ``peak_stack_bytes = __stack - that
address``. It counts every byte the stack ever held (main's return address, saved
registers, frames), but a stack byte that happened to be written with 0xA5 and
never with anything else, or a local array the code reserves but never writes,
goes unseen. Only the firmware ELF is measured (the probe's stack is the same).
``run_batch(..., stats=d)`` puts the figure in ``d``; see run_batch.
"""
from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from toolchain.boards import Board
from toolchain.families.msp430.build import read_symbols

MSPDEBUG = os.environ.get("TC_MSPDEBUG", "mspdebug")
PROMPT = "(mspdebug) "
MW_CHUNK = 64  # bytes per `mw`: mspdebug reads command lines of at most 1023 chars
PAINT_BYTE = 0xA5  # crt0.S paints free RAM with 0xA5A5 words
PAINT_SYMS = ("__tc_stack_paint", "__stack_paint_start", "__stack")  # crt0 label, link.ld.in region

_MD_LINE = re.compile(r"^\s+[0-9a-f]{4,}:((?: [0-9a-f]{2}){1,16})\s")


class SimError(RuntimeError):
    """mspdebug failed, or the firmware did not behave as the contract says."""


class SimTimeout(SimError):
    """The batch did not finish in time (the firmware may never reach tc_done)."""


@dataclass
class SimResult:
    output: bytes
    cycles_raw: int  # mspdebug tracer MCLK count
    cycles_corrected: int | None  # SLAU144 cycles; None without a cycle probe
    instructions: int = 0


@dataclass
class _Raw:
    output: bytes
    cycles: int
    instructions: int


@dataclass
class _Stack:
    painted_bytes: int  # size of [__stack_paint_start, __stack)
    peak_bytes: int  # __stack - lowest word no longer holding the pattern
    overflow: bool  # even the lowest painted word was written: peak is a lower bound


def paint_region(elf: Path) -> tuple[int, int] | None:
    """(start, end) of the RAM crt0 paints, or None for an ELF whose startup does
    not paint (no crt0 label __tc_stack_paint, e.g. built with an older runtime)."""
    syms = read_symbols(elf, kinds="tTdDbBrRA")
    if not all(s in syms for s in PAINT_SYMS):
        return None
    start, end = syms["__stack_paint_start"][0], syms["__stack"][0]
    if start % 2 or end % 2 or start > end:
        raise SimError(f"{elf.name}: bad stack paint region {start:#x}..{end:#x}")
    return start, end


def peak_stack(data: bytes, start: int, end: int) -> _Stack:
    """Evaluate the painted region `data` (bytes start..end-1) as read back after a run."""
    first = next((i for i, b in enumerate(data) if b != PAINT_BYTE), len(data))
    low = (start + first) & ~1  # SP is always even: a changed high byte means its word was pushed
    return _Stack(end - start, end - low if first < len(data) else 0, first < 2 and end > start)


def _script(elf_name: str, inputs: list[bytes], in_addr: int, out_addr: int, out_len: int,
            break_addr: int, hwmult: bool, paint: tuple[int, int] | None = None) -> list[str]:
    # Numeric addresses: mspdebug ignores ELF symbols without a type (e.g. asm labels).
    cmds = ["simio add tracer t 2"]  # history of 2: we only want its counters
    if hwmult:
        cmds.append("simio add hwmult m")
    cmds += [f"prog {elf_name}", f"setbreak {break_addr:#x}", "run"]
    for data in inputs:
        for off in range(0, len(data), MW_CHUNK):
            chunk = data[off:off + MW_CHUNK]
            cmds.append(f"mw {in_addr + off:#x} " + " ".join(f"{b:02x}" for b in chunk))
        cmds += ["simio config t clear", "run", f"md {out_addr:#x} {out_len}", "simio info t"]
    if paint is not None and paint[1] > paint[0]:
        cmds.append(f"md {paint[0]:#x} {paint[1] - paint[0]}")  # the stack paint, once per batch
    return cmds


def _segments(text: str) -> list[tuple[str, str]]:
    """Split mspdebug's stdin-mode transcript into (command, answer) pairs."""
    segs: list[tuple[str, str]] = []
    for chunk in ("\n" + text).split("\n" + PROMPT)[1:]:
        cmd, _, body = chunk.partition("\n")
        segs.append((cmd.strip(), body))
    return segs


def _tail(text: str, n: int = 2500) -> str:
    return text[-n:]


def _resolve(syms: dict[str, tuple[int, int]], spec: str) -> tuple[int, int]:
    """'name' or 'name+offset' (e.g. a tensor inside a static arena) -> (address, bytes left)."""
    name, _, off = spec.partition("+")
    addr, size = syms[name]
    k = int(off, 0) if off else 0
    return addr + k, max(size - k, 0) if size else 0


def _run_one(elf: Path, inputs: list[bytes], in_sym: str, out_sym: str, out_len: int,
             break_sym: str, hwmult: bool, timeout_s: float,
             measure_stack: bool = False) -> tuple[list[_Raw], _Stack | None]:
    syms = read_symbols(elf)
    for s in (in_sym, out_sym, break_sym):
        if s.partition("+")[0] not in syms:
            raise SimError(f"{elf.name}: no symbol {s!r} (firmware contract: tc_in, tc_out, tc_done)")
    in_addr, in_size = _resolve(syms, in_sym)
    out_addr, _ = _resolve(syms, out_sym)
    for k, data in enumerate(inputs):
        if in_size and len(data) > in_size:
            raise SimError(f"input {k} has {len(data)} B but {in_sym} holds {in_size} B")
    bp_addr = syms[break_sym][0]
    paint = paint_region(elf) if measure_stack else None
    cmds = _script(elf.name, inputs, in_addr, out_addr, out_len, bp_addr, hwmult, paint)
    proc = subprocess.Popen([MSPDEBUG, "-q", "-n", "sim"], cwd=elf.parent, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate("\n".join(cmds) + "\n", timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        done = out.count(PROMPT + "simio info t")
        raise SimTimeout(f"mspdebug on {elf.name} timed out after {timeout_s:.0f} s with {done} of "
                         f"{len(inputs)} items done; output tail:\n{_tail(out)}") from None
    return _parse(out, cmds, inputs, out_len, bp_addr, elf.name, paint)


def _md_bytes(body: str) -> bytes:
    data = bytearray()
    for line in body.splitlines():
        if m := _MD_LINE.match(line):
            data += bytes.fromhex(m.group(1).replace(" ", ""))
    return bytes(data)


def _parse(out: str, cmds: list[str], inputs: list[bytes], out_len: int, bp_addr: int, name: str,
           paint: tuple[int, int] | None = None) -> tuple[list[_Raw], _Stack | None]:
    segs = _segments(out)
    if [c for c, _ in segs][: len(cmds)] != cmds:
        bad = next((i for i, (c, _) in enumerate(segs) if i >= len(cmds) or c != cmds[i]), len(segs))
        raise SimError(f"{name}: unexpected mspdebug transcript near command {bad}; tail:\n{_tail(out)}")
    answers = list(zip(cmds, (b for _, b in segs)))
    stack = None
    if paint is not None:
        stack = _Stack(0, 0, True)  # nothing free to paint: the stack starts in static data
        if paint[1] > paint[0]:
            _cmd, body = answers.pop()  # the script's last command reads the paint
            data = _md_bytes(body)
            if len(data) != paint[1] - paint[0]:
                raise SimError(f"{name}: read {len(data)} of {paint[1] - paint[0]} stack paint bytes; "
                               f"tail:\n{_tail(body)}")
            stack = peak_stack(data, *paint)
    pc_mark = f"( PC: {bp_addr:05x})"
    results: list[_Raw] = []
    item = -1  # -1: the warm-up pass from reset
    for cmd, body in answers:
        if cmd == "run":
            if pc_mark not in body:
                what = "reset/first pass" if item < 0 else f"item {item}"
                raise SimError(f"{name}: {what} did not stop at the break symbol (PC {bp_addr:#06x}):\n{_tail(body)}")
            item += 1
        elif cmd.startswith("prog ") and "Done," not in body:
            raise SimError(f"{name}: prog failed:\n{_tail(body)}")
        elif cmd.startswith("setbreak ") and "Set breakpoint" not in body:
            raise SimError(f"{name}: {cmd} failed:\n{_tail(body)}")
        elif cmd.startswith("mw ") and body.strip():
            raise SimError(f"{name}: {cmd[:40]}...: {body.strip()}")
        elif cmd.startswith("md "):
            output = _md_bytes(body)
            if len(output) != out_len:
                raise SimError(f"{name}: item {item}: read {len(output)} of {out_len} output bytes:\n{body}")
        elif cmd == "simio info t":
            ins = re.search(r"Instruction count:\s+(\d+)", body)
            cyc = re.search(r"MCLK:\s+(\d+)", body)
            if not (ins and cyc):
                raise SimError(f"{name}: no tracer counters for item {item}:\n{body}")
            results.append(_Raw(output, int(cyc.group(1)), int(ins.group(1))))
    if len(results) != len(inputs):
        raise SimError(f"{name}: {len(results)} results for {len(inputs)} inputs; tail:\n{_tail(out)}")
    return results, stack


def default_probe(elf: Path) -> Path | None:
    """The cycle probe build.py writes next to the firmware, if present."""
    p = Path(elf).with_suffix(".cgprobe.elf")
    return p if p.is_file() else None


def run_batch(elf: Path, inputs: list[bytes], in_sym: str = "tc_in", out_sym: str = "tc_out",
              out_len: int | None = None, break_sym: str = "tc_done", timeout_s: float | None = None,
              *, probe_elf: Path | None | bool = None, hwmult: bool = True,
              board: Board | None = None, stats: dict | None = None) -> list[SimResult]:
    """Simulate `elf` once per input; returns outputs and cycles per item.

    out_len defaults to the size of `out_sym`. timeout_s (whole batch) defaults
    to 60 s + 2 s per item. probe_elf: None finds <elf>.cgprobe.elf, False
    disables the correction. hwmult adds the 16-bit multiplier at 0x130; a
    `board` overrides it (and refuses boards that cannot be simulated).

    stats: a dict to fill with the batch's stack measurement (firmware ELF):
    "peak_stack_bytes" (deepest stack over the batch, reset included, in bytes
    below __stack; None when the ELF's startup does not paint the stack),
    "stack_painted_bytes" (free RAM painted by crt0, the most that can be
    measured) and "stack_overflow" (True when even the lowest painted word was
    written, so the stack may have run into static data and the peak is a lower
    bound). build.check_stack(board, build.ram_bytes, peak) checks it."""
    elf = Path(elf).resolve()
    if board is not None:
        if not board.simulate:
            raise SimError(f"{board.name} cannot be simulated: {board.simulate_reason}")
        hwmult = board.hwmult == "16bit"
    inputs = [bytes(x) for x in inputs]
    if out_len is None:
        out_len = read_symbols(elf).get(out_sym, (0, 0))[1]
        if not out_len:
            raise SimError(f"{elf.name}: cannot size {out_sym!r}; pass out_len")
    if timeout_s is None:
        timeout_s = 60.0 + 2.0 * len(inputs)
    probe = default_probe(elf) if probe_elf is None else (None if probe_elf is False else Path(probe_elf).resolve())
    args = (inputs, in_sym, out_sym, out_len, break_sym, hwmult, timeout_s)
    measure = stats is not None
    if probe is None:
        fw, stack = _run_one(elf, *args, measure)
        _fill_stats(stats, stack)
        return [SimResult(r.output, r.cycles, None, r.instructions) for r in fw]
    with ThreadPoolExecutor(max_workers=2) as pool:  # the two simulations run in parallel
        fut_fw, fut_pr = pool.submit(_run_one, elf, *args, measure), pool.submit(_run_one, probe, *args)
        (fw, stack), (pr, _) = fut_fw.result(), fut_pr.result()
    results = []
    for k, (a, b) in enumerate(zip(fw, pr)):
        excess = b.instructions - a.instructions
        if a.output != b.output or b.cycles - a.cycles != excess or excess < 0:
            raise SimError(f"cycle probe {probe.name} disagrees with {elf.name} on item {k} (outputs equal: "
                           f"{a.output == b.output}, extra cycles {b.cycles - a.cycles}, extra instructions {excess})")
        results.append(SimResult(a.output, a.cycles, a.cycles - excess, a.instructions))
    _fill_stats(stats, stack)
    return results


def _fill_stats(stats: dict | None, stack: _Stack | None) -> None:
    if stats is None:
        return
    stats["peak_stack_bytes"] = stack.peak_bytes if stack else None
    stats["stack_painted_bytes"] = stack.painted_bytes if stack else None
    stats["stack_overflow"] = stack.overflow if stack else None
