"""The Starfish image codec (issue 14; paper: shared/papers/002, sec. 3.1-3.2) as a function of
a CodecConfig: Keras encoder/decoder, latent quantization, patches, training.

Images (N, H, W, 3) uint8, 224x224 by default, scaled to [0, 1]; cut into 1, 4 or 16 square
patches (a 1x1, 2x2 or 4x4 grid). The image is zero-padded at the bottom and right to
grid * P per side, P = ceil(side / grid) rounded up to a multiple of 2^layers, so every patch is
P x P and pools evenly; the decoder's output is cropped back (unpatchify).

Encoder (on the camera's K210 KPU), per patch:
    layers x [Conv2D 3x3 stride 1 SAME + ReLU, MaxPool 2x2]  ->  Conv2D latent_kernel (1x1 or 3x3),
    linear, latent_channels                                   ->  z  (P / 2^layers)^2 x latent_channels
Only CONV_2D (with its fused ReLU) and MAX_POOL_2D after int8 conversion: what the int8 C
generator (toolchain.nn) lowers and what the KPU checker (toolchain.kendryte.kpu) puts on the KPU.
No batch norm (the paper: compression DNNs suffer from it).

Latent: bounded by a sigmoid, y = sigmoid(z) in [0, 1], then quantized to `bins` levels
(any integer >= 2) on the grid k / (bins - 1):
    training    y~ = y + u / (bins - 1),  u ~ U(-1/2, 1/2)   (additive noise of one bin width)
    inference   q = floor(y (bins - 1) + 1/2) in 0..bins-1,  y^ = q / (bins - 1)
On the device the sigmoid is not a layer: the encoder's int8 output goes through a 256-entry
table int8 -> bin (bin_table), exact because the sigmoid is monotone. Caveat: the table can only
reach as many bins as the int8 output resolves (near y = 1/2 one int8 step moves y by
scale / 4), so very fine bin grids need a look at bin_table's distinct values.

Decoder input: d = (y^ - 1/2) * keep, keep = 0 for a dropped / lost value: a missing value is
replaced by the mid level y^ = 1/2 (DROP_LEVEL), the latent's centre, so dropping is the
paper's multiplication by a binary mask, B <- B * M, on the centred latent. Training drops each
latent value independently with probability drop_rate (the paper's best: 0.1; 0 for the
entropy-coded variant); the shuffled packets of entropy.py make a lost packet look like that.

Decoder (on the gateway), mirrored: Conv2D 3x3 + ReLU to channels[-1], then per stage (deepest
first) UpSampling2D x2 nearest + Conv2D 3x3 channels[i] + ReLU, then Conv2D 3x3 to 3 channels +
sigmoid.

Loss: 1 - MS-SSIM + mse_weight * MSE (default 0.1) on the whole image in [0, 1] (patches put back
together and cropped, so patch seams count), MS-SSIM from tf.image.ssim_multiscale with
max_val 1 and the standard weights; an image too small for 5 scales (both sides >= 161) uses
the first k weights that fit (64x64: 3 scales). Adam, constant learning rate. A step whose
gradient is not finite has its non-finite entries zeroed; such steps are counted in the history.

train() is resumable: after every epoch the weights, the optimizer state and the history go to
the work folder (last.weights.npz, history.json, written atomically); run it again with more
epochs and it continues. Shuffling and noise are seeded per (seed, epoch, step), so a resumed
run draws what an uninterrupted one would. A progress bar shows only on a TTY.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .metrics import FILTER_SIZE, MS_SSIM_WEIGHTS

PATCH_GRID = {1: 1, 4: 2, 16: 4}
DROP_LEVEL = 0.5          # what a dropped / lost latent value becomes (in y units)
MAX_CHANNELS = 1024       # the KPU's per-layer channel limit
WEIGHTS_FILE = "last.weights.npz"


@dataclass(frozen=True)
class CodecConfig:
    patches: int = 4                         # 1, 4 or 16
    layers: int = 3                          # encoder stages (conv 3x3 + ReLU + max-pool 2x2)
    channels: tuple[int, ...] = (32, 64, 64)  # one per stage
    latent_channels: int = 4
    bins: int = 16                           # latent levels, any integer >= 2
    drop_rate: float = 0.0                   # latent drop probability while training (0.1: paper's best)
    image_size: tuple[int, int] = (224, 224)  # (H, W)
    latent_kernel: int = 1                   # the linear last encoder conv: 1x1 or 3x3

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "image_size", tuple(int(s) for s in self.image_size))
        if self.patches not in PATCH_GRID:
            raise ValueError(f"patches {self.patches!r}: one of 1, 4, 16 (a 1x1, 2x2 or 4x4 grid)")
        if isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 1:
            raise ValueError(f"layers {self.layers!r}: an integer >= 1")
        if len(self.channels) != self.layers:
            raise ValueError(f"channels {self.channels}: one per layer, {self.layers} needed")
        for what, c in [("channels", c) for c in self.channels] + [("latent_channels", self.latent_channels)]:
            if not 1 <= c <= MAX_CHANNELS:
                raise ValueError(f"{what} {c}: 1..{MAX_CHANNELS} (the KPU's channel limit)")
        if isinstance(self.bins, bool) or not isinstance(self.bins, (int, np.integer)) or self.bins < 2:
            raise ValueError(f"bins {self.bins!r}: an integer >= 2 (the number of latent levels)")
        object.__setattr__(self, "drop_rate", float(self.drop_rate))
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"drop_rate {self.drop_rate!r}: 0 <= drop_rate < 1")
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(f"image_size {self.image_size}: (H, W), both >= 1")
        if self.latent_kernel not in (1, 3):
            raise ValueError(f"latent_kernel {self.latent_kernel!r}: 1 or 3 (the KPU's conv sizes)")
        for name in ("patches", "layers", "latent_channels", "bins", "latent_kernel"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def grid(self) -> int:
        return PATCH_GRID[self.patches]

    @property
    def patch_size(self) -> tuple[int, int]:
        """(P_h, P_w) of a padded patch: ceil(side / grid) rounded up to a multiple of 2^layers."""
        m = 2 ** self.layers
        return tuple(_ceil_to(_ceil_div(s, self.grid), m) for s in self.image_size)

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        """Integer latent of one image: (patches, h, w, latent_channels)."""
        ph, pw = self.patch_size
        return (self.patches, ph >> self.layers, pw >> self.layers, self.latent_channels)

    @property
    def n_latent(self) -> int:
        return int(np.prod(self.latent_shape))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _ceil_to(a: int, m: int) -> int:
    return _ceil_div(a, m) * m


def _tf():
    from ...train.zoo.common import _tf as tf_
    return tf_()


def _keras():
    from ...train.zoo.common import _keras as keras_
    return keras_()


# ------------------------------------------------------------------------------ patches

def check_images(images, cfg: CodecConfig, what: str = "images") -> np.ndarray:
    """(N, H, W, 3) uint8 at cfg.image_size, or a ValueError that says what is wrong."""
    a = np.asarray(images)
    h, w = cfg.image_size
    if a.ndim != 4 or a.shape[1:] != (h, w, 3):
        hint = " (one image: add a batch axis, x[None])" if a.shape == (h, w, 3) else ""
        raise ValueError(f"{what}: expected (N, {h}, {w}, 3) RGB images for this codec, got shape "
                         f"{a.shape}{hint}")
    if a.dtype != np.uint8:
        raise ValueError(f"{what}: dtype {a.dtype}; pass 8-bit RGB (uint8, 0..255), as dataset.load_array gives")
    if len(a) == 0:
        raise ValueError(f"{what}: no images")
    return a


def patchify(x: np.ndarray, cfg: CodecConfig) -> np.ndarray:
    """(N, H, W, C) -> (N * patches, P_h, P_w, C): zero-padded bottom/right, row-major patches."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    if (h, w) != cfg.image_size:
        raise ValueError(f"patchify: images are {h}x{w}, the codec is for {cfg.image_size[0]}x{cfg.image_size[1]}")
    g, (ph, pw) = cfg.grid, cfg.patch_size
    x = np.pad(x, ((0, 0), (0, g * ph - h), (0, g * pw - w), (0, 0)))
    return x.reshape(n, g, ph, g, pw, c).transpose(0, 1, 3, 2, 4, 5).reshape(n * g * g, ph, pw, c)


