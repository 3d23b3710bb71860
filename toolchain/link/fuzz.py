"""Fuzzing of the link framing.

run_c_fuzzer: libFuzzer + ASan + UBSan on the C parser and encoders (tests/fuzz/fuzz_frame_parser.c).
fuzz_host_decoder: plain random and mutation fuzzing of StreamDecoder + Reassembler (and
parse_frame on raw packets), no hypothesis so it scales to millions of inputs.

    python -m toolchain.link.fuzz --seconds 600 --inputs 2000000     (make fuzz)
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

from .frames import (FLAG_ACK, FRAME_MAX, MTU_LORAWAN, Frame, FrameError, LinkStats, Reassembler, StreamDecoder,
                     encode_stream_frame, fragment, frame_bytes, parse_frame)

REPO = Path(__file__).resolve().parents[2]
FUZZ_SOURCE = REPO / "tests" / "fuzz" / "fuzz_frame_parser.c"
LINK_DIR = REPO / "firmware_templates" / "link"
CLANG = os.environ.get("TC_CLANG", "clang-16")
FUZZ_CFLAGS = ["-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
               "-std=c99", "-Wall", "-Wextra", "-Werror"]
# libFuzzer's names for what it saves on a failure; slow-unit-* are not failures.
CRASH_PREFIXES = ("crash-", "leak-", "timeout-", "oom-")
HOST_INPUT_LIMIT_S = 1.0  # one host input taking longer than this is a failure (a hang, in effect)


class FuzzBuildError(RuntimeError):
    """The fuzz target did not compile (the message holds the command and compiler output)."""


def build_c_fuzzer(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "fuzz_frame_parser"
    cmd = [CLANG, *FUZZ_CFLAGS, f"-I{LINK_DIR}", str(FUZZ_SOURCE), str(LINK_DIR / "tc_frame.c"), "-o", str(exe)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise FuzzBuildError(f"{CLANG} not found ({e}); install clang-16 and libclang-rt-16-dev") from e
    if proc.returncode != 0:
        hint = " (libFuzzer comes with the Debian package libclang-rt-16-dev)" if "fuzzer" in proc.stderr else ""
        raise FuzzBuildError(f"building the fuzz target failed{hint}:\n$ {' '.join(cmd)}\n{proc.stderr.strip()}")
    return exe


APP_FUZZ_SOURCE = REPO / "tests" / "fuzz" / "fuzz_app.c"
FUZZ_HAL = REPO / "tests" / "fuzz" / "hal"


def build_app_fuzzer(out_dir: Path, model: str = "gsb-temporal") -> Path:
    """The link application (rendered for `model`) with the fuzz HAL, as a libFuzzer target."""
    from toolchain.boards import load_board
    from ..pipeline import get_model
    from .app import render_app

    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / "app_src"
    shutil.rmtree(src, ignore_errors=True)
    srcs = [p for p in render_app(get_model(model), load_board("native"), src, eps=10)
            if p.name not in ("main_app.c", "tc_hal_link.c")]
    exe = out_dir / "fuzz_app"
    cmd = [CLANG, *FUZZ_CFLAGS, f"-I{FUZZ_HAL}", f"-I{src}", str(APP_FUZZ_SOURCE), *map(str, srcs), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FuzzBuildError(f"building the app fuzz target failed:\n$ {' '.join(cmd)}\n{proc.stderr.strip()}")
    return exe


def _seed_app_corpus(corpus: Path, seed: int = 0) -> None:
    """Valid host sessions: CONFIG, SAMPLES of real-looking windows, every COMMAND."""
    import struct

    rng = random.Random(seed)
    corpus.mkdir(parents=True, exist_ok=True)
    cmds = [b"identify", b"bench 3", b"flush", b"button", b"event", b"link-lost", b"link-restored", b"stats"]
    for i in range(16):
        msgs = [(2, bytes([1]) + struct.pack("<HBBBBHI", rng.randint(0, 50), rng.randint(1, 14), rng.randint(0, 8),
                                             rng.randint(1, 8), rng.randint(0, 1), 1024, rng.randint(0, 5000)))]
        for k in range(rng.randint(1, 4)):
            xs = [rng.randint(-300, 700) for _ in range(rng.choice((16, 32, 64, 100)))]
            msgs.append((3, struct.pack("<I", 32 * k) + struct.pack(f"<{len(xs)}h", *xs)))
        msgs.append((9, rng.choice(cmds)))
        out = bytearray()
        for seq, (t, p) in enumerate(msgs):
            for f in fragment(t, seq, p, FRAME_MAX):
                out += encode_stream_frame(f)
        (corpus / f"seed-{i}").write_bytes(bytes(out))


def _seed_corpus(corpus: Path, seed: int = 0) -> None:
    """Valid streams to start from: the CRC is a wall random mutation rarely gets over."""
    rng = random.Random(seed)
    corpus.mkdir(parents=True, exist_ok=True)
    for i in range(16):
        frames = [f for k in range(rng.randint(1, 3)) for f in
                  fragment(rng.randint(1, 9), k, rng.randbytes(rng.randint(0, 300)), rng.choice((51, FRAME_MAX)))]
        (corpus / f"seed-{i}").write_bytes(b"".join(encode_stream_frame(f) for f in frames))


def run_c_fuzzer(seconds: int, out_dir: Path, target: str = "frame") -> dict:
    """Builds the libFuzzer target in out_dir and runs it for ``seconds``.

    Returns {"executions", "seconds", "crashes" (paths of crash/leak/timeout/oom files
    this run saved), "returncode", "corpus_units", "new_units", "exec_per_sec"}; "log"
    holds the tail of libFuzzer's output when it failed.
    """
    out_dir = Path(out_dir)
    if target not in ("frame", "app"):
        raise ValueError(f"fuzz target {target!r}: 'frame' (tc_frame parser) or 'app' (link application)")
    if target == "app":
        out_dir = out_dir / "app"
    exe = build_c_fuzzer(out_dir) if target == "frame" else build_app_fuzzer(out_dir)
    corpus, artifacts = out_dir / "corpus", out_dir / "artifacts"
    shutil.rmtree(artifacts, ignore_errors=True)  # only this run's findings count
    artifacts.mkdir(parents=True)
    if not corpus.exists() or not any(corpus.iterdir()):
        (_seed_corpus if target == "frame" else _seed_app_corpus)(corpus)
    cmd = [str(exe), f"-max_total_time={seconds}", "-print_final_stats=1", "-max_len=4096", "-timeout=10",
           f"-artifact_prefix={artifacts}/", str(corpus)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300)
    wall = time.monotonic() - t0
    log = proc.stdout + proc.stderr

    def stat(name: str) -> int | None:
        m = re.search(rf"stat::{name}:\s*(\d+)", log)
        return int(m.group(1)) if m else None

    done = re.search(r"Done (\d+) runs in (\d+) second", log)
    executions = stat("number_of_executed_units")
    if executions is None and done:
        executions = int(done.group(1))
    crashes = sorted(str(p) for p in artifacts.iterdir() if p.name.startswith(CRASH_PREFIXES))
    result = {
        "executions": executions or 0,
        "seconds": int(done.group(2)) if done else round(wall, 1),
        "exec_per_sec": stat("average_exec_per_sec"),
        "new_units": stat("new_units_added"),
        "corpus_units": sum(1 for _ in corpus.iterdir()),
        "crashes": crashes,
        "returncode": proc.returncode,
    }
    if proc.returncode != 0 or crashes:
        result["log"] = log[-4000:]
    return result


# ---------------------------------------------------------------------------
# host decoder


def _random_message_frames(rng: random.Random, seq: int) -> list[Frame]:
    n = rng.choice((0, 1, 5, 40, 200, 256, 600, 1500)) if rng.random() < 0.3 else rng.randint(0, 300)
    mtu = rng.choice((FRAME_MAX, *MTU_LORAWAN.values(), 9, 20))
    n = min(n, 255 * (mtu - 8))
    return fragment(rng.randint(0, 255), seq & 0xFFFF, rng.randbytes(n), mtu, FLAG_ACK if rng.random() < 0.2 else 0)


def _valid_stream(rng: random.Random, n_messages: int) -> bytes:
    seq = rng.choice((0, rng.randint(0, 0xFFFF), 0xFFFE))
    out = bytearray()
    for _ in range(n_messages):
        frames = _random_message_frames(rng, seq)
        if rng.random() < 0.2:
            rng.shuffle(frames)
        if rng.random() < 0.1 and frames:
            frames.append(rng.choice(frames))
        for f in frames:
            out += encode_stream_frame(f)
        seq += rng.choice((1, 1, 1, 1, 2, 0, -1, 300, 40000))
    return bytes(out)


def _mutate(rng: random.Random, data: bytearray) -> None:
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        n = len(data)
        op = rng.randrange(9)
        i = rng.randrange(n + 1)
        if op == 0 and n:
            data[min(i, n - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            data[min(i, n - 1)] = rng.randrange(256)
        elif op == 2 and n:
            del data[min(i, n - 1)]
        elif op == 3:
            data.insert(i, rng.choice((0, 0, 1, 0xFF, rng.randrange(256))))
        elif op == 4:
            j = rng.randint(i, min(n, i + 300))
            data[i:i] = data[i:j]  # duplicate a range
        elif op == 5:
            del data[i:i + rng.randint(1, 300)]
        elif op == 6:
            data[i:i] = rng.randbytes(rng.randint(1, 64))
        elif op == 7:
            del data[i:]  # cut
        else:
            data[i:i] = bytes([rng.choice((1, 0xFF, rng.randrange(1, 256)))]) * rng.randint(250, 700)


def _host_input(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randint(0, 1024))
    if kind == 1:
        return _valid_stream(rng, rng.randint(1, 8))
    if kind == 2:
        data = bytearray(_valid_stream(rng, rng.randint(1, 8)))
        _mutate(rng, data)
        return bytes(data)
    if kind == 3:  # structure-heavy garbage: runs, zeros, tiny blocks
        parts = [bytes([rng.choice((1, 2, 0xFF, 0xFE, rng.randrange(256)))]) * rng.randint(1, 600)
                 for _ in range(rng.randint(1, 6))]
        return b"".join(parts)
    raw = bytearray(frame_bytes(rng.choice(_random_message_frames(rng, rng.randrange(0x10000)) or [Frame(1, 0, b"")])))
    _mutate(rng, raw)
    return b"\x01" + bytes(raw)  # leading 1: marks a raw packet for parse_frame


def _check_host_input(data: bytes, rng: random.Random, counts: dict[str, int]) -> None:
    """One input through the host decoders; any exception or broken invariant raises."""
    if data[:1] == b"\x01" and rng.random() < 0.5:  # packet path: only FrameError allowed
        try:
            f = parse_frame(data[1:])
        except FrameError:
            pass
        else:
            assert frame_bytes(f) == data[1:], "parse_frame/frame_bytes round trip"
    dec, ra = StreamDecoder(), Reassembler(window=rng.choice((4, 256)), max_gap=rng.choice((8, 1024)),
                                           max_pending=rng.choice((2, 16)))
    pos = 0
    while pos < len(data):
        step = rng.choice((1, 7, 64, 1000, len(data)))
        for f in dec.feed(data[pos:pos + step]):
            assert parse_frame(frame_bytes(f)) == f, "accepted frame does not round trip"
            m = ra.push(f)
            if m is not None:
                assert len(m.payload) <= 255 * FRAME_MAX
                counts["messages"] += 1
        pos += step
    ra.flush()
    st: LinkStats = dec.stats
    assert st.bytes_in == len(data) == st.bytes_ok + st.bytes_discarded + dec.pending, f"byte accounting {st}"
    assert st.resyncs == st.rejected, f"resyncs {st}"
    rs = ra.stats
    assert rs.frames_in == st.frames_ok
    assert rs.frames_in == (rs.fragments_used + rs.fragments_abandoned + rs.duplicates + rs.late + rs.conflicts
                            + ra.pending_fragments), f"reassembly accounting {rs}"
    assert rs.lost == len(ra.lost) and ra.pending == 0
    counts["frames"] += st.frames_ok
    counts["rejected"] += st.rejected
    counts["lost"] += rs.lost


def fuzz_host_decoder(n_inputs: int, seed: int, progress: Callable[[int], None] | None = None) -> dict:
    """Random and mutated streams through StreamDecoder + Reassembler (and raw packets
    through parse_frame). Any exception, broken accounting or an input slower than
    HOST_INPUT_LIMIT_S is a crash. Returns counts, timings and the crashes found
    (each with the input's index, the error and the input's first bytes in hex)."""
    rng = random.Random(seed)
    counts = {"frames": 0, "messages": 0, "rejected": 0, "lost": 0}
    crashes: list[dict] = []
    total_bytes, slowest = 0, 0.0
    t_start = time.perf_counter()
    for i in range(n_inputs):
        data = _host_input(rng)
        total_bytes += len(data)
        t0 = time.perf_counter()
        try:
            _check_host_input(data, random.Random(rng.random()), counts)
            error = None
        except Exception as e:  # the point: anything at all escaping is a finding
            error = f"{type(e).__name__}: {e}"
        dt = time.perf_counter() - t0
        slowest = max(slowest, dt)
        if error is None and dt > HOST_INPUT_LIMIT_S:
            error = f"took {dt:.2f} s (limit {HOST_INPUT_LIMIT_S} s)"
        if error:
            crashes.append({"input": i, "error": error, "bytes": len(data), "head_hex": data[:64].hex()})
        if progress and (i + 1) % 100_000 == 0:
            progress(i + 1)
    return {"inputs": n_inputs, "bytes": total_bytes, **counts, "seconds": round(time.perf_counter() - t_start, 1),
            "max_input_ms": round(slowest * 1000, 2), "crashes": crashes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toolchain.link.fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=600,
                    help="libFuzzer run time for each C target: frame parser, link application (0: skip)")
    ap.add_argument("--inputs", type=int, default=2_000_000, help="host decoder inputs (0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "build" / "fuzz", help="build folder, corpus and crash files")
    args = ap.parse_args(argv)
    failed = False
    for target, what in (("frame", "C frame parser"), ("app", "C link application (frames, messages, commands)")):
        if args.seconds <= 0:
            break
        r = run_c_fuzzer(args.seconds, args.out, target)
        print(f"{what} (libFuzzer+ASan+UBSan): {r['executions']} executions in {r['seconds']} s "
              f"({r['exec_per_sec']}/s), corpus {r['corpus_units']} units, {len(r['crashes'])} crashes, "
              f"exit {r['returncode']}", flush=True)
        for c in r["crashes"]:
            print("  crash file:", c)
        if r["returncode"] != 0 or r["crashes"]:
            print(r.get("log", ""))
            failed = True
    if args.inputs > 0:
        h = fuzz_host_decoder(args.inputs, args.seed,
                              progress=lambda k: print(f"  host: {k} inputs", flush=True))
        print(f"host decoder: {h['inputs']} inputs ({h['bytes']} bytes) in {h['seconds']} s, "
              f"slowest input {h['max_input_ms']} ms; {h['frames']} frames accepted, {h['rejected']} rejected, "
              f"{h['messages']} messages, {h['lost']} lost; {len(h['crashes'])} crashes")
        for c in h["crashes"][:20]:
            print("  ", c)
        failed |= bool(h["crashes"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
