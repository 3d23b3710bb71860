"""`make bench-ecg`: the Dynamic-Deep evaluation on MIT-BIH DS2 -> results/ecg_dynamic.csv + PNGs.

Rows (bound, task, method): the device's selection ("dynamic") for a sweep of bounds on each task's
error, the paper's feedback-aware oracles ("oracle-2": CG 64 or lossless; "oracle-3": 64, 32 or
lossless, both from the real task error), every fixed level ("fixed-16/32/64", "lossless"), and
classical codecs at equal bit rate ("dwt@...", "eb@..."): a DWT threshold coder and tinycodec's
error-bounded codec at the mean bits per segment of the method named after '@'. Device rows
("device:<board>") give bit-exactness against the Python/TFLite Micro reference, instructions per
segment and energy (compute + radio). See evaluate.py for how every column is counted.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from ... import paths
from . import ADC_BITS, LOSSY_LEVELS, SEG_N, TASKS
from .evaluate import (TASK_NAMES, LevelData, level_data, select_dynamic, select_fixed, select_oracle,
                       summarize, task_errors)

COLUMNS = ["bound", "task", "method", "avg_cg_samples", "avg_cg_bits", "mean_task_error", "violation_rate",
           "prd", "prdn", "beat_macro_f1", "qrs_se", "qrs_ppv", "segments",
           "exceed_rate", "cg_bits_mean_of_segments", "share_lossless", "share_l1", "share_l2", "share_l3",
           "beat_f1_S", "beat_f1_V", "bit_exact_segments", "instructions_per_segment", "cycles_per_segment",
           "energy_compute_uj", "energy_radio_uj", "radio", "prd_minmax", "note"]
BOUNDS = {"beat": (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0), "rhythm": (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)}
PAPER_BOUND = 0.75
RADIO = "cc2420"


def _log(msg: str) -> None:
    print(f"[bench-ecg] {msg}", file=sys.stderr, flush=True)


def _grid(ld: LevelData, task: str) -> tuple[float, ...]:
    if task in BOUNDS:
        return BOUNDS[task]
    # rpeak / weighted: multiples of the mean error of the lossless signal (same scale as the task)
    t = TASK_NAMES.index(task)
    base = float(np.mean(ld.err[0][:, t]))
    return tuple(round(base * f, 4) for f in (1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 6.0))


class Scorer:
    """Beat macro-F1 and QRS Se/PPV of a per-segment mixture of levels, from per-level caches."""

    def __init__(self, ld: LevelData, tasks):
        from .downstream import beat_scores
        self.ld, self.tasks = ld, tasks
        self.batch = ld.extra["batch"]
        self.beats = {lv: beat_scores(_norm(ld.recon[lv]), self.batch, tasks) for lv in ld.recon}
        self.qrs = {lv: self._detect(ld.recon[lv]) for lv in ld.recon}

    def _detect(self, recon: np.ndarray) -> dict[int, np.ndarray]:
        from .downstream import qrs_detect
        out = {}
        for r in np.unique(self.ld.record):
            m = self.ld.record == r
            out[int(r)] = np.asarray(qrs_detect(recon[m].reshape(-1)), np.int64)
        return out

    def beat(self, lv: np.ndarray | None, recon: np.ndarray | None = None) -> dict:
        from .downstream import beat_scores, macro_f1_from
        if lv is None:
            return beat_scores(_norm(recon), self.batch, self.tasks)
        pred = self.beats[0]["pred"].copy()
        seg_row = self.beats[0]["row"]
        for level in LOSSY_LEVELS:
            m = lv[seg_row] == level
            pred[m] = self.beats[level]["pred"][m]
        return macro_f1_from(self.beats[0]["true"], pred)

    def qrs_of(self, lv: np.ndarray | None, recon: np.ndarray | None = None) -> tuple[float, float]:
        from .segments import record_segments
        from .downstream import match_qrs
        det = self._detect(recon) if lv is None else None
        tp = fp = fn = 0
        for r in np.unique(self.ld.record):
            m = self.ld.record == r
            if det is not None:
                d = det[int(r)]
            else:
                lvr = lv[m]
                parts = []
                for level in np.unique(lvr):
                    dd = self.qrs[int(level)][int(r)]
                    parts.append(dd[lvr[dd // SEG_N] == level])
                d = np.sort(np.concatenate(parts))
            ref = record_segments(int(r)).beat_sample
            ref = ref[ref < m.sum() * SEG_N]
            a, b, c = match_qrs(ref, d)
            tp, fp, fn = tp + a, fp + b, fn + c
        return tp / max(tp + fn, 1), tp / max(tp + fp, 1)


def _norm(x_adu: np.ndarray) -> np.ndarray:
    from .segments import normalize
    return normalize(x_adu)


def _row(base: dict, bound, task, method, sc: Scorer, lv, recon=None) -> dict:
    b = sc.beat(lv, recon)
    se, ppv = sc.qrs_of(lv, recon)
    r = {k: v for k, v in base.items() if not k.startswith("_")}
    r.update({"bound": "" if bound is None else bound, "task": task or "", "method": method,
              "beat_macro_f1": b["macro_f1"], "beat_f1_S": b["f1"]["S"], "beat_f1_V": b["f1"]["V"],
              "qrs_se": se, "qrs_ppv": ppv})
    return r


def _baseline_rows(ld: LevelData, tasks, sc: Scorer, rates: dict[str, float]) -> list[dict]:
    from .baselines import dwt_at_rate, eb_at_rate
    rows = []
    for name, bits in rates.items():
        t0 = time.time()
        for codec, fn in (("dwt", dwt_at_rate), ("eb", eb_at_rate)):
            res = fn(ld.x, int(round(bits))) if codec == "dwt" else fn(ld.x, float(bits), strict=False)
            recon, nb = np.asarray(res[0], np.int64), np.asarray(res[1])
            err = task_errors(tasks, ld.extra["batch"], recon)
            for task in TASK_NAMES:
                bound = PAPER_BOUND if task in ("beat", "rhythm") and name.startswith("dynamic") else None
                s = summarize(ld, None, task, bound, recon=recon, bits=nb, err=err)
                row = _row(s, bound, task, f"{codec}@{name}", sc, None, recon) if task == TASK_NAMES[0] else \
                    {**{k: v for k, v in s.items() if not k.startswith("_")}, "bound": "" if bound is None else bound,
                     "task": task, "method": f"{codec}@{name}", **{k: rows[-1][k] for k in
                     ("beat_macro_f1", "beat_f1_S", "beat_f1_V", "qrs_se", "qrs_ppv")}}
                if codec == "eb" and len(res) > 2:
                    over = float(np.mean(nb)) > bits * 1.001
                    row["note"] = (f"eps {res[2]}" + (f"; the eb codec's floor ({np.mean(nb):.0f} bits/segment at its "
                                   f"largest eps) is above the target {bits:.0f}: not at equal rate" if over else ""))
                rows.append(row)
        _log(f"baselines at {name} ({bits:.0f} bits/segment): {time.time() - t0:.0f} s")
    return rows


def selection_rows(dm, ld: LevelData, tasks, sc: Scorer) -> list[dict]:
    rows = []
    for task in TASK_NAMES:
        for bound in _grid(ld, task):
            for method, lv in (("dynamic", select_dynamic(dm, ld, task, bound)),
                               ("oracle-2", select_oracle(ld, task, bound, (3,))),
                               ("oracle-3", select_oracle(ld, task, bound, (3, 2)))):
                rows.append(_row(summarize(ld, lv, task, bound), bound, task, method, sc, lv))
    for level, name in ((0, "lossless"), (1, "fixed-16"), (2, "fixed-32"), (3, "fixed-64")):
        lv = select_fixed(ld, level)
        first = None
        for task in TASK_NAMES:
            s = summarize(ld, lv, task, None)
            if first is None:
                first = _row(s, None, task, name, sc, lv)
                rows.append(first)
            else:
                rows.append({**{k: v for k, v in s.items() if not k.startswith("_")}, "bound": "", "task": task,
                             "method": name, **{k: first[k] for k in
                                                ("beat_macro_f1", "beat_f1_S", "beat_f1_V", "qrs_se", "qrs_ppv")}})
    return rows


def _energy_board(board):
    """The board whose clock, supply and current price the instructions: the board itself, or for
    an emulated twin without its own figures the real board it emulates ([cpu] twin_of)."""
    from ...boards import load_board
    if board.active_current_a and board.voltage_v:
        return board, ""
    real = board.raw.get("cpu", {}).get("twin_of")
    if real:
        rb = load_board(real)
        if rb.active_current_a and rb.voltage_v:
            return rb, f"energy figures of {real} (the board {board.name} emulates)"
    return board, ""


def ds2_device_segments(n: int, records=None) -> np.ndarray:
    """n segments evenly spaced over the DS2 records, int64 adu (the device rows' inputs)."""
    from ...data import mitdb_split
    from .segments import record_segments
    X = np.concatenate([record_segments(r).x for r in (records or mitdb_split()["test"])])
    return X[np.linspace(0, len(X) - 1, n).round().astype(int)]


def device_rows(dm, X_all: np.ndarray, boards: list[str], n: int, eps: int) -> list[dict]:
    """Bit-exactness and cost of the deployed encoder + selector on the family twins, on n segments
    evenly spaced over X_all (S, 2048)."""
    from ...boards import load_board
    from ...bench.energy import get_radio, mcu_energy_per_cycle_j, radio_energy_j
    from .device import run_on_board
    from .reference import encode
    idx = np.linspace(0, len(X_all) - 1, n).round().astype(int)
    X = np.asarray(X_all)[idx].astype(np.int16)
    ref = encode(dm, X, eps, dm.latent_bits)
    radio = get_radio(RADIO)
    rows = []
    for b in boards:
        t0 = time.time()
        row = {"method": f"device:{b}", "task": "rhythm", "bound": PAPER_BOUND, "segments": n, "radio": RADIO}
        try:
            got = run_on_board(dm, b, X, eps, dm.latent_bits)
        except Exception as e:  # noqa: BLE001 - a board that cannot run it is a row with the reason
            row["note"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            rows.append(row)
            _log(f"{b}: {row['note']}")
            continue
        ok = sum(int(g.data == r[0] and g.nbits == r[1]) for g, r in zip(got, ref))
        bits = np.array([r[1] for r in ref], np.float64)
        row["bit_exact_segments"] = f"{ok}/{n}"
        row["avg_cg_bits"] = SEG_N * ADC_BITS * n / bits.sum()
        instr = [g.instructions for g in got if getattr(g, "instructions", None) is not None]
        cyc = [g.cycles for g in got if getattr(g, "cycles", None) is not None]
        board, whose = _energy_board(load_board(b))
        note = [f"{time.time() - t0:.0f} s"] + ([whose] if whose else [])
        if instr:
            row["instructions_per_segment"] = float(np.mean(instr))
        if cyc:
            row["cycles_per_segment"] = float(np.mean(cyc))
        count = row.get("cycles_per_segment", row.get("instructions_per_segment"))
        clk = getattr(board, "clock_hz", None)
        cur = getattr(board, "active_current_a", None)
        volt = getattr(board, "voltage_v", None)
        if count is not None and clk and cur and volt:
            row["energy_compute_uj"] = count * mcu_energy_per_cycle_j(volt, cur, clk) * 1e6
            if not cyc:
                note.append("compute energy from instructions at 1 cycle each (a lower bound: QEMU counts "
                            "instructions, not cycles)")
        row["energy_radio_uj"] = float(np.mean([radio_energy_j(radio, int(x)) for x in bits])) * 1e6
        row["note"] = "; ".join(note)
        rows.append(row)
        _log(f"{b}: {row['bit_exact_segments']} bit-exact, {count}")
    return rows


def plot(rows: list[dict], out_dir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    def figure(name: str, xlabel: str, ylabel: str, draw, log_x: bool = False) -> Path:
        fig, axes = plt.subplots(1, len(TASK_NAMES), figsize=(4.2 * len(TASK_NAMES), 3.5))
        for ax, task in zip(axes, TASK_NAMES):
            draw(ax, task)
            if log_x:
                ax.set_xscale("log")
            ax.set(title=task, xlabel=xlabel, ylabel=ylabel)
            ax.grid(alpha=.3)
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        return out_dir / name

    selections = (("dynamic", "o-"), ("oracle-2", "s--"), ("oracle-3", "^--"))

    def of(task, method):
        return [r for r in rows if r["task"] == task and r["method"] == method]

    def cg_vs_bound(ax, task):
        for method, st in selections:
            rr = of(task, method)
            ax.plot([r["bound"] for r in rr], [r["avg_cg_bits"] for r in rr], st, label=f"{method} (bits)")
            if method == "dynamic":
                ax.plot([r["bound"] for r in rr], [r["avg_cg_samples"] for r in rr], "o:", label="dynamic (samples)")

    def error_vs_cg(ax, task):
        for method, st in selections:
            rr = of(task, method)
            ax.plot([r["avg_cg_bits"] for r in rr], [r["mean_task_error"] for r in rr], st, label=method)
        for r in rows:
            if r["task"] == task and (r["method"].startswith("fixed") or r["method"] == "lossless"
                                      or "@" in r["method"]):
                ax.plot(r["avg_cg_bits"], r["mean_task_error"], "k." if "@" not in r["method"] else "rx")
                ax.annotate(r["method"], (r["avg_cg_bits"], r["mean_task_error"]), fontsize=6)

    return [figure("ecg_cg_vs_bound.png", "bound on the task error", "average CG", cg_vs_bound),
            figure("ecg_error_vs_cg.png", "average CG (bits)", "mean real task error", error_vs_cg, log_x=True)]


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, (float, np.floating)) else v) for k, v in r.items()
                        if k in COLUMNS})


