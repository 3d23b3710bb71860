"""Flash a real board. Needs the board plugged in; without one it fails within seconds, clearly."""
from __future__ import annotations

import shutil
import subprocess

from ..quant.fixed_point import FixedModel
from .boards import Board

FLASH_TIMEOUT_S = 20


def flash(fm: FixedModel, board: Board, port: str | None = None, driver: str | None = None) -> int:
    from ..pipeline import build
    if board.flasher_tool != "mspdebug":
        raise ValueError(f"{board.name}: flasher {board.flasher_tool!r} is not supported here "
                         f"(this build knows mspdebug)")
    tool = shutil.which("mspdebug")
    if tool is None:
        raise FileNotFoundError("mspdebug is not installed (make setup installs it: apt-get install mspdebug)")
    built = build(fm, board)
    drv = driver or board.flasher_driver
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
        tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-6:])
        raise RuntimeError(f"flashing {board.name} with mspdebug driver {drv!r} failed (no board attached, "
                           f"wrong driver or port?). mspdebug said:\n{tail}")
    print(p.stdout[-2000:])
    return 0
