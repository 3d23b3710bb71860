"""ECG dynamic codec: segments and labels, the evaluation's counting (against hand computations and
the bitstream reference), the vectorized selection against the device reference, the model card."""
from __future__ import annotations

import numpy as np
import pytest

from toolchain.codecs.ecg_dynamic import LEVEL_CG, SEG_N
from toolchain.codecs.ecg_dynamic import evaluate as ev
from toolchain.codecs.ecg_dynamic.export import requantize_latent
from toolchain.codecs.ecg_dynamic.segments import cinc_split, normalize, record_segments


def test_segments_of_a_record_and_their_labels():
    r = record_segments(201)  # DS1, has atrial fibrillation and flutter episodes
    assert r.x.shape == (650000 // SEG_N, SEG_N) and r.x.dtype == np.int16
    assert set(np.unique(r.rhythm)) <= {0, 1, 2} and (r.rhythm == 1).sum() > 20
    off, cls = r.beats_in(10)
    assert len(off) >= 3 and (off >= 0).all() and (off < SEG_N).all() and set(cls) <= set(range(5))
    n = normalize(r.x[:4])
    np.testing.assert_allclose(n.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(n[0] * 200 + r.x[0].mean(), r.x[0], atol=1e-3)


def test_cinc_split_every_fifth_record_per_class():
    s = cinc_split()
    assert len(s["test"]) == 200 and len(s["train"]) == 800 and not set(s["test"]) & set(s["train"])


def test_counting_by_hand():
    """Two segments, one at CG 64, one lossless: the paper's mean of per-segment CGs and the bit ratio."""
    x = np.tile(np.arange(SEG_N) % 7 + 1000, (2, 1)).astype(np.int64)
    B = 6
    lossy = ev.lossy_bits(3, B)
    assert lossy == 4 + 11 + 32 * 6
    lb = ev.lossless_bits(x)
    d = np.diff(x[0])
    z = np.where(d >= 0, 2 * d, -2 * d - 1)
    best = min(int(((z >> k) + 1 + k).sum()) for k in range(16))
    assert lb[0] == 4 + 11 + 4 + best
    zeros = {k: np.zeros((2, 4)) for k in range(4)}
    ld = ev.LevelData(x=x, record=np.array([100, 100]), seg=np.arange(2), recon={k: x for k in range(4)},
                      err=zeros, pred_q=zeros, bits={0: lb, 1: np.full(2, ev.lossy_bits(1, B)),
                                                     2: np.full(2, ev.lossy_bits(2, B)), 3: np.full(2, lossy)},
                      flag=np.zeros(2, np.int8))
    row = ev.summarize(ld, np.array([3, 0]), "beat", 0.5)
    assert row["avg_cg_samples"] == pytest.approx((64 + 1) / 2)
    assert row["avg_cg_bits"] == pytest.approx(2 * SEG_N * 11 / (lossy + lb[1]))
    assert row["violation_rate"] == 0 and row["prd"] == 0


def test_flags():
    x = np.full((3, SEG_N), 1000, np.int64)
    x[1, 5] = 2047
    x[2, ::2] = 1001
    assert list(ev.flags(x)) == [1, 2, 0]


def test_latent_requantization_matches_the_spec():
    q = np.arange(-128, 128).astype(np.int8)
    for B in (4, 6, 8):
        s = 8 - B
        u = np.minimum((q.astype(int) + 128 + ((1 << (s - 1)) if s else 0)) >> s, (1 << B) - 1)
        np.testing.assert_array_equal(requantize_latent(q, B), (u << s) - 128)
        assert len(np.unique(requantize_latent(q, B))) == 1 << B
    np.testing.assert_array_equal(requantize_latent(q, 8), q)


def test_levels_are_the_papers():
    assert LEVEL_CG == {0: 1, 1: 16, 2: 32, 3: 64}
