"""Classical codecs on the ECG codec's 2048-sample segments, at equal bit rate, every bit counted.

Why: Dynamic-Deep's compression gain only means something next to what a classical codec does
with the same bits on the same segments. Everything here works on int adu segments (11-bit
MIT-BIH MLII, 0..2047) and counts the full bitstream of a segment, headers included; raw is
11 bits per sample (22528 bits per segment).

    DWT threshold coder   dwt_encode / dwt_decode (bytes), dwt_at_rate (vectorised rate search)
    tinycodec's eb codec  eb_codec_segments / eb_at_rate (models/mitdb-temporal, 32-sample windows)
    lossless delta+Rice   lossless_encode / lossless_decode / lossless_bits (the fallback)
    distortion            prd (PRDN, mean removed), prd_raw (1024 baseline removed)

DWT segment bitstream (MSB first, toolchain.codecs.bitstream):
    mean:11     m = round(mean(x)), clipped to 0..2047
    step:8      quantizer step index i, step = 2^(i/16 - 1) adu (0.5 .. ~31000, 4.4 % apart)
    count:12    K, the number of nonzero quantized coefficients (0..2048)
    if K > 0:
      km:4      Rice parameter of the magnitudes (the cheapest for this segment, smallest on ties)
      K times:  gap, adaptive Rice; sign:1 (1 = negative); Rice_km(|q| - 1)
The coefficients are bior4.4, 6 levels, 'periodization' (2048 in, 2048 out), in pywt's order
(cA6, cD6, ..., cD1), so the significant ones cluster at the front; gap = positions skipped
since the previous nonzero one. Gaps grow from ~0 in cA6 to tens in cD2, so one Rice k fits
them badly: the gap coder adapts k as LOCO-I does (state A = 1, N = 1; k = the smallest with
N << k >= A, at most 11; then A += gap, N += 1, and both halve when N reaches 16), which the
decoder tracks exactly; it saves 10-25 % of the gap bits against the best fixed k. Quantizer: q = sign(c) floor(|c|/step +
ROUND_OFFSET) (a dead zone a little wider than rounding), reconstruction sign(q)(|q| + RECON_BIAS)
step. The decoder adds m, rounds (half to even) and clips to 0..2047.
"""
from __future__ import annotations

import functools

import numpy as np

from ..bitstream import BitReader, BitstreamError, BitWriter, unzigzag, zigzag
from . import ADC_BITS, SEG_N

ADC_MAX = (1 << ADC_BITS) - 1
BASELINE = 1024

# ---------------------------------------------------------------- DWT threshold coder

WAVELET = "bior4.4"
LEVELS = 6
MEAN_BITS, STEP_BITS, COUNT_BITS, K_BITS = 11, 8, 12, 4
HEADER_BITS = MEAN_BITS + STEP_BITS + COUNT_BITS      # K = 0: nothing else follows
STEP_MAX = (1 << STEP_BITS) - 1
GAP_K_MAX = 11        # a gap is < 2048, so k > 11 never beats k = 11
GAP_A0, GAP_N0, GAP_RESET = 1, 1, 16   # adaptive gap coder state (tuned on MIT-BIH)
MAG_K_MAX = (1 << K_BITS) - 1
ROUND_OFFSET = 0.2   # dead zone: |c| < 0.8 step -> 0 (0.5 would be plain rounding); tuned on MIT-BIH
RECON_BIAS = 0.25    # reconstruct a bit below the bin centre (0.3): coefficients are Laplacian-like


def step_of(idx: np.ndarray | int) -> np.ndarray:
    """Quantizer step (adu, coefficient domain) of a step index: a log grid, so 8 bits span 0.5..31000."""
    return 2.0 ** (np.asarray(idx, dtype=np.float64) / 16.0 - 1.0)


def _band_lengths(n: int = SEG_N) -> list[int]:
    return [n >> LEVELS] + [n >> (LEVELS - j) for j in range(LEVELS)]


def dwt_coeffs(Y: np.ndarray) -> np.ndarray:
    """(S, n) mean-removed segments -> (S, n) coefficients, bands concatenated coarse to fine."""
    import pywt
    return np.concatenate(pywt.wavedec(np.asarray(Y, np.float64), WAVELET, mode="periodization",
                                       level=LEVELS, axis=-1), axis=-1)


