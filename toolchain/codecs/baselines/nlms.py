"""NLMS predictive coder in the style of LFZip (Chandak et al., 2020), one window at a time.

Model (from fit): the training mean m (float64 scalar), and for each order p a least-squares
initial weight vector w0_p (predict x[t] - m from x[t-1..t-p] - m, ridge-regularised), learnt on
the training windows.  The pair (p, NLMS step mu) is picked per eps, lazily, by coding a fixed
subset of the training windows with every (p, mu) of the grid and keeping the cheapest: it is a
function of the training data and eps only, so encoder and decoder agree.

Loop, run identically by encoder and decoder (`_run`, float64 numpy, same operations):
    t = 0 : pred = m
    t > 0 : u = (xr[t-1], ..., xr[t-p]) - m, indices below 0 repeat xr[0]; pred = m + w . u
    p_int  = clip(floor(pred + 0.5), lo, hi)
    q[t]   = quantize_residual(x[t] - p_int, eps)                  (encoder; decoder reads it)
    xr[t]  = p_int + q[t] * (2*eps + 1)                             => |x - xr| <= eps
    t > 0 : w += mu * (xr[t] - pred) * u / (u . u + 1)              (NLMS update on reconstructed)
Windows are independent: the predictor restarts from w0 every window.

Entropy coding of q[1:] (the encoder keeps the cheaper, 1 bit says which):
    0: the residual block of residual.encode (zero / sparse / dense Rice);
    1: the adaptive arithmetic coder of arith.py, its prior table learnt per eps from the
       training windows' q (same predictor, same (p, mu)), so it is a model parameter.
Mode 1 cannot detect a truncated stream by itself (the decoder reads zeros past the end), so the
decoder re-encodes the decoded q and requires the identical bitstream, else BitstreamError.

Bit layout (MSB first):
    q[0]   : signed Exp-Golomb
    mode   : 1 bit (only if n > 1)
    q[1:]  : residual block (mode 0) or arithmetic code (mode 1; always the last field)
"""
from __future__ import annotations

import numpy as np

from .. import residual
from ..bitstream import BitWriter, BitstreamError, zigzag
from . import arith
from .common import (Encoded, check_train, RangeMixin, finish, gamma_cost, pack, read_gamma, reader,
                     write_gamma)

ORDERS = (1, 2, 3, 4, 8, 16, 32)
STEPS = (0.0, 0.02, 0.1, 0.5)
TUNE_WINDOWS = 48
PRIOR_WINDOWS = 256


