"""Typed board.toml tables: a family declares its table as a dataclass, this reads and checks it.

Every error names the board.toml file and the key, e.g.
`targets/k210/board.toml: [riscv] cflags must be a list of strings, got 'O2'`.
Paths are relative to the board folder and must exist.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path


class BoardConfigError(ValueError):
    """board.toml is missing a key, has an unknown one, or one of the wrong type."""


def _type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _check(value, hint, where: str, folder: Path):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check(value, inner[0], where, folder)
    if origin is list:
        if not isinstance(value, list):
            raise BoardConfigError(f"{where} must be a list of {_type_name(args[0])}, got {value!r}")
        return [_check(v, args[0], f"{where}[{i}]", folder) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise BoardConfigError(f"{where} must be a table, got {value!r}")
        return dict(value)
    if hint is Path:
        if not isinstance(value, str):
            raise BoardConfigError(f"{where} must be a path (string), got {value!r}")
        p = (folder / value).resolve()
        if not p.exists():
            raise BoardConfigError(f"{where} names {value}, which does not exist ({p})")
        return p
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BoardConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BoardConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise BoardConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise BoardConfigError(f"{where} must be a string, got {value!r}")
        return value
    return value


def read_table(cls: type, path: Path, raw: dict, table: str):
    """Build the dataclass `cls` from table [`table`] of the parsed board.toml `raw` at `path`:
    required fields (no default) must be there, unknown keys are refused, types are checked."""
    t = raw.get(table, {})
    if not isinstance(t, dict):
        raise BoardConfigError(f"{path}: [{table}] must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(t) - set(fields))
    if unknown:
        raise BoardConfigError(f"{path}: [{table}] has unknown key(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(fields))}")
    values = {}
    for name, f in fields.items():
        where = f"{path}: [{table}] {name}"
        if name in t:
            values[name] = _check(t[name], hints[name], where, path.parent)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise BoardConfigError(f"{path}: [{table}] {name} is required ({_type_name(hints[name])})")
    return cls(**values)
