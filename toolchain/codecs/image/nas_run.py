"""The image codec's hardware-aware architecture search (Starfish sec. 3.1.1), run on the NAS
mechanism of toolchain.train.nas: results/nas.csv, results/nas_summary.csv, results/nas.png.

One Optuna study over the Starfish design space (patches x three stage widths, nas_space) with
the feasibility filter on the K210 (int8 C generator arena + weights against the board's RAM,
the KPU checker's share of layers on the KPU; nncase 1.9 too with ``nncase=True``), a TPE sampler
whose first ``n_samples`` trials are random, and the learning-curve predictor as the study's
pruner (CurvePruner): those first ``n_samples`` feasible candidates train in full (the "fully
trained samples" the predictor is fitted on), every later one stops after ``k`` epochs unless its
predicted final score would make the current top ``top_k``.

Short training (the proxy task; Starfish trains on a subset too): ``n_train`` flowers of the
train split, validated on ``n_val`` other train-split flowers (the test split is never seen),
both scaled to ``size`` x ``size`` (default 128: 224 would cost 3x more; 128 keeps every patch
size a multiple of 8 for 1, 4 and 16 patches), ``epochs`` epochs of Adam. The score is the
validation MS-SSIM (4 scales at 128 px) of the rounded latent, higher is better. Latent: 4
channels, 16 bins, for every candidate (the search is over the encoder, at one rate).

Reported, measured on this run only:
* the predictor's hit rate for the top 5 / 10 / 20 % (Starfish Table 4: 16.4 / 22.4 / 28.2 %
  from 10 epochs), from leave-one-out fits over the fully trained samples (each run predicted by
  a predictor that never saw it), next to the last-value guess and random choice;
* the curve pruner against Optuna's MedianPruner and SuccessiveHalvingPruner (and no pruning)
  on the same epoch budget, replayed on the recorded curves of the fully trained samples
  (tabular, as NAS benchmarks do: every pruner sees the same candidates in the same order and
  pays one epoch per reported value; no extra training);
* the ranking (completed runs by final score) whose top k the bench trains in full.

Resumable: the study lives in a journal file (build/image-nas/<study>.journal) and each trial's
weights in its own work folder, so a killed search run again continues with the trial it was in.

Default budget (2 cores): 20 samples x 12 epochs + 12 searched candidates, 50 minutes as measured
by make bench-image (1.5 to 2.3 minutes a fully trained candidate); ``--full``: 48 samples x 20
epochs + 48 searched (several hours).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ... import paths
from .nas_space import config_of, feasible, starfish_space

SCORE = "val_ms_ssim"
TOPS = (0.05, 0.10, 0.20)
PAPER_HIT_RATE = {0.05: 0.164, 0.10: 0.224, 0.20: 0.282}   # Starfish Table 4, 10 epochs


@dataclass
class NasSettings:
    n_samples: int = 20        # fully trained candidates (fit the predictor, measure hit rates)
    n_search: int = 12         # further candidates, pruned by the predictor
    epochs: int = 12
    k: int = 4                 # epochs the predictor reads
    top_k: int = 3             # prune a run predicted outside the current top_k
    n_train: int = 64
    n_val: int = 16
    size: int = 128
    batch: int = 8
    lr: float = 1e-3
    step: int = 8              # channel grid of the design space
    board: str = "k210"
    nncase: bool = False
    seed: int = 0
    replay_budget: float = 0.5  # pruner comparison: this share of the samples' total epochs

    @classmethod
    def full(cls) -> "NasSettings":
        return cls(n_samples=48, n_search=48, epochs=20, k=6, n_train=160, n_val=40)


def _log(msg: str) -> None:
    print(f"[image-nas] {msg}", file=sys.stderr, flush=True)


def proxy_data(s: NasSettings) -> tuple[np.ndarray, np.ndarray]:
    """n_train and n_val flowers of the train split (disjoint, spread over the classes), s.size px."""
    from .dataset import load_array, records
    recs = records("flowers", "train")
    idx = np.linspace(0, len(recs) - 1, s.n_train + s.n_val).round().astype(int)
    if len(set(idx.tolist())) < s.n_train + s.n_val:
        raise ValueError(f"n_train {s.n_train} + n_val {s.n_val} > the {len(recs)} flowers of the train split")
    val_pos = set(np.linspace(0, len(idx) - 1, s.n_val).round().astype(int).tolist())
    tr = [recs[i] for j, i in enumerate(idx) if j not in val_pos]
    va = [recs[i] for j, i in enumerate(idx) if j in val_pos]
    return load_array(tr, s.size, "resize_crop"), load_array(va, s.size, "resize_crop")


def _tag(params: dict) -> str:
    return "p{patches}_{c1}_{c2}_{c3}".format(**params)


def make_objective(s: NasSettings, train_x: np.ndarray, val_x: np.ndarray, work: Path):
    """objective(trial, params): train the candidate at the proxy size, one report per epoch."""
    import optuna

    from .codec_model import train

    def objective(trial, params):
        from ...train.zoo.common import _keras
        cfg = config_of(params, image_size=(s.size, s.size))
        wd = work / "trials" / _tag(params)
        reported = set()

        def report(epoch: int, row: dict) -> None:
            if epoch in reported:
                return
            reported.add(epoch)
            trial.report(float(row[SCORE]), epoch)
            if trial.should_prune():
                pred = getattr(trial.study.pruner, "predictions", {}).get(trial.number)
                if pred is not None:
                    trial.set_user_attr("predicted_final", pred)
                trial.set_user_attr("pruned_at_epoch", epoch)
                _log(f"trial {trial.number} {_tag(params)}: pruned after epoch {epoch} ({SCORE} {row[SCORE]:.4f}"
                     + (f", predicted final {pred:.4f})" if pred is not None else ")"))
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        hist = wd / "history.json"
        if hist.is_file():  # a killed search: replay what that run already trained
            for row in json.loads(hist.read_text())[1:]:
                report(int(row["epoch"]), row)
        t0 = time.time()
        res = train(cfg, train_x, s.epochs, work_dir=wd, batch=s.batch, lr=s.lr, seed=s.seed, val_images=val_x,
                    eval_train=False, log=False, callback=report)
        _keras().backend.clear_session()
        trial.set_user_attr("train_s", round(time.time() - t0, 1))
        curve = [float(r[SCORE]) for r in res.history[1:]]
        trial.set_user_attr("curve", curve)
        _log(f"trial {trial.number} {_tag(params)}: {len(curve)} epochs, {SCORE} {curve[-1]:.4f} "
             f"({time.time() - t0:.0f} s)")
        return curve[-1]

    return objective


def run(s: NasSettings, work: Path | None = None, study_name: str = "image-nas", storage=None):
    """Run (or resume) the search; returns the SearchResult."""
    import optuna

    from ...train.nas import run_search
    from ...train.nas.pruner import CurvePruner
    work = work or paths.build_dir() / "image-nas"
    work.mkdir(parents=True, exist_ok=True)
    train_x, val_x = proxy_data(s)
    space = starfish_space(s.step)
    feas_cache: dict[str, object] = {}

    def feasibility(params):
        key = _tag(params)
        if key not in feas_cache:
            feas_cache[key] = feasible(params, s.board, nncase=s.nncase, work_dir=None)
            fz = feas_cache[key]
            if not fz.ok:
                _log(f"{key} infeasible on {s.board}: {'; '.join(fz.reasons)}")
        return feas_cache[key]

    pruner = CurvePruner(epoch=s.k, top_k=s.top_k, n_startup_trials=s.n_samples, refit=True, seed=s.seed)
    sampler = optuna.samplers.TPESampler(seed=s.seed, n_startup_trials=s.n_samples)
    # n_trials counts infeasible ones too: keep going until enough feasible runs exist.
    total = s.n_samples + s.n_search
    res = None
    for _ in range(20):
        done_feasible = 0
        if res is not None:
            done_feasible = sum(1 for t in res.study.trials if t.user_attrs.get("feasible") is not False
                                and t.state.is_finished())
        if res is not None and done_feasible >= total:
            break
        want = (len(res.study.trials) if res else 0) + (total - done_feasible)
        res = run_search(make_objective(s, train_x, val_x, work), space, storage=storage or work / f"{study_name}.journal",
                         study_name=study_name, n_trials=want, direction="maximize", sampler=sampler,
                         pruner=pruner, feasibility=feasibility, seed=s.seed)
    return res


# ------------------------------------------------------------------------------ analysis

def samples(study, n_samples: int) -> list:
    """The fully trained samples: the first n_samples complete trials (the pruner's startup runs)."""
    from optuna.trial import TrialState
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return sorted(done, key=lambda t: t.number)[:n_samples]


def curves_of(trials) -> np.ndarray:
    return np.array([[t.intermediate_values[e] for e in sorted(t.intermediate_values)] for t in trials])


def loo_predictions(curves: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Each run's final score predicted from its first k epochs by a predictor fitted on the others."""
    from ...train.nas.curve_predictor import CurvePredictor
    finals = curves[:, -1]
    out = np.empty(len(curves))
    for i in range(len(curves)):
        rest = np.arange(len(curves)) != i
        p = CurvePredictor(k=k, seed=seed).fit(curves[rest, :k], finals[rest])
        out[i] = p.predict(curves[i:i + 1, :k])[0]
    return out


def hit_rate_rows(curves: np.ndarray, k: int, seed: int = 0) -> tuple[list[dict], np.ndarray]:
    from ...train.nas.curve_predictor import hit_rate, last_value
    finals = curves[:, -1]
    pred = loo_predictions(curves, k, seed)
    rows = []
    for name, guess in (("lstm-predictor", pred), ("last-value", last_value(curves, k))):
        hr = hit_rate(guess, finals, TOPS, lower_is_better=False)
        rmse = float(np.sqrt(np.mean((guess - finals) ** 2)))
        for p in TOPS:
            rows.append({"kind": "hit_rate", "name": name, "top": p, "value": hr[p], "runs": len(curves),
                         "epochs_read": k, "rmse": rmse,
                         "note": "leave-one-out fits" if name == "lstm-predictor" else "k-th epoch's score as the final"})
    for p in TOPS:
        n = max(1, int(round(p * len(curves))))
        rows.append({"kind": "hit_rate", "name": "random", "top": p, "value": n / len(curves), "runs": len(curves),
                     "epochs_read": 0, "note": "expected share of a random pick"})
        rows.append({"kind": "hit_rate", "name": "starfish-table4", "top": p, "value": PAPER_HIT_RATE[p],
                     "epochs_read": 10, "note": "paper's figure (its own space and runs), not measured here"})
    return rows, pred


def replay_pruners(curves: np.ndarray, budget_epochs: int, k: int, top_k: int, n_startup: int, seed: int = 0) -> list[dict]:
    """Each pruner on the recorded curves: candidates in one seeded order, one epoch per report, until
    the budget is spent. What it finds: the best final score among its completed runs, that
    run's true rank in the pool (1 = the pool's best), and how many of the true top_k it completed."""
    import optuna

    from ...train.nas.pruner import CurvePruner
    finals = curves[:, -1]
    true_rank = {int(i): r + 1 for r, i in enumerate(np.argsort(-finals, kind="stable"))}
    true_top = set(np.argsort(-finals, kind="stable")[:top_k].tolist())
    order = np.random.default_rng(seed).permutation(len(curves))
    pruners = {
        "lstm-curve": CurvePruner(epoch=k, top_k=top_k, n_startup_trials=n_startup, refit=True, seed=seed),
        "optuna-median": optuna.pruners.MedianPruner(n_startup_trials=n_startup, n_warmup_steps=k - 1),
        "optuna-successive-halving": optuna.pruners.SuccessiveHalvingPruner(min_resource=k),
        "none": optuna.pruners.NopPruner(),
    }
    rows = []
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        for name, pruner in pruners.items():
            study = optuna.create_study(direction="maximize", pruner=pruner)
            used, done, pruned, seen = 0, [], 0, 0
            for i in order:
                if used >= budget_epochs:
                    break
                tr = study.ask()
                seen += 1
                ok = True
                for e, v in enumerate(curves[i], start=1):
                    tr.report(float(v), e)
                    used += 1
                    if tr.should_prune():
                        ok = False
                        break
                if ok:
                    study.tell(tr, float(finals[i]))
                    done.append(int(i))
                else:
                    study.tell(tr, state=optuna.trial.TrialState.PRUNED)
                    pruned += 1
            best = max(done, key=lambda j: finals[j]) if done else None
            rows.append({"kind": "pruner", "name": name, "value": float(finals[best]) if best is not None else "",
                         "best_true_rank": true_rank[best] if best is not None else "", "runs": len(curves),
                         "trials_seen": seen, "completed": len(done), "pruned": pruned, "epochs_used": used,
                         "budget_epochs": budget_epochs, "top_k_found": len(true_top & set(done)), "top_k": top_k,
                         "note": f"replay on the recorded curves; {n_startup} startup runs"})
    finally:
        optuna.logging.set_verbosity(level)
    return rows


TRIAL_COLUMNS = ("trial", "role", "state", "patches", "c1", "c2", "c3", "feasible", "infeasible_reasons",
                 "arena_bytes", "weight_bytes", "kpu_share", "epochs", "val_ms_ssim", "predicted_final",
                 "loo_predicted_final", "train_s", "curve")
SUMMARY_COLUMNS = ("kind", "name", "top", "value", "runs", "epochs_read", "rmse", "best_true_rank", "trials_seen",
                   "completed", "pruned", "epochs_used", "budget_epochs", "top_k", "top_k_found", "note")


def trial_rows(study, sample_numbers: set[int], loo: dict[int, float]) -> list[dict]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        ua = t.user_attrs
        curve = [t.intermediate_values[e] for e in sorted(t.intermediate_values)]
        state = t.state.name.lower()
        if ua.get("feasible") is False:
            state = "infeasible"
        rows.append({"trial": t.number, "role": "sample" if t.number in sample_numbers else "search", "state": state,
                     **{k: t.params.get(k) for k in ("patches", "c1", "c2", "c3")},
                     "feasible": ua.get("feasible"), "infeasible_reasons": "; ".join(ua.get("infeasible_reasons", [])),
                     "arena_bytes": ua.get("arena_bytes"), "weight_bytes": ua.get("weight_bytes"),
                     "kpu_share": ua.get("kpu_share"), "epochs": len(curve),
                     "val_ms_ssim": t.value if t.value is not None else (curve[-1] if curve else ""),
                     "predicted_final": ua.get("predicted_final", ""), "loo_predicted_final": loo.get(t.number, ""),
                     "train_s": ua.get("train_s", ""), "curve": " ".join(f"{v:.4f}" for v in curve)})
    return rows


def _write(rows, path: Path, columns) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, list(columns), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else ("" if v is None else v)) for k, v in r.items()})


