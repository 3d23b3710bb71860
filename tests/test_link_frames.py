"""Link framing: CRC, COBS, frames, stream decoding, fault injection, reassembly.

The C twin (firmware_templates/link/tc_frame.c) runs through tests/c/tc_frame_driver.c,
one driver process per test, and must agree byte for byte with toolchain/link/frames.py.
"""
from __future__ import annotations

import math
import random
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain.link.cobs import CobsError, cobs_decode, cobs_encode, cobs_max_len
from toolchain.link.crc import crc16_ccitt_false
from toolchain.link.frames import (FLAG_ACK, FLAG_MORE, FRAME_MAX, MTU_LORAWAN, Frame, FrameError, LostMessage, Message,
                                   MsgType, Reassembler, StreamDecoder, encode_stream_frame, fragment, frame_bytes,
                                   parse_frame)

REPO = Path(__file__).resolve().parents[1]
LINK = REPO / "firmware_templates" / "link"
DRIVER_SRC = REPO / "tests" / "c" / "tc_frame_driver.c"
GCC_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-O2"]
MSP430_FLAGS = ["--target=msp430", "-mmcu=msp430f1611", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffreestanding"]

# C error codes (tc_frame.h) -> LinkStats counters
C_ERRORS = {-1: "crc_errors", -2: "cobs_errors", -3: "too_long", -4: "short_frames", -5: "bad_fields"}


# ---------------------------------------------------------------------------
# the C driver


@pytest.fixture(scope="session")
def driver_exe(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("link") / "tc_frame_driver"
    cmd = ["gcc", *GCC_FLAGS, f"-I{LINK}", str(LINK / "tc_frame.c"), str(DRIVER_SRC), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return exe


class Driver:
    """One tc_frame_driver process; run() sends commands and returns each one's answer lines."""

    def __init__(self, exe: Path):
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def run(self, cmds: list[str]) -> list[list[str]]:
        text = "".join(c + "\n" for c in cmds)
        writer = threading.Thread(target=self._write, args=(text,))  # a big write must not block our reads
        writer.start()
        answers: list[list[str]] = []
        cur: list[str] = []
        while len(answers) < len(cmds):
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"tc_frame_driver exited {self.proc.wait()}: {self.proc.stderr.read()}")
            line = line.rstrip("\n")
            if line == ".":
                answers.append(cur)
                cur = []
            else:
                cur.append(line)
        writer.join()
        return answers

    def _write(self, text: str) -> None:
        try:
            self.proc.stdin.write(text)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # run() reports the driver's death with its stderr

    def close(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0, self.proc.stderr.read()

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hex(b: bytes) -> str:
    return b.hex() if b else "-"


def _unhex(s: str) -> bytes:
    return b"" if s == "-" else bytes.fromhex(s)


def encode_cmd(f: Frame, cap: int = 1000) -> str:
    return f"E {f.type} {f.flags} {f.seq} {f.frag_index} {f.frag_count} {cap} {_hex(f.payload)}"


@dataclass
class CResult:
    frames: list[Frame]
    errors: Counter  # LinkStats counter name -> count


def parse_feed_answer(lines: list[str]) -> CResult:
    frames, errors = [], Counter()
    for line in lines:
        parts = line.split()
        if parts[0] == "f":
            t, fl, seq, fi, fc = map(int, parts[1:6])
            frames.append(Frame(t, seq, _unhex(parts[6]), fl, fi, fc))
        else:
            errors[C_ERRORS[int(parts[1])]] += 1
    return CResult(frames, errors)


def c_decode(d: Driver, stream: bytes) -> CResult:
    _, answer = d.run(["R", f"F {_hex(stream)}"])
    return parse_feed_answer(answer)


def py_errors(dec: StreamDecoder) -> Counter:
    return Counter({k: getattr(dec.stats, k) for k in C_ERRORS.values() if getattr(dec.stats, k)})


def check_stats(dec: StreamDecoder, n_bytes: int, n_frames: int) -> None:
    s = dec.stats
    assert s.bytes_in == n_bytes
    assert s.bytes_ok + s.bytes_discarded + dec.pending == s.bytes_in
    assert s.frames_ok == n_frames
    assert s.resyncs == s.rejected == s.crc_errors + s.cobs_errors + s.too_long + s.short_frames + s.bad_fields


# ---------------------------------------------------------------------------
# strategies

payloads = st.one_of(
    st.binary(max_size=256),
    st.integers(0, 256).map(lambda n: b"\x11" * n),  # long runs without 0x00: full COBS blocks
    st.lists(st.sampled_from([0, 1, 0xFF]), max_size=256).map(bytes),
)


@st.composite
def frames_st(draw, payload=payloads) -> Frame:
    fc = draw(st.sampled_from([1, 1, 1, 2, 3, 255]))
    fi = draw(st.integers(0, fc - 1))
    flags = (FLAG_MORE if fi + 1 < fc else 0) | draw(st.sampled_from([0, FLAG_ACK]))
    return Frame(draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFF)), draw(payload), flags, fi, fc)


def _raw_with_crc(body: bytes) -> bytes:
    return body + crc16_ccitt_false(body).to_bytes(2, "little")


@st.composite
def segments(draw) -> bytes:
    kind = draw(st.integers(0, 8))
    if kind <= 1:
        return encode_stream_frame(draw(frames_st()))
    enc = encode_stream_frame(draw(frames_st()))
    if kind == 2:
        return enc[:draw(st.integers(0, len(enc) - 1))]  # truncated
    if kind == 3:
        i = draw(st.integers(0, len(enc) - 2))
        b = bytearray(enc)
        b[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(b)  # bit error (may also split the frame)
    if kind == 4:
        return draw(st.binary(max_size=40))
    if kind == 5:
        return b"\x00" * draw(st.integers(1, 3))
    if kind == 6:  # too long: runs of code bytes
        return bytes([draw(st.sampled_from([1, 5, 0xFF]))]) * draw(st.integers(250, 700))
    if kind == 7:  # short but valid COBS
        return cobs_encode(draw(st.binary(max_size=7))) + b"\x00"
    # CRC-valid frame with inconsistent header fields
    fi, fc, flags = draw(st.sampled_from([(0, 0, 0), (2, 2, 0), (0, 2, 0), (1, 2, 1), (0, 1, 4), (0, 1, 1)]))
    body = bytes([draw(st.integers(0, 255)), flags, 1, 0, fi, fc]) + draw(st.binary(max_size=20))
    return cobs_encode(_raw_with_crc(body)) + b"\x00"


streams = st.lists(segments(), max_size=25).map(b"".join)


# ---------------------------------------------------------------------------
# CRC and COBS


def _crc_bitwise(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc_check_value(driver_exe):
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc16_ccitt_false(b"") == 0xFFFF
    assert crc16_ccitt_false(b"56789", crc16_ccitt_false(b"1234")) == 0x29B1
    rng = random.Random(5)
    data = [rng.randbytes(rng.randint(0, 300)) for _ in range(200)] + [b"123456789"]
    with Driver(driver_exe) as d:
        answers = d.run([f"K {_hex(x)}" for x in data])
    for x, (a,) in zip(data, answers):
        assert int(a, 16) == crc16_ccitt_false(x) == _crc_bitwise(x)


# (input, encoding) from Wikipedia's COBS article (examples 1-11, after Cheshire & Baker).
COBS_VECTORS = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
    (b"", b"\x01"),
]


def test_cobs_known_vectors(driver_exe):
    with Driver(driver_exe) as d:
        answers = d.run([f"C {_hex(x)}" for x, _ in COBS_VECTORS])
    for (x, enc), (c_out,) in zip(COBS_VECTORS, answers):
        assert cobs_encode(x) == enc
        assert cobs_decode(enc) == x
        assert _unhex(c_out) == enc


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=1200), st.lists(st.sampled_from([0, 1, 0xFF, 7]), max_size=1200).map(bytes)))
def test_cobs_round_trip(x):
    enc = cobs_encode(x)
    assert b"\x00" not in enc and len(enc) <= cobs_max_len(len(x))
    assert cobs_decode(enc) == x