class NLMS(RangeMixin):
    name = "nlms"

    def __init__(self) -> None:
        self.mean: float | None = None
        self.w0: dict[int, np.ndarray] = {}
        self._tune: np.ndarray | None = None
        self._params: dict[int, tuple[int, float]] = {}
        self._train: np.ndarray | None = None
        self._priors: dict[int, np.ndarray] = {}

    # ---- model ---------------------------------------------------------------------------
    def fit(self, train_windows: np.ndarray, word_bits: int, lo: int) -> None:
        self._set_range(word_bits, lo)
        t = check_train(train_windows, "nlms")
        t = t.astype(np.int64)
        n = t.shape[1]
        self.mean = float(t.mean())
        c = t.astype(np.float64) - self.mean
        self.w0 = {}
        for p in ORDERS:
            if p >= n:
                continue
            a = np.stack([c[:, p - 1 - i:n - 1 - i] for i in range(p)], axis=-1).reshape(-1, p)
            b = c[:, p:].reshape(-1)
            g = a.T @ a
            g += np.eye(p) * (1e-6 * np.trace(g) / p + 1e-9)
            self.w0[p] = np.linalg.solve(g, a.T @ b)
        if not self.w0:                      # windows of 1 sample: previous-sample predictor
            self.w0[1] = np.ones(1)
        idx = np.linspace(0, t.shape[0] - 1, min(TUNE_WINDOWS, t.shape[0])).round().astype(int)
        self._tune = t[np.unique(idx)]
        idx = np.linspace(0, t.shape[0] - 1, min(PRIOR_WINDOWS, t.shape[0])).round().astype(int)
        self._train = t[np.unique(idx)]
        self._params, self._priors = {}, {}

    def params(self, eps: int) -> tuple[int, float]:
        """(p, mu) for this eps, tuned on the stored training subset (deterministic)."""
        if self.mean is None:
            raise RuntimeError("nlms: call fit(train_windows, word_bits, lo) first")
        eps = int(eps)
        if eps not in self._params:
            best = None
            for p in sorted(self.w0):
                for mu in STEPS:
                    bits = 0
                    for x in self._tune:
                        q, _ = self._run(x.size, eps, p, mu, x=x)
                        bits += self._bits(q)
                    if best is None or bits < best[0]:
                        best = (bits, p, mu)
            self._params[eps] = (best[1], best[2])
        return self._params[eps]

    def prior(self, eps: int) -> np.ndarray:
        """Arithmetic-coder prior for this eps: counts of zigzag(q[1:]) over training windows."""
        eps = int(eps)
        if eps not in self._priors:
            p, mu = self.params(eps)
            qs = [self._run(x.size, eps, p, mu, x=x)[0][1:] for x in self._train]
            self._priors[eps] = arith.prior_counts(zigzag(np.concatenate(qs)))
        return self._priors[eps]

    # ---- shared encoder/decoder loop -------------------------------------------------------
    def _run(self, n: int, eps: int, p: int, mu: float, x: np.ndarray | None = None,
             q: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        m = self.mean
        w = self.w0[p].copy()
        step = 2 * int(eps) + 1
        lo, hi = self.lo, self.hi
        xr = np.zeros(n, dtype=np.int64)
        qs = np.zeros(n, dtype=np.int64) if q is None else q
        lags = np.arange(1, p + 1)
        for t in range(n):
            if t == 0:
                pred = m
            else:
                u = xr[np.maximum(t - lags, 0)].astype(np.float64) - m
                pred = m + float(w @ u)
            pi = min(max(int(np.floor(pred + 0.5)), lo), hi)
            if x is not None:
                r = int(x[t]) - pi
                qs[t] = (1 if r > 0 else -1) * ((abs(r) + eps) // step) if r else 0
            xr[t] = pi + int(qs[t]) * step
            if t > 0 and mu > 0.0:
                w = w + (mu * (float(xr[t]) - pred) / (float(u @ u) + 1.0)) * u
        return qs, xr

    @staticmethod
    def _bits(q: np.ndarray) -> int:
        return gamma_cost(int(q[0])) + (residual.choose(q[1:])[2] if q.size > 1 else 0)

    # ---- interface ---------------------------------------------------------------------------
    def _pack(self, q: np.ndarray, eps: int) -> Encoded:
        w = BitWriter()
        write_gamma(w, int(q[0]))
        if q.size > 1:
            ac = BitWriter()
            arith.encode(ac, q[1:], self.prior(eps))
            if ac.nbits < residual.choose(q[1:])[2]:
                w.write(1, 1)
                w.extend(ac)
            else:
                w.write(0, 1)
                residual.encode(w, q[1:])
        return pack(w)

    def encode(self, x: np.ndarray, eps: int) -> Encoded:
        x = self.check(x, eps)
        p, mu = self.params(eps)
        q, xr = self._run(x.size, eps, p, mu, x=x)
        assert np.array_equal(q, residual.quantize_residual(x - (xr - q * (2 * eps + 1)), eps))
        return self._pack(q, eps)

    def decode(self, enc: Encoded, n: int, eps: int) -> np.ndarray:
        p, mu = self.params(eps)
        r = reader(enc)
        q = np.zeros(n, dtype=np.int64)
        q[0] = read_gamma(r)
        if n > 1:
            if r.read(1):
                q[1:] = arith.decode(r, n - 1, self.prior(eps))
            else:
                q[1:] = residual.decode(r, n - 1)
                finish(r, "nlms")
        again = self._pack(q, eps)
        if again.nbits != enc.nbits or again.data != bytes(enc.data):
            raise BitstreamError(f"nlms: bitstream of {enc.nbits} bits is truncated or corrupt "
                                 f"(re-encoding the decoded symbols gives {again.nbits} bits)")
        return self._run(n, eps, p, mu, q=q)[1]
