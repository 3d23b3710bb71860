"""Networks that judge decoded images by what they are for (issue 14): a flower classifier, the
`task_acc` of the results, and a perceptual distance from its first convolution stages.

ImageNet weights (VGG, AlexNet, the usual LPIPS backbones) cannot be downloaded here, so both
objectives come from one small CNN trained from scratch in this project on the 600 training
flowers (dataset.flowers("train"); the 150 test flowers are never trained on). The trained model
lives in models/image-task/ (weights.npz, config.json, card.md); rebuild it with
`python -m toolchain.codecs.image.task_nets train` (a few minutes on 2 CPU cores).

Classifier, input (N, 224, 224, 3) RGB in [0, 1] (uint8 / 255):
    AveragePooling2D 2 (to 112x112: the cost of the net is a quarter)
    4 x [Conv2D 3x3 SAME (no bias) + BatchNorm + ReLU = stage k output "s{k}_relu", MaxPool 2]
    (no pool after stage 4), GlobalAveragePooling, Dropout, Dense 5 softmax (FLOWER_CLASSES order).
Stage widths WIDTHS. Fully convolutional up to the pooling, so the feature net takes any size.

Training: Adam with a cosine-decayed learning rate, cross-entropy, batch 32, random crops (a
square of 70..100 % of the 227 px side, aspect jitter +-10 %, at a random position, resized to
224x224 bilinearly) and random horizontal flips of the whole 227x227 files; seeded per
(seed, epoch), so a run is repeatable. Evaluation: the 224x224 center crop (dataset.load_array).

Perceptual distance (perceptual_loss_tf): LPIPS-like, but **without LPIPS's learned per-channel
linear weights** (there is no human-judgement data set here to fit them on) and with this small
flower net instead of an ImageNet backbone. For each of the first PERCEPTUAL_STAGES stage outputs
f (post-ReLU, BatchNorm in inference mode), unit-normalise each pixel's channel vector,
f / sqrt(sum_c f^2 + eps), take the squared difference summed over channels, average over pixels,
and average over the stages: per image a number in [0, 2] (0 for identical images).

Classification objective (classification_loss_tf): label-free by default, so it works on
unlabelled images (Kodak, a camera's own pictures): the cross-entropy of the classifier's softmax
on xh against its softmax on x (the target held constant, tf.stop_gradient), i.e.
KL(p(x) || p(xh)) + H(p(x)). H(p(x)) does not depend on xh, so the gradients are those of the KL
divergence, but the value for xh == x is the entropy of p(x), not 0. With labels (class indices)
it is the usual sparse cross-entropy against them.

Both TF losses take (B, H, W, 3) float images in [0, 1], return one value per image, trace inside
tf.function and pass gradients to xh (and x); the networks are frozen (never trained by them).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .dataset import FLOWER_CLASSES

MODELS_SUBDIR = "image-task"
WEIGHTS_FILE = "weights.npz"
CONFIG_FILE = "config.json"
CARD_FILE = "card.md"
IMAGE_SIZE = 224                 # what the classifier is trained and evaluated at
TRAIN_SOURCE_SIZE = 227          # training crops come from the whole 227x227 flower files
WIDTHS = (16, 32, 64, 96)        # conv stage widths
PERCEPTUAL_STAGES = 3            # stages whose outputs the perceptual distance compares
NORM_EPS = 1e-10                 # inside the sqrt of the channel normalisation (finite gradients at 0)
MIN_SIDE = 16                    # smallest image the losses take (3 stages: 2 px at stage 3)
CROP_SCALE = (0.70, 1.00)        # training crop side as a fraction of the 227 px side
CROP_ASPECT = 0.10               # +- relative aspect jitter of a training crop
DEFAULTS = {"epochs": 60, "batch": 32, "lr": 3e-3, "dropout": 0.2, "weight_decay": 1e-4}


def models_dir() -> Path:
    from ... import paths
    return paths.models_dir() / MODELS_SUBDIR


def _tf():
    from ...train.zoo.common import _tf as tf_
    return tf_()


def _keras():
    from ...train.zoo.common import _keras as keras_
    return keras_()


def _log(msg: str) -> None:
    print(f"[image-task] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ the network

def build_classifier(widths: Sequence[int] = WIDTHS, dropout: float = DEFAULTS["dropout"],
                     n_classes: int = len(FLOWER_CLASSES)):
    """Keras model: (None, None, 3) in [0, 1] -> class probabilities (n_classes)."""
    keras = _keras()
    from keras import layers
    x = keras.Input((None, None, 3), name="image")
    h = layers.AveragePooling2D(2, name="down2")(x)
    for k, ch in enumerate(widths, start=1):
        h = layers.Conv2D(int(ch), 3, padding="same", use_bias=False, name=f"s{k}_conv")(h)
        h = layers.BatchNormalization(name=f"s{k}_bn")(h)
        h = layers.ReLU(name=f"s{k}_relu")(h)
        if k < len(widths):
            h = layers.MaxPooling2D(2, name=f"s{k}_pool")(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    h = layers.Dropout(dropout, name="dropout")(h)
    p = layers.Dense(n_classes, activation="softmax", name="classes")(h)
    return keras.Model(x, p, name="flower_classifier")


def perceptual_features(model, stages: int = PERCEPTUAL_STAGES):
    """A frozen Keras model: image (None, None, 3) in [0, 1] -> [s1_relu, ..., s{stages}_relu].

    model: a TaskClassifier or its Keras classifier."""
    keras = _keras()
    net = getattr(model, "model", model)
    n = sum(1 for layer in net.layers if layer.name.endswith("_relu"))
    if isinstance(stages, bool) or not isinstance(stages, int) or not 1 <= stages <= n:
        raise ValueError(f"stages {stages!r}: 1..{n} (the classifier's conv stages)")
    feats = keras.Model(net.input, [net.get_layer(f"s{k}_relu").output for k in range(1, stages + 1)],
                        name=f"flower_features_{stages}")
    feats.trainable = False
    return feats


# ------------------------------------------------------------------------------ checks

def check_images(images, what: str = "images", size: int | None = IMAGE_SIZE) -> np.ndarray:
    """(N, size, size, 3) uint8 (size None: any H, W >= MIN_SIDE), or a ValueError saying what is wrong."""
    a = np.asarray(images)
    if a.ndim == 3 and a.shape[-1] == 3:
        raise ValueError(f"{what}: one image of shape {a.shape}; pass a batch (N, H, W, 3), e.g. x[None]")
    if a.ndim != 4 or a.shape[-1] != 3:
        want = f"(N, {size}, {size}, 3)" if size else "(N, H, W, 3)"
        raise ValueError(f"{what}: expected {want} RGB images, got shape {a.shape}")
    if size is not None and a.shape[1:3] != (size, size):
        raise ValueError(f"{what}: {a.shape[1]}x{a.shape[2]} images; the classifier is for {size}x{size} "
                         f"(dataset.load_array(recs, {size}) gives that size)")
    if size is None and min(a.shape[1:3]) < MIN_SIDE:
        raise ValueError(f"{what}: {a.shape[1]}x{a.shape[2]} images; at least {MIN_SIDE}x{MIN_SIDE} needed")
    if a.dtype != np.uint8:
        raise ValueError(f"{what}: dtype {a.dtype}; pass 8-bit RGB (uint8, 0..255), as dataset.load_array gives")
    if len(a) == 0:
        raise ValueError(f"{what}: no images")
    return a


def _check_pair_tf(x, xh, what: str):
    """Static checks of two TF image batches: float, rank 4, 3 channels, the same shape."""
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    x, xh = tf.convert_to_tensor(x), tf.convert_to_tensor(xh)
    for name, t in (("x", x), ("xh", xh)):
        if not t.dtype.is_floating:
            raise ValueError(f"{what}: {name} has dtype {t.dtype.name}; pass float images in [0, 1] "
                             f"(tf.cast(u8, tf.float32) / 255)")
        if t.shape.rank != 4 or t.shape[-1] != 3:
            raise ValueError(f"{what}: {name} has shape {t.shape}; expected (B, H, W, 3) RGB images in [0, 1]")
        if any(s is not None and s < MIN_SIDE for s in t.shape[1:3]):
            raise ValueError(f"{what}: {name} is {t.shape[1]}x{t.shape[2]}; at least {MIN_SIDE}x{MIN_SIDE} needed")
    if not x.shape.is_compatible_with(xh.shape):
        raise ValueError(f"{what}: x and xh differ in shape, {x.shape} vs {xh.shape}")
    xh = tf.cast(xh, x.dtype) if xh.dtype != x.dtype else xh
    return x, xh


# ------------------------------------------------------------------------------ the trained model

@dataclass
class TaskClassifier:
    """The trained flower classifier and what it was trained with (config.json)."""
    model: object                # Keras: (None, None, 3) in [0, 1] -> probabilities
    config: dict
    path: Path | None = None

    @functools.cached_property
    def features(self):
        """perceptual_features(self): the frozen feature net of the perceptual distance."""
        return perceptual_features(self.model, int(self.config.get("perceptual_stages", PERCEPTUAL_STAGES)))

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.config.get("classes", FLOWER_CLASSES))

    def probabilities(self, images, batch: int = 50) -> np.ndarray:
        """(N, 5) float32 softmax of uint8 images (N, 224, 224, 3)."""
        imgs = check_images(images)
        out = [np.asarray(self.model(imgs[b:b + batch].astype(np.float32) / 255.0, training=False))
               for b in range(0, len(imgs), batch)]
        return np.concatenate(out)

    def predict(self, images, batch: int = 50) -> np.ndarray:
        """Class indices (N,) int64 (FLOWER_CLASSES order) of uint8 images (N, 224, 224, 3)."""
        return np.argmax(self.probabilities(images, batch), axis=1).astype(np.int64)

    def accuracy(self, images, labels) -> float:
        """Fraction of images whose predicted class is labels (class indices, one per image)."""
        y = _check_labels(labels, len(check_images(images)), len(self.classes))
        return float(np.mean(self.predict(images) == y))


def _check_labels(labels, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"labels: shape {y.shape}, one class index per image needed ({n},)")
    if y.dtype.kind not in "iu" or (n and (y.min() < 0 or y.max() >= n_classes)):
        raise ValueError(f"labels: class indices 0..{n_classes - 1} (integers) needed, "
                         "e.g. [r.label_index for r in dataset.flowers('test')]")
    return y.astype(np.int64)


def _resolve(path) -> Path:
    d = models_dir() if path is None else Path(path)
    if not (d / WEIGHTS_FILE).is_file() or not (d / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{d}: no trained task classifier ({WEIGHTS_FILE} and {CONFIG_FILE}); "
                                "train one with `python -m toolchain.codecs.image.task_nets train`")
    return d.resolve()


@functools.lru_cache(maxsize=4)
def _load_cached(d: Path) -> TaskClassifier:
    tf = _tf()
    with tf.init_scope():   # eager even when first asked for inside a tf.function trace
        cfg = json.loads((d / CONFIG_FILE).read_text())
        a = cfg["architecture"]
        model = build_classifier(a["widths"], a["dropout"], len(cfg["classes"]))
        w = np.load(d / WEIGHTS_FILE)
        n = len(model.weights)
        try:
            model.set_weights([w[f"w{i}"] for i in range(n)])
        except (KeyError, ValueError) as e:
            raise ValueError(f"{d / WEIGHTS_FILE} does not match {d / CONFIG_FILE}: {e}") from None
        model.trainable = False
        clf = TaskClassifier(model, cfg, d)
        clf.features  # built here, eagerly
    return clf


def load_classifier(path: str | os.PathLike[str] | None = None) -> TaskClassifier:
    """The classifier stored in a folder (default models/image-task/), loaded once per process."""
    return _load_cached(_resolve(path))


def task_accuracy(images, labels) -> float:
    """Accuracy of the committed classifier (models/image-task) on uint8 images (N, 224, 224, 3)."""
    return load_classifier().accuracy(images, labels)


# ------------------------------------------------------------------------------ objectives (TF)

def _normalise(f):
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    return f * tf.math.rsqrt(tf.reduce_sum(tf.square(f), axis=-1, keepdims=True) + NORM_EPS)


def perceptual_loss_tf(x, xh, model: TaskClassifier | None = None):
    """Per-image (B,) LPIPS-like distance of (B, H, W, 3) float images in [0, 1] (module docstring)."""
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    x, xh = _check_pair_tf(x, xh, "perceptual_loss_tf")
    feats = (model or load_classifier()).features
    fx, fxh = feats(x, training=False), feats(xh, training=False)
    per_stage = [tf.reduce_mean(tf.reduce_sum(tf.square(_normalise(a) - _normalise(b)), axis=-1), axis=(1, 2))
                 for a, b in zip(fx, fxh)]
    return tf.add_n(per_stage) / float(len(per_stage))


def classification_loss_tf(x, xh, labels=None, model: TaskClassifier | None = None):
    """Per-image (B,) cross-entropy of the classifier on xh against its own softmax on x (held
    constant), or against labels (B,) class indices when given (module docstring)."""
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    x, xh = _check_pair_tf(x, xh, "classification_loss_tf")
    net = (model or load_classifier()).model
    p_xh = tf.clip_by_value(net(xh, training=False), 1e-7, 1.0)
    if labels is None:
        target = tf.stop_gradient(net(x, training=False))
    else:
        y = tf.convert_to_tensor(labels)
        if not y.dtype.is_integer or y.shape.rank != 1:
            raise ValueError(f"classification_loss_tf: labels {y.dtype.name} {y.shape}; one class index "
                             "per image needed, integers of shape (B,)")
        target = tf.one_hot(y, p_xh.shape[-1], dtype=p_xh.dtype)
    return -tf.reduce_sum(target * tf.math.log(p_xh), axis=-1)


# ------------------------------------------------------------------------------ numpy wrappers

def _pair_u8(a, b, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = check_images(a, f"{what}: a", None), check_images(b, f"{what}: b", None)
    if a.shape != b.shape:
        raise ValueError(f"{what}: images differ in shape, {a.shape} vs {b.shape}")
    return a, b


def perceptual_distance(a_uint8, b_uint8, batch: int = 25, model: TaskClassifier | None = None) -> np.ndarray:
    """perceptual_loss_tf of uint8 image batches (N, H, W, 3): (N,) float64."""
    a, b = _pair_u8(a_uint8, b_uint8, "perceptual_distance")
    out = [np.asarray(perceptual_loss_tf(a[i:i + batch].astype(np.float32) / 255.0,
                                         b[i:i + batch].astype(np.float32) / 255.0, model))
           for i in range(0, len(a), batch)]
    return np.concatenate(out).astype(np.float64)


def classification_distance(a_uint8, b_uint8, batch: int = 25, model: TaskClassifier | None = None) -> np.ndarray:
    """Label-free classification_loss_tf of b against a (uint8 batches (N, H, W, 3)): (N,) float64."""
    a, b = _pair_u8(a_uint8, b_uint8, "classification_distance")
    out = [np.asarray(classification_loss_tf(a[i:i + batch].astype(np.float32) / 255.0,
                                             b[i:i + batch].astype(np.float32) / 255.0, model=model))
           for i in range(0, len(a), batch)]
    return np.concatenate(out).astype(np.float64)


# ------------------------------------------------------------------------------ training

def _crop_boxes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Normalised [y1, x1, y2, x2] boxes of the random training crops (module docstring)."""
    s = rng.uniform(*CROP_SCALE, n)
    ar = rng.uniform(1 - CROP_ASPECT, 1 + CROP_ASPECT, n)
    h, w = np.minimum(1.0, s * np.sqrt(ar)), np.minimum(1.0, s / np.sqrt(ar))
    y1, x1 = rng.uniform(0, 1, n) * (1 - h), rng.uniform(0, 1, n) * (1 - w)
    return np.stack([y1, x1, y1 + h, x1 + w], axis=1).astype(np.float32)


