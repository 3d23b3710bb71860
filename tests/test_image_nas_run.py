"""The image codec's NAS run (toolchain.codecs.image.nas_run): a tiny real search, its report,
resuming, and the pruner replay on recorded curves."""
from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("optuna")
pytest.importorskip("tensorflow")

from toolchain.codecs.image import nas_run  # noqa: E402

TINY = dict(n_samples=4, n_search=2, epochs=3, k=2, top_k=2, n_train=8, n_val=4, size=64)


@pytest.fixture(scope="module")
def tiny_search(tmp_path_factory):
    work = tmp_path_factory.mktemp("nas")
    s = nas_run.NasSettings(**TINY)
    res = nas_run.run(s, work=work)
    rep = nas_run.report(res, s, out_dir=work / "out")
    return s, work, res, rep


def test_search_trains_samples_in_full_and_prunes_later_ones(tiny_search):
    s, work, res, rep = tiny_search
    rows = list(csv.DictReader(open(rep.csv)))
    samples = [r for r in rows if r["role"] == "sample"]
    assert len(samples) == s.n_samples
    assert all(r["state"] == "complete" and int(r["epochs"]) == s.epochs for r in samples)
    assert all(r["feasible"] == "True" and int(r["arena_bytes"]) > 0 for r in samples)
    search = [r for r in rows if r["role"] == "search" and r["state"] != "infeasible"]
    assert len(search) >= s.n_search
    for r in search:   # a pruned run stopped at k epochs with the predictor's forecast
        if r["state"] == "pruned":
            assert int(r["epochs"]) == s.k and r["predicted_final"] != ""
    # the ranking holds complete runs only, best (highest MS-SSIM) first
    scores = [sc for _, sc, _ in rep.ranking]
    assert scores == sorted(scores, reverse=True) and len(scores) >= s.n_samples


def test_summary_has_hit_rates_and_pruner_comparison(tiny_search):
    s, work, res, rep = tiny_search
    rows = list(csv.DictReader(open(rep.summary_csv)))
    names = {(r["kind"], r["name"]) for r in rows}
    assert {("hit_rate", "lstm-predictor"), ("hit_rate", "last-value"), ("hit_rate", "starfish-table4"),
            ("pruner", "lstm-curve"), ("pruner", "optuna-median"), ("pruner", "optuna-successive-halving"),
            ("pruner", "none")} <= names
    for r in rows:
        if r["kind"] == "hit_rate":
            assert 0.0 <= float(r["value"]) <= 1.0
        if r["kind"] == "pruner":
            assert int(r["epochs_used"]) <= int(r["budget_epochs"]) + s.epochs
    assert rep.png.stat().st_size > 1000


def test_search_resumes_without_new_trials(tiny_search):
    s, work, res, rep = tiny_search
    n = len(res.study.trials)
    again = nas_run.run(s, work=work)
    assert len(again.study.trials) == n and again.ran == 0


def test_replay_pruners_on_recorded_curves():
    # 30 synthetic runs whose early epochs already order them: pruning finds the best for less
    rng = np.random.default_rng(0)
    finals = rng.uniform(0.5, 0.9, 30)
    t = np.arange(1, 13)
    curves = finals[:, None] * (1 - np.exp(-t / 3.0))[None, :] + rng.normal(0, 1e-3, (30, 12))
    rows = {r["name"]: r for r in nas_run.replay_pruners(curves, budget_epochs=200, k=3, top_k=3, n_startup=5)}
    none, curve = rows["none"], rows["lstm-curve"]
    assert none["trials_seen"] == 200 // 12 + 1 and none["pruned"] == 0
    assert curve["trials_seen"] > none["trials_seen"] and curve["pruned"] > 0
    assert curve["best_true_rank"] <= none["best_true_rank"]


def test_loo_predictions_never_see_their_run():
    curves = np.tile(np.linspace(0.2, 0.8, 6), (8, 1)) + np.arange(8)[:, None] * 0.01
    pred = nas_run.loo_predictions(curves, k=3)
    assert pred.shape == (8,) and np.all(np.isfinite(pred))
