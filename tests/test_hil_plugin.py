"""The HIL plugin (host_tools/pytest_plugin.py) run on small inner test files with pytester.

Each outcome comes from a real cause: the built firmware behind a pty (passed, FAILED), a
firmware that does not exist / a model that does not build / a firmware that exits at once
(DUT FLASH FAILED), a program that reads the link and never answers (DUT NO ANSWER), a serial
DUT without a usable port (DUT UNAVAILABLE), and a real virtual board opened as --dut serial.
"""
from __future__ import annotations

import json
import stat

import pytest

from host_tools.dut import build_native
from host_tools.virtual_board import VirtualBoard

pytest_plugins = ["pytester"]

# Options whose value is a path are passed as --opt=PATH: pytest looks at bare path-like arguments
# for its rootdir and conftests before it knows the plugin's options.
INNER = """
from toolchain.link.frames import MsgType

def test_identifies(dut):
    assert dut.identity["model"] == "gsb-temporal"
    dut.command("bench 10")
    _, p = dut.expect(MsgType.BENCH, 5)
    assert p.startswith(b"windows=10 ")
    st = dut.stats()
    # since the host connected: the first "stats" (ACK, LOG) and "bench" (ACK, BENCH), one frame each
    assert (st.frames_sent, st.messages_sent) == (st.host_frames, st.host_messages) == (4, 4)

def test_wrong_expectation(dut):
    assert dut.identity["model"] == "some-other-model"
"""


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["host_tools.pytest_plugin"]\n')
    pytester.makepyfile(test_inner=INNER)
    return pytester


def _hil(result: pytest.RunResult) -> list[str]:
    """The lines of the "tinycodec HIL" summary section."""
    lines = result.outlines
    start = next(i for i, ln in enumerate(lines) if "tinycodec HIL" in ln)
    return lines[start + 1:next(i for i in range(start + 1, len(lines)) if lines[i].startswith("HIL: ")) + 1]


def test_pass_and_fail_on_the_built_firmware(inner, tmp_path):
    report = tmp_path / "hil.json"
    r = inner.runpytest("--dut", "native", f"--hil-report={report}")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*= tinycodec HIL =*", "dut: native (built app), model gsb-temporal",
                            "passed  *test_inner.py::test_identifies",
                            "FAILED  *test_inner.py::test_wrong_expectation",
                            "HIL: 1 passed, 1 FAILED"])
    got = json.loads(report.read_text())
    assert got["counts"] == {"passed": 1, "FAILED": 1}
    assert [t["outcome"] for t in got["tests"]] == ["passed", "FAILED"]


def test_missing_firmware_is_a_flash_failure(inner):
    r = inner.runpytest("--dut", "native", "--dut-exe=/nonexistent/tc_app", "-k", "identifies")
    r.assert_outcomes(errors=1)
    lines = _hil(r)
    assert lines[1].startswith("DUT FLASH FAILED  test_inner.py::test_identifies  -- starting the virtual board "
                               "/nonexistent/tc_app:"), lines
    assert lines[-1] == "HIL: 1 DUT FLASH FAILED"
    r.stdout.fnmatch_lines(["*DUT FLASH FAILED: starting the virtual board /nonexistent/tc_app*does not exist*"])


def test_unbuildable_model_is_a_flash_failure(inner):
    r = inner.runpytest("--dut-model", "no-such-model")
    r.assert_outcomes(errors=2)
    assert _hil(r)[-1] == "HIL: 2 DUT FLASH FAILED"
    r.stdout.fnmatch_lines(["*DUT FLASH FAILED*model 'no-such-model'*no trained model*"])


def test_failed_build_is_a_flash_failure(inner, tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the build folder should go\n")
    monkeypatch.setenv("TINYCODEC_BUILD", str(blocker / "build"))
    r = inner.runpytest("-k", "identifies")
    r.assert_outcomes(errors=1)
    r.stdout.fnmatch_lines(["DUT FLASH FAILED  test_inner.py::test_identifies  -- building the link application "
                            "for model 'gsb-temporal' (native) failed: *not_a_dir*"])


def test_firmware_that_exits_is_a_flash_failure(inner):
    r = inner.runpytest("--dut-exe=/bin/false", "-k", "identifies")
    r.assert_outcomes(errors=1)
    r.stdout.fnmatch_lines(["DUT FLASH FAILED  test_inner.py::test_identifies  -- native firmware on /dev/pts/* "
                            "exited before identifying (exit code 1*"])


def test_silent_firmware_is_no_answer(inner, tmp_path):
    silent = tmp_path / "silent_fw"  # reads the link, never writes: a board with a dead TX line
    silent.write_text("#!/bin/sh\nexec cat > /dev/null\n")
    silent.chmod(silent.stat().st_mode | stat.S_IXUSR)
    r = inner.runpytest(f"--dut-exe={silent}", "--dut-timeout", "1.5", "-k", "identifies")
    r.assert_outcomes(errors=1)
    r.stdout.fnmatch_lines(["DUT NO ANSWER  test_inner.py::test_identifies  -- native board on /dev/pts/*: no "
                            "IDENTIFY within 1.5 s after 2 'identify' command(s) (0 bytes received*",
                            "HIL: 1 DUT NO ANSWER"])


def test_serial_without_a_port_is_unavailable(inner):
    r = inner.runpytest("--dut", "serial", "-k", "identifies")
    r.assert_outcomes(errors=1)
    r.stdout.fnmatch_lines(["DUT UNAVAILABLE  test_inner.py::test_identifies  -- --dut serial needs --port*",
                            "HIL: 1 DUT UNAVAILABLE"])
    r = inner.runpytest("--dut", "serial", "--port=/dev/no-such-tty", "-k", "identifies")
    r.assert_outcomes(errors=1)
    r.stdout.fnmatch_lines(["DUT UNAVAILABLE  test_inner.py::test_identifies  -- cannot open /dev/no-such-tty*"])


def test_serial_dut_on_a_virtual_boards_pty(inner):
    """--dut serial against a port someone else runs: here a virtual board started outside pytest."""
    with VirtualBoard(build_native("gsb-temporal")) as vb:
        r = inner.runpytest("--dut", "serial", f"--port={vb.port}", "--baud", "921600")
        assert vb.alive()
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines([f"dut: serial ({vb.port}), model gsb-temporal", "HIL: 1 passed, 1 FAILED"])


@pytest.mark.parametrize("board", ["riscv-qemu", "cortex-m-qemu"])
def test_hil_replay_on_a_qemu_board_through_a_pty(board):
    """The same HIL replay, with the link application on a QEMU board (RISC-V, Cortex-M4) and its
    UART on a pty (`make hil DUT=qemu DUT_BOARD=...`): the emulated board talks to the host like
    a real one."""
    import subprocess
    import sys

    from toolchain import REPO_ROOT

    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/hil/test_replay.py",
                        "-k", "ecg_ten_minutes or station[0", "--dut", "qemu", "--dut-board", board],
                       cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert f"dut: qemu ({board})" in out and "HIL: 2 passed" in out, out[-2000:]