def train_classifier(out_dir: str | os.PathLike[str] | None = None, epochs: int = DEFAULTS["epochs"], seed: int = 0,
                     *, batch: int = DEFAULTS["batch"], lr: float = DEFAULTS["lr"],
                     widths: Sequence[int] = WIDTHS, dropout: float = DEFAULTS["dropout"],
                     weight_decay: float = DEFAULTS["weight_decay"], root=None, log: bool = True) -> TaskClassifier:
    """Train the flower classifier on the 600 training flowers and write weights.npz, config.json
    and card.md to out_dir (default models/image-task/). Test accuracy: the 150 held-out flowers."""
    from . import dataset
    from ...train.zoo.common import _limit_threads, _seed
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs {epochs!r}: an integer >= 1")
    if batch < 1 or lr <= 0:
        raise ValueError(f"batch {batch} >= 1 and lr {lr} > 0 needed")
    out = Path(out_dir) if out_dir is not None else models_dir()
    tf = _tf()
    _limit_threads(2)
    _seed(seed)

    t_load = time.time()
    train_recs, test_recs = dataset.flowers("train", root), dataset.flowers("test", root)
    x_train = dataset.load_array(train_recs, TRAIN_SOURCE_SIZE)           # the whole 227x227 files
    y_train = np.array([r.label_index for r in train_recs], np.int32)
    x_test = dataset.load_array(test_recs, IMAGE_SIZE)                     # 224 center crops
    y_test = np.array([r.label_index for r in test_recs], np.int64)
    t_load = time.time() - t_load

    model = build_classifier(widths, dropout)
    n_steps = len(x_train) // batch
    schedule = tf.keras.optimizers.schedules.CosineDecay(lr, epochs * n_steps, alpha=0.02)
    opt = tf.keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    opt.build(model.trainable_variables)
    data, labels = tf.constant(x_train), tf.constant(y_train)

    @tf.function(reduce_retracing=True)
    def step(idx, boxes, flip):
        xb = tf.cast(tf.gather(data, idx), tf.float32) / 255.0
        xb = tf.image.crop_and_resize(xb, boxes, tf.range(tf.shape(idx)[0]), (IMAGE_SIZE, IMAGE_SIZE))
        xb = tf.where(flip[:, None, None, None], xb[:, :, ::-1], xb)
        yb = tf.gather(labels, idx)
        with tf.GradientTape() as tape:
            p = model(xb, training=True)
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(yb, p))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.reduce_mean(tf.cast(tf.argmax(p, axis=1, output_type=tf.int32) == yb, tf.float32))

    t0, c0 = time.time(), time.process_time()
    history = []
    for ep in range(epochs):
        rng = np.random.default_rng([seed, ep])
        order = rng.permutation(len(x_train))
        boxes, flips = _crop_boxes(len(x_train), rng), rng.random(len(x_train)) < 0.5
        losses, accs = [], []
        for s in range(n_steps):
            sel = order[s * batch:(s + 1) * batch]
            loss, acc = step(tf.constant(sel, tf.int32), tf.constant(boxes[sel]), tf.constant(flips[sel]))
            losses.append(float(loss))
            accs.append(float(acc))
        history.append({"epoch": ep + 1, "train_loss": round(float(np.mean(losses)), 5),
                        "train_acc_augmented": round(float(np.mean(accs)), 4),
                        "seconds": round(time.time() - t0, 1)})
        if log:
            _log(f"epoch {ep + 1}/{epochs}: loss {history[-1]['train_loss']:.4f}, "
                 f"train acc (augmented) {history[-1]['train_acc_augmented']:.3f}, {history[-1]['seconds']:.0f} s")
    seconds, cpu_seconds = time.time() - t0, time.process_time() - c0

    model.trainable = False
    clf = TaskClassifier(model, {}, None)
    pred_test = np.argmax(np.asarray(model.predict(x_test.astype(np.float32) / 255.0, batch_size=50, verbose=0)), 1)
    pred_train = np.concatenate([np.argmax(np.asarray(model(
        tf.constant(x_train[b:b + 50, 1:1 + IMAGE_SIZE, 1:1 + IMAGE_SIZE].astype(np.float32) / 255.0),
        training=False)), 1) for b in range(0, len(x_train), 50)])
    test_acc = float(np.mean(pred_test == y_test))
    train_acc = float(np.mean(pred_train == y_train))
    confusion = np.zeros((len(FLOWER_CLASSES),) * 2, np.int64)
    np.add.at(confusion, (y_test, pred_test), 1)
    config = {
        "classes": list(FLOWER_CLASSES),
        "input": {"size": IMAGE_SIZE, "range": "uint8 / 255 in [0, 1]", "fit": "center_crop"},
        "architecture": {"widths": [int(c) for c in widths], "dropout": float(dropout),
                         "params": int(model.count_params())},
        "perceptual_stages": PERCEPTUAL_STAGES,
        "train": {"epochs": epochs, "batch": batch, "lr": lr, "schedule": "cosine, alpha 0.02",
                  "optimizer": "AdamW", "weight_decay": weight_decay, "seed": seed,
                  "crop_scale": list(CROP_SCALE), "crop_aspect": CROP_ASPECT, "flip": "horizontal",
                  "images": len(x_train), "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
                  "load_seconds": round(t_load, 1),
                  "threads": 2, "tensorflow": tf.__version__},
        "results": {"test_accuracy": test_acc, "test_images": len(x_test), "train_accuracy": train_acc,
                    "test_confusion": confusion.tolist(),
                    "test_accuracy_first_30": float(np.mean(pred_test[_first_30_index(y_test)] ==
                                                            y_test[_first_30_index(y_test)]))},
        "history": history,
    }
    clf.config = config
    save_classifier(clf, out)
    if log:
        _log(f"{seconds:.0f} s training; test accuracy {test_acc:.3f} on {len(x_test)} held-out flowers "
             f"(train {train_acc:.3f}); wrote {out}")
    _load_cached.cache_clear()
    return clf


