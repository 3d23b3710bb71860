"""Rate-quality of image codecs on held-out images: rows of results/image_rate_quality.csv.

Every codec is run at a sweep of byte budgets (the whole file or bitstream counted, headers
included); each row is one (dataset, method, budget) averaged over the images that fit the budget,
with how many did not (JPEG at the paper's setting cannot go below about 2.3 kB on a 224x224
flower). `efficiency_at_equal_quality` reads two methods' curves at equal MS-SSIM: the ratio of
the bytes the reference needs to the bytes the method needs, interpolated on the reference's
(log bytes, MS-SSIM) curve, only inside the range both curves cover.

Held-out images: the flowers test split (every 5th per class) and Kodak (test only), both at
224x224 (flowers: center crop; Kodak: shorter side scaled to 224 with Lanczos, then cropped).
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import paths

BUDGETS = (500, 750, 1000, 1500, 2000, 3000)    # bytes; the 0.5-3 kB range
COLUMNS = ("dataset", "method", "budget", "bytes", "bpp", "psnr", "ms_ssim", "task_acc", "images",
           "images_over_budget", "quality_mean", "note")
FIT = {"flowers": "center_crop", "kodak": "resize_crop"}


@dataclass
class ImageResult:
    """One image through one codec at one budget (None where the budget cannot be met)."""
    nbytes: int | None
    psnr: float | None
    ms_ssim: float | None
    quality: float | None = None
    image: np.ndarray | None = None     # the decoded pixels (for the task accuracy)


Codec = Callable[[np.ndarray, int], ImageResult]   # (pixels, budget bytes) -> result


def baseline_codec(method: str) -> Codec:
    """jpeg-paper | jpeg-optimized | webp through Pillow, best quality within the budget."""
    from .jpeg import BudgetTooSmall, at_budget
    from .metrics import ms_ssim, psnr

    def run(pixels: np.ndarray, budget: int) -> ImageResult:
        try:
            e = at_budget(method, pixels, budget)
        except BudgetTooSmall:
            return ImageResult(None, None, None)
        return ImageResult(e.nbytes, psnr(pixels, e.image), ms_ssim(pixels, e.image), e.quality, e.image)
    return run


def held_out_records(dataset: str, limit: int | None = None) -> list:
    from .dataset import records
    recs = records(dataset, "test")
    if limit:
        # evenly over the list, so a short run still sees every flower class
        recs = [recs[i] for i in np.linspace(0, len(recs) - 1, min(limit, len(recs))).round().astype(int)]
    return recs


def held_out(dataset: str, limit: int | None = None, size: int = 224) -> list[np.ndarray]:
    """The held-out images of `dataset` (flowers test split, or Kodak) as (size, size, 3) uint8."""
    from .dataset import load_record
    return [load_record(r, size, FIT[dataset]).pixels for r in held_out_records(dataset, limit)]


def task_accuracy(results: Sequence[ImageResult], labels: Sequence[int] | None,
                  classify: Callable[[np.ndarray], np.ndarray] | None) -> float | str:
    """Share of decoded images the classifier labels right ("" without labels or classifier)."""
    if labels is None or classify is None:
        return ""
    pairs = [(r.image, y) for r, y in zip(results, labels) if r.nbytes is not None and r.image is not None]
    if not pairs:
        return ""
    pred = np.asarray(classify(np.stack([p[0] for p in pairs])))
    return float(np.mean(pred == np.asarray([p[1] for p in pairs])))


def rate_quality_rows(dataset: str, method: str, codec: Codec, images: Sequence[np.ndarray],
                      budgets: Sequence[int] = BUDGETS, labels: Sequence[int] | None = None,
                      classify: Callable[[np.ndarray], np.ndarray] | None = None) -> list[dict]:
    """One row per budget; task_acc: classify(decoded images) against labels, when both are given."""
    rows = []
    for b in budgets:
        res = [codec(x, int(b)) for x in images]
        ok = [r for r in res if r.nbytes is not None]
        n_pix = images[0].shape[0] * images[0].shape[1] if images else 1
        row = {"dataset": dataset, "method": method, "budget": int(b), "images": len(ok),
               "images_over_budget": len(res) - len(ok), "task_acc": task_accuracy(res, labels, classify)}
        if ok:
            row.update(bytes=float(np.mean([r.nbytes for r in ok])),
                       bpp=float(np.mean([8.0 * r.nbytes / n_pix for r in ok])),
                       psnr=float(np.mean([r.psnr for r in ok])), ms_ssim=float(np.mean([r.ms_ssim for r in ok])),
                       quality_mean=float(np.mean([r.quality for r in ok if r.quality is not None]))
                       if any(r.quality is not None for r in ok) else "")
        if len(ok) < len(res):
            row["note"] = f"{len(res) - len(ok)} of {len(res)} images cannot be coded within {b} B"
        rows.append(row)
    return rows


def efficiency_at_equal_quality(rows: Sequence[dict], method: str, reference: str, dataset: str) -> list[dict]:
    """For each budget row of `method` whose MS-SSIM the reference's curve also reaches: the
    reference's interpolated bytes at that MS-SSIM over the method's bytes (> 1: method is better)."""
    def curve(m):
        pts = sorted((float(r["ms_ssim"]), float(r["bytes"])) for r in rows
                     if r["dataset"] == dataset and r["method"] == m and r.get("ms_ssim") not in (None, ""))
        return np.array(pts).reshape(-1, 2)
    ref, own = curve(reference), curve(method)
    out = []
    if len(ref) < 2:
        return out
    # the reference's curve as bytes(ms_ssim), monotone part only (quality rises with bytes)
    q, lb = ref[:, 0], np.log(ref[:, 1])
    keep = np.concatenate([[True], np.diff(q) > 0])
    q, lb = q[keep], lb[keep]
    for s, nbytes in own:
        if q[0] <= s <= q[-1]:
            out.append({"dataset": dataset, "method": method, "reference": reference, "ms_ssim": s,
                        "bytes": nbytes, "reference_bytes": float(np.exp(np.interp(s, q, lb))),
                        "efficiency": float(np.exp(np.interp(s, q, lb)) / nbytes)})
    return out


EFFICIENCY_COLUMNS = ("dataset", "method", "reference", "ms_ssim", "bytes", "reference_bytes", "efficiency")


def efficiency_line(e: dict) -> str:
    """One efficiency_at_equal_quality row as a sentence."""
    return (f"{e['dataset']}: {e['method']} at MS-SSIM {e['ms_ssim']:.3f} needs {e['bytes']:.0f} B, "
            f"{e['reference']} {e['reference_bytes']:.0f} B ({e['efficiency']:.2f}x)")


def write_csv(rows: Sequence[dict], path: Path, columns: Sequence[str] = COLUMNS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, list(columns), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def plot(rows: Sequence[dict], out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        for m in sorted({r["method"] for r in rows if r["dataset"] == ds}):
            pts = [(float(r["bytes"]), float(r["ms_ssim"])) for r in rows
                   if r["dataset"] == ds and r["method"] == m and r.get("ms_ssim") not in (None, "")]
            if pts:
                ax.plot(*zip(*sorted(pts)), "o-", label=m)
        ax.set_title(f"{ds} (held out, 224x224)")
        ax.set_xlabel("bytes per image (whole file)")
        ax.set_ylabel("MS-SSIM (RGB)")
        ax.grid(alpha=.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    from .jpeg import BASELINES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=["flowers", "kodak"])
    ap.add_argument("--methods", nargs="*", default=list(BASELINES))
    ap.add_argument("--budgets", type=int, nargs="*", default=list(BUDGETS))
    ap.add_argument("--limit", type=int, default=None, help="images per dataset (default: all held-out)")
    ap.add_argument("--out", type=Path, default=paths.results_dir() / "image_rate_quality.csv")
    a = ap.parse_args(argv)
    rows = []
    for ds in a.datasets:
        t0 = time.time()
        images = held_out(ds, a.limit)
        for m in a.methods:
            rows += rate_quality_rows(ds, m, baseline_codec(m), images, a.budgets)
        print(f"[image] {ds}: {len(images)} images, {len(a.methods)} methods in {time.time() - t0:.0f} s",
              file=sys.stderr, flush=True)
    write_csv(rows, a.out)
    png = plot(rows, a.out.with_suffix(".png"))
    eff = [e for ds in a.datasets for e in efficiency_at_equal_quality(rows, "jpeg-optimized", "jpeg-paper", ds)]
    for e in eff:
        print(efficiency_line(e))
    print(f"wrote {a.out} ({len(rows)} rows) and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
