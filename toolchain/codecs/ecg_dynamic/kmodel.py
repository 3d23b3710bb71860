"""The ECG dynamic codec's encoder as a K210 kmodel (nncase 1.9): compile, simulate, compare, place.

    python -m toolchain.codecs.ecg_dynamic.kmodel [--model DIR] [--segments 64] [--out results/ecg_kmodel.csv]

What goes into nncase. nncase 1.9 imports float TFLite models only and quantizes them itself
(toolchain/kendryte/nncase_stage.py), so it gets the deployed int8 encoder's float twin
(kpu.float_tflite: dequantized weights, same graph). The kmodel's input is float32 (1, 2048, 1);
asking nncase 1.9 for an int8 / uint8 input (preprocess + input_type + input_range) still yields a
kmodel declaring f32[1,2048,1] for this 3-D input, so the kmodel is fed the device's int8 front end
dequantized: q = clamp(zp + (((x - m) * in_mult + 32768) >> 16), -128, 127) with
m = (sum + 1024) >> 11 (export.quantize_input), then (q - zp_in) * s_in: exactly the real values
the int8 TFLite encoder sees. Calibration uses the same transform on a few segments. Inside,
nncase requantizes to its own uint8 grids (calibrated ranges), which is where it departs from
TFLite's int8 arithmetic.

What comes out. The kmodel's four outputs are float32 (nncase dequantizes at the end). Each is
compared with the int8 TFLite encoder run by TFLite's reference kernels (BUILTIN_REF, what TFLite
Micro computes) on the same int8 input: max / mean |diff| in the output's real units (the
simulator's value clipped to the int8 output's range, where TFLite saturates), and, after
requantizing the simulator's value onto the TFLite output's int8 grid (round(y / s) + zp, clamped),
max |diff| in int8 LSB and the share of equal int8 values. For context, the float twin (what
nncase was given) run by TFLite too: twin_vs_int8 is the int8 encoder's own departure from it,
sim_vs_twin the simulator's (both in LSB of the int8 output). The codec's consequence: the level the
device would pick from the `errors` output (requantized as above) with the integer rule (for l =
3, 2, 1 the first with errors[4 (l - 1) + t] <= thr, else 0 = lossless; t = rhythm, thr =
reference.threshold_q(dm, task, 750)), and the share of segments where the simulator's level differs
from TFLite's. Flags (flat / saturated segments go lossless whatever the predictor says) are left
out: the figure is about the predictor only.

Placement: per TFLite layer, where nncase put it (its IR dump, nncase_stage.layer_placements_nncase;
the outputs' LUT nodes, which nncase names 'output_F*', are traced to the graph output they feed)
and where the repo's analytic KPU model (kpu.placement.place_model) says it goes. Memory: nncase's
MEMORY USAGES (dump/kmodel_info.txt) and the peak KPU RAM of its KPU regions
(dump/codegen/k210_*.sched).

The simulator is nncase's software model of the K210 runtime and KPU, not the chip.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from ...kendryte import nncase_stage as nn
from . import SEG_N
from .deployed import OUTPUT_NAMES, TASK_IDS, DynamicModel, _io

__all__ = ["LAYER_FIELDS", "SUMMARY_FIELDS", "kmodel_report", "summary_path",
           "write_kmodel_csv", "main"]

TASK = "rhythm"            # t = 2
BOUND_MILLI = 750          # the threshold the level rule uses: 0.75 in the errors' units
N_CALIB = 16               # calibration segments (8 DS1 ones left the errors head 139 LSB off on the dev model)
SIM_TIMEOUT_S = 600
LAYER_FIELDS = ["layer", "op", "placement_nncase", "placement_model", "index", "nncase_detail",
                "model_reason", "model_kpu_bytes"]
SUMMARY_FIELDS = ["output", "max_abs_diff_lsb", "equal_share", "level_mismatch_share", "kmodel_bytes",
                  "mean_abs_diff_lsb", "max_abs_diff", "mean_abs_diff", "twin_vs_int8_max_lsb",
                  "sim_vs_twin_max_lsb", "scale", "values", "segments",
                  "calib_segments", "nncase_total_bytes", "kpu_ram_peak_bytes", "nncase"]

# Run by nncase's Python: every output of every input (nncase_stage's script reads output 0 only).
_SIM_SCRIPT = r'''
import json, sys
import numpy as np
import nncase
job = json.load(open(sys.argv[1]))
sim = nncase.Simulator()
sim.load_model(open(job["kmodel"], "rb").read())
n_out = sim.outputs_size
xs = np.load(job["inputs"]).astype(np.float32)
ys = [[] for _ in range(n_out)]
for x in xs:
    sim.set_input_tensor(0, nncase.RuntimeTensor.from_numpy(np.ascontiguousarray(x)))
    sim.run()
    for i in range(n_out):
        ys[i].append(sim.get_output_tensor(i).to_numpy().copy())
np.savez(job["outputs"], **{"y%d" % i: np.stack(y) for i, y in enumerate(ys)})
print(json.dumps({"n": len(xs), "outputs": n_out}))
'''


# ---------------------------------------------------------------- integer conventions

def device_input(dm: DynamicModel, x_adu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 (S, 2048, 1) as the device computes it, its float32 value (q - zp) * s for nncase)."""
    from .export import quantize_input
    q = quantize_input(dm, np.asarray(x_adu))
    f = (q.astype(np.float32) - np.float32(dm.input_q.zero_point)) * np.float32(dm.input_q.scale)
    return q, f


