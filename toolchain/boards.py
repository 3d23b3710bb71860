"""Boards are data: one folder per board under targets/, described by board.toml.

The tables every board shares ([board], [cpu], [clock], [memory], [energy], [flasher]) are
read here; the table named after the board's family (e.g. [riscv], [msp430]) is read and
checked by that family's driver (toolchain.families) into its own typed config, `Board.cfg`.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .families.config import BoardConfigError, read_table

TARGETS_DIR = Path(os.environ.get("TINYCODEC_TARGETS") or paths.targets_dir())


class UnknownBoardError(KeyError):
    """No targets/<name>/board.toml."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass
class CpuTable:
    """[cpu]: which family drives the board, and whether it runs here."""

    arch: str
    hwmult: str = "none"            # "none" | "16bit" | "32bit" | "native": how tc_mul16 multiplies
    core: str = ""
    mcu: str = ""
    simulate: bool = False          # an emulator or simulator runs it here
    simulate_reason: str = ""       # why not, when it does not
    twin: str = ""                  # the emulated board that runs this board's firmware
    twin_of: str = ""               # the real board this one emulates


@dataclass
class MemoryTable:
    flash_origin: int | None = None
    flash_bytes: int | None = None
    flash_usable_bytes: int | None = None  # what this toolchain can fill (default: all of it)
    ram_origin: int | None = None
    ram_bytes: int | None = None
    stack_reserve_bytes: int = 0
    kpu_ram_origin: int | None = None
    kpu_ram_bytes: int | None = None
    spi_flash_bytes: int | None = None
    vectors_bytes: int | None = None


@dataclass
class Board:
    """One target board, as read from targets/<name>/board.toml."""

    name: str
    dir: Path
    description: str
    arch: str
    hwmult: str
    cfg: Any = None  # the family's typed table (toolchain.families.<arch>)
    simulate: bool = False
    simulate_reason: str = ""
    twin: str = ""
    mcu: str | None = None
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
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def family(self):
        from .families import family
        return family(self.arch)

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
        try:
            raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise BoardConfigError(f"{path}: not valid TOML: {e}") from None
    return board_from_toml(name, path, raw)


def board_from_toml(name: str, path: Path, raw: dict) -> Board:
    from .families import archs, family

    if "arch" not in raw.get("cpu", {}):
        raise BoardConfigError(f"{path}: [cpu] arch is required (one of {', '.join(archs())})")
    cpu = read_table(CpuTable, path, raw, "cpu")
    try:
        fam = family(cpu.arch)
    except KeyError as e:
        raise BoardConfigError(f"{path}: [cpu] arch: {e.args[0]}") from None
    meta, clock, energy, flasher = (raw.get(k, {}) for k in ("board", "clock", "energy", "flasher"))
    if meta.get("name", name) != name:
        raise BoardConfigError(f"{path}: [board] name {meta['name']!r} differs from folder {name!r}")
    mem = read_table(MemoryTable, path, raw, "memory")
    return Board(
        name=name,
        dir=path.parent,
        description=meta.get("description", ""),
        arch=cpu.arch,
        hwmult=cpu.hwmult,
        cfg=fam.parse_config(path, raw),
        simulate=cpu.simulate,
        simulate_reason=cpu.simulate_reason,
        twin=cpu.twin,
        mcu=cpu.mcu or None,
        clock_hz=clock.get("hz"),
        voltage_v=clock.get("voltage_v"),
        flash_origin=mem.flash_origin,
        flash_bytes=mem.flash_bytes,
        flash_usable_bytes=mem.flash_usable_bytes,
        vectors_bytes=mem.vectors_bytes,
        ram_origin=mem.ram_origin,
        ram_bytes=mem.ram_bytes,
        stack_reserve_bytes=mem.stack_reserve_bytes,
        active_current_a=energy.get("active_current_a"),
        radio=energy.get("radio"),
        flasher_tool=flasher.get("tool"),
        flasher_driver=flasher.get("driver"),
        flasher_args=list(flasher.get("args", [])),
        raw=raw,
    )
