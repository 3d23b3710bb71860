"""make bench-nn: every zoo model on every board -> results/nn_codegen.csv and a plot.

Per (model, target): bit-exactness against the tflite-micro interpreter (held-out
plus random inputs), flash of the model's own objects, our arena against the arena
TFLM records (print_allocations: total, and its non-persistent "head" part), and
cycles (MSP430 simulator, corrected) or retired instructions (QEMU) per inference.
"""
from __future__ import annotations

import csv
import re
import time
from pathlib import Path

from .. import paths
from ..boards import load_board
from ..families.common import FitError
from ..nn.pipeline import generate, verify, zoo_models

RESULTS = paths.results_dir()
TARGETS = ["native", "riscv-qemu", "cortex-m-qemu", "msp430f1611", "msp430g2553"]
FIELDS = ["model", "target", "bit_exact", "n_inputs", "n_heldout", "flash_bytes", "arena_bytes", "tflm_arena_bytes",
          "tflm_arena_head_bytes", "weight_bytes", "cycles_or_instructions", "count_kind", "peak_stack_bytes", "note"]


def _row(model: str, target: str, n_random: int, n_heldout: int | None) -> dict:
    try:
        v = verify(model, target, n_random=n_random, n_heldout=n_heldout, measure=True)
    except FitError as e:
        gen = generate(model)
        from ..nn.pipeline import resolve_model
        from ..nn.tflm_reference import tflm_arena
        arena = tflm_arena(resolve_model(model)[1].read_bytes())
        return dict(model=model, target=target, bit_exact="n/a", n_inputs=0, n_heldout=0, flash_bytes="",
                    arena_bytes=gen.arena_bytes, tflm_arena_bytes=arena["total"],
                    tflm_arena_head_bytes=arena["head"], weight_bytes=gen.weight_bytes, cycles_or_instructions="",
                    count_kind="", peak_stack_bytes="", note=re.sub(r"\s+", " ", str(e)))
    return dict(model=model, target=target, bit_exact=str(v.bit_exact).lower(), n_inputs=v.n_inputs,
                n_heldout=v.n_heldout, flash_bytes=v.footprint.get("flash", ""), arena_bytes=v.arena_bytes,
                tflm_arena_bytes=v.tflm_arena_bytes, tflm_arena_head_bytes=v.tflm_head_bytes,
                weight_bytes=v.weight_bytes,
                cycles_or_instructions=round(v.counts_mean) if v.counts_mean is not None else "",
                count_kind=v.count_kind or "none (host)", peak_stack_bytes=v.details.get("peak_stack_bytes", ""),
                note="" if v.bit_exact else f"{len(v.mismatches)} of {v.n_inputs} inputs differ")


def run_bench(models: list[str] | None = None, targets: list[str] | None = None, log=print,
              out: Path = RESULTS) -> Path:
    models = models or zoo_models()
    targets = targets or TARGETS
    out.mkdir(parents=True, exist_ok=True)
    path = out / "nn_codegen.csv"
    # A run over some models or targets keeps the table's other rows.
    rows = [r for r in _read(path) if not (r["model"] in models and r["target"] in targets)]
    for model in models:
        for target in targets:
            t0 = time.time()
            slow = load_board(target).family.slow
            # The MSP430 simulator runs ~40 M cycles/s twice (firmware + cycle probe): 100 inputs there.
            row = _row(model, target, n_random=36 if slow else 100, n_heldout=64 if slow else None)
            rows.append(row)
            log(f"{model:16s} {target:12s} bit_exact={row['bit_exact']:5s} arena {row['arena_bytes']} B "
                f"(TFLM {row['tflm_arena_bytes']} B) flash {row['flash_bytes']} B "
                f"{row['cycles_or_instructions']} {row['count_kind']}  [{time.time() - t0:.0f} s]")
    order = {t: i for i, t in enumerate([*TARGETS, *targets])}
    names = list(dict.fromkeys([*zoo_models(), *models]))
    rows.sort(key=lambda r: (names.index(r["model"]) if r["model"] in names else 99, order.get(r["target"], 99)))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    plot(rows, out / "nn_arena_vs_tflm.png")
    return path


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plot(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_model = {}
    for r in rows:
        per_model.setdefault(r["model"], r)
    names = list(per_model)
    ours = [int(per_model[m]["arena_bytes"]) for m in names]
    head = [int(per_model[m]["tflm_arena_head_bytes"]) for m in names]
    total = [int(per_model[m]["tflm_arena_bytes"]) for m in names]
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([i - 0.27 for i in x], ours, 0.27, label="tinycodec static arena")
    ax.bar(list(x), head, 0.27, label="TFLM arena: activations (head)")
    ax.bar([i + 0.27 for i in x], total, 0.27, label="TFLM arena: total (head + tail)")
    ax.set_xticks(list(x), names, rotation=15)
    ax.set_ylabel("bytes of RAM")
    ax.set_title("Tensor arena: generated C vs TFLite Micro (print_allocations)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
