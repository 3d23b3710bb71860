"""The family driver protocol: what pipeline, int8 runner, link application, flashing, benches
and CLI ask of an architecture, one capability a method.

Each family subclasses Family once and implements what it can; what it cannot do raises
Unsupported with the reason (e.g. the MSP430 simulator has no UART for the link). Callers
never test the architecture themselves: they ask the board's driver.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import BuildResult, DeviceWindow, TargetRun, Unsupported
from .config import read_table

if TYPE_CHECKING:  # the Board type only; toolchain.boards imports this package
    from ..boards import Board


class Family:
    """One architecture family. Subclasses set `arch` and `config_type` (the dataclass of the
    board.toml table named like the arch, e.g. [riscv]) and implement the capabilities."""

    arch: str = ""
    config_type: type | None = None
    # Which harness the codec's C is rendered with (firmware_templates/main_<harness>.c).
    codec_harness: str = "native"
    # What `tinycodec flash` writes: the codec image ("codec") or the link application ("app").
    flash_image: str = "codec"
    # What run_codec/run_vectors counts: "cycles", "instructions" or "" (nothing).
    count_kind: str = ""
    # Runs are slow (an instruction-level simulator): benches feed fewer inputs.
    slow: bool = False

    def __repr__(self) -> str:
        return f"<family {self.arch}>"

    # -- board.toml
    def parse_config(self, path: Path, raw: dict) -> Any:
        """The family's typed table of board.toml (BoardConfigError naming file and key)."""
        if self.config_type is None:
            return None
        return read_table(self.config_type, path, raw, self.arch)

    def summary(self, board: "Board") -> str:
        """Memory line for `tinycodec boards`."""
        if board.flash_bytes:
            return f"flash {board.flash_bytes} B, RAM {board.ram_bytes} B"
        return f"RAM {board.ram_bytes} B" if board.ram_bytes else "host"

    # -- build and size
    def build_program(self, board: "Board", sources: list[Path], include_dirs: list[Path], out_dir: Path, *,
                      defines: dict | None = None, name: str = "firmware", probe: bool = False,
                      purpose: str = "program") -> BuildResult:
        """Compile `sources` with the board's runtime into one program (FitError if too big).
        purpose: "program" (a run on inputs), "codec" (the serve/flash image), "app" (link)."""
        raise Unsupported(f"{board.name}: the {self.arch} family cannot build programs")

    def compile_object(self, board: "Board", src: Path, obj: Path, include_dirs: list[Path]) -> list[str]:
        """The command that compiles one source for `board` as its builds do (for footprints)."""
        raise Unsupported(f"{board.name}: the {self.arch} family cannot compile objects")

    def size_tool(self, board: "Board") -> str:
        return "llvm-size-16"

    # -- run
    def check_runnable(self, board: "Board") -> None:
        """Unsupported (with the reason and the twin to use) when programs cannot run here."""
        if not board.simulate and board.arch != "native":
            raise Unsupported(f"{board.name} cannot be run here: {board.simulate_reason}"
                              + (f" (use --target {board.twin})" if board.twin else ""))

    def run_codec(self, board: "Board", built: BuildResult, records: list[bytes], out_len: int, *,
                  src_dir: Path, work_dir: Path, timeout_s: float | None = None,
                  stats: dict | None = None) -> list[DeviceWindow]:
        """Encode input records on the board with the codec built from `src_dir`."""
        raise Unsupported(f"{board.name}: the {self.arch} family cannot run the codec")

    def run_vectors(self, board: "Board", gen, vectors: list[bytes], work: Path, measure: bool = True) -> TargetRun:
        """Run every input vector through generated network C (toolchain.nn.codegen.GeneratedNN)."""
        raise Unsupported(f"{board.name}: the {self.arch} family cannot run generated networks")

    def explain_trap(self, board: "Board", elf: Path, uart_text: str) -> str | None:
        """A program on an emulated board stopped with TC_HAL_EXIT_TRAP: what its trap line says
        (None: no trap line, report the exit code as it is)."""
        return None

    # -- link application
    def link_sources(self, board: "Board") -> list[Path]:
        """The HAL sources the link application needs on this board (tc_hal_getc, millis, ...)."""
        raise Unsupported(f"the link application builds for boards with a UART on a link; {board.name} "
                          f"(arch {self.arch}) has none here")

    def start_link(self, board: "Board", image: Path):
        """Start the link application image with its UART on a pseudo-terminal. Returns an
        object with .port, .proc and .close() (families/qemu.py QemuPty)."""
        raise Unsupported(f"{board.name}: the {self.arch} family cannot start a board behind a pty")

    # -- flash
    def flash(self, board: "Board", built: BuildResult, *, port: str | None = None, driver: str | None = None,
              baud: int | None = None, isp_board: str | None = None) -> int:
        raise Unsupported(f"{board.name}: no flasher for the {self.arch} family")
