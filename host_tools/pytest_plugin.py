"""pytest plugin of the hardware-in-the-loop (HIL) bench: a `dut` fixture and an outcome summary.

Registered by tests/conftest.py (`pytest_plugins = ["host_tools.pytest_plugin"]`; pytest only
accepts that in the top-level conftest). Options:

    --dut {native,qemu,serial}   native (default): the link application built for the host, behind
                                 a pty; qemu: on a RISC-V QEMU board; serial: a real board on --port,
                                 flashed beforehand with `make flash TARGET=... MODEL=... PORT=...`
    --port PORT --baud 115200    serial: the board's port and speed
    --dut-model gsb-temporal     the model the board runs (a test may ask for another)
    --dut-timeout 10             seconds to wait for the board's IDENTIFY
    --dut-exe "CMD ARGS"         native: run this program instead of building the app
    --dut-board riscv-qemu       qemu: the board definition
    --dut-models-dir DIR         look for the board's model in DIR/<model> first (e.g. a folder holding
                                 a development ecg-dynamic codec; default: models/)
    --hil-report PATH            also write each HIL test's outcome as JSON

Write options whose value is a path as --port=/dev/ttyUSB0: before pytest knows this plugin's
options it takes bare path-like arguments for test paths when it looks for its rootdir.

Fixtures: `dut` (function scope; model --dut-model, or `request.param` when parametrized with
indirect=True) and `dut_factory(model=None, capture=None, exe=None, models_dir=None) -> Dut` for several boards or
models in one test. Boards are closed at teardown; native builds are made once per session.

A board that cannot be brought up fails the test's setup with DutFlashError (build, flash or
start failed, or the firmware died), DutNoAnswer (no IDENTIFY in time) or DutUnavailable (this
kind of DUT cannot be had here). The "tinycodec HIL" section of the terminal summary lists
every test that used a DUT as passed / FAILED / DUT FLASH FAILED / DUT NO ANSWER /
DUT UNAVAILABLE, so a broken bench never reads as a broken codec (or the reverse), whatever
the exit status says.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .dut import KINDS, Dut, DutConfig, DutError, DutFlashError, DutNoAnswer, DutUnavailable, start_dut

__all__ = ["Dut", "DutError", "DutFlashError", "DutNoAnswer", "DutUnavailable"]

PASSED, FAILED, ERROR, SKIPPED = "passed", "FAILED", "ERROR", "skipped"
_builds_key = pytest.StashKey[dict]()
_results_key = pytest.StashKey[dict]()
DUT_FIXTURES = ("dut", "dut_factory")


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tinycodec HIL", "hardware-in-the-loop bench (host_tools/pytest_plugin.py)")
    g.addoption("--dut", choices=KINDS, default="native",
                help="board under test: native virtual board (default), qemu, or a serial board (flash it "
                     "first with `make flash`)")
    g.addoption("--port", default=None, help="--dut serial: the board's serial port, e.g. /dev/ttyUSB0")
    g.addoption("--baud", type=int, default=115200, help="--dut serial: baud rate (default 115200)")
    g.addoption("--dut-model", default="gsb-temporal", help="model the board runs (default gsb-temporal)")
    g.addoption("--dut-timeout", type=float, default=10.0, help="seconds to wait for IDENTIFY (default 10)")
    g.addoption("--dut-exe", default=None,
                help="--dut native: run this command line as the firmware instead of building the app")
    g.addoption("--dut-board", default="riscv-qemu", help="--dut qemu: board definition (default riscv-qemu)")
    g.addoption("--dut-models-dir", default=None,
                help="folder to look for the board's model in first (<dir>/<model>); default: models/")
    g.addoption("--hil-report", default=None, help="write the HIL outcome of each test to this JSON file")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_builds_key] = {}
    config.stash[_results_key] = {}


def _config_for(config: pytest.Config, model: str | None, capture: Path | None) -> DutConfig:
    models_dir = config.getoption("--dut-models-dir")
    return DutConfig(kind=config.getoption("--dut"), model=model or config.getoption("--dut-model"),
                     port=config.getoption("--port"), baud=config.getoption("--baud"),
                     timeout=config.getoption("--dut-timeout"), exe=config.getoption("--dut-exe"),
                     board=config.getoption("--dut-board"), capture=capture,
                     models_dir=Path(models_dir) if models_dir else None)


@pytest.fixture
def dut_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Dut]]:
    """make(model=None, capture=None, exe=None, models_dir=None) -> a Dut that has identified itself;
    closed at teardown. `exe` (native) runs that command line as the firmware, like --dut-exe for one
    board; `models_dir` overrides --dut-models-dir for this board."""
    made: list[Dut] = []

    def make(model: str | None = None, capture: Path | None = None, exe: str | None = None,
             models_dir: Path | None = None) -> Dut:
        cfg = _config_for(request.config, model, capture)
        if exe is not None:
            cfg.exe = exe
        if models_dir is not None:
            cfg.models_dir = Path(models_dir)
        d = start_dut(cfg, request.config.stash[_builds_key])
        made.append(d)
        return d

    yield make
    for d in reversed(made):
        d.close()


@pytest.fixture
def dut(dut_factory: Callable[..., Dut], request: pytest.FixtureRequest) -> Dut:
    """The board under test, identified, running --dut-model (or the indirect parameter)."""
    return dut_factory(getattr(request, "param", None))


# --- outcomes ---------------------------------------------------------------------------------------

def _label(rep: pytest.TestReport, excinfo: pytest.ExceptionInfo | None) -> str:
    if rep.skipped:
        return SKIPPED
    if rep.passed:
        return PASSED
    if excinfo is not None and isinstance(excinfo.value, DutError):
        return type(excinfo.value).outcome
    if rep.when == "call":
        return FAILED
    return f"{ERROR} ({rep.when})"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()
    if not any(f in getattr(item, "fixturenames", ()) for f in DUT_FIXTURES):
        return
    results: dict = item.config.stash[_results_key]
    label = _label(rep, call.excinfo)
    detail = ""
    if call.excinfo is not None and isinstance(call.excinfo.value, DutError):
        detail = str(call.excinfo.value)
        rep.longrepr = f"{label}: {detail}"  # the cause, not a traceback through the fixture
    prev = results.get(item.nodeid)
    if rep.when == "setup":
        if not rep.passed:
            results[item.nodeid] = (label, detail)
    elif rep.when == "call":
        results[item.nodeid] = (label, detail)
    elif not rep.passed and prev is not None and prev[0] == PASSED:
        results[item.nodeid] = (label, detail)  # a clean test whose teardown failed


def hil_results(config: pytest.Config) -> dict[str, tuple[str, str]]:
    """nodeid -> (outcome, detail) of every test that used a DUT in this session."""
    return dict(config.stash.get(_results_key, {}))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    results = hil_results(config)
    if not results:
        return
    tr = terminalreporter
    kind = config.getoption("--dut")
    where = {"serial": config.getoption("--port"), "qemu": config.getoption("--dut-board")}.get(
        kind, config.getoption("--dut-exe") or "built app")
    tr.write_sep("=", "tinycodec HIL")
    tr.write_line(f"dut: {kind} ({where}), model {config.getoption('--dut-model')}")
    width = max(len(v[0]) for v in results.values())
    for nodeid, (label, detail) in results.items():
        line = f"{label:<{width}}  {nodeid}"
        if detail:
            line += f"  -- {detail if len(detail) < 300 else detail[:297] + '...'}"
        tr.write_line(line, red=label not in (PASSED, SKIPPED), green=label == PASSED)
    counts = Counter(label for label, _ in results.values())
    tr.write_line("HIL: " + ", ".join(f"{n} {label}" for label, n in counts.most_common()))
    path = config.getoption("--hil-report")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({
            "dut": kind, "where": where, "model": config.getoption("--dut-model"), "counts": dict(counts),
            "tests": [{"test": k, "outcome": v[0], "detail": v[1]} for k, v in results.items()]}, indent=1) + "\n")
        tr.write_line(f"HIL outcomes written to {path}")
