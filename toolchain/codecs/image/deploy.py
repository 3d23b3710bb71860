"""The image codec's encoder as it is deployed (issue 14): int8 C on the boards, and the K210 KPU.

    python -m toolchain.codecs.image.deploy --model NAME [--images 4] [--boards native k210-qemu cortex-m-qemu]
                                            [--out results/image_deploy.csv]

What is checked. The camera runs the encoder once per patch (codec_model.py: the image cut into
1, 4 or 16 patches). ``encoder_tflite`` quantizes the batch-1 per-patch encoder to int8
(Codec.encoder_int8, calibrated on representative images); toolchain.nn.codegen renders it as C.

``deploy_rows``: one row per board. Every patch of the given images, quantized as the int8
model's input says (quantize_like_tflite of pixel / 255), goes through the generated C on the
board (the host build, the K210's QEMU twin, the Cortex-M4's QEMU twin, ...) and through TFLite
Micro's Python interpreter (reference kernels, toolchain.nn.tflm_reference); bit-exact means the
int8 latent bytes are equal for every patch (patches_equal of patches_run). The board's counter
(nn-verify's: exact retired instructions on QEMU, corrected cycles on the MSP430 simulator,
nothing on the host; count_kind says which) gives instr_per_patch (mean and max) and
instr_per_image (the sum over an image's patches, mean over images); instr_per_mac divides by the
multiply-accumulates of one patch (the lowered convolutions'). arena_bytes and weight_bytes are the
generated C's static arena and constants; model_flash_bytes / model_ram_bytes the model's own
objects compiled for the board (toolchain.nn.targets.model_footprint). A board the model does not
fit (FitError) or that cannot run here (a real board without its emulator: Unsupported) gets a row
with status "skipped: <why>". Patches go to a board in runs of at most VECTOR_BUDGET bytes and
MAC_BUDGET MACs (each run is one build with its inputs embedded).

``kpu_row``: the KPU. toolchain.kendryte.kpu.place_model says where nncase puts each layer of the
int8 encoder: kpu_layers of compute_layers (layers computing on their own: a max-pool fused into
the KPU conv before it computes there and is counted as 'none'). Then nncase 1.9 compiles the
encoder's float twin (kpu.float_tflite; nncase imports float TFLite only and quantizes itself,
calibrated here on the dequantized int8 representative patches) to a kmodel; its placement (from
its IR dump, nncase_stage.layer_placements_nncase) is compared with ours layer by layer
(placement_agree of layers), and its simulator runs the same patches (the int8 input dequantized:
the real values the int8 encoder sees). sim_*_lsb: the simulator's float output put on the int8
output's grid (quantize_like_tflite) against TFLite Micro's int8 output, in LSB; sim_vs_float_max_lsb
the simulator against the float twin it was given. Without nncase for the K210 (detect_nncase)
the nncase columns stay empty and status is "skipped: <why>". nncase's simulator is a software
model of the K210 runtime and KPU, not the chip.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from ... import paths
from .codec_model import Codec, check_images, patchify

__all__ = ["BOARDS", "FIELDS", "KPU_BOARD", "deploy_rows", "encoder_tflite", "kpu_row", "main",
           "patch_inputs", "write_csv"]

BOARDS = ("native", "k210-qemu", "cortex-m-qemu")
KPU_BOARD = "k210-kpu"        # the KPU row's board column
N_CALIB_PATCHES = 32          # nncase's calibration: at most this many representative patches
VECTOR_BUDGET = 256 * 1024    # input bytes embedded in one board run
MAC_BUDGET = 400_000_000      # MACs of one board run (QEMU's timeout grows with the inputs only)
FIELDS = ["model", "board", "status", "bit_exact", "patches_equal", "patches_run", "images", "count_kind",
          "instr_per_patch", "instr_per_patch_max", "instr_per_image", "macs_per_patch", "instr_per_mac",
          "arena_bytes", "weight_bytes", "model_flash_bytes", "model_ram_bytes",
          "kpu_layers", "compute_layers", "kpu_mac_share", "peak_kpu_bytes", "nncase", "nncase_kpu_layers",
          "placement_agree", "layers", "kmodel_bytes", "sim_max_abs_lsb", "sim_mean_abs_lsb",
          "sim_equal_share", "sim_vs_float_max_lsb", "encoder_sha", "note"]


def _say(msg: str) -> None:
    if sys.stderr.isatty():
        print(f"[image-deploy] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- inputs

def encoder_tflite(codec: Codec, representative: np.ndarray) -> bytes:
    """The int8 batch-1 per-patch encoder, calibrated on representative uint8 images."""
    return codec.encoder_int8(representative)


def _images(codec: Codec, images_uint8, n_images: int | None) -> np.ndarray:
    imgs = check_images(images_uint8, codec.config)
    if n_images is not None:
        if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
            raise ValueError(f"n_images {n_images!r}: an integer >= 1 (or None: every image given)")
        imgs = imgs[:n_images]
    return imgs


def _io_quant(tfl: bytes) -> tuple[tuple[float, int], tuple[float, int]]:
    from ...nn.tflite_model import read_tflite
    g = read_tflite(tfl)
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise ValueError(f"the encoder has {len(g.inputs)} inputs and {len(g.outputs)} outputs; expected 1 and 1")
    qs = []
    for i in (g.inputs[0], g.outputs[0]):
        t = g.tensors[i]
        if t.dtype != "int8" or t.quant is None or len(t.quant.scale) != 1:
            raise ValueError(f"encoder tensor {t.name!r} is {t.dtype}; expected per-tensor int8 "
                             "(Codec.encoder_int8 gives it)")
        qs.append((float(t.quant.scale[0]), int(t.quant.zero_point[0])))
    return qs[0], qs[1]


def patch_inputs(codec: Codec, images_uint8, tfl: bytes) -> np.ndarray:
    """Every patch of the images as the int8 encoder's input, (N * patches, P_h, P_w, 3) int8:
    quantize_like_tflite(pixel / 255) with the model's input scale and zero point."""
    from ...train.zoo.common import quantize_like_tflite
    imgs = check_images(images_uint8, codec.config)
    (s, zp), _ = _io_quant(tfl)
    return quantize_like_tflite(patchify(imgs.astype(np.float32) / 255.0, codec.config), s, zp)


