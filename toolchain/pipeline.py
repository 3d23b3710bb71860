"""The codec's stages end to end: model -> generate -> build -> run on a board -> verify.

Each stage writes under build/<model>/<target>/ with a manifest of input hashes
(toolchain.stages), so it can be re-run alone and inspected.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import paths
from .boards import Board
from .families.common import BuildResult, DeviceWindow, Unsupported, parse_record
from .codecs.c_render import TEMPLATES, model_hash, render_codec, worst_case_bits
from .codecs import ae_codec
from .quant.fixed_point import FixedModel
from .stages import file_hash, stage_dir, up_to_date, write_manifest
from .train.fit import load_model

MODELS_DIR = paths.models_dir()


def model_path(name: str) -> Path:
    return MODELS_DIR / name / "model.json"


def get_model(name: str, path: Path | None = None, models_dir: Path | None = None) -> FixedModel:
    """The committed model models/<name>/model.json (or an explicit file, or <models_dir>/<name>/)."""
    base = Path(models_dir) if models_dir else MODELS_DIR
    p = Path(path) if path else (base / name / "model.json" if models_dir else model_path(name))
    if not p.exists():
        known = sorted(d.name for d in base.iterdir() if (d / "model.json").exists()) if base.is_dir() else []
        raise FileNotFoundError(f"no trained model at {p}; {'models in ' + str(base) if models_dir else 'committed models'}"
                                f": {', '.join(known) or 'none'} (train one with `tinycodec train --model {name} "
                                f"--save{' --models-dir ' + str(base) if models_dir else ''}`)")
    return load_model(p)


# ---------------------------------------------------------------- generate + build

@dataclass
class Built:
    board: Board
    src_dir: Path
    artifact: Path            # native executable, MSP430 or RISC-V ELF
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    stack_reserve: int | None = None
    probe_elf: Path | None = None
    note: str = ""
    commands: list = field(default_factory=list)
    image: Path | None = None  # raw BIN of the ELF where the flasher wants one (kflash for a K210)
    result: BuildResult | None = None

    @property
    def build(self) -> BuildResult:
        return self.result


def generate(fm: FixedModel, board: Board) -> Path:
    d = stage_dir(fm.name, board.name)
    src = d / "src"
    harness = board.family.codec_harness
    inputs = {"model": model_hash(fm), **{p.name: file_hash(p) for p in sorted(TEMPLATES.iterdir())
                                          if p.is_file()}}
    params = {"board": board.name, "harness": harness}
    if not up_to_date(d, "generate", inputs, params):
        render_codec(fm, board.name, src, harness)
        write_manifest(d, "generate", inputs, params, [f"src/{p.name}" for p in sorted(src.iterdir())])
    return src


def _hal_inputs(board: Board) -> dict[str, str]:
    """Hashes of the board folder and of every file its family config names (runtime, HAL)."""
    files = {f"hal/{p.name}": p for p in sorted(board.dir.iterdir()) if p.is_file()}
    cfg = board.cfg
    for name in getattr(cfg, "__dataclass_fields__", {}):
        v = getattr(cfg, name)
        for q in (v if isinstance(v, list) else [v]):
            if isinstance(q, Path):
                for f in ([q] if q.is_file() else sorted(x for x in q.iterdir() if x.is_file())):
                    files[f"runtime/{f.parent.name}/{f.name}"] = f
    return {k: file_hash(f) for k, f in files.items()}


def build(fm: FixedModel, board: Board) -> Built:
    """Render and compile the codec image for `board` (the one `tinycodec flash` writes);
    refused with FitError when it does not fit."""
    src = generate(fm, board)
    d = stage_dir(fm.name, board.name)
    sources = sorted(src.glob("*.c"))
    inputs = {p.name: file_hash(p) for p in sorted(src.iterdir())}
    inputs.update(_hal_inputs(board))
    r = board.family.build_program(board, sources, [src], d / "bin", name="codec", probe=True, purpose="codec")
    built = Built(board, src, r.elf, r.flash_bytes, r.ram_bytes, r.stack_reserve, r.probe_elf,
                  r.probe_note or "", r.commands, r.image, r)
    outputs = [built.artifact] + ([built.image] if built.image else [])
    (d / "size.json").write_text(json.dumps({
        "board": board.name, "flash_bytes": built.flash_bytes, "ram_bytes": built.ram_bytes,
        "stack_reserve": built.stack_reserve, "artifact": str(built.artifact.relative_to(d)),
        **({"image": str(built.image.relative_to(d)), "image_bytes": built.image.stat().st_size}
           if built.image else {})}, indent=1))
    write_manifest(d, "build", inputs, {"board": board.name}, ["size.json", *(str(p.relative_to(d)) for p in outputs)])
    return built


# ---------------------------------------------------------------- run on a board

def pack_input(x: np.ndarray, eps: int, latent_bits: int, mean_shift: int = 0) -> bytes:
    """Device input record: uint16 eps, uint8 latent_bits, uint8 mean_shift, int16 x[n] (LE)."""
    return (np.array([eps], "<u2").tobytes() + bytes([latent_bits, mean_shift])
            + np.asarray(x, dtype=np.int64).astype("<i2").tobytes())


parse_output = parse_record


def run(fm: FixedModel, built: Built, X: np.ndarray, eps: int, latent_bits: int | None = None,
        timeout_s: float | None = None, stats: dict | None = None, mean_shift: int = 0) -> list[DeviceWindow]:
    """Feed windows to the built firmware through the board's family driver (a host process,
    mspdebug's simulator, or QEMU with the windows compiled into a batch image and exact
    instruction counts) and read the bitstreams.

    On a simulated MSP430, `stats` (if given) receives the measured peak stack of the batch
    (`peak_stack_bytes`, from crt0's painted RAM); a stack that ran into static data is refused."""
    B = fm.latent_bits if latent_bits is None else latent_bits
    recs = [pack_input(x, eps, B, mean_shift) for x in np.atleast_2d(X)]
    out_len = 4 + (worst_case_bits(fm) + 7) // 8
    board = built.board
    result = built.result or BuildResult(built.artifact, board.name, built.flash_bytes, built.ram_bytes,
                                         built.stack_reserve, probe_elf=built.probe_elf, image=built.image)
    try:
        return board.family.run_codec(board, result, recs, out_len, src_dir=built.src_dir,
                                      work_dir=stage_dir(fm.name, board.name) / "run", timeout_s=timeout_s,
                                      stats=stats)
    except Unsupported as e:
        raise RuntimeError(str(e)) from None


@dataclass
class Verification:
    windows: int
    bit_exact: int             # windows whose bytes and bit count equal the Python reference
    violations: int            # observed readings the host decoder puts more than eps away
    max_abs_err: int
    bits: int                  # total bits the device sent
    imputed: int
    mismatches: list = field(default_factory=list)  # first few window indices that differ


def verify(fm: FixedModel, X: np.ndarray, eps: int, dev: list[DeviceWindow],
           latent_bits: int | None = None, mean_shift: int = 0) -> Verification:
    """Compare device bitstreams with the Python reference and decode them on the host."""
    X = np.atleast_2d(np.asarray(X, dtype=np.int64))
    ref = ae_codec.encode_batch(fm, X, eps, latent_bits, mean_shift)
    exact, viol, maxerr, mism = 0, 0, 0, []
    for i, w in enumerate(dev):
        data, nbits = ae_codec.pack(fm, ref, i)
        if data == w.data and nbits == w.nbits:
            exact += 1
        elif len(mism) < 10:
            mism.append(i)
        x_rec, miss = ae_codec.decode(fm, w.data, w.nbits, eps, latent_bits, mean_shift)
        obs = X[i] != ae_codec.MISSING
        err = np.abs(x_rec - X[i])[obs]
        viol += int((err > eps).sum())
        maxerr = max(maxerr, int(err.max()) if err.size else 0)
    return Verification(len(dev), exact, viol, maxerr, int(sum(w.nbits for w in dev)),
                        int(sum(w.imputed for w in dev)), mism)

