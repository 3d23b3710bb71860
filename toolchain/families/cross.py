"""What a GNU cross family with a UART console and a QEMU twin does (RISC-V, Cortex-M): builds
through gcc_cross, the codec's batch image through uart_batch, runs in QEMU. A family subclasses
CrossFamily with its config dataclass, its trap report and its flasher."""
from __future__ import annotations

from pathlib import Path

from . import gcc_cross, uart_batch
from .common import BuildResult, DeviceWindow, TargetError, TargetRun, Unsupported
from .driver import Family
from .qemu import QemuError, run_qemu, start_qemu_pty


class CrossFamily(Family):
    """What a GNU cross family with a UART console and a QEMU twin does; RISC-V and Cortex-M
    differ in their config, trap report and flasher."""

    codec_harness = "uart"
    count_kind = "instructions"

    def summary(self, board) -> str:
        if board.flash_bytes:
            mem = f"flash {board.flash_bytes} B, RAM {board.ram_bytes} B"
        else:
            mem = f"RAM {board.ram_bytes} B"
        return ("emulated, " if board.simulate else "") + mem

    def build_program(self, board, sources, include_dirs, out_dir, *, defines=None, name="firmware",
                      probe=False, purpose="program") -> BuildResult:
        if purpose == "codec":
            src = Path(include_dirs[0])
            return uart_batch.build_codec(board, src, out_dir, name=name)
        return gcc_cross.build(board, sources, include_dirs, out_dir, defines=defines, name=name)

    def compile_object(self, board, src, obj, include_dirs) -> list[str]:
        return gcc_cross.compile_object(board, src, obj, include_dirs)

    def size_tool(self, board) -> str:
        return board.cfg.size

    def check_runnable(self, board) -> None:
        if not board.simulate:
            raise Unsupported(f"{board.name} cannot be run here: {board.simulate_reason}"
                              + (f" (use --target {board.twin})" if board.twin else ""))

    def run_codec(self, board, built, records, out_len, *, src_dir, work_dir, timeout_s=None,
                  stats=None) -> list[DeviceWindow]:
        """Compile the records into a batch image (work_dir) and run it in QEMU."""
        self.check_runnable(board)
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        r = uart_batch.build_codec(board, src_dir, work_dir, records=records, name="codec_batch")
        try:
            res = uart_batch.run_batch_qemu(board, r.elf, len(records), timeout_s)
        except QemuError as e:
            raise RuntimeError(str(e)) from None
        out = []
        for u in res:
            w = DeviceWindow(u.data, u.nbits, u.imputed)
            if u.kind == "instret":
                w.instructions = u.ticks
            else:
                w.cycles_raw = w.cycles = u.ticks
            out.append(w)
        return out

    def run_vectors(self, board, gen, vectors, work, measure=True) -> TargetRun:
        from ..nn.codegen import copy_harness, parse_vector_output, write_vectors
        self.check_runnable(board)
        write_vectors(work, vectors)
        harness = copy_harness(work, "vectors")
        built = gcc_cross.build(board, [*gen.sources, harness], [gen.out_dir, work], work / board.arch, name="nn")
        res = run_qemu(board, built.elf, timeout_s=120 + 2.0 * len(vectors))
        if res.exit_code != 0:
            raise TargetError(f"{board.name}: harness exited with {res.exit_code}:\n{res.stdout[-1500:]}")
        outs, counts = parse_vector_output(res.stdout, len(vectors), sum(gen.output_bytes))
        # Two back-to-back counter reads differ by the read's own cost: that is the harness's.
        overhead = self.counter_overhead(board)
        return TargetRun(board.name, outs, [c - overhead if c is not None else None for c in counts],
                         "instructions", {"elf_flash_bytes": built.flash_bytes})

    def counter_overhead(self, board) -> int:
        """Instructions between two back-to-back tc_hal_counter() reads in main_vectors.c."""
        return 1

    def link_sources(self, board) -> list[Path]:
        if not board.cfg.link_sources:
            raise Unsupported(f"{board.name} has no link HAL ([{board.arch}] link_sources in "
                              f"{board.dir / 'board.toml'}: tc_hal_getc that does not block, tc_hal_millis, ...)")
        return list(board.cfg.link_sources)

    def start_link(self, board, image: Path):
        self.check_runnable(board)
        return start_qemu_pty(board, image)
