"""`make bench-image`: the Starfish image codec end to end on held-out images (issue 14).

Steps (each resumable; a second run reuses what the first finished):
1. NAS (nas_run): the hardware-aware search on the K210 -> results/nas.csv, nas_summary.csv, nas.png.
2. Full training of the search's top k (completed runs by proxy score) at the deployment setting
   (224x224, 4 latent channels, 16 bins) on the flowers train split; the winner is the one with the
   best validation MS-SSIM at 224x224 (validation: 30 train-split flowers, never the test split).
3. The winner's architecture at more rates (latent channels, bins) and the loss-resilient variant
   (drop rate 0.1, no entropy coding): models/image-codec/<name>/ with a model card each.
4. Rate-quality on held-out images (flowers test split, Kodak) for ours (Huffman, adaptive range
   coder, fixed length) and the baselines (JPEG as the paper ran it, optimized JPEG, WebP) with a
   quality search at matched byte budgets -> results/image_rate_quality.csv + PNG (task_acc: the
   in-project flower classifier on the decoded flowers), and CompressAI's published Kodak points as
   reference rows (full-size Kodak, their own figures: read, not run here).
5. Packet loss (packet_loss) -> results/image_packet_loss.csv + PNG.
6. A LoRa network of cameras (lora_network) sending real coded test images -> results/lora_network.csv + PNG.
7. Deployment of the winner's encoder (deploy): int8 C on the boards, KPU placement, nncase -> results/image_deploy.csv.

Training happens on 112x112 random crops of the 224x224 images (a quarter of the work of whole
images; the layers are fully convolutional, so the weights then run at 224x224 with the patch grid
that keeps each patch the same size: 4 patches of 112 at 224 are 1 patch of 112 at 112; 16 of 56
are 4 of 56). Default budget, measured on 2 cores: the NAS 50 min (32 trials; a second run reads
its journal in seconds), each of the five full trainings 6 epochs x ~72 s = ~7 min, the rest
about 17 min (rate-quality 10, packet loss 2, network 3, deployment 2.5): about 100 min in all.
--full: the larger NAS and 36 epochs (several hours; a GPU where there is one).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import paths

TRAIN_CROP = 112
DEPLOY_SIZE = (224, 224)
N_VAL = 30
COMPRESSAI_KODAK = {   # CompressAI's results/image/kodak/*_mse_cpu.json (first four quality levels)
    "compressai-bmshj2018-hyperprior": {"bpp": (0.1313, 0.2089, 0.3199, 0.4784),
                                        "psnr": (27.58, 29.20, 30.97, 32.84),
                                        "ms_ssim": (0.9174, 0.9421, 0.9611, 0.9749)},
    "compressai-bmshj2018-factorized": {"bpp": (0.1226, 0.1885, 0.2878, 0.4404),
                                        "psnr": (26.91, 28.22, 29.62, 31.28),
                                        "ms_ssim": (0.9100, 0.9360, 0.9555, 0.9704)},
}
BASELINE_BUDGETS = (400, 500, 625, 750, 1000, 1250, 1500, 2000, 2500, 3000, 4000)


@dataclass
class BenchSettings:
    epochs: int = 6
    top_k: int = 2
    latent_channels: int = 4
    bins: int = 16
    rates: tuple[int, ...] = (2, 8)        # more latent channel counts for the rate-quality curve
    drop_rate: float = 0.1
    batch: int = 8
    lr: float = 1e-3
    seed: int = 0
    test_limit: int | None = None          # held-out images per dataset (None: all 150 + 24)
    loss_limit: int = 12                   # images per dataset in the packet-loss bench
    network_images: int = 4
    network_nodes: tuple[int, ...] = (100, 200, 500, 1000)
    deploy_images: int = 1
    full: bool = False


def _log(msg: str) -> None:
    print(f"[bench-image] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ training

def train_config(deploy):
    """The config to train `deploy` (at 224) on TRAIN_CROP crops: the same patch size where it fits."""
    from .codec_model import CodecConfig
    ph, _ = deploy.patch_size
    grid = max(1, TRAIN_CROP // ph) if ph <= TRAIN_CROP else 1
    patches = {1: 1, 2: 4, 4: 16}[grid]
    return dataclasses.replace(deploy, patches=patches, image_size=(TRAIN_CROP, TRAIN_CROP))


def split_train_val(n_val: int = N_VAL):
    """Flowers train split at 224 (center crop): (train images, validation images), disjoint."""
    from .dataset import load_array, records
    recs = records("flowers", "train")
    val_idx = set(np.linspace(0, len(recs) - 1, n_val).round().astype(int).tolist())
    tr = [r for i, r in enumerate(recs) if i not in val_idx]
    va = [r for i, r in enumerate(recs) if i in val_idx]
    return load_array(tr), load_array(va)


def _center(x: np.ndarray, size: int) -> np.ndarray:
    h, w = x.shape[1:3]
    y0, x0 = (h - size) // 2, (w - size) // 2
    return x[:, y0:y0 + size, x0:x0 + size]


def model_name(params: dict, latent_channels: int, bins: int, drop_rate: float) -> str:
    base = "starfish-p{patches}-{c1}-{c2}-{c3}".format(**params)
    return f"{base}-c{latent_channels}-b{bins}" + (f"-drop{int(round(drop_rate * 100)):02d}" if drop_rate else "")


def val_quality(codec, val: np.ndarray) -> dict:
    from .metrics import ms_ssim, psnr
    dec = codec.decode(codec.encode(val))
    return {"val_ms_ssim": float(np.mean([ms_ssim(a, b) for a, b in zip(val, dec)])),
            "val_psnr": float(np.mean([psnr(a, b) for a, b in zip(val, dec)]))}


def train_full(params: dict, s: BenchSettings, data, latent_channels: int, bins: int, drop_rate: float,
               retrain: bool = False, note: str = ""):
    """Train one configuration in full (or load it from models/image-codec when it matches)."""
    from . import artifacts
    from .codec_model import train
    from .nas_space import config_of
    from ...train.zoo.common import _keras
    deploy = config_of(params, latent_channels, bins, drop_rate, DEPLOY_SIZE)
    name = model_name(params, latent_channels, bins, drop_rate)
    out = artifacts.models_dir() / name
    want = {"params": params, "epochs": s.epochs, "batch": s.batch, "lr": s.lr, "seed": s.seed,
            "train_crop": TRAIN_CROP, "n_val": N_VAL}
    info_p = out / "info.json"
    if not retrain and info_p.is_file():
        info = json.loads(info_p.read_text())
        if info.get("training") == want:
            _log(f"{name}: trained model in {out} matches; loaded (--retrain to train again)")
            return name, artifacts.load_codec(out), info
    tr, va = data
    tcfg = train_config(deploy)
    t0 = time.time()
    _log(f"{name}: training {s.epochs} epochs on {len(tr)} flowers ({TRAIN_CROP}x{TRAIN_CROP} crops, "
         f"{tcfg.patches} patch(es) of {tcfg.patch_size[0]} px)")
    res = train(tcfg, tr, s.epochs, work_dir=paths.build_dir() / "image-codec" / "train" / name, batch=s.batch,
                lr=s.lr, seed=s.seed, val_images=_center(va, TRAIN_CROP), crop=True)
    codec = artifacts.with_image_size(res.codec, DEPLOY_SIZE, deploy.patches)
    _keras().backend.clear_session()
    q = val_quality(codec, va)
    info = {"name": name, "training": want, "train_s": round(time.time() - t0, 1), "train_images": len(tr),
            "history": res.history, **q, "note": note}
    from .card import codec_card
    artifacts.save_codec(codec, out, codec_card(codec.config, info), info)
    _log(f"{name}: val MS-SSIM {q['val_ms_ssim']:.4f}, PSNR {q['val_psnr']:.2f} dB ({info['train_s']:.0f} s) -> {out}")
    return name, codec, info


# ------------------------------------------------------------------------------ rate-quality of ours

def ours_rows(codec, name: str, dataset: str, images: list[np.ndarray], labels, classify) -> list[dict]:
    """Rows for our codec on held-out images: the same latents under each lossless code."""
    from . import entropy
    from .metrics import ms_ssim, psnr
    from .rate_quality import ImageResult, task_accuracy
    x = np.stack(images)
    q = codec.encode(x)
    dec = codec.decode(q)
    ps = [psnr(a, b) for a, b in zip(x, dec)]
    ms = [ms_ssim(a, b) for a, b in zip(x, dec)]
    sz = [entropy.sizes(qi, codec.config.bins) for qi in q]
    n_pix = x.shape[1] * x.shape[2]
    acc = task_accuracy([ImageResult(1, None, None, image=d) for d in dec], labels, classify)
    rows = []
    codes = ("fixed",) if codec.config.drop_rate else ("huffman", "range", "fixed")
    for code in codes:
        nbytes = [z[code].nbytes for z in sz]
        rows.append({"dataset": dataset, "method": f"ours-{code}" + ("-resilient" if codec.config.drop_rate else ""),
                     "budget": "", "bytes": float(np.mean(nbytes)), "bpp": float(np.mean(nbytes)) * 8 / n_pix,
                     "psnr": float(np.mean(ps)), "ms_ssim": float(np.mean(ms)), "task_acc": acc,
                     "images": len(x), "images_over_budget": 0, "quality_mean": "",
                     "note": f"{name}; latent {'x'.join(map(str, codec.config.latent_shape))}, {codec.config.bins} bins"})
    return rows


def compressai_rows() -> list[dict]:
    rows = []
    for m, d in COMPRESSAI_KODAK.items():
        for bpp, p, s in zip(d["bpp"], d["psnr"], d["ms_ssim"]):
            rows.append({"dataset": "kodak", "method": m, "budget": "", "bytes": bpp * 224 * 224 / 8, "bpp": bpp,
                         "psnr": p, "ms_ssim": s, "task_acc": "", "images": 24, "images_over_budget": 0,
                         "note": "published (CompressAI results/image/kodak, MSE models, full 768x512 Kodak); "
                                 "bytes = bpp at 224x224 for the plot; not run here"})
    return rows


def efficiency_rows(rows: list[dict]) -> list[dict]:
    from .rate_quality import efficiency_at_equal_quality
    out = []
    for ds in sorted({r["dataset"] for r in rows}):
        for ours in sorted({r["method"] for r in rows if r["dataset"] == ds and r["method"].startswith("ours-")}):
            for ref in ("jpeg-paper", "jpeg-optimized", "webp"):
                out += efficiency_at_equal_quality(rows, ours, ref, ds)
    return out


# ------------------------------------------------------------------------------ network hook

def network_decoder(codec, images: list[np.ndarray], payloads: set[int]):
    """codes (the fixed-length code of each image's shuffled latent: lora.packetize cuts it into the
    same packets as entropy.packetize) and decode(image, received mask) -> MS-SSIM for lora_network."""
    from . import entropy
    from .metrics import ms_ssim
    cfg = codec.config
    nb = entropy.bits_for(cfg.bins)
    if 8 % nb:
        raise ValueError(f"{cfg.bins} bins: the network hook needs values that pack whole bytes (1, 2, 4 or 8 bits)")
    x = np.stack(images)
    q = codec.encode(x)
    layouts = {}
    for pl in payloads:
        lay = entropy.LatentLayout(cfg.latent_shape, cfg.bins, pl, seed=0)
        layouts.setdefault(lay.count, lay)
    any_lay = next(iter(layouts.values()))
    perm = any_lay.permutation()
    codes = [entropy.fixed_encode(qi.reshape(-1)[perm], cfg.bins) for qi in q]

    def decode(i: int, mask: np.ndarray) -> float | None:
        lay = layouts.get(len(mask))
        if lay is None:
            raise ValueError(f"{len(mask)} packets: no layout of this codec makes that many")
        if not mask.any():
            return None
        missing = np.zeros(lay.n, bool)
        for k in np.flatnonzero(~mask):
            missing[lay.packet_values(int(k))] = True
        dec = codec.decode(q[i], missing.reshape(cfg.latent_shape))
        return ms_ssim(x[i], dec[0])

    return codes, decode


# ------------------------------------------------------------------------------ main

def run(s: BenchSettings, retrain: bool = False, skip: set[str] | None = None) -> dict:
    from . import nas_run
    from .rate_quality import (EFFICIENCY_COLUMNS, baseline_codec, held_out, held_out_records, plot,
                               rate_quality_rows, write_csv)
    skip = skip or set()
    res_dir = paths.results_dir()
    t_all = time.time()
    summary: dict = {"settings": dataclasses.asdict(s)}

    # 1. NAS
    t0 = time.time()
    ns = nas_run.NasSettings.full() if s.full else nas_run.NasSettings()
    search = nas_run.run(ns)
    rep = nas_run.report(search, ns)
    summary["nas"] = {"ranking": rep.ranking[:5], "s": round(time.time() - t0)}
    _log(f"NAS: {len(search.study.trials)} trials, top {rep.ranking[:s.top_k]} ({time.time() - t0:.0f} s)")

    # 2. top k in full
    data = split_train_val()
    trained = []
    for rank, (num, score, params) in enumerate(rep.ranking[:s.top_k], start=1):
        name, codec, info = train_full(params, s, data, s.latent_channels, s.bins, 0.0, retrain,
                                       note=f"NAS rank {rank} (trial {num}, proxy score {score:.4f})")
        trained.append((info["val_ms_ssim"], name, codec, params))
    trained.sort(key=lambda t: -t[0])
    _, winner_name, winner, wparams = trained[0]
    summary["winner"] = {"name": winner_name, "params": wparams, "top_k": [(t[1], t[0]) for t in trained]}
    _log(f"winner: {winner_name} (val MS-SSIM {trained[0][0]:.4f})")
    (paths.models_dir() / "image-codec").mkdir(parents=True, exist_ok=True)
    (paths.models_dir() / "image-codec" / "WINNER").write_text(winner_name + "\n")

    # 3. more rates + the loss-resilient variant
    models = {winner_name: winner}
    for c in s.rates:
        n, cdc, _ = train_full(wparams, s, data, c, s.bins, 0.0, retrain, note="rate point of the NAS winner")
        models[n] = cdc
    drop_name, drop_codec, _ = train_full(wparams, s, data, s.latent_channels, s.bins, s.drop_rate, retrain,
                                          note="loss-resilient variant of the NAS winner")
    models[drop_name] = drop_codec

    # 4. rate-quality
    t0 = time.time()
    classify = None
    try:
        from . import task_nets
        clf = task_nets.load_classifier()
        classify = clf.predict
    except (ImportError, FileNotFoundError, AttributeError) as e:
        _log(f"no task accuracy: {e}")
    rows = []
    for ds in ("flowers", "kodak"):
        recs = held_out_records(ds, s.test_limit)
        images = held_out(ds, s.test_limit)
        labels = [r.label_index for r in recs] if ds == "flowers" else None
        for name, cdc in models.items():
            rows += ours_rows(cdc, name, ds, images, labels, classify if ds == "flowers" else None)
        for m in ("jpeg-paper", "jpeg-optimized", "webp"):
            rows += rate_quality_rows(ds, m, baseline_codec(m), images, BASELINE_BUDGETS, labels,
                                      classify if ds == "flowers" else None)
        if labels is not None and classify is not None:
            rows.append({"dataset": ds, "method": "raw", "budget": "", "bytes": 224 * 224 * 3, "bpp": 24.0,
                         "psnr": "", "ms_ssim": 1.0, "images": len(images), "images_over_budget": 0,
                         "task_acc": float(np.mean(np.asarray(classify(np.stack(images))) == np.asarray(labels))),
                         "note": "uncompressed 224x224: the classifier's own accuracy"})
        _log(f"rate-quality {ds}: {len(images)} images ({time.time() - t0:.0f} s)")
    rows += compressai_rows()
    rq = res_dir / "image_rate_quality.csv"
    write_csv(rows, rq)
    plot([r for r in rows if r["method"] != "raw"], rq.with_suffix(".png"))
    eff = efficiency_rows(rows)
    write_csv(eff, res_dir / "image_efficiency.csv", EFFICIENCY_COLUMNS)
    summary["efficiency"] = eff

    # 5. packet loss
    if "loss" not in skip:
        t0 = time.time()
        from . import packet_loss
        argv = ["--model", drop_name, "--limit", str(s.loss_limit)]
        packet_loss.main(argv)
        _log(f"packet loss ({time.time() - t0:.0f} s)")

    # 6. network
    if "network" not in skip:
        t0 = time.time()
        summary["network"] = network(drop_codec, s)
        _log(f"network ({time.time() - t0:.0f} s)")

    # 7. deployment
    if "deploy" not in skip:
        t0 = time.time()
        from . import deploy
        deploy.main(["--model", winner_name, "--images", str(s.deploy_images)])
        _log(f"deployment ({time.time() - t0:.0f} s)")
    summary["wall_s"] = round(time.time() - t_all)
    (res_dir / "image_bench.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


def network(codec, s: BenchSettings) -> dict:
    """Ours (loss-resilient, each packet once) against JPEG (retransmission, restart markers, zfec)
    at the same bytes per image, real coded test images through the simulated network."""
    from . import lora_network as ln
    from .rate_quality import held_out
    imgs = held_out("flowers", s.network_images)
    cfg = ln.NetworkConfig()
    payloads = {ln.payload_limit(sf, cfg.bw_hz) for sf in cfg.sfs}
    codes, decode = network_decoder(codec, imgs, payloads)
    budget = int(np.mean([len(c) for c in codes]))
    rows = ln.network_rows("ours", codes, imgs, s.network_nodes, cfg, decode=decode, setting="resilient",
                           log=lambda m: _log(m))
    out = {"ours_bytes": budget}
    for setting in ("optimized", "paper"):
        jcodes, skipped = ln.jpeg_codes(imgs, budget, setting)
        for m, why in skipped.items():
            _log(f"network: {m} {setting} skipped: {why}")
            out[f"skipped_{m}_{setting}"] = why
        for m, c in jcodes.items():
            rows += ln.network_rows(m, c, imgs, s.network_nodes, cfg, setting=setting, log=lambda m_: _log(m_))
    path = paths.results_dir() / "lora_network.csv"
    ln.write_csv(rows, path)
    ln.plot(rows, path.with_suffix(".png"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the larger NAS and 36 training epochs")
    ap.add_argument("--epochs", type=int, help="full-training epochs (default 6, --full 36)")
    ap.add_argument("--retrain", action="store_true", help="train again even where models/image-codec matches")
    ap.add_argument("--limit", type=int, help="held-out images per dataset (default: all)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["loss", "network", "deploy"])
    a = ap.parse_args(argv)
    s = BenchSettings(full=a.full, test_limit=a.limit)
    if a.full:
        s.epochs = 36
    if a.epochs:
        s.epochs = a.epochs
    from .rate_quality import efficiency_line
    out = run(s, a.retrain, set(a.skip))
    for e in out.get("efficiency", []):
        print(efficiency_line(e))
    print(f"bench-image done in {out['wall_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
