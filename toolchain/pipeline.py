"""The codec's stages end to end: model -> generate -> build -> run on a board -> verify.

Each stage writes under build/<model>/<target>/ with a manifest of input hashes
(toolchain.stages), so it can be re-run alone and inspected.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import REPO_ROOT
from .backends.boards import Board
from .backends.codegen import TEMPLATES, model_hash, render_codec, worst_case_bits
from .codecs import ae_codec
from .quant.fixed_point import FixedModel
from .stages import file_hash, stage_dir, up_to_date, write_manifest
from .train.fit import load_model

MODELS_DIR = REPO_ROOT / "models"


def model_path(name: str) -> Path:
    return MODELS_DIR / name / "model.json"


def get_model(name: str, path: Path | None = None) -> FixedModel:
    """The committed model models/<name>/model.json (or an explicit file)."""
    p = Path(path) if path else model_path(name)
    if not p.exists():
        known = sorted(d.name for d in MODELS_DIR.iterdir() if (d / "model.json").exists())
        raise FileNotFoundError(f"no trained model at {p}; committed models: {', '.join(known) or 'none'} "
                                f"(train one with `tinycodec train --model {name} --save`)")
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
    image: Path | None = None  # RISC-V: raw BIN of the ELF (what kflash writes to a K210)


def _harness(board: Board) -> str:
    return {"native": "native", "riscv": "uart"}.get(board.arch, "sim")


def generate(fm: FixedModel, board: Board) -> Path:
    d = stage_dir(fm.name, board.name)
    src = d / "src"
    inputs = {"model": model_hash(fm), **{p.name: file_hash(p) for p in sorted(TEMPLATES.iterdir())
                                          if p.is_file()}}
    params = {"board": board.name, "harness": _harness(board)}
    if not up_to_date(d, "generate", inputs, params):
        render_codec(fm, board.name, src, _harness(board))
        write_manifest(d, "generate", inputs, params, [f"src/{p.name}" for p in sorted(src.iterdir())])
    return src


def build(fm: FixedModel, board: Board) -> Built:
    """Render and compile; MSP430 builds are refused (FitError) when they do not fit."""
    from .backends.msp430_build import build_msp430, build_native
    src = generate(fm, board)
    d = stage_dir(fm.name, board.name)
    sources = sorted(src.glob("*.c"))
    inputs = {p.name: file_hash(p) for p in sorted(src.iterdir())}
    inputs.update({f"hal/{p.name}": file_hash(p) for p in sorted(board.dir.iterdir()) if p.is_file()})
    if board.runtime_dir is not None:
        inputs.update({f"runtime/{p.name}": file_hash(p) for p in sorted(Path(board.runtime_dir).iterdir())
                       if p.is_file()})
    if board.arch == "native":
        exe = build_native(board, sources, [src], d / "bin", name="codec")
        built = Built(board, src, exe)
    elif board.arch == "msp430":
        r = build_msp430(board, sources, [src, board.dir], d / "bin", name="codec")
        built = Built(board, src, r.elf, r.flash_bytes, r.ram_bytes, r.stack_reserve, r.probe_elf,
                      r.probe_note or "", r.commands)
    elif board.arch == "riscv":
        from .backends.riscv_codec import build_codec
        r, image = build_codec(board, src, d / "bin", name="codec")
        built = Built(board, src, r.elf, r.flash_bytes, r.ram_bytes, r.stack_reserve, commands=r.commands,
                      image=image)
    else:
        raise ValueError(f"board {board.name}: arch {board.arch!r} has no codec build yet")
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


@dataclass
class DeviceWindow:
    data: bytes        # the encoded window, padded to whole bytes
    nbits: int
    imputed: int
    cycles_raw: int | None = None
    cycles: int | None = None   # corrected for the simulator's over-count (None: not available)
    instructions: int | None = None  # QEMU boards: exact retired instructions of the encoder


def parse_output(rec: bytes) -> DeviceWindow:
    nbits = rec[0] | (rec[1] << 8)
    return DeviceWindow(bytes(rec[4:4 + (nbits + 7) // 8]), nbits, rec[2])


def run(fm: FixedModel, built: Built, X: np.ndarray, eps: int, latent_bits: int | None = None,
        timeout_s: float | None = None, stats: dict | None = None, mean_shift: int = 0) -> list[DeviceWindow]:
    """Feed windows to the built firmware (host process, mspdebug sim, or QEMU for a riscv board:
    windows compiled into a batch image, exact instruction counts) and read the bitstreams.

    On a simulated board, `stats` (if given) receives the measured peak stack of the batch
    (`peak_stack_bytes`, from crt0's painted RAM); a stack that ran into static data is refused."""
    B = fm.latent_bits if latent_bits is None else latent_bits
    recs = [pack_input(x, eps, B, mean_shift) for x in np.atleast_2d(X)]
    out_len = 4 + (worst_case_bits(fm) + 7) // 8
    if built.board.arch == "native":
        p = subprocess.run([str(built.artifact)], input=b"".join(recs), capture_output=True,
                           timeout=timeout_s or 600)
        if p.returncode != 0:
            raise RuntimeError(f"{built.artifact} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
        raw = p.stdout
        if len(raw) != out_len * len(recs):
            raise RuntimeError(f"{built.artifact}: {len(raw)} bytes out for {len(recs)} windows "
                               f"(expected {out_len} each)")
        return [parse_output(raw[i * out_len:(i + 1) * out_len]) for i in range(len(recs))]
    if built.board.arch == "riscv":
        return _run_riscv(fm, built, recs, timeout_s)
    from .backends.msp430_build import check_stack
    from .backends.mspdebug_sim import run_batch
    st: dict = {} if stats is None else stats
    res = run_batch(built.artifact, recs, out_len=out_len, board=built.board,
                    probe_elf=built.probe_elf if built.probe_elf else False, timeout_s=timeout_s, stats=st)
    if st.get("peak_stack_bytes") is not None:
        check_stack(built.board, built.ram_bytes, st["peak_stack_bytes"], overflow=st.get("stack_overflow", False))
    out = []
    for r in res:
        w = parse_output(r.output)
        w.cycles_raw, w.cycles = r.cycles_raw, r.cycles_corrected
        out.append(w)
    return out


def _run_riscv(fm: FixedModel, built: Built, recs: list[bytes], timeout_s: float | None) -> list[DeviceWindow]:
    """Compile the records into the batch image (build/<model>/<board>/run/) and run it in QEMU."""
    from .backends.qemu_run import QemuError
    from .backends.riscv_codec import build_codec, run_batch_qemu
    board = built.board
    if not board.simulate:
        twin = board.raw.get("cpu", {}).get("twin", "")
        raise RuntimeError(f"{board.name} cannot be run here: {board.simulate_reason}"
                           + (f" (use --target {twin})" if twin else ""))
    rd = stage_dir(fm.name, board.name) / "run"
    rd.mkdir(exist_ok=True)
    r, _ = build_codec(board, built.src_dir, rd, records=recs, name="codec_batch")
    try:
        res = run_batch_qemu(board, r.elf, len(recs), timeout_s)
    except QemuError as e:
        raise RuntimeError(str(e)) from None
    out = []
    for u in res:
        w = DeviceWindow(u.data, u.nbits, u.imputed)
        if u.kind == "instret":
            w.instructions = u.ticks
        else:
            w.cycles_raw = w.cycles = u.ticks
        out.append(w)
    return out


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

