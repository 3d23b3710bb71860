"""Build the link application (firmware_templates/app) for a codec model and a board.

Stage "build-app": build/<model>/<board>/app/ holds the rendered codec, the link and app
sources, tc_app_session.h (the report session the board announces), the binary, and a
manifest of what went in.

Two codecs: the error-bounded AE codec (a FixedModel of models/<name>/model.json, rendered by
c_render.render_codec) and the ECG dynamic codec "ecg-dynamic" (a DynamicModel folder,
models/ecg-dynamic/ or $TINYCODEC_ECG_DYNAMIC or <models_dir>/ecg-dynamic/, rendered by
ecg_dynamic.device.render_device_codec). Both implement the same tc_encode, so tc_app.c is shared;
the ECG build goes to build/ecg-dynamic/<board>/app-<encoder hash>/ so that two codec folders
(a development one and the trained one) never overwrite each other's binary.

ECG records are large (a lossless 2048-sample segment with missing samples: up to TC_OUT_BYTES =
3585 B), so its app is built with at most ECG_MAX_PER_REPORT windows a report and a delayed-mode
buffer that holds one worst-case report of that many; a host CONFIG asking for more windows a
report, or for a batch limit under the worst-case report of its per_report, is refused (ACK 1).
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..boards import Board, load_board
from ..families.common import BuildError, FitError, Unsupported
from toolchain.codecs.c_render import HARNESS, TEMPLATES, model_hash, render_codec
from toolchain.codecs.ecg_dynamic.deployed import NAME as ECG_NAME
from toolchain.codecs.ecg_dynamic.deployed import DynamicModel
from ..quant.fixed_point import FixedModel
from ..stages import file_hash, stage_dir, write_manifest
from .reports import SessionDef, TypeDef, encode_session

APP_DIR = TEMPLATES / "app"
LINK_DIR = TEMPLATES / "link"
LINK_SOURCES = ("tc_frame.c", "tc_report.c", "tc_reporter.c")
TYPE_WINDOW = 1
SESSION_ID = 1
DEVICE_ID = 1
MSG_MAX = 1024  # largest host message the board reassembles (SAMPLES chunks)
HOLD_MS = 60_000
MAX_AGE_MS = 360_000

# Sampling period of each data source, for the validity time of a window (ms per sample).
SAMPLE_MS = {"gsb_temperature": 120_000.0, "ulb_humidity": 300_000.0, "ulb_temperature": 300_000.0,
             "intel_temperature": 31_000.0, "mitdb_mlii": 1000.0 / 360.0}

# The ECG dynamic codec: MIT-BIH MLII at 360 Hz, rhythm task (2) at a bound of 0.75 by default.
ECG_SOURCE = "mitdb_mlii"
ECG_DEFAULT_TASK, ECG_DEFAULT_BOUND_MILLI = 2, 750
ECG_MAX_PER_REPORT = 4       # worst case 17 + 4 x (6 + 4 + 3585) = 14397 B a report
ECG_BENCH_LO = 992           # "bench": a ramp around mid-scale (0 would flag it saturated: no network)
REPORT_MIN_SIZE, REPORT_DESC_HEAD, REPORT_TRIPLET, BATCH_HEADER = 15, 2, 6, 3  # docs/reports.md
WINDOW_HEADER = 4            # u16 nbits, u8 imputed, u8 config generation

AppModel = FixedModel | DynamicModel


class AppBuildError(RuntimeError):
    pass


@dataclass
class AppBuild:
    model: str
    board: str
    exe: Path
    src_dir: Path
    fw_hash: str
    session: SessionDef


def is_dynamic(model: str, models_dir: Path | None = None) -> bool:
    """`model` names the ECG dynamic codec: its name, or a codec folder (codec.json) in models_dir."""
    return model == ECG_NAME or bool(models_dir and (Path(models_dir) / model / "codec.json").is_file())


def load_app_model(model: str, models_dir: Path | None = None) -> AppModel:
    """The model the app is built for: a DynamicModel for the ECG dynamic codec (models_dir/<model>/
    if given, else $TINYCODEC_ECG_DYNAMIC or models/ecg-dynamic), else the FixedModel of get_model."""
    if is_dynamic(model, models_dir):
        from toolchain.codecs.ecg_dynamic.deployed import load_dynamic
        return load_dynamic(Path(models_dir) / model if models_dir else None)
    from ..pipeline import get_model
    return get_model(model, models_dir=models_dir)


def window_ms(fm: AppModel, source: str | None) -> int:
    """How long one window covers (temporal and ECG: n samples; spatial: one sampling instant).
    A user's file source (`source = "file"`) has the period it was trained at in model.json's meta."""
    per = SAMPLE_MS.get(source or "")
    if per is None:
        per = 1000.0 * float(fm.meta.get("period_s") or 1.0)
    return max(1, round(per * (fm.n if fm.mode in ("temporal", DynamicModel.mode) else 1)))


def session_for(fm: AppModel, source: str | None) -> SessionDef:
    return SessionDef(SESSION_ID, (TypeDef(TYPE_WINDOW, f"{fm.name}-window", 0, window_ms(fm, source), 1),))


def worst_report_bytes(out_bytes: int, per_report: int) -> int:
    """The largest report of `per_report` windows of at most out_bytes each (one descriptor)."""
    return REPORT_MIN_SIZE + REPORT_DESC_HEAD + per_report * (REPORT_TRIPLET + WINDOW_HEADER + out_bytes)


def ecg_batch_max() -> int:
    """The ECG app's TC_APP_BATCH_MAX: one worst-case report of ECG_MAX_PER_REPORT windows, batched."""
    from toolchain.codecs.ecg_dynamic.device import out_bytes
    return BATCH_HEADER + worst_report_bytes(out_bytes(), ECG_MAX_PER_REPORT)


