"""Starfish's learning-curve predictor: one LSTM unit and a dense layer read the first k epochs'
validation scores of a run and predict its final score (Starfish section 3.1.1 step 4, Table 4).

Parameters (input size 1, hidden size 1): the LSTM has 4 gates (input, forget, cell, output),
each with an input weight, a recurrent weight and a bias: 4 * (1 + 1 + 1) = 12; the dense layer
1 weight + 1 bias = 2; 14 in all, as in the paper. numpy forward pass, fitted by L-BFGS (scipy)
on mean squared error (gradient by backpropagation through time) from a seeded
initialisation (best of ``restarts``): the same data and seed
give the same predictor.

Scores are normalised with the training set's mean and spread of the first k values. By default
the network predicts the final value itself, as in the paper; ``residual=True`` predicts the
change from the k-th value instead (no extra parameters: the dense output is added to the last
input), which keeps a poorly fitted predictor near the "last value" guess.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CurvePredictor", "N_PARAMS", "hit_rate", "last_value"]

HIDDEN = 1
N_LSTM = 4 * (HIDDEN * (1 + HIDDEN) + HIDDEN)   # 12
N_DENSE = HIDDEN + 1                             # 2
N_PARAMS = N_LSTM + N_DENSE                      # 14


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _forward(theta: np.ndarray, x: np.ndarray, keep: list | None = None) -> np.ndarray:
    """x: (N, k) normalised scores -> (N,) dense output after the last step. ``keep`` collects
    each step's (x, h_prev, c_prev, gates, c) for the backward pass."""
    wx, wh, b = theta[0:4], theta[4:8], theta[8:12]   # gates i, f, g, o
    wd, bd = theta[12], theta[13]
    h = np.zeros(x.shape[0])
    c = np.zeros(x.shape[0])
    for t in range(x.shape[1]):
        z = x[:, t, None] * wx + h[:, None] * wh + b
        gates = np.stack([_sigmoid(z[:, 0]), _sigmoid(z[:, 1]), np.tanh(z[:, 2]), _sigmoid(z[:, 3])], axis=1)
        i, f, g, o = gates.T
        c_new = f * c + i * g
        if keep is not None:
            keep.append((x[:, t], h, c, gates, c_new))
        c = c_new
        h = o * np.tanh(c)
    if keep is not None:
        keep.append(h)
    return wd * h + bd


def _loss_grad(theta: np.ndarray, x: np.ndarray, target: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """Mean squared error (+ l2 * |theta|^2) and its gradient by backpropagation through time."""
    keep: list = []
    r = _forward(theta, x, keep) - target
    n = len(target)
    grad = 2.0 * l2 * theta
    dy = 2.0 * r / n
    h_last = keep.pop()
    grad[12] += np.dot(dy, h_last)
    grad[13] += dy.sum()
    wh = theta[4:8]
    dh = dy * theta[12]
    dc = np.zeros(n)
    for xt, h_prev, c_prev, gates, c in reversed(keep):
        i, f, g, o = gates.T
        tc = np.tanh(c)
        dct = dc + dh * o * (1.0 - tc * tc)
        dz = np.stack([dct * g * i * (1.0 - i), dct * c_prev * f * (1.0 - f),
                       dct * i * (1.0 - g * g), dh * tc * o * (1.0 - o)], axis=1)
        grad[0:4] += xt @ dz
        grad[4:8] += h_prev @ dz
        grad[8:12] += dz.sum(axis=0)
        dc = dct * f
        dh = dz @ wh
    return float(np.mean(r * r) + l2 * np.dot(theta, theta)), grad


@dataclass
class CurvePredictor:
    """Predicts final score from the first ``k`` epochs' scores. ``fit`` before ``predict``."""

    k: int = 10
    seed: int = 0
    residual: bool = False
    restarts: int = 3
    l2: float = 1e-4
    theta: np.ndarray | None = None
    mu: float = 0.0
    sd: float = 1.0
    train_rmse: float | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return N_PARAMS

    def _inputs(self, curves) -> np.ndarray:
        x = np.asarray(curves, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] < self.k:
            raise ValueError(f"curves must be (N, >= {self.k}) (first k={self.k} epochs per run); got {x.shape}")
        return x[:, :self.k]

    def _target(self, xn: np.ndarray, yn: np.ndarray) -> np.ndarray:
        return yn - xn[:, -1] if self.residual else yn

    def fit(self, curves, finals) -> "CurvePredictor":
        """curves: (N, >= k) validation scores per fully trained run; finals: (N,) final scores."""
        from scipy.optimize import minimize
        x = self._inputs(curves)
        y = np.asarray(finals, dtype=np.float64).reshape(-1)
        if len(y) != len(x) or len(x) < 2:
            raise ValueError(f"need >= 2 runs with one final score each; got {len(x)} curves, {len(y)} finals")
        self.mu = float(x.mean())
        self.sd = float(x.std()) or 1.0
        xn, yn = (x - self.mu) / self.sd, (y - self.mu) / self.sd
        tgt = self._target(xn, yn)

        rng = np.random.default_rng(self.seed)
        best = None
        for _ in range(max(1, self.restarts)):
            th0 = rng.normal(0.0, 0.5, N_PARAMS)
            th0[4 + 1] += 1.0  # forget-gate bias towards remembering
            r = minimize(_loss_grad, th0, args=(xn, tgt, self.l2), jac=True, method="L-BFGS-B",
                         options={"maxiter": 300})
            if best is None or r.fun < best.fun:
                best = r
        self.theta = best.x
        self.train_rmse = float(np.sqrt(np.mean((self.predict(x) - y) ** 2)))
        self.info = {"loss": float(best.fun), "iterations": int(best.nit), "n_runs": len(x)}
        return self

    def predict(self, curves) -> np.ndarray:
        if self.theta is None:
            raise RuntimeError("CurvePredictor.predict before fit(): fit it on fully trained runs first")
        x = self._inputs(curves)
        xn = (x - self.mu) / self.sd
        out = _forward(self.theta, xn) + (xn[:, -1] if self.residual else 0.0)
        return out * self.sd + self.mu


def last_value(curves, k: int) -> np.ndarray:
    """The baseline: the k-th epoch's score as the final one."""
    return np.asarray(curves, dtype=np.float64)[:, k - 1]


def hit_rate(pred, true, top=(0.05, 0.1, 0.2), lower_is_better: bool = True) -> dict[float, float]:
    """Share of the true top-p runs that the predicted top-p recovers, per p (Starfish Table 4:
    16.4 / 22.4 / 28.2 % for p = 5 / 10 / 20 % from 10 epochs; random picking gets about p).
    Top-p of N runs is the best max(1, round(p * N)); ties broken by index (stable sort)."""
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim != 1:
        raise ValueError(f"pred and true must be 1-D of one length; got {pred.shape} and {true.shape}")
    sign = 1.0 if lower_is_better else -1.0
    p_order = np.argsort(sign * pred, kind="stable")
    t_order = np.argsort(sign * true, kind="stable")
    out = {}
    for p in top:
        n = max(1, int(round(p * len(true))))
        out[p] = len(set(p_order[:n].tolist()) & set(t_order[:n].tolist())) / n
    return out
