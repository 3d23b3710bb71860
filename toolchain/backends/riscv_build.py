"""Build bare-metal firmware for a RISC-V board (riscv64-unknown-elf-gcc + picolibc) and check it fits.

Every program gets the board's runtime_sources (startup and HAL, see
targets/riscv-qemu/) and is linked with the board's linker script, which
takes the RAM region and stack reserve from board.toml through --defsym. All
of the program lives in RAM (as on the K210, which runs from SRAM), so the
fit check is: text + rodata + data + bss + the stack reserve <= RAM.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .boards import Board
from . import msp430_build as _elf  # its ELF size and symbol readers take any tool
from .msp430_build import BuildError, BuildResult, FitError

# Used for the sizing link of a program that does not fit: big enough for any
# model we would build, small enough for 32-bit-ish medany addressing.
_SIZING_RAM_BYTES = 0x40000000

_FIT_ERRORS = re.compile(r"will not fit in region|overflowed by|section .* overlaps section")


def _run(cmd: list[str], what: str, log: list[list[str]] | None = None) -> subprocess.CompletedProcess:
    if log is not None:
        log.append(cmd)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise BuildError(what, cmd, f"{e} (apt packages gcc-riscv64-unknown-elf and "
                                    f"picolibc-riscv64-unknown-elf; run `make setup`)") from e
    if proc.returncode != 0:
        raise BuildError(what, cmd, proc.stderr or proc.stdout)
    return proc


def _cflags(board: Board, include_dirs: list[Path], defines: dict | None, opt: str) -> list[str]:
    flags = [*board.cflags, opt, f"-I{board.dir}", *(f"-I{d}" for d in include_dirs)]
    flags += [f"-D{k}" if v is None else f"-D{k}={v}" for k, v in (defines or {}).items()]
    return flags


def _link_cmd(board: Board, objs: list[Path], elf: Path, ram_bytes: int) -> list[str]:
    syms = {"__tc_ram_origin": board.ram_origin, "__tc_ram_bytes": ram_bytes,
            "__tc_stack_reserve": board.stack_reserve_bytes}
    return [board.cc, *board.cflags, *board.ldflags, "-T", str(board.linker_script),
            *(f"-Wl,--defsym={k}={v:#x}" for k, v in syms.items()),
            f"-Wl,-Map={elf.with_suffix('.map')}", "-o", str(elf), *map(str, objs)]


def section_sizes(board: Board, elf: Path) -> dict[str, int]:
    """Allocated sections of `elf` and their sizes in bytes (the board's binutils size -A)."""
    return _elf.section_sizes(elf, board.size_tool or "riscv64-unknown-elf-size")


def usage(sizes: dict[str, int]) -> dict[str, int]:
    """text, rodata, data (.data + .tdata) and bss (.bss + .tbss) in bytes, from section_sizes.
    The layout of targets/*/link.ld folds .sdata/.srodata/.sbss into these."""
    g = lambda *names: sum(sizes.get(n, 0) for n in names)  # noqa: E731
    return {"text": g(".text"), "rodata": g(".rodata"), "data": g(".data", ".tdata"), "bss": g(".bss", ".tbss")}


def read_symbols(board: Board, elf: Path, kinds: str = "tTdDbBrR") -> dict[str, tuple[int, int]]:
    """Code and data symbols: name -> (address, size). `kinds` are nm's type letters to keep."""
    return _elf.read_symbols(elf, kinds, board.nm_tool or "riscv64-unknown-elf-nm")


def _check_fit(board: Board, sizes: dict[str, int]) -> None:
    u = usage(sizes)
    need = sum(u.values()) + board.stack_reserve_bytes
    if need > board.ram_bytes:
        raise FitError(
            f"model does not fit {board.name}: RAM needs {need} B (text {u['text']} + rodata {u['rodata']} "
            f"+ data {u['data']} + bss {u['bss']} + stack reserve {board.stack_reserve_bytes}) "
            f"but the board has {board.ram_bytes} B")


def build_riscv(board: Board, sources: list[Path], include_dirs: list[Path], out_dir: Path,
                defines: dict | None = None, opt: str = "-O2", name: str = "firmware") -> BuildResult:
    """Compile `sources` with the board's runtime into out_dir/<name>.elf.

    BuildResult.flash_bytes is the loaded image (text + rodata + data: what a
    boot flash would hold), ram_bytes the static writable data (data + bss);
    both and the code live in RAM here. Raises FitError (with the numbers) when
    image + bss + the board's stack reserve exceeds its RAM, BuildError (with
    the command and the compiler's stderr) when a command fails."""
    if board.arch != "riscv":
        raise ValueError(f"{board.name} is not a RISC-V board (arch={board.arch})")
    out_dir = Path(out_dir)
    obj_dir = out_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    flags = _cflags(board, [Path(d) for d in include_dirs], defines, opt)
    log: list[list[str]] = []
    objs = []
    for i, src in enumerate([*board.runtime_sources, *map(Path, sources)]):
        obj = obj_dir / f"{i:02d}_{src.stem}.o"
        _run([board.cc, *flags, "-c", str(src), "-o", str(obj)], f"compiling {src}", log)
        objs.append(obj)

    elf = out_dir / f"{name}.elf"
    try:
        _run(_link_cmd(board, objs, elf, board.ram_bytes), "link", log)
    except BuildError as e:
        errors = [ln for ln in e.stderr.splitlines() if ln.strip() and "collect2" not in ln]
        if not errors or not any(_FIT_ERRORS.search(ln) for ln in errors):
            raise
        # Measure with a roomy region so the FitError can name the real numbers.
        sizing = out_dir / f"{name}.sizing.elf"
        _run(_link_cmd(board, objs, sizing, _SIZING_RAM_BYTES), "sizing link", log)
        try:
            _check_fit(board, section_sizes(board, sizing))
        except FitError as fit:
            raise fit from None
        raise  # did not overflow by our own measure: report ld's words
    sizes = section_sizes(board, elf)
    _check_fit(board, sizes)
    u = usage(sizes)
    return BuildResult(elf=elf, board=board.name, flash_bytes=u["text"] + u["rodata"] + u["data"],
                       ram_bytes=u["data"] + u["bss"], stack_reserve=board.stack_reserve_bytes,
                       sections=sizes, symbols=read_symbols(board, elf), commands=log)


def objcopy_bin(board: Board, elf: Path, out: Path | None = None) -> Path:
    """The raw image of `elf` (objcopy -O binary: its loadable bytes from the lowest address,
    ram_origin here): what a boot ROM copies from flash into RAM, e.g. the K210's, and
    what kflash writes. Returns the .bin path (default: next to the ELF)."""
    out = Path(out) if out else Path(elf).with_suffix(".bin")
    tool = board.raw.get("cpu", {}).get("objcopy", "riscv64-unknown-elf-objcopy")
    _run([tool, "-O", "binary", str(elf), str(out)], f"objcopy {Path(elf).name} -> {out.name}")
    return out
