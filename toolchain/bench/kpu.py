"""make bench-kpu: where the zoo's layers would run on the Kendryte K210 -> results/k210_kpu.csv.

One row per layer (TFLite operator) of every zoo model, plus the KPU-friendly 2-D variant of the
ECG encoder (toolchain/kendryte/kpu/layout.py, built on the fly with untrained weights: only its
placement is the point). Columns:

    model, layer, op                 the model and the layer (output tensor name, TFLite op)
    placement, reason, kpu_bytes     our checker (toolchain/kendryte/kpu/placement.py): KPU / CPU /
                                     none, why, KPU RAM for the layer's input + output maps
    nncase_placement                 where nncase 1.9 really put the layer (KPU / CPU / none), read
                                     from its IR dump; empty where nncase is not installed
    nncase_max_abs_err,              the whole compiled kmodel in nncase's simulator vs the float
    nncase_mean_abs_err              TFLite model, on held-out inputs (the same figure on each of
                                     the model's rows); float output units
    nncase_note                      nncase's per-layer detail, or why there is no nncase figure
                                     (the NncaseUnavailable / NncaseError message)

nncase gets each zoo model's float twin (kpu.float_tflite: the int8 model's dequantized weights),
calibrated on the first 32 held-out inputs of heldout.npz and simulated on the next 64. The
simulator is nncase's software model of the K210 runtime and KPU, not the chip.
"""
from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

from .. import paths
from toolchain.kendryte import nncase_stage as nn
from toolchain.kendryte.kpu import kpu_summary, place_model
from toolchain.kendryte.kpu.layout import ECG_VARIANT_NAME
from toolchain.nn.tflite_model import read_tflite

RESULTS = paths.results_dir()
ZOO_DIR = paths.zoo_dir()
FIELDS = ["model", "layer", "op", "placement", "reason", "kpu_bytes", "nncase_placement",
          "nncase_max_abs_err", "nncase_mean_abs_err", "nncase_note"]
N_CALIB, N_SIM = 32, 64
VARIANT_INPUTS_FROM = "ecg-cae-encoder"   # same 256-sample input: real held-out ECG windows


def zoo_names() -> list[str]:
    return sorted(p.parent.name for p in ZOO_DIR.glob("*/model.tflite"))


def _heldout_float(name: str, tfl: bytes) -> np.ndarray:
    """heldout.npz inputs of a zoo model, dequantized with its int8 input's scale / zero point."""
    g = read_tflite(tfl)
    q = g.tensors[g.inputs[0]].quant
    x = np.load(ZOO_DIR / name / "heldout.npz")["x"]
    return (x.astype(np.float32) - np.float32(q.zero_point[0])) * np.float32(q.scale[0])


def _nncase(name: str, tfl: bytes, inputs: np.ndarray, status: nn.NncaseStatus, work: Path) -> dict:
    """Compile + simulate one model with nncase: {'nodes', 'max', 'mean', 'note'}; raises the
    nncase stage's errors."""
    from toolchain.kendryte.kpu.float_tflite import float_tflite_from_int8
    ft = work / f"{name}.float.tflite"
    ft.write_bytes(float_tflite_from_int8(tfl))
    dump = work / f"{name}.dump"
    km = nn.compile_kmodel(ft, inputs[:N_CALIB], "k210", work / f"{name}.kmodel", dump_dir=dump,
                           status=status)
    sim = nn.simulate_kmodel(km, ft, inputs[N_CALIB:N_CALIB + N_SIM], status=status)
    return {"nodes": nn.nncase_placement(dump), "max": sim.max_abs_err, "mean": sim.mean_abs_err,
            "ref": sim.ref_mean_abs, "n": sim.n, "kmodel_bytes": km.stat().st_size}


