"""Build generated network C for a board, run input vectors through it, measure it.

One entry point per question:
- run_on_board: outputs (and per-inference counts) of the generated C on a
  board: native host, riscv-qemu (QEMU virt, exact retired instructions) or an
  MSP430 in mspdebug's simulator (cycles corrected for the simulator's
  constant-generator over-count, see msp430_build).
- model_footprint: flash and RAM of the model's own objects (weights, parameter
  blocks, kernels, arena), compiled for the board as its build compiles them.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .boards import Board
from .msp430_build import CLANG, _cflags as _msp430_cflags, build_msp430
from .mspdebug_sim import run_batch
from .nn_codegen import GeneratedNN, copy_harness, parse_vector_output, write_vectors
from .qemu_run import run_qemu
from .riscv_build import build_riscv

SIZE = "llvm-size-16"  # reads MSP430, RISC-V and host objects alike


class TargetError(RuntimeError):
    """The generated model cannot run on this board (and why)."""


@dataclass
class TargetRun:
    board: str
    outputs: list[bytes]
    counts: list[int | None]
    count_kind: str  # "cycles" (MSP430, corrected), "instructions" (QEMU), "" (native)
    details: dict = field(default_factory=dict)


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise TargetError(f"{what} failed ({' '.join(cmd[:3])} ...):\n{(p.stderr or p.stdout)[-3000:]}")
    return p


def _native(gen: GeneratedNN, board: Board, vectors: list[bytes], work: Path) -> TargetRun:
    write_vectors(work, vectors)
    harness = copy_harness(work, "vectors")
    exe = work / "nn_native"
    cmd = [board.cc or "gcc", *board.cflags, "-Wconversion", f"-I{board.dir}", f"-I{gen.out_dir}", f"-I{work}",
           *map(str, gen.sources), str(harness), "-o", str(exe), "-lm"]
    _run(cmd, "native build")
    text = _run([str(exe)], "native run").stdout
    outs, _ = parse_vector_output(text, len(vectors), sum(gen.output_bytes))
    return TargetRun(board.name, outs, [None] * len(outs), "")


def _riscv(gen: GeneratedNN, board: Board, vectors: list[bytes], work: Path) -> TargetRun:
    write_vectors(work, vectors)
    harness = copy_harness(work, "vectors")
    built = build_riscv(board, [*gen.sources, harness], [gen.out_dir, work], work / "riscv", name="nn")
    res = run_qemu(board, built.elf, timeout_s=120 + 2.0 * len(vectors))
    if res.exit_code != 0:
        raise TargetError(f"{board.name}: harness exited with {res.exit_code}:\n{res.stdout[-1500:]}")
    outs, counts = parse_vector_output(res.stdout, len(vectors), sum(gen.output_bytes))
    # Two back-to-back rdinstret reads differ by 1: that one is the harness's, not the model's.
    return TargetRun(board.name, outs, [c - 1 if c is not None else None for c in counts], "instructions",
                     {"elf_flash_bytes": built.flash_bytes})


def _msp430(gen: GeneratedNN, board: Board, vectors: list[bytes], work: Path, measure: bool = True) -> TargetRun:
    if gen.needs_float:
        raise TargetError(f"{gen.name} has float32 inputs or outputs; the MSP430 runtime has no floating point")
    if len(gen.input_bytes) != 1 or len(gen.output_bytes) != 1:
        raise TargetError(f"{gen.name}: the simulator harness handles one input and one output tensor")
    if not board.simulate:
        raise TargetError(f"{board.name} cannot be simulated: {board.simulate_reason}")
    harness = copy_harness(work, "sim")
    built = build_msp430(board, [*gen.sources, harness], [gen.out_dir], work / "msp430", name="nn", probe=measure)
    stats: dict = {}
    res = run_batch(built.elf, vectors, in_sym=f"tc_arena+{gen.input_offsets[0]}",
                    out_sym=f"tc_arena+{gen.output_offsets[0]}", out_len=gen.output_bytes[0], board=board,
                    stats=stats, probe_elf=None if measure else False, timeout_s=120 + 30.0 * len(vectors))
    counts = [r.cycles_corrected if r.cycles_corrected is not None else r.cycles_raw for r in res]
    kind = "cycles" if all(r.cycles_corrected is not None for r in res) else "cycles (raw sim)"
    return TargetRun(board.name, [r.output for r in res], counts, kind,
                     {"elf_flash_bytes": built.flash_bytes, "elf_ram_bytes": built.ram_bytes, **stats})


def run_on_board(gen: GeneratedNN, board: Board, vectors: list[bytes], work: Path,
                 measure: bool = True) -> TargetRun:
    """Run every vector (the model's input bytes) through the generated C on `board`.
    measure=False skips the MSP430 cycle probe (a second simulation) when only outputs matter."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    if board.arch == "msp430":
        return _msp430(gen, board, vectors, work, measure)
    runner = {"native": _native, "riscv": _riscv}.get(board.arch)
    if runner is None:
        raise TargetError(f"no runner for {board.name} (arch {board.arch})")
    return runner(gen, board, vectors, work)


def _compile_cmd(board: Board, src: Path, obj: Path, gen: GeneratedNN) -> list[str]:
    inc = [f"-I{gen.out_dir}"]
    if board.arch == "msp430":
        return [CLANG, *_msp430_cflags(board, [gen.out_dir], None, "-Os"), "-c", str(src), "-o", str(obj)]
    if board.arch == "riscv":
        return [board.cc, *board.cflags, "-O2", f"-I{board.dir}", *inc, "-c", str(src), "-o", str(obj)]
    return [board.cc or "gcc", *board.cflags, f"-I{board.dir}", *inc, "-c", str(src), "-o", str(obj)]


def model_footprint(gen: GeneratedNN, board: Board, work: Path) -> dict[str, int]:
    """Bytes of the model's own objects: flash = code + constants + initialized data,
    ram = initialized + zeroed data (the arena). Runtime helpers (e.g. the MSP430's
    software 64-bit multiply) and the harness are not counted."""
    work = Path(work) / f"footprint-{board.name}"
    work.mkdir(parents=True, exist_ok=True)
    total = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for src in gen.sources:
        obj = work / (src.stem + ".o")
        _run(_compile_cmd(board, src, obj, gen), f"compiling {src.name} for {board.name}")
        for line in _run([SIZE, "-A", str(obj)], "size").stdout.splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit() or not parts[0].startswith("."):
                continue
            name, size = parts[0], int(parts[1])
            if name.startswith(".text"):
                total["text"] += size
            elif name.startswith((".rodata", ".srodata")):
                total["rodata"] += size
            elif name.startswith((".data", ".sdata")):
                total["data"] += size
            elif name.startswith((".bss", ".sbss")) or name == ".common":
                total["bss"] += size
    total["flash"] = total["text"] + total["rodata"] + total["data"]
    total["ram"] = total["data"] + total["bss"]
    return total
