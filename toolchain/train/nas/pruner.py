"""An Optuna pruner that stops a run after ``epoch`` epochs when the learning-curve predictor
says its final score will not make the current top k (Starfish steps 7-8, run inside a study),
and ``compare_pruners``: it against Optuna's MedianPruner and SuccessiveHalvingPruner on one
epoch budget.

Objectives report one validation score per epoch (``trial.report(score, epoch)``, epochs from
1; see ``search.train_epochs``). The pruner decides once, at the report that holds ``epoch``
values; a run that passes trains to the end.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .curve_predictor import CurvePredictor

__all__ = ["CurvePruner", "PrunerResult", "compare_pruners", "default_pruners"]


def _curve(trial) -> list[float]:
    return [trial.intermediate_values[s] for s in sorted(trial.intermediate_values)]


_CLASS = None


def __getattr__(name: str):
    """``CurvePruner`` is a real optuna.pruners.BasePruner subclass, built on first use so that
    importing this module does not import optuna (module-level imports stay core dependencies)."""
    global _CLASS
    if name == "CurvePruner":
        if _CLASS is None:
            _CLASS = _make_class()
        return _CLASS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _make_class():
    import optuna
    from optuna.trial import TrialState

    class CurvePruner(optuna.pruners.BasePruner):
        """Prune at ``epoch`` when the predicted final score is worse than the ``top_k``-th best
        final score of the completed runs.

        predictor: a fitted CurvePredictor (k = epoch); None: fitted on the study's completed
        runs once ``n_startup_trials`` of them exist (and refitted as more complete when
        ``refit``). Until then nothing is pruned: those runs are the fully trained samples."""

        def __init__(self, predictor: CurvePredictor | None = None, epoch: int = 10, top_k: int = 5,
                     n_startup_trials: int = 10, refit: bool = False, seed: int = 0):
            if predictor is not None and predictor.k != epoch:
                raise ValueError(f"predictor reads {predictor.k} epochs but the pruner decides at epoch {epoch}")
            if n_startup_trials < max(2, top_k) and predictor is None:
                raise ValueError(f"n_startup_trials={n_startup_trials}: need >= max(2, top_k={top_k}) "
                                 "fully trained runs to fit the predictor and set the threshold")
            self.predictor, self.epoch, self.top_k = predictor, epoch, top_k
            self.n_startup_trials, self.refit, self.seed = n_startup_trials, refit, seed
            self.fitted_on = 0 if predictor is None else -1
            self.predictions: dict[int, float] = {}   # trial number -> predicted final score

        def _fit(self, done: list) -> None:
            runs = [t for t in done if len(t.intermediate_values) >= self.epoch and t.value is not None]
            if len(runs) < 2:
                return
            self.predictor = CurvePredictor(k=self.epoch, seed=self.seed).fit(
                [_curve(t)[:self.epoch] for t in runs], [t.value for t in runs])
            self.fitted_on = len(runs)

        def prune(self, study, trial) -> bool:
            vals = _curve(trial)
            if len(vals) != self.epoch:
                return False
            done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if len(done) < max(self.top_k, self.n_startup_trials if self.fitted_on >= 0 else 0):
                return False
            if self.fitted_on >= 0 and (self.predictor is None or (self.refit and len(done) > self.fitted_on)):
                self._fit(done)
            if self.predictor is None:
                return False
            pred = float(self.predictor.predict([vals])[0])
            self.predictions[trial.number] = pred
            maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
            finals = sorted((t.value for t in done), reverse=maximize)
            thr = finals[min(self.top_k, len(finals)) - 1]
            return pred < thr if maximize else pred > thr

    CurvePruner.__module__ = __name__
    CurvePruner.__qualname__ = "CurvePruner"
    return CurvePruner


def default_pruners(epoch: int = 10, top_k: int = 5, n_startup_trials: int = 10) -> dict:
    """The curve pruner and Optuna's two standard ones, comparably configured."""
    import optuna
    return {
        "curve": __getattr__("CurvePruner")(epoch=epoch, top_k=top_k, n_startup_trials=n_startup_trials),
        "median": optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=epoch - 1),
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner(min_resource=epoch),
    }


@dataclass
class PrunerResult:
    name: str
    best_value: float | None
    best_params: dict
    n_trials: int
    n_complete: int
    n_pruned: int
    epochs_used: int
    wall_s: float
    ranking: list = field(default_factory=list)   # (trial number, value, params) of complete runs, best first


def compare_pruners(objective_fn: Callable, space, *, epoch_budget: int, pruners: dict | None = None,
                    direction: str = "minimize", seed: int = 0, max_trials: int = 10_000,
                    epoch: int = 10, top_k: int = 5, n_startup_trials: int = 10) -> dict[str, PrunerResult]:
    """Run one in-memory study per pruner on the same budget: the same seeded random sampler (so
    the same candidates in the same order) until ``epoch_budget`` epochs are spent in total.

    objective_fn(trial, params) reports one score per epoch and returns the final score."""
    import optuna
    from .search import ranking
    pruners = pruners if pruners is not None else default_pruners(epoch, top_k, n_startup_trials)
    out = {}
    for name, pruner in pruners.items():
        used = {"epochs": 0}

        def cb(study, frozen, used=used):
            used["epochs"] += len(frozen.intermediate_values)
            if used["epochs"] >= epoch_budget:
                study.stop()

        t0 = time.perf_counter()
        with _quiet():
            study = optuna.create_study(direction=direction, pruner=pruner,
                                        sampler=optuna.samplers.RandomSampler(seed=seed))
            study.optimize(lambda tr: objective_fn(tr, space.suggest(tr)), n_trials=max_trials, callbacks=[cb])
        states = [t.state for t in study.trials]
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        out[name] = PrunerResult(
            name, study.best_value if done else None, dict(study.best_params) if done else {},
            len(study.trials), len(done), states.count(optuna.trial.TrialState.PRUNED), used["epochs"],
            time.perf_counter() - t0, ranking(study, include_predicted=False))
    return out


class _quiet:
    def __enter__(self):
        import optuna
        self.level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    def __exit__(self, *exc):
        import optuna
        optuna.logging.set_verbosity(self.level)

