"""`make demo`: real data -> trained AE -> integer model -> C -> board (simulated) -> host decode."""
from __future__ import annotations

import time

import numpy as np

from toolchain.boards import load_board
from ..codecs import ae_codec
from ..pipeline import build, run, verify
from ..stages import stage_dir
from ..train.datasets import prepare
from ..train.fit import fit, save_curve, save_model
from .energy import get_radio, window_energy_uj
from .wsn import best_session

DEMO_MODEL = "gsb-temporal"
DEMO_WINDOWS = 200


def _plot(X, dev_rec, miss, eps, quantum, unit, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    x = np.where(miss, np.nan, X) * quantum
    axes[0].plot(x, "k.-", lw=1, label="reading")
    axes[0].plot(dev_rec * quantum, "C1-", lw=1, label="decoded from the board's bytes")
    axes[0].set_ylabel(unit)
    axes[0].legend(fontsize=8)
    axes[1].plot(np.where(miss, np.nan, dev_rec - X) * quantum, "C3.", ms=3)  # missing: no reading
    axes[1].axhline(eps * quantum, color="grey", ls="--")
    axes[1].axhline(-eps * quantum, color="grey", ls="--")
    axes[1].set_ylabel(f"error ({unit})")
    axes[1].set_xlabel("reading (six held-out test windows, end to end; gaps: missing, imputed on the board)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def demo(target: str = "msp430f1611") -> int:
    t0 = time.time()
    board = load_board(target)
    prep = prepare(DEMO_MODEL)
    print(f"[1/5] data: {prep.dataset} {prep.signal}, {len(prep.train)} train / {len(prep.test)} test "
          f"windows of {prep.spec.n} readings ({prep.quantum:g} {prep.unit} per count)")
    ae, fm = fit(prep, "ae")
    d = stage_dir("demo")
    save_model(fm, d / "model.json")
    save_curve(ae, d / "curve.csv", d / "curve.png")
    print(f"[2/5] trained {fm.n}-{fm.m}-{fm.n} AE with L-BFGS ({len(ae.curve)} iterations), quantized to "
          f"int16 Q{fm.f1}/Q{fm.f2}: {d / 'model.json'}")
    fm.name = "demo"
    built = build(fm, board)
    size = (f"flash {built.flash_bytes} B, static RAM {built.ram_bytes} B" if built.flash_bytes else "host build")
    print(f"[3/5] C rendered and built for {board.name}: {built.artifact} ({size})")
    test = prep.test
    X = test[np.linspace(0, len(test) - 1, min(DEMO_WINDOWS, len(test))).round().astype(int)]
    ok = True
    print(f"[4/5] {len(X)} held-out windows through the {board.name} image, decoded on the host:")
    for eps in prep.spec.eps:
        B, t = best_session(fm, prep.val, eps, prep.spec.latent_bits_sweep)  # chosen on validation days
        st: dict = {}
        dev = run(fm, built, X, eps, B, mean_shift=t, stats=st)
        v = verify(fm, X, eps, dev, B, t)
        cyc = [w.cycles for w in dev if w.cycles is not None]
        line = (f"      eps {eps * prep.quantum:g} {prep.unit} (B={B}, t={t}): {v.bit_exact}/{v.windows} bit-exact with Python, "
                f"{v.violations} readings outside the bound, CR {X.size * fm.word_bits / v.bits:.2f}")
        if cyc and board.clock_hz:
            c = float(np.mean(cyc))
            er, ec = window_energy_uj(raw_bits=fm.n * fm.word_bits, compressed_bits=v.bits / v.windows,
                                      cycles=c, voltage_v=board.voltage_v,
                                      active_current_a=board.active_current_a, clock_hz=board.clock_hz,
                                      radio=get_radio(board.radio))
            line += (f", {c:.0f} cycles/window ({c / board.clock_hz * 1e3:.1f} ms), "
                     f"{board.radio}: {er:.1f} uJ raw vs {ec:.1f} uJ compressed")
        if st.get("peak_stack_bytes") is not None:
            line += f", RAM {built.ram_bytes} B + {st['peak_stack_bytes']} B measured peak stack"
        print(line)
        ok &= v.bit_exact == v.windows and v.violations == 0
        if eps == prep.spec.eps[1]:
            recs = [ae_codec.decode(fm, w.data, w.nbits, eps, B, t)[0] for w in dev[:6]]
            _plot(X[:6].ravel(), np.concatenate(recs), (X[:6] == ae_codec.MISSING).ravel(), eps,
                  prep.quantum, prep.unit, d / "demo_windows.png")
    print(f"[5/5] plots: {d / 'demo_windows.png'}, {d / 'curve.png'}  ({time.time() - t0:.0f} s)")
    return 0 if ok else 1
