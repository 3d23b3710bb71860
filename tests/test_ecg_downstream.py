"""The frozen downstream tasks of the ECG codec (committed models, no training here)."""
from __future__ import annotations

import numpy as np
import pytest

from toolchain.codecs.ecg_dynamic import SEG_N, TASKS
from toolchain.codecs.ecg_dynamic.downstream import (beat_scores, load_tasks, match_qrs, mitdb_task_batch,
                                                     qrs_detect, cinc_task_batch)
from toolchain.codecs.ecg_dynamic.segments import record_segments
from toolchain.data import mitdb_split


@pytest.fixture(scope="module")
def tasks():
    return load_tasks()


@pytest.fixture(scope="module")
def ds2():
    return mitdb_task_batch(mitdb_split()["test"])


def test_beat_classifier_on_raw_ds2_reaches_the_goal(tasks, ds2):
    s = beat_scores(ds2.x_norm, ds2, tasks)
    assert len(s["true"]) == ds2.n_beats > 49000  # every AAMI beat of DS2 but the first/last partial segment
    assert s["macro_f1"] >= 0.60, s
    assert s["macro_f1"] == pytest.approx(tasks.meta["figures"]["beat_ds2"]["macro_f1"], abs=1e-6)


def test_losses_per_segment_are_sensitive_to_distortion(tasks, ds2):
    from toolchain.codecs.ecg_dynamic.export import take
    idx = np.arange(0, len(ds2.x_norm), 97)
    b = take(ds2, idx)
    clean = tasks.segment_losses_np(b.x_norm, b)
    rng = np.random.default_rng(0)
    noisy = tasks.segment_losses_np(b.x_norm + rng.normal(0, 0.15, b.x_norm.shape).astype(np.float32), b)
    for t in TASKS:
        assert clean[t].shape == (len(idx),) and np.isfinite(clean[t]).all() and (clean[t] >= 0).all()
        assert noisy[t].mean() > clean[t].mean(), t
    no_beat = (b.beat_off < 0).all(1)
    assert (clean["beat"][no_beat] == 0).all()


def test_losses_have_gradients(tasks, ds2):
    from toolchain.codecs.ecg_dynamic.export import take
    from toolchain.train.zoo.common import _tf
    tf = _tf()
    b = take(ds2, np.arange(8))
    x = tf.Variable(b.x_norm)
    with tf.GradientTape(persistent=True) as tape:
        losses = tasks.segment_losses(x, b)
        sums = {t: tf.reduce_sum(losses[t]) for t in TASKS}  # inside the tape, or it records nothing
    for t in TASKS:
        g = tape.gradient(sums[t], x)
        assert g is not None and float(tf.reduce_max(tf.abs(g))) > 0, t


def test_cinc_rows_only_carry_the_rhythm_loss(tasks):
    from toolchain.codecs.ecg_dynamic.export import take
    b = take(cinc_task_batch("test"), np.arange(16))
    losses = tasks.segment_losses_np(b.x_norm, b)
    assert (losses["beat"] == 0).all() and (losses["rpeak"] == 0).all() and (losses["rhythm"] > 0).all()


def test_standard_detector_on_raw_record_100():
    r = record_segments(100)
    x = r.x.reshape(-1)
    ref = r.beat_sample[r.beat_sample < len(x)]
    tp, fp, fn = match_qrs(ref, qrs_detect(x))
    assert tp / (tp + fn) >= 0.99 and tp / (tp + fp) >= 0.99
    assert match_qrs(ref, np.zeros(0, np.int64)) == (0, 0, len(ref))


def test_rhythm_classifier_is_above_chance(tasks):
    f = tasks.meta["figures"]["rhythm_cinc_test"]
    # chance for a mean of three one-vs-rest F1 on a balanced 4-class set is about 0.25
    assert f["segment_challenge_f1"] > 0.4 and f["record_challenge_f1"] > 0.4, f
    assert len(mitdb_task_batch([100]).x_norm) == 650000 // SEG_N
