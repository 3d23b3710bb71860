"""Hardware-aware NAS mechanism (toolchain.train.nas): feasibility against a board's budget, the
14-parameter learning-curve LSTM and its hit rate, the resumable study, the curve pruner.

No CNN is trained: objectives are synthetic learning curves loss(e) = a + b * exp(-c * e) + noise
with a, b, c fixed per candidate; one tiny untrained Keras model goes through the feasibility check."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="the NAS needs optuna: pip install '.[nas]'")

from toolchain.train.nas import (N_PARAMS, Budget, CurvePredictor, Feasibility, Space, compare_pruners,  # noqa: E402
                                 hit_rate, last_value, run_search, train_epochs)
from toolchain.train.nas.pruner import CurvePruner  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 30
SPACE = Space.of(patches=(1, 2, 4), layers=(2, 3, 4, 5), channels=(8, 16, 32, 64))


def curve_params(params: dict) -> tuple[float, float, float]:
    """(a, b, c) of a candidate's curve: fixed by its params (bigger models end a bit lower)."""
    seed = int.from_bytes(hashlib.sha256(repr(sorted(params.items())).encode()).digest()[:8], "little")
    r = np.random.default_rng(seed)
    a = 0.4 - 0.03 * np.log2(params["channels"]) / 6 - 0.02 * params["layers"] / 5 + r.uniform(0, 0.2)
    return a, r.uniform(0.2, 1.0), r.uniform(0.03, 0.3)


def synthetic_curves(n: int, seed: int, epochs: int = EPOCHS, noise: float = 0.004) -> np.ndarray:
    r = np.random.default_rng(seed)
    a, b, c = r.uniform(0.1, 0.5, n), r.uniform(0.2, 1.0, n), r.uniform(0.03, 0.3, n)
    e = np.arange(1, epochs + 1)
    return a[:, None] + b[:, None] * np.exp(-c[:, None] * e) + r.normal(0, noise, (n, epochs))


def synthetic_objective(trial, params):
    a, b, c = curve_params(params)
    noise = np.random.default_rng(trial.number)
    return train_epochs(trial, lambda e: a + b * np.exp(-c * e) + noise.normal(0, 0.004), EPOCHS)


# ---------------------------------------------------------------- space

def test_space_suggests_each_choice_and_enumerates_the_grid():
    assert SPACE.size == 3 * 4 * 4 == len(list(SPACE.grid()))
    params = SPACE.suggest(optuna.trial.FixedTrial({"patches": 2, "layers": 3, "channels": 32}))
    assert params == {"patches": 2, "layers": 3, "channels": 32}
    assert SPACE.choices[1].int_step == 1 and SPACE.choices[2].int_step is None  # int vs categorical
    with pytest.raises(ValueError, match="not one of"):
        SPACE.validate({"patches": 3, "layers": 3, "channels": 32})


# ---------------------------------------------------------------- learning-curve predictor

def test_lstm_has_14_parameters_and_beats_last_value():
    train, test = synthetic_curves(80, seed=1), synthetic_curves(200, seed=2)
    p = CurvePredictor(k=10, seed=0, restarts=2).fit(train[:, :10], train[:, -1])
    assert N_PARAMS == p.n_params == p.theta.size == 14  # LSTM 4 gates x (w_x, w_h, b) + dense (w, b)
    pred, base = p.predict(test), last_value(test, 10)
    rmse = float(np.sqrt(np.mean((pred - test[:, -1]) ** 2)))
    rmse_last = float(np.sqrt(np.mean((base - test[:, -1]) ** 2)))
    assert rmse < 0.6 * rmse_last, (rmse, rmse_last)
    again = CurvePredictor(k=10, seed=0, restarts=2).fit(train[:, :10], train[:, -1])
    np.testing.assert_array_equal(again.theta, p.theta)  # deterministic for a seed


def test_hit_rate_on_known_rankings():
    true = np.arange(100, dtype=float)                   # run i has loss i: 0..4 are the top 5 %
    assert hit_rate(true, true) == {0.05: 1.0, 0.1: 1.0, 0.2: 1.0}
    assert hit_rate(-true, true) == {0.05: 0.0, 0.1: 0.0, 0.2: 0.0}
    pred = true.copy()
    pred[[0, 1]] = 1000.0                                # two of the true top 5 pushed to the bottom
    r = hit_rate(pred, true, top=(0.05, 0.1))
    assert r[0.05] == pytest.approx(3 / 5) and r[0.1] == pytest.approx(8 / 10)
    assert hit_rate(true, -true, top=(0.05,), lower_is_better=False) == {0.05: 0.0}  # scores: higher is better


# ---------------------------------------------------------------- resumable search

KILLED_RUN = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {repo!r})
    from toolchain.train.nas import Space, run_search
    space = Space.of(x=(1, 2, 3, 4), y=(8, 16, 32))
    def objective(trial, params):
        if trial.number == {kill_at}:
            os._exit(9)            # killed in the middle of a trial: it stays RUNNING
        return params["x"] * params["y"]
    run_search(objective, space, storage={journal!r}, study_name="resume", n_trials=10, seed=1)
