"""Train (resumably, phase by phase), convert to int8 and write the codec folder with its card."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from . import LOSSY_LEVELS, SEG_N, TASKS
from .deployed import DynamicModel, export
from .model import LATENT_LEN, N_PRED, codec


def take(batch, idx):
    """Rows idx of a dataclass of per-segment arrays (fields whose first axis is the segment)."""
    n = len(batch.x_norm)
    kw = {f.name: (getattr(batch, f.name)[idx] if isinstance(getattr(batch, f.name), np.ndarray)
                   and len(getattr(batch, f.name)) == n else getattr(batch, f.name))
          for f in dataclasses.fields(batch)}
    return type(batch)(**kw)


def concat(a, b):
    """Two batches stacked; array fields must agree in trailing shape (pad K/F beforehand)."""
    kw = {}
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        kw[f.name] = np.concatenate([va, vb]) if isinstance(va, np.ndarray) and va.ndim else va
    return type(a)(**kw)


def requantize_latent(q: np.ndarray, bits: int) -> np.ndarray:
    """int8 code -> B-bit u -> the int8 the host feeds the decoder (docs/ecg_dynamic.md)."""
    s = 8 - bits
    r = (1 << (s - 1)) if s > 0 else 0
    u = np.minimum((q.astype(np.int32) + 128 + r) >> s, (1 << bits) - 1)
    return ((u << s) - 128).astype(np.int8)


def fast_interpreter(tfl: bytes, batch: int):
    """tf.lite's default (optimized) kernels, batched: for bulk figures, not for bit-exactness."""
    from ...train.zoo.common import _tf
    tf = _tf()
    ip = tf.lite.Interpreter(model_content=tfl, num_threads=2)
    d = ip.get_input_details()[0]
    ip.resize_tensor_input(d["index"], [batch, *d["shape"][1:]])
    ip.allocate_tensors()
    return ip


def run_batched(tfl: bytes, x_int8: np.ndarray, batch: int = 64) -> list[np.ndarray]:
    """All outputs of tfl on x_int8 (N, ...), in TFLite output order. Graphs whose reshapes carry a
    fixed batch of 1 (the converter bakes it in) cannot be resized: those run one row at a time."""
    try:
        ip = fast_interpreter(tfl, batch)
    except RuntimeError:
        batch = 1
        ip = fast_interpreter(tfl, batch)
    di = ip.get_input_details()[0]["index"]
    outs_d = ip.get_output_details()
    res = [[] for _ in outs_d]
    n = len(x_int8)
    for b in range(0, n, batch):
        xb = x_int8[b:b + batch]
        k = len(xb)
        if k < batch:
            xb = np.concatenate([xb, np.repeat(xb[-1:], batch - k, 0)])
        ip.set_tensor(di, xb)
        ip.invoke()
        for j, o in enumerate(outs_d):
            res[j].append(ip.get_tensor(o["index"])[:k].copy())
    return [np.concatenate(r) for r in res]


def quantize_input(dm: DynamicModel, x_adu: np.ndarray) -> np.ndarray:
    """The device's integer front end on clean int adu segments (S, 2048) -> int8 (S, 2048, 1)."""
    x = np.asarray(x_adu, dtype=np.int64)
    m = (x.sum(1, keepdims=True) + 1024) >> 11
    q = dm.input_q.zero_point + (((x - m) * dm.in_mult + 32768) >> 16)
    return np.clip(q, -128, 127).astype(np.int8)[..., None]


def deployed_outputs(dm: DynamicModel, x_adu: np.ndarray) -> dict[str, np.ndarray]:
    """int8 encoder outputs {z1, z2, z3, errors} of the deployed encoder on clean segments."""
    outs = run_batched(dm.encoder_tflite, quantize_input(dm, x_adu))
    return {name: o for name, o in zip(dm.output_order, outs)}


def deployed_recon_mv(dm: DynamicModel, zq: dict[str, np.ndarray], level: int, bits: int) -> np.ndarray:
    """Mean-removed mV reconstruction (S, 2048) of one level from the encoder's int8 latent."""
    q = requantize_latent(zq[f"z{level}"], bits)
    y = run_batched(dm.decoder_tflite(level), q.reshape(len(q), LATENT_LEN[level], 1))[0].reshape(len(q), SEG_N)
    o = dm.decoder_q[level]["output"]
    return (y.astype(np.float32) - o.zero_point) * np.float32(o.scale)