def unpatchify(p: np.ndarray, cfg: CodecConfig) -> np.ndarray:
    """Inverse of patchify: (N * patches, P_h, P_w, C) -> (N, H, W, C), padding cropped."""
    p = np.asarray(p)
    g, (ph, pw), (h, w) = cfg.grid, cfg.patch_size, cfg.image_size
    if p.ndim != 4 or p.shape[1:3] != (ph, pw) or p.shape[0] % (g * g):
        raise ValueError(f"unpatchify: {p.shape} is not a stack of {g * g}-patch images of {ph}x{pw}")
    c = p.shape[3]
    x = p.reshape(-1, g, g, ph, pw, c).transpose(0, 1, 3, 2, 4, 5).reshape(-1, g * ph, g * pw, c)
    return x[:, :h, :w]


def _patchify_tf(x, cfg: CodecConfig):
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    g, (ph, pw), (h, w) = cfg.grid, cfg.patch_size, cfg.image_size
    x = tf.pad(x, [[0, 0], [0, g * ph - h], [0, g * pw - w], [0, 0]])
    x = tf.reshape(x, (-1, g, ph, g, pw, 3))
    return tf.reshape(tf.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, ph, pw, 3))


def _unpatchify_tf(p, cfg: CodecConfig):
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    g, (ph, pw), (h, w) = cfg.grid, cfg.patch_size, cfg.image_size
    x = tf.reshape(p, (-1, g, g, ph, pw, 3))
    x = tf.reshape(tf.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, g * ph, g * pw, 3))
    return x[:, :h, :w]


