"""Fuzzing the link framing in CI: 20 s of libFuzzer on the C parser, 20,000 host inputs.

`make fuzz` runs the same for 600 s and 2,000,000 inputs.
"""
from __future__ import annotations

from toolchain.link.fuzz import fuzz_host_decoder, run_c_fuzzer


def test_c_frame_parser_fuzz(tmp_path):
    r = run_c_fuzzer(20, tmp_path)
    assert r["crashes"] == [] and r["returncode"] == 0, r.get("log", r)
    assert r["executions"] > 10_000, r  # it really ran


def test_c_link_application_fuzz(tmp_path):
    """The firmware's command parser: the whole receive path of the link application."""
    r = run_c_fuzzer(20, tmp_path, target="app")
    assert r["crashes"] == [] and r["returncode"] == 0, r.get("log", r)
    assert r["executions"] > 1_000, r


def test_host_decoder_fuzz():
    r = fuzz_host_decoder(20_000, seed=1)
    assert r["crashes"] == [], r["crashes"][:5]
    assert r["inputs"] == 20_000 and r["frames"] > 0 and r["rejected"] > 0 and r["messages"] > 0
