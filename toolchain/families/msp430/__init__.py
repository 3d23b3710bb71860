"""The MSP430 family: clang-16 + ld.lld-16 builds (build.py), mspdebug's simulator with the
cycle-probe correction (sim.py), mspdebug for flashing.

board.toml [msp430]: clang_flags (target and -mmcu/-mhwmult), runtime (the folder with crt0.S,
link.ld.in and the __mspabi_* helpers), ldscripts (msp430mcu's <mcu>/periph.x folder name).
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..common import BuildResult, DeviceWindow, TargetError, TargetRun, Unsupported, parse_record
from ..driver import Family

FLASH_TIMEOUT_S = 20
_BANNER = ("MSPDebug version", "Copyright (C)", "This is free software", "warranty; not even")


@dataclass
class Msp430Config:
    """[msp430] of board.toml."""

    runtime: Path                   # crt0.S, link.ld.in, mspabi helpers (e.g. ../msp430_common)
    ldscripts: str                  # msp430mcu's ldscripts/<this>/periph.x
    clang_flags: list[str] = field(default_factory=list)


class Msp430(Family):
    arch = "msp430"
    config_type = Msp430Config
    codec_harness = "sim"
    count_kind = "cycles"
    slow = True

    def build_program(self, board, sources, include_dirs, out_dir, *, defines=None, name="firmware",
                      probe=False, purpose="program") -> BuildResult:
        from .build import build_msp430
        return build_msp430(board, sources, include_dirs, out_dir, defines=defines, name=name, probe=probe)

    def compile_object(self, board, src, obj, include_dirs) -> list[str]:
        from .build import CLANG, _cflags
        return [CLANG, *_cflags(board, include_dirs, None, "-Os"), "-c", str(src), "-o", str(obj)]

    def run_codec(self, board, built, records, out_len, *, src_dir, work_dir, timeout_s=None,
                  stats=None) -> list[DeviceWindow]:
        from .build import check_stack
        from .sim import run_batch
        self.check_runnable(board)
        st: dict = {} if stats is None else stats
        res = run_batch(built.elf, records, out_len=out_len, board=board,
                        probe_elf=built.probe_elf if built.probe_elf else False, timeout_s=timeout_s, stats=st)
        if st.get("peak_stack_bytes") is not None:
            check_stack(board, built.ram_bytes, st["peak_stack_bytes"], overflow=st.get("stack_overflow", False))
        out = []
        for r in res:
            w = parse_record(r.output)
            w.cycles_raw, w.cycles = r.cycles_raw, r.cycles_corrected
            out.append(w)
        return out

    def check_runnable(self, board) -> None:
        if not board.simulate:
            raise Unsupported(f"{board.name} cannot be simulated: {board.simulate_reason}")

    def run_vectors(self, board, gen, vectors, work, measure=True) -> TargetRun:
        from ...nn.codegen import copy_harness
        from .build import build_msp430
        from .sim import run_batch
        if gen.needs_float:
            raise TargetError(f"{gen.name} has float32 inputs or outputs; the MSP430 runtime has no floating point")
        if len(gen.input_bytes) != 1 or len(gen.output_bytes) != 1:
            raise TargetError(f"{gen.name}: the simulator harness handles one input and one output tensor")
        if not board.simulate:
            raise TargetError(f"{board.name} cannot be simulated: {board.simulate_reason}")
        harness = copy_harness(work, "sim")
        built = build_msp430(board, [*gen.sources, harness], [gen.out_dir], work / "msp430", name="nn",
                             probe=measure)
        stats: dict = {}
        res = run_batch(built.elf, vectors, in_sym=f"tc_arena+{gen.input_offsets[0]}",
                        out_sym=f"tc_arena+{gen.output_offsets[0]}", out_len=gen.output_bytes[0], board=board,
                        stats=stats, probe_elf=None if measure else False, timeout_s=120 + 30.0 * len(vectors))
        counts = [r.cycles_corrected if r.cycles_corrected is not None else r.cycles_raw for r in res]
        kind = "cycles" if all(r.cycles_corrected is not None for r in res) else "cycles (raw sim)"
        return TargetRun(board.name, [r.output for r in res], counts, kind,
                         {"elf_flash_bytes": built.flash_bytes, "elf_ram_bytes": built.ram_bytes, **stats})

    def link_sources(self, board) -> list[Path]:
        raise Unsupported(f"the link application builds for boards with a UART on a link; {board.name} "
                          f"(arch msp430) has none here (the MSP430 simulator has no UART)")

    def flash(self, board, built, *, port=None, driver=None, baud=None, isp_board=None) -> int:
        """Program the ELF with mspdebug; `driver` is mspdebug's (rf2500, tilib, ezfet, uif)."""
        if board.flasher_tool != "mspdebug":
            raise Unsupported(f"{board.name}: flasher {board.flasher_tool!r} is not supported for MSP430 "
                              f"(mspdebug is; see [flasher] in {board.dir / 'board.toml'})")
        if isp_board or baud:
            print(f"note: --board/--baud are kflash options; {board.name} is flashed with mspdebug", flush=True)
        tool = shutil.which("mspdebug")
        if tool is None:
            raise FileNotFoundError("mspdebug is not installed (make setup installs it: apt-get install mspdebug)")
        drv = driver or board.flasher_driver  # any mspdebug driver; mspdebug names the ones it has
        cmd = [tool, *board.flasher_args, drv]
        if port:
            cmd += ["-d", port]
        cmd += [f"prog {built.elf}"]
        print("$ " + " ".join(cmd), flush=True)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=FLASH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"mspdebug ({drv}) did not finish in {FLASH_TIMEOUT_S} s: is a {board.name} "
                               f"attached{' at ' + port if port else ''}?") from None
        if p.returncode != 0:
            said = [ln for ln in (p.stdout + p.stderr).strip().splitlines()
                    if ln.strip() and not ln.startswith(_BANNER)]
            hint = (f" (this mspdebug has no {drv!r} driver; `mspdebug --help` lists the ones it has)"
                    if any(ln.startswith("Unknown driver") for ln in said) else "")
            raise RuntimeError(f"flashing {board.name} with mspdebug driver {drv!r} failed (no board attached, "
                               f"wrong driver or port?){hint}. mspdebug said:\n" + "\n".join(said[-6:]))
        print(p.stdout[-2000:])
        return 0


FAMILY = Msp430()
