"""Build generated network C for a board, run input vectors through it, measure it.

One entry point per question, each answered by the board's family driver:
- run_on_board: outputs (and per-inference counts) of the generated C on a board: the host,
  a QEMU board (exact retired instructions) or an MSP430 in mspdebug's simulator (cycles
  corrected for the simulator's constant-generator over-count).
- model_footprint: flash and RAM of the model's own objects (weights, parameter blocks,
  kernels, arena), compiled for the board as its build compiles them.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from ..boards import Board
from ..families.common import TargetError, TargetRun, Unsupported, object_sizes
from .codegen import GeneratedNN

SIZE = "llvm-size-16"  # reads MSP430, RISC-V, Arm and host objects alike

__all__ = ["TargetError", "TargetRun", "model_footprint", "run_on_board"]


def run_on_board(gen: GeneratedNN, board: Board, vectors: list[bytes], work: Path,
                 measure: bool = True) -> TargetRun:
    """Run every vector (the model's input bytes) through the generated C on `board`.
    measure=False skips the MSP430 cycle probe (a second simulation) when only outputs matter."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        return board.family.run_vectors(board, gen, vectors, work, measure)
    except Unsupported as e:
        raise TargetError(str(e)) from None


def model_footprint(gen: GeneratedNN, board: Board, work: Path) -> dict[str, int]:
    """Bytes of the model's own objects: flash = code + constants + initialized data,
    ram = initialized + zeroed data (the arena). Runtime helpers (e.g. the MSP430's
    software 64-bit multiply) and the harness are not counted."""
    work = Path(work) / f"footprint-{board.name}"
    work.mkdir(parents=True, exist_ok=True)
    objs = []
    for src in gen.sources:
        obj = work / (src.stem + ".o")
        cmd = board.family.compile_object(board, src, obj, [gen.out_dir])
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            raise TargetError(f"compiling {src.name} for {board.name} failed ({' '.join(cmd[:3])} ...):\n"
                              f"{(p.stderr or p.stdout)[-3000:]}")
        objs.append(obj)
    return object_sizes(objs, SIZE)
