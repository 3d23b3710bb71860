"""A board under test (DUT): start or open it, wait until it identifies, talk to it.

Kinds (the HIL bench's --dut):

    native  the link application built for the host (toolchain/link/app.py), behind a pty
            (host_tools/virtual_board.py); `exe` runs another program in its place
    qemu    the application on a QEMU board (RISC-V or Cortex-M, --dut-board) with its UART on a
            pty (the family driver's start_link); needs the app to build for that board
    serial  a real board on a serial port. Flash it beforehand:
            make flash TARGET=<board> MODEL=<model> PORT=<port>

Three ways a DUT can fail before any test runs, kept apart so a report says which:
DutFlashError (the firmware could not be built, flashed or started, or died), DutNoAnswer
(it runs but never identified itself) and DutUnavailable (this kind of DUT cannot be had here).
"""
from __future__ import annotations

import dataclasses
import shlex
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.link.frames import Frame, MsgType

from .decoder import CONFIG_CODEC, CodecSession, HostDecoder, is_dynamic, load_codec_model, parse_identify
from .link_client import LinkClient, LinkTimeout

KINDS = ("native", "qemu", "serial")
IDENTIFY_TRY_S = 1.0  # wait this long for an answer to one "identify" before sending another


class DutError(RuntimeError):
    """The DUT could not be brought up; `outcome` is how the HIL summary names it."""

    outcome = "DUT ERROR"


class DutFlashError(DutError):
    """Building, flashing or starting the firmware failed, or it exited."""

    outcome = "DUT FLASH FAILED"


class DutNoAnswer(DutError):
    """The firmware runs but did not identify itself in time."""

    outcome = "DUT NO ANSWER"


class DutUnavailable(DutError):
    """This kind of DUT cannot be had here (no toolchain support, no port given or openable)."""

    outcome = "DUT UNAVAILABLE"


@dataclass
class DutConfig:
    kind: str = "native"
    model: str = "gsb-temporal"
    port: str | None = None  # serial: the board's port
    baud: int = 115200
    timeout: float = 10.0  # seconds to wait for IDENTIFY
    exe: str | None = None  # native: this command line instead of the built app
    board: str = "riscv-qemu"  # qemu: the board definition (targets/<board>)
    capture: Path | None = None  # write every byte received here
    models_dir: Path | None = None  # <models_dir>/<model> if that folder exists (ecg-dynamic: its codec folder)


@dataclass(frozen=True)
class BoardStats:
    """The board's counters ("stats") and what the host decoded over the same stretch of stream.

    frames_sent/messages_sent/windows/frames_bad: the board's counts; host_frames/host_messages:
    the frames and messages the host decoded. Dut.stats() gives them since the host connected
    (the board counts from boot, and pyserial drops what was sent before the port opened): board
    counts up to its reply, host counts up to that reply's frame. On a clean link they match."""

    frames_sent: int
    messages_sent: int
    windows: int
    frames_bad: int
    host_frames: int
    host_messages: int

    def minus(self, base: "BoardStats") -> "BoardStats":
        return BoardStats(*(a - b for a, b in zip(self.astuple(), base.astuple())))

    def astuple(self) -> tuple[int, ...]:
        return (self.frames_sent, self.messages_sent, self.windows, self.frames_bad, self.host_frames,
                self.host_messages)