def errors_float(dm: DynamicModel, eq: np.ndarray) -> np.ndarray:
    """The heads' int8 predictions (S, 12) -> task errors (the pred_scale undone)."""
    o = dm.outputs["errors"]
    scale = np.tile(np.asarray(dm.pred_scale, np.float32), len(LOSSY_LEVELS))
    return (eq.astype(np.float32) - o.zero_point) * np.float32(o.scale) / scale


PRED_RANGE = 4.0   # the 99th percentile of every task's scaled target


def pred_scales(targets: np.ndarray) -> tuple[float, ...]:
    """Per task (beat, rpeak, rhythm, weighted): PRED_RANGE / its 99th percentile over all levels,
    rounded to 3 significant digits, so every task spans a similar share of the int8 output."""
    per = targets.reshape(len(targets), len(LOSSY_LEVELS), N_PRED)
    p99 = np.percentile(per, 99, axis=(0, 1))
    return tuple(float(f"{PRED_RANGE / max(float(v), 1e-6):.3g}") for v in p99)


def _convert(enc, decs, rep_x: np.ndarray, bits: int, task_weights: dict, out: Path, meta: dict,
             pred_scale: tuple[float, ...] | None = None) -> DynamicModel:
    from ...train.zoo.common import convert_int8
    enc1, _sh1, decs1 = codec(1)
    enc1.set_weights(enc.get_weights())
    tfl_e = convert_int8(enc1, rep_x[..., None])
    zs = enc.predict(rep_x[..., None], verbose=0, batch_size=256)[:3]
    tfl_d = {}
    for lv in LOSSY_LEVELS:
        decs1[lv].set_weights(decs[lv].get_weights())
        tfl_d[lv] = convert_int8(decs1[lv], zs[lv - 1])
    return export(out, tfl_e, tfl_d, bits, task_weights, meta, pred_scale)


def level_targets(dm: DynamicModel, tasks, batch, x_adu: np.ndarray, bits: int) -> np.ndarray:
    """Real per-segment task errors of each level's deployed reconstruction: (S, 3 * N_PRED)."""
    zq = deployed_outputs(dm, x_adu)
    cols = []
    for lv in LOSSY_LEVELS:
        xh = deployed_recon_mv(dm, zq, lv, bits)
        xh = xh - xh.mean(1, keepdims=True)
        tl = tasks.segment_losses_np(xh, batch)
        per = [tl[t] for t in TASKS]
        per.append(sum(tasks.weights[t] * tl[t] for t in TASKS))
        cols.append(np.stack(per, 1))
    return np.concatenate(cols, 1).astype(np.float32)