def test_c_cobs_matches_python(driver_exe):
    with Driver(driver_exe) as d:
        @settings(max_examples=150, deadline=None)
        @given(st.lists(st.one_of(st.binary(max_size=800), st.integers(0, 800).map(lambda n: b"\x33" * n)),
                        min_size=1, max_size=10))
        def check(xs):
            for x, (a,) in zip(xs, d.run([f"C {_hex(x)}" for x in xs])):
                assert _unhex(a) == cobs_encode(x)

        check()


@pytest.mark.parametrize("enc, where", [(b"", "empty"), (b"\x03\x11", "offset 0"), (b"\x02\x11\x05\x01", "offset 2"),
                                        (b"\x02\x00\x01", "offset 1")], ids=["empty", "cut", "cut-later", "zero"])
def test_cobs_decode_errors_say_where(enc, where):
    with pytest.raises(CobsError, match=where):
        cobs_decode(enc)


# ---------------------------------------------------------------------------
# frames


def test_frame_layout():
    f = Frame(MsgType.REPORT, 0x0102, b"\xaa\x00", FLAG_ACK | FLAG_MORE, 0, 2)
    raw = frame_bytes(f)
    assert raw[:6] == bytes([4, 0x03, 0x02, 0x01, 0, 2])  # type, flags, seq LE, frag_index, frag_count
    assert raw[6:8] == b"\xaa\x00"
    assert int.from_bytes(raw[8:], "little") == crc16_ccitt_false(raw[:8])
    assert parse_frame(raw) == f
    assert encode_stream_frame(f) == cobs_encode(raw) + b"\x00"
    assert [int(t) for t in MsgType] == list(range(1, 10))


