"""Round-trip, bound, size and robustness tests of the host baselines (codecs.baselines)."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from toolchain.codecs.bitstream import BitstreamError
from toolchain.codecs.baselines import BASELINES, Encoded, evaluate
from toolchain.codecs.metrics import metrics
from toolchain.data import data_root

W16, LO16 = 16, -32767            # -32768 is the missing sentinel, so the range starts above it
HI16 = LO16 + (1 << W16) - 1
EPSS = (0, 1, 5, 20)
GSB = data_root() / "sensorscope_gsb" / "cleaned-stbernard-meteo-12.txt.gz"


def smooth(rng: np.random.Generator, count: int, n: int) -> np.ndarray:
    """Random walk + sine + a few spikes, around 0.01 degC readings."""
    t = np.arange(n)
    out = []
    for _ in range(count):
        walk = np.cumsum(rng.normal(0, 3, n))
        sine = 150 * np.sin(2 * np.pi * t / rng.uniform(20, 200) + rng.uniform(0, 6.3))
        x = 1500 + rng.uniform(-500, 500) + walk + sine
        spikes = rng.random(n) < 0.03
        x[spikes] += rng.choice([-1, 1], spikes.sum()) * rng.uniform(200, 800, spikes.sum())
        out.append(np.round(x))
    return np.clip(np.array(out), LO16, HI16).astype(np.int64)


def sample_windows(n: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + n)
    extra = np.stack([np.full(n, 1234, dtype=np.int64),
                      np.where(np.arange(n) < n // 2, LO16, HI16).astype(np.int64)])
    return np.concatenate([smooth(rng, 4, n), extra])


_FITTED: dict[tuple[str, int], object] = {}


def fitted(name: str, n: int):
    key = (name, n)
    if key not in _FITTED:
        codec = BASELINES[name]()
        codec.fit(smooth(np.random.default_rng(n), 120, n), W16, LO16)
        _FITTED[key] = codec
    return _FITTED[key]


def test_registry():
    assert {"ltc", "dct", "pca", "nlms", "zstd"} <= set(BASELINES)
    for name, ctor in BASELINES.items():
        assert ctor().name == name


@pytest.mark.parametrize("n", [32, 64])
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_roundtrip_bound_and_bits(name, n):
    codec = fitted(name, n)
    fresh = BASELINES[name]()                      # a decoder that only shares the trained model
    fresh.fit(smooth(np.random.default_rng(n), 120, n), W16, LO16)
    for eps in EPSS:
        for x in sample_windows(n):
            enc = codec.encode(x, eps)
            assert isinstance(enc, Encoded)
            assert 8 * len(enc.data) - 8 < enc.nbits <= 8 * len(enc.data)
            rec = fresh.decode(enc, n, eps)
            assert rec.dtype == np.int64 and rec.shape == x.shape
            assert np.abs(rec - x).max() <= eps, (name, eps)
            if eps == 0:
                np.testing.assert_array_equal(rec, x)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_compresses_smooth_data(name):
    n = 32
    codec = fitted(name, n)
    xs = smooth(np.random.default_rng(7), 12, n)
    for eps in (5, 20):
        m = evaluate(codec, xs, eps, W16)
        assert m["violations"] == 0 and m["max_abs_err"] <= eps
        assert m["cr"] > 1.0, (name, eps, m["cr"])
    assert evaluate(codec, xs, 20, W16)["cr"] > evaluate(codec, xs, 0, W16)["cr"]


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_truncated_stream_raises(name):
    n = 32
    codec = fitted(name, n)
    for eps in (0, 5):
        for x in sample_windows(n)[[0, 4]]:
            enc = codec.encode(x, eps)
            with pytest.raises(BitstreamError):
                codec.decode(Encoded(enc.data, enc.nbits - 1), n, eps)
            with pytest.raises(BitstreamError):
                codec.decode(Encoded(enc.data[:-1], enc.nbits), n, eps)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_rejects_bad_input(name):
    codec = fitted(name, 32)
    x = sample_windows(32)[0].copy()
    x[3] = -32768
    with pytest.raises(ValueError, match="sentinel"):
        codec.encode(x, 5)
    with pytest.raises(ValueError):
        codec.encode(np.full(32, HI16 + 1, dtype=np.int64), 5)
    with pytest.raises(ValueError):
        codec.encode(x.astype(np.float64), 5)
    with pytest.raises(ValueError):
        codec.encode(sample_windows(32)[0], -1)


def test_ecg_like_11bit_range():
    rng = np.random.default_rng(3)
    t = np.arange(64)
    beat = np.exp(-((t[None, :] - rng.integers(10, 50, (30, 1))) ** 2) / 8.0)
    xs = np.clip(np.round(1024 + 300 * beat + rng.normal(0, 4, (30, 64))), 0, 2047).astype(np.int64)
    for name in BASELINES:
        codec = BASELINES[name]()
        codec.fit(xs[10:], 11, 0)
        for eps in (0, 3):
            m = evaluate(codec, xs[:10], eps, 11)
            assert m["violations"] == 0 and m["max_abs_err"] <= eps


def test_metrics_definitions():
    x = np.array([[0, 2, 4, 6]], dtype=np.int64)
    r = np.array([[1, 2, 4, 5]], dtype=np.int64)
    m = metrics(x, r, 8, 16, eps=0)
    assert m["raw_bits"] == 64 and m["cr"] == 8.0 and m["bits_per_sample"] == 2.0
    assert m["max_abs_err"] == 1 and m["violations"] == 2
    assert m["rmse"] == pytest.approx(np.sqrt(0.5))
    assert m["prd"] == pytest.approx(100 * np.sqrt(2 / 20))
    assert m["r2"] == pytest.approx(1 - 2 / 20)
    assert metrics(x, x, np.array([16]), 16, 0)["cr_mean_window"] == 4.0


def load_gsb() -> np.ndarray:
    with gzip.open(GSB, "rt") as f:
        v = np.loadtxt(f, usecols=6)
    v = v[~np.isnan(v)]
    return np.round(v * 100).astype(np.int64)


def test_real_gsb_station12_eps10(capsys):
    x = load_gsb()
    n = 32
    wins = x[: len(x) // n * n].reshape(-1, n)
    test, train = wins[:100], wins[600:800]
    crs = {}
    for name in sorted(BASELINES):
        codec = BASELINES[name]()
        codec.fit(train, 16, -32768)
        m = evaluate(codec, test, 10, 16)
        assert m["violations"] == 0 and m["max_abs_err"] <= 10, name
        assert m["cr"] > 1.0, name
        crs[name] = m["cr"]
    with capsys.disabled():
        print("\nGSB station 12, windows of 32, eps=10, CR: "
              + ", ".join(f"{k}={v:.2f}" for k, v in crs.items()))


@pytest.mark.parametrize("name", ["pca", "nlms", "zstd-dict"])
def test_fitted_baselines_refuse_bad_training_windows(name):
    codec = BASELINES[name]()
    with pytest.raises(ValueError, match=f"{name}.fit needs training windows"):
        codec.fit(np.zeros(32, dtype=np.int64), W16, LO16)
    bad = np.zeros((4, 32), dtype=np.int64)
    bad[1, 3] = -32768
    with pytest.raises(ValueError, match="missing sentinel"):
        codec.fit(bad, W16, LO16)
