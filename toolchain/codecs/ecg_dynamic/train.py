"""Training in the paper's three phases, then int8 export into a codec folder.

1. reconstruction: encoder + the three level decoders on MIT-BIH DS1 (training records), MSE on
   mean-removed mV, every level weighted alike;
2. task fine-tuning: L_c = w0 * L_R + L_w, L_w = sum_i w_i L_i with the frozen downstream models
   (tasks.py) on every level's reconstruction, on DS1 segments (all three tasks) and CinC training
   segments (rhythm only), as the paper fine-tunes on CinC;
3. predictor heads, codec frozen: each level's head learns the real per-segment task errors of that
   level's *deployed* reconstruction (int8 encoder, B-bit latent, int8 decoder), MSE.

Validation is the last DS1 records (never DS2). Every phase's curves are kept (history.json, and a
PNG); weights are saved after each phase under the work folder, so a rerun resumes at the first phase
not yet done (`--restart` starts over).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import paths
from . import LOSSY_LEVELS, SEG_N, TASKS
from .model import N_PRED, codec

LATENT_BITS = 7
SEED = 0


@dataclass
class TrainConfig:
    epochs1: int = 20
    epochs2: int = 4
    epochs3: int = 16
    batch: int = 32
    lr1: float = 2e-3
    lr2: float = 5e-4
    lr3: float = 2e-3
    w0: float = 1.0          # weight of the reconstruction loss in phase 2 (L_R in mV^2 * 100)
    latent_bits: int = LATENT_BITS
    seed: int = SEED
    cinc_per_step: int = 8   # CinC segments added to each phase-2 batch (rhythm loss only)


def work_dir() -> Path:
    return paths.build_dir() / "ecg-dynamic" / "train"


def _log(msg: str) -> None:
    print(f"[ecg-dynamic] {msg}", file=sys.stderr, flush=True)


def _ds1_segments(records) -> np.ndarray:
    from .segments import normalize, record_segments
    return normalize(np.concatenate([record_segments(r).x for r in records]))


def _recon_loss(tf, x, xh):
    """L_R per segment: mean squared error in mV^2, x100 so it sits near the task losses' scale."""
    return 100.0 * tf.reduce_mean(tf.square(tf.reshape(x, (-1, SEG_N)) - tf.reshape(xh, (-1, SEG_N))), axis=1)


def _epochs_loop(tf, n_epochs, n_train, batch, step_fn, val_fn, rng, name, history):
    from tqdm import tqdm
    for ep in range(n_epochs):
        order = rng.permutation(n_train)
        losses = []
        it = range(0, n_train - batch + 1, batch)
        for b in tqdm(it, desc=f"{name} epoch {ep + 1}/{n_epochs}", leave=False, disable=not sys.stderr.isatty()):
            losses.append(float(step_fn(order[b:b + batch])))
        v = val_fn()
        history.setdefault(name, []).append({"epoch": ep + 1, "train": float(np.mean(losses)), **v})
        _log(f"{name} epoch {ep + 1}: train {np.mean(losses):.4f} " + " ".join(f"{k} {x:.4f}" for k, x in v.items()))