def train_and_export(cfg, out: Path | None = None, restart: bool = False) -> DynamicModel:
    from ...data import mitdb_split
    from ...train.zoo.common import _limit_threads, _seed
    from .deployed import default_dir
    from .segments import record_segments
    from .train import _ds1_segments, _log, phase1, phase2, phase3, plot_history, work_dir

    out = Path(out) if out else default_dir()
    wd = work_dir()
    wd.mkdir(parents=True, exist_ok=True)
    _limit_threads(2)
    _seed(cfg.seed)
    split = mitdb_split()
    hist_p = wd / "history.json"
    history = json.loads(hist_p.read_text()) if hist_p.is_file() and not restart else {}
    times = history.setdefault("seconds", {})
    enc, _sh, decs = codec()
    tr = _ds1_segments(split["train"])
    va = _ds1_segments(split["val"])

    def saved(phase):
        p = wd / f"{phase}.weights.npz"
        if restart or not p.is_file():
            return False
        w = np.load(p)
        enc.set_weights([w[f"e{i}"] for i in range(len(enc.weights))])
        for lv in LOSSY_LEVELS:
            decs[lv].set_weights([w[f"d{lv}_{i}"] for i in range(len(decs[lv].weights))])
        _log(f"{phase}: resumed from {p}")
        return True

    def save(phase):
        arrs = {f"e{i}": v for i, v in enumerate(enc.get_weights())}
        for lv in LOSSY_LEVELS:
            arrs.update({f"d{lv}_{i}": v for i, v in enumerate(decs[lv].get_weights())})
        np.savez(wd / f"{phase}.weights.npz", **arrs)
        hist_p.write_text(json.dumps(history, indent=1))

    if not saved("phase1"):
        t0 = time.time()
        history["phase1"] = []
        phase1(enc, decs, cfg, tr, va, history)
        times["phase1"] = time.time() - t0
        save("phase1")
    from .downstream import cinc_task_batch, load_tasks, mitdb_task_batch  # after phase 1: it needs none
    tasks = load_tasks()
    tb = mitdb_task_batch(split["train"])
    if not saved("phase2"):
        t0 = time.time()
        history["phase2"] = []
        cb = cinc_task_batch("train")
        phase2(enc, decs, tasks, cfg, tb, cb, va, history)
        times["phase2"] = time.time() - t0
        save("phase2")
    rep_i = np.linspace(0, len(tr) - 1, 200).round().astype(int)
    meta = {"train": dataclasses.asdict(cfg), "records": split}
    tmp = wd / "stage_phase2"
    dm = _convert(enc, decs, tr[rep_i], cfg.latent_bits, tasks.weights, tmp, meta)
    x_tr_adu = np.concatenate([record_segments(r).x for r in split["train"]])
    x_va_adu = np.concatenate([record_segments(r).x for r in split["val"]])
    vb = mitdb_task_batch(split["val"])
    # Phase 3's targets: the frozen tasks were trained on the DS1 training records, so their errors
    # there are optimistic; the validation records are the only DS1 patients they never saw. The
    # heads learn from both pooled (curves: MSE on the validation records' share).
    tg_p = wd / f"phase3_targets_b{cfg.latent_bits}.npz"
    if tg_p.is_file() and not restart:
        t = np.load(tg_p)
        tt, vt = t["train"], t["val"]
    else:
        tt = level_targets(dm, tasks, tb, x_tr_adu, cfg.latent_bits)
        vt = level_targets(dm, tasks, vb, x_va_adu, cfg.latent_bits)
        np.savez(tg_p, train=tt, val=vt)
    scale = pred_scales(np.concatenate([tt, vt]))
    meta["pred_scale_from"] = "PRED_RANGE / 99th percentile of the pooled phase-3 targets per task"
    s12 = np.tile(np.asarray(scale, np.float32), len(LOSSY_LEVELS))
    if not saved("phase3"):
        t0 = time.time()
        history["phase3"] = []
        phase3(enc, cfg, np.concatenate([tr, va]), np.concatenate([tt, vt]) * s12, va, vt * s12, history)
        times["phase3"] = time.time() - t0
        save("phase3")
    plot_history(history, wd / "curves.png")
    dm = _convert(enc, decs, tr[rep_i], cfg.latent_bits, tasks.weights, out, meta, scale)
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    plot_history(history, out / "curves.png")
    from .card import level_footprints, write_card
    val = validation_figures(dm, tasks, vb, x_va_adu)
    write_card(out, dm, enc, decs, level_footprints(enc, tr[rep_i], dm.encoder_tflite), history, val, cfg,
               tasks.weights)
    _log(f"wrote {out}")
    return dm


def validation_figures(dm: DynamicModel, tasks, vb, x_adu: np.ndarray) -> dict[str, str]:
    """PRD per level and latent width, and how well the heads predict the real errors (DS1 validation)."""
    zq = deployed_outputs(dm, x_adu)
    xm = x_adu.astype(np.float64)
    xm = (xm - xm.mean(1, keepdims=True)) / 200.0
    out = {}
    for lv in LOSSY_LEVELS:
        prds = []
        for b in (4, 5, 6, 7, 8):
            xh = deployed_recon_mv(dm, zq, lv, b).astype(np.float64)
            xh -= xh.mean(1, keepdims=True)
            prds.append(f"B={b}: {np.mean(100 * np.linalg.norm(xm - xh, axis=1) / np.maximum(np.linalg.norm(xm, axis=1), 1e-9)):.1f}")
        out[f"PRDN % level {lv} (CG {2048 // LATENT_LEN[lv]}) by latent bits"] = ", ".join(prds)
    pred = errors_float(dm, zq["errors"])
    real = level_targets(dm, tasks, vb, x_adu, dm.latent_bits)
    names = (*TASKS, "weighted")
    for lv in LOSSY_LEVELS:
        cs = []
        for t, n in enumerate(names):
            j = N_PRED * (lv - 1) + t
            c = np.corrcoef(pred[:, j], real[:, j])[0, 1] if np.std(pred[:, j]) > 0 else float("nan")
            cs.append(f"{n} r={c:.2f} (mean real {real[:, j].mean():.3f}, predicted {pred[:, j].mean():.3f})")
        out[f"predictor vs real error, level {lv}"] = "; ".join(cs)
    return out
