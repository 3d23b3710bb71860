"""Report layer: format round trips and malformed input, C builder/reporter byte-identical to Python,
MSP430 build, the scheduler on the paper's test case (Augustyniak, Table 1), reporting modes."""
from __future__ import annotations

import csv
import random
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolchain import REPO_ROOT
from toolchain.bench.reports import PAPER_CATEGORY_PERIOD, paper_session, run_bench
from toolchain.link.modes import DELAYED, IMMEDIATE, Reporter, ReporterConfig, ReporterError
from toolchain.link.reports import (FLAG_EVENT, HEADER_SIZE, Descriptor, Record, Report, ReportError, SessionDef,
                                    TypeDef, build_report, decode_payload, decode_report, decode_session,
                                    encode_batch, encode_report, encode_session, leaf_values, report_length,
                                    structure)
from toolchain.link.scheduler import (ScheduleError, build_schedule, constant_stream, due_types, period_reports,
                                      refresh_gaps_ms, schedule_c_table, scheduled_stream, theoretical_stream)

LINK_C = REPO_ROOT / "firmware_templates" / "link"
GCC = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion"]
MSP430 = ["clang-16", "--target=msp430", "-mmcu=msp430f1611", "-std=c99", "-Wall", "-Wextra", "-Werror",
          "-ffreestanding", "-c"]
# The native driver raises the builder's tables so that the 255-record descriptor split is reachable.
DRIVER_MAX_RECORDS = 600
DRIVER_MAX_DESC = 40
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)

# Reads whitespace-separated commands on stdin, answers on stdout (one line per answer):
#   B dev sess seq cap | A type index hex | E interval flags -> R hex|-      report builder
#   L hex -> L n                                                            tc_report_length
#   S n (type period leaves)*n count -> count lines "D ids"                 tc_sched_due, given table
#   P count -> count lines "D ids"                                          the compiled-in paper table
#   I mode cap max_bytes max_age hold -> I ok                               reporter init
#   s t hex (-> r ok) | t t | b t | a t | l t | u t -> X hex* then M mode count used dropped
DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "tc_report.h"
#include "tc_reporter.h"
#include "sched_table.h"

static char tok[300000];
static uint8_t data[70000], rbuf[70000], bbuf[70000];
static tc_report_t rb;
static tc_reporter_t rep;
static tc_sched_entry_t table[300];

static int next_tok(void)
{
    int c;
    size_t n = 0;
    do c = getchar(); while (c == ' ' || c == '\n' || c == '\r' || c == '\t');
    if (c == EOF) return 0;
    while (c != EOF && c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        if (n + 1 < sizeof tok) tok[n++] = (char)c;
        c = getchar();
    }
    tok[n] = 0;
    return 1;
}

