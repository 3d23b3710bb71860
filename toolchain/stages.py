"""Stage files: every stage reads and writes under build/<model>/<target>/ with a manifest of
input hashes, so a stage can be re-run alone, skipped when nothing changed, and inspected."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from . import __version__, paths


def build_root() -> Path:
    return paths.build_dir()


def stage_dir(model: str, target: str = "host") -> Path:
    d = build_root() / model / target
    d.mkdir(parents=True, exist_ok=True)
    return d


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def params_hash(params: Any) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def _manifest_path(d: Path, stage: str) -> Path:
    return d / f"{stage}.manifest.json"


def up_to_date(d: Path, stage: str, inputs: dict[str, str], params: Any) -> bool:
    """True when the stage's manifest names the same input hashes and params and its outputs exist."""
    p = _manifest_path(d, stage)
    if not p.exists():
        return False
    m = json.loads(p.read_text())
    return (m.get("inputs") == inputs and m.get("params_hash") == params_hash(params)
            and all((d / o).exists() for o in m.get("outputs", [])))


def write_manifest(d: Path, stage: str, inputs: dict[str, str], params: Any, outputs: list[str]) -> Path:
    p = _manifest_path(d, stage)
    p.write_text(json.dumps({
        "stage": stage, "tinycodec": __version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "inputs": inputs, "params": params, "params_hash": params_hash(params),
        "outputs": outputs}, indent=2, sort_keys=True, default=str))
    return p