def phase1(enc, decs, cfg: TrainConfig, tr: np.ndarray, va: np.ndarray, history: dict) -> None:
    from ...train.zoo.common import _tf
    tf = _tf()
    opt = tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(
        cfg.lr1, cfg.epochs1 * (len(tr) // cfg.batch)))
    enc_vars = [v for v in enc.trainable_variables if not v.path.split("/")[0].startswith("p")]
    variables = enc_vars + [v for d in decs.values() for v in d.trainable_variables]
    variables = list({id(v): v for v in variables}.values())
    trt = tf.constant(tr[..., None])

    @tf.function
    def step(idx):
        x = tf.gather(trt, idx)
        with tf.GradientTape() as tape:
            zs = enc(x, training=True)[:3]
            loss = tf.add_n([tf.reduce_mean(_recon_loss(tf, x, decs[lv](zs[lv - 1], training=True)))
                             for lv in LOSSY_LEVELS]) / len(LOSSY_LEVELS)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def val():
        return {f"val_prd_l{lv}": v for lv, v in _val_prd(enc, decs, va).items()}

    _epochs_loop(tf, cfg.epochs1, len(tr), cfg.batch, lambda i: step(tf.constant(i)), val,
                 np.random.default_rng(cfg.seed), "phase1", history)


def _val_prd(enc, decs, va: np.ndarray) -> dict[int, float]:
    zs = enc.predict(va[..., None], verbose=0, batch_size=256)[:3]
    out = {}
    for lv in LOSSY_LEVELS:
        xh = decs[lv].predict(zs[lv - 1], verbose=0, batch_size=256)[..., 0]
        out[lv] = float(np.mean(100 * np.linalg.norm(va - xh, axis=1) / np.maximum(np.linalg.norm(va, axis=1), 1e-9)))
    return out


def phase2(enc, decs, tasks, cfg: TrainConfig, tb, cb, va: np.ndarray, history: dict) -> None:
    """Fine-tuning with the frozen downstream losses: every level's reconstruction goes through
    the tasks; MIT-BIH rows carry all three tasks, CinC rows the rhythm task only."""
    from ...train.zoo.common import _tf
    tf = _tf()
    w = tasks.weights
    n_steps = cfg.epochs2 * (len(tb.x_norm) // cfg.batch)
    opt = tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(cfg.lr2, n_steps))
    enc_vars = [v for v in enc.trainable_variables if not v.path.split("/")[0].startswith("p")]
    variables = list({id(v): v for v in enc_vars + [v for d in decs.values() for v in d.trainable_variables]}.values())
    rng = np.random.default_rng(cfg.seed + 2)

    from .export import concat, take

    def run(idx, cidx):
        both = concat(take(tb, idx), take(cb, cidx))
        x = tf.constant(both.x_norm[..., None])
        with tf.GradientTape() as tape:
            zs = enc(x, training=True)[:3]
            total = 0.0
            for lv in LOSSY_LEVELS:
                xh = decs[lv](zs[lv - 1], training=True)
                lr_ = tf.reduce_mean(_recon_loss(tf, x, xh))
                tl = tasks.segment_losses(xh, both)
                lw = tf.add_n([w[t] * tf.reduce_mean(tl[t]) for t in TASKS])
                total = total + cfg.w0 * lr_ + lw
            total = total / len(LOSSY_LEVELS)
        opt.apply_gradients(zip(tape.gradient(total, variables), variables))
        return total

    def step(idx):
        return run(idx, rng.integers(0, len(cb.x_norm), cfg.cinc_per_step))

    def val():
        return {f"val_prd_l{lv}": v for lv, v in _val_prd(enc, decs, va).items()}

    _epochs_loop(tf, cfg.epochs2, len(tb.x_norm), cfg.batch, step, val, np.random.default_rng(cfg.seed + 1),
                 "phase2", history)


def phase3(enc, cfg: TrainConfig, x_norm: np.ndarray, targets: np.ndarray, va_x: np.ndarray,
           va_t: np.ndarray, history: dict) -> None:
    """Predictor heads only (the trunk and latent heads frozen): MSE to the real errors (S, 12)."""
    from ...train.zoo.common import _tf
    tf = _tf()
    head_vars = [v for v in enc.trainable_variables if v.path.split("/")[0].startswith("p")]
    opt = tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(
        cfg.lr3, cfg.epochs3 * (len(x_norm) // cfg.batch)))
    xt, tt = tf.constant(x_norm[..., None]), tf.constant(targets.astype(np.float32))

    @tf.function
    def step(idx):
        with tf.GradientTape() as tape:
            e = enc(tf.gather(xt, idx), training=True)[3]
            loss = tf.reduce_mean(tf.square(e - tf.gather(tt, idx)))
        opt.apply_gradients(zip(tape.gradient(loss, head_vars), head_vars))
        return loss

    def val():
        e = enc.predict(va_x[..., None], verbose=0, batch_size=256)[3]
        return {"val_mse": float(np.mean((e - va_t) ** 2))}

    _epochs_loop(tf, cfg.epochs3, len(x_norm), cfg.batch, lambda i: step(tf.constant(i)), val,
                 np.random.default_rng(cfg.seed + 3), "phase3", history)


def plot_history(history: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    phases = [p for p in ("phase1", "phase2", "phase3") if history.get(p)]
    fig, axes = plt.subplots(1, len(phases), figsize=(4.5 * len(phases), 3.4), squeeze=False)
    for ax, p in zip(axes[0], phases):
        rows = history[p]
        ep = [r["epoch"] for r in rows]
        ax.plot(ep, [r["train"] for r in rows], label="train loss")
        for k in rows[0]:
            if k.startswith("val"):
                ax2 = ax.twinx() if k.startswith("val_prd") else ax
                ax2.plot(ep, [r[k] for r in rows], "--", label=k)
                if ax2 is not ax:
                    ax2.set_ylabel("validation PRD %")
        ax.set_title(p)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="codec folder to write (default models/ecg-dynamic)")
    ap.add_argument("--restart", action="store_true", help="ignore saved phases")
    ap.add_argument("--quick", action="store_true", help="2 epochs per phase (smoke run)")
    a = ap.parse_args(argv)
    from .export import train_and_export
    cfg = TrainConfig(epochs1=2, epochs2=1, epochs3=2) if a.quick else TrainConfig()
    train_and_export(cfg, a.out, restart=a.restart)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