static unsigned long num(void)
{
    if (!next_tok()) exit(2);
    return strtoul(tok, NULL, 0);
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static uint16_t hexin(uint8_t *dst)
{
    uint16_t n = 0;
    size_t i;
    if (!next_tok()) exit(2);
    if (tok[0] == '-') return 0;
    for (i = 0; tok[i] && tok[i + 1]; i += 2) dst[n++] = (uint8_t)(hexval(tok[i]) * 16 + hexval(tok[i + 1]));
    return n;
}

static void hexout(const uint8_t *p, uint16_t n)
{
    uint16_t i;
    if (n == 0u) putchar('-');
    for (i = 0; i < n; i++) printf("%02x", p[i]);
}

static void on_send(void *ctx, const uint8_t *p, uint16_t n)
{
    (void)ctx;
    printf("X ");
    hexout(p, n);
    putchar('\n');
}

static void state(void)
{
    printf("M %u %u %u %lu\n", (unsigned)rep.mode, (unsigned)rep.count, (unsigned)rep.used,
           (unsigned long)rep.dropped);
}

static void due(const tc_sched_entry_t *t, uint8_t n, unsigned long count)
{
    uint8_t ids[64], k, i;
    unsigned long r;
    for (r = 0; r < count; r++) {
        k = tc_sched_due(t, n, (uint32_t)r, ids, 64u);
        putchar('D');
        for (i = 0; i < k; i++) printf(" %u", (unsigned)ids[i]);
        putchar('\n');
    }
}

int main(void)
{
    while (next_tok()) {
        char c = tok[0];
        uint32_t now;
        if (c == 'B') {
            uint16_t dev = (uint16_t)num(), sess = (uint16_t)num(), seq = (uint16_t)num(), cap = (uint16_t)num();
            tc_report_begin(&rb, rbuf, cap, dev, sess, seq);
        } else if (c == 'A') {
            uint8_t type = (uint8_t)num();
            uint16_t index = (uint16_t)num(), n = hexin(data);
            (void)tc_report_add(&rb, type, index, data, n);
        } else if (c == 'E') {
            uint32_t interval = (uint32_t)num();
            uint8_t flags = (uint8_t)num();
            uint16_t n = tc_report_end(&rb, interval, flags);
            printf("R ");
            hexout(rbuf, n);
            putchar('\n');
        } else if (c == 'L') {
            uint16_t n = hexin(data);
            printf("L %u\n", (unsigned)tc_report_length(data, n));
        } else if (c == 'S') {
            uint8_t n = (uint8_t)num(), i;
            for (i = 0; i < n; i++) {
                table[i].type_id = (uint8_t)num();
                table[i].period = (uint16_t)num();
                table[i].leaves = (uint32_t)num();
            }
            due(table, n, num());
        } else if (c == 'P') {
            due(tc_sched_table, TC_SCHED_ENTRIES, num());
        } else if (c == 'I') {
            uint8_t mode = (uint8_t)num();
            uint16_t cap = (uint16_t)num(), max_bytes = (uint16_t)num();
            uint32_t max_age = (uint32_t)num(), hold = (uint32_t)num();
            uint8_t ok = tc_reporter_init(&rep, mode, bbuf, cap, max_bytes, max_age, hold, on_send, NULL);
            printf("I %u\n", (unsigned)ok);
        } else {
            now = (uint32_t)num();
            if (c == 's') {
                uint16_t n = hexin(data);
                printf("r %u\n", (unsigned)tc_reporter_submit(&rep, now, data, n));
            } else if (c == 't') tc_reporter_tick(&rep, now);
            else if (c == 'b') tc_reporter_button(&rep, now);
            else if (c == 'a') tc_reporter_adaptation(&rep, now);
            else if (c == 'l') tc_reporter_link_lost(&rep, now);
            else if (c == 'u') tc_reporter_link_restored(&rep, now);
            else return 3;
            state();
        }
    }
    return 0;
}
"""

# A firmware-like app: follows the generated schedule with the builder and hands reports to the reporter.
APP = r"""
#include "tc_report.h"
#include "tc_reporter.h"
#include "sched_table.h"

static uint8_t report_buf[128];
static uint8_t batch_buf[2048];
static uint8_t record[64];
static tc_reporter_t reporter;
static volatile uint16_t last_len;

static void radio_send(void *ctx, const uint8_t *payload, uint16_t len)
{
    (void)ctx;
    last_len = (uint16_t)(len + payload[0]);
}

uint16_t app_step(uint32_t now, uint32_t report_no, uint16_t seq, const uint8_t *sizes)
{
    tc_report_t rb;
    uint8_t ids[TC_SCHED_MAX_DUE], n, i;
    uint16_t len;
    if (report_no == 0u) tc_reporter_init(&reporter, TC_MODE_DELAYED, batch_buf, sizeof batch_buf, 2048u,
                                          360000UL, 60000UL, radio_send, 0);
    n = tc_sched_due(tc_sched_table, TC_SCHED_ENTRIES, report_no % TC_SCHED_PERIOD, ids, TC_SCHED_MAX_DUE);
    tc_report_begin(&rb, report_buf, sizeof report_buf, 0x0102u, TC_SCHED_SESSION_ID, seq);
    for (i = 0; i < n; i++) tc_report_add(&rb, ids[i], seq, record, sizes[ids[i]]);
    len = tc_report_end(&rb, TC_SCHED_INTERVAL_MS, 0u);
    if (len) tc_reporter_submit(&reporter, now, report_buf, len);
    return len;
}
"""


# ---------------------------------------------------------------------------------------------
# C harness


@pytest.fixture(scope="module")
def c_build(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("link_c")
    (d / "sched_table.h").write_text('#include "tc_report.h"\n' + schedule_c_table(build_schedule(paper_session())))
    (d / "driver.c").write_text(DRIVER)
    (d / "app.c").write_text(APP)
    exe = d / "driver"
    subprocess.run([*GCC, f"-DTC_REPORT_MAX_RECORDS={DRIVER_MAX_RECORDS}", f"-DTC_REPORT_MAX_DESC={DRIVER_MAX_DESC}",
                    f"-I{LINK_C}", f"-I{d}", str(d / "driver.c"), str(LINK_C / "tc_report.c"),
                    str(LINK_C / "tc_reporter.c"), "-o", str(exe)], check=True, capture_output=True, text=True)
    return d


def run_c(build: Path, commands: list[str]) -> list[str]:
    """One driver process for a whole batch of cases."""
    p = subprocess.run([str(build / "driver")], input="\n".join(commands) + "\n", capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def hx(b: bytes) -> str:
    return b.hex() if b else "-"


# ---------------------------------------------------------------------------------------------
# Strategies

VALIDITIES = [100, 250, 300, 500, 700, 1000, 1500, 3000, 7000, 30_000]


@st.composite
def sessions(draw, allow_variable: bool = True) -> SessionDef:
    n_leaves = draw(st.integers(1, 6))
    n_structs = draw(st.integers(0, 4))
    ids = draw(st.lists(st.integers(0, 255), min_size=n_leaves + n_structs, max_size=n_leaves + n_structs,
                        unique=True))
    names = st.text(max_size=10)
    types: list[TypeDef] = []
    leafsets: dict[int, set[int]] = {}
    for i in range(n_leaves):
        t = TypeDef(ids[i], draw(names), draw(st.integers(0 if allow_variable else 1, 24)),
                    draw(st.sampled_from(VALIDITIES)), draw(st.integers(0, 255)))
        types.append(t)
        leafsets[t.type_id] = {t.type_id}
    for j in range(n_structs):
        fixed = [t for t in types if t.size > 0]
        if not fixed:
            break
        chosen, used = [], set()
        for p in draw(st.lists(st.sampled_from(fixed), min_size=1, max_size=4)):
            if not leafsets[p.type_id] & used:
                chosen.append(p)
                used |= leafsets[p.type_id]
        s = structure(ids[n_leaves + j], draw(names), chosen)
        types.append(s)
        leafsets[s.type_id] = used
    return SessionDef(draw(U16), tuple(types))


def reports_for(session: SessionDef):
    def record(t: TypeDef):
        data = st.binary(min_size=t.size, max_size=t.size) if t.size else st.binary(max_size=20)
        return st.builds(Record, U16, data)

    desc = st.sampled_from(session.types).flatmap(
        lambda t: st.lists(record(t), min_size=1, max_size=4).map(lambda rs: Descriptor(t.type_id, tuple(rs))))
    return st.builds(Report, U16, st.just(session.session_id), U16, U32, st.sampled_from([0, 1, 2, 3, 4, 7]),
                     st.lists(desc, max_size=5).map(tuple))


# ---------------------------------------------------------------------------------------------
# Format: round trips


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_report_and_session_round_trip(data):
    s = data.draw(sessions())
    assert decode_session(encode_session(s)) == s
    r = data.draw(reports_for(s))
    b = encode_report(r)
    assert decode_report(b, s) == r
    assert report_length(b + b"\x00\x01") == len(b)
    batch = encode_batch([b, b])
    assert decode_payload(batch, s) == [r, r]
    assert decode_payload(b, s) == [r]


def test_doc_example_bytes():
    s = paper_session()
    data = bytes([72, 1]) + bytes(range(0x10, 0x1E)) + bytes([0, 0, 1, 0, 0])
    b = encode_report(build_report(0x0102, 1, 10, 300, FLAG_EVENT, [(7, 10, data)]))
    assert b.hex(" ") == ("a1 02 01 01 00 0a 00 2c 01 00 00 01 01 07 01 0a 00 15 00 15 00 48 01 10 11 12 13 14 15 "
                          "16 17 18 19 1a 1b 1c 1d 00 00 01 00 00 ee 0d")
    assert encode_report(Report(0x0102, 1, 11, 300, 0)).hex(" ") == "a1 02 01 01 00 0b 00 2c 01 00 00 00 00 ee 0d"
    # Nested record -> leaf parameters.
    assert leaf_values(s, 7, data) == [(0, bytes([72])), (1, bytes([1])), (2, bytes(range(0x10, 0x1E))),
                                       (3, bytes([0, 0, 1, 0, 0]))]


# ---------------------------------------------------------------------------------------------
# Format: malformed input


def _paper_report() -> tuple[SessionDef, bytes]:
    s = paper_session()
    r = build_report(7, 1, 3, 300, 0, [(6, 1, bytes(16)), (6, 2, bytes(range(16))), (3, 2, b"abcde")])
    return s, encode_report(r)


def test_every_truncation_names_an_offset_inside():
    s, b = _paper_report()
    for n in range(len(b)):
        with pytest.raises(ReportError) as e:
            decode_report(b[:n], s)
        assert 0 <= e.value.offset <= n and f"offset {e.value.offset}" in str(e.value)
    st_bytes = encode_session(s)
    for n in range(len(st_bytes)):
        with pytest.raises(ReportError) as e:
            decode_session(st_bytes[:n])
        assert 0 <= e.value.offset <= n
    batch = encode_batch([b, b])
    for n in range(len(batch)):
        with pytest.raises(ReportError):
            decode_payload(batch[:n], s)


def test_specific_defects_name_field_and_offset():
    s, b = _paper_report()
    # header 13, desc 0 (type 6, two triplets) at 13: its first offset field at 13 + 2 + 4 = 19
    bad = bytearray(b)
    bad[19] += 1
    with pytest.raises(ReportError, match=r"desc\[0\]\.offset\[0\] at offset 19"):
        decode_report(bytes(bad), s)
    bad = bytearray(b)
    bad[-1] ^= 0xFF
    with pytest.raises(ReportError, match=f"end_mark at offset {len(b) - 2}"):
        decode_report(bytes(bad), s)
    with pytest.raises(ReportError, match=f"trailing bytes at offset {len(b)}"):
        decode_report(b + b"\x00", s)
    bad = bytearray(b)
    bad[13] = 200  # type 200 is not in the session
    with pytest.raises(ReportError, match=r"desc\[0\]\.type_id at offset 13: type 200 is not defined"):
        decode_report(bytes(bad), s)
    bad = bytearray(b)
    bad[17] = 15  # length of a 16-byte QRS record
    with pytest.raises(ReportError, match=r"desc\[0\]\.length\[0\] at offset 17"):
        decode_report(bytes(bad), s)
    bad = bytearray(b)
    bad[14] = 0
    with pytest.raises(ReportError, match=r"desc\[0\]\.count at offset 14"):
        decode_report(bytes(bad), s)
    bad = bytearray(b)
    bad[11] = 0x80
    with pytest.raises(ReportError, match="flags at offset 11"):
        decode_report(bytes(bad), s)
    with pytest.raises(ReportError, match="session_id at offset 3"):
        decode_report(b, SessionDef(2, s.types))
    with pytest.raises(ReportError, match="magic at offset 0"):
        decode_report(b"\x00" + b[1:], s)
    with pytest.raises(ReportError, match=r"batch: report\[1\]\.magic at offset"):
        decode_payload(encode_batch([b, b])[:-len(b)] + b"\x00" + b[1:], s)


def test_session_table_defects():
    s = paper_session()
    b = bytearray(encode_session(s))
    with pytest.raises(ReportError, match="end_mark"):
        decode_session(bytes(b[:-1]) + b"\x00")
    hr = TypeDef(0, "hr", 1, 300)
    with pytest.raises(ReportError, match="child 5 is not defined before it"):
        SessionDef(1, (hr, TypeDef(6, "x", 1, 300, 0, (5,))))
    with pytest.raises(ReportError, match="defined twice"):
        SessionDef(1, (hr, hr))
    with pytest.raises(ReportError, match="repeats a parameter"):
        SessionDef(1, (hr, structure(1, "a", [hr]), TypeDef(2, "b", 2, 300, 0, (0, 1))))
    with pytest.raises(ReportError, match="sum of its children"):
        SessionDef(1, (hr, TypeDef(1, "a", 2, 300, 0, (0,))))
    # A defect inside the bytes names the type record's offset: child 9 of QRS Descr is undefined.
    # Header 5 B, type 0 ("hr") 12 B, so type 1 starts at 17 and its child byte is at 17 + 9.
    t = bytearray(encode_session(SessionDef(1, (hr, structure(1, "q", [hr])))))
    assert t[26] == 0
    t[26] = 9
    with pytest.raises(ReportError, match=r"type\[1\] \(id 1\) at offset 17: child 9 is not defined"):
        decode_session(bytes(t))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_never_crash_and_decodes_are_canonical(data):
    s, b = _paper_report()
    bad = bytearray(b)
    for _ in range(data.draw(st.integers(1, 4))):
        bad[data.draw(st.integers(0, len(b) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(bad)))
    bad = bytes(bad[:cut])
    try:
        r = decode_report(bad, s)
    except ReportError as e:
        assert 0 <= e.offset <= len(bad)
    else:
        assert encode_report(r) == bad  # only the canonical layout decodes


def test_c_length_check_agrees_with_python(c_build):
    rng = random.Random(7)
    cases = []
    for i in range(400):
        adds = [(rng.choice([6, 7, 3, 250]), rng.randrange(65536), bytes(rng.randrange(256) for _ in range(
            rng.choice([16, 21, 5, 3])))) for _ in range(rng.randrange(4))]
        b = bytearray(encode_report(build_report(1, 1, i, 300, rng.choice([0, 1, 7]), adds)))
        for _ in range(rng.randrange(3)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        cases.append(bytes(b[:rng.randrange(len(b) + 1)] if rng.random() < 0.3 else b))
    out = run_c(c_build, [f"L {hx(b)}" for b in cases])
    assert len(out) == len(cases)
    for b, line in zip(cases, out):
        try:
            want = report_length(b)
        except ReportError:
            want = 0
        assert line == f"L {want}", b.hex()


# ---------------------------------------------------------------------------------------------
# C builder == Python encoder


def _build_cases(rng: random.Random, n: int) -> list[tuple]:
    cases = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.05:  # one long time series: the 255-record descriptor split
            adds = [(9, i, bytes([i & 0xFF])) for i in range(rng.randrange(250, 300))]
        elif kind < 0.1:  # more descriptors than the driver's table holds
            adds = [(i % 2 * 5 + i, i, b"x") for i in range(DRIVER_MAX_DESC + 1)]
        else:
            types = rng.sample(range(256), 3)
            adds = [(rng.choice(types), rng.randrange(65536), bytes(rng.randrange(256) for _ in range(
                rng.randrange(0, 40)))) for _ in range(rng.randrange(0, 12))]
        flags = rng.choice([0, 1, 2, 4, 7, 8])
        cap = rng.choice([65535, 1000, 200, 60, 15, 14, rng.randrange(15, 300)])
        cases.append((rng.randrange(65536), rng.randrange(65536), rng.randrange(65536),
                      rng.randrange(1 << 32), flags, cap, adds))
    return cases


def _expected(dev, sess, seq, interval, flags, cap, adds) -> bytes:
    r = build_report(dev, sess, seq, interval, flags, adds)
    if len(adds) > DRIVER_MAX_RECORDS or len(r.descriptors) > DRIVER_MAX_DESC:
        return b""
    try:
        b = encode_report(r)
    except ReportError:  # reserved flag bits
        return b""
    return b if len(b) <= cap else b""


def test_c_builder_byte_identical(c_build):
    cases = _build_cases(random.Random(11), 500)
    cmds = []
    for dev, sess, seq, interval, flags, cap, adds in cases:
        cmds.append(f"B {dev} {sess} {seq} {cap}")
        cmds += [f"A {t} {i} {hx(d)}" for t, i, d in adds]
        cmds.append(f"E {interval} {flags}")
    out = run_c(c_build, cmds)
    assert len(out) == len(cases)
    fitted = 0
    for case, line in zip(cases, out):
        want = _expected(*case)
        fitted += bool(want)
        assert line == f"R {hx(want)}", case[:6]
    assert 100 < fitted < len(cases)  # both outcomes exercised
    assert any(len(c[6]) > 255 and _expected(*c) for c in cases)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(U16, U16, U16, U32, st.sampled_from([0, 1, 2, 4]),
                          st.lists(st.tuples(st.integers(0, 3), U16, st.binary(max_size=30)), max_size=8)),
                min_size=1, max_size=20))
def test_c_builder_byte_identical_hypothesis(c_build, cases):
    cmds = []
    for dev, sess, seq, interval, flags, adds in cases:
        cmds.append(f"B {dev} {sess} {seq} 65535")
        cmds += [f"A {t} {i} {hx(d)}" for t, i, d in adds]
        cmds.append(f"E {interval} {flags}")
    out = run_c(c_build, cmds)
    for (dev, sess, seq, interval, flags, adds), line in zip(cases, out):
        assert line == f"R {hx(encode_report(build_report(dev, sess, seq, interval, flags, adds)))}"


def test_c_builds_for_msp430(c_build, tmp_path):
    for src in (LINK_C / "tc_report.c", LINK_C / "tc_reporter.c", c_build / "app.c"):
        p = subprocess.run([*MSP430, f"-I{LINK_C}", f"-I{c_build}", str(src), "-o", str(tmp_path / (src.stem + ".o"))],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert (tmp_path / (src.stem + ".o")).stat().st_size > 0


# ---------------------------------------------------------------------------------------------
# Scheduler: the paper's test case


def test_paper_schedule():
    s = paper_session()
    sched = build_schedule(s)
    assert sched.interval_ms == 300 and sched.period_reports == 1200 and sched.period_ms == 360_000
    assert {p.name: p.period_reports for p in sched.params} == {
        "heart rate": 1, "morphology": 1, "wave borders": 1, "arrhythmia events": 10,
        "ST-segment elevation": 100, "HRV parameters": 1200}
    # Nesting: one compound structure per report (the paper's Fig. 4 sequence).
    assert sched.reports[0] == (9,) and sched.reports[10] == (7,) and sched.reports[100] == (8,)
    assert sched.reports[1] == (6,) and sched.reports[600] == (8,) and sched.reports[1190] == (7,)
    assert all(len(r) == 1 for r in sched.reports)
    # Every parameter refreshed within its validity time over the whole period (wrapping around).
    gaps = refresh_gaps_ms(sched)
    for p in sched.params:
        assert gaps[p.type_id] <= p.validity_ms


def test_paper_streams():
    s = paper_session()
    sched = build_schedule(s)
    theo = theoretical_stream(s)
    data_only = scheduled_stream(sched, overhead=False)
    framed = scheduled_stream(sched, overhead=True)
    const = constant_stream(s, overhead=False)
    const_framed = constant_stream(s, overhead=True)
    assert theo.bytes_per_s == pytest.approx(16 / 0.3 + 5 / 3 + 24 / 30 + 10 / 360)
    assert theo.bytes_per_period == pytest.approx(20098)  # the paper's "nearly 20 kB" per 360 s
    # Stated margin: the scheduled data stream is within 1 % of the theoretical one (here exact, since
    # all validity ratios are integers); the framing adds exactly 13 + 8 + 2 bytes per 0.3 s report.
    assert data_only.bytes_per_s <= 1.01 * theo.bytes_per_s
    assert framed.bytes_per_s == pytest.approx(theo.bytes_per_s + 23 / 0.3)
    # Well below the constant-rate stream: about 1/3 of it for the data, as in the paper.
    assert data_only.bytes_per_s < 0.35 * const.bytes_per_s
    assert framed.bytes_per_s < 0.55 * const_framed.bytes_per_s
    assert const.bytes_per_s == pytest.approx(55 / 0.3)
    # The paper's own figure: slower parameters grouped in one 3 s category -> 18.8 % over theoretical.
    grouped = scheduled_stream(build_schedule(s, max_period_reports=PAPER_CATEGORY_PERIOD), overhead=False)
    assert 100 * (grouped.bytes_per_s / theo.bytes_per_s - 1) == pytest.approx(18.8, abs=0.05)
    # The paper's Table 1 arithmetic, in bytes/s with 1/0.3 s taken as 3.3 /s and 1/3 s as 0.33 /s.
    assert 16 * 3.3 + 5 * 0.33 + 24 / 30 + 10 / 360 == pytest.approx(55.277, abs=1e-3)
    assert 16 * 3.3 + (5 + 24 + 10) * 0.33 == pytest.approx(65.67)
    assert 55 * 3.3 == pytest.approx(181.5)


@settings(max_examples=100, deadline=None)
@given(sessions(allow_variable=False), st.booleans())
def test_random_schedules_refresh_in_time(s, harmonic):
    sched = build_schedule(s, harmonic=harmonic)
    for n, rep in enumerate(sched.reports):
        leaves = [leaf for t in rep for leaf in s.leaves_of(t)]
        assert len(leaves) == len(set(leaves))  # no parameter twice in a report
        due = {p.type_id for p in sched.params if n % p.period_reports == 0}
        assert set(leaves) == due
    gaps = refresh_gaps_ms(sched)
    for p in sched.params:
        assert gaps[p.type_id] <= p.validity_ms
    if harmonic:
        ks = sorted(p.period_reports for p in sched.params)
        assert all(b % a == 0 for a, b in zip(ks, ks[1:]))
        assert sched.period_reports == ks[-1]


def test_schedule_refusals():
    with pytest.raises(ScheduleError, match="no fixed-size parameters"):
        build_schedule(SessionDef(1, (TypeDef(0, "raw", 0, 300),)))
    with pytest.raises(ScheduleError, match="interval 400 ms outside"):
        build_schedule(paper_session(), interval_ms=400)


def test_c_schedule_table_matches_python(c_build):
    sched = build_schedule(paper_session())
    out = run_c(c_build, [f"P {sched.period_reports + 5}"])
    want = [due_types(sched.entries, n) for n in range(sched.period_reports + 5)]
    assert out == ["D" + "".join(f" {t}" for t in ids) for ids in want]
    assert want[:sched.period_reports] == list(sched.reports)
    assert want[sched.period_reports] == sched.reports[0]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(sessions(allow_variable=False), st.booleans()), min_size=1, max_size=5))
def test_c_schedule_walk_random_sessions(c_build, sess_list):
    cmds, wants = [], []
    for s, harmonic in sess_list:
        sched = build_schedule(s, harmonic=harmonic)
        n = min(sched.period_reports, 400)
        cmds.append(f"S {len(sched.entries)} " + " ".join(f"{e.type_id} {e.period} {e.leaves}" for e in sched.entries)
                    + f" {n}")
        wants += ["D" + "".join(f" {t}" for t in rep) for rep in sched.reports[:n]]
    assert run_c(c_build, cmds) == wants


def test_bench_writes_csv(tmp_path, capsys):
    path = run_bench(tmp_path)
    rows = {r["scheme"]: r for r in csv.DictReader(path.open())}
    assert {"constant", "scheduled", "theoretical", "scheduled_no_overhead"} <= set(rows)
    assert list(next(iter(rows.values()))) == ["scheme", "bps", "bytes_per_period", "period_s",
                                               "overhead_pct_vs_theoretical"]
    assert float(rows["theoretical"]["bps"]) == pytest.approx(8 * 20098 / 360, abs=1e-3)
    assert float(rows["paper_grouping_no_overhead"]["overhead_pct_vs_theoretical"]) == pytest.approx(18.8, abs=0.05)
    assert float(rows["scheduled"]["bps"]) < float(rows["constant"]["bps"])
    assert "18.8" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Reporting modes: Python, and C on the same script


MODE_CODE = {IMMEDIATE: 0, DELAYED: 1}


def _rep(seq: int, size: int = 16, flags: int = 0) -> bytes:
    return encode_report(build_report(1, 1, seq & 0xFFFF, 300, flags, [(6, seq & 0xFFFF, bytes(size))] if size else []))


def run_py(cfg: ReporterConfig, script: list[tuple]) -> tuple[Reporter, list[str]]:
    """Runs a script through the Python Reporter; the lines are what the C driver prints."""
    r = Reporter(cfg)
    lines = []
    for ev in script:
        kind, t = ev[0], ev[1]
        before = len(r.sent)
        ok = ""
        if kind == "s":
            try:
                r.submit(t, ev[2])
                ok = "r 1"
            except ReporterError:
                ok = "r 0"
        else:
            {"t": r.tick, "b": r.button, "a": r.adaptation, "l": r.link_lost, "u": r.link_restored}[kind](t)
        lines += [f"X {hx(x.payload)}" for x in r.sent[before:]]  # the C send callback prints during the call
        if ok:
            lines.append(ok)
        lines.append(f"M {MODE_CODE[r.mode]} {r.buffered_reports} {r.buffered_bytes} {r.dropped}")
    return r, lines


def c_commands(cfg: ReporterConfig, script: list[tuple], cap: int | None = None) -> list[str]:
    cmds = [f"I {MODE_CODE[cfg.mode]} {cap or cfg.max_bytes} {cfg.max_bytes} {cfg.max_age_ms} {cfg.hold_ms}"]
    cmds += [f"{ev[0]} {ev[1]}" + (f" {hx(ev[2])}" if ev[0] == "s" else "") for ev in script]
    return cmds


def check_c(c_build: Path, cases: list[tuple[ReporterConfig, list[tuple]]]) -> list[Reporter]:
    cmds, want, out_r = [], [], []
    for cfg, script in cases:
        r, lines = run_py(cfg, script)
        out_r.append(r)
        cmds += c_commands(cfg, script)
        want += ["I 1", *lines]
    assert run_c(c_build, cmds) == want
    return out_r


def _kinds(r: Reporter) -> list[str]:
    return [f"{e.kind}:{e.detail}" for e in r.log if e.kind in ("switch", "recede", "drop")]


def test_immediate_mode_sends_each_report(c_build):
    cfg = ReporterConfig(mode=IMMEDIATE)
    script = [("s", 300 * i, _rep(i)) for i in range(5)]
    (r,) = check_c(c_build, [(cfg, script)])
    assert [x.payload for x in r.sent] == [_rep(i) for i in range(5)] and r.mode == IMMEDIATE
    assert all(x.reason == "immediate" for x in r.sent)


def test_delayed_age_limit(c_build):
    # The paper's stream through the scheduler, 360 s age limit (max_bytes raised so size never triggers).
    s = paper_session()
    sched = build_schedule(s)
    reps = [encode_report(x) for x in period_reports(sched)]
    cfg = ReporterConfig(mode=DELAYED, max_bytes=65535, max_age_ms=360_000)
    script = [("s", 300 * n, reps[n]) for n in range(1200)] + [("s", 360_000, reps[0]), ("t", 360_100)]
    (r,) = check_c(c_build, [(cfg, script)])
    assert len(r.sent) == 1 and r.sent[0].reason == "age" and r.sent[0].t_ms == 360_000
    got = decode_payload(r.sent[0].payload, s)
    assert len(got) == 1201 and [x.seq for x in got[:3]] == [0, 1, 2]
    # The tick path of the age limit.
    script = [("s", 0, _rep(0)), ("s", 300, _rep(1)), ("t", 359_999), ("t", 360_000)]
    (r,) = check_c(c_build, [(ReporterConfig(mode=DELAYED), script)])
    assert [(x.t_ms, x.reports, x.reason) for x in r.sent] == [(360_000, 2, "age")]


def test_delayed_size_limit(c_build):
    s = paper_session()
    rep = _rep(0)  # 39 bytes
    cfg = ReporterConfig(mode=DELAYED)  # 32 KiB
    n = 2000  # 100 ms apart: 200 s, so the age limit stays out of it
    script = [("s", 100 * i, _rep(i)) for i in range(n)]
    (r,) = check_c(c_build, [(cfg, script)])
    per_batch = (32768 - 3) // len(rep)
    assert [x.reports for x in r.sent] == [per_batch] * (n // per_batch)
    assert all(x.reason == "size" and len(x.payload) <= 32768 for x in r.sent)
    assert [x.seq for x in decode_payload(r.sent[1].payload, s)][:2] == [per_batch, per_batch + 1]
    # Exactly full: max_bytes = 3 + 2 reports.
    cfg = ReporterConfig(mode=DELAYED, max_bytes=3 + 2 * len(rep))
    (r,) = check_c(c_build, [(cfg, [("s", 0, _rep(0)), ("s", 1, _rep(1)), ("s", 2, _rep(2))])])
    assert [(x.t_ms, x.reports, x.reason) for x in r.sent] == [(1, 2, "size")] and r.buffered_reports == 1


def test_pathological_event_switches_and_recedes(c_build):
    cfg = ReporterConfig(mode=DELAYED, hold_ms=5_000)
    script = [("s", 0, _rep(0)), ("s", 300, _rep(1)), ("s", 600, _rep(2, flags=FLAG_EVENT)), ("s", 900, _rep(3)),
              ("t", 5_599), ("t", 5_600), ("s", 5_900, _rep(4))]
    (r,) = check_c(c_build, [(cfg, script)])
    assert [(x.t_ms, x.reports, x.reason) for x in r.sent] == [
        (600, 2, "event"), (600, 1, "immediate"), (900, 1, "immediate")]
    assert r.sent[1].payload == _rep(2, flags=FLAG_EVENT)
    assert _kinds(r) == ["switch:delayed->immediate (event)", "recede:urgent condition over",
                         "switch:immediate->delayed (recede)"]
    assert r.mode == DELAYED and r.buffered_reports == 1


def test_button_and_adaptation_switch_to_immediate(c_build):
    cfg = ReporterConfig(mode=DELAYED, hold_ms=1_000)
    script = [("s", 0, _rep(0)), ("b", 100), ("s", 300, _rep(1)), ("t", 1_100), ("s", 1_200, _rep(2)),
              ("a", 1_300), ("s", 1_500, _rep(3))]
    (r,) = check_c(c_build, [(cfg, script)])
    assert [(x.t_ms, x.reports, x.reason) for x in r.sent] == [
        (100, 1, "button"), (300, 1, "immediate"), (1_300, 1, "adaptation"), (1_500, 1, "immediate")]
    assert _kinds(r) == ["switch:delayed->immediate (button)", "recede:urgent condition over",
                         "switch:immediate->delayed (recede)", "switch:delayed->immediate (adaptation)"]


def test_link_lost_and_restored(c_build):
    # Configured immediate: link lost -> delayed (buffering), restored -> flush, back to immediate.
    cfg = ReporterConfig(mode=IMMEDIATE)
    script = [("s", 0, _rep(0)), ("l", 100), ("s", 300, _rep(1)), ("s", 600, _rep(2)), ("t", 400_000),
              ("u", 400_100), ("s", 400_200, _rep(3))]
    (r,) = check_c(c_build, [(cfg, script)])
    assert [(x.t_ms, x.reports, x.reason) for x in r.sent] == [
        (0, 1, "immediate"), (400_100, 2, "link_restored"), (400_200, 1, "immediate")]
    assert _kinds(r) == ["switch:immediate->delayed (link_lost)", "switch:delayed->immediate (link_restored)"]
    # Configured delayed: restored flushes and stays delayed; an event while the link is down waits for it.
    cfg = ReporterConfig(mode=DELAYED, hold_ms=10_000)
    script = [("s", 0, _rep(0)), ("l", 100), ("s", 300, _rep(1, flags=FLAG_EVENT)), ("u", 400),
              ("s", 500, _rep(2)), ("t", 10_300), ("s", 10_400, _rep(3))]
    (r,) = check_c(c_build, [(cfg, script)])
    assert [(x.t_ms, x.reports, x.reason) for x in r.sent] == [(400, 2, "link_restored"), (500, 1, "immediate")]
    assert _kinds(r) == ["switch:delayed->immediate (link_restored)", "recede:urgent condition over",
                         "switch:immediate->delayed (recede)"]
    # Link down with a full buffer: the oldest reports go.
    rep = _rep(0)
    cfg = ReporterConfig(mode=DELAYED, max_bytes=3 + 3 * len(rep))
    script = [("l", 0)] + [("s", 300 * i, _rep(i)) for i in range(5)] + [("u", 2_000)]
    (r,) = check_c(c_build, [(cfg, script)])
    assert r.dropped == 2 and [x.seq for x in decode_payload(r.sent[0].payload, paper_session())] == [2, 3, 4]


def test_reporter_refusals(c_build):
    cfg = ReporterConfig(mode=DELAYED, max_bytes=40)
    r = Reporter(cfg)
    with pytest.raises(ReporterError, match="never fits a batch"):
        r.submit(0, _rep(0, size=30))
    with pytest.raises(ReporterError, match="not a report"):
        r.submit(0, b"\xa1\x00")
    with pytest.raises(ReporterError, match="bytes after the report"):
        r.submit(0, _rep(0) + b"\x00")
    with pytest.raises(ReporterError, match="max_bytes"):
        ReporterConfig(max_bytes=70_000)
    check_c(c_build, [(cfg, [("s", 0, _rep(0, size=30)), ("s", 0, b"\xa1\x00"), ("s", 1, _rep(1, size=0))])])


def _random_script(rng: random.Random) -> tuple[ReporterConfig, list[tuple]]:
    cfg = ReporterConfig(mode=rng.choice([IMMEDIATE, DELAYED]), max_bytes=rng.choice([18, 60, 120, 400, 32768]),
                         max_age_ms=rng.choice([0, 500, 3_000, 360_000]), hold_ms=rng.choice([0, 700, 5_000]))
    t = rng.choice([0, 0xFFFFFFFF - 3_000])  # also across the u32 clock's wrap
    script = []
    for i in range(rng.randrange(1, 60)):
        t = (t + rng.choice([0, 1, 300, 300, 1_000, 4_000])) & 0xFFFFFFFF
        k = rng.choices("stbalu", weights=[10, 2, 1, 1, 2, 2])[0]
        if k == "s":
            script.append(("s", t, _rep(i, size=rng.choice([0, 3, 16, 40]),
                                        flags=FLAG_EVENT if rng.random() < 0.08 else 0)))
        else:
            script.append((k, t))
    return cfg, script


def test_reporter_c_matches_python_random_scripts(c_build):
    rng = random.Random(2024)
    rs = check_c(c_build, [_random_script(rng) for _ in range(400)])
    kinds = {e.kind + (":" + e.detail.split("(")[-1] if e.kind in ("switch", "send") else "")
             for r in rs for e in r.log}
    # Every automatic switch and every send reason happened somewhere in the batch.
    for want in ("switch:event)", "switch:button)", "switch:adaptation)", "switch:link_lost)",
                 "switch:link_restored)", "switch:recede)", "send:size)", "send:age)", "send:immediate)", "drop"):
        assert want in kinds, want
