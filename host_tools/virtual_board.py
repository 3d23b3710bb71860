"""Virtual boards: a firmware process behind a pseudo-terminal, appearing as a serial port.

The native firmware talks through its stdin/stdout; here those are the *master* side of
a pty, and the slave side (/dev/pts/N) is what the host decoder, the HIL bench or a user
opens, exactly as it would open /dev/ttyUSB0. The slave is put in raw mode (no echo, no
CR/LF translation, 0x00 passes) and this object keeps its own descriptor to it open, so
the firmware never sees a hang-up between two host connections.

    python -m host_tools.virtual_board build/app/native/bin/tc_app   # prints the port, runs until ^C
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path


class VirtualBoardError(RuntimeError):
    pass


class VirtualBoard:
    def __init__(self, exe: Path | list[str], env: dict | None = None):
        cmd = [str(exe)] if isinstance(exe, (str, Path)) else [str(c) for c in exe]
        if not Path(cmd[0]).is_file():
            raise VirtualBoardError(f"virtual board firmware {cmd[0]} does not exist (build it first)")
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave, termios.TCSANOW)
        self.port = os.ttyname(self._slave)
        self.proc = subprocess.Popen(cmd, stdin=self._master, stdout=self._master, stderr=subprocess.PIPE,
                                     close_fds=True, env={**os.environ, **(env or {})})
        os.close(self._master)  # the child holds it now

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 5.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        return self.proc.returncode

    def stderr_tail(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")[-2000:]

    def __enter__(self) -> "VirtualBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("exe", nargs="+", help="firmware executable (and its arguments)")
    ap.add_argument("--port-file", type=Path, help="also write the port path here")
    args = ap.parse_args(argv)
    try:
        vb = VirtualBoard(args.exe)
    except VirtualBoardError as e:
        print(f"virtual board: {e}", file=sys.stderr)
        return 2
    print(vb.port, flush=True)
    if args.port_file:
        args.port_file.write_text(vb.port + "\n")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop and vb.alive():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    rc = vb.close()
    return 0 if rc in (0, None, -signal.SIGTERM) else 1


if __name__ == "__main__":
    sys.exit(main())
