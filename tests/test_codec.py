"""The integer AE codec reference: bit packing, residual coder, fixed point, training."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from toolchain.codecs import ae_codec, residual
from toolchain.codecs.bitstream import BitReader, BitstreamError, BitWriter
from toolchain.quant import fixed_point as fx
from toolchain.train import autoencoder as aem
from toolchain.train.fit import sphere, sphering_clip


@given(st.lists(st.integers(-70000, 70000), min_size=1, max_size=40), st.integers(0, 300))
@settings(max_examples=200, deadline=None)
def test_residual_quantization_bounds_every_sample(r, eps):
    r = np.array(r)
    q = residual.quantize_residual(r, eps)
    assert np.abs(r - residual.dequantize_residual(q, eps)).max() <= eps


@given(st.lists(st.integers(-3000, 3000), min_size=1, max_size=64))
@settings(max_examples=200, deadline=None)
def test_residual_block_roundtrip_and_cost(q):
    q = np.array(q)
    w = BitWriter()
    bits = residual.encode(w, q)
    assert bits == residual.choose(q)[2] == w.nbits
    out = residual.decode(BitReader(w.to_bytes(), w.nbits), len(q))
    assert np.array_equal(out, q)


@pytest.mark.parametrize("q, mode", [
    (np.zeros(32, int), residual.MODE_ZERO),
    (np.array([0] * 30 + [3, 0]), residual.MODE_SPARSE),
    (np.array([5, -4, 6, -5] * 8), residual.MODE_DENSE),
    (np.arange(32) * 3 + 200, residual.MODE_DELTA),
])
def test_each_residual_mode_is_chosen_where_it_pays(q, mode):
    assert residual.choose(q)[0] == mode


def test_truncated_bitstream_is_a_clear_error():
    w = BitWriter()
    residual.encode(w, np.array([7, 0, -3, 2]))
    with pytest.raises(BitstreamError, match="truncated"):
        residual.decode(BitReader(w.to_bytes(), w.nbits - 3), 4)


def test_sigmoid_table_matches_float_sigmoid():
    z = np.arange(fx.SIG_ZMIN, fx.SIG_ZMAX + 1)
    s = fx.sigmoid_q8(z) / 32768
    ref = 1 / (1 + np.exp(-z / 256))
    assert np.abs(s - ref).max() < 2e-4  # interpolation error of a 1/16 grid
    assert np.all(np.diff(fx.sigmoid_q8(z)) >= 0)


def _toy_model(n=16, m=3, lb=6, mode="temporal", seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    ae = aem.FloatAE(rng.normal(0, scale, (m, n)), rng.normal(0, 0.1, m), rng.normal(0, scale, (n, m)),
                     rng.normal(0, 0.1, n))
    return fx.quantize(ae, name="toy", mode=mode, c=300, latent_bits=lb, word_bits=16, lo=-32768,
                       mu=rng.integers(-500, 500, n))


def test_quantizer_keeps_accumulators_inside_int32():
    fm = _toy_model(scale=40.0)  # large weights force fewer fraction bits
    a = fm.arrays()
    worst1 = np.abs(a["W1"]).sum(1) * fx.D_MAX + np.abs(a["B1"])
    worst2 = np.abs(a["W2"]).sum(1) * 32768 + np.abs(a["B2"])
    assert worst1.max() < 2**31 and worst2.max() < 2**31
    assert np.abs(a["W1"]).max() <= 32767 and np.abs(a["W2"]).max() <= 32767


def test_absurd_weights_are_refused():
    ae = aem.FloatAE(np.full((2, 4), 1e6), np.zeros(2), np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="too large"):
        fx.quantize(ae, name="x", mode="temporal", c=10, latent_bits=4, word_bits=16, lo=-32768,
                    mu=np.zeros(4))


@pytest.mark.parametrize("eps, mean_shift", [(0, 0), (1, 0), (7, 3), (100, 8)])
@pytest.mark.parametrize("mode", ["temporal", "spatial"])
def test_codec_roundtrip_bound_and_exact_bits(eps, mean_shift, mode):
    fm = _toy_model(mode=mode)
    rng = np.random.default_rng(eps)
    X = (rng.normal(0, 200, (60, 16)).cumsum(1) + rng.integers(-3000, 3000, (60, 1))).astype(np.int64)
    X[0] = 32767   # extreme readings travel through the residual path
    X[1] = -32767
    X[2] = 32767   # a mean at the top code: the coarse mean grid must not overflow its field
    b = ae_codec.encode_batch(fm, X, eps, mean_shift=mean_shift)
    assert np.abs(b.x_rec - X).max() <= eps
    for i in range(len(X)):
        data, nbits = ae_codec.pack(fm, b, i)
        assert nbits == b.bits[i] and len(data) == (nbits + 7) // 8
        x_rec, miss = ae_codec.decode(fm, data, nbits, eps, mean_shift=mean_shift)
        assert np.array_equal(x_rec, b.x_rec[i]) and not miss.any()


@pytest.mark.parametrize("mode", ["temporal", "spatial"])
def test_missing_readings_are_imputed_flagged_and_counted(mode):
    fm = _toy_model(mode=mode)
    X = np.tile(np.arange(16) * 10 + 1000, (3, 1))
    X[0, [2, 5]] = ae_codec.MISSING
    X[1, :] = ae_codec.MISSING
    b = ae_codec.encode_batch(fm, X, 3)
    assert b.missing.sum() == 18
    obs = X != ae_codec.MISSING
    assert np.abs(b.x_rec - X)[obs].max() <= 3
    mu = np.array(fm.mu)
    if mode == "temporal":
        # window mean of the observed readings, rounded half away from zero
        assert abs(b.x_rec[0, 2] - int(round(X[0, obs[0]].mean()))) <= 3
        assert np.all(np.abs(b.x_rec[1] - mu) <= 3)  # nothing observed: training means
    else:
        off = int(np.sign(s := (X[0, obs[0]] - mu[obs[0]]).sum()) * ((abs(s) + 7) // 14))
        assert abs(b.x_rec[0, 2] - (off + mu[2])) <= 3
    data, nbits = ae_codec.pack(fm, b, 0)
    _, miss = ae_codec.decode(fm, data, nbits, 3)
    assert miss.tolist() == (X[0] == ae_codec.MISSING).tolist()


def test_codec_input_errors_are_clear():
    fm = _toy_model()
    with pytest.raises(ValueError, match="16"):
        ae_codec.encode_batch(fm, np.zeros((2, 8), int), 1)
    with pytest.raises(ValueError, match="eps"):
        ae_codec.encode_batch(fm, np.zeros((2, 16), int), -1)
    with pytest.raises(ValueError, match="latent_bits"):
        ae_codec.encode_batch(fm, np.zeros((2, 16), int), 1, latent_bits=15)
    with pytest.raises(ValueError, match="mean_shift"):
        ae_codec.encode_batch(fm, np.zeros((2, 16), int), 1, mean_shift=9)


def test_coarser_mean_saves_header_bits():
    fm = _toy_model()
    X = np.full((4, 16), 1234)
    assert (ae_codec.encode_batch(fm, X, 50, mean_shift=0).bits
            - ae_codec.encode_batch(fm, X, 50, mean_shift=5).bits).min() >= 5 - 2


@pytest.mark.parametrize("variant", aem.VARIANTS)
def test_training_gradient_matches_finite_differences(variant):
    rng = np.random.default_rng(0)
    D = rng.uniform(0.1, 0.9, (20, 6))
    cfg = aem.TrainConfig(hidden=3, variant=variant, lam=1e-2, beta=0.5, rho=0.2)
    theta = rng.normal(0, 0.5, 3 * 6 * 2 + 3 + 6)
    _, g = aem._loss_grad(theta, D, cfg)
    h = 1e-6
    num = np.array([(aem._loss_grad(theta + h * e, D, cfg)[0] - aem._loss_grad(theta - h * e, D, cfg)[0]) / (2 * h)
                    for e in np.eye(theta.size)])
    assert np.allclose(g, num, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("variant", aem.VARIANTS)
def test_training_learns_a_low_rank_signal(variant):
    rng = np.random.default_rng(3)
    t = np.arange(24)
    X = (1000 * np.sin(0.2 * t[None, :] + rng.uniform(0, 6, (600, 1)))).round().astype(np.int64)
    c = sphering_clip(X)
    ae = aem.train(sphere(X[:500], c), sphere(X[500:], c),
                   aem.TrainConfig(hidden=4, variant=variant, max_iter=150))
    assert ae.curve[-1]["val_rmse"] < 0.5 * ae.curve[0]["val_rmse"]
    assert ae.curve[-1]["val_rmse"] < 0.03