def _first_30_index(y: np.ndarray) -> np.ndarray:
    """The 30 held-out flowers the tests use: the first 6 test images of each class."""
    return np.concatenate([np.flatnonzero(y == k)[:6] for k in range(len(FLOWER_CLASSES))])


def save_classifier(clf: TaskClassifier, out_dir: str | os.PathLike[str]) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / WEIGHTS_FILE, **{f"w{i}": np.asarray(v, np.float32)
                                               for i, v in enumerate(clf.model.get_weights())})
    (out / CONFIG_FILE).write_text(json.dumps(clf.config, indent=1) + "\n")
    (out / CARD_FILE).write_text(model_card(clf.config, (out / WEIGHTS_FILE).stat().st_size))
    clf.path = out
    return out


def model_card(cfg: dict, weights_bytes: int) -> str:
    a, t, r = cfg["architecture"], cfg["train"], cfg["results"]
    conf = r["test_confusion"]
    rows = "\n".join(f"| {c} | " + " | ".join(str(v) for v in conf[i]) + f" | {conf[i][i] / max(1, sum(conf[i])):.0%} |"
                     for i, c in enumerate(cfg["classes"]))
    w = a["widths"]
    layers_rows = "\n".join(
        f"| s{k} | Conv2D 3x3 SAME, no bias + BatchNorm + ReLU{', MaxPool 2' if k < len(w) else ''} | {c} |"
        for k, c in enumerate(w, start=1))
    return f"""# Model card: image-task (flower classifier and perceptual feature net)

The network behind `task_acc` and the classification and perceptual objectives of the Starfish
image codec (issue 14), `toolchain/codecs/image/task_nets.py`.
Rebuild: `python -m toolchain.codecs.image.task_nets train` (seed {t['seed']}, deterministic ops).

**ImageNet weights are unavailable here** (nothing can be downloaded: no VGG/AlexNet/LPIPS
backbone), so this is a small network trained from scratch on the {t['images']} training flower
images of this project. It is a much weaker judge than an ImageNet network: read `task_acc` as
"does the decoded image still carry what a small flower classifier uses", not as a general
recognisability figure.

## Data and split

`flowers_227` (5 classes: {', '.join(cfg['classes'])} = 0..4), split by `dataset.flowers`:
per class, files sorted by name, every 5th (index 4, 9, ...) is test: 600 training, 150 test
images (30 per class). Only the training images are trained on; nothing was selected on the test
images except this one reported figure.
Training input: the whole 227x227 files, random square-ish crops of {t['crop_scale'][0]:.0%}..{t['crop_scale'][1]:.0%}
of the side (aspect +-{t['crop_aspect']:.0%}) resized to 224x224 (bilinear), random horizontal flips.
Evaluation input: the 224x224 center crop (`dataset.load_array(recs)`), RGB uint8 / 255.

## Architecture ({a['params']:,} parameters)

| stage | layers | channels |
|---|---|---|
| down2 | AveragePooling2D 2 (224 -> 112) | 3 |
{layers_rows}
| head | GlobalAveragePooling2D, Dropout {a['dropout']}, Dense 5 softmax | 5 |

Perceptual distance: stage outputs s1..s{cfg['perceptual_stages']} (post-ReLU, BatchNorm in inference mode),
each pixel's channel vector unit-normalised, squared differences summed over channels, averaged
over pixels and stages. LPIPS-like, but **without LPIPS's learned linear weights** (no
human-judgement data to fit them) and with this flower net instead of an ImageNet backbone.

## Training

AdamW (weight decay {t['weight_decay']}), learning rate {t['lr']} cosine-decayed to 2 %, batch {t['batch']},
{t['epochs']} epochs, cross-entropy; {t['seconds']:.0f} s (wall clock) of training on {t['threads']} CPU threads
(plus {t['load_seconds']:.0f} s loading the images){_cpu(t)}, TensorFlow {t['tensorflow']}.{_note(t)}

## Results (float Keras, the images as stored, no codec)

- test accuracy: **{r['test_accuracy']:.1%}** on the {r['test_images']} held-out flowers (chance: 20 %)
- the 30 held-out images the tests use (first 6 test images per class): {r['test_accuracy_first_30']:.1%}
- training accuracy (center crops, no augmentation): {r['train_accuracy']:.1%}

Test confusion (rows: true class, columns: predicted, in class order):

| true \\ predicted | {' | '.join(c[:5] for c in cfg['classes'])} | recall |
|---|{'---|' * len(cfg['classes'])}---|
{rows}

## Files

- `weights.npz`: the Keras weights w0.. in `model.get_weights()` order, float32, {weights_bytes:,} bytes
- `config.json`: architecture, training settings, results and the per-epoch history
- `card.md`: this card (written by `train_classifier`)
"""