def requantize(y: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """A float output onto the int8 grid of the TFLite output it stands for."""
    return np.clip(np.rint(np.asarray(y, np.float64) / scale) + zero_point, -128, 127).astype(np.int64)


def _tflite_run(dm: DynamicModel, tfl: bytes, xs: np.ndarray) -> dict[str, np.ndarray]:
    """A TFLite encoder (int8 or its float twin: same outputs in the same order) on inputs
    (S, 2048, 1), reference kernels (BUILTIN_REF), one segment at a time."""
    from ...train.zoo.common import _interpreter
    ip = _interpreter(tfl)
    d = ip.get_input_details()[0]
    outs = ip.get_output_details()
    got: dict[str, list] = {n: [] for n in dm.output_order}
    for x in xs:
        ip.set_tensor(d["index"], x[None].astype(d["dtype"]))
        ip.invoke()
        for name, o in zip(dm.output_order, outs):
            got[name].append(ip.get_tensor(o["index"])[0].copy())
    return {n: np.stack(v) for n, v in got.items()}


def _tflite_int8(dm: DynamicModel, q: np.ndarray) -> dict[str, np.ndarray]:
    """The deployed int8 encoder on the device's int8 inputs (S, 2048, 1)."""
    return {n: v.astype(np.int64) for n, v in _tflite_run(dm, dm.encoder_tflite, q).items()}


# ---------------------------------------------------------------- nncase

def _simulate(python: str, kmodel: Path, xs: np.ndarray, work: Path) -> list[np.ndarray]:
    script, job = work / "nncase_sim_multi.py", work / "sim_multi.json"
    script.write_text(_SIM_SCRIPT)
    np.save(work / "sim_x.npy", xs)
    job.write_text(json.dumps({"kmodel": str(kmodel.resolve()), "inputs": str(work / "sim_x.npy"),
                               "outputs": str(work / "sim_y.npz")}))
    what = f"simulating {kmodel}"
    try:
        r = subprocess.run([python, str(script), str(job)], capture_output=True, text=True,
                           check=False, timeout=SIM_TIMEOUT_S, cwd=work)
    except subprocess.TimeoutExpired as e:
        raise nn.NncaseError(f"{what}: nncase did not finish in {SIM_TIMEOUT_S} s") from e
    if r.returncode != 0:
        how = (f"killed by {signal.Signals(-r.returncode).name}" if r.returncode < 0
               else f"exit {r.returncode}")
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-8:])
        raise nn.NncaseError(f"{what}: nncase ({python}) failed, {how}:\n{tail}")
    with np.load(work / "sim_y.npz") as z:
        return [z[f"y{i}"] for i in range(len(z.files))]