def _spaced(b: bytes) -> str:
    return " ".join(f"{x:02x}" for x in b)


def test_protocol_doc_examples_are_current():
    doc = (REPO / "docs" / "protocol.md").read_text()
    log = Frame(MsgType.LOG, 0x0102, b"hi\x00")
    ack = Frame(MsgType.ACK, 7, b"")
    for f in (log, ack):
        assert _spaced(frame_bytes(f)) in doc and _spaced(encode_stream_frame(f)) in doc
    for f in fragment(MsgType.SAMPLES, 0x00FF, bytes(range(100)), MTU_LORAWAN["DR0"], FLAG_ACK):
        raw = frame_bytes(f)
        assert f"| {f.frag_index} | `{_spaced(raw[:6])}` |" in doc and f"`{_spaced(raw[-2:])}` |" in doc
    assert "## Framing" in doc and "## Message types" in doc and "## Reports\n\nSee docs/reports.md." in doc


def test_parse_frame_errors_name_the_problem():
    raw = frame_bytes(Frame(MsgType.LOG, 7, b"hello"))
    with pytest.raises(FrameError, match="too short: 7 bytes") as e:
        parse_frame(raw[:7])
    assert e.value.kind == "short"
    bad = bytearray(raw)
    bad[6] ^= 0x20
    want = crc16_ccitt_false(bytes(bad[:-2]))
    with pytest.raises(FrameError, match=f"carries 0x{int.from_bytes(raw[-2:], 'little'):04X}.*0x{want:04X}") as e:
        parse_frame(bytes(bad))
    assert e.value.kind == "crc"
    for header, why in [((1, 0, 0, 0, 0, 0), "frag_count 0"), ((1, 0, 0, 0, 3, 3), "frag_index 3 >= frag_count 3"),
                        ((1, 0, 0, 0, 0, 2), "more-fragments flag clear on fragment 0 of 2"),
                        ((1, 1, 0, 0, 1, 2), "more-fragments flag set on fragment 1 of 2"),
                        ((1, 0x80, 0, 0, 0, 1), "reserved bits 0x80")]:
        with pytest.raises(FrameError, match=why) as e:
            parse_frame(_raw_with_crc(bytes(header) + b"xy"))
        assert e.value.kind == "fields"


def test_frame_rejects_bad_fields_on_construction():
    with pytest.raises(FrameError, match="seq 65536"):
        Frame(1, 65536, b"")
    with pytest.raises(FrameError, match="type 256"):
        Frame(256, 0, b"")
    with pytest.raises(FrameError, match="frag_index 1 >= frag_count 1"):
        Frame(1, 0, b"", frag_index=1)
    with pytest.raises(FrameError, match="payload must be bytes"):
        Frame(1, 0, "text")  # type: ignore[arg-type]
    assert Frame(1, 0, bytearray(b"ab")).payload == b"ab"