class _TrackingDecoder(HostDecoder):
    """A HostDecoder that also notes, for every non-report message, how many frames and messages
    the host had decoded before it (to compare with the board's own counters)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.frames_seen = 0
        self.marks: list[tuple[int, int]] = []  # parallel to self.messages

    def _frame(self, f: Frame) -> int:
        self.frames_seen += 1
        done = super()._frame(f)
        while len(self.marks) < len(self.messages):
            self.marks.append((self.frames_seen - f.frag_count, self.reasm.stats.messages_ok - 1))
        return done


def _parse_counters(text: str, where: str) -> dict[str, int]:
    out = {}
    for tok in text.split():
        k, sep, v = tok.partition("=")
        if not sep or not v.isdigit():
            raise ValueError(f"{where}: stats reply {text!r}: token {tok!r} is not name=number")
        out[k] = int(v)
    for k in ("frames_sent", "messages_sent", "windows", "frames_bad"):
        if k not in out:
            raise ValueError(f"{where}: stats reply {text!r} lacks {k}")
    return out


class Dut:
    """A started board that has identified itself. Use start_dut() to make one."""

    def __init__(self, cfg: DutConfig, port: str, fm, client: LinkClient, closer: Callable[[], None],
                 alive: Callable[[], int | None], spec_eps: int | None):
        self.cfg, self.port, self.fm, self.client = cfg, port, fm, client
        self._closer, self._alive = closer, alive
        self.spec_eps = spec_eps
        self.identity: dict[str, str] = {}
        self._next_sample = 0
        self._closed = False
        self.connected_at = BoardStats(0, 0, 0, 0, 0, 0)  # stats_total() once identified

    # --- what it is --------------------------------------------------------------------------------
    @property
    def decoder(self) -> HostDecoder:
        return self.client.dec

    @property
    def kind(self) -> str:
        return self.cfg.kind

    def describe(self) -> str:
        fw = self.identity.get("fw", "?")
        board = self.identity.get("board", "?")
        return f"{self.cfg.kind} board {board} on {self.port} (model {self.cfg.model}, fw {fw})"

    # --- talking to it -----------------------------------------------------------------------------
    def send(self, mtype: int, payload: bytes) -> int:
        """Send one message (fragmented to the board's frame size); returns its seq."""
        return self.client.send(mtype, payload)

    def command(self, text: str, timeout: float = 10.0) -> int:
        """A COMMAND the board must ACK with status 0; returns its seq."""
        seq = self.client.send(MsgType.COMMAND, text.encode())
        status = self.client.expect_ack(seq, timeout)
        if status != 0:
            raise AssertionError(f"{self.describe()}: command {text!r} (seq {seq}) acknowledged with status {status}")
        return seq

    def configure(self, eps: int | None = None, latent_bits: int | None = None, mean_shift: int = 0,
                  per_report: int = 1, mode: int = 0, max_batch: int = 4096, max_age_ms: int = 360_000,
                  timeout: float = 10.0) -> CodecSession:
        """Set the codec session (eps defaults to the model's first spec eps, else the board's); waits
        for the board's echo. ValueError (before sending) for a session the ECG app is built to refuse."""
        from toolchain.link.app import check_session_fits

        check_session_fits(self.fm, per_report, max_batch)
        if eps is None:
            eps = self.spec_eps if self.spec_eps is not None else self.decoder.codec.eps
        bits = latent_bits if latent_bits is not None else self.fm.latent_bits
        cs = CodecSession(eps=int(eps), latent_bits=int(bits), mean_shift=mean_shift, per_report=per_report,
                          mode=mode, max_batch=max_batch, max_age_ms=max_age_ms)
        self.client.configure(cs, timeout)
        packed = cs.pack()
        self.client.expect(MsgType.CONFIG, timeout, lambda s, p: p[:13] == packed)
        return cs

    def replay(self, samples: np.ndarray, start: int | None = None) -> int:
        """Send int16 samples as SAMPLES messages, continuing the previous replay's sample index
        unless `start` is given. Returns the messages sent."""
        x = np.asarray(samples).ravel()
        first = self._next_sample if start is None else int(start)
        n = self.client.replay(x, start=first)
        self._next_sample = first + len(x)
        return n

    def send_samples(self, samples: np.ndarray) -> int:
        """One SAMPLES message continuing the sample index, without reading the board's answer (the
        board reassembles messages of up to 1024 B: 510 samples). Returns its seq."""
        x = np.asarray(samples).ravel()
        seq = self.client.send(MsgType.SAMPLES, struct.pack("<I", self._next_sample) + x.astype("<i2").tobytes())
        self._next_sample += len(x)
        return seq

    def expect(self, mtype: int, timeout: float = 10.0,
               match: Callable[[int, bytes], bool] | None = None) -> tuple[int, bytes]:
        """The next (seq, payload) of this message type (LinkTimeout if none comes)."""
        return self.client.expect(mtype, timeout, match)

    def poll(self, timeout: float) -> int:
        """Read and decode what the board sends within `timeout` s."""
        return self.client.poll(timeout)

    def wait_windows(self, n: int, timeout: float = 30.0) -> None:
        self.client.wait_windows(n, timeout)

    def stats(self, timeout: float = 10.0) -> BoardStats:
        """The board's counters ("stats") and the host's, both since the host connected."""
        return self.stats_total(timeout).minus(self.connected_at)

    def stats_total(self, timeout: float = 10.0) -> BoardStats:
        """The board's counters since it booted, and the host's since the port opened."""
        seq = self.client.send(MsgType.COMMAND, b"stats")
        self.client.expect_ack(seq, timeout)
        dec = self.decoder
        want = bytes((seq & 0xFF, seq >> 8))
        idx = max(i for i, (t, _, p) in enumerate(dec.messages) if t == MsgType.ACK and p[:2] == want)
        host_frames, host_messages = dec.marks[idx] if isinstance(dec, _TrackingDecoder) else (-1, -1)
        _, p = self.client.expect(MsgType.LOG, timeout, lambda s, p: p.startswith(b"frames_sent="))
        c = _parse_counters(p.decode("ascii", errors="replace"), self.describe())
        return BoardStats(c["frames_sent"], c["messages_sent"], c["windows"], c["frames_bad"],
                          host_frames, host_messages)

    def reconnect(self, pause_s: float = 0.5) -> None:
        """Close the host's serial port, wait, reopen it (a cable pulled and plugged back). The board
        keeps running; what it sent meanwhile is dropped when the port reopens (pyserial flushes)."""
        import serial

        self.client.ser.close()
        time.sleep(pause_s)
        try:
            self.client.ser = serial.Serial(self.port, self.cfg.baud, timeout=0)
        except (serial.SerialException, OSError) as e:
            raise DutUnavailable(f"{self.describe()}: reopening {self.port} failed: {e}") from None

    def alive(self) -> bool:
        return self._alive() is None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.client.close()
        finally:
            self._closer()

    def __enter__(self) -> "Dut":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- bringing one up ----------------------------------------------------------------------------------

def _spec_eps(model: str) -> int | None:
    try:
        from toolchain.train.datasets import load_specs
        return int(load_specs()[model].eps[0])
    except (KeyError, IndexError, TypeError, ValueError, FileNotFoundError):
        return None


def build_native(model: str, models_dir: Path | None = None) -> Path:
    """The native link application for `model` (DutFlashError naming the cause if it cannot be built)."""
    from toolchain.link.app import build_app

    try:
        return build_app(model, "native", models_dir=models_dir).exe
    except Exception as e:  # noqa: BLE001 - any build failure is a flash failure of this DUT
        raise DutFlashError(f"building the link application for model {model!r} (native) failed: "
                            f"{type(e).__name__}: {e}") from None


def _start_native(cfg: DutConfig, builds: dict | None):
    from .virtual_board import VirtualBoard, VirtualBoardError

    if cfg.exe:
        cmd = shlex.split(cfg.exe)
        if not cmd:
            raise DutFlashError("--dut-exe is empty")
    else:
        key = ("native", cfg.model, str(cfg.models_dir or ""))
        got = builds.get(key) if builds is not None else None
        if got is None:
            try:
                got = build_native(cfg.model, cfg.models_dir)
            except DutFlashError as e:
                got = e
            if builds is not None:
                builds[key] = got
        if isinstance(got, DutFlashError):
            raise DutFlashError(str(got))
        cmd = [str(got)]
    try:
        vb = VirtualBoard(cmd)
    except (VirtualBoardError, OSError) as e:
        raise DutFlashError(f"starting the virtual board {' '.join(cmd)}: {e}") from None

    def died() -> str:
        return f"exit code {vb.proc.returncode}; stderr: {vb.stderr_tail().strip() or '(empty)'}"

    return vb.port, vb.close, vb.proc.poll, died


def _start_qemu(cfg: DutConfig):
    from toolchain.boards import load_board
    from toolchain.families.common import Unsupported
    from toolchain.link.app import build_app

    try:
        board = load_board(cfg.board)
    except Exception as e:  # noqa: BLE001
        raise DutUnavailable(f"--dut qemu: board {cfg.board!r} cannot be loaded: {e}") from None
    if not board.simulate or not getattr(board.cfg, "qemu", None):
        raise DutUnavailable(f"--dut qemu: board {board.name} has no QEMU machine ([{board.arch}] qemu in its "
                             f"board.toml)" + (f"; its twin is {board.twin}" if board.twin else ""))
    try:
        app = build_app(cfg.model, board.name, models_dir=cfg.models_dir)
    except Exception as e:  # noqa: BLE001
        raise DutUnavailable(f"--dut qemu: the link application cannot be built for {board.name}: "
                             f"{type(e).__name__}: {e}") from None
    try:
        q = board.family.start_link(board, app.exe)
    except Unsupported as e:
        raise DutUnavailable(f"--dut qemu: {e}") from None
    except Exception as e:  # noqa: BLE001 - QemuError and OSErrors alike: the start failed
        raise DutFlashError(f"--dut qemu: starting {app.exe} on {board.name}: {e}") from None
    return q.port, q.close, q.proc.poll, lambda: f"QEMU exit code {q.proc.returncode}"


def start_dut(cfg: DutConfig, builds: dict | None = None) -> Dut:
    """Build/start (native, qemu) or open (serial) a board, wait for its IDENTIFY and codec session.

    `builds` caches native builds between calls (model -> executable or the build's error)."""
    if cfg.models_dir is not None and not (Path(cfg.models_dir) / cfg.model).is_dir():
        cfg = dataclasses.replace(cfg, models_dir=None)  # "first": a model not in models_dir is the default one
    if cfg.kind not in KINDS:
        raise DutUnavailable(f"unknown DUT kind {cfg.kind!r}; choose one of {', '.join(KINDS)}")
    try:
        fm = load_codec_model(cfg.model, cfg.models_dir)
    except Exception as e:  # noqa: BLE001
        raise DutFlashError(f"model {cfg.model!r}: {type(e).__name__}: {e}") from None

    if cfg.kind == "native":
        port, closer, poll, died = _start_native(cfg, builds)
    elif cfg.kind == "qemu":
        port, closer, poll, died = _start_qemu(cfg)
    else:
        if not cfg.port:
            raise DutUnavailable("--dut serial needs --port (the board, flashed beforehand with `make flash`)")
        port, closer, poll, died = cfg.port, (lambda: None), (lambda: None), (lambda: "")

    try:
        client = LinkClient(port, cfg.baud, decoder=_TrackingDecoder(model=fm),
                            capture=str(cfg.capture) if cfg.capture else None)
    except Exception as e:  # noqa: BLE001 - serial.SerialException, OSError
        try:
            _check_exited(cfg, port, poll, died)  # a pty vanishes with its firmware
        finally:
            closer()
        raise DutUnavailable(f"cannot open {port} at {cfg.baud} baud: {e}") from None
    dut = Dut(cfg, port, fm, client, closer, poll, _spec_eps(cfg.model))
    try:
        _wait_identify(dut, died)
    except BaseException:
        dut.close()
        raise
    return dut


def _check_exited(cfg: DutConfig, port: str, alive: Callable[[], int | None], died: Callable[[], str]) -> None:
    """DutFlashError if the firmware process has exited (waiting a moment: an exiting process closes
    its pty before it can be reaped)."""
    end = time.monotonic() + 1.0
    while alive() is None and time.monotonic() < end:
        if cfg.kind == "serial":
            return  # no process of ours behind a serial port
        time.sleep(0.02)
    if alive() is not None:
        raise DutFlashError(f"{cfg.kind} firmware on {port} exited before identifying ({died()})")


def _port_failed(dut: Dut, died: Callable[[], str], e: Exception) -> None:
    """The port failed while waiting for IDENTIFY: the firmware exited (its pty hangs up), or the
    port itself went away."""
    _check_exited(dut.cfg, dut.port, dut._alive, died)
    raise DutUnavailable(f"{dut.cfg.kind} board on {dut.port}: the port failed before IDENTIFY: {e}") from None


def _wait_identify(dut: Dut, died: Callable[[], str]) -> None:
    """Send "identify" until the board answers with IDENTIFY, its session and its codec CONFIG.
    pyserial drops pending input when a port opens, so a board's start-up messages are never
    relied on: it is always asked."""
    cfg, c = dut.cfg, dut.client
    deadline = time.monotonic() + cfg.timeout
    tries = 0
    while True:
        if dut._alive() is not None:
            _check_exited(cfg, dut.port, dut._alive, died)
        left = deadline - time.monotonic()
        if left <= 0:
            raise DutNoAnswer(f"{cfg.kind} board on {dut.port}: no IDENTIFY within {cfg.timeout:g} s after "
                              f"{tries} 'identify' command(s) ({c.bytes_in} bytes received: {c.dec.summary()})")
        try:
            c.send(MsgType.COMMAND, b"identify")
            tries += 1
            _, p = c.expect(MsgType.IDENTIFY, min(IDENTIFY_TRY_S, left))
            break
        except LinkTimeout:
            continue
        except Exception as e:  # noqa: BLE001 - serial.SerialException, OSError: the port hung up
            _port_failed(dut, died, e)
    dut.identity = parse_identify(p)
    try:
        c.expect(MsgType.CONFIG, max(2.0, deadline - time.monotonic()), lambda s, q: q[:1] == bytes([CONFIG_CODEC]))
    except LinkTimeout:
        raise DutNoAnswer(f"{cfg.kind} board on {dut.port} identified ({p!r}) but did not announce its codec "
                          f"session (CONFIG 0x01) ({c.dec.summary()})") from None
    got = dut.identity.get("model")
    if got != cfg.model:
        raise DutFlashError(f"{cfg.kind} board on {dut.port} runs model {got!r}, not {cfg.model!r}: flash it with "
                            f"`make flash MODEL={cfg.model}` (identity {p!r})")
    c.poll(0.05)  # answers to repeated "identify"s, if any, are read now, not by a test's first expect
    try:
        dut.connected_at = dut.stats_total(max(2.0, deadline - time.monotonic()))
    except (LinkTimeout, ValueError) as e:
        raise DutNoAnswer(f"{cfg.kind} board on {dut.port} identified ({p!r}) but did not answer "
                          f"'stats': {e}") from None
    c._consumed = len(c.dec.messages)  # noqa: SLF001 - tests start expecting from here


def window_bits(dut: Dut, X: np.ndarray, cs: CodecSession) -> list[tuple[bytes, int]]:
    """What the board must send, window by window, with the session's parameters: ae_codec.encode
    (error-bounded codec) or ecg_dynamic.reference.encode (the ECG dynamic codec's C twin)."""
    if is_dynamic(dut.fm):
        from toolchain.codecs.ecg_dynamic import reference
        return [(d, n) for d, n, _, _ in reference.encode(dut.fm, np.asarray(X), cs.eps, cs.latent_bits)]
    from toolchain.codecs import ae_codec

    return ae_codec.encode(dut.fm, np.asarray(X), cs.eps, cs.latent_bits, cs.mean_shift)
