"""What every family driver returns or raises, and the ELF readers they share.

A build gives a BuildResult (image, sizes, symbols, the commands it ran) or raises FitError
(too big for the board, with the numbers) or BuildError (a tool failed, with its command and
words). Running the codec gives one DeviceWindow per input record; running an int8 network
gives a TargetRun.
"""
from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


class BuildError(Exception):
    """A compiler or linker command failed."""

    def __init__(self, what: str, cmd: list[str], stderr: str):
        self.cmd, self.stderr = cmd, stderr
        super().__init__(f"{what} failed:\n$ {shlex.join(cmd)}\n{stderr.strip()}")


class FitError(Exception):
    """The program is too large for the board's flash or RAM."""


class Unsupported(RuntimeError):
    """The board's family cannot do this (and the message says why)."""


class TargetError(RuntimeError):
    """A program cannot run on this board, or its run failed (and why)."""


@dataclass
class BuildResult:
    elf: Path                     # the program: ELF, or the host executable on native
    board: str
    flash_bytes: int | None       # text + rodata + data init image (+ vectors)
    ram_bytes: int | None         # static: data + bss (+ noinit)
    stack_reserve: int | None
    sections: dict[str, int] = field(default_factory=dict)
    symbols: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (address, size)
    commands: list[list[str]] = field(default_factory=list)
    probe_elf: Path | None = None  # MSP430: the cycle probe (families/msp430/build.py)
    probe_note: str | None = None  # why there is no probe, if there is none
    image: Path | None = None      # raw BIN of the ELF where a flasher or boot ROM wants one


@dataclass
class DeviceWindow:
    """One encoded window as a board returned it."""

    data: bytes        # the encoded window, padded to whole bytes
    nbits: int
    imputed: int
    cycles_raw: int | None = None
    cycles: int | None = None        # corrected for the simulator's over-count (None: not available)
    instructions: int | None = None  # QEMU boards: exact retired instructions of the encoder


def parse_record(rec: bytes) -> DeviceWindow:
    """The codec harnesses' output record: uint16 nbits, uint8 imputed, uint8 0, bytes."""
    nbits = rec[0] | (rec[1] << 8)
    return DeviceWindow(bytes(rec[4:4 + (nbits + 7) // 8]), nbits, rec[2])


@dataclass
class TargetRun:
    """Outputs of generated network C on a board, one per input vector."""

    board: str
    outputs: list[bytes]
    counts: list[int | None]
    count_kind: str  # "cycles" (MSP430, corrected), "instructions" (QEMU), "" (native)
    details: dict = field(default_factory=dict)


def run_tool(cmd: list[str], what: str, log: list[list[str]] | None = None,
             missing_hint: str = "run `make setup`") -> subprocess.CompletedProcess:
    """Run one build command; BuildError with its words when it fails or is not installed."""
    if log is not None:
        log.append(cmd)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise BuildError(what, cmd, f"{e} ({missing_hint})") from e
    if proc.returncode != 0:
        raise BuildError(what, cmd, proc.stderr or proc.stdout)
    return proc


def c_defines(defines: dict | None) -> list[str]:
    return [f"-D{k}" if v is None else f"-D{k}={v}" for k, v in (defines or {}).items()]


def section_sizes(elf: Path, tool: str) -> dict[str, int]:
    """Allocated sections and their sizes (`size -A` of any binutils or llvm-size)."""
    out = run_tool([tool, "-A", str(elf)], tool).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def read_symbols(elf: Path, tool: str, kinds: str = "tTdDbBrR") -> dict[str, tuple[int, int]]:
    """Code and data symbols: name -> (addr, size). `kinds` are nm's type letters to keep;
    add "A" for absolute linker symbols (__stack)."""
    out = run_tool([tool, "-S", "--defined-only", str(elf)], tool).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            addr, size, kind, name = parts
        elif len(parts) == 3:
            (addr, kind, name), size = parts, "0"
        else:
            continue
        if kind in kinds:
            syms[name] = (int(addr, 16), int(size, 16))
    return syms


def object_sizes(objs: list[Path], tool: str) -> dict[str, int]:
    """text/rodata/data/bss summed over object files, and flash (= text + rodata + data) and
    ram (= data + bss): the footprint of a set of compiled sources."""
    total = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for obj in objs:
        for line in run_tool([tool, "-A", str(obj)], "size").stdout.splitlines():
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
