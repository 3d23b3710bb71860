"""Flash a real board. Needs the board plugged in; without one it fails within seconds, clearly.

Orchestration only: build what the board's family flashes (the codec image, or the link
application for the host's virtual board) and hand it to the family driver, which knows the
flasher named in [flasher] of targets/<board>/board.toml:
- mspdebug (MSP430): `driver` is mspdebug's driver (rf2500 for the G2 LaunchPad, tilib or
  ezfet for eZ-FET LaunchPads, uif for a FET430UIF); the ELF is programmed.
- kflash (K210): `driver` is kflash's -B dev-board name (the DTR/RTS reset sequence), `port`
  and `baud` its serial port and speed; the raw BIN is written to SPI flash.
- pyocd / openocd (Cortex-M boards) through the probe's USB.
- native: the link application starts behind a pseudo-terminal, as a plugged-in board appears.

The ECG dynamic codec (a DynamicModel) flashes the same way: the link application where the family
flashes that, else its serve image (toolchain/codecs/ecg_dynamic/device.build_on_board), which
refuses with the numbers a board it does not fit (FitError).
"""
from __future__ import annotations

import os

from .boards import Board
from .families.common import BuildResult
from .codecs.ecg_dynamic.deployed import DynamicModel
from .quant.fixed_point import FixedModel


def _check_port(port: str, board: Board, how: str) -> None:
    if not os.path.exists(port):
        raise RuntimeError(f"serial port {port} does not exist: is a {board.name} attached? ({how})")


def flash(fm: "FixedModel | DynamicModel", board: Board, port: str | None = None, driver: str | None = None,
          baud: int | None = None, isp_board: str | None = None, models_dir=None) -> int:
    """Build the model's firmware for `board` and write it with the board's flasher.
    `driver`: mspdebug's driver; `isp_board`/`baud`: kflash's -B and -b (defaults: board.toml).
    Raises RuntimeError (no board, wrong port/driver: the tool's own words) or FileNotFoundError."""
    fam = board.family
    if fam.flash_image == "app":
        from .link.app import build_app
        app = build_app(fm.name, board.name, models_dir=models_dir)
        print(f"{board.name}: link application for {fm.name}", flush=True)
        return fam.flash(board, BuildResult(app.exe, board.name, None, None, None))
    if port and board.flasher_tool == "mspdebug":
        _check_port(port, board, "pass the programmer's tty with PORT= / --port, or none for USB drivers")
    if isinstance(fm, DynamicModel):
        from .codecs.ecg_dynamic.device import build_on_board
        result = build_on_board(fm, board.name).result
        return fam.flash(board, result, port=port, driver=driver, baud=baud, isp_board=isp_board)
    from .pipeline import build
    built = build(fm, board)
    return fam.flash(board, built.result, port=port, driver=driver, baud=baud, isp_board=isp_board)
