"""Hardware-aware architecture search (Starfish, MobiCom 2022, section 3.1.1), model-agnostic:

* ``space``: a design space as data (named discrete choices) and its Optuna suggestions;
* ``feasibility``: int8 conversion + our C generator (RAM/flash) + the K210 KPU placement checker
  reject candidates that do not fit a board or leave its accelerator idle, before any training;
* ``curve_predictor``: the 14-parameter LSTM that predicts a run's final score from its first k
  epochs, and the paper's top-p hit rate;
* ``pruner``: an Optuna pruner on that predictor, compared with Median / SuccessiveHalving;
* ``search``: the resumable study (journal file under build/nas/, or an RDB URL), ranking, top k.

Optuna (extra ``nas``) and TensorFlow (extra ``nn``) are imported inside functions only.
"""
from toolchain.train.nas.curve_predictor import N_PARAMS, CurvePredictor, hit_rate, last_value
from toolchain.train.nas.feasibility import Budget, Feasibility, check
from toolchain.train.nas.pruner import PrunerResult, compare_pruners, default_pruners
from toolchain.train.nas.search import SearchResult, open_storage, ranking, run_search, train_epochs
from toolchain.train.nas.space import Choice, Space

__all__ = ["N_PARAMS", "Budget", "Choice", "CurvePredictor", "CurvePruner", "Feasibility", "PrunerResult",
           "SearchResult", "Space", "check", "compare_pruners", "default_pruners", "hit_rate", "last_value",
           "open_storage", "ranking", "run_search", "train_epochs"]


def __getattr__(name: str):
    if name == "CurvePruner":
        from toolchain.train.nas import pruner
        return pruner.CurvePruner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