def _reference(tfl: bytes, xs: np.ndarray) -> list[bytes]:
    from ...nn.tflm_reference import run_tflm_all
    return [b"".join(np.ascontiguousarray(o).tobytes() for o in outs)
            for outs in run_tflm_all(tfl, [x[None] for x in xs])]


def _default_work(tfl: bytes) -> Path:
    return paths.build_dir() / "image-codec" / "deploy" / hashlib.sha256(tfl).hexdigest()[:12]


def _resolve_boards(boards) -> list:
    from ...boards import load_board
    if isinstance(boards, str):
        boards = [boards]
    if not boards:
        raise ValueError("boards: name at least one board (e.g. native, k210-qemu, cortex-m-qemu)")
    return [load_board(b) for b in boards]      # UnknownBoardError lists the boards there are


# ---------------------------------------------------------------- boards

def _run_chunks(gen, board, vectors: list[bytes], work: Path, per_run: int):
    """run_on_board in runs of at most per_run vectors: (outputs, counts, count_kind). A FitError of
    a run of several vectors (the embedded inputs count against the board's memory) is retried with
    fewer; one of a single vector is the model's own and propagates."""
    from ...families.common import FitError
    from ...nn.targets import run_on_board
    outs: list[bytes] = []
    counts: list[int | None] = []
    kind = ""
    k = 0
    while k < len(vectors):
        part = vectors[k:k + per_run]
        try:
            run = run_on_board(gen, board, part, work, measure=True)
        except FitError:
            if len(part) == 1:
                raise
            per_run = max(1, per_run // 4)
            continue
        outs += run.outputs
        counts += run.counts
        kind = run.count_kind
        k += len(part)
        _say(f"{board.name}: {k}/{len(vectors)} patches")
    return outs, counts, kind


def _board_row(name: str, board, gen, xs: np.ndarray, ref: list[bytes], n_images: int, work: Path,
               sha: str) -> dict:
    from ...families.common import FitError, Unsupported
    from ...nn.targets import TargetError, model_footprint
    macs = sum(s.macs for s in gen.lowered.steps)
    row = {"model": name, "board": board.name, "images": n_images, "macs_per_patch": macs,
           "arena_bytes": gen.arena_bytes, "weight_bytes": gen.weight_bytes, "encoder_sha": sha}
    try:
        board.family.check_runnable(board)
    except Unsupported as e:
        return {**row, "status": f"skipped: Unsupported: {e}", "bit_exact": False, "patches_run": 0,
                "patches_equal": 0}
    try:
        fp = model_footprint(gen, board, work)
        row.update(model_flash_bytes=fp["flash"], model_ram_bytes=fp["ram"])
    except TargetError as e:      # no compiler for objects: the sizes stay empty, the run says more
        row["note"] = f"footprint: {e}"
    vectors = [np.ascontiguousarray(x).tobytes() for x in xs]
    per_run = max(1, min(VECTOR_BUDGET // max(1, len(vectors[0])), MAC_BUDGET // max(1, macs)))
    t0 = time.time()
    try:
        outs, counts, kind = _run_chunks(gen, board, vectors, work / "run", per_run)
    except FitError as e:
        return {**row, "status": f"skipped: FitError: {e}", "bit_exact": False, "patches_run": 0,
                "patches_equal": 0}
    equal = sum(o == r for o, r in zip(outs, ref))
    row.update(patches_run=len(outs), patches_equal=equal, bit_exact=equal == len(outs) == len(ref) > 0,
               count_kind=kind, status="ok" if equal == len(ref) else f"mismatch: {len(ref) - equal} patches differ")
    got = [c for c in counts if c is not None]
    if got and len(got) == len(counts):
        per = np.asarray(got, np.int64)
        per_image = per.reshape(n_images, -1).sum(axis=1)
        row.update(instr_per_patch=float(per.mean()), instr_per_patch_max=int(per.max()),
                   instr_per_image=float(per_image.mean()), instr_per_mac=float(per.mean()) / macs if macs else None)
    _say(f"{board.name}: {equal}/{len(outs)} patches bit-exact in {time.time() - t0:.0f} s")
    return row


def deploy_rows(codec: Codec, images_uint8, boards=BOARDS, work_dir: str | Path | None = None,
                n_images: int | None = None, *, representative=None, tflite: bytes | None = None,
                name: str = "") -> list[dict]:
    """One row per board (FIELDS): the int8 encoder's generated C on every patch of the images
    against TFLite Micro, with the board's counts and the model's sizes (module docstring).

    images_uint8: (N, H, W, 3) uint8 at the codec's image size; n_images: the first n only (None:
    all). representative: uint8 images the int8 conversion calibrates on (default: the images);
    tflite: an int8 encoder already converted (encoder_tflite), instead of converting here.
    work_dir: where the C and the builds go (default build/image-codec/deploy/<encoder hash>).
    Raises UnknownBoardError for a board that is not in targets/, ValueError for images of the
    wrong shape or type; a board the model does not fit gives a 'skipped: FitError: ...' row."""
    from ...nn.codegen import generate_nn
    imgs = _images(codec, images_uint8, n_images)
    resolved = _resolve_boards(boards)
    tfl = tflite if tflite is not None else encoder_tflite(codec, imgs if representative is None else representative)
    work = Path(work_dir) if work_dir is not None else _default_work(tfl)
    sha = hashlib.sha256(tfl).hexdigest()[:16]
    gen = generate_nn(tfl, work / "c", name="starfish_encoder")
    xs = patch_inputs(codec, imgs, tfl)
    _say(f"{len(xs)} patches of {len(imgs)} images; TFLite Micro reference ...")
    ref = _reference(tfl, xs)
    return [_board_row(name, b, gen, xs, ref, len(imgs), work / b.name, sha) for b in resolved]


# ---------------------------------------------------------------- KPU

def kpu_row(codec: Codec, images_uint8, work_dir: str | Path | None = None, n_images: int | None = None, *,
            representative=None, tflite: bytes | None = None, status=None, name: str = "") -> dict:
    """The KPU row (FIELDS): our placement of the int8 encoder's layers, nncase 1.9's compile and
    placement of it, and the kmodel simulator's output against TFLite Micro's int8 output on every
    patch of the images (module docstring). Arguments as deploy_rows; status: a
    nncase_stage.NncaseStatus (default detect_nncase()). Without nncase for the K210 the row's
    status is 'skipped: <why>' (the placement columns are still ours); an nncase failure gives
    'failed: <nncase's words>'."""
    from ...kendryte import nncase_stage as nn
    from ...kendryte.kpu import kpu_summary, place_model
    imgs = _images(codec, images_uint8, n_images)
    tfl = tflite if tflite is not None else encoder_tflite(codec, imgs if representative is None else representative)
    work = Path(work_dir) if work_dir is not None else _default_work(tfl) / "kpu"
    pl = place_model(tfl)
    s = kpu_summary(pl)
    compute = [p for p in pl if p.placement != "none"]
    row = {"model": name, "board": KPU_BOARD, "images": len(imgs), "macs_per_patch": s["macs"],
           "kpu_layers": s["kpu_layers"], "compute_layers": len(compute), "kpu_mac_share": s["kpu_mac_share"],
           "peak_kpu_bytes": s["peak_kpu_bytes"], "layers": len(pl),
           "encoder_sha": hashlib.sha256(tfl).hexdigest()[:16]}
    off = [f"{p.layer} ({p.placement}: {p.reason})" for p in compute if p.placement != "KPU"]
    notes = [f"not on the KPU: {'; '.join(off)}"] if off else []
    st = status or nn.detect_nncase()
    if not st.available("k210"):
        return {**row, "status": f"skipped: {st.missing('k210')}", "note": " | ".join(notes)}
    from ...kendryte.kpu.float_tflite import float_tflite_from_int8
    from ...train.zoo.common import quantize_like_tflite
    (s_in, zp_in), (s_out, zp_out) = _io_quant(tfl)
    xs = patch_inputs(codec, imgs, tfl)
    rep = xs if representative is None else patch_inputs(codec, representative, tfl)
    rep = rep[np.unique(np.linspace(0, len(rep) - 1, min(N_CALIB_PATCHES, len(rep))).round().astype(int))]

    def real(q):   # what the int8 encoder's input stands for: nncase is fed these values
        return (q.astype(np.float32) - np.float32(zp_in)) * np.float32(s_in)

    work.mkdir(parents=True, exist_ok=True)
    ftfl = work / "encoder.float.tflite"
    ftfl.write_bytes(float_tflite_from_int8(tfl))
    dump = work / "nncase_dump"
    row["nncase"] = st.k210_nncase
    try:
        _say(f"nncase {st.k210_nncase}: compiling the kmodel (calibrated on {len(rep)} patches) ...")
        km = nn.compile_kmodel(ftfl, real(rep), "k210", work / "encoder.kmodel", dump_dir=dump, status=st)
        _say(f"nncase simulator: {len(xs)} patches ...")
        sim = nn.simulate_kmodel(km, ftfl, real(xs), status=st)
    except nn.NncaseError as e:
        return {**row, "status": f"failed: {e}", "note": " | ".join(notes)}
    from ...nn.tflite_model import read_tflite
    g = read_tflite(tfl)
    where = nn.layer_placements_nncase([p.tensor for p in pl], nn.nncase_placement(dump),
                                       output_tensor=g.tensors[g.outputs[0]].name)
    differ = [f"{p.layer}: ours {p.placement}, nncase {w} ({detail})"
              for p, (w, detail) in zip(pl, where) if w != p.placement]
    if differ:
        notes.append(f"placement differs: {'; '.join(differ)}")
    ref = np.stack([np.frombuffer(r, np.int8) for r in _reference(tfl, xs)]).astype(np.int64)
    yq = quantize_like_tflite(sim.outputs.reshape(ref.shape), s_out, zp_out).astype(np.int64)
    d = np.abs(yq - ref)
    row.update(status="ok", nncase_kpu_layers=sum(w == "KPU" for w, _ in where),
               placement_agree=len(pl) - len(differ), kmodel_bytes=km.stat().st_size,
               sim_max_abs_lsb=int(d.max()), sim_mean_abs_lsb=float(d.mean()),
               sim_equal_share=float(np.mean(d == 0)), sim_vs_float_max_lsb=sim.max_abs_err / s_out,
               note=" | ".join(notes + [sim.note]))
    return row


# ---------------------------------------------------------------- CSV, CLI

def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def write_csv(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in FIELDS})
    return path


def summary_lines(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        if r["board"] == KPU_BOARD:
            line = (f"{KPU_BOARD}: {r['kpu_layers']}/{r['compute_layers']} compute layers on the KPU "
                    f"({r['kpu_mac_share']:.0%} of MACs, peak KPU RAM {r['peak_kpu_bytes']} B)")
            if r["status"] == "ok":
                line += (f"; nncase {r['nncase']} agrees on {r['placement_agree']}/{r['layers']} layers, "
                         f"kmodel {r['kmodel_bytes']} B, simulator vs TFLite int8 max {r['sim_max_abs_lsb']} LSB "
                         f"(mean {r['sim_mean_abs_lsb']:.3f}, equal {r['sim_equal_share']:.1%})")
            else:
                line += f"; nncase {r['status']}"
        elif r["status"].startswith("skipped"):
            line = f"{r['board']}: {r['status']}"
        else:
            line = (f"{r['board']}: {r['patches_equal']}/{r['patches_run']} patches bit-exact with TFLite Micro; "
                    f"arena {r['arena_bytes']} B, weights {r['weight_bytes']} B")
            if r.get("instr_per_patch") is not None:
                line += (f"; {r['instr_per_patch']:.0f} {r['count_kind']} per patch, "
                         f"{r['instr_per_image']:.0f} per image, {r['instr_per_mac']:.2f} per MAC")
        out.append(line)
    return out


def _calibration(dataset: str, n: int, size: int) -> np.ndarray:
    """n training images of the dataset, evenly over its list (what the deployed int8 encoder is
    calibrated on; the held-out images stay held out)."""
    from .dataset import load_array, records
    from .rate_quality import FIT
    recs = records(dataset, "train")
    idx = np.unique(np.linspace(0, len(recs) - 1, min(n, len(recs))).round().astype(int))
    return load_array([recs[i] for i in idx], size, FIT[dataset])


def _load_image_file(path: Path) -> np.ndarray:
    if path.suffix == ".npz":
        with np.load(path) as z:
            return np.asarray(z[z.files[0]])
    return np.load(path)


def main(argv: list[str] | None = None) -> int:
    from ...boards import UnknownBoardError
    from ...data.root import DataError
    from .artifacts import load_codec
    ap = argparse.ArgumentParser(description="The image codec's int8 encoder on the boards (bit-exact vs "
                                             "TFLite Micro, instructions) and on the K210 KPU (nncase)")
    ap.add_argument("--model", required=True, help="models/image-codec/<NAME> or a codec folder")
    ap.add_argument("--images", type=int, default=4, help="held-out images (every patch of each is run)")
    ap.add_argument("--dataset", default="flowers", choices=["flowers", "kodak"], help="held-out images from")
    ap.add_argument("--image-file", type=Path, default=None,
                    help="a .npy/.npz of uint8 (N, H, W, 3) images instead of the dataset (also the calibration)")
    ap.add_argument("--calib", type=int, default=16, help="flowers training images the int8 encoder is calibrated on")
    ap.add_argument("--boards", nargs="+", default=list(BOARDS))
    ap.add_argument("--no-kpu", action="store_true", help="leave out the KPU / nncase row")
    ap.add_argument("--out", type=Path, default=paths.results_dir() / "image_deploy.csv")
    ap.add_argument("--work", type=Path, default=None, help="keep the C, builds and kmodel here")
    a = ap.parse_args(argv)
    try:
        for opt, v in (("--images", a.images), ("--calib", a.calib)):
            if v < 1:
                raise ValueError(f"{opt} {v}: at least 1")
        codec = load_codec(a.model)
        _resolve_boards(a.boards)
        h, w = codec.config.image_size
        if a.image_file is not None:
            imgs = check_images(_load_image_file(a.image_file), codec.config, str(a.image_file))[:a.images]
            rep = imgs
        else:
            if h != w:
                raise ValueError(f"the codec is for {h}x{w} images; the held-out sets are square "
                                 "(pass --image-file)")
            from .rate_quality import held_out
            imgs = np.stack(held_out(a.dataset, a.images, size=h))
            rep = _calibration("flowers", a.calib, h)
        t0 = time.time()
        tfl = encoder_tflite(codec, rep)
        work = a.work or _default_work(tfl)
        rows = deploy_rows(codec, imgs, a.boards, work, tflite=tfl, name=a.model)
        if not a.no_kpu:
            rows.append(kpu_row(codec, imgs, work / "kpu", representative=rep, tflite=tfl, name=a.model))
    except (FileNotFoundError, ValueError, UnknownBoardError, DataError) as e:
        print(f"image deploy: {e}", file=sys.stderr)
        return 2
    for line in summary_lines(rows):
        print(line)
    write_csv(rows, a.out)
    print(f"wrote {a.out} ({len(rows)} rows, {time.time() - t0:.0f} s)")
    bad = [r for r in rows if r["status"].startswith(("mismatch", "failed"))]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