def bench_model(name: str, tfl: bytes, inputs: np.ndarray | None, status: nn.NncaseStatus | None,
                work: Path, log=print) -> list[dict]:
    """Rows for one model; status None = nncase not asked for."""
    pl = place_model(tfl)
    res, note = None, ""
    if status is None:
        note = "nncase not run (--no-nncase)"
    elif not status.available("k210"):
        note = status.message()
    else:
        try:
            res = _nncase(name, tfl, inputs, status, work)
        except (nn.NncaseError, nn.NncaseUnavailable, ValueError) as e:
            note = f"nncase failed: {str(e).splitlines()[0]}"
    rows, agree = [], 0
    if res is not None:
        g = read_tflite(tfl)
        out_t = g.tensors[g.outputs[0]].name if len(g.outputs) == 1 else ""
        where_nn = nn.layer_placements_nncase([p.tensor for p in pl], res["nodes"], out_t)
    for i, p in enumerate(pl):
        row = {"model": name, "layer": p.layer, "op": p.op, "placement": p.placement,
               "reason": p.reason, "kpu_bytes": p.kpu_bytes, "nncase_placement": "",
               "nncase_max_abs_err": "", "nncase_mean_abs_err": "", "nncase_note": note}
        if res is not None:
            where, detail = where_nn[i]
            agree += where == p.placement
            row.update(nncase_placement=where, nncase_max_abs_err=f"{res['max']:.6g}",
                       nncase_mean_abs_err=f"{res['mean']:.6g}", nncase_note=detail)
        rows.append(row)
    s = kpu_summary(pl)
    log(f"{name}: KPU {s['kpu_layers']} ({s['kpu_partial_layers']} with CPU pad/crop), "
        f"CPU {s['cpu_layers']}, none {s['free_layers']} of {s['layers']} layers; "
        f"{s['kpu_mac_share']:.0%} of {s['macs']} MACs on the KPU; peak KPU RAM {s['peak_kpu_bytes']} B")
    if res is not None:
        log(f"  nncase {status.k210_nncase}: kmodel {res['kmodel_bytes']} B; placement agrees with the "
            f"checker on {agree}/{len(pl)} layers; simulator vs float TFLite on {res['n']} held-out "
            f"inputs: max |err| {res['max']:.4g}, mean {res['mean']:.4g} (mean |y| {res['ref']:.4g})")
    else:
        log(f"  nncase: {note}")
    return rows


def run_bench(models: list[str] | None = None, out: Path | None = None, variant: bool = True,
              nncase: bool = True, log=print) -> list[dict]:
    """Write the CSV (default results/k210_kpu.csv) for ``models`` (default: the whole zoo) and,
    with ``variant``, the KPU-friendly ECG encoder. Returns the rows."""
    out = RESULTS / "k210_kpu.csv" if out is None else Path(out)
    names = zoo_names() if models is None else list(models)
    unknown = [m for m in names if not (ZOO_DIR / m / "model.tflite").exists()]
    if unknown:
        raise ValueError(f"not in {ZOO_DIR}: {', '.join(unknown)} (have {', '.join(zoo_names())})")
    status = nn.detect_nncase() if nncase else None
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-kpu-") as td:
        work = Path(td)
        for name in names:
            tfl = (ZOO_DIR / name / "model.tflite").read_bytes()
            rows += bench_model(name, tfl, _heldout_float(name, tfl), status, work, log)
        if variant:
            from toolchain.kendryte.kpu.layout import ecg_encoder_kpu_tflite
            src = (ZOO_DIR / VARIANT_INPUTS_FROM / "model.tflite").read_bytes()
            rows += bench_model(ECG_VARIANT_NAME, ecg_encoder_kpu_tflite(),
                                _heldout_float(VARIANT_INPUTS_FROM, src), status, work, log)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    log(f"wrote {out} ({len(rows)} rows)")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="K210 KPU placement of the zoo -> results/k210_kpu.csv")
    ap.add_argument("--models", nargs="*", help="zoo models (default: all)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-variant", action="store_true", help="skip the KPU-friendly ECG variant")
    ap.add_argument("--no-nncase", action="store_true", help="placement only, do not run nncase")
    a = ap.parse_args(argv)
    run_bench(a.models, a.out, variant=not a.no_variant, nncase=not a.no_nncase)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
