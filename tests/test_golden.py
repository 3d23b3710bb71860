"""The committed golden example is what the generator makes today, and its C passes on its own."""
from __future__ import annotations

import subprocess

from toolchain import REPO_ROOT
from toolchain.codecs import golden


def test_golden_example_is_not_stale():
    assert golden.main(["--check"]) == 0


def test_cmake_ctest_runs_the_golden_vectors(tmp_path):
    subprocess.run(["cmake", "-S", str(REPO_ROOT), "-B", str(tmp_path)], check=True, capture_output=True)
    b = subprocess.run(["cmake", "--build", str(tmp_path)], capture_output=True, text=True)
    assert b.returncode == 0, b.stdout + b.stderr
    t = subprocess.run(["ctest", "--test-dir", str(tmp_path), "--output-on-failure"], capture_output=True, text=True)
    assert t.returncode == 0, t.stdout
    assert "100% tests passed" in t.stdout
