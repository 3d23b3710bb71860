"""Bare-metal builds with a GNU cross compiler (RISC-V, Cortex-M) and their fit check.

Every program gets the board's runtime_sources (startup and HAL) and is linked with the
board's linker script, which takes the memory regions and the stack reserve from board.toml
through --defsym (__tc_ram_origin/__tc_ram_bytes/__tc_stack_reserve, and
__tc_flash_origin/__tc_flash_bytes where the board has flash). The family's config (board.cfg)
names the tools: cc, size, nm, objcopy, cflags, ldflags, runtime_sources, linker_script.

Fit: on a board with flash, text + rodata + data <= flash and data + bss + stack reserve <=
RAM; on a board without (the K210 runs from SRAM), all of it + the stack reserve <= RAM.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .common import BuildError, BuildResult, FitError, c_defines, read_symbols, run_tool, section_sizes

@dataclass
class CrossConfig:
    """The keys every GNU cross family reads from its board.toml table ([riscv], [cortex-m])."""

    cc: str
    size: str
    nm: str
    objcopy: str
    linker_script: Path
    cflags: list[str] = field(default_factory=list)
    ldflags: list[str] = field(default_factory=list)
    libs: list[str] = field(default_factory=list)               # after the objects, e.g. -lm
    runtime_sources: list[Path] = field(default_factory=list)   # startup and HAL, in every program
    link_sources: list[Path] = field(default_factory=list)      # the link application's HAL
    qemu: str | None = None                                     # emulated boards: the emulator
    qemu_args: list[str] = field(default_factory=list)          # its arguments, before -kernel <elf>
    qemu_package: str = ""                                      # the Debian package that has it


# Region size for the sizing link of a program that does not fit: big enough for any model we
# would build, small enough for 32-bit-ish addressing.
_SIZING_BYTES = 0x40000000
_FIT_ERRORS = re.compile(r"will not fit in region|overflowed by|section .* overlaps section")


def _run(cmd: list[str], what: str, log: list[list[str]] | None = None, hint: str = ""):
    return run_tool(cmd, what, log, hint or "the board's cross compiler; run `make setup`")


def cflags(board, include_dirs: list[Path], defines: dict | None, opt: str) -> list[str]:
    return [*board.cfg.cflags, opt, f"-I{board.dir}", *(f"-I{d}" for d in include_dirs), *c_defines(defines)]


def _link_cmd(board, objs: list[Path], elf: Path, sizing: bool) -> list[str]:
    syms = {"__tc_ram_origin": board.ram_origin,
            "__tc_ram_bytes": _SIZING_BYTES if sizing else board.ram_bytes,
            "__tc_stack_reserve": board.stack_reserve_bytes}
    if board.flash_bytes:
        syms.update(__tc_flash_origin=board.flash_origin,
                    __tc_flash_bytes=_SIZING_BYTES if sizing else board.flash_bytes)
    return [board.cfg.cc, *board.cfg.cflags, *board.cfg.ldflags, "-T", str(board.cfg.linker_script),
            *(f"-Wl,--defsym={k}={v:#x}" for k, v in syms.items()),
            f"-Wl,-Map={elf.with_suffix('.map')}", "-o", str(elf), *map(str, objs), *board.cfg.libs]


def usage(sizes: dict[str, int]) -> dict[str, int]:
    """text, rodata, data (.data + .tdata) and bss (.bss + .tbss) in bytes, from section_sizes.
    The boards' link.ld scripts fold .sdata/.srodata/.sbss (and vectors into .text) into these."""
    g = lambda *names: sum(sizes.get(n, 0) for n in names)  # noqa: E731
    return {"text": g(".text", ".vectors"), "rodata": g(".rodata"), "data": g(".data", ".tdata"),
            "bss": g(".bss", ".tbss")}


