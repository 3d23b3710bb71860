"""Float AE -> integer model, and the integer arithmetic contract shared with the C.

Number formats (all checked when the model is made, so the C cannot overflow int32):
  readings x     int16, native sensor units; MISSING (-32768) marks a missing reading
  sphered d      Q15 in [0.1, 0.9]:  d = 16384 + rshr((clip(x - mean, -c, c)) * K_IN, S_IN)
  weights W1,W2  int16 in Q(F1), Q(F2);  biases int32 in Q(F+15)
  accumulators   int32 Q(F+15) = bias + sum tc_mul16(W, act)
  sigmoid input  Q8, clamped to [-2048, 2047] (i.e. [-8, 8)); table of 257 Q15 points, step 1/16,
                 linear interpolation with a 4-bit fraction
  latent y       Q15, sent as its top B bits; the decoder uses the bin's midpoint
  output u       Q15; xhat = mean + rshr((u - 16384) * K_OUT, S_OUT), clamped to the word range
where rshr(a, s) = (a + 2^(s-1)) >> s with an arithmetic shift (round half up). One rounding
mode everywhere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..train.autoencoder import FloatAE

Q15_ONE = 1 << 15
D_MID = 16384            # 0.5 in Q15
D_HALF_SPAN = 13107.2    # 0.4 in Q15: d spans 0.5 +- 0.4
SIG_IN_FRAC = 8          # sigmoid input Q8
SIG_ZMAX = 2047
SIG_ZMIN = -2048
SIG_STEP_BITS = 4        # table step 1/16 of Q8 unit... i.e. 16 Q8 units
D_MAX = 29492            # upper bound of |d| (0.9 in Q15, rounded up)
INT32_MAX = (1 << 31) - 1


def sigmoid_table() -> np.ndarray:
    z = (np.arange(257) - 128) / 16.0
    return np.minimum(np.round(Q15_ONE / (1 + np.exp(-z))), Q15_ONE - 1).astype(np.int64)


SIG_TABLE = sigmoid_table()


def rshr(a, s: int):
    """Arithmetic right shift with round-half-up (s >= 1)."""
    return (a + (1 << (s - 1))) >> s


def sigmoid_q8(z: np.ndarray) -> np.ndarray:
    """Integer sigmoid: Q8 input (clamped) to Q15 output; mirrored by tc_sigmoid() in C."""
    z = np.clip(z, SIG_ZMIN, SIG_ZMAX)
    p = z - SIG_ZMIN
    idx = p >> SIG_STEP_BITS
    f = p & ((1 << SIG_STEP_BITS) - 1)
    t0 = SIG_TABLE[idx]
    return t0 + (((SIG_TABLE[idx + 1] - t0) * f) >> SIG_STEP_BITS)


def _scale_for(target: float, limit: int = 32767, smax: int = 30) -> tuple[int, int]:
    """Largest shift s with K = round(target * 2^s) <= limit: returns (K, s)."""
    best = None
    for s in range(smax + 1):
        K = int(round(target * (1 << s)))
        if K <= limit:
            best = (K, s)
        else:
            break
    if best is None or best[0] == 0:
        raise ValueError(f"scale {target} cannot be represented as int16 * 2^-s")
    return best


def _frac_bits(W: np.ndarray, b: np.ndarray, act_max: int, out_shift_base: int) -> int:
    """Most fraction bits F for W such that W fits int16 and no accumulator can overflow int32."""
    for F in range(14, -1, -1):
        Wq = np.round(W * (1 << F))
        if np.abs(Wq).max() > 32767:
            continue
        bq = np.round(b * (1 << (F + 15)))
        worst = np.abs(Wq).sum(axis=1) * act_max + np.abs(bq) + (1 << (F + 15 - out_shift_base))
        if worst.max() < INT32_MAX:
            return F
    raise ValueError("weights too large for int16/int32 fixed point even with 0 fraction bits")


@dataclass
class FixedModel:
    """The integer AE codec model: everything the device and the host decoder share."""
    name: str
    mode: str                 # "temporal" | "spatial"
    n: int
    m: int
    latent_bits: int
    word_bits: int
    lo: int                   # lowest native code of the word (mean is sent as mean - lo)
    c: int                    # sphering clip (3 sigma) in native units
    k_in: int
    s_in: int
    k_out: int
    s_out: int
    f1: int
    f2: int
    W1: list                  # int16 (m, n)
    B1: list                  # int32 (m,)
    W2: list                  # int16 (n, m)
    B2: list                  # int32 (n,)
    mu: list                  # int16 per input position: training mean (imputation)
    variant: str = "ae"
    meta: dict = field(default_factory=dict)

    @property
    def hi(self) -> int:
        return self.lo + (1 << self.word_bits) - 1

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(getattr(self, k), dtype=np.int64) for k in ("W1", "B1", "W2", "B2", "mu")}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FixedModel":
        return cls(**d)


def quantize(ae: FloatAE, *, name: str, mode: str, c: int, latent_bits: int, word_bits: int,
             lo: int, mu: np.ndarray) -> FixedModel:
    if not 1 <= latent_bits <= 14:
        raise ValueError(f"latent_bits must be 1..14, got {latent_bits}")
    if not 1 <= c <= 32767:
        raise ValueError(f"sphering clip c={c} must be in 1..32767 native units")
    k_in, s_in = _scale_for(D_HALF_SPAN / c)
    k_out, s_out = _scale_for(c / D_HALF_SPAN)
    f1 = _frac_bits(ae.W1, ae.b1, D_MAX, SIG_IN_FRAC)
    f2 = _frac_bits(ae.W2, ae.b2, Q15_ONE, SIG_IN_FRAC)
    W1 = np.round(ae.W1 * (1 << f1)).astype(np.int64)
    B1 = np.round(ae.b1 * (1 << (f1 + 15))).astype(np.int64)
    W2 = np.round(ae.W2 * (1 << f2)).astype(np.int64)
    B2 = np.round(ae.b2 * (1 << (f2 + 15))).astype(np.int64)
    mu = np.clip(np.round(np.asarray(mu, dtype=np.float64)), lo, lo + (1 << word_bits) - 1).astype(np.int64)
    if mu.shape != (ae.n,):
        raise ValueError(f"mu must have one mean per input ({ae.n}), got shape {mu.shape}")
    return FixedModel(name=name, mode=mode, n=ae.n, m=ae.m, latent_bits=latent_bits,
                      word_bits=word_bits, lo=int(lo), c=int(c), k_in=k_in, s_in=s_in,
                      k_out=k_out, s_out=s_out, f1=f1, f2=f2, W1=W1.tolist(), B1=B1.tolist(),
                      W2=W2.tolist(), B2=B2.tolist(), mu=mu.tolist(), variant=ae.variant)