# ------------------------------------------------------------------------------ models

def build_encoder(cfg: CodecConfig, batch_size: int | None = None):
    """Patch (P_h, P_w, 3) in [0, 1] -> linear latent z (h, w, latent_channels), before the sigmoid."""
    keras = _keras()
    from keras import layers
    x = keras.Input((*cfg.patch_size, 3), batch_size=batch_size, name="patch")
    h = x
    for i, ch in enumerate(cfg.channels, start=1):
        h = layers.Conv2D(ch, 3, padding="same", activation="relu", name=f"e{i}_conv")(h)
        h = layers.MaxPooling2D(2, name=f"e{i}_pool")(h)
    z = layers.Conv2D(cfg.latent_channels, cfg.latent_kernel, padding="same", name="latent")(h)
    return keras.Model(x, z, name="starfish_encoder")


def build_decoder(cfg: CodecConfig, batch_size: int | None = None):
    """Centred latent d (h, w, latent_channels) -> patch (P_h, P_w, 3) in [0, 1]."""
    keras = _keras()
    from keras import layers
    _, lh, lw, lc = cfg.latent_shape
    d = keras.Input((lh, lw, lc), batch_size=batch_size, name="latent")
    h = layers.Conv2D(cfg.channels[-1], 3, padding="same", activation="relu", name="d0_conv")(d)
    for i in range(cfg.layers - 1, -1, -1):
        h = layers.UpSampling2D(2, interpolation="nearest", name=f"d{i + 1}_up")(h)
        h = layers.Conv2D(cfg.channels[i], 3, padding="same", activation="relu", name=f"d{i + 1}_conv")(h)
    o = layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="rgb")(h)
    return keras.Model(d, o, name="starfish_decoder")


# ------------------------------------------------------------------------------ latent

def quantize_latent(y, bins: int, training: bool, seed=None):
    """TF: y in [0, 1] -> y + U(-1/2, 1/2) / (bins - 1) when training (seed: a stateless seed pair),
    else the nearest level floor(y (bins - 1) + 1/2) / (bins - 1)."""
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins {bins!r}: an integer >= 2")
    step = 1.0 / (bins - 1)
    if training:
        if seed is None:
            raise ValueError("quantize_latent(training=True) needs a stateless seed pair")
        return y + tf.random.stateless_uniform(tf.shape(y), seed, -0.5, 0.5) * step
    return tf.floor(y * (bins - 1) + 0.5) * step


