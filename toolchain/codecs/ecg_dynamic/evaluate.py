"""DS2 evaluation: per-level reconstructions and real task errors, the device's selection for a sweep
of bounds, the paper's feedback-aware oracles, fixed levels and classical codecs at equal bit rate.

Counting:
- avg_cg_samples: the paper's figure, the mean over segments of 2048 / (values sent) (1 for lossless);
- avg_cg_bits: every bit sent against the raw 11-bit samples, as a ratio of totals
  (sum 11 * 2048 / sum bits sent: level id, flags, mean, latent bits, lossless Rice code);
- violation_rate: share of segments sent lossy whose real task error exceeds the bound (a fallback
  to lossless cannot violate it: the codec adds nothing there); exceed_rate: share of all segments
  whose real error at the chosen level exceeds the bound (includes the task's own errors on raw);
- prd: 100 ||x - x^|| / ||x - 1024|| (the 11-bit ADC's baseline removed), prdn: on mean-removed
  segments, both averaged over segments (lossless segments count with 0); prd_minmax: the paper's
  published code's PRD, on windows min-max scaled to [0, 1] by the original's range (its DC stays in
  the denominator, so it reads far lower than prd/prdn: only for comparison with such papers).
Every figure is on the deployed path: the int8 encoder (tf.lite optimized kernels for bulk; the
device equals the TFLite Micro reference, checked separately), B-bit latent, int8 decoders.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import ADC_BITS, LEVEL_CG, LOSSY_LEVELS, SEG_N, TASKS
from .deployed import DynamicModel, TASK_IDS
from .model import LATENT_LEN, N_PRED

TASK_NAMES = (*TASKS, "weighted")


def lossy_bits(level: int, latent_bits: int) -> int:
    return 4 + 11 + LATENT_LEN[level] * latent_bits


def lossless_bits(x_adu: np.ndarray) -> np.ndarray:
    """Exact size of level 0 for clean segments (S, 2048): header 4 + first 11 + k 4 + Rice deltas."""
    x = np.asarray(x_adu, dtype=np.int64)
    d = np.diff(x, axis=1)
    z = np.where(d >= 0, 2 * d, -2 * d - 1)
    costs = np.stack([((z >> k) + 1 + k).sum(1) for k in range(16)], 1)
    return 4 + 11 + 4 + costs.min(1)


def flags(x_adu: np.ndarray) -> np.ndarray:
    """Per segment: 0 none, 1 flat, 2 saturated (docs/ecg_dynamic.md); MIT-BIH has no missing samples."""
    x = np.asarray(x_adu)
    f = np.zeros(len(x), np.int8)
    f[(x == 0).any(1) | (x == (1 << ADC_BITS) - 1).any(1)] = 2
    f[x.max(1) == x.min(1)] = 1
    return f


@dataclass
class LevelData:
    """Everything per DS2 segment and level that the selection sweeps reuse."""
    x: np.ndarray                       # (S, 2048) adu
    record: np.ndarray                  # (S,)
    seg: np.ndarray                     # (S,) segment index within its record
    recon: dict[int, np.ndarray]        # level -> (S, 2048) adu (0: x itself)
    err: dict[int, np.ndarray]          # level -> (S, 4) real errors beat, rpeak, rhythm, weighted
    pred_q: dict[int, np.ndarray]       # level -> (S, 4) int8 predictions
    bits: dict[int, np.ndarray]         # level -> (S,) bits sent
    flag: np.ndarray                    # (S,)
    extra: dict = field(default_factory=dict)


def reconstruct(dm: DynamicModel, x_adu: np.ndarray, bits: int) -> tuple[dict, dict]:
    """level -> adu reconstruction, and level -> int8 predictions, for clean segments."""
    from .export import deployed_outputs, deployed_recon_mv
    zq = deployed_outputs(dm, x_adu)
    m = (x_adu.astype(np.int64).sum(1, keepdims=True) + 1024) >> 11
    rec, pq = {0: x_adu.astype(np.int64)}, {}
    for lv in LOSSY_LEVELS:
        y = deployed_recon_mv(dm, zq, lv, bits).astype(np.float64)
        rec[lv] = np.clip(np.round(m + 200.0 * y), 0, 2047).astype(np.int64)
        pq[lv] = zq["errors"][:, N_PRED * (lv - 1): N_PRED * lv].astype(np.int64)
    return rec, pq


def task_errors(tasks, batch, recon_adu: np.ndarray) -> np.ndarray:
    from .segments import normalize
    tl = tasks.segment_losses_np(normalize(recon_adu), batch)
    per = [np.asarray(tl[t], np.float64) for t in TASKS]
    per.append(sum(tasks.weights[t] * per[i] for i, t in enumerate(TASKS)))
    return np.stack(per, 1)


def level_data(dm: DynamicModel, tasks, records, bits: int | None = None) -> LevelData:
    from .segments import record_segments
    from .downstream import mitdb_task_batch
    bits = bits or dm.latent_bits
    x = np.concatenate([record_segments(r).x for r in records]).astype(np.int64)
    rec_id = np.concatenate([[r] * record_segments(r).n_segments for r in records])
    seg = np.concatenate([np.arange(record_segments(r).n_segments) for r in records])
    batch = mitdb_task_batch(records)
    recon, pq = reconstruct(dm, x, bits)
    err = {lv: task_errors(tasks, batch, recon[lv]) for lv in (0, *LOSSY_LEVELS)}
    b = {0: lossless_bits(x)}
    for lv in LOSSY_LEVELS:
        b[lv] = np.full(len(x), lossy_bits(lv, bits))
    return LevelData(x, rec_id, seg, recon, err, pq, b, flags(x), {"batch": batch, "latent_bits": bits})


# ---------------------------------------------------------------- selection


def select_dynamic(dm: DynamicModel, ld: LevelData, task: str, bound: float) -> np.ndarray:
    """The device's choice per segment (integer thresholds on the int8 predictions)."""
    from .reference import select_levels, threshold_q
    t = TASK_IDS[task]
    errors_q = np.concatenate([ld.pred_q[level] for level in LOSSY_LEVELS], axis=1)
    lv = select_levels(errors_q, threshold_q(dm, t, int(round(bound * 1000))), t).astype(np.int8)
    lv[ld.flag != 0] = 0
    return lv