""")


def test_killed_search_continues_from_its_journal(tmp_path):
    journal = str(tmp_path / "nas.journal")
    r = subprocess.run([sys.executable, "-c", KILLED_RUN.format(repo=str(REPO), kill_at=4, journal=journal)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 9, r.stderr
    space = Space.of(x=(1, 2, 3, 4), y=(8, 16, 32))
    res = run_search(lambda trial, p: p["x"] * p["y"], space, storage=journal, study_name="resume",
                     n_trials=10, seed=1)
    states = [t.state for t in res.study.trials]
    assert res.stale_failed == 1 and states[4] == optuna.trial.TrialState.FAIL
    assert states.count(optuna.trial.TrialState.COMPLETE) == 10 and res.ran == 6 and res.n_trials == 11
    # a third run with a larger total only adds the difference
    res2 = run_search(lambda trial, p: p["x"] * p["y"], space, storage=journal, study_name="resume",
                      n_trials=13, seed=1)
    assert res2.ran == 3 and res2.n_trials == 14 and res2.stale_failed == 0
    top = res2.top_k(3)
    assert [p["x"] * p["y"] for p in top] == sorted(p["x"] * p["y"] for p in top)


def test_infeasible_candidates_are_pruned_with_their_reasons(tmp_path):
    def feasibility(p):
        if p["channels"] >= 32:
            return Feasibility(False, [f"RAM: arena {p['channels'] * 100} B > 2048 B on test"])
        return Feasibility(True, arena_bytes=p["channels"] * 100, weight_bytes=10)

    trained = []
    res = run_search(lambda trial, p: trained.append(p) or 1.0, SPACE, storage=str(tmp_path / "f.journal"),
                     study_name="feasible", n_trials=12, feasibility=feasibility,
                     sampler=optuna.samplers.RandomSampler(seed=3))
    bad = res.infeasible()
    assert bad and all(p["channels"] >= 32 and "RAM: arena" in why[0] for _, p, why in bad)
    assert all(p["channels"] < 32 for p in trained) and len(trained) + len(bad) == 12
    assert all(res.study.trials[n].state == optuna.trial.TrialState.PRUNED for n, _, _ in bad)


# ---------------------------------------------------------------- pruner

def test_curve_pruner_prunes_and_compares_on_one_budget():
    budget = 40 * EPOCHS
    out = compare_pruners(synthetic_objective, SPACE, epoch_budget=budget, seed=0, epoch=10, top_k=3,
                          n_startup_trials=8)
    assert set(out) == {"curve", "median", "successive_halving"}
    for r in out.values():
        assert budget <= r.epochs_used < budget + EPOCHS and r.best_value is not None
    curve = out["curve"]
    assert curve.n_pruned > 0 and curve.n_trials > budget // EPOCHS   # pruning buys more candidates
    assert curve.n_complete >= 8


def test_curve_pruner_is_an_optuna_pruner_and_records_its_forecast():
    assert issubclass(CurvePruner, optuna.pruners.BasePruner)
    train = synthetic_curves(40, seed=5)
    pred = CurvePredictor(k=10).fit(train[:, :10], train[:, -1])
    study = optuna.create_study(pruner=CurvePruner(pred, epoch=10, top_k=2, n_startup_trials=2),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    curves = iter(synthetic_curves(30, seed=6))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda tr: (lambda c: train_epochs(tr, lambda e: c[e - 1], EPOCHS))(next(curves)), n_trials=30)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and all(t.user_attrs["pruned_at_epoch"] == 10 and "predicted_final" in t.user_attrs
                          for t in pruned)


# ---------------------------------------------------------------- feasibility on a real (tiny) model

def _tiny_cnn(channels: int):
    from toolchain.train.zoo.common import _keras
    keras = _keras()

    def build():
        x = keras.Input((16, 16, 1), batch_size=1)
        y = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
        y = keras.layers.Conv2D(4, 1, padding="same")(y)
        return keras.Model(x, y)
    return build


def test_feasibility_rejects_over_budget_and_accepts_a_small_model():
    pytest.importorskip("tensorflow", reason="int8 conversion needs TensorFlow: pip install '.[nn]'")
    from toolchain.train.nas import check
    from toolchain.train.zoo.common import _limit_threads, _seed
    _limit_threads(1)
    _seed(0)
    rep = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 1)).astype(np.float32)
    build = _tiny_cnn(8)

    small = check(build, rep, Budget.from_board("k210"))
    assert small.ok, small.reasons
    assert small.kpu_share is not None and small.kpu_share >= 0.5 and small.arena_bytes > 0
    assert small.weight_bytes > 0 and small.details["kpu"]["kpu_layers"] >= 1

    tiny = Budget.from_board("msp430g2553")                      # 512 B RAM minus the stack reserve
    over = check(build, rep, tiny)
    assert not over.ok and over.kpu_share is None
    assert any(r.startswith("RAM: arena") and "msp430g2553" in r for r in over.reasons), over.reasons
    assert over.arena_bytes == small.arena_bytes > tiny.ram_bytes