def _idwt(C: np.ndarray) -> np.ndarray:
    import pywt
    cuts = np.cumsum(_band_lengths(C.shape[-1]))[:-1]
    return pywt.waverec(np.split(C, cuts, axis=-1), WAVELET, mode="periodization", axis=-1)


def quantize(C: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Dead-zone uniform quantizer, one step index per segment."""
    step = step_of(idx)[..., None]
    return (np.sign(C) * np.floor(np.abs(C) / step + ROUND_OFFSET)).astype(np.int64)


def dequantize(Q: np.ndarray, idx: np.ndarray) -> np.ndarray:
    step = step_of(idx)[..., None]
    return np.sign(Q) * (np.abs(Q) + RECON_BIAS) * step


def reconstruct(Q: np.ndarray, idx: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """What the decoder outputs: int adu, rounded and clipped to the ADC range (shared by both ends)."""
    Q = np.atleast_2d(Q)
    y = _idwt(dequantize(Q, np.atleast_1d(idx)))
    return np.clip(np.rint(y + np.atleast_1d(mean)[:, None]), 0, ADC_MAX).astype(np.int64)


def _segment_mean(X: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(X.mean(-1)), 0, ADC_MAX).astype(np.int64)


def _best_rice(rows: np.ndarray, vals: np.ndarray, S: int, kmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Per segment, the cheapest Rice k for its values (smallest k on ties) and that cost in bits.

    rows/vals: the flattened values with their segment index (only the nonzero coefficients, so
    the search costs O(nonzeros), not O(S * 2048))."""
    cnt = np.bincount(rows, minlength=S)
    costs = np.stack([np.bincount(rows, weights=vals >> k, minlength=S) + cnt * (1 + k)
                      for k in range(kmax + 1)])
    k = costs.argmin(0)
    return k, costs[k, np.arange(S)].astype(np.int64)


def _gaps(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Gap before each nonzero (row-major order): positions skipped since the previous one."""
    prev = np.r_[-1, cols[:-1]]
    prev[np.r_[True, rows[1:] != rows[:-1]]] = -1   # first nonzero of each segment
    return cols - prev - 1


def gap_k(A: int, N: int) -> int:
    """Adaptive Rice parameter: the smallest k with N << k >= A, capped (the scalar twin of _gap_bits)."""
    return min(((A + N - 1) // N - 1).bit_length(), GAP_K_MAX)


def _gap_state(A: int, N: int, gap: int) -> tuple[int, int]:
    A, N = A + gap, N + 1
    return (A >> 1, N >> 1) if N >= GAP_RESET else (A, N)


def _gap_bits(rows: np.ndarray, gaps: np.ndarray, S: int) -> np.ndarray:
    """Bits of every segment's adaptively Rice-coded gaps, vectorised over segments.

    Sequential in the coefficient order (the state depends on earlier gaps), so the loop runs over
    positions 0..max K - 1, each step on the segments that still have a coefficient there."""
    K = np.bincount(rows, minlength=S)
    bits = np.zeros(S, np.int64)
    if len(rows) == 0:
        return bits
    j = np.arange(len(rows)) - (np.cumsum(K) - K)[rows]
    order = np.argsort(-K, kind="stable")
    pos = np.empty(S, np.int64)
    pos[order] = np.arange(S)
    G = np.zeros((S, int(K.max())), np.int64)
    G[pos[rows], j] = gaps
    Ks = K[order]
    A = np.full(S, GAP_A0, np.int64)
    N = np.full(S, GAP_N0, np.int64)
    acc = np.zeros(S, np.int64)
    for t in range(G.shape[1]):
        n = int(np.searchsorted(-Ks, -t, side="left"))   # segments with K > t come first
        a, m, g = A[:n], N[:n], G[:n, t]
        k = np.minimum(np.frexp(((a + m - 1) // m - 1).astype(np.float64))[1], GAP_K_MAX)
        acc[:n] += (g >> k) + 1 + k
        a, m = a + g, m + 1
        half = m >= GAP_RESET
        A[:n] = np.where(half, a >> 1, a)
        N[:n] = np.where(half, m >> 1, m)
    bits[order] = acc
    return bits


def dwt_cost(Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact bits of every segment's bitstream for quantized coefficients Q (S, n): (bits, km)."""
    S = Q.shape[0]
    rows, cols = np.nonzero(Q)
    K = np.bincount(rows, minlength=S)
    if len(rows) == 0:
        return np.full(S, HEADER_BITS, np.int64), np.zeros(S, np.int64)
    gbits = _gap_bits(rows, _gaps(rows, cols), S)
    km, mbits = _best_rice(rows, np.abs(Q[rows, cols]) - 1, S, MAG_K_MAX)
    bits = HEADER_BITS + np.where(K > 0, K_BITS + gbits + mbits + K, 0)
    return bits.astype(np.int64), km


def _search_step(C: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Per segment, the finest step index whose bitstream fits: bisection on the 256-step grid.

    Size falls with the step almost monotonically; bisection keeps the invariant 'hi fits', so
    the answer always fits even where it is not monotone (then it may be one notch coarse)."""
    S = C.shape[0]
    hi = np.full(S, STEP_MAX, np.int64)
    top = dwt_cost(quantize(C, hi))[0]
    if np.any(top > budget):
        s = int(np.argmax(top > budget))
        raise ValueError(f"segment {s}: budget {int(budget[s])} bits is below the smallest "
                         f"DWT bitstream ({int(top[s])} bits, header {HEADER_BITS})")
    lo = np.full(S, -1, np.int64)          # conceptually 'does not fit'
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        active = hi - lo > 1
        fits = dwt_cost(quantize(C, np.where(active, mid, hi)))[0] <= budget
        hi = np.where(active & fits, mid, hi)
        lo = np.where(active & ~fits, mid, lo)
    return hi


def _search_count(C: np.ndarray, Q: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Fine stage: at a step too fine to fit, keep only the K largest coefficients, K by bisection.

    Returns the quantized coefficients with the smallest ones dropped (all dropped where none fits)."""
    S, n = Q.shape
    order = np.argsort(-np.abs(C), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[None, :].repeat(S, 0), axis=1)
    lo = np.zeros(S, np.int64)                      # K = 0 always fits (budget >= header)
    hi = np.count_nonzero(Q, axis=1).astype(np.int64) + 1   # all nonzero ones: too big
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        active = hi - lo > 1
        keep = np.where(active, mid, lo)
        fits = dwt_cost(np.where(rank < keep[:, None], Q, 0))[0] <= budget
        lo = np.where(active & fits, mid, lo)
        hi = np.where(active & ~fits, mid, hi)
    return np.where(rank < lo[:, None], Q, 0)


def _dwt_search(X: np.ndarray, budget: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coarse-to-fine rate search: (Q, step idx, mean, Xhat) of the best candidate that fits.

    Coarse: the finest step that fits (bisection). Fine: one notch finer, dropping the smallest
    coefficients until it fits. Of the two, the lower squared error in the signal domain wins."""
    mean = _segment_mean(X)
    C = dwt_coeffs(X - mean[:, None])
    idx = _search_step(C, budget)
    Qa = quantize(C, idx)
    Xa = reconstruct(Qa, idx, mean)
    idx_b = np.maximum(idx - 1, 0)
    Qb = _search_count(C, quantize(C, idx_b), budget)
    Xb = reconstruct(Qb, idx_b, mean)
    ea = ((X - Xa) ** 2).sum(1)
    eb = ((X - Xb) ** 2).sum(1)
    use_b = (eb < ea) & (idx > 0)
    return (np.where(use_b[:, None], Qb, Qa), np.where(use_b, idx_b, idx), mean,
            np.where(use_b[:, None], Xb, Xa))


def _as_segments(X_adu: np.ndarray) -> np.ndarray:
    X = np.atleast_2d(np.asarray(X_adu)).astype(np.int64)
    if X.ndim != 2 or X.shape[1] != SEG_N:
        raise ValueError(f"segments must be (S, {SEG_N}) int adu, got shape {np.shape(X_adu)}")
    if X.size and (X.min() < 0 or X.max() > ADC_MAX):
        raise ValueError(f"samples must be 0..{ADC_MAX} adu, got [{X.min()}, {X.max()}]")
    return X


def _budgets(bits_per_segment: int | np.ndarray, S: int) -> np.ndarray:
    b = np.broadcast_to(np.asarray(bits_per_segment, dtype=np.int64), (S,)).copy()
    if np.any(b < HEADER_BITS):
        raise ValueError(f"a budget of {int(b.min())} bits is below the DWT header ({HEADER_BITS} bits)")
    return b


def dwt_at_rate(X_adu: np.ndarray, bits_per_segment: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DWT reconstruction of every segment within its bit budget: (Xhat (S, 2048) int64, bits (S,)).

    bits are the exact sizes of the bitstreams dwt_encode would emit (same search, same cost model),
    and Xhat is exactly what dwt_decode returns from them; no bytes are packed, so it is fast."""
    X = _as_segments(X_adu)
    budget = _budgets(bits_per_segment, len(X))
    Q, idx, mean, Xhat = _dwt_search(X, budget)
    return Xhat, dwt_cost(Q)[0]


def _pack_dwt(q: np.ndarray, idx: int, mean: int) -> BitWriter:
    bits, km = dwt_cost(q[None, :])
    w = BitWriter()
    w.write(int(mean), MEAN_BITS)
    w.write(int(idx), STEP_BITS)
    nz = np.flatnonzero(q)
    w.write(len(nz), COUNT_BITS)
    if len(nz):
        km = int(km[0])
        w.write(km, K_BITS)
        prev, A, N = -1, GAP_A0, GAP_N0
        for p in nz:
            gap = int(p - prev - 1)
            w.write_rice(gap, gap_k(A, N))
            A, N = _gap_state(A, N, gap)
            w.write(1 if q[p] < 0 else 0, 1)
            w.write_rice(abs(int(q[p])) - 1, km)
            prev = p
    assert w.nbits == bits[0], "DWT cost model and writer disagree"
    return w


def dwt_encode(x_adu: np.ndarray, budget_bits: int) -> tuple[bytes, int]:
    """One segment (2048 int adu) -> (bytes, exact bit count <= budget_bits)."""
    X = _as_segments(x_adu)
    if len(X) != 1:
        raise ValueError(f"dwt_encode takes one segment, got {len(X)}")
    Q, idx, mean, _ = _dwt_search(X, _budgets(budget_bits, 1))
    w = _pack_dwt(Q[0], int(idx[0]), int(mean[0]))
    return w.to_bytes(), w.nbits


def dwt_decode(data: bytes, nbits: int) -> np.ndarray:
    """Bytes of one DWT segment -> 2048 int adu (rounded, clipped to 0..2047)."""
    r = BitReader(data, nbits)
    mean = r.read(MEAN_BITS)
    idx = r.read(STEP_BITS)
    K = r.read(COUNT_BITS)
    if K > SEG_N:
        raise BitstreamError(f"DWT count {K} exceeds the {SEG_N} coefficients of a segment")
    q = np.zeros(SEG_N, np.int64)
    if K:
        km = r.read(K_BITS)
        pos, A, N = -1, GAP_A0, GAP_N0
        for _ in range(K):
            gap = r.read_rice(gap_k(A, N))
            A, N = _gap_state(A, N, gap)
            pos += gap + 1
            if pos >= SEG_N:
                raise BitstreamError(f"DWT coefficient position {pos} beyond {SEG_N - 1}")
            neg = r.read(1)
            mag = r.read_rice(km) + 1
            q[pos] = -mag if neg else mag
    if r.remaining:
        raise BitstreamError(f"{r.remaining} bits left over after a DWT segment")
    return reconstruct(q[None, :], np.array([idx]), np.array([mean]))[0]


# ---------------------------------------------------------------- tinycodec's error-bounded codec

EPS_GRID = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024, 2047)
EB_MODEL = "mitdb-temporal"


class RateUnreachable(ValueError):
    """The eb codec cannot reach the target rate at any eps of the grid (its header floor is above)."""

    def __init__(self, target: float, floor: float, detail: str) -> None:
        super().__init__(f"target {target:.1f} bits/segment is below what the eb codec reaches "
                         f"at the largest eps ({floor:.1f} bits/segment; {detail})")
        self.target, self.floor = target, floor


@functools.lru_cache(maxsize=2)
def _eb_model(name: str = EB_MODEL):
    from ...pipeline import get_model
    return get_model(name)


def eb_codec_segments(X_adu: np.ndarray, eps: int, latent_bits: int | None = None,
                      mean_shift: int = 0, model_name: str = EB_MODEL) -> tuple[np.ndarray, np.ndarray]:
    """tinycodec's error-bounded AE codec on whole segments: (Xhat (S, 2048) int64, bits (S,)).

    Each segment is cut into the model's windows (n = 32 for mitdb-temporal, 64 per segment); if n
    does not divide 2048 the last window is padded by repeating the segment's last sample, coded
    like any other and its bits counted in full (the padding is dropped at the receiver). bits is
    the sum of the windows' exact sizes (ae_codec.encode_batch's count, which ae_codec.pack asserts
    equals what it writes). eps, latent_bits and mean_shift are session parameters, not sent per
    window, so they cost no bits here. Xhat is clipped to 0..2047, which never moves a sample
    further from x (x lies in that range), so |x - Xhat| <= eps still holds for every sample."""
    from ..ae_codec import encode_batch
    model = _eb_model(model_name)
    X = _as_segments(X_adu)
    S, N = X.shape
    W = -(-N // model.n)
    Xp = np.pad(X, ((0, 0), (0, W * model.n - N)), mode="edge")
    b = encode_batch(model, Xp.reshape(S * W, model.n), int(eps), latent_bits, mean_shift)
    Xhat = np.clip(b.x_rec.reshape(S, W * model.n)[:, :N], 0, ADC_MAX)
    return Xhat.astype(np.int64), b.bits.reshape(S, W).sum(1).astype(np.int64)


def eb_floor_bits(latent_bits: int | None = None, mean_shift: int = 0,
                  model_name: str = EB_MODEL) -> int:
    """Bits per segment when every residual is zero: no eps can go below this header floor."""
    model = _eb_model(model_name)
    B = model.latent_bits if latent_bits is None else int(latent_bits)
    per_window = 1 + model.word_bits - mean_shift + model.m * B + 2   # missing, mean, y, mode 0
    return -(-SEG_N // model.n) * per_window


def eb_at_rate(X_adu: np.ndarray, target_bits_per_segment: float, latent_bits: int | None = None,
               mean_shift: int = 0, eps_grid: tuple[int, ...] = EPS_GRID, strict: bool = True
               ) -> tuple[np.ndarray, np.ndarray, int]:
    """The smallest eps of the grid whose MEAN bits per segment over the whole set fit the target.

    'Equal bit rate' here is on average over the set, not per segment: the eb codec bounds the
    error and lets the size float, so single segments may exceed the target while others are
    below it. Bisection over the grid (size falls with eps); the answer is checked to fit.
    Returns (Xhat, bits per segment, eps). Raises RateUnreachable when even the largest eps is
    too big (see eb_floor_bits: with the default 6-bit latents the floor is 2432 bits/segment);
    strict=False returns the largest eps's result instead, whose bits then exceed the target
    (for sweeps that tabulate the bits next to the error, so the overshoot stays visible)."""
    X = _as_segments(X_adu)
    grid = sorted(int(e) for e in eps_grid)
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def run(i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in cache:
            cache[i] = eb_codec_segments(X, grid[i], latent_bits, mean_shift)
        return cache[i]

    top = len(grid) - 1
    if run(top)[1].mean() > target_bits_per_segment:
        if not strict:
            return (*run(top), grid[top])
        raise RateUnreachable(target_bits_per_segment, float(run(top)[1].mean()),
                              f"eps {grid[top]}, latent_bits {latent_bits}, mean_shift {mean_shift}, "
                              f"header floor {eb_floor_bits(latent_bits, mean_shift)}")
    lo, hi = -1, top                       # invariant: grid[hi] fits
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if run(mid)[1].mean() <= target_bits_per_segment:
            hi = mid
        else:
            lo = mid
    Xhat, bits = run(hi)
    return Xhat, bits, grid[hi]


# ---------------------------------------------------------------- lossless delta + Rice

LL_FIRST_BITS, LL_K_BITS = ADC_BITS, 4
LL_K_MAX = (1 << LL_K_BITS) - 1


def _ll_costs(X: np.ndarray) -> np.ndarray:
    """(S, 16): bits of each segment for every Rice k."""
    U = zigzag(np.diff(X, axis=1))
    n = U.shape[1]
    return np.stack([(U >> k).sum(1) + n * (1 + k) for k in range(LL_K_MAX + 1)], axis=1) \
        + LL_FIRST_BITS + LL_K_BITS


def lossless_bits(X_adu: np.ndarray) -> np.ndarray:
    """Exact bits per segment of the delta + Rice coder (what lossless_encode writes).

    The reference for what a device can do cheaply: one subtraction and a shift per sample.
    Layout: first sample 11 bits, k 4 bits (the cheapest, smallest on ties), then every
    zigzag(x[i] - x[i-1]) Rice-coded with k (docs/ecg_dynamic.md's level-0 body; the on-air
    record adds its 2-bit level and 2-bit flag, not counted here)."""
    X = np.atleast_2d(np.asarray(X_adu)).astype(np.int64)
    return _ll_costs(X).min(1).astype(np.int64)


def lossless_encode(x_adu: np.ndarray) -> tuple[bytes, int]:
    x = np.asarray(x_adu).astype(np.int64).ravel()
    if x.size == 0 or x.min() < 0 or x.max() > ADC_MAX:
        raise ValueError(f"lossless_encode needs 0..{ADC_MAX} adu samples")
    costs = _ll_costs(x[None, :])[0]
    k = int(costs.argmin())
    w = BitWriter()
    w.write(int(x[0]), LL_FIRST_BITS)
    w.write(k, LL_K_BITS)
    for u in zigzag(np.diff(x)):
        w.write_rice(int(u), k)
    assert w.nbits == costs[k]
    return w.to_bytes(), w.nbits


def lossless_decode(data: bytes, nbits: int, n: int = SEG_N) -> np.ndarray:
    r = BitReader(data, nbits)
    first = r.read(LL_FIRST_BITS)
    k = r.read(LL_K_BITS)
    d = unzigzag(np.array([r.read_rice(k) for _ in range(n - 1)], dtype=np.int64))
    if r.remaining:
        raise BitstreamError(f"{r.remaining} bits left over after a lossless segment")
    return np.concatenate([[first], first + np.cumsum(d)]).astype(np.int64)


# ---------------------------------------------------------------- distortion

def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1),
                        np.where(num > 0, np.inf, 0.0))


def prd(x_adu: np.ndarray, xhat: np.ndarray) -> np.ndarray:
    """PRDN in %, per segment: 100 ||x - xhat|| / ||x - mean(x)|| (last axis).

    Independent of the ADC offset, so it is the figure to compare across codecs. Ours is on the
    mean-removed 11-bit adu segments of 2048 samples; papers (e.g. Yildirim et al. 2018's
    convolutional autoencoder on MIT-BIH) compute PRD on their own segment lengths, scaling and
    offset, so check their definition before putting numbers side by side."""
    x = np.asarray(x_adu, np.float64)
    e = np.linalg.norm(x - np.asarray(xhat, np.float64), axis=-1)
    return _ratio(e, np.linalg.norm(x - x.mean(-1, keepdims=True), axis=-1))


def prd_raw(x_adu: np.ndarray, xhat: np.ndarray) -> np.ndarray:
    """PRD in %, per segment, with only the fixed 1024 adu baseline removed: 100 ||x - xhat|| / ||x - 1024||.

    The plain PRD of papers that keep the signal's DC (wander, electrode offset) in the
    denominator: never above prd(), so it flatters a codec; reported next to it for comparison."""
    x = np.asarray(x_adu, np.float64)
    e = np.linalg.norm(x - np.asarray(xhat, np.float64), axis=-1)
    return _ratio(e, np.linalg.norm(x - BASELINE, axis=-1))