def _pb_nodes(path: Path) -> tuple[list[dict], list[str]]:
    """Nodes (name, op, inputs, outputs) and graph output names of one nncase .nnir.pb dump."""
    nodes, outs = [], []
    for f, _, graph in nn._pb_fields(path.read_bytes()):
        if f != 7:
            continue
        for gf, _, v in nn._pb_fields(graph):
            if gf == 1:
                d = {"name": "", "op": "", "in": [], "out": []}
                for nf, nwt, x in nn._pb_fields(v):
                    if nwt != 2:
                        continue
                    s = x.decode("utf-8", "replace")
                    if nf == 1:
                        d["in"].append(s)
                    elif nf == 2:
                        d["out"].append(s)
                    elif nf == 3:
                        d["name"] = s
                    elif nf == 4:
                        d["op"] = s
                nodes.append(d)
            elif gf == 12:     # GraphProto.output: ValueInfoProto, name = 1
                for vf, vwt, x in nn._pb_fields(v):
                    if vf == 1 and vwt == 2:
                        outs.append(x.decode("utf-8", "replace"))
    return nodes, outs


_PASS_OPS = frozenset({"Dequantize", "Quantize", "Bitcast", "Copy", "Convert", "Transpose"})


def _output_aliases(dump: Path) -> tuple[dict[str, str], list[str]]:
    """nncase names the node computing a graph output 'output', 'output_F', 'output_F_0', ...
    Follow each graph output back through data-only nodes to the node that computes it:
    {that node's name: the graph output (= TFLite tensor) name}, and the graph outputs in order."""
    nodes, outs = _pb_nodes(dump / "ir_merge_module_regions" / "main.nnir.pb")
    producer = {o: n for n in nodes for o in n["out"]}
    alias = {}
    for g in outs:
        n = producer.get(g)
        while n is not None and n["op"] in _PASS_OPS and n["in"]:
            n = producer.get(n["in"][0])
        if n is not None and re.match(r"output(_F)?(_\d+)?(/|$)", n["name"]):
            alias[n["name"]] = g
    return alias, outs


def _memory(dump: Path) -> dict[str, int]:
    """nncase's MEMORY USAGES (bytes): input, output, data, model, total."""
    p = dump / "kmodel_info.txt"
    if not p.is_file():
        return {}
    return {m.group(1).lower(): int(m.group(2))
            for m in re.finditer(r"^\s*\.?(\w+):?\s+[\d.]+\s*\w*B\s+\((\d+) B\)", p.read_text(), re.M)}


def _kpu_ram_peak(dump: Path) -> int | None:
    """Peak KPU RAM of nncase's KPU regions: the largest end offset of the buffers it places in the
    K210 module's own memory location (printed '@unknown[start, end]' in codegen/k210_*.sched;
    for the ECG encoder it equals the analytic kpu_bytes of the layer's input + output maps)."""
    files = sorted((dump / "codegen").glob("k210_*.sched"))
    if not files:
        return None
    ends = [int(m.group(1)) for p in files for m in re.finditer(r"@unknown\[\d+, (\d+)\]", p.read_text())]
    return max(ends, default=0)


# ---------------------------------------------------------------- the report

def _mismatch(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a != b)) if len(a) else 0.0