def check_session_fits(fm: AppModel, per_report: int, max_batch: int) -> None:
    """ValueError naming the limit when the ECG app would refuse a codec session (ACK status 1):
    more than ECG_MAX_PER_REPORT windows a report, or a max_batch that a worst-case report of
    per_report windows exceeds (the reporter drops a report larger than max_batch, in any mode).
    The error-bounded app's limits are unchanged (tc_app.h) and not checked here."""
    if not isinstance(fm, DynamicModel):
        return
    from toolchain.codecs.ecg_dynamic.device import out_bytes
    if not 1 <= per_report <= ECG_MAX_PER_REPORT:
        raise ValueError(f"{fm.name}: per_report {per_report}: its link application takes 1..{ECG_MAX_PER_REPORT} "
                         f"windows a report (records reach {out_bytes()} B; toolchain/link/app.py ECG_MAX_PER_REPORT)")
    need = BATCH_HEADER + worst_report_bytes(out_bytes(), per_report)
    if not need <= max_batch <= ecg_batch_max():
        raise ValueError(f"{fm.name}: max_batch {max_batch} B with per_report {per_report}: a worst-case report "
                         f"needs {need} B (the board refuses less; at most {ecg_batch_max()} B, TC_APP_BATCH_MAX)")


def _source_of(name: str) -> str | None:
    try:
        from ..train.datasets import load_specs
        return load_specs()[name].source
    except (KeyError, FileNotFoundError, ImportError):
        return None


def _dynamic_limits() -> list[str]:
    """tc_app_session.h lines that size the app for the ECG codec's large records (tc_app.c
    includes the session header first, so these win over tc_app.h's defaults)."""
    from toolchain.codecs.ecg_dynamic.device import out_bytes
    from toolchain.codecs.ecg_dynamic.reference import N_TASK_CODES, TASK_SHIFT
    worst = worst_report_bytes(out_bytes(), ECG_MAX_PER_REPORT)
    return [
        f"/* ECG dynamic codec: records up to {out_bytes()} B (TC_OUT_BYTES); at most {ECG_MAX_PER_REPORT} a report, "
        f"a worst-case report is {worst} B */",
        f"#define TC_APP_MAX_PER_REPORT {ECG_MAX_PER_REPORT}u",
        f"#define TC_APP_BATCH_MAX {ecg_batch_max()}u /* delayed mode holds one worst-case report */",
        "#define TC_APP_CHECK_WORST_REPORT 1 /* refuse a CONFIG whose max_batch a worst-case report exceeds */",
        f"#define TC_APP_EPS_OK(eps) (((eps) >> {TASK_SHIFT}) < {N_TASK_CODES}u) /* tasks 8..15: tc_encode refuses */",
        f"#define TC_APP_BENCH_LO {ECG_BENCH_LO} /* bench windows around mid-scale, so the encoder network runs */",
        ""]


def _session_header(fm: AppModel, session: SessionDef, eps: int, source: str | None) -> str:
    data = encode_session(session)
    body = ", ".join(f"0x{b:02x}" for b in data)
    limits = _dynamic_limits() if isinstance(fm, DynamicModel) else []
    return "\n".join([
        f"/* Report session of the link application for model '{fm.name}' (generated by toolchain/link/app.py). */",
        "#ifndef TC_APP_SESSION_H", "#define TC_APP_SESSION_H", "", "#include <stdint.h>", "",
        f"#define TC_APP_DEVICE_ID {DEVICE_ID}u", f"#define TC_APP_SESSION_ID {SESSION_ID}u",
        f"#define TC_APP_WINDOW_MS {window_ms(fm, source)}ul /* one window's span */",
        f"#define TC_APP_DEFAULT_EPS {eps}u", f"#define TC_APP_MAX_AGE_MS {MAX_AGE_MS}ul",
        f"#define TC_APP_HOLD_MS {HOLD_MS}ul", f"#define TC_APP_MSG_MAX {MSG_MAX}u", "", *limits,
        "/* docs/reports.md session table (sent as a CONFIG message at start-up) */",
        f"static const uint8_t tc_app_session[{len(data)}] = {{{body}}};", "", "#endif", ""])


