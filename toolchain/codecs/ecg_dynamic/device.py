"""The ECG dynamic codec on the families' boards: render its C, build it, run it, size it.

render_device_codec writes one self-contained source folder per board: the generated int8 encoder
network (toolchain.nn.codegen, bit-exact with TFLite Micro), the codec (firmware_templates/
ecg_dynamic/tc_ecg_dynamic.c) with its generated constants (tc_ecg_dynamic_config.h), the
harness-facing tc_model.h / tc_codec.h, and the family's codec harness (main_native.c,
main_uart.c or main_sim.c, unchanged: the codec implements the same tc_encode). The families build
and run it as they do the error-bounded codec (build_program(purpose="codec"), run_codec), so a
run gives per-segment bytes, bits, imputed counts and instructions (QEMU) or cycles (MSP430).
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from ... import __version__, paths
from ...families.common import BuildResult, DeviceWindow, Unsupported, section_sizes
from ..c_render import HARNESS
from . import ADC_BITS, SEG_N
from .bitstream import WORST_CASE_BITS
from .deployed import DynamicModel
from .model import LATENT_LEN, N_PRED
from .reference import err_mults

TEMPLATES = paths.templates_dir() / "ecg_dynamic"
HARNESS_DIR = paths.templates_dir()
NET_NAME = "ecg_dynamic_encoder"   # tc_ecg_dynamic.c calls ecg_dynamic_encoder_input/_invoke/_output
CODEC_SOURCE = "tc_ecg_dynamic.c"
INT32_MAX = (1 << 31) - 1
ADC_MAX = (1 << ADC_BITS) - 1


class DeviceCodecError(ValueError):
    """The model's constants do not fit the device's integer arithmetic."""


@dataclass
class DeviceBuild:
    board: str
    src_dir: Path
    result: BuildResult
    arena_bytes: int           # the encoder network's static tensor arena
    weight_bytes: int          # its constants (weights, biases, multipliers)
    flash_bytes: int | None    # text + rodata + data of the built image (the serve image)
    ram_bytes: int | None      # data + bss (static RAM; the stack comes on top)
    sections: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"board": self.board, "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes,
                "arena_bytes": self.arena_bytes, "weight_bytes": self.weight_bytes,
                "stack_reserve": self.result.stack_reserve}


def out_bytes() -> int:
    return (WORST_CASE_BITS + 7) // 8


def _constants(dm: DynamicModel) -> dict:
    """The integers the C needs, checked against its arithmetic."""
    in_mult, e_mults = dm.in_mult, err_mults(dm)
    if ADC_MAX * abs(in_mult) + 32768 > INT32_MAX:
        raise DeviceCodecError(f"in_mult {in_mult} (input scale {dm.input_q.scale}) overflows the int32 "
                               f"input quantization ((x - m) * in_mult for |x - m| <= {ADC_MAX})")
    for t, m in enumerate(e_mults):
        if not 0 < m <= INT32_MAX:
            raise DeviceCodecError(f"err_mult {m} of task {t} (errors scale {dm.outputs['errors'].scale}, "
                                   f"pred_scale {dm.pred_scale[t]}) is not a positive int32")
    return {"in_mult": in_mult, "err_mults": e_mults, "pred_scale": list(dm.pred_scale)}


def _config(dm: DynamicModel, gen, board_name: str) -> dict:
    consts = _constants(dm)
    outs = []
    for k, name in enumerate(dm.output_order):
        q = dm.outputs[name]
        n = int(np.prod(q.shape))
        if gen.output_bytes[k] != n:
            raise DeviceCodecError(f"generated network output {k} has {gen.output_bytes[k]} bytes, "
                                   f"codec.json's {name} has {n} values")
        outs.append({"macro": name.upper(), "index": k, "count": n, "offset": gen.output_offsets[k],
                     "scale": q.scale, "zp": q.zero_point})
    if gen.input_bytes != [SEG_N]:
        raise DeviceCodecError(f"generated network input is {gen.input_bytes} bytes, expected [{SEG_N}]")
    NAME = NET_NAME.upper()
    checks = [f"{NAME}_INPUT0_BYTES == TC_N"]
    for o in outs:
        want = f"TC_ED_{o['macro']}_LEN" if o["macro"] != "ERRORS" else "3 * TC_ED_N_PRED"
        checks.append(f"{NAME}_OUTPUT{o['index']}_BYTES == {want}")
    e = dm.outputs["errors"]
    return dict(name=dm.name, root=str(dm.root), sha=hashlib.sha256(dm.encoder_tflite).hexdigest(),
                net=NET_NAME, arena=gen.arena_bytes, in_scale=dm.input_q.scale, in_zp=dm.input_q.zero_point,
                err_scale=e.scale, err_zp=e.zero_point, latent_bits=dm.latent_bits, version=__version__,
                board=board_name, n=SEG_N, adc_max=ADC_MAX, out_bits=WORST_CASE_BITS,
                out_bytes=out_bytes(), outputs=outs, z_len=LATENT_LEN, n_pred=N_PRED, checks=checks, **consts)


def render_device_codec(dm: DynamicModel, board_name: str, out_dir: Path, harness: str) -> list[Path]:
    """Write the codec for `board_name` into out_dir: tc_model.h, tc_codec.h, tc_ecg_dynamic_config.h,
    tc_ecg_dynamic.c, the generated network (ecg_dynamic_encoder.c/.h and its kernels) and the
    harness main (`harness`: native, sim or uart). Returns the .c sources (harness last)."""
    return _render(dm, board_name, out_dir, harness)[0]


def _render(dm: DynamicModel, board_name: str, out_dir: Path, harness: str):
    from ...nn.codegen import generate_nn
    if harness not in HARNESS:
        raise ValueError(f"unknown harness {harness!r}; choose one of {sorted(HARNESS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = generate_nn(dm.encoder_tflite, out_dir, name=NET_NAME)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    ctx = _config(dm, gen, board_name)
    (out_dir / "tc_ecg_dynamic_config.h").write_text(env.get_template("tc_ecg_dynamic_config.h.j2").render(**ctx))
    (out_dir / "tc_model.h").write_text(env.get_template("tc_model.h.j2").render(**ctx))
    for name in ("tc_codec.h", CODEC_SOURCE):
        shutil.copyfile(TEMPLATES / name, out_dir / name)
    shutil.copyfile(HARNESS_DIR / HARNESS[harness], out_dir / HARNESS[harness])
    return [out_dir / CODEC_SOURCE, *gen.sources, out_dir / HARNESS[harness]], gen


def _board(board):
    from ...boards import Board, load_board
    return board if isinstance(board, Board) else load_board(board)


def _sizes(board, r: BuildResult) -> tuple[int | None, int | None, dict[str, int]]:
    """flash = text + rodata + data, RAM = data + bss, from the ELF (the family's figures where it has them)."""
    sections = dict(r.sections)
    if not sections:
        try:
            sections = section_sizes(r.elf, getattr(board.cfg, "size", None) or "size")
        except Exception:  # noqa: BLE001 - a host without binutils: sizes unknown, not an error
            sections = {}
    if r.flash_bytes is not None:
        return r.flash_bytes, r.ram_bytes, sections
    g = lambda *names: sum(v for k, v in sections.items() if k in names)  # noqa: E731
    if not sections:
        return None, None, sections
    data = g(".data", ".tdata")
    return g(".text", ".rodata") + data, data + g(".bss", ".tbss"), sections


def default_work_dir(dm: DynamicModel, board_name: str) -> Path:
    from ...stages import stage_dir
    tag = hashlib.sha256(dm.encoder_tflite).hexdigest()[:12]
    return stage_dir(dm.name, board_name) / f"device-{tag}"


def build_on_board(dm: DynamicModel, board_name: str, work_dir: Path | None = None) -> DeviceBuild:
    """Render and build the codec's serve image for a board (FitError with the numbers when it does
    not fit, BuildError with the compiler's words)."""
    board = _board(board_name)
    wd = Path(work_dir) if work_dir else default_work_dir(dm, board.name)
    src = wd / "src"
    if src.exists():
        shutil.rmtree(src)   # the cross families compile every .c in the folder
    sources, gen = _render(dm, board.name, src, board.family.codec_harness)
    r = board.family.build_program(board, sources, [src], wd / "bin", name="codec", probe=True, purpose="codec")
    flash, ram, sections = _sizes(board, r)
    return DeviceBuild(board.name, src, r, gen.arena_bytes, gen.weight_bytes, flash, ram, sections)


def pack_records(X_adu: np.ndarray, eps: int, latent_bits: int) -> list[bytes]:
    from ...pipeline import pack_input
    return [pack_input(x, eps, latent_bits, 0) for x in np.atleast_2d(np.asarray(X_adu))]


def run_on_board(dm: DynamicModel, board_name: str, X_adu: np.ndarray, eps: int, latent_bits: int,
                 work_dir: Path | None = None, stats: dict | None = None,
                 built: DeviceBuild | None = None) -> list[DeviceWindow]:
    """Encode every segment of X_adu (S, 2048) on a board: one DeviceWindow per segment, with exact
    instructions on the QEMU boards and corrected cycles on the MSP430 simulator. `stats` (if given)
    receives the build's sizes (DeviceBuild.summary()) and, on the MSP430, the measured peak stack.
    `built`: a DeviceBuild of this model for this board, to skip the build."""
    board = _board(board_name)
    wd = Path(work_dir) if work_dir else default_work_dir(dm, board.name)
    b = built or build_on_board(dm, board.name, wd)
    recs = pack_records(X_adu, eps, latent_bits)
    st: dict = {} if stats is None else stats
    st.update(b.summary())
    try:
        return board.family.run_codec(board, b.result, recs, 4 + out_bytes(), src_dir=b.src_dir,
                                      work_dir=wd / "run", timeout_s=120 + 2.0 * len(recs), stats=st)
    except Unsupported as e:
        raise RuntimeError(str(e)) from None