def latent_to_bins(y: np.ndarray, bins: int) -> np.ndarray:
    """numpy: y in [0, 1] -> the integer levels 0..bins-1 (inference rounding)."""
    return np.clip(np.floor(np.asarray(y, np.float64) * (bins - 1) + 0.5), 0, bins - 1).astype(np.int64)


def bins_to_latent(q: np.ndarray, bins: int) -> np.ndarray:
    return np.asarray(q, np.float32) / np.float32(bins - 1)


def decoder_input(y_hat, missing=None):
    """(y^ - 1/2), with missing values (mask: 1 / True = missing) set to the mid level (0 here)."""
    d = y_hat - DROP_LEVEL
    if missing is None:
        return d
    return d * (1.0 - missing) if not isinstance(missing, np.ndarray) else d * (~missing.astype(bool))


def bin_table(scale: float, zero_point: int, bins: int) -> np.ndarray:
    """The device's int8 encoder output -> bin table (index v + 128): sigmoid, then the rounding."""
    v = np.arange(-128, 128, dtype=np.float64)
    y = 1.0 / (1.0 + np.exp(-(v - zero_point) * scale))
    return latent_to_bins(y, bins).astype(np.uint16)


# ------------------------------------------------------------------------------ the codec

def ms_ssim_scales(h: int, w: int) -> int:
    """How many MS-SSIM scales an h x w image allows (5 from 161 px on)."""
    k = 0
    while k < len(MS_SSIM_WEIGHTS) and (FILTER_SIZE - 1) * 2 ** k + 1 <= min(h, w):
        k += 1
    if k == 0:
        raise ValueError(f"a {h}x{w} image is smaller than the {FILTER_SIZE}x{FILTER_SIZE} MS-SSIM window")
    return k


SSIM_FLOOR = 1e-4   # the training loss clamps each scale's cs / ssim here (see ms_ssim_loss_terms)


def ms_ssim_train(x, xh, scales: int):
    """MS-SSIM of (B, H, W, 3) images in [0, 1] for training: the standard definition (Gaussian
    11x11, sigma 1.5, K1 0.01, K2 0.03, RGB channels averaged per scale), but each scale's contrast-
    structure term and the last scale's SSIM are clamped to >= SSIM_FLOOR before the power. An
    untrained decoder's output makes cs negative or 0, where x ** 0.0448 has no real value or an
    infinite gradient (tf.image.ssim_multiscale then gives NaN gradients: measured, 9 of 19 steps in
    the first epoch). Equal to the standard figure wherever every term is above the floor; the
    reported MS-SSIM is always metrics.ms_ssim."""
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    from .metrics import FILTER_SIGMA
    r = np.arange(FILTER_SIZE, dtype=np.float64) - (FILTER_SIZE - 1) / 2
    g1 = np.exp(-r ** 2 / (2 * FILTER_SIGMA ** 2))
    g1 /= g1.sum()
    k = tf.constant(np.outer(g1, g1)[:, :, None, None].astype(np.float32))
    c1, c2 = (0.01 ** 2), (0.03 ** 2)

    def filt(v):  # depthwise valid filtering of (B, H, W, 3)
        return tf.nn.depthwise_conv2d(v, tf.tile(k, [1, 1, 3, 1]), [1, 1, 1, 1], "VALID")

    w = tf.constant(np.asarray(MS_SSIM_WEIGHTS[:scales], np.float32))
    terms = []
    a, b = x, xh
    for i in range(scales):
        mu_a, mu_b = filt(a), filt(b)
        saa = filt(a * a) - mu_a ** 2
        sbb = filt(b * b) - mu_b ** 2
        sab = filt(a * b) - mu_a * mu_b
        cs = tf.reduce_mean((2 * sab + c2) / (saa + sbb + c2), axis=(1, 2, 3))
        if i == scales - 1:
            lum = (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1)
            cs = tf.reduce_mean(lum * (2 * sab + c2) / (saa + sbb + c2), axis=(1, 2, 3))
        terms.append(tf.maximum(cs, SSIM_FLOOR))
        if i < scales - 1:
            a = tf.nn.avg_pool2d(a, 2, 2, "VALID")
            b = tf.nn.avg_pool2d(b, 2, 2, "VALID")
    return tf.reduce_prod(tf.pow(tf.stack(terms, axis=-1), w), axis=-1)


