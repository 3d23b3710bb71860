"""`make bench-wsn`: rate-distortion of the AE codec against the baselines, and device runs.

Writes results/wsn_rate_distortion.csv, results/wsn_cr_vs_eps.png, results/wsn_device.csv.
Every AE number on a device row comes from the bytes the firmware produced, decoded on the host.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import paths
from ..codecs import ae_codec
from ..codecs.baselines import BASELINES
from ..codecs.metrics import metrics
from ..quant.fixed_point import FixedModel
from ..stages import stage_dir
from ..train.autoencoder import VARIANTS
from ..train.datasets import Prepared, load_specs, prepare
from ..train.fit import load_model, train_stage
from .energy import get_radio, radios, window_energy_uj

DEVICE_BOARDS = ("native", "msp430g2553", "msp430f1611", "msp430f5529", "k210-qemu", "cortex-m-qemu")
G2553_WINDOWS = 200          # per eps: bit-exactness + cycles on the smallest board
MITDB_DEVICE_WINDOWS = 6600  # per eps on the f1611: every bench window (300 per DS2 record)
VARIANT_NAMES = {"ae": "ae-basic", "wae": "ae-wae", "sae": "ae-sae"}

RD_FIELDS = ["dataset", "signal", "mode", "model", "method", "eps", "eps_physical", "unit", "latent_bits",
             "mean_shift",
             "cr", "bits_per_sample", "rmse", "rmse_physical", "r2", "prd", "max_abs_err", "violations",
             "windows", "samples", "imputed", "word_bits"]
DEV_FIELDS = ["board", "model", "eps", "latent_bits", "mean_shift", "windows", "bit_exact", "violations", "cr",
              "cycles_per_window", "cycles_kind", "flash_bytes", "ram_bytes", "ram_static_bytes",
              "stack_peak_bytes", "radio", "energy_raw_uj",
              "energy_compressed_uj", "note"]


def trained(prep: Prepared, variant: str) -> FixedModel:
    return train_stage(prep, variant)


def observed_metrics(X: np.ndarray, Xrec: np.ndarray, miss: np.ndarray, bits, word_bits: int,
                     eps: int) -> dict:
    """Distortion over the readings that exist; size against every slot of every window sent."""
    m = metrics(X[~miss], Xrec[~miss], int(np.sum(bits)), word_bits, eps)
    m["cr"] = X.size * word_bits / float(np.sum(bits))
    m["bits_per_sample"] = float(np.sum(bits)) / X.size
    return m


MEAN_SHIFTS = tuple(range(0, 9))


def best_session(fm: FixedModel, val: np.ndarray, eps: int, sweep: list[int]) -> tuple[int, int]:
    """(latent_bits, mean_shift) with the fewest bits on the validation windows: coordinate
    descent (B at t = 0, then t, then B again), ties to the smaller value."""
    cache: dict = {}

    def bits(B, t):
        if (B, t) not in cache:
            cache[B, t] = int(ae_codec.encode_batch(fm, val, eps, B, t).bits.sum())
        return cache[B, t]

    B = min(sweep, key=lambda b: (bits(b, 0), b))
    t = min(MEAN_SHIFTS, key=lambda m: (bits(B, m), m))
    B = min(sweep, key=lambda b: (bits(b, t), b))
    return B, t


def _row(prep: Prepared, method: str, eps: int, m: dict, B, imputed: int, windows: int, t="") -> dict:
    return {"dataset": prep.dataset, "signal": prep.signal, "mode": prep.spec.mode, "model": prep.spec.name,
            "method": method, "eps": eps, "eps_physical": f"{eps * prep.quantum:g}", "unit": prep.unit,
            "latent_bits": B, "mean_shift": t, "cr": f"{m['cr']:.4f}", "bits_per_sample": f"{m['bits_per_sample']:.4f}",
            "rmse": f"{m['rmse']:.4f}", "rmse_physical": f"{m['rmse'] * prep.quantum:.5g}",
            "r2": f"{m['r2']:.6f}", "prd": f"{m['prd']:.4f}", "max_abs_err": m["max_abs_err"],
            "violations": m["violations"], "windows": windows, "samples": int(m.get("samples", 0)),
            "imputed": imputed, "word_bits": prep.word_bits}


def rate_distortion(prep: Prepared, test: np.ndarray, bar: tqdm) -> tuple[list[dict], dict]:
    rows, chosen = [], {}
    miss = test == ae_codec.MISSING
    for variant in VARIANTS:
        fm = trained(prep, variant)
        for eps in prep.spec.eps:
            B, t = best_session(fm, prep.val, eps, prep.spec.latent_bits_sweep)
            b = ae_codec.encode_batch(fm, test, eps, B, t)
            m = observed_metrics(test, b.x_rec, miss, b.bits, prep.word_bits, eps)
            m["samples"] = int((~miss).sum())
            rows.append(_row(prep, VARIANT_NAMES[variant], eps, m, B, int(miss.sum()), len(test), t))
            if variant == "ae":
                chosen[eps] = (B, t)
            bar.update(1)
    # Baselines see the same windows, imputed the same way the device imputes them.
    Xi, _ = ae_codec.impute(load_model(stage_dir(prep.spec.name) / "model_ae.json"), test)
    for name, ctor in BASELINES.items():
        codec = ctor()
        codec.fit(prep.train, prep.word_bits, prep.lo)
        for eps in prep.spec.eps:
            rec = np.empty_like(Xi)
            bits = np.empty(len(Xi), dtype=np.int64)
            for i, x in enumerate(Xi):
                enc = codec.encode(x, eps)
                rec[i] = codec.decode(enc, Xi.shape[1], eps)
                bits[i] = enc.nbits
            m = observed_metrics(test, rec, miss, bits, prep.word_bits, eps)
            m["samples"] = int((~miss).sum())
            rows.append(_row(prep, name, eps, m, "", int(miss.sum()), len(test)))
            bar.update(1)
    return rows, chosen


def device_rows(prep: Prepared, fm: FixedModel, chosen: dict, test: np.ndarray,
                device_windows: int | None, boards: tuple[str, ...] = DEVICE_BOARDS) -> list[dict]:
    from ..boards import load_board
    from ..families.common import FitError
    from ..pipeline import build, run, verify
    rows = []
    for bname in boards:
        board = load_board(bname)
        try:
            built = build(fm, board)
        except FitError as e:
            rows.append({"board": bname, "model": fm.name, "note": f"refused: {e}"})
            continue
        if not board.simulate and board.family.count_kind:
            rows.append({"board": bname, "model": fm.name, "flash_bytes": built.flash_bytes,
                         "ram_static_bytes": built.ram_bytes, "cycles_kind": "not simulated",
                         "ram_bytes": built.ram_bytes + built.stack_reserve,
                         "note": f"built and sized only (RAM: static + {built.stack_reserve} B stack reserve, "
                                 f"not measured): {board.simulate_reason}"})
            continue
        if bname == "msp430g2553":
            nwin = G2553_WINDOWS
        elif not board.family.count_kind:  # the host: every test window
            nwin = len(test)
        else:
            nwin = device_windows or (MITDB_DEVICE_WINDOWS if prep.dataset == "mitdb" else len(test))
        idx = np.linspace(0, len(test) - 1, min(nwin, len(test))).round().astype(int)
        X = test[idx]
        for eps in prep.spec.eps:
            B, t = chosen[eps]
            t0 = time.time()
            st: dict = {}
            dev = run(fm, built, X, eps, B, stats=st, mean_shift=t)
            v = verify(fm, X, eps, dev, B, t)
            base = {"board": bname, "model": fm.name, "eps": eps, "latent_bits": B, "mean_shift": t,
                    "windows": v.windows,
                    "bit_exact": v.bit_exact, "violations": v.violations,
                    "cr": f"{X.size * fm.word_bits / v.bits:.4f}",
                    "flash_bytes": built.flash_bytes, "ram_static_bytes": built.ram_bytes}
            if st.get("peak_stack_bytes") is not None:  # RAM = static data + measured peak stack
                base.update(stack_peak_bytes=st["peak_stack_bytes"],
                            ram_bytes=built.ram_bytes + st["peak_stack_bytes"])
            ins = [w.instructions for w in dev]
            if all(i is not None for i in ins):
                # QEMU twins: exact retired instructions; energy needs cycles, which QEMU does not model.
                rows.append({**base, "cycles_per_window": f"{np.mean(ins):.0f}",
                             "cycles_kind": "instructions (QEMU -icount, exact)",
                             "note": f"{time.time() - t0:.1f} s; instructions, not cycles: no energy figure"})
                continue
            if all(w.cycles_raw is None for w in dev):
                rows.append({**base, "cycles_kind": "n/a (host)", "note": f"{time.time() - t0:.1f} s"})
                continue
            corrected = [w.cycles for w in dev]
            if all(c is not None for c in corrected):
                cyc, kind = float(np.mean(corrected)), "slau144 (sim corrected)"
            else:
                cyc, kind = float(np.mean([w.cycles_raw for w in dev])), "sim raw (over-counts)"
            comp_bits = v.bits / v.windows
            for rname in radios():
                er, ec = window_energy_uj(raw_bits=fm.n * fm.word_bits, compressed_bits=comp_bits,
                                          cycles=cyc, voltage_v=board.voltage_v,
                                          active_current_a=board.active_current_a, clock_hz=board.clock_hz,
                                          radio=get_radio(rname))
                rows.append({**base, "cycles_per_window": f"{cyc:.0f}", "cycles_kind": kind, "radio": rname,
                             "energy_raw_uj": f"{er:.3f}", "energy_compressed_uj": f"{ec:.3f}",
                             "note": "board radio" if rname == board.radio else ""})
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    need = ("model", "method", "eps_physical", "cr", "unit")
    rows = [r for r in rows if all(r.get(k) not in (None, "") for k in need)]  # e.g. rows of an older table
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models):
        sub = [r for r in rows if r["model"] == model]
        for method in dict.fromkeys(r["method"] for r in sub):
            pts = sorted((float(r["eps_physical"]), float(r["cr"])) for r in sub if r["method"] == method)
            style = "-o" if method.startswith("ae-") else "--."
            ax.plot(*zip(*pts), style, label=method, lw=2 if method == "ae-basic" else 1)
        ax.set_title(model)
        ax.set_xlabel(f"eps ({sub[0]['unit']})")
        ax.set_ylabel("CR (raw bits / sent bits)")
        ax.set_xscale("log")
        ticks = sorted({float(r["eps_physical"]) for r in sub})
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Error-bounded compression on test days: every reading within eps")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def results_dir() -> Path:
    return paths.results_dir()


def _chosen_from_table(dev: list[dict], model: str) -> dict:
    """(latent bits, mean shift) per eps as the last full run chose them (its native rows)."""
    got = {int(r["eps"]): (int(r["latent_bits"]), int(r["mean_shift"] or 0)) for r in dev
           if r["model"] == model and r["board"] == "native" and r.get("eps")}
    if not got:
        raise KeyError(f"--device-only: results/wsn_device.csv has no native rows for {model}; run the full bench first")
    return got


def run_device_only(models: list[str] | None, boards: list[str], device_windows: int | None = None) -> int:
    """Device rows of `boards` only, with the (latent bits, mean shift) choices of the existing
    table; every other row of wsn_device.csv is kept."""
    RESULTS = results_dir()
    specs = load_specs()
    names = models or list(specs)
    old = _read(RESULTS / "wsn_device.csv")
    keep = [r for r in old if not (r["model"] in names and r["board"] in boards)]
    new = []
    for name in names:
        prep = prepare(name)
        fm = trained(prep, "ae")  # the same deterministic training stage as a full run
        new += device_rows(prep, fm, _chosen_from_table(old, name), prep.test, device_windows, tuple(boards))
    # Rows in board order of DEVICE_BOARDS within each model, as a full run writes them.
    order = {b: i for i, b in enumerate([*DEVICE_BOARDS, *boards])}
    rows = sorted(keep + new, key=lambda r: (names.index(r["model"]) if r["model"] in names else -1,
                                             order.get(r["board"], 99)))
    _write(RESULTS / "wsn_device.csv", DEV_FIELDS, rows)
    exact = [r for r in new if r.get("windows") and r["bit_exact"] != r["windows"]]
    bad = [r for r in new if r.get("violations")]
    print(f"wrote {RESULTS}/wsn_device.csv ({len(new)} new rows for {', '.join(boards)}); "
          f"bound violations: {len(bad)} rows; not bit-exact: {len(exact)}")
    return 1 if bad or exact else 0


def run_bench(models: list[str] | None = None, quick: bool = False,
              device_windows: int | None = None, plot_only: bool = False) -> int:
    RESULTS = results_dir()
    if plot_only:  # redraw the figure from the table a previous run wrote
        plot(_read(RESULTS / "wsn_rate_distortion.csv"), RESULTS / "wsn_cr_vs_eps.png")
        print(f"wrote {RESULTS}/wsn_cr_vs_eps.png")
        return 0
    specs = load_specs()
    names = models or list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise KeyError(f"unknown model(s) {', '.join(unknown)}; models/specs.toml defines: {', '.join(specs)}")
    RESULTS.mkdir(exist_ok=True)
    # A run over some models keeps the other models' rows of the existing tables.
    rd, dev = ([r for r in _read(RESULTS / f) if r["model"] not in names]
               for f in ("wsn_rate_distortion.csv", "wsn_device.csv"))
    nsteps = sum((len(VARIANTS) + len(BASELINES)) * len(specs[n].eps) for n in names)
    with tqdm(total=nsteps, desc="rate-distortion", unit="run", disable=None) as bar:  # quiet off a terminal
        for name in names:
            prep = prepare(name)
            test = prep.test[:200] if quick else prep.test
            rows, chosen = rate_distortion(prep, test, bar)
            rd += rows
            fm = load_model(stage_dir(name) / "model_ae.json")
            bar.write(f"{name}: device runs ((latent bits, mean shift) per eps: {chosen})")
            dev += device_rows(prep, fm, chosen, test, 50 if quick else device_windows)
            _write(RESULTS / "wsn_rate_distortion.csv", RD_FIELDS, rd)
            _write(RESULTS / "wsn_device.csv", DEV_FIELDS, dev)
    plot(rd, RESULTS / "wsn_cr_vs_eps.png")
    bad = [r for r in rd if int(r["violations"])] + [r for r in dev if r.get("violations")]
    exact = [r for r in dev if r.get("windows") and r["bit_exact"] != r["windows"]]
    print(f"wrote {RESULTS}/wsn_rate_distortion.csv ({len(rd)} rows), wsn_device.csv ({len(dev)} rows), "
          f"wsn_cr_vs_eps.png; bound violations: {len(bad)} rows; device rows not bit-exact: {len(exact)}")
    return 1 if bad or exact else 0