def select_oracle(ld: LevelData, task: str, bound: float, levels: tuple[int, ...]) -> np.ndarray:
    """Feedback-aware: the highest CG of `levels` whose *real* error meets the bound, else lossless."""
    t = TASK_NAMES.index(task)
    lv = np.zeros(len(ld.x), np.int8)
    for level in sorted(levels):
        lv[ld.err[level][:, t] <= bound] = level
    lv[ld.flag != 0] = 0
    return lv


def select_fixed(ld: LevelData, level: int) -> np.ndarray:
    lv = np.full(len(ld.x), level, np.int8)
    lv[ld.flag != 0] = 0
    return lv


def gather(d: dict[int, np.ndarray], lv: np.ndarray) -> np.ndarray:
    out = np.array(d[0], copy=True)
    for level in LOSSY_LEVELS:
        m = lv == level
        out[m] = d[level][m]
    return out


# ---------------------------------------------------------------- figures


def prd_pair(x: np.ndarray, xh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = x.astype(np.float64)
    xh = xh.astype(np.float64)
    e = np.linalg.norm(x - xh, axis=1)
    prd = 100 * e / np.maximum(np.linalg.norm(x - 1024.0, axis=1), 1e-9)
    xm = x - x.mean(1, keepdims=True)
    prdn = 100 * e / np.maximum(np.linalg.norm(xm, axis=1), 1e-9)
    return prd, prdn


def prd_minmax(x: np.ndarray, xh: np.ndarray) -> np.ndarray:
    """PRD in % of min-max scaled windows (the Dynamic-Deep code's scoring), per segment."""
    x = x.astype(np.float64)
    lo, hi = x.min(1, keepdims=True), x.max(1, keepdims=True)
    span = np.maximum(hi - lo, 1e-9)
    xs, xhs = (x - lo) / span, (xh.astype(np.float64) - lo) / span
    return 100 * np.linalg.norm(xs - xhs, axis=1) / np.maximum(np.linalg.norm(xs, axis=1), 1e-9)


def summarize(ld: LevelData, lv: np.ndarray | None, task: str | None, bound: float | None,
              recon: np.ndarray | None = None, bits: np.ndarray | None = None,
              err: np.ndarray | None = None) -> dict:
    """Figures of one selection (lv) or of a whole-reconstruction baseline (recon, bits, err)."""
    if lv is not None:
        recon = gather(ld.recon, lv)
        bits = gather({k: v[:, None] for k, v in ld.bits.items()}, lv)[:, 0]
        err = gather(ld.err, lv)
        cg_s = np.array([LEVEL_CG[int(v)] for v in lv], np.float64)
        lossy = lv != 0
    else:
        cg_s = np.full(len(ld.x), np.nan)
        lossy = np.ones(len(ld.x), bool)
    raw_bits = SEG_N * ADC_BITS
    prd, prdn = prd_pair(ld.x, recon)
    row = {"avg_cg_samples": float(np.mean(cg_s)) if lv is not None else float("nan"),
           "avg_cg_bits": float(raw_bits * len(ld.x) / np.sum(bits)),
           "cg_bits_mean_of_segments": float(np.mean(raw_bits / bits)),
           "prd": float(np.mean(prd)), "prdn": float(np.mean(prdn)),
           "prd_minmax": float(np.mean(prd_minmax(ld.x, recon))), "segments": int(len(ld.x)),
           "share_lossless": float(np.mean(~lossy)) if lv is not None else 0.0}
    for k in (1, 2, 3):
        row[f"share_l{k}"] = float(np.mean(lv == k)) if lv is not None else float("nan")
    if task is not None:
        t = TASK_NAMES.index(task)
        row["mean_task_error"] = float(np.mean(err[:, t]))
        if bound is not None:
            over = err[:, t] > bound
            row["violation_rate"] = float(np.mean(over & lossy))
            row["exceed_rate"] = float(np.mean(over))
    row["_recon"] = recon
    return row
