"""Stages for int8 networks: generate C from a .tflite, run it on a board, check it against TFLM.

build/<model>/nn/            generated C (stage "generate-nn", manifest of the .tflite and templates)
build/<model>/<board>/nn/    builds and runs for one board, and verify.json (stage "verify-nn")
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from toolchain import paths
from toolchain.boards import Board, load_board
from toolchain.nn.codegen import NN_TEMPLATES, GeneratedNN, generate_nn
from toolchain.nn.targets import model_footprint, run_on_board
from toolchain.nn.tflite_model import read_tflite
from toolchain.stages import file_hash, stage_dir, write_manifest

ZOO_DIR = paths.zoo_dir()


def zoo_models() -> list[str]:
    return sorted(p.parent.name for p in ZOO_DIR.glob("*/model.tflite"))


def resolve_model(model: str | Path) -> tuple[str, Path]:
    """A zoo name ('ecg-beat-cnn') or a path to a .tflite -> (name, path)."""
    p = Path(model)
    if p.suffix == ".tflite":
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such .tflite file")
        return (p.parent.name if p.name == "model.tflite" else p.stem), p
    z = ZOO_DIR / str(model) / "model.tflite"
    if not z.is_file():
        raise FileNotFoundError(f"no zoo model {model!r} (have: {', '.join(zoo_models()) or 'none'}) "
                                f"and not a .tflite path")
    return str(model), z


def _template_hashes() -> dict[str, str]:
    return {f"template:{p.name}": file_hash(p) for p in sorted(NN_TEMPLATES.iterdir()) if p.is_file()}


def generate(model: str | Path) -> GeneratedNN:
    """Stage generate-nn: always regenerates (it takes milliseconds) and records what it read."""
    name, path = resolve_model(model)
    d = stage_dir(name, "nn")
    gen = generate_nn(path, d, name=name)
    write_manifest(d, "generate-nn", {"model": file_hash(path), **_template_hashes()},
                   {"name": gen.name}, [p.name for p in [*gen.sources, gen.header]])
    return gen


def heldout_inputs(name: str) -> np.ndarray | None:
    f = ZOO_DIR / name / "heldout.npz"
    if not f.is_file():
        return None
    with np.load(f) as z:
        return np.asarray(z["x"])


def random_inputs(model_path: Path, n: int, seed: int = 0) -> np.ndarray:
    g = read_tflite(model_path.read_bytes())
    t = g.tensors[g.inputs[0]]
    if t.dtype != "int8":
        raise ValueError(f"{model_path}: random inputs only for int8 models (input is {t.dtype})")
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(n, *t.shape), dtype=np.int64).astype(np.int8)


@dataclass
class Verification:
    model: str
    board: str
    n_inputs: int
    n_heldout: int
    mismatches: list[int]
    arena_bytes: int
    weight_bytes: int
    tflm_arena_bytes: int | None
    tflm_head_bytes: int | None
    footprint: dict = field(default_factory=dict)
    count_kind: str = ""
    counts_mean: float | None = None
    counts_max: int | None = None
    details: dict = field(default_factory=dict)

    @property
    def bit_exact(self) -> bool:
        return not self.mismatches


def verify(model: str | Path, board: str | Board, n_random: int = 100, n_heldout: int | None = None,
           seed: int = 0, measure: bool = True) -> Verification:
    """Run held-out and random inputs through the generated C on `board` and through the
    tflite-micro interpreter; every output byte must agree."""
    from toolchain.nn.tflm_reference import run_tflm_all, tflm_arena

    name, path = resolve_model(model)
    b = board if isinstance(board, Board) else load_board(board)
    gen = generate(path)
    held = heldout_inputs(name) if path.parent.parent == ZOO_DIR else None
    parts = []
    if held is not None:
        parts.append(held[:n_heldout] if n_heldout is not None else held)
    if n_random:
        parts.append(random_inputs(path, n_random, seed))
    xs = [x for part in parts for x in part]
    raw = path.read_bytes()
    ref = [b"".join(np.ascontiguousarray(o).tobytes() for o in outs) for outs in run_tflm_all(raw, xs)]
    d = stage_dir(name, b.name) / "nn"
    run = run_on_board(gen, b, [np.ascontiguousarray(x).tobytes() for x in xs], d, measure=measure)
    bad = [k for k, (o, r) in enumerate(zip(run.outputs, ref)) if o != r]
    arena = tflm_arena(raw)
    counts = [c for c in run.counts if c is not None]
    v = Verification(name, b.name, len(xs), len(parts[0]) if held is not None else 0, bad, gen.arena_bytes,
                     gen.weight_bytes, arena["total"], arena["head"], model_footprint(gen, b, d), run.count_kind,
                     float(np.mean(counts)) if counts else None, max(counts) if counts else None, run.details)
    (d / "verify.json").write_text(json.dumps(asdict(v), indent=2, default=str))
    write_manifest(d, "verify-nn", {"model": file_hash(path), **_template_hashes()},
                   {"board": b.name, "n_random": n_random, "n_heldout": n_heldout, "seed": seed}, ["verify.json"])
    return v