def main(argv: list[str] | None = None) -> int:
    from ...data import mitdb_split
    from .deployed import load_dynamic
    from .downstream import load_tasks
    ap = argparse.ArgumentParser(prog="tinycodec bench-ecg", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="codec folder (default models/ecg-dynamic)")
    ap.add_argument("--records", type=int, nargs="*", default=None, help="DS2 records (default: all 22)")
    ap.add_argument("--boards", nargs="*", default=["native", "k210-qemu", "cortex-m-qemu", "msp430f1611"])
    ap.add_argument("--device-segments", type=int, default=128)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--device-only", action="store_true",
                    help="rerun only the device rows of --boards and keep every other row of --out")
    ap.add_argument("--full", action="store_true", help="1024 device segments per board instead of 128")
    ap.add_argument("--out", type=Path, default=paths.results_dir() / "ecg_dynamic.csv")
    a = ap.parse_args(argv)
    if a.full:
        a.device_segments = max(a.device_segments, 1024)
    t0 = time.time()
    dm = load_dynamic(a.model)
    from .deployed import TASK_IDS
    eps = TASK_IDS["rhythm"] << 12 | int(PAPER_BOUND * 1000)
    records = a.records or mitdb_split()["test"]
    if a.device_only:
        return _rerun_devices(dm, a, records, eps)
    tasks = load_tasks()
    _log(f"{len(records)} DS2 records: reconstructions and task errors per level")
    ld = level_data(dm, tasks, records)
    _log(f"{len(ld.x)} segments ({time.time() - t0:.0f} s); detector and beat classifier per level")
    sc = Scorer(ld, tasks)
    rows = selection_rows(dm, ld, tasks, sc)
    _log(f"selection sweeps done ({time.time() - t0:.0f} s)")
    if not a.no_baselines:
        bits_of = {r["method"] if r["method"] != "dynamic" else f"dynamic-{r['task']}-{r['bound']}":
                   SEG_N * ADC_BITS / r["avg_cg_bits"] for r in rows
                   if r["method"] in ("fixed-16", "fixed-32", "fixed-64") and r["task"] == TASK_NAMES[0]
                   or (r["method"] == "dynamic" and r["task"] in ("beat", "rhythm") and r["bound"] == PAPER_BOUND)}
        rows += _baseline_rows(ld, tasks, sc, bits_of)
    rows += device_rows(dm, ld.x, a.boards, a.device_segments, eps)
    write_csv(rows, a.out)
    pngs = plot([r for r in rows if not r["method"].startswith("device")], a.out.parent)
    _log(f"wrote {a.out} ({len(rows)} rows) and {', '.join(p.name for p in pngs)} in {time.time() - t0:.0f} s")
    return 0


def _rerun_devices(dm, a, records, eps: int) -> int:
    if not a.out.is_file():
        print(f"bench-ecg: --device-only needs an existing {a.out} (run the whole bench first)", file=sys.stderr)
        return 2
    with open(a.out, newline="") as f:
        keep = [r for r in csv.DictReader(f) if r["method"] not in {f"device:{b}" for b in a.boards}]
    rows = keep + device_rows(dm, ds2_device_segments(a.device_segments, records), a.boards,
                              a.device_segments, eps)
    write_csv(rows, a.out)
    _log(f"rewrote the device rows of {', '.join(a.boards)} in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
