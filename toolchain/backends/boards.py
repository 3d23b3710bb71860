"""Boards are data: one folder per board under targets/, described by board.toml."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

TARGETS_DIR = Path(os.environ.get("TINYCODEC_TARGETS", Path(__file__).resolve().parents[2] / "targets"))


class UnknownBoardError(KeyError):
    """No targets/<name>/board.toml."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass
class Board:
    """One target board, as read from targets/<name>/board.toml."""

    name: str
    dir: Path
    description: str
    arch: str  # "msp430" | "native" | "riscv"
    hwmult: str  # "none" | "16bit" | "32bit" | "native"
    mcu: str | None = None
    clang_flags: list[str] = field(default_factory=list)
    cc: str | None = None  # native and riscv
    cflags: list[str] = field(default_factory=list)  # native and riscv
    ldflags: list[str] = field(default_factory=list)  # riscv
    size_tool: str | None = None  # riscv: binutils size for the board's ELF
    nm_tool: str | None = None  # riscv: binutils nm
    runtime_sources: list[Path] = field(default_factory=list)  # riscv: startup and HAL, built into every program
    linker_script: Path | None = None  # riscv
    runtime_dir: Path | None = None
    ldscripts: str | None = None
    simulate: bool = False
    simulate_reason: str = ""
    clock_hz: int | None = None
    voltage_v: float | None = None
    flash_origin: int | None = None
    flash_bytes: int | None = None
    flash_usable_bytes: int | None = None
    vectors_bytes: int | None = None
    ram_origin: int | None = None
    ram_bytes: int | None = None
    stack_reserve_bytes: int = 0
    active_current_a: float | None = None
    radio: str | None = None
    flasher_tool: str | None = None
    flasher_driver: str | None = None
    flasher_args: list[str] = field(default_factory=list)
    qemu: str | None = None  # [run] emulator binary (riscv)
    qemu_args: list[str] = field(default_factory=list)  # [run] its arguments, before -kernel <elf>
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def hal_header(self) -> Path:
        return self.dir / "tc_hal.h"

    @property
    def flash_limit(self) -> int | None:
        """Flash this toolchain can fill (the whole chip unless board.toml says less)."""
        return self.flash_usable_bytes if self.flash_usable_bytes is not None else self.flash_bytes

    @property
    def vectors_origin(self) -> int | None:
        if self.flash_origin is None or self.flash_limit is None or self.vectors_bytes is None:
            return None
        return self.flash_origin + self.flash_limit - self.vectors_bytes


def list_boards(targets_dir: Path | None = None) -> list[str]:
    """Names of all board folders (those holding a board.toml), sorted."""
    root = targets_dir or TARGETS_DIR
    return sorted(p.parent.name for p in root.glob("*/board.toml"))


def load_board(name: str, targets_dir: Path | None = None) -> Board:
    """Read targets/<name>/board.toml; unknown names list the boards that exist."""
    root = targets_dir or TARGETS_DIR
    path = root / name / "board.toml"
    if not path.is_file():
        raise UnknownBoardError(
            f"unknown board {name!r}; available boards: {', '.join(list_boards(root)) or '(none)'} "
            f"(folders with a board.toml under {root})"
        )
    with path.open("rb") as f:
        raw = tomllib.load(f)
    return _from_toml(name, path.parent, raw)


def _simulated(cpu: dict, run: dict) -> bool:
    return bool(cpu.get("simulate", run.get("simulate", False)))


def _from_toml(name: str, folder: Path, raw: dict) -> Board:
    cpu, clock, mem = raw.get("cpu", {}), raw.get("clock", {}), raw.get("memory", {})
    energy, flasher, meta = raw.get("energy", {}), raw.get("flasher", {}), raw.get("board", {})
    run = raw.get("run", {})
    if "arch" not in cpu:
        raise ValueError(f"{folder / 'board.toml'}: [cpu] arch is required")
    if meta.get("name", name) != name:
        raise ValueError(f"{folder / 'board.toml'}: [board] name {meta['name']!r} differs from folder {name!r}")
    runtime = cpu.get("runtime")
    linker_script = cpu.get("linker_script")
    runtime_sources = [folder / p for p in cpu.get("runtime_sources", [])]
    for p in [*runtime_sources, *([folder / linker_script] if linker_script else [])]:
        if not p.is_file():
            raise ValueError(f"{folder / 'board.toml'}: [cpu] names {p.name}, which is not in {folder}")
    if cpu["arch"] == "riscv":
        missing = [k for k, v in (("[cpu] cc", cpu.get("cc")), ("[cpu] linker_script", linker_script),
                                  ("[memory] ram_origin", mem.get("ram_origin")),
                                  ("[memory] ram_bytes", mem.get("ram_bytes")),
                                  # a real board (simulate = false, e.g. k210) runs on hardware, not QEMU
                                  ("[run] qemu", run.get("qemu") if _simulated(cpu, run) else ""))
                   if v is None]
        if missing:
            raise ValueError(f"{folder / 'board.toml'}: a riscv board needs {', '.join(missing)}")
    return Board(
        name=name,
        dir=folder,
        description=meta.get("description", ""),
        arch=cpu["arch"],
        hwmult=cpu.get("hwmult", "none"),
        mcu=cpu.get("mcu"),
        clang_flags=list(cpu.get("clang_flags", [])),
        cc=cpu.get("cc"),
        cflags=list(cpu.get("cflags", [])),
        ldflags=list(cpu.get("ldflags", [])),
        size_tool=cpu.get("size"),
        nm_tool=cpu.get("nm"),
        runtime_sources=runtime_sources,
        linker_script=folder / linker_script if linker_script else None,
        runtime_dir=(folder / runtime).resolve() if runtime else None,
        ldscripts=cpu.get("ldscripts", cpu.get("mcu")),
        simulate=_simulated(cpu, run),
        simulate_reason=cpu.get("simulate_reason", ""),
        clock_hz=clock.get("hz"),
        voltage_v=clock.get("voltage_v"),
        flash_origin=mem.get("flash_origin"),
        flash_bytes=mem.get("flash_bytes"),
        flash_usable_bytes=mem.get("flash_usable_bytes"),
        vectors_bytes=mem.get("vectors_bytes"),
        ram_origin=mem.get("ram_origin"),
        ram_bytes=mem.get("ram_bytes"),
        stack_reserve_bytes=mem.get("stack_reserve_bytes", 0),
        active_current_a=energy.get("active_current_a"),
        radio=energy.get("radio"),
        flasher_tool=flasher.get("tool"),
        flasher_driver=flasher.get("driver"),
        flasher_args=list(flasher.get("args", [])),
        qemu=run.get("qemu"),
        qemu_args=list(run.get("qemu_args", [])),
        raw=raw,
    )