def kmodel_report(dm: DynamicModel, x_adu: np.ndarray, work: Path, calib_adu: np.ndarray | None = None,
                  n_calib: int = N_CALIB, status: nn.NncaseStatus | None = None, log=None) -> dict:
    """Compile dm's encoder to a K210 kmodel in ``work``, simulate it on the segments x_adu (S, 2048)
    int adu and compare with the int8 TFLite encoder; see the module docstring for every figure.

    calib_adu: calibration segments (default: n_calib evenly spaced segments of x_adu). Raises
    NncaseUnavailable (before any work) when nncase for the K210 is missing, NncaseError when it fails."""
    from ...kendryte.kpu import place_model
    from ...kendryte.kpu.float_tflite import float_tflite_from_int8
    from .reference import select_levels, threshold_q
    say = log or (lambda _m: None)
    status = status or nn.detect_nncase()
    python = status.require("k210")
    x_adu = np.asarray(x_adu)
    if x_adu.ndim != 2 or x_adu.shape[1] != SEG_N or not len(x_adu):
        raise ValueError(f"segments have shape {x_adu.shape}; expected (S, {SEG_N}) adu")
    if calib_adu is None:
        idx = np.unique(np.linspace(0, len(x_adu) - 1, min(n_calib, len(x_adu))).round().astype(int))
        calib_adu = x_adu[idx]
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)

    ftfl = work / "encoder.float.tflite"
    ftfl.write_bytes(float_tflite_from_int8(dm.encoder_tflite))
    _, calib_f = device_input(dm, calib_adu)
    dump = work / "nncase_dump"
    km = nn.compile_kmodel(ftfl, calib_f, "k210", work / "encoder.kmodel", dump_dir=dump, status=status)
    kmodel_bytes = km.stat().st_size
    say(f"kmodel {km}: {kmodel_bytes} B (calibrated on {len(calib_f)} segments)")

    q, f = device_input(dm, x_adu)
    ys = _simulate(python, km, f[:, None], work)               # (S, 1, 2048, 1) in
    ref = _tflite_int8(dm, q)
    twin = _tflite_run(dm, ftfl.read_bytes(), f)              # context: what nncase was given
    alias, graph_outs = _output_aliases(dump)
    # kmodel output i = the dump's graph output i, named after its TFLite tensor
    _, tfl_outs = _io(dm.encoder_tflite)
    by_tensor = {o["name"]: name for name, o in zip(dm.output_order, tfl_outs)}
    order = [by_tensor.get(g) for g in graph_outs] if len(graph_outs) == len(ys) else []
    if sorted(n for n in order if n) != sorted(OUTPUT_NAMES):
        order = list(dm.output_order)           # nncase keeps the TFLite output order

    outputs, sim_q = {}, {}
    for name, y in zip(order, ys):
        oq = dm.outputs[name]
        r = ref[name]
        y = y.reshape(r.shape).astype(np.float64)
        yq = requantize(y, oq.scale, oq.zero_point)
        sim_q[name] = yq
        r_real = (r - oq.zero_point) * oq.scale
        d_lsb = np.abs(yq - r)
        # the int8 output saturates at its grid's ends, nncase's float output does not: compare
        # in real units within the int8 output's range
        lo, hi = (-128 - oq.zero_point) * oq.scale, (127 - oq.zero_point) * oq.scale
        d_real = np.abs(np.clip(y, lo, hi) - r_real)
        tw = np.clip(twin[name].reshape(r.shape).astype(np.float64), lo, hi)
        yc = np.clip(y, lo, hi)
        outputs[name] = {"max_abs_diff_lsb": int(d_lsb.max()), "mean_abs_diff_lsb": float(d_lsb.mean()),
                         "equal_share": float(np.mean(d_lsb == 0)), "max_abs_diff": float(d_real.max()),
                         "mean_abs_diff": float(d_real.mean()), "ref_mean_abs": float(np.abs(r_real).mean()),
                         "scale": oq.scale, "zero_point": oq.zero_point, "values": int(r.size),
                         # the int8 encoder's own departure from its float twin, and the simulator's
                         # from the float twin (in LSB of the int8 output): where the diff comes from
                         "twin_vs_int8_max_lsb": int(np.abs(requantize(tw, oq.scale, oq.zero_point) - r).max()),
                         "sim_vs_twin_max_lsb": float(np.abs(yc - tw).max() / oq.scale),
                         "sim_vs_twin_mean_lsb": float(np.abs(yc - tw).mean() / oq.scale)}

    t = TASK_IDS[TASK]
    thr = threshold_q(dm, t, BOUND_MILLI)
    lv_ref = select_levels(ref["errors"], thr, t)
    lv_sim = select_levels(sim_q["errors"], thr, t)
    by_task = {task: _mismatch(select_levels(ref["errors"], threshold_q(dm, i, BOUND_MILLI), i),
                               select_levels(sim_q["errors"], threshold_q(dm, i, BOUND_MILLI), i))
               for task, i in TASK_IDS.items()}
    sweep = {k: _mismatch(select_levels(ref["errors"], k, t), select_levels(sim_q["errors"], k, t))
             for k in range(-128, 128)}
    worst = max(sweep, key=lambda k: (sweep[k], -abs(k - thr)))
    level = {"task": TASK, "task_index": t, "bound_milli": BOUND_MILLI, "threshold_q": int(thr),
             "mismatch_share": _mismatch(lv_ref, lv_sim), "mismatch_share_by_task": by_task,
             "mismatch_share_worst_threshold": sweep[worst], "worst_threshold_q": int(worst),
             "levels_tflite": np.bincount(lv_ref, minlength=4).tolist(),
             "levels_sim": np.bincount(lv_sim, minlength=4).tolist()}

    pl = place_model(dm.encoder_tflite)
    nodes = [nn.NncaseNode(alias.get(n.name, n.name), n.op, n.module) for n in nn.nncase_placement(dump)]
    where = nn.layer_placements_nncase([p.tensor for p in pl], nodes)
    layers = [{"index": p.index, "layer": p.layer, "op": p.op, "tensor": p.tensor,
               "placement_nncase": w, "nncase_detail": detail, "placement_model": p.placement,
               "model_reason": p.reason, "model_kpu_bytes": p.kpu_bytes, "macs": p.macs}
              for p, (w, detail) in zip(pl, where)]
    agree = sum(r["placement_nncase"] == r["placement_model"] for r in layers)
    macs = sum(r["macs"] for r in layers)
    kpu_macs = sum(r["macs"] for r in layers if r["placement_nncase"] == "KPU")
    report = {
        "model": str(dm.root), "nncase": status.k210_nncase, "segments": int(len(x_adu)),
        "calib_segments": int(len(calib_f)),
        "input": (f"float32 (1, {SEG_N}, 1) = (q - {dm.input_q.zero_point}) * {dm.input_q.scale:.9g} "
                  "of the device's int8 q (nncase 1.9 imports float TFLite only and keeps a float "
                  "input for this 3-D tensor)"),
        "output_dtype": "float32 (nncase dequantizes its outputs; requantized onto TFLite's int8 grids)",
        "reference": "int8 encoder.tflite, tf.lite BUILTIN_REF kernels, same int8 input",
        "kmodel": str(km), "kmodel_bytes": int(kmodel_bytes), "memory": _memory(dump),
        "kpu_ram_peak_bytes": _kpu_ram_peak(dump),
        "kpu_ram_peak_bytes_model": max((r["model_kpu_bytes"] for r in layers
                                         if r["placement_model"] == "KPU"), default=0),
        "outputs": outputs, "level": level, "layers": layers,
        "placement_agree": int(agree), "kpu_layers_nncase": sum(r["placement_nncase"] == "KPU" for r in layers),
        "kpu_mac_share_nncase": kpu_macs / macs if macs else 0.0,
        "note": nn.SimResult.__dataclass_fields__["note"].default,
    }
    return report


