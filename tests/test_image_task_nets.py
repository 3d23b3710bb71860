"""The committed flower classifier and the objectives built on it (toolchain/codecs/image/task_nets.py):
accuracy on held-out flowers, the perceptual and classification losses (values, monotonicity,
gradients inside tf.function), and the errors for wrong inputs. Nothing is trained here."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from toolchain.codecs.image import dataset
from toolchain.codecs.image import task_nets as T


@pytest.fixture(scope="module")
def clf():
    return T.load_classifier()


@pytest.fixture(scope="module")
def held_out_30():
    """The first 6 test flowers of each class (the subset the model card reports)."""
    recs = dataset.flowers("test")
    sel = [r for k in range(len(dataset.FLOWER_CLASSES)) for r in [r for r in recs if r.label_index == k][:6]]
    return dataset.load_array(sel), np.array([r.label_index for r in sel])


def _noisy(x: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.round(x + rng.normal(0, sigma, x.shape)), 0, 255).astype(np.uint8)


def test_committed_model_matches_its_card(clf):
    cfg = clf.config
    assert clf.classes == dataset.FLOWER_CLASSES
    assert 30_000 <= cfg["architecture"]["params"] <= 100_000
    assert cfg["results"]["test_images"] == 150
    assert (T.models_dir() / T.WEIGHTS_FILE).stat().st_size < 400_000
    assert "ImageNet weights are unavailable" in (T.models_dir() / T.CARD_FILE).read_text()


def test_accuracy_on_30_held_out_flowers_is_well_above_chance(clf, held_out_30):
    x, y = held_out_30
    acc = clf.accuracy(x, y)
    # measured 0.70 (21 / 30) when trained; chance is 0.2
    assert acc > 0.5
    assert acc == pytest.approx(clf.config["results"]["test_accuracy_first_30"])
    assert T.task_accuracy(x, y) == acc
    pred = clf.predict(x)
    assert pred.shape == (30,) and pred.dtype == np.int64
    p = clf.probabilities(x[:4])
    assert p.shape == (4, 5) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_perceptual_distance_is_zero_for_identical_and_grows_with_noise(held_out_30):
    x = held_out_30[0][:4]
    assert np.allclose(T.perceptual_distance(x, x), 0, atol=1e-6)
    d = np.stack([T.perceptual_distance(x, _noisy(x, s)) for s in (4, 16, 48)])
    assert (d > 0).all()
    assert (np.diff(d, axis=0) > 0).all(), d          # per image, monotone in the noise level
    assert (d <= 2).all()


def test_perceptual_loss_has_gradients_inside_tf_function(held_out_30):
    import tensorflow as tf
    x = tf.constant(held_out_30[0][:2].astype(np.float32) / 255.0)
    xh = tf.Variable(tf.constant(_noisy(held_out_30[0][:2], 16).astype(np.float32) / 255.0))
    feats = T.load_classifier().features
    before = [w.copy() for w in feats.get_weights()]

    @tf.function
    def f():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(T.perceptual_loss_tf(x, xh))
        return loss, tape.gradient(loss, xh)

    loss, g = f()
    g = g.numpy()
    assert np.isfinite(float(loss)) and float(loss) > 0
    assert np.isfinite(g).all() and np.abs(g).max() > 0
    assert not feats.trainable_weights                    # frozen
    assert all(np.array_equal(a, b) for a, b in zip(before, feats.get_weights()))
    # one gradient step against it lowers the distance
    xh2 = tf.clip_by_value(xh - 0.5 * g / np.abs(g).max() * 0.02, 0, 1)
    assert float(tf.reduce_sum(T.perceptual_loss_tf(x, xh2))) < float(loss)


def test_classification_loss_label_free_and_with_labels(held_out_30):
    import tensorflow as tf
    x8, y = held_out_30
    x = tf.constant(x8[:3].astype(np.float32) / 255.0)
    xh = tf.constant(_noisy(x8[:3], 48).astype(np.float32) / 255.0)
    same = T.classification_loss_tf(x, x).numpy()
    p = T.load_classifier().probabilities(x8[:3]).astype(np.float64)
    entropy = -(p * np.log(np.clip(p, 1e-7, 1))).sum(1)
    assert np.allclose(same, entropy, atol=1e-4)          # identical images: H(p(x)), not 0
    with tf.GradientTape() as tape:
        tape.watch(xh)
        loss = T.classification_loss_tf(x, xh)
    g = tape.gradient(loss, xh).numpy()
    assert loss.shape == (3,) and np.isfinite(loss.numpy()).all()
    assert np.isfinite(g).all() and np.abs(g).max() > 0
    with_labels = T.classification_loss_tf(x, xh, labels=tf.constant(y[:3])).numpy()
    assert with_labels.shape == (3,) and np.isfinite(with_labels).all() and (with_labels > 0).all()
    d = T.classification_distance(x8[:3], x8[:3])
    assert np.allclose(d, entropy, atol=1e-4)


def test_wrong_shapes_and_dtypes_are_named(clf, held_out_30):
    import tensorflow as tf
    x = held_out_30[0][:2]
    with pytest.raises(ValueError, match=r"one image .*x\[None\]"):
        clf.predict(x[0])
    with pytest.raises(ValueError, match=r"dtype float32; pass 8-bit RGB"):
        clf.predict(x.astype(np.float32))
    with pytest.raises(ValueError, match=r"112x112 images; the classifier is for 224x224"):
        clf.predict(x[:, :112, :112])
    with pytest.raises(ValueError, match=r"labels: shape \(3,\)"):
        clf.accuracy(x, [0, 1, 2])
    with pytest.raises(ValueError, match=r"class indices 0\.\.4"):
        clf.accuracy(x, [0, 7])
    with pytest.raises(ValueError, match=r"differ in shape"):
        T.perceptual_distance(x, x[:, :200, :200])
    xf = tf.constant(x.astype(np.float32) / 255.0)
    with pytest.raises(ValueError, match=r"x has dtype uint8; pass float images"):
        T.perceptual_loss_tf(tf.constant(x), xf)
    with pytest.raises(ValueError, match=r"expected \(B, H, W, 3\)"):
        T.perceptual_loss_tf(xf[..., :1], xf[..., :1])
    with pytest.raises(ValueError, match=r"x and xh differ in shape"):
        T.classification_loss_tf(xf, xf[:, :100, :100])
    with pytest.raises(ValueError, match=r"at least 16x16"):
        T.perceptual_loss_tf(xf[:, :8, :8], xf[:, :8, :8])
    with pytest.raises(ValueError, match=r"labels .* integers of shape \(B,\)"):
        T.classification_loss_tf(xf, xf, labels=tf.constant([0.0, 1.0]))
    with pytest.raises(FileNotFoundError, match=r"task_nets train"):
        T.load_classifier("/nonexistent/image-task")