def _render_codec_sources(fm: AppModel, board: Board, out: Path) -> list[Path]:
    """The codec's .c files in `out`, without a harness main (the app has its own)."""
    if isinstance(fm, DynamicModel):
        from toolchain.codecs.ecg_dynamic.device import render_device_codec
        harness = board.family.codec_harness
        srcs = render_device_codec(fm, board.name, out, harness)
        main = out / HARNESS[harness]
        main.unlink()  # the UART families compile every .c of the folder: no second main
        return [p for p in srcs if p != main]
    render_codec(fm, board.name, out, "native")
    (out / "main_native.c").unlink(missing_ok=True)  # the app has its own main
    return [out / "tc_codec.c"]


def render_app(fm: AppModel, board: Board, out: Path, eps: int, source: str | None = None) -> list[Path]:
    """All C sources of the app for `board` into `out` (headers alongside); returns the .c files."""
    out.mkdir(parents=True, exist_ok=True)
    codec = _render_codec_sources(fm, board, out)
    for f in LINK_DIR.iterdir():
        shutil.copyfile(f, out / f.name)
    for f in APP_DIR.iterdir():
        shutil.copyfile(f, out / f.name)
    session = session_for(fm, source)
    (out / "tc_app_session.h").write_text(_session_header(fm, session, eps, source))
    srcs = [*codec, *(out / s for s in LINK_SOURCES), out / "tc_app.c", out / "main_app.c"]
    return [*srcs, *board.family.link_sources(board)]


def dynamic_model_hash(dm: DynamicModel) -> str:
    """What the host needs to match: codec.json, the encoder and the three decoders."""
    h = hashlib.sha256((dm.root / "codec.json").read_bytes())
    h.update(dm.encoder_tflite)
    for level in sorted(dm.decoder_q):
        h.update(dm.decoder_tflite(level))
    return h.hexdigest()


def _default_eps(model: str, fm: AppModel, models_dir: Path | None) -> int:
    """The model's first spec eps (a user's saved spec.toml first); the ECG codec: rhythm at 0.75."""
    if isinstance(fm, DynamicModel):
        from toolchain.codecs.ecg_dynamic.reference import make_eps
        return make_eps(ECG_DEFAULT_TASK, ECG_DEFAULT_BOUND_MILLI)
    from ..train.datasets import load_specs
    try:
        saved = Path(models_dir) / model / "spec.toml" if models_dir else None  # a user's spec (train --save)
        return int((load_specs(saved) if saved and saved.is_file() else load_specs())[model].eps[0])
    except (KeyError, TypeError, ValueError):
        return 1


def _app_dir(model: str, fm: AppModel, board: Board) -> Path:
    if isinstance(fm, DynamicModel):  # one folder per codec folder's encoder (dev and trained side by side)
        return stage_dir(model, board.name) / f"app-{hashlib.sha256(fm.encoder_tflite).hexdigest()[:12]}"
    return stage_dir(model, board.name) / "app"


def build_app(model: str, board_name: str = "native", eps: int | None = None,
              models_dir: Path | None = None) -> AppBuild:
    """`models_dir`: a folder of trained models (train --save --models-dir), e.g. a user's own data;
    for "ecg-dynamic" the codec folder is <models_dir>/ecg-dynamic (default: $TINYCODEC_ECG_DYNAMIC,
    else models/ecg-dynamic)."""
    fm = load_app_model(model, models_dir)
    board = load_board(board_name)
    try:
        hal = board.family.link_sources(board)
    except Unsupported as e:
        raise AppBuildError(str(e)) from None
    missing = [p for p in hal if not p.is_file()]
    if missing:
        raise AppBuildError(f"{board.name} has no link HAL ({', '.join(map(str, missing))}: tc_hal_getc that "
                            "does not block, tc_hal_millis, tc_hal_bench_counter, ...)")
    source = ECG_SOURCE if isinstance(fm, DynamicModel) else _source_of(model)
    if eps is None:
        eps = _default_eps(model, fm, models_dir)
    d = _app_dir(model, fm, board)
    src = d / "src"
    if src.exists():
        shutil.rmtree(src)
    srcs = render_app(fm, board, src, eps, source)
    fw_hash = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(src.iterdir()) if p.is_file())).hexdigest()[:16]
    m_hash = dynamic_model_hash(fm) if isinstance(fm, DynamicModel) else model_hash(fm)
    defines = {"TC_FW_HASH": f'"{fw_hash}"', "TC_MODEL_HASH": f'"{m_hash[:16]}"'}
    # TC_HAL_LINK: HALs whose tc_hal_getc blocks for the codec's serve loop poll instead.
    defines = {**defines, "TC_HAL_LINK": 1}
    try:
        exe = board.family.build_program(board, srcs, [src], d / "bin", defines=defines, name="tc_app",
                                         purpose="app").elf
    except (BuildError, FitError) as e:
        raise AppBuildError(f"building the link application for {board.name} failed: {e}") from None
    write_manifest(d, "build-app", {p.name: file_hash(p) for p in sorted(src.iterdir()) if p.is_file()},
                   {"board": board.name, "eps": eps}, [str(exe.relative_to(d))])
    return AppBuild(model, board.name, exe, src, fw_hash, session_for(fm, source))
