"""Link fault injection: damage a board's captured byte stream and measure what the host decoder makes of it.

Injections (each returns the damaged bytes and which bytes of the clean stream it touched):
bit_errors (independent bit flips at a BER), drop_bytes, duplicate_bytes, cut (the stream ends
early), gap (a stretch missing, as when a cable is out). analyse() decodes the clean and the
damaged stream and checks the decoder's promises: every frame whose bytes (and the delimiters
around them) are untouched is decoded, no damaged frame is accepted, every message it delivers
equals the clean one of the same seq, and what was lost is named by message seq and window
number. live_disconnect() does the same on a running board whose serial port is closed and
reopened in the middle of a replay.

    python -m host_tools.testing.faults [--out results/link_faults.csv]    (make bench-link)
"""
from __future__ import annotations

import argparse
import csv
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from toolchain.link.frames import frame_bytes

from host_tools.capture import frame_spans, frames_of, messages_of
from host_tools.decoder import HostDecoder

DECODE_LIMIT_S = 30.0  # a decode of a capture that takes longer than this counts as a hang
FLUSH_S = 30.0  # the board ACKs a flush after every sample before it (slow UARTs take their time)


@dataclass(frozen=True)
class Injected:
    data: bytes  # the damaged stream
    touched: np.ndarray  # bool per byte of the clean stream: changed, dropped, doubled, or cut off
    events: int  # bit flips / bytes dropped / bytes doubled / 1 for a cut or gap


def _bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.uint8)


