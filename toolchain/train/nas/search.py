"""Run a hardware-aware architecture search as an Optuna study.

    from toolchain.train.nas import Space, run_search, train_epochs
    space = Space.of(patches=(1, 2, 4), layers=(2, 3, 4), channels=(8, 16, 32))
    def objective(trial, params):
        model = build(params)
        return train_epochs(trial, lambda epoch: fit_one_epoch(model), n_epochs=60)
    res = run_search(objective, space, study_name="image-nas", n_trials=200,
                     feasibility=lambda p: check(lambda: build(p), rep, budget))
    res.top_k(5)   # the candidates to train in full

Storage: by default a journal file build/nas/<study_name>.journal, so a killed search run again
with the same name continues where it stopped (``n_trials`` is the study's total, not this run's);
trials a killed run left RUNNING are marked FAIL first (one worker per journal file). Any Optuna
storage URL (``sqlite:///nas.db``, ``postgresql://...``) or path ending ``.journal`` is accepted
too; RDB storages get a heartbeat so that Optuna fails the stale trials of dead workers itself.

Infeasible candidates (``feasibility(params)`` -> Feasibility with ok False) are pruned before
training, their reasons in the trial's user attrs ``infeasible_reasons``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .space import Space

__all__ = ["SearchResult", "open_storage", "ranking", "run_search", "train_epochs"]

STALE_ATTR = "stale_from_killed_run"


def open_storage(storage, study_name: str):
    """An Optuna storage for ``storage``: None (journal under build/nas/), a path ending .journal
    or .log (journal file), an RDB URL (heartbeat 60 s), or an Optuna storage object."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
    if storage is None:
        from toolchain import paths
        storage = paths.build_dir() / "nas" / f"{study_name}.journal"
    if isinstance(storage, (str, Path)) and (isinstance(storage, Path) or "://" not in str(storage)):
        path = Path(storage)
        if path.suffix not in (".journal", ".log"):
            raise ValueError(f"storage {str(storage)!r}: give a journal file (*.journal or *.log) or a URL "
                             "such as sqlite:///nas.db or postgresql://user@host/db")
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    if isinstance(storage, str):
        return optuna.storages.RDBStorage(storage, heartbeat_interval=60, grace_period=180)
    return storage


def _fail_stale(study) -> int:
    """Mark trials a killed run left RUNNING as FAIL (journal storages have no heartbeat)."""
    from optuna.trial import TrialState
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, STALE_ATTR, True)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    return n


def train_epochs(trial, epoch_fn: Callable[[int], float], n_epochs: int) -> float:
    """Train epoch by epoch: ``epoch_fn(epoch)`` (epochs 1..n_epochs) returns the validation
    score, reported to the trial; a pruned run raises optuna.TrialPruned, with the curve
    predictor's forecast (when the study's pruner has one) in user attr ``predicted_final``."""
    import optuna
    score = float("nan")
    for epoch in range(1, n_epochs + 1):
        score = float(epoch_fn(epoch))
        trial.report(score, epoch)
        if trial.should_prune():
            pred = getattr(trial.study.pruner, "predictions", {}).get(trial.number)
            if pred is not None:
                trial.set_user_attr("predicted_final", pred)
            trial.set_user_attr("pruned_at_epoch", epoch)
            raise optuna.TrialPruned(f"pruned at epoch {epoch}")
    return score


def ranking(study, include_predicted: bool = True) -> list[tuple[int, float, dict]]:
    """(trial number, score, params), best first: completed runs by their final score and, with
    include_predicted, pruned runs by the predictor's forecast (user attr predicted_final)."""
    import optuna
    from optuna.trial import TrialState
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE and t.value is not None:
            rows.append((t.number, float(t.value), dict(t.params)))
        elif include_predicted and t.state == TrialState.PRUNED and "predicted_final" in t.user_attrs:
            rows.append((t.number, float(t.user_attrs["predicted_final"]), dict(t.params)))
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(rows, key=lambda r: (-r[1] if maximize else r[1], r[0]))


@dataclass
class SearchResult:
    study: object
    storage_desc: str
    ran: int                 # trials this call ran
    stale_failed: int        # RUNNING trials of a killed run marked FAIL on resume

    @property
    def n_trials(self) -> int:
        return len(self.study.trials)

    def ranking(self, include_predicted: bool = True) -> list[tuple[int, float, dict]]:
        return ranking(self.study, include_predicted)

    def top_k(self, k: int, include_predicted: bool = False) -> list[dict]:
        """Params of the k best candidates, for full training (Starfish steps 8-9)."""
        return [r[2] for r in self.ranking(include_predicted)[:k]]

    def infeasible(self) -> list[tuple[int, dict, list[str]]]:
        """(trial number, params, reasons) of the candidates rejected before training."""
        return [(t.number, dict(t.params), list(t.user_attrs["infeasible_reasons"]))
                for t in self.study.get_trials(deepcopy=False)
                if t.user_attrs.get("feasible") is False]


def run_search(objective_fn: Callable, space: Space, storage=None, study_name: str = "nas", n_trials: int = 50, *,
               direction: str = "minimize", sampler=None, pruner=None,
               feasibility: Callable[[dict], object] | None = None, seed: int = 0,
               timeout: float | None = None, show_progress: bool | None = None,
               catch: tuple = ()) -> SearchResult:
    """Run (or resume) the study ``study_name`` until it holds ``n_trials`` finished trials.

    objective_fn(trial, params) -> final score (report epochs through ``train_epochs`` to allow
    pruning); feasibility(params) -> Feasibility, checked before training; sampler default
    TPESampler(seed); pruner default none (e.g. CurvePruner); show_progress default: stderr is a TTY
    (Optuna's INFO logging is silenced otherwise)."""
    import optuna
    from optuna.trial import TrialState
    st = open_storage(storage, study_name)
    desc = storage if isinstance(storage, str) else str(getattr(getattr(st, "_backend", None), "_file_path", st))
    study = optuna.create_study(storage=st, study_name=study_name, direction=direction, load_if_exists=True,
                                sampler=sampler or optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    stale = _fail_stale(study) if not isinstance(st, optuna.storages.RDBStorage) else 0
    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    # Stale trials do not count towards n_trials: the killed run's work is redone.
    done = sum(1 for t in study.get_trials(deepcopy=False, states=finished) if STALE_ATTR not in t.user_attrs)
    todo = max(0, n_trials - done)

    def objective(trial):
        params = space.suggest(trial)
        if feasibility is not None:
            fz = feasibility(params)
            for k, v in fz.as_attrs().items():
                trial.set_user_attr(k, v)
            if not fz.ok:
                raise optuna.TrialPruned("infeasible: " + "; ".join(fz.reasons))
        return objective_fn(trial, params)

    tty = sys.stderr.isatty() if show_progress is None else show_progress
    level = optuna.logging.get_verbosity()
    if not tty:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if todo:
            study.optimize(objective, n_trials=todo, timeout=timeout, show_progress_bar=tty, catch=catch)
    finally:
        optuna.logging.set_verbosity(level)
    return SearchResult(study, desc, todo, stale)
