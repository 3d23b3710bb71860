"""Stage "train" + "quantize": windows -> float AE (L-BFGS) -> integer FixedModel."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..codecs.ae_codec import div_round
from ..quant.fixed_point import FixedModel, quantize
from .autoencoder import FloatAE, TrainConfig, train
from .datasets import Prepared


def sphering_clip(X: np.ndarray) -> int:
    """c = 3 sigma of readings about their window mean, native units (paper eq. 7)."""
    mean = div_round(X.sum(1), X.shape[1])
    return int(max(1, min(32767, round(3 * float(np.std(X - mean[:, None]))))))


def sphere(X: np.ndarray, c: int) -> np.ndarray:
    """Float sphering for training; the device does the same in Q15 (fixed_point)."""
    mean = div_round(X.sum(1), X.shape[1])
    return 0.5 + 0.4 * np.clip(X - mean[:, None], -c, c) / c


def fit(prep: Prepared, variant: str = "ae", max_iter: int = 400, seed: int = 0,
        progress: bool = True) -> tuple[FloatAE, FixedModel]:
    spec = prep.spec
    c = sphering_clip(prep.train)
    cfg = TrainConfig(hidden=spec.hidden, variant=variant, max_iter=max_iter, seed=seed)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=max_iter, desc=f"train {spec.name} [{variant}]", unit="it", leave=False, disable=None)

    def cb(rec):
        if bar is not None:
            bar.update(1)
            bar.set_postfix(val_rmse=f"{rec.get('val_rmse', float('nan')):.4f}")

    ae = train(sphere(prep.train, c), sphere(prep.val, c) if len(prep.val) else None, cfg, cb)
    if bar is not None:
        bar.close()
    fm = quantize(ae, name=spec.name, mode=spec.mode, c=c, latent_bits=spec.latent_bits,
                  word_bits=prep.word_bits, lo=prep.lo, mu=prep.train.mean(0))
    fm.variant = variant
    fm.meta = {"dataset": prep.dataset, "signal": prep.signal, "unit": prep.unit,
               "quantum": prep.quantum, "train_windows": int(len(prep.train)),
               "val_windows": int(len(prep.val)), "iterations": len(ae.curve),
               "config": asdict(cfg)}
    if "period_s" in prep.notes:  # a user's file source: its sampling period (the link app's window span)
        fm.meta["period_s"] = prep.notes["period_s"]
    return ae, fm


def save_model(fm: FixedModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fm.to_dict(), indent=1))


def load_model(path: Path) -> FixedModel:
    if not Path(path).exists():
        raise FileNotFoundError(f"model file {path} does not exist (run `tinycodec train --model ...`)")
    return FixedModel.from_dict(json.loads(Path(path).read_text()))


def save_curve(ae: FloatAE, csv_path: Path, png_path: Path | None = None) -> None:
    keys = ["iter", "loss", "train_rmse", "val_rmse"]
    rows = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in ae.curve]
    csv_path.write_text("\n".join(rows) + "\n")
    if png_path is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 3.2))
        it = [r["iter"] for r in ae.curve]
        ax.semilogy(it, [r["train_rmse"] for r in ae.curve], label="train")
        if ae.curve and "val_rmse" in ae.curve[0]:
            ax.semilogy(it, [r["val_rmse"] for r in ae.curve], label="validation")
        ax.set_xlabel("L-BFGS iteration")
        ax.set_ylabel("RMSE (sphered units)")
        ax.set_title(f"AE [{ae.variant}] training")
        ax.legend()
        fig.tight_layout()
        fig.savefig(png_path, dpi=110)
        plt.close(fig)


def train_stage(prep: Prepared, variant: str = "ae", iters: int = 400, seed: int = 0,
                force: bool = False) -> FixedModel:
    """Stage "train" (+ quantize) under build/<model>/host, skipped when its manifest matches."""
    import hashlib

    from ..data import data_root
    from ..stages import file_hash, stage_dir, up_to_date, write_manifest
    d = stage_dir(prep.spec.name)
    inputs = {"train": hashlib.sha256(prep.train.tobytes()).hexdigest(),
              "val": hashlib.sha256(prep.val.tobytes()).hexdigest(),
              # a user's file (source = "file") is covered by the train/val hashes; no data root needed
              "data_manifest": "user file" if prep.spec.source == "file" else file_hash(data_root() / "MANIFEST.tsv")}
    params = {"variant": variant, "iters": iters, "seed": seed, "spec": prep.spec.__dict__}
    out = [f"model_{variant}.json", f"float_{variant}.json", f"curve_{variant}.csv", f"curve_{variant}.png"]
    if not force and up_to_date(d, f"train_{variant}", inputs, params):
        return load_model(d / out[0])
    ae, fm = fit(prep, variant, max_iter=iters, seed=seed)
    save_model(fm, d / out[0])
    (d / out[1]).write_text(json.dumps(ae.to_dict()))
    save_curve(ae, d / out[2], d / out[3])
    write_manifest(d, f"train_{variant}", inputs, params, out)
    return fm