def summary_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}_summary{path.suffix or '.csv'}")


def write_kmodel_csv(report: dict, path: Path) -> tuple[Path, Path]:
    """``path``: one row per layer (LAYER_FIELDS); ``<stem>_summary.csv`` next to it: one row per
    output (SUMMARY_FIELDS; level_mismatch_share and kmodel_bytes are the whole model's, on every
    row). Returns both paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LAYER_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(report["layers"])
    sp = summary_path(path)
    mem = report.get("memory", {})
    with sp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
        w.writeheader()
        for name in OUTPUT_NAMES:
            o = report["outputs"][name]
            w.writerow({"output": name, "max_abs_diff_lsb": o["max_abs_diff_lsb"],
                        "equal_share": f"{o['equal_share']:.6g}",
                        "level_mismatch_share": f"{report['level']['mismatch_share']:.6g}",
                        "kmodel_bytes": report["kmodel_bytes"],
                        "mean_abs_diff_lsb": f"{o['mean_abs_diff_lsb']:.6g}",
                        "max_abs_diff": f"{o['max_abs_diff']:.6g}", "mean_abs_diff": f"{o['mean_abs_diff']:.6g}",
                        "twin_vs_int8_max_lsb": o["twin_vs_int8_max_lsb"],
                        "sim_vs_twin_max_lsb": f"{o['sim_vs_twin_max_lsb']:.3g}",
                        "scale": f"{o['scale']:.9g}", "values": o["values"], "segments": report["segments"],
                        "calib_segments": report["calib_segments"], "nncase_total_bytes": mem.get("total", ""),
                        "kpu_ram_peak_bytes": report.get("kpu_ram_peak_bytes") or "",
                        "nncase": report["nncase"]})
    return path, sp


# ---------------------------------------------------------------- CLI

def ds2_segments(n: int) -> np.ndarray:
    """n evenly spaced segments of all DS2 (MIT-BIH test) records' segments, in record order."""
    from ...data import mitdb_split
    from .segments import record_segments
    x = np.concatenate([record_segments(r).x for r in mitdb_split()["test"]])
    return x[np.unique(np.linspace(0, len(x) - 1, min(n, len(x))).round().astype(int))]


