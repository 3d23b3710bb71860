"""Architecture families: one driver per family, looked up by board.toml's `[cpu] arch`.

A family module (or package) in this folder defines `FAMILY`, an instance of a
`driver.Family` subclass whose `arch` is the name boards use. The registry finds it by
scanning this package, so a new architecture is one module here plus board folders under
targets/: nothing else names it.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from .driver import Family

# Modules here that are shared infrastructure, not families.
_NOT_FAMILIES = {"common", "config", "cross", "driver", "gcc_cross", "qemu", "uart_batch"}


@lru_cache(maxsize=1)
def _registry() -> dict[str, Family]:
    found: dict[str, Family] = {}
    for m in pkgutil.iter_modules(__path__):
        if m.name in _NOT_FAMILIES:
            continue
        mod = importlib.import_module(f"{__name__}.{m.name}")
        fam = getattr(mod, "FAMILY", None)
        if isinstance(fam, Family):
            if fam.arch in found:
                raise RuntimeError(f"two families claim arch {fam.arch!r}: {found[fam.arch]} and {fam}")
            found[fam.arch] = fam
    return found


def archs() -> list[str]:
    """Every arch a board.toml may name."""
    return sorted(_registry())


def family(arch: str) -> Family:
    """The driver for `arch`; KeyError listing the known ones."""
    reg = _registry()
    if arch not in reg:
        raise KeyError(f"no family driver for arch {arch!r}; known: {', '.join(sorted(reg))}")
    return reg[arch]


def family_of(board) -> Family:
    """The driver of a loaded Board."""
    return family(board.arch)


__all__ = ["Family", "archs", "family", "family_of"]