def check_fit(board, sizes: dict[str, int]) -> None:
    u = usage(sizes)
    image = u["text"] + u["rodata"] + u["data"]
    if board.flash_bytes:
        if image > board.flash_bytes:
            raise FitError(
                f"model does not fit {board.name}: flash needs {image} B (text {u['text']} + rodata "
                f"{u['rodata']} + data {u['data']}) but the chip has {board.flash_bytes} B")
        need = u["data"] + u["bss"] + board.stack_reserve_bytes
        if need > board.ram_bytes:
            raise FitError(
                f"model does not fit {board.name}: RAM needs {need} B (data {u['data']} + bss {u['bss']} "
                f"+ stack reserve {board.stack_reserve_bytes}) but the chip has {board.ram_bytes} B")
        return
    need = sum(u.values()) + board.stack_reserve_bytes
    if need > board.ram_bytes:
        raise FitError(
            f"model does not fit {board.name}: RAM needs {need} B (text {u['text']} + rodata {u['rodata']} "
            f"+ data {u['data']} + bss {u['bss']} + stack reserve {board.stack_reserve_bytes}) "
            f"but the board has {board.ram_bytes} B")


def build(board, sources: list[Path], include_dirs: list[Path], out_dir: Path, defines: dict | None = None,
          opt: str = "-O2", name: str = "firmware", extra_sources: list[Path] | None = None) -> BuildResult:
    """Compile `sources` (plus the board's runtime_sources and `extra_sources`, e.g. the link
    HAL) into out_dir/<name>.elf.

    BuildResult.flash_bytes is the loaded image (text + rodata + data: what a boot flash holds),
    ram_bytes the static writable data (data + bss). Raises FitError (with the numbers) when the
    program does not fit, BuildError (with the command and the compiler's stderr) when a
    command fails."""
    out_dir = Path(out_dir)
    obj_dir = out_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    flags = cflags(board, [Path(d) for d in include_dirs], defines, opt)
    log: list[list[str]] = []
    objs = []
    for i, src in enumerate([*board.cfg.runtime_sources, *(extra_sources or []), *map(Path, sources)]):
        obj = obj_dir / f"{i:02d}_{src.stem}.o"
        _run([board.cfg.cc, *flags, "-c", str(src), "-o", str(obj)], f"compiling {src}", log)
        objs.append(obj)

    elf = out_dir / f"{name}.elf"
    try:
        _run(_link_cmd(board, objs, elf, sizing=False), "link", log)
    except BuildError as e:
        errors = [ln for ln in e.stderr.splitlines() if ln.strip() and "collect2" not in ln]
        if not errors or not any(_FIT_ERRORS.search(ln) for ln in errors):
            raise
        # Measure with roomy regions so the FitError can name the real numbers.
        sizing = out_dir / f"{name}.sizing.elf"
        _run(_link_cmd(board, objs, sizing, sizing=True), "sizing link", log)
        try:
            check_fit(board, section_sizes(sizing, board.cfg.size))
        except FitError as fit:
            raise fit from None
        raise  # did not overflow by our own measure: report ld's words
    sizes = section_sizes(elf, board.cfg.size)
    check_fit(board, sizes)
    u = usage(sizes)
    return BuildResult(elf=elf, board=board.name, flash_bytes=u["text"] + u["rodata"] + u["data"],
                       ram_bytes=u["data"] + u["bss"], stack_reserve=board.stack_reserve_bytes,
                       sections=sizes, symbols=read_symbols(elf, board.cfg.nm), commands=log)


def objcopy_bin(board, elf: Path, out: Path | None = None) -> Path:
    """The raw image of `elf` (objcopy -O binary: its loadable bytes from the lowest address):
    what a boot ROM copies from flash into RAM (the K210's), what kflash writes."""
    out = Path(out) if out else Path(elf).with_suffix(".bin")
    _run([board.cfg.objcopy, "-O", "binary", str(elf), str(out)], f"objcopy {Path(elf).name} -> {out.name}")
    return out


def compile_object(board, src: Path, obj: Path, include_dirs: list[Path]) -> list[str]:
    return [board.cfg.cc, *cflags(board, include_dirs, None, "-O2"), "-c", str(src), "-o", str(obj)]
