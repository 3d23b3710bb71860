"""The host as a board: gcc builds that run as processes (the bit-exactness reference), and the
link application as a virtual board behind a pseudo-terminal.

board.toml [native]: cc, cflags.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import BuildResult, DeviceWindow, TargetError, TargetRun, c_defines, parse_record, run_tool
from .driver import Family


@dataclass
class NativeConfig:
    """[native] of board.toml."""

    cc: str = "gcc"
    cflags: list[str] = field(default_factory=list)


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise TargetError(f"{what} failed ({' '.join(cmd[:3])} ...):\n{(p.stderr or p.stdout)[-3000:]}")
    return p


class Native(Family):
    arch = "native"
    config_type = NativeConfig
    codec_harness = "native"
    flash_image = "app"

    def summary(self, board) -> str:
        return "host"

    def check_runnable(self, board) -> None:
        return None

    def build_program(self, board, sources, include_dirs, out_dir, *, defines=None, name="native",
                      probe=False, purpose="program") -> BuildResult:
        """A host executable with the board's cc and flags (-Werror included); the link
        application adds -Wconversion, as the other link builds see it."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        exe = out_dir / name
        extra = ["-Wconversion"] if purpose == "app" else []
        cmd = [board.cfg.cc, *board.cfg.cflags, *extra, f"-I{board.dir}", *(f"-I{d}" for d in include_dirs),
               *c_defines(defines), *map(str, sources), "-o", str(exe)]
        log: list[list[str]] = []
        run_tool(cmd, "native build", log)
        return BuildResult(elf=exe, board=board.name, flash_bytes=None, ram_bytes=None, stack_reserve=None,
                           commands=log)

    def compile_object(self, board, src, obj, include_dirs) -> list[str]:
        return [board.cfg.cc, *board.cfg.cflags, f"-I{board.dir}", *(f"-I{d}" for d in include_dirs),
                "-c", str(src), "-o", str(obj)]

    def run_codec(self, board, built, records, out_len, *, src_dir, work_dir, timeout_s=None,
                  stats=None) -> list[DeviceWindow]:
        p = subprocess.run([str(built.elf)], input=b"".join(records), capture_output=True,
                           timeout=timeout_s or 600)
        if p.returncode != 0:
            raise RuntimeError(f"{built.elf} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
        raw = p.stdout
        if len(raw) != out_len * len(records):
            raise RuntimeError(f"{built.elf}: {len(raw)} bytes out for {len(records)} windows "
                               f"(expected {out_len} each)")
        return [parse_record(raw[i * out_len:(i + 1) * out_len]) for i in range(len(records))]

    def run_vectors(self, board, gen, vectors, work, measure=True) -> TargetRun:
        from ..nn.codegen import copy_harness, parse_vector_output, write_vectors
        write_vectors(work, vectors)
        harness = copy_harness(work, "vectors")
        exe = work / "nn_native"
        cmd = [board.cfg.cc, *board.cfg.cflags, "-Wconversion", f"-I{board.dir}", f"-I{gen.out_dir}",
               f"-I{work}", *map(str, gen.sources), str(harness), "-o", str(exe), "-lm"]
        _run(cmd, "native build")
        text = _run([str(exe)], "native run").stdout
        outs, _ = parse_vector_output(text, len(vectors), sum(gen.output_bytes))
        return TargetRun(board.name, outs, [None] * len(outs), "")

    def link_sources(self, board) -> list[Path]:
        return [board.dir / "tc_hal_link.c"]

    def flash(self, board, built, *, port=None, driver=None, baud=None, isp_board=None,
              timeout_s: float = 10.0) -> int:
        """`make flash TARGET=native`: leave the link application (`built`) running behind a
        pty, as a plugged-in board would appear; prints the port (and how to stop it)."""
        d = built.elf.parent.parent  # build/<model>/native/app/ (the app is in its bin/)
        port_file, log = d / "port", d / "virtual_board.log"
        port_file.unlink(missing_ok=True)
        with open(log, "w") as lf:
            proc = subprocess.Popen([sys.executable, "-m", "host_tools.virtual_board", str(built.elf),
                                     "--port-file", str(port_file)], stdout=lf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.monotonic() + timeout_s
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"the native virtual board did not start (see {log}):\n{log.read_text()[-1500:]}")
            time.sleep(0.05)
        port = port_file.read_text().strip()
        (d / "pid").write_text(f"{proc.pid}\n")
        print(f"{board.name}: link application running as a virtual board on {port} (pid {proc.pid})\n"
              f"  read it:  tinycodec decode --port {port} --out readings.csv\n"
              f"  stop it:  kill {proc.pid}", flush=True)
        return 0


FAMILY = Native()