def test_fragment_to_lorawan_mtus():
    payload = bytes(range(100))
    fr = fragment(MsgType.REPORT, 0xFFFF, payload, MTU_LORAWAN["DR0"])
    assert [len(f.payload) for f in fr] == [43, 43, 14]
    assert [(f.frag_index, f.frag_count, f.flags) for f in fr] == [(0, 3, 1), (1, 3, 1), (2, 3, 0)]
    assert all(len(frame_bytes(f)) <= 51 and f.seq == 0xFFFF for f in fr)
    assert b"".join(f.payload for f in fr) == payload
    for dr, mtu in MTU_LORAWAN.items():
        fr = fragment(MsgType.SAMPLES, 1, bytes(1000), mtu, FLAG_ACK)
        assert all(len(frame_bytes(f)) <= mtu and f.flags & FLAG_ACK for f in fr), dr
        assert len(fr) == -(-1000 // (mtu - 8))
    assert fragment(MsgType.LOG, 3, b"x" * 5000, None) == [Frame(MsgType.LOG, 3, b"x" * 5000)]
    assert fragment(MsgType.ACK, 3, b"", 51) == [Frame(MsgType.ACK, 3, b"")]
    assert len(fragment(MsgType.SAMPLES, 0, bytes(255 * 43), 51)) == 255


def test_fragment_refusals():
    with pytest.raises(ValueError, match="needs 256 fragments of 43 bytes at MTU 51; at most 255"):
        fragment(MsgType.SAMPLES, 0, bytes(255 * 43 + 1), 51)
    with pytest.raises(ValueError, match="MTU 8 leaves no room"):
        fragment(MsgType.SAMPLES, 0, b"x", 8)
    with pytest.raises(ValueError, match="only FLAG_ACK"):
        fragment(MsgType.SAMPLES, 0, b"x", 51, flags=FLAG_MORE)


# ---------------------------------------------------------------------------
# C and Python agree


def test_c_encoder_matches_python(driver_exe):
    with Driver(driver_exe) as d:
        @settings(max_examples=200, deadline=None)
        @given(st.lists(frames_st(), min_size=1, max_size=20))
        def check(fs):
            encs = [encode_stream_frame(f) for f in fs]
            cmds = [encode_cmd(f) for f in fs]
            cmds += [encode_cmd(f, len(e)) for f, e in zip(fs, encs)]  # exact fit
            cmds += [encode_cmd(f, len(e) - 1) for f, e in zip(fs, encs)]  # one short
            answers = [_unhex(a[0]) for a in d.run(cmds)]
            n = len(fs)
            assert answers[:n] == encs
            assert answers[n:2 * n] == encs
            assert answers[2 * n:] == [b""] * n

        check()
        # The C encoder refuses what the Python Frame refuses, and payloads over TC_FRAME_MAX.
        bad = ["E 1 0 0 0 0 1000 -", "E 1 0 0 1 1 1000 -", "E 1 1 0 0 1 1000 -", "E 1 0 0 0 2 1000 -",
               "E 1 4 0 0 1 1000 -", f"E 1 0 0 0 1 1000 {'ab' * 257}"]
        assert d.run(bad) == [["-"]] * len(bad)
        assert d.run([f"E 1 0 0 0 1 1000 {'ab' * 256}"])[0][0] == encode_stream_frame(Frame(1, 0, b"\xab" * 256)).hex()


def test_c_parser_decodes_python_frames(driver_exe):
    with Driver(driver_exe) as d:
        @settings(max_examples=150, deadline=None)
        @given(st.lists(frames_st(), max_size=30))
        def check(fs):
            got = c_decode(d, b"".join(encode_stream_frame(f) for f in fs))
            assert got.frames == fs and not got.errors

        check()


def test_decoders_agree_on_arbitrary_streams(driver_exe):
    with Driver(driver_exe) as d:
        @settings(max_examples=300, deadline=None)
        @given(streams, st.lists(st.integers(1, 400), max_size=20))
        def check(stream, cuts):
            dec = StreamDecoder()
            frames, pos = [], 0
            for c in cuts + [len(stream)]:
                frames += dec.feed(stream[pos:pos + c])
                pos += c
            frames += dec.feed(stream[pos:])
            check_stats(dec, len(stream), len(frames))
            c = c_decode(d, stream)
            assert c.frames == frames
            assert c.errors == py_errors(dec)

        check()


def test_stream_decoder_recovers_and_counts():
    good = [Frame(MsgType.BENCH, i, bytes([i]) * i) for i in range(1, 4)]
    stream = (b"\x00\x00" + encode_stream_frame(good[0]) + b"\x07" * 600 + b"\x00" + encode_stream_frame(good[1])
              + cobs_encode(b"abc") + b"\x00" + b"\x05\x01\x02\x00" + encode_stream_frame(good[2]) + b"\x03\x01")
    dec = StreamDecoder()
    assert dec.feed(stream) == good
    s = dec.stats
    assert (s.too_long, s.short_frames, s.cobs_errors, s.crc_errors, s.resyncs) == (1, 1, 1, 0, 3)
    assert dec.pending == 2 and "needs 4 bytes, only 2 left" in dec.last_error
    check_stats(dec, len(stream), 3)
    one_by_one = StreamDecoder()
    assert [f for i in range(len(stream)) for f in one_by_one.feed(stream[i:i + 1])] == good
    assert one_by_one.stats == s


def test_stream_decoder_bounds_memory_without_delimiters():
    dec = StreamDecoder()
    for _ in range(100):
        dec.feed(b"\x01" * 10_000)
        assert dec.pending <= FRAME_MAX + FRAME_MAX // 254 + 2
    assert dec.stats.too_long == 1 and dec.stats.bytes_discarded == 1_000_000
    assert dec.feed(b"\x00" + encode_stream_frame(Frame(1, 1, b"ok"))) == [Frame(1, 1, b"ok")]


# ---------------------------------------------------------------------------
# fault injection


def _random_frames(rng: random.Random, n: int, seq0: int) -> list[Frame]:
    out = []
    for i in range(n):
        fc = rng.choice((1, 1, 1, 4))
        fi = rng.randrange(fc)
        flags = (FLAG_MORE if fi + 1 < fc else 0) | rng.choice((0, FLAG_ACK))
        n_payload = rng.choice((0, rng.randint(0, 256), 256, rng.randint(0, 40)))
        out.append(Frame(rng.randint(1, 9), (seq0 + i) & 0xFFFF, rng.randbytes(n_payload), flags, fi, fc))
    return out


def _skip(rng: random.Random, p: float) -> int:
    """Trials until the next event of probability p (geometric), so low rates cost little."""
    return int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


def _corrupt(enc: bytes, rng: random.Random, kind: str, rate: float) -> bytes:
    b = bytearray(enc)
    if kind == "ber":
        pos = _skip(rng, rate)
        while pos < 8 * len(b):
            b[pos >> 3] ^= 1 << (pos & 7)
            pos += 1 + _skip(rng, rate)
        return bytes(b)
    # drops / dups: walk positions from the back so indices stay valid
    hits, pos = [], _skip(rng, rate)
    while pos < len(b):
        hits.append(pos)
        pos += 1 + _skip(rng, rate)
    for i in reversed(hits):
        if kind == "drop":
            del b[i]
        else:
            b.insert(i, b[i])
    return bytes(b)


@dataclass
class Faulty:
    stream: bytes
    sent: list[Frame]
    intact: list[bool]  # frame bytes untouched and preceded by a delimiter (or the stream start)


def _faulty_stream(kind: str, rate: float, seed: int, n: int = 2000) -> Faulty:
    rng = random.Random(seed)
    out = bytearray()
    sent: list[Frame] = []
    intact: list[bool] = []

    def emit(f: Frame, enc_sent: bytes) -> None:
        enc = encode_stream_frame(f)
        intact.append(enc_sent == enc and (not out or out[-1] == 0))
        sent.append(f)
        out.extend(enc_sent)

    if kind in ("cut", "cut+flush"):
        a, b = _random_frames(rng, n // 2, 0), _random_frames(rng, n - n // 2, 30000)
        for f in a[:-1]:
            emit(f, encode_stream_frame(f))
        enc = encode_stream_frame(a[-1])
        emit(a[-1], enc[:rng.randrange(1, len(enc) - 1)])  # the sender stopped mid-frame
        if kind == "cut+flush":
            out.append(0)  # a sender that starts with a 0x00 loses nothing of its own
        for f in b:
            emit(f, encode_stream_frame(f))
    else:
        for f in _random_frames(rng, n, 0):
            emit(f, _corrupt(encode_stream_frame(f), rng, kind, rate))
    return Faulty(bytes(out), sent, intact)


def _check_decoded(fs: Faulty, decoded: list[Frame]) -> dict:
    """Decoded frames: every intact one, in order, and nothing that was not sent."""
    index = {(f.seq, f.type): i for i, f in enumerate(fs.sent)}
    positions = []
    false_accepts = 0
    for f in decoded:
        i = index.get((f.seq, f.type))
        if i is None or fs.sent[i] != f:
            false_accepts += 1
        else:
            positions.append(i)
    assert false_accepts == 0, f"{false_accepts} corrupted frames accepted"
    assert positions == sorted(set(positions)), "frames out of order or twice"
    want = [i for i, ok in enumerate(fs.intact) if ok]
    missing = sorted(set(want) - set(positions))
    assert not missing, f"intact frames not decoded: {missing[:10]}"
    return {"sent": len(fs.sent), "intact": len(want), "decoded": len(decoded),
            "touched_but_exact": len(positions) - len(want), "false_accepts": false_accepts}


FAULTS = [("ber", 1e-4), ("ber", 1e-3), ("drop", 1e-3), ("dup", 1e-3), ("cut", 0.0), ("cut+flush", 0.0)]


@pytest.mark.parametrize("kind, rate", FAULTS, ids=[f"{k}-{r:g}" for k, r in FAULTS])
def test_fault_injection(driver_exe, kind, rate):
    fs = _faulty_stream(kind, rate, seed=2024)
    rng = random.Random(7)
    dec = StreamDecoder()
    decoded, pos = [], 0
    while pos < len(fs.stream):
        step = rng.choice((1, 13, 256, 4096, 65536))
        decoded += dec.feed(fs.stream[pos:pos + step])
        pos += step
    figures = _check_decoded(fs, decoded)
    check_stats(dec, len(fs.stream), len(decoded))
    with Driver(driver_exe) as d:
        c = c_decode(d, fs.stream)
    assert c.frames == decoded
    assert c.errors == py_errors(dec)
    if kind == "cut":
        assert figures["intact"] == len(fs.sent) - 2  # the cut frame and the first of the new stream
    if kind == "cut+flush":
        assert figures["intact"] == len(fs.sent) - 1
    s = dec.stats
    print(f"\nfault {kind} {rate:g}: {len(fs.stream)} bytes, {figures}, rejected crc {s.crc_errors} "
          f"cobs {s.cobs_errors} too_long {s.too_long} short {s.short_frames} fields {s.bad_fields}, "
          f"resyncs {s.resyncs}, bytes discarded {s.bytes_discarded}")


# ---------------------------------------------------------------------------
# MSP430: 16-bit int


@pytest.mark.parametrize("frame_max", [None, 64])
def test_builds_for_msp430(tmp_path, frame_max):
    obj = tmp_path / "tc_frame.o"
    extra = [f"-DTC_FRAME_MAX={frame_max}u"] if frame_max else []
    cmd = ["clang-16", *MSP430_FLAGS, "-Wconversion", *extra, "-c", str(LINK / "tc_frame.c"), "-o", str(obj)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    probe = tmp_path / "int16.c"  # the target really has 16-bit int
    probe.write_text("typedef char int_is_16_bits[sizeof(int) == 2 ? 1 : -1];\n")
    assert subprocess.run(["clang-16", *MSP430_FLAGS, "-c", str(probe), "-o", str(tmp_path / "p.o")]).returncode == 0


# ---------------------------------------------------------------------------
# reassembly


def _msg_frames(seq: int, payload: bytes, mtu: int | None = 20, t: int = MsgType.REPORT) -> list[Frame]:
    return fragment(t, seq, payload, mtu)


def test_reassembler_in_order_and_wrap():
    ra = Reassembler()
    got = []
    for k, seq in enumerate([0xFFFE, 0xFFFF, 0, 1]):
        for f in _msg_frames(seq, bytes([k]) * 30):
            m = ra.push(f)
            if m:
                got.append(m)
    assert got == [Message(MsgType.REPORT, s, bytes([k]) * 30, 3) for k, s in enumerate([0xFFFE, 0xFFFF, 0, 1])]
    assert ra.lost == [] and ra.stats.messages_ok == 4


def test_reassembler_out_of_order_duplicates_and_losses():
    ra = Reassembler()
    a, b, c, d = (_msg_frames(s, bytes([s]) * 30) for s in (10, 11, 12, 13))
    out = [ra.push(f) for f in (a[2], a[0], a[2], a[1])]  # reordered + duplicate
    assert out[:3] == [None] * 3 and out[3] == Message(MsgType.REPORT, 10, bytes([10]) * 30, 3)
    assert ra.push(a[1]) is None  # duplicate of a delivered message
    assert ra.push(b[0]) is None  # 11 never completes (fragments 1, 2 lost); 12 never arrives
    m = [ra.push(f) for f in d]
    assert m[-1] is not None and m[-1].seq == 13
    assert ra.lost == [LostMessage(11, 1, 3), LostMessage(12, 0, None)]
    assert ra.push(b[1]) is None and ra.stats.late == 1  # too late for a lost message
    s = ra.stats
    assert (s.duplicates, s.lost, s.incomplete, s.messages_ok) == (2, 2, 1, 2)
    assert s.frames_in == s.fragments_used + s.fragments_abandoned + s.duplicates + s.late + s.conflicts


def test_reassembler_restart_jump_conflict_and_pending_bound():
    ra = Reassembler(max_gap=100, max_pending=2)
    for seq in (500, 501):
        assert ra.push(Frame(MsgType.LOG, seq, b"a")) is not None
    m = ra.push(Frame(MsgType.IDENTIFY, 0, b"board"))  # seq went back: the sender restarted
    assert m is not None and m.seq == 0 and ra.stats.restarts == 1
    assert ra.push(Frame(MsgType.LOG, 5000, b"far")) is not None and ra.stats.seq_jumps == 1 and ra.lost == []
    f0, f1, _ = _msg_frames(5001, bytes(30))
    ra.push(f0)
    assert ra.push(Frame(MsgType.LOG, 5001, b"x", FLAG_MORE, 1, 3)) is None and ra.stats.conflicts == 1
    for seq in (5002, 5003):  # a third pending message pushes out the oldest
        ra.push(_msg_frames(seq, bytes(30))[0])
    assert ra.lost == [LostMessage(5001, 1, 3)] and ra.pending == 2
    assert ra.push(f1) is None and ra.stats.late == 1
    assert ra.flush() == [LostMessage(5002, 1, 3), LostMessage(5003, 1, 3)] and ra.pending == 0
    s = ra.stats
    assert s.frames_in == s.fragments_used + s.fragments_abandoned + s.duplicates + s.late + s.conflicts


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0xFFFF), st.lists(st.tuples(st.integers(0, 120), st.sampled_from([9, 20, 51, None]),
                                                    st.randoms(use_true_random=False)), min_size=1, max_size=40),
       st.floats(0, 0.5))
def test_reassembler_property(seq0, msgs, p_drop):
    ra = Reassembler(max_pending=1000)
    expect_done, arrived = [], []
    dups = 0
    delivered = []
    for k, (n, mtu, rnd) in enumerate(msgs):
        seq = (seq0 + k) & 0xFFFF
        payload = bytes([k & 0xFF]) * n
        fr = _msg_frames(seq, payload, mtu)
        kept = [f for f in fr if rnd.random() >= p_drop]
        extra = [f for f in kept if rnd.random() < 0.3]
        dups += len(extra)
        sent = kept + extra
        rnd.shuffle(sent)
        arrived.append(len(kept))
        if len(kept) == len(fr):
            expect_done.append(Message(MsgType.REPORT, seq, payload, len(fr)))
        for f in sent:
            m = ra.push(f)
            if m is not None:
                delivered.append(m)
    assert delivered == expect_done
    done_idx = [k for k in range(len(msgs)) if arrived[k] == len(_msg_frames(0, bytes(msgs[k][0]), msgs[k][1]))]
    expect_lost = []
    if done_idx:
        first, last = done_idx[0], done_idx[-1]
        for k in range(last):
            if k in done_idx:
                continue
            count = len(_msg_frames(0, bytes(msgs[k][0]), msgs[k][1]))
            if arrived[k]:
                expect_lost.append(LostMessage((seq0 + k) & 0xFFFF, arrived[k], count))
            elif k > first:
                expect_lost.append(LostMessage((seq0 + k) & 0xFFFF, 0, None))
    assert ra.lost == expect_lost
    assert ra.stats.duplicates == dups
    ra.flush()
    s = ra.stats
    assert s.frames_in == s.fragments_used + s.fragments_abandoned + s.duplicates + s.late + s.conflicts
    assert s.lost == len(ra.lost) and s.messages_ok == len(expect_done)
