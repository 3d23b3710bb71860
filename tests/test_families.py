"""Board families: the registry, typed board.toml tables and their errors, and the rule that
no code outside toolchain/families tests an architecture."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from toolchain import REPO_ROOT
from toolchain.boards import TARGETS_DIR, list_boards, load_board
from toolchain.families import archs, family
from toolchain.families.config import BoardConfigError
from toolchain.families.driver import Family


def test_every_board_has_a_family_and_a_typed_config():
    for name in list_boards():
        b = load_board(name)
        fam = b.family
        assert isinstance(fam, Family) and fam.arch == b.arch
        assert fam.config_type is None or isinstance(b.cfg, fam.config_type), name
    assert {"native", "msp430", "riscv"} <= set(archs())


def _copy_board(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "targets"
    shutil.copytree(TARGETS_DIR, root)
    return root


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace('cc = "riscv64-unknown-elf-gcc"', 'cc = 5'), r"\[riscv\] cc must be a string, got 5"),
    (lambda s: s.replace('cc = "riscv64-unknown-elf-gcc"', 'ccc = "gcc"'),
     r"\[riscv\] has unknown key\(s\) ccc; known: .*cc"),
    (lambda s: s.replace('linker_script = "../k210/link.ld"', 'linker_script = "nope.ld"'),
     r"\[riscv\] linker_script names nope.ld, which does not exist"),
    (lambda s: s.replace('arch = "riscv"', 'arch = "z80"'), r"\[cpu\] arch: no family driver for arch 'z80'; known: "),
    (lambda s: s.replace('ram_bytes = 6_291_456', 'ram_bytes = "6M"'), r"\[memory\] ram_bytes must be an integer"),
    (lambda s: s.replace('simulate = true', 'simulate = "yes"'), r"\[cpu\] simulate must be true or false"),
])
def test_bad_board_toml_names_file_and_key(tmp_path, edit, message):
    root = _copy_board(tmp_path, "riscv-qemu")
    toml = root / "riscv-qemu" / "board.toml"
    toml.write_text(edit(toml.read_text()))
    with pytest.raises(BoardConfigError, match=message) as e:
        load_board("riscv-qemu", root)
    assert str(toml) in str(e.value)


def test_missing_required_key_is_named(tmp_path):
    root = _copy_board(tmp_path, "msp430g2553")
    toml = root / "msp430g2553" / "board.toml"
    toml.write_text(re.sub(r'\nldscripts = .*\n', "\n", toml.read_text()))
    with pytest.raises(BoardConfigError, match=r"msp430g2553/board.toml: \[msp430\] ldscripts is required"):
        load_board("msp430g2553", root)


def test_family_lookup_lists_known_archs():
    with pytest.raises(KeyError, match="known: .*msp430.*native.*riscv"):
        family("pdp11")


def test_unsupported_capability_is_a_clear_error():
    from toolchain.families.common import Unsupported
    b = load_board("msp430f1611")
    with pytest.raises(Unsupported, match="msp430f1611 .*has none here"):
        b.family.link_sources(b)
    k = load_board("k210")
    with pytest.raises(Unsupported, match="k210 cannot be run here: .*use --target k210-qemu"):
        k.family.check_runnable(k)


# Code that would branch on the architecture: `.arch ==`, `arch in (...)`, string tests of board
# names that stand for a family. Only toolchain/families may know the families.
_ARCH_TEST = re.compile(r"""\.arch\s*(==|!=|\bin\b)|\barch\s*(==|!=)\s*["']|"""
                        r"""startswith\(["'](msp430|riscv|k210|cortex)|==\s*["'](msp430|riscv|cortex-m)["']""")


# Not architecture tests: nncase's dump names its KPU module files k210_*.nnir.pb.
_NOT_ARCH = {"toolchain/kendryte/nncase_stage.py": 'p.name.startswith("k210")'}


def test_no_architecture_test_outside_the_family_modules():
    offenders = []
    for folder in ("toolchain", "host_tools"):
        for p in sorted((REPO_ROOT / folder).rglob("*.py")):
            rel = p.relative_to(REPO_ROOT)
            if rel.parts[:2] == ("toolchain", "families"):
                continue
            for i, line in enumerate(p.read_text().splitlines(), 1):
                if _ARCH_TEST.search(line) and _NOT_ARCH.get(str(rel), "\0") not in line:
                    offenders.append(f"{rel}:{i}: {line.strip()}")
    assert not offenders, "architecture tests outside toolchain/families:\n" + "\n".join(offenders)