def plot(curves: np.ndarray, pred: np.ndarray, summary: list[dict], k: int, out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    ep = np.arange(1, curves.shape[1] + 1)
    for c in curves:
        ax[0].plot(ep, c, color="tab:blue", alpha=.5, lw=1)
    ax[0].axvline(k, color="k", ls=":", label=f"predictor reads {k} epochs")
    ax[0].set(xlabel="epoch", ylabel="validation MS-SSIM (proxy)", title=f"{len(curves)} fully trained samples")
    ax[0].legend(fontsize=8)
    f = curves[:, -1]
    ax[1].scatter(f, pred, s=14, label="LSTM (leave-one-out)")
    ax[1].scatter(f, curves[:, k - 1], s=14, marker="x", label=f"last value (epoch {k})")
    lo, hi = min(f.min(), pred.min()), max(f.max(), pred.max())
    ax[1].plot([lo, hi], [lo, hi], "k:", lw=1)
    ax[1].set(xlabel="true final", ylabel="predicted final", title="learning-curve predictor")
    ax[1].legend(fontsize=8)
    names = ["lstm-predictor", "last-value", "random", "starfish-table4"]
    w = 0.2
    for j, n in enumerate(names):
        vals = [next((r["value"] for r in summary if r["kind"] == "hit_rate" and r["name"] == n and r["top"] == p), 0)
                for p in TOPS]
        ax[2].bar(np.arange(len(TOPS)) + (j - 1.5) * w, vals, w, label=n)
    ax[2].set_xticks(range(len(TOPS)), [f"top {int(p * 100)}%" for p in TOPS])
    ax[2].set(ylabel="hit rate", title="top-p% recovered")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


@dataclass
class NasReport:
    ranking: list                       # (trial number, score, params), completed runs, best first
    summary: list[dict] = field(default_factory=list)
    csv: Path | None = None
    summary_csv: Path | None = None
    png: Path | None = None
    settings: dict = field(default_factory=dict)


def report(res, s: NasSettings, out_dir: Path | None = None) -> NasReport:
    out_dir = out_dir or paths.results_dir()
    study = res.study
    smp = samples(study, s.n_samples)
    if len(smp) < 4:
        raise RuntimeError(f"only {len(smp)} fully trained samples: too few to fit and judge the predictor")
    curves = curves_of(smp)
    hr, pred = hit_rate_rows(curves, s.k, s.seed)
    budget = int(s.replay_budget * curves.size)
    pr = replay_pruners(curves, budget, s.k, s.top_k, n_startup=max(s.top_k, min(5, len(smp) // 3)), seed=s.seed)
    summary = hr + pr
    rows = trial_rows(study, {t.number for t in smp}, {t.number: float(p) for t, p in zip(smp, pred)})
    csv_p, sum_p = out_dir / "nas.csv", out_dir / "nas_summary.csv"
    _write(rows, csv_p, TRIAL_COLUMNS)
    _write(summary, sum_p, SUMMARY_COLUMNS)
    png = plot(curves, pred, summary, s.k, out_dir / "nas.png")
    return NasReport(res.ranking(include_predicted=False), summary, csv_p, sum_p, png, asdict(s))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the larger search (hours)")
    ap.add_argument("--samples", type=int, help="fully trained candidates")
    ap.add_argument("--search", type=int, help="further candidates under the predictor's pruning")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--nncase", action="store_true", help="also compile every candidate with nncase 1.9")
    ap.add_argument("--storage", help="Optuna storage: a .journal path (default build/image-nas/image-nas.journal) "
                                      "or a database URL (sqlite:///..., postgresql://...) for many machines")
    ap.add_argument("--study", default="image-nas")
    a = ap.parse_args(argv)
    s = NasSettings.full() if a.full else NasSettings()
    for attr, v in (("n_samples", a.samples), ("n_search", a.search), ("epochs", a.epochs)):
        if v is not None:
            setattr(s, attr, v)
    s.nncase = a.nncase
    t0 = time.time()
    res = run(s, study_name=a.study, storage=a.storage)
    rep = report(res, s)
    for r in rep.summary:
        if r["kind"] == "hit_rate" and r["name"] in ("lstm-predictor", "last-value"):
            print(f"hit rate {r['name']:15s} top {int(r['top'] * 100):2d}%: {r['value']:.2f}")
        if r["kind"] == "pruner":
            print(f"pruner {r['name']:26s}: best {r['value']} (true rank {r['best_true_rank']}), "
                  f"{r['completed']} completed / {r['trials_seen']} seen in {r['epochs_used']} epochs")
    print(f"top: {rep.ranking[:3]}")
    print(f"wrote {rep.csv}, {rep.summary_csv}, {rep.png} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
