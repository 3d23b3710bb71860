"""Flash a real board. Needs the board plugged in; without one it fails within seconds, clearly.

The flasher is data ([flasher] in targets/<board>/board.toml):
- mspdebug (MSP430 boards): `driver` is mspdebug's driver (rf2500 for the G2 LaunchPad,
  tilib or ezfet for eZ-FET LaunchPads, uif for a FET430UIF), the ELF is programmed.
- kflash (K210): `driver` is kflash's -B dev-board name (picks the DTR/RTS reset sequence),
  `port` and `baud` its serial port and speed; the raw BIN is written to SPI flash. kflash
  runs through host_tools/kflash_pty.py, which also lets it talk to a pseudo-terminal (the
  fake ISP peer in tests, QEMU).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

from .. import REPO_ROOT
from ..quant.fixed_point import FixedModel
from .boards import Board

FLASH_TIMEOUT_S = 20
KFLASH_TIMEOUT_S = 300        # a multi-MiB image at 115200 baud takes minutes; the codec's is KiB
KFLASH_BOARDS = ("dan", "bit", "bit_mic", "kd233", "goE", "goD", "maixduino", "trainer")
KFLASH_WRAPPER = REPO_ROOT / "host_tools" / "kflash_pty.py"
_BANNER = ("MSPDebug version", "Copyright (C)", "This is free software", "warranty; not even")


def flash(fm: FixedModel, board: Board, port: str | None = None, driver: str | None = None,
          baud: int | None = None, isp_board: str | None = None) -> int:
    """Build the model's firmware for `board` and write it with the board's flasher.
    `driver`: mspdebug's driver; `isp_board`/`baud`: kflash's -B and -b (defaults: board.toml).
    Raises RuntimeError (no board, wrong port/driver: the tool's own words) or FileNotFoundError."""
    if board.arch == "native":
        return _start_virtual_board(fm, board)
    if board.flasher_tool == "mspdebug":
        if isp_board or baud:
            print(f"note: --board/--baud are kflash options; {board.name} is flashed with mspdebug", flush=True)
        return _flash_mspdebug(fm, board, port, driver)
    if board.flasher_tool == "kflash":
        if driver:
            print(f"note: --driver is an mspdebug option; {board.name} is flashed with kflash "
                  f"(its dev board is --board / BOARD=)", flush=True)
        return _flash_kflash(fm, board, port, baud, isp_board)
    raise ValueError(f"{board.name}: flasher {board.flasher_tool!r} is not supported here "
                     f"(this build knows mspdebug and kflash; see [flasher] in {board.dir / 'board.toml'})")


def _start_virtual_board(fm: FixedModel, board: Board, timeout_s: float = 10.0) -> int:
    """`make flash TARGET=native`: build the link application and leave it running behind a
    pty, as a plugged-in board would appear; prints the port (and how to stop it)."""
    import subprocess
    import sys
    import time

    from ..link.app import build_app
    from ..stages import stage_dir

    app = build_app(fm.name, board.name)
    d = stage_dir(fm.name, board.name) / "app"
    port_file, log = d / "port", d / "virtual_board.log"
    port_file.unlink(missing_ok=True)
    with open(log, "w") as lf:
        proc = subprocess.Popen([sys.executable, "-m", "host_tools.virtual_board", str(app.exe),
                                 "--port-file", str(port_file)], stdout=lf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    end = time.monotonic() + timeout_s
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError(f"the native virtual board did not start (see {log}):\n{log.read_text()[-1500:]}")
        time.sleep(0.05)
    port = port_file.read_text().strip()
    (d / "pid").write_text(f"{proc.pid}\n")
    print(f"{board.name}: link application for {fm.name} running as a virtual board on {port} (pid {proc.pid})\n"
          f"  read it:  tinycodec decode --port {port} --out {fm.name}.csv\n"
          f"  stop it:  kill {proc.pid}", flush=True)
    return 0


def _check_port(port: str, board: Board, how: str) -> None:
    if not os.path.exists(port):
        raise RuntimeError(f"serial port {port} does not exist: is a {board.name} attached? ({how})")


def _flash_mspdebug(fm: FixedModel, board: Board, port: str | None, driver: str | None) -> int:
    from ..pipeline import build
    tool = shutil.which("mspdebug")
    if tool is None:
        raise FileNotFoundError("mspdebug is not installed (make setup installs it: apt-get install mspdebug)")
    drv = driver or board.flasher_driver  # any mspdebug driver; mspdebug names the ones it has
    if port:
        _check_port(port, board, "pass the programmer's tty with PORT= / --port, or none for USB drivers")
    built = build(fm, board)
    cmd = [tool, *board.flasher_args, drv]
    if port:
        cmd += ["-d", port]
    cmd += [f"prog {built.artifact}"]
    print("$ " + " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=FLASH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"mspdebug ({drv}) did not finish in {FLASH_TIMEOUT_S} s: is a {board.name} "
                           f"attached{' at ' + port if port else ''}?") from None
    if p.returncode != 0:
        said = [ln for ln in (p.stdout + p.stderr).strip().splitlines() if ln.strip() and not ln.startswith(_BANNER)]
        hint = (f" (this mspdebug has no {drv!r} driver; `mspdebug --help` lists the ones it has)"
                if any(ln.startswith("Unknown driver") for ln in said) else "")
        raise RuntimeError(f"flashing {board.name} with mspdebug driver {drv!r} failed (no board attached, "
                           f"wrong driver or port?){hint}. mspdebug said:\n" + "\n".join(said[-6:]))
    print(p.stdout[-2000:])
    return 0


def kflash_command(board: Board, image, port: str | None = None, baud: int | None = None,
                   isp_board: str | None = None) -> list[str]:
    """The kflash command line for `image` (a raw BIN) on `board`, defaults from [flasher]."""
    fl = board.raw.get("flasher", {})
    port = port or fl.get("port", "/dev/ttyUSB0")
    baud = int(baud or fl.get("baud", 115200))
    isp_board = isp_board or board.flasher_driver or "dan"
    if isp_board not in KFLASH_BOARDS:
        raise ValueError(f"unknown kflash dev board {isp_board!r}; choose one of {', '.join(KFLASH_BOARDS)} "
                         f"(BOARD= for make, --board for tinycodec)")
    return [sys.executable, str(KFLASH_WRAPPER), "-p", port, "-b", str(baud), "-B", isp_board, "-n",
            *board.flasher_args, str(image)]


def _flash_kflash(fm: FixedModel, board: Board, port: str | None, baud: int | None, isp_board: str | None) -> int:
    from ..pipeline import build
    if importlib.util.find_spec("kflash") is None:
        raise FileNotFoundError(f"kflash is not installed in {sys.executable} "
                                f"(pip install kflash==1.1.6; make setup installs requirements.txt)")
    built = build(fm, board)
    if built.image is None:
        raise RuntimeError(f"{board.name}: the build made no raw BIN for kflash")
    cmd = kflash_command(board, built.image, port, baud, isp_board)
    port = cmd[cmd.index("-p") + 1]
    _check_port(port, board, "plug in its USB-serial port and pass it with PORT=/dev/ttyUSBn / --port")
    print("$ " + " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=KFLASH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"kflash did not finish in {KFLASH_TIMEOUT_S} s on {port}: is a {board.name} "
                           f"attached there?") from None
    out = (p.stdout + p.stderr).replace("\r", "\n")
    lines = [ln.strip() for ln in out.splitlines() if ln.strip() and "|" not in ln]  # no progress bars
    if p.returncode != 0:
        raise RuntimeError(f"flashing {board.name} with kflash on {port} failed (no board in ISP mode there, "
                           f"wrong port or -B board?). kflash said:\n" + "\n".join(lines[-6:]))
    print("\n".join(lines[-8:]))
    print(f"{board.name}: wrote {built.image} ({built.image.stat().st_size} B) through {port}", flush=True)
    return 0