def bit_errors(data: bytes, ber: float, rng: np.random.Generator) -> Injected:
    """Flip every bit independently with probability `ber`."""
    if not 0 <= ber <= 1:
        raise ValueError(f"bit_errors: BER {ber} is not a probability")
    a = _bytes(data).copy()
    nbits = a.size * 8
    k = int(rng.binomial(nbits, ber)) if nbits else 0
    pos = rng.choice(nbits, size=k, replace=False) if k else np.zeros(0, np.int64)
    np.bitwise_xor.at(a, pos // 8, (1 << (pos % 8)).astype(np.uint8))
    touched = np.zeros(a.size, bool)
    touched[pos // 8] = True
    return Injected(a.tobytes(), touched, k)


def drop_bytes(data: bytes, p: float, rng: np.random.Generator) -> Injected:
    """Lose every byte independently with probability `p` (an overrun UART)."""
    a = _bytes(data)
    drop = rng.random(a.size) < p
    return Injected(a[~drop].tobytes(), drop, int(drop.sum()))


def duplicate_bytes(data: bytes, p: float, rng: np.random.Generator) -> Injected:
    """Receive every byte twice with probability `p`."""
    a = _bytes(data)
    dup = rng.random(a.size) < p
    return Injected(np.repeat(a, np.where(dup, 2, 1)).tobytes(), dup, int(dup.sum()))


def cut(data: bytes, at: int) -> Injected:
    """The stream ends after `at` bytes."""
    a = _bytes(data)
    touched = np.zeros(a.size, bool)
    touched[at:] = True
    return Injected(a[:at].tobytes(), touched, 1)


def gap(data: bytes, start: int, stop: int) -> Injected:
    """Bytes start..stop-1 never arrive (a disconnection)."""
    a = _bytes(data)
    touched = np.zeros(a.size, bool)
    touched[start:stop] = True
    return Injected(np.concatenate([a[:start], a[stop:]]).tobytes(), touched, 1)


def after(protect: int, inject: Callable[[bytes], Injected]) -> Callable[[bytes], Injected]:
    """Apply `inject` to the stream past its first `protect` bytes only (the handshake stays clean)."""
    def run(data: bytes) -> Injected:
        inj = inject(data[protect:])
        return Injected(data[:protect] + inj.data, np.concatenate([np.zeros(protect, bool), inj.touched]), inj.events)
    return run


@contextmanager
def time_limit(seconds: float, what: str):
    """TimeoutError if the block runs longer than `seconds` (SIGALRM: main thread only, POSIX)."""
    def alarm(*_):
        raise TimeoutError(f"{what} did not finish within {seconds:g} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def ranges(nums: list[int]) -> str:
    """[3,4,5,9] -> "3-5 9"."""
    out, run = [], []
    for n in sorted(set(nums)):
        if run and n == run[-1] + 1:
            run.append(n)
        else:
            if run:
                out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = [n]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return " ".join(out)


@dataclass
class FaultFigures:
    scenario: str
    events: int  # bit flips, bytes dropped/doubled, disconnections
    stream_bytes: int
    frames_sent: int
    frames_touched: int
    frames_kept: int  # frames the decoder accepted
    frames_lost: int
    crc_errors: int
    cobs_errors: int
    resyncs: int
    messages_sent: int
    messages_kept: int
    messages_lost: int  # reported lost by seq
    messages_lost_unseen: int  # lost at the very end: no later message tells the decoder
    lost_seqs: str
    windows_sent: int
    windows_kept: int
    windows_lost: int  # reported lost by number
    windows_lost_unseen: int
    lost_windows: str
    # the decoder's promises; all must be 0 (-1: cannot be checked in this scenario)
    untouched_frames_missing: int
    corrupted_frames_accepted: int
    messages_differing: int
    windows_differing: int
    misreported: int  # lost seqs/windows reported that were not lost, or lost ones not reported
    decode_ms: float  # decoding the damaged stream (live: from the disconnect to the stats reply)

    def violations(self) -> list[str]:
        return [f"{k}={getattr(self, k)}" for k in ("untouched_frames_missing", "corrupted_frames_accepted",
                                                   "messages_differing", "windows_differing", "misreported")
                if getattr(self, k) > 0]


def _decode(stream: bytes, fm, like: HostDecoder | None = None) -> HostDecoder:
    dec = HostDecoder(model=fm)
    if like is not None:  # a host that already holds the session (from an earlier connection)
        dec.session, dec.codec = like.session, like.codec
    dec.feed(stream)
    dec.finish()
    return dec


def analyse(name: str, clean: bytes, inj: Injected, fm) -> FaultFigures:
    """Decode the clean and the damaged stream and compare, frame by frame and message by message."""
    spans = frame_spans(clean)
    ref = _decode(clean, fm)
    t0 = time.perf_counter()
    with time_limit(DECODE_LIMIT_S, f"decoding the {name} stream"):
        dec = _decode(inj.data, fm, ref)
        got_frames, sd = frames_of(inj.data)
        got_msgs = messages_of(inj.data)
    ms = (time.perf_counter() - t0) * 1000

    touched = [bool(inj.touched[s.lo:s.hi + 1].any()) for s in spans]
    clean_raw = {s.raw for s in spans}
    got_raw = {frame_bytes(f) for f in got_frames}
    untouched_missing = sum(1 for s, t in zip(spans, touched) if not t and s.raw not in got_raw)
    corrupted = sum(1 for r in got_raw if r not in clean_raw)

    clean_msgs = {m.seq: m for m in messages_of(clean)}
    differing = sum(1 for m in got_msgs if m.seq not in clean_msgs or
                    (clean_msgs[m.seq].type, clean_msgs[m.seq].payload) != (m.type, m.payload))
    kept = {m.seq for m in got_msgs}
    last = max(kept) if kept else -1
    missing = set(clean_msgs) - kept
    reported = set(dec.stats.lost_messages)
    unseen = {s for s in missing if s > last} - reported
    mis_msgs = len(reported - missing) + len(missing - reported - unseen)

    wins = dec.windows
    w_diff = sum(1 for k, w in wins.items() if k not in ref.windows or (w.data, w.nbits) != (
        ref.windows[k].data, ref.windows[k].nbits) or w.values is None
                 or not np.array_equal(w.values, ref.windows[k].values))
    w_missing = set(ref.windows) - set(wins)
    w_reported = set(dec.lost_windows())
    lo, hi = (min(wins), max(wins)) if wins else (0, -1)
    w_unseen = {k for k in w_missing if not lo <= k <= hi}
    mis_wins = len(w_reported - w_missing) + len(w_missing - w_reported - w_unseen)

    st = sd.stats
    return FaultFigures(
        scenario=name, events=inj.events, stream_bytes=len(clean), frames_sent=len(spans),
        frames_touched=sum(touched), frames_kept=st.frames_ok, frames_lost=len(spans) - len(got_raw & clean_raw),
        crc_errors=st.crc_errors, cobs_errors=st.cobs_errors, resyncs=st.resyncs,
        messages_sent=len(clean_msgs), messages_kept=len(kept), messages_lost=len(reported),
        messages_lost_unseen=len(unseen), lost_seqs=ranges(sorted(reported)),
        windows_sent=len(ref.windows), windows_kept=len(wins), windows_lost=len(w_reported),
        windows_lost_unseen=len(w_unseen), lost_windows=ranges(sorted(w_reported)),
        untouched_frames_missing=untouched_missing, corrupted_frames_accepted=corrupted,
        messages_differing=differing, windows_differing=w_diff, misreported=mis_msgs + mis_wins,
        decode_ms=round(ms, 1))


# --- scenarios ----------------------------------------------------------------------------------------

def offline_scenarios(protect: int, seed: int = 2024) -> list[tuple[str, Callable[[bytes], Injected]]]:
    """The damage applied to a capture past its first `protect` bytes (handshake and session)."""
    def rng(k: int) -> np.random.Generator:
        return np.random.default_rng(seed + k)
    return [
        ("clean", after(protect, lambda d: bit_errors(d, 0.0, rng(0)))),
        ("ber 1e-4", after(protect, lambda d: bit_errors(d, 1e-4, rng(1)))),
        ("ber 1e-3", after(protect, lambda d: bit_errors(d, 1e-3, rng(2)))),
        ("drop 1e-3", after(protect, lambda d: drop_bytes(d, 1e-3, rng(3)))),
        ("duplicate 1e-3", after(protect, lambda d: duplicate_bytes(d, 1e-3, rng(4)))),
        ("gap 2 kB", after(protect, lambda d: gap(d, len(d) // 2, len(d) // 2 + 2048))),
        ("cut at 80%", after(protect, lambda d: cut(d, int(len(d) * 0.8)))),
    ]


def gsb_test_windows() -> np.ndarray:
    """Every window of the SensorScope GSB test split, station after station (1080 windows)."""
    from toolchain import data as D

    _, _, test = D.split_chronological(D.load_gsb_temperature())
    X, _ = D.temporal_windows(test, 32)
    return X


def capture_replay(dut, X: np.ndarray, per_report: int = 4) -> tuple[bytes, int]:
    """Replay X through the board, wait for every window; returns (the board's byte stream as
    captured, where its data phase starts: the byte after the session's CONFIG echo)."""
    if dut.client.capture is None:
        raise ValueError(f"{dut.describe()}: start it with a capture file to record its stream")
    dut.configure(per_report=per_report)
    dut.client.capture.flush()
    protect = dut.cfg.capture.stat().st_size
    dut.replay(X)
    dut.command("flush", timeout=FLUSH_S)
    dut.wait_windows(len(X), timeout=60)
    dut.client.capture.flush()
    return dut.cfg.capture.read_bytes(), protect


def live_disconnect(dut, X: np.ndarray, at: float = 0.5, pause_s: float = 0.5,
                    per_report: int = 4) -> FaultFigures:
    """Replay X; at fraction `at` close the host's port right after sending a chunk (the board still
    encoding it), wait `pause_s`, reopen (pyserial drops what queued meanwhile) and go on. The
    board's own counters say what it sent; the decoder must report the rest as lost, by seq and by
    window number, and every window it keeps must be the Python codec's. Frame-level promises
    cannot be checked live (which bytes the flush took is unknown): those columns are -1."""
    from host_tools.dut import window_bits

    k = int(len(X) * at)
    if not 16 <= k <= len(X) - 8:
        raise ValueError(f"live_disconnect: {len(X)} windows, disconnect at window {k}: need 16 before and 8 after")
    cs = dut.configure(per_report=per_report)
    dec = dut.decoder
    dut.replay(X[:k - 8])
    dut.send_samples(X[k - 8:k])  # not read back: the port closes at once
    t0 = time.perf_counter()
    dut.reconnect(pause_s)
    dut.replay(X[k:])
    dut.command("flush", timeout=FLUSH_S)
    st = dut.stats()
    ms = (time.perf_counter() - t0) * 1000
    ref = window_bits(dut, X, cs)
    wins = dec.windows
    w_diff = sum(1 for j, w in wins.items() if not 0 <= j < len(X) or (w.data, w.nbits) != ref[j])
    lost_w = dec.lost_windows()
    lo, hi = (min(wins), max(wins)) if wins else (0, -1)
    unseen_w = [j for j in range(len(X)) if j not in wins and not lo <= j <= hi]
    lost = dec.stats.lost_messages
    s = dec.stream.stats
    unseen_m = st.messages_sent - st.host_messages - len(lost)
    return FaultFigures(
        scenario=f"live disconnect {pause_s:g} s", events=1, stream_bytes=dut.client.bytes_in,
        frames_sent=st.frames_sent, frames_touched=-1, frames_kept=st.host_frames,
        frames_lost=st.frames_sent - st.host_frames, crc_errors=s.crc_errors, cobs_errors=s.cobs_errors,
        resyncs=s.resyncs, messages_sent=st.messages_sent, messages_kept=st.host_messages,
        messages_lost=len(lost), messages_lost_unseen=unseen_m, lost_seqs=ranges(lost),
        windows_sent=st.windows, windows_kept=len(wins), windows_lost=len(lost_w),
        windows_lost_unseen=len(unseen_w), lost_windows=ranges(lost_w),
        untouched_frames_missing=-1, corrupted_frames_accepted=-1, messages_differing=-1,
        windows_differing=w_diff,
        misreported=abs(unseen_m) + abs(st.windows - len(wins) - len(lost_w) - len(unseen_w)),
        decode_ms=round(ms, 1))


COLUMNS = [f.name for f in fields(FaultFigures)]
TABLE = [("scenario", 22), ("events", 6), ("frames_sent", 6), ("frames_touched", 7), ("frames_kept", 6),
         ("frames_lost", 6), ("crc_errors", 5), ("resyncs", 7), ("messages_lost", 9), ("windows_lost", 9),
         ("lost_seqs", 30)]


def format_table(rows: list[FaultFigures]) -> str:
    heads = {"scenario": "scenario", "events": "events", "frames_sent": "frames", "frames_touched": "touched",
             "frames_kept": "kept", "frames_lost": "lost", "crc_errors": "CRC", "resyncs": "resyncs",
             "messages_lost": "msgs lost", "windows_lost": "wins lost", "lost_seqs": "lost seqs"}
    lines = ["  ".join(f"{heads[c]:<{w}}" for c, w in TABLE)]
    for r in rows:
        cells = []
        for c, w in TABLE:
            v = str(getattr(r, c))
            cells.append(f"{(v if len(v) <= w else v[:w - 3] + '...'):<{w}}")
        lines.append("  ".join(cells))
    return "\n".join(lines)


def write_csv(rows: list[FaultFigures], out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow(asdict(r))
    return out


def run_fault_bench(out: Path) -> Path:
    """GSB test split through the native virtual board, captured; every offline scenario on the
    capture, then a live disconnect; figures to `out` (CSV). Raises if a promise is broken."""
    from host_tools.dut import DutConfig, start_dut

    X = gsb_test_windows()
    rows: list[FaultFigures] = []
    with tempfile.TemporaryDirectory() as tmp:
        cap = Path(tmp) / "gsb.bin"
        builds: dict = {}
        with start_dut(DutConfig(model="gsb-temporal", capture=cap), builds) as dut:
            clean, protect = capture_replay(dut, X)
            fm = dut.fm
        for name, inject in offline_scenarios(protect):
            rows.append(analyse(name, clean, inject(clean), fm))
        with start_dut(DutConfig(model="gsb-temporal"), builds) as dut:
            rows.append(live_disconnect(dut, X))
    path = write_csv(rows, out)
    print(format_table(rows))
    print(f"figures of {len(rows)} scenarios ({len(X)} GSB windows, stream of {len(clean)} B) -> {path}")
    bad = [f"{r.scenario}: {', '.join(r.violations())}" for r in rows if r.violations()]
    if bad:
        raise AssertionError("link decoder broke a promise:\n" + "\n".join(bad))
    return path


def main(argv: list[str] | None = None) -> int:
    from toolchain.paths import results_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=results_dir() / "link_faults.csv")
    args = ap.parse_args(argv)
    try:
        run_fault_bench(args.out)
    except AssertionError as e:
        print(f"bench-link: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
