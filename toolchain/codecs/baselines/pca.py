"""PCA baseline: a basis learnt on training windows, k quantised components, residual fix-up.

fit(): mu = mean training window (float64, n), V = right singular vectors of the centred
training windows (rows, full n x n orthonormal basis, strongest first).  Model = (mu, V).

Per window the encoder computes c = V (x - mu) and, for every step delta_j = (2*eps + 1) *
2^((j - 3)/2), j = 0..15 (as dct), and k in candidate_ks(n) (0..6, 8, 10, 12, 16, 20, 24, 32,
48, 64, n), the stream size; it keeps the cheapest (j, k).  With
qc = round_half_up(c[:k] / delta_j), encoder and decoder both compute (same function)
    xhat = round_half_up(mu + V[:k]^T (qc * delta_j))
and the error-bound residual coder sends q = quantize_residual(x - xhat, eps).

Bit layout (MSB first):
    j        : 4 bits
    k        : bitlen(n) bits
    qc[0]    : signed Exp-Golomb (only if k >= 1)
    qc[1:k]  : residual block (only if k >= 2)
    q        : residual block
"""
from __future__ import annotations

import numpy as np

from .. import residual
from ..bitstream import BitWriter, BitstreamError
from .common import (Encoded, check_train, RangeMixin, finish, gamma_cost, pack, read_gamma, reader,
                     round_half_up, write_gamma)
from .dct import J_BITS, N_STEPS, step


def candidate_ks(n: int) -> list[int]:
    """k values the encoder tries (any 0..n decodes; the search is limited to keep it fast)."""
    ks = set(range(min(n, 6) + 1)) | {k for k in (8, 10, 12, 16, 20, 24, 32, 48, 64) if k <= n}
    return sorted(ks | {n})


class PCA(RangeMixin):
    name = "pca"

    def __init__(self) -> None:
        self.mu: np.ndarray | None = None
        self.basis: np.ndarray | None = None

    def fit(self, train_windows: np.ndarray, word_bits: int, lo: int) -> None:
        self._set_range(word_bits, lo)
        t = check_train(train_windows, "pca")
        t = t.astype(np.float64)
        self.mu = t.mean(axis=0)
        # Only V is needed: full_matrices=True would also build U, N x N (13 GB for 40k windows).
        # With fewer windows than samples the thin SVD would lack basis rows, so then ask for all.
        _, _, vt = np.linalg.svd(t - self.mu, full_matrices=t.shape[0] < t.shape[1])
        self.basis = np.ascontiguousarray(vt)

    def _model(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self.mu is None:
            raise RuntimeError("pca: call fit(train_windows, word_bits, lo) first")
        if n != self.mu.size:
            raise ValueError(f"pca model was fitted on windows of {self.mu.size}, got n={n}")
        return self.mu, self.basis

    def reconstruct(self, qc: np.ndarray, delta: float) -> np.ndarray:
        mu, v = self._model(self.mu.size)
        k = qc.size
        return round_half_up(mu + v[:k].T @ (qc.astype(np.float64) * delta))

    def _coef_bits(self, qc: np.ndarray) -> int:
        bits = 0
        if qc.size >= 1:
            bits += gamma_cost(int(qc[0]))
        if qc.size >= 2:
            bits += residual.choose(qc[1:])[2]
        return bits

    def encode(self, x: np.ndarray, eps: int) -> Encoded:
        x = self.check(x, eps)
        n = x.size
        mu, v = self._model(n)
        kbits = n.bit_length()
        coef = v @ (x - mu)
        best = None
        for j in range(N_STEPS):
            delta = step(eps, j)
            qc_all = round_half_up(coef / delta)
            # all k at once (approximate sums; the chosen pair is recomputed exactly below)
            parts = v.T * (qc_all * delta)[None, :]
            recs = round_half_up(mu[:, None] + np.concatenate(
                [np.zeros((n, 1)), np.cumsum(parts, axis=1)], axis=1))
            for k in candidate_ks(n):
                q = residual.quantize_residual(x - recs[:, k], eps)
                bits = J_BITS + kbits + self._coef_bits(qc_all[:k]) + residual.choose(q)[2]
                if best is None or bits < best[0]:
                    best = (bits, j, k, qc_all[:k])
        _, j, k, qc = best
        delta = step(eps, j)
        q = residual.quantize_residual(x - self.reconstruct(qc, delta), eps)
        w = BitWriter()
        w.write(j, J_BITS)
        w.write(k, kbits)
        if k >= 1:
            write_gamma(w, int(qc[0]))
        if k >= 2:
            residual.encode(w, qc[1:])
        residual.encode(w, q)
        return pack(w)

    def decode(self, enc: Encoded, n: int, eps: int) -> np.ndarray:
        self._model(n)
        r = reader(enc)
        j = r.read(J_BITS)
        k = r.read(n.bit_length())
        if k > n:
            raise BitstreamError(f"pca: k={k} > n={n}")
        qc = np.zeros(k, dtype=np.int64)
        if k >= 1:
            qc[0] = read_gamma(r)
        if k >= 2:
            qc[1:] = residual.decode(r, k - 1)
        q = residual.decode(r, n)
        finish(r, "pca")
        return self.reconstruct(qc, step(eps, j)) + residual.dequantize_residual(q, eps)