def ds1_calibration(n: int = N_CALIB) -> np.ndarray:
    """n calibration segments, evenly spaced over DS1's training records' segments (the int8
    encoder was calibrated on training data too; DS2 stays held out)."""
    from ...data import mitdb_split
    from .segments import record_segments
    x = np.concatenate([record_segments(r).x for r in mitdb_split()["train"]])
    return x[np.unique(np.linspace(0, len(x) - 1, min(n, len(x))).round().astype(int))]


def _print(report: dict) -> None:
    lv = report["level"]
    print(f"{report['model']}: nncase {report['nncase']}, kmodel {report['kmodel_bytes']} B; memory "
          + ", ".join(f"{k} {v} B" for k, v in report["memory"].items())
          + f"; KPU RAM peak {report['kpu_ram_peak_bytes']} B (model: {report['kpu_ram_peak_bytes_model']} B)")
    print(f"  input: {report['input']}")
    for name in OUTPUT_NAMES:
        o = report["outputs"][name]
        print(f"  {name:6s} max |diff| {o['max_abs_diff_lsb']} LSB (mean {o['mean_abs_diff_lsb']:.3f}), "
              f"equal {o['equal_share']:.1%}; real units max {o['max_abs_diff']:.4g} "
              f"(mean |y| {o['ref_mean_abs']:.4g}); float twin vs int8 max {o['twin_vs_int8_max_lsb']} LSB, "
              f"simulator vs float twin max {o['sim_vs_twin_max_lsb']:.1f} LSB")
    print(f"  level ({lv['task']}, threshold q {lv['threshold_q']}): differs on {lv['mismatch_share']:.1%} of "
          f"{report['segments']} segments; TFLite levels 0-3 {lv['levels_tflite']}, simulator {lv['levels_sim']}; "
          f"worst over int8 thresholds {lv['mismatch_share_worst_threshold']:.1%} (q {lv['worst_threshold_q']})")
    print(f"  placement: {report['kpu_layers_nncase']} layers on the KPU per nncase "
          f"({report['kpu_mac_share_nncase']:.1%} of MACs); nncase and the analytic model agree on "
          f"{report['placement_agree']}/{len(report['layers'])} layers")
    for r in report["layers"]:
        print(f"    {r['index']:2d} {r['op']:18s} nncase {r['placement_nncase']:4s} model {r['placement_model']:4s} "
              f"{r['layer']}")


def main(argv: list[str] | None = None) -> int:
    import tempfile
    from .deployed import DynamicModelError, load_dynamic
    ap = argparse.ArgumentParser(description="ECG dynamic encoder as a K210 kmodel: nncase simulator vs TFLite")
    ap.add_argument("--model", default=None, help="codec folder (default models/ecg-dynamic)")
    ap.add_argument("--segments", type=int, default=64, help="evenly spaced DS2 segments to simulate")
    ap.add_argument("--out", type=Path, default=Path("results/ecg_kmodel.csv"))
    ap.add_argument("--calib", type=int, default=N_CALIB, help="DS1 calibration segments")
    ap.add_argument("--work", type=Path, default=None, help="keep the kmodel and nncase's dump here")
    a = ap.parse_args(argv)
    try:
        dm = load_dynamic(a.model)
    except DynamicModelError as e:
        print(f"ecg kmodel: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ecg-kmodel-") as td:
        try:
            rep = kmodel_report(dm, ds2_segments(a.segments), a.work or Path(td), calib_adu=ds1_calibration(a.calib),
                                log=print)
        except (nn.NncaseUnavailable, nn.NncaseError) as e:
            print(f"ecg kmodel: {e}", file=sys.stderr)
            return 2
    _print(rep)
    lp, sp = write_kmodel_csv(rep, a.out)
    print(f"wrote {lp} ({len(rep['layers'])} layers) and {sp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
