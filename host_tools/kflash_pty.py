"""Run kflash (PyPI kflash==1.1.6) with one change: it also works on a pseudo-terminal.

Usage is kflash's own: `python host_tools/kflash_pty.py -p PORT -b BAUD -B BOARD -n image.bin`.

Why: kflash resets a K210 into its ISP mode by toggling the serial port's DTR and RTS lines
(reset_to_isp_dan and friends call pyserial's setDTR/setRTS). A pseudo-terminal has no modem
lines, so the TIOCMBIS/TIOCMBIC ioctls behind those calls fail with ENOTTY (EINVAL on some
kernels), and kflash gives up before its greeting. Emulated boards (the fake ISP peer in
host_tools/testing/fake_k210_isp.py, a QEMU UART from toolchain.families.qemu.start_qemu_pty) are reached through
ptys, and they need no reset line. So this wrapper replaces pyserial's Serial._update_dtr_state
and _update_rts_state with versions that ignore exactly that error, and only when the port
is a pty (a Unix98 pty slave, device major 136..143); on a real USB-serial port every error
still propagates. kflash's installed files are not touched; it is imported and its main()
runs with this process's arguments.
"""
from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

PTY_SLAVE_MAJORS = range(136, 144)  # Linux Documentation/admin-guide/devices.txt: Unix98 pty slaves


def is_pty(fd: int) -> bool:
    """True when `fd` is a pseudo-terminal slave."""
    try:
        return os.major(os.fstat(fd).st_rdev) in PTY_SLAVE_MAJORS
    except OSError:
        return False


def _tolerant(update: Callable[[object], None]) -> Callable[[object], None]:
    def update_modem_line(self) -> None:
        try:
            update(self)
        except OSError as e:
            fd = getattr(self, "fd", None)
            if e.errno in (errno.ENOTTY, errno.EINVAL) and fd is not None and is_pty(fd):
                return  # no DTR/RTS on a pty: nothing to reset, as intended
            raise
    update_modem_line.__name__ = update.__name__
    update_modem_line.__doc__ = f"{update.__doc__ or ''} (ignores ENOTTY/EINVAL on a pty: host_tools/kflash_pty.py)"
    return update_modem_line


def patch_pyserial() -> None:
    """Make pyserial's DTR/RTS updates a no-op on ptys (idempotent)."""
    from serial import serialposix
    cls = serialposix.Serial
    if getattr(cls, "_tc_pty_tolerant", False):
        return
    cls._update_dtr_state = _tolerant(cls._update_dtr_state)
    cls._update_rts_state = _tolerant(cls._update_rts_state)
    cls._tc_pty_tolerant = True


def main(argv: list[str] | None = None) -> None:
    """kflash's command line, with pyserial patched for ptys."""
    try:
        import kflash
    except ImportError:
        sys.exit("kflash is not installed in this Python: pip install kflash==1.1.6 (make setup does)")
    patch_pyserial()
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    kflash.main()


if __name__ == "__main__":
    main()
