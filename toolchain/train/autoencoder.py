"""Single-hidden-layer sigmoid autoencoder trained with L-BFGS (the paper's method).

    y  = s(W1 d + b1),   d' = s(W2 y + b2),   s = logistic sigmoid

Variants (paper section IV):
    ae   basic:         J = 1/(2N) sum ||d' - d||^2
    wae  weight decay:  J + lam/2 (||W1||^2 + ||W2||^2)
    sae  sparse:        J + beta * sum_j KL(rho || rho_hat_j), rho_hat_j = mean activation of unit j
Inputs d are "sphered" windows in [0.1, 0.9] (see toolchain/codecs/sphering.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import minimize

VARIANTS = ("ae", "wae", "sae")


@dataclass
class FloatAE:
    W1: np.ndarray  # (m, n)
    b1: np.ndarray  # (m,)
    W2: np.ndarray  # (n, m)
    b2: np.ndarray  # (n,)
    variant: str = "ae"
    curve: list[dict] = field(default_factory=list)  # per L-BFGS iteration: loss, train/val RMSE (sphered units)

    @property
    def n(self) -> int:
        return self.W1.shape[1]

    @property
    def m(self) -> int:
        return self.W1.shape[0]

    def encode(self, d: np.ndarray) -> np.ndarray:
        return _sig(d @ self.W1.T + self.b1)

    def decode(self, y: np.ndarray) -> np.ndarray:
        return _sig(y @ self.W2.T + self.b2)

    def to_dict(self) -> dict:
        out = asdict(self)
        for k in ("W1", "b1", "W2", "b2"):
            out[k] = np.asarray(out[k]).tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "FloatAE":
        return cls(**{k: (np.asarray(v, dtype=np.float64) if k in ("W1", "b1", "W2", "b2") else v)
                      for k, v in d.items()})


@dataclass
class TrainConfig:
    hidden: int = 8
    variant: str = "ae"
    lam: float = 1e-4       # weight decay (wae)
    beta: float = 0.1       # sparsity weight (sae)
    rho: float = 0.05       # target activation (sae)
    max_iter: int = 400
    seed: int = 0


def _sig(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def _unpack(theta: np.ndarray, n: int, m: int):
    i = 0
    W1 = theta[i:i + m * n].reshape(m, n); i += m * n
    b1 = theta[i:i + m]; i += m
    W2 = theta[i:i + n * m].reshape(n, m); i += n * m
    b2 = theta[i:i + n]
    return W1, b1, W2, b2


def _loss_grad(theta: np.ndarray, D: np.ndarray, cfg: TrainConfig):
    N, n = D.shape
    m = cfg.hidden
    W1, b1, W2, b2 = _unpack(theta, n, m)
    Y = _sig(D @ W1.T + b1)
    R = _sig(Y @ W2.T + b2)
    E = R - D
    loss = 0.5 * np.sum(E * E) / N
    dZ2 = E * R * (1 - R) / N
    gW2 = dZ2.T @ Y
    gb2 = dZ2.sum(0)
    dY = dZ2 @ W2
    if cfg.variant == "sae":
        rho, rh = cfg.rho, np.clip(Y.mean(0), 1e-6, 1 - 1e-6)
        loss += cfg.beta * np.sum(rho * np.log(rho / rh) + (1 - rho) * np.log((1 - rho) / (1 - rh)))
        dY = dY + cfg.beta * (-rho / rh + (1 - rho) / (1 - rh)) / N
    dZ1 = dY * Y * (1 - Y)
    gW1 = dZ1.T @ D
    gb1 = dZ1.sum(0)
    if cfg.variant == "wae":
        loss += 0.5 * cfg.lam * (np.sum(W1 * W1) + np.sum(W2 * W2))
        gW1 = gW1 + cfg.lam * W1
        gW2 = gW2 + cfg.lam * W2
    return loss, np.concatenate([gW1.ravel(), gb1, gW2.ravel(), gb2])


def train(D_train: np.ndarray, D_val: np.ndarray | None, cfg: TrainConfig,
          progress=None) -> FloatAE:
    """Fit the AE on sphered windows; records loss and RMSE per iteration."""
    if cfg.variant not in VARIANTS:
        raise ValueError(f"unknown AE variant {cfg.variant!r}; choose one of {VARIANTS}")
    D_train = np.asarray(D_train, dtype=np.float64)
    N, n = D_train.shape
    m = cfg.hidden
    rng = np.random.default_rng(cfg.seed)
    r = np.sqrt(6.0 / (n + m + 1))  # Glorot-style init, as in Ng's sparse AE notes
    theta0 = np.concatenate([rng.uniform(-r, r, m * n), np.zeros(m),
                             rng.uniform(-r, r, n * m), np.zeros(n)])
    curve: list[dict] = []

    def rmse(theta, D):
        W1, b1, W2, b2 = _unpack(theta, n, m)
        R = _sig(_sig(D @ W1.T + b1) @ W2.T + b2)
        return float(np.sqrt(np.mean((R - D) ** 2)))

    def callback(xk):
        rec = {"iter": len(curve) + 1, "loss": float(_loss_grad(xk, D_train, cfg)[0]),
               "train_rmse": rmse(xk, D_train)}
        if D_val is not None and len(D_val):
            rec["val_rmse"] = rmse(xk, D_val)
        curve.append(rec)
        if progress is not None:
            progress(rec)

    res = minimize(_loss_grad, theta0, args=(D_train, cfg), jac=True, method="L-BFGS-B",
                   callback=callback, options={"maxiter": cfg.max_iter})
    W1, b1, W2, b2 = (a.copy() for a in _unpack(res.x, n, m))
    return FloatAE(W1, b1, W2, b2, cfg.variant, curve)
