"""Classical ECG baselines (codecs.ecg_dynamic.baselines) on real MIT-BIH segments: bytes, budgets, bounds."""
from __future__ import annotations

import numpy as np
import pytest

from toolchain.codecs import ae_codec
from toolchain.codecs.bitstream import BitstreamError
from toolchain.codecs.ecg_dynamic import SEG_N
from toolchain.codecs.ecg_dynamic.baselines import (HEADER_BITS, RateUnreachable, _eb_model,
                                                    dwt_at_rate, dwt_decode, dwt_encode,
                                                    eb_at_rate, eb_codec_segments, eb_floor_bits,
                                                    lossless_bits, lossless_decode,
                                                    lossless_encode, prd, prd_raw)
from toolchain.codecs.ecg_dynamic.segments import record_segments

RAW_BITS = 11 * SEG_N
CR48, CR32 = RAW_BITS // 48, RAW_BITS // 32      # 469, 704 bits per segment


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    """Eight segments of record 100 spread over the record, plus two of 232 (long pauses)."""
    a = record_segments(100).x[::40][:8]
    b = record_segments(232).x[[3, 150]]
    return np.concatenate([a, b]).astype(np.int64)


def edge_segments() -> np.ndarray:
    """Constant, full-scale square wave, and a single spike: the coders' corner cases."""
    sq = np.where(np.arange(SEG_N) % 64 < 32, 0, 2047)
    spike = np.full(SEG_N, 1024)
    spike[700] = 2047
    return np.stack([np.full(SEG_N, 1000), sq, spike]).astype(np.int64)


# ---------------------------------------------------------------- DWT

@pytest.mark.parametrize("budget", [HEADER_BITS, CR48, CR32, 3000])
def test_dwt_bytes_roundtrip_bit_exact(X: np.ndarray, budget: int) -> None:
    segs = np.concatenate([X[:4], edge_segments()])
    Xhat, bits = dwt_at_rate(segs, budget)
    for i, x in enumerate(segs):
        data, nbits = dwt_encode(x, budget)
        assert nbits == bits[i] <= budget
        assert len(data) == -(-nbits // 8)
        y = dwt_decode(data, nbits)
        assert y.shape == (SEG_N,) and y.min() >= 0 and y.max() <= 2047
        np.testing.assert_array_equal(y, Xhat[i])


def test_dwt_truncated_or_padded_stream_rejected(X: np.ndarray) -> None:
    data, nbits = dwt_encode(X[0], CR32)
    with pytest.raises(BitstreamError):
        dwt_decode(data, nbits - 3)
    with pytest.raises(BitstreamError, match="left over"):
        dwt_decode(data + b"\x00", nbits + 8)


def test_dwt_budget_respected_per_segment(X: np.ndarray) -> None:
    budgets = np.linspace(100, 5000, len(X)).astype(np.int64)
    _, bits = dwt_at_rate(X, budgets)
    assert np.all(bits <= budgets)
    # The search uses most of each budget; at ~100 bits the header plus one coefficient's cost is
    # too coarse a grain for that.
    big = budgets >= 600
    assert np.all(bits[big] >= 0.9 * budgets[big])
    with pytest.raises(ValueError, match="below the DWT header"):
        dwt_at_rate(X[:1], HEADER_BITS - 1)


def test_dwt_prd_decreases_with_budget(X: np.ndarray) -> None:
    budgets = (200, CR48, CR32, 1500, 4000, 12000)
    prds = [prd(X, dwt_at_rate(X, b)[0]) for b in budgets]
    means = [p.mean() for p in prds]
    assert all(a > b for a, b in zip(means, means[1:])), means
    assert np.all(prds[-1] < prds[1])             # every segment: far more bits, less error
    assert means[-1] < 2.0                        # 12000 bits (~1.9x): near transparent


# ---------------------------------------------------------------- tinycodec's eb codec

@pytest.mark.parametrize("eps", [0, 2, 8])
def test_eb_bits_exact_and_error_bounded(X: np.ndarray, eps: int) -> None:
    Xhat, bits = eb_codec_segments(X[:3], eps)
    assert np.abs(Xhat - X[:3]).max() <= eps
    model = _eb_model()
    # independent count: pack the first segment's windows to bytes and decode them back
    windows = X[0].reshape(-1, model.n)
    packed = ae_codec.encode(model, windows, eps)
    assert sum(n for _, n in packed) == bits[0]
    rec = np.concatenate([ae_codec.decode(model, d, n, eps)[0] for d, n in packed])
    np.testing.assert_array_equal(np.clip(rec, 0, 2047), Xhat[0])


def test_eb_at_rate_picks_smallest_fitting_eps(X: np.ndarray) -> None:
    _, b4 = eb_codec_segments(X, 4)
    _, b3 = eb_codec_segments(X, 3)
    target = float(b4.mean()) + 1.0               # eps 4 fits, eps 3 must not
    assert b3.mean() > target
    Xhat, bits, eps = eb_at_rate(X, target)
    assert eps == 4 and bits.mean() <= target
    assert np.abs(Xhat - X).max() <= eps


def test_eb_unreachable_rate_is_reported(X: np.ndarray) -> None:
    assert eb_floor_bits() == 64 * (1 + 11 + 4 * 6 + 2)
    with pytest.raises(RateUnreachable, match="below what the eb codec reaches"):
        eb_at_rate(X[:2], CR48)
    _, bits, eps = eb_at_rate(X[:2], CR48, strict=False)
    assert bits.mean() > CR48 and eps == 2047


# ---------------------------------------------------------------- lossless delta + Rice

def test_lossless_roundtrip_and_bits_match_bytes(X: np.ndarray) -> None:
    segs = np.concatenate([X[:3], edge_segments()])
    bits = lossless_bits(segs)
    for i, x in enumerate(segs):
        data, nbits = lossless_encode(x)
        assert nbits == bits[i] and len(data) == -(-nbits // 8)
        np.testing.assert_array_equal(lossless_decode(data, nbits), x)
    assert bits[3] == 11 + 4 + (SEG_N - 1)        # constant: k = 0, one bit per zero delta
    assert np.all(bits[:3] < RAW_BITS)


# ---------------------------------------------------------------- PRD

def test_prd_definitions() -> None:
    x = np.array([[1020, 1028, 1020, 1028]])       # mean 1024, ||x - mean|| = 8
    xh = np.array([[1020, 1028, 1020, 1024]])      # ||x - xhat|| = 4
    assert prd(x, xh)[0] == pytest.approx(50.0)
    assert prd_raw(x, xh)[0] == pytest.approx(50.0)          # mean is the 1024 baseline here
    x2 = x + 100                                             # DC offset: only prd_raw changes
    assert prd(x2, xh + 100)[0] == pytest.approx(50.0)
    assert prd_raw(x2, xh + 100)[0] == pytest.approx(100 * 4 / np.linalg.norm(x2 - 1024))
    assert prd(np.full((1, 4), 7), np.full((1, 4), 7))[0] == 0.0