def codec_loss(x, xh, mse_weight: float, scales: int):
    """Per-image 1 - MS-SSIM + mse_weight * MSE of (B, H, W, 3) images in [0, 1] (TF)."""
    import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
    ms = ms_ssim_train(x, xh, scales)
    mse = tf.reduce_mean(tf.square(x - xh), axis=(1, 2, 3))
    return 1.0 - ms + mse_weight * mse, ms


@dataclass
class Codec:
    """A config with its encoder and decoder (Keras, float)."""
    config: CodecConfig
    encoder: object
    decoder: object

    @classmethod
    def build(cls, cfg: CodecConfig) -> "Codec":
        return cls(cfg, build_encoder(cfg), build_decoder(cfg))

    def forward(self, x, training: bool, seed=None):
        """TF: images (B, H, W, 3) in [0, 1] -> reconstruction; training adds noise and drops."""
        import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
        cfg = self.config
        y = tf.sigmoid(self.encoder(_patchify_tf(x, cfg), training=training))
        fold = tf.random.experimental.stateless_fold_in
        yq = quantize_latent(y, cfg.bins, training, fold(seed, 0) if training else None)
        missing = None
        if training and cfg.drop_rate > 0:
            u = tf.random.stateless_uniform(tf.shape(y), fold(seed, 1))
            missing = tf.cast(u < cfg.drop_rate, y.dtype)
        return _unpatchify_tf(self.decoder(decoder_input(yq, missing), training=training), cfg)

    def latent(self, images: np.ndarray, batch: int = 64) -> np.ndarray:
        """Float y = sigmoid(z) per image, (N, *latent_shape)."""
        imgs = check_images(images, self.config)
        p = patchify(imgs.astype(np.float32) / 255.0, self.config)
        z = np.concatenate([np.asarray(self.encoder(p[b:b + batch], training=False))
                            for b in range(0, len(p), batch)])
        return (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).reshape(len(imgs), *self.config.latent_shape)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Integer latents 0..bins-1, (N, *latent_shape)."""
        return latent_to_bins(self.latent(images), self.config.bins)

    def decode(self, q: np.ndarray, missing: np.ndarray | None = None, batch: int = 64) -> np.ndarray:
        """Integer latents (N, *latent_shape) (and a missing mask like it) -> uint8 (N, H, W, 3)."""
        cfg = self.config
        q = np.asarray(q)
        if q.ndim == len(cfg.latent_shape):
            q = q[None]
            missing = None if missing is None else np.asarray(missing)[None]
        if q.shape[1:] != cfg.latent_shape:
            raise ValueError(f"decode: latent of shape {q.shape}, the codec's is (N, {', '.join(map(str, cfg.latent_shape))})")
        if q.dtype.kind not in "iu" or q.min() < 0 or q.max() >= cfg.bins:
            raise ValueError(f"decode: latents must be integers 0..{cfg.bins - 1}")
        if missing is not None and np.shape(missing) != q.shape:
            raise ValueError(f"decode: missing mask of shape {np.shape(missing)}, the latent is {q.shape}")
        d = decoder_input(bins_to_latent(q, cfg.bins), None if missing is None else np.asarray(missing, bool))
        d = d.reshape(-1, *cfg.latent_shape[1:]).astype(np.float32)
        p = np.concatenate([np.asarray(self.decoder(d[b:b + batch], training=False)) for b in range(0, len(d), batch)])
        return np.clip(np.floor(unpatchify(p, cfg) * 255.0 + 0.5), 0, 255).astype(np.uint8)

    def encoder_int8(self, representative: np.ndarray) -> bytes:
        """Full-integer TFLite encoder (batch 1, int8 in/out) from representative uint8 images."""
        from ...train.zoo.common import convert_int8
        imgs = check_images(representative, self.config, "representative images")
        enc1 = build_encoder(self.config, batch_size=1)
        enc1.set_weights(self.encoder.get_weights())
        return convert_int8(enc1, patchify(imgs.astype(np.float32) / 255.0, self.config))


def evaluate(codec: Codec, images: np.ndarray, mse_weight: float = 0.1, batch: int = 16) -> dict[str, float]:
    """Inference path (rounded latent, nothing dropped): mean loss, MS-SSIM (TF, the loss's scales), PSNR."""
    tf = _tf()
    cfg = codec.config
    imgs = check_images(images, cfg)
    k = ms_ssim_scales(*cfg.image_size)
    losses, mss, psnrs = [], [], []
    for b in range(0, len(imgs), batch):
        x = tf.constant(imgs[b:b + batch].astype(np.float32) / 255.0)
        xh = codec.forward(x, training=False)
        loss, ms = codec_loss(x, xh, mse_weight, k)
        losses.append(loss.numpy())
        mss.append(ms.numpy())
        psnrs.append(tf.image.psnr(x, xh, 1.0).numpy())
    return {"loss": float(np.mean(np.concatenate(losses))), "ms_ssim": float(np.mean(np.concatenate(mss))),
            "psnr": float(np.mean(np.concatenate(psnrs)))}


OBJECTIVES = ("ms_ssim", "psnr", "perceptual", "classification")


def objective_loss(objective: str, weight: float = 1.0, mse_weight: float = 0.1, scales: int = 5):
    """Per-image training loss (x, xh) -> (B,) for an objective:
    ms_ssim         1 - MS-SSIM + mse_weight MSE (the default, the paper's);
    psnr            MSE alone (maximises PSNR);
    perceptual      the ms_ssim loss + weight x the feature distance of the in-project flower
                    classifier's early layers (task_nets.perceptual_loss_tf; ImageNet networks such
                    as LPIPS's VGG cannot be downloaded here);
    classification  the ms_ssim loss + weight x the classifier's cross-entropy on the
                    reconstruction against its own prediction on the original (task_nets)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r}: one of {', '.join(OBJECTIVES)}")
    extra = None
    if objective in ("perceptual", "classification"):
        from . import task_nets
        extra = task_nets.perceptual_loss_tf if objective == "perceptual" else task_nets.classification_loss_tf

    def loss(x, xh):
        import tensorflow as tf  # traced: no _tf() (autograph would try to convert it)
        if objective == "psnr":
            return tf.reduce_mean(tf.square(x - xh), axis=(1, 2, 3))
        base = codec_loss(x, xh, mse_weight, scales)[0]
        return base if extra is None else base + weight * extra(x, xh)
    return loss


def make_train_step(codec: Codec, optimizer, mse_weight: float = 0.1, objective: str = "ms_ssim",
                    objective_weight: float = 1.0):
    """A tf.function step(x uint8 (B, H, W, 3), seed int32 (2,)) -> (mean loss, 1 if the gradient
    had non-finite entries)."""
    tf = _tf()
    variables = codec.encoder.trainable_variables + codec.decoder.trainable_variables
    k = ms_ssim_scales(*codec.config.image_size)
    loss_fn = objective_loss(objective, objective_weight, mse_weight, k)

    @tf.function(reduce_retracing=True)
    def step(x_u8, seed):
        x = tf.cast(x_u8, tf.float32) / 255.0
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(x, codec.forward(x, training=True, seed=seed)))
        grads = tape.gradient(loss, variables)
        bad = tf.add_n([tf.reduce_sum(tf.cast(~tf.math.is_finite(g), tf.int32)) for g in grads])
        grads = [tf.where(tf.math.is_finite(g), g, tf.zeros_like(g)) for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        return loss, tf.minimum(bad, 1)

    return step


# ------------------------------------------------------------------------------ training

@dataclass
class TrainResult:
    codec: Codec
    history: list[dict]          # epoch 0 = before training; eval_* on the inference path
    work_dir: Path
    resumed_from: int            # the epoch the run started from (0: fresh)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _log(msg: str) -> None:
    print(f"[image-codec] {msg}", file=sys.stderr, flush=True)


def _fingerprint(a: np.ndarray) -> str:
    return f"{a.shape}:{hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]}"


def default_work_dir(meta: dict) -> Path:
    from ... import paths
    tag = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:12]
    return paths.build_dir() / "image-codec" / "train" / tag


def _save(wd: Path, codec: Codec, optimizer, epoch: int, history: list[dict]) -> None:
    arrs = {f"e{i}": v for i, v in enumerate(codec.encoder.get_weights())}
    arrs.update({f"d{i}": v for i, v in enumerate(codec.decoder.get_weights())})
    arrs.update({f"o{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
    arrs["epoch"] = np.asarray(epoch)
    tmp = wd / (WEIGHTS_FILE + ".tmp.npz")
    np.savez(tmp, **arrs)
    os.replace(tmp, wd / WEIGHTS_FILE)
    tmp_h = wd / "history.json.tmp"
    tmp_h.write_text(json.dumps(history, indent=1) + "\n")
    os.replace(tmp_h, wd / "history.json")


def _load(wd: Path, codec: Codec, optimizer) -> tuple[int, list[dict]]:
    w = np.load(wd / WEIGHTS_FILE)
    codec.encoder.set_weights([w[f"e{i}"] for i in range(len(codec.encoder.weights))])
    codec.decoder.set_weights([w[f"d{i}"] for i in range(len(codec.decoder.weights))])
    for i, v in enumerate(optimizer.variables):
        v.assign(w[f"o{i}"])
    return int(w["epoch"]), json.loads((wd / "history.json").read_text())


def train(config: CodecConfig, images: np.ndarray, epochs: int, *, work_dir: str | Path | None = None,
          batch: int = 8, lr: float = 1e-3, mse_weight: float = 0.1, seed: int = 0,
          val_images: np.ndarray | None = None, restart: bool = False, log: bool = True,
          crop: bool = False, eval_train: bool = True, objective: str = "ms_ssim", objective_weight: float = 1.0,
          callback: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Train the codec on uint8 images (N, H, W, 3) for `epochs` epochs in all, resuming from the
    work folder's last saved epoch (restart=True starts over). The default work folder is
    build/image-codec/train/<hash of config, hyper-parameters and data>.

    crop: the training images may be larger than config.image_size; each epoch takes one random
    crop of that size per image (seeded by (seed, epoch)), so an epoch costs config.image_size
    pixels per image (training on 112x112 crops of 224x224 images: a quarter of the work; the
    layers are fully convolutional, artifacts.with_image_size moves the weights to 224x224).
    objective: the training loss (objective_loss: ms_ssim, psnr, perceptual, classification);
    the eval_/val_ columns are always MS-SSIM and PSNR.
    eval_train False skips the per-epoch evaluation on the training images (eval_* columns).
    callback(epoch, history_row) after each saved epoch; an exception it raises (an Optuna
    TrialPruned, say) ends training there, the epoch already saved."""
    from tqdm import tqdm

    from ...train.zoo.common import _limit_threads, _seed
    if crop:
        imgs = np.asarray(images)
        h, w = config.image_size
        if imgs.ndim != 4 or imgs.shape[3] != 3 or imgs.shape[1] < h or imgs.shape[2] < w or imgs.dtype != np.uint8:
            raise ValueError(f"images: crop=True needs (N, >= {h}, >= {w}, 3) uint8 images, got {imgs.shape} {imgs.dtype}")
    else:
        imgs = check_images(images, config)
    val = check_images(val_images, config, "val_images") if val_images is not None else None
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs {epochs!r}: an integer >= 0")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r}: one of {', '.join(OBJECTIVES)}")
    if batch < 1 or lr <= 0:
        raise ValueError(f"batch {batch} >= 1 and lr {lr} > 0 needed")
    ms_ssim_scales(*config.image_size)
    meta = {"config": dataclasses.asdict(config),
            "train": {"batch": batch, "lr": lr, "mse_weight": mse_weight, "seed": seed,
                      **({"crop": True} if crop else {}),
                      **({"objective": objective, "objective_weight": objective_weight}
                         if objective != "ms_ssim" else {})},
            "data": _fingerprint(imgs), "val": _fingerprint(val) if val is not None else None}
    wd = Path(work_dir) if work_dir is not None else default_work_dir(meta)
    wd.mkdir(parents=True, exist_ok=True)
    meta_p = wd / "meta.json"
    meta_json = json.loads(json.dumps(meta))
    if restart:
        for f in (WEIGHTS_FILE, "history.json", "meta.json"):
            (wd / f).unlink(missing_ok=True)
    elif meta_p.is_file() and json.loads(meta_p.read_text()) != meta_json:
        raise ValueError(f"work folder {wd} holds a run with another configuration, hyper-parameters or "
                         "images; pass restart=True to start over there, or another work_dir")
    meta_p.write_text(json.dumps(meta_json, indent=1) + "\n")

    tf = _tf()
    _limit_threads(2)
    _seed(seed)
    codec = Codec.build(config)
    variables = codec.encoder.trainable_variables + codec.decoder.trainable_variables
    opt = tf.keras.optimizers.Adam(lr)
    opt.build(variables)
    start, history = 0, []
    if (wd / WEIGHTS_FILE).is_file():
        start, history = _load(wd, codec, opt)
        if log:
            _log(f"resumed from {wd / WEIGHTS_FILE} after epoch {start}")

    def eval_row(epoch: int, train_loss: float | None, bad: int) -> dict:
        row = {"epoch": epoch, "train_loss": train_loss, "nonfinite_steps": bad}
        if eval_train and not crop:
            row.update({f"eval_{k}": v for k, v in evaluate(codec, imgs, mse_weight).items()})
        if val is not None:
            row.update({f"val_{k}": v for k, v in evaluate(codec, val, mse_weight).items()})
        return row

    t0 = time.time()
    if start == 0:
        history = [eval_row(0, None, 0)]
    b = min(batch, len(imgs))
    n_steps = len(imgs) // b
    step = make_train_step(codec, opt, mse_weight, objective, objective_weight)
    data = tf.constant(imgs)
    for ep in range(start, epochs):
        order = np.random.default_rng([seed, ep]).permutation(len(imgs))
        if crop:
            data = tf.constant(_random_crops(imgs, config.image_size, np.random.default_rng([seed, ep, 1])))
        losses, bad = [], 0
        for s in tqdm(range(n_steps), desc=f"epoch {ep + 1}/{epochs}", leave=False,
                      disable=not sys.stderr.isatty()):
            idx = tf.constant(order[s * b:(s + 1) * b], tf.int32)
            loss, nb = step(tf.gather(data, idx), tf.constant([seed, ep * n_steps + s], tf.int32))
            losses.append(float(loss))
            bad += int(nb)
        history.append(eval_row(ep + 1, float(np.mean(losses)), bad))
        _save(wd, codec, opt, ep + 1, history)
        if log:
            r = history[-1]
            pre = "eval" if "eval_loss" in r else "val" if "val_loss" in r else None
            _log(f"epoch {ep + 1}/{epochs}: train {r['train_loss']:.4f}"
                 + (f", {pre} loss {r[pre + '_loss']:.4f} MS-SSIM {r[pre + '_ms_ssim']:.4f} PSNR {r[pre + '_psnr']:.2f} dB"
                    if pre else "")
                 + (f", {bad} steps with non-finite gradients" if bad else ""))
        if callback is not None:
            callback(ep + 1, history[-1])
    return TrainResult(codec, history, wd, start, time.time() - t0)


def _random_crops(imgs: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = size
    ys = rng.integers(0, imgs.shape[1] - h + 1, len(imgs))
    xs = rng.integers(0, imgs.shape[2] - w + 1, len(imgs))
    return np.stack([im[y:y + h, x:x + w] for im, y, x in zip(imgs, ys, xs)])


def load_trained(config: CodecConfig, work_dir: str | Path) -> Codec:
    """The codec whose weights a train() work folder holds (its last epoch)."""
    wd = Path(work_dir)
    if not (wd / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{wd / WEIGHTS_FILE}: no trained weights there (run train() first)")
    meta = json.loads((wd / "meta.json").read_text())
    if meta["config"] != json.loads(json.dumps(dataclasses.asdict(config))):
        raise ValueError(f"{wd} was trained for {meta['config']}, not {dataclasses.asdict(config)}")
    codec = Codec.build(config)
    w = np.load(wd / WEIGHTS_FILE)
    codec.encoder.set_weights([w[f"e{i}"] for i in range(len(codec.encoder.weights))])
    codec.decoder.set_weights([w[f"d{i}"] for i in range(len(codec.decoder.weights))])
    return codec
