"""A design space as data: named discrete choices (e.g. patches x layers x channels), the Optuna
``suggest_*`` calls that sample it, and the whole grid for enumeration (Starfish step 5)."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

__all__ = ["Choice", "Space"]


@dataclass(frozen=True)
class Choice:
    """One named design choice with its allowed values, in order.

    A run of evenly spaced ints (8, 16, 24, ...) is suggested with ``suggest_int(low, high, step)``
    so that samplers see the order; anything else (e.g. 8, 16, 32, 64) with
    ``suggest_categorical``."""

    name: str
    values: tuple

    def __post_init__(self) -> None:
        vals = tuple(self.values)
        object.__setattr__(self, "values", vals)
        if not self.name.isidentifier():
            raise ValueError(f"choice name {self.name!r} is not an identifier (use letters, digits, _)")
        if not vals:
            raise ValueError(f"choice {self.name!r} has no values; give at least one")
        if len(set(vals)) != len(vals):
            raise ValueError(f"choice {self.name!r} repeats a value: {vals}")

    @property
    def int_step(self) -> int | None:
        """The step when the values are evenly spaced ascending ints (>= 2 of them), else None."""
        v = self.values
        if len(v) < 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            return None
        step = v[1] - v[0]
        if step <= 0 or any(b - a != step for a, b in zip(v, v[1:])):
            return None
        return step

    def suggest(self, trial) -> Any:
        step = self.int_step
        if step is not None:
            return trial.suggest_int(self.name, self.values[0], self.values[-1], step=step)
        return trial.suggest_categorical(self.name, list(self.values))


@dataclass(frozen=True)
class Space:
    """Named discrete choices; a candidate is a dict {name: value}."""

    choices: tuple[Choice, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        names = [c.name for c in self.choices]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"design space names {dup} more than once")

    @classmethod
    def of(cls, **choices: Sequence) -> "Space":
        """``Space.of(patches=(1, 2, 4), layers=(2, 3), channels=(8, 16, 32))``."""
        return cls(tuple(Choice(k, tuple(v)) for k, v in choices.items()))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.choices]

    @property
    def size(self) -> int:
        return math.prod(len(c.values) for c in self.choices)

    def suggest(self, trial) -> dict:
        """Sample one candidate through an Optuna trial (its params then hold the choices)."""
        return {c.name: c.suggest(trial) for c in self.choices}

    def grid(self) -> Iterator[dict]:
        """Every candidate, in lexicographic order of the choices."""
        for vals in itertools.product(*(c.values for c in self.choices)):
            yield dict(zip(self.names, vals))

    def validate(self, params: dict) -> dict:
        """params restricted to this space's names; raises on a missing name or a foreign value."""
        out = {}
        for c in self.choices:
            if c.name not in params:
                raise KeyError(f"candidate lacks {c.name!r} (space: {', '.join(self.names)})")
            if params[c.name] not in c.values:
                raise ValueError(f"{c.name}={params[c.name]!r} is not one of {c.values}")
            out[c.name] = params[c.name]
        return out