def _cpu(t: dict) -> str:
    return f", {t['cpu_seconds']:.0f} s of process CPU time" if "cpu_seconds" in t else ""


def _note(t: dict) -> str:
    return f"\n{t['timing_note']}" if t.get("timing_note") else ""


# ------------------------------------------------------------------------------ CLI

def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toolchain.codecs.image.task_nets",
                                 description="The flower classifier / perceptual net of issue 14 (models/image-task).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train from scratch on the 600 training flowers and write the model folder")
    tr.add_argument("--out", type=Path, default=None, help="model folder (default models/image-task)")
    tr.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    tr.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    ev = sub.add_parser("eval", help="accuracy of a model folder on the 150 held-out flowers")
    ev.add_argument("--model", type=Path, default=None, help="model folder (default models/image-task)")
    args = ap.parse_args(argv)
    if args.cmd == "train":
        clf = train_classifier(args.out, args.epochs, args.seed, batch=args.batch, lr=args.lr)
        print(f"test accuracy {clf.config['results']['test_accuracy']:.4f} "
              f"({clf.config['train']['seconds']:.0f} s training) -> {clf.path}")
    else:
        from . import dataset
        recs = dataset.flowers("test")
        acc = load_classifier(args.model).accuracy(dataset.load_array(recs), [r.label_index for r in recs])
        print(f"test accuracy {acc:.4f} on {len(recs)} held-out flowers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
