"""Image quality: PSNR and MS-SSIM on 8-bit RGB, in numpy/scipy (no TensorFlow at run time).

PSNR: 10 log10(255^2 / MSE) with the MSE over every pixel of all three channels together (as
CompressAI and most learned-codec papers report it); identical images give +inf.

MS-SSIM: Wang, Simoncelli & Bovik, "Multiscale structural similarity for image quality
assessment", Asilomar 2003: 5 scales with the weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333),
an 11x11 Gaussian window with sigma 1.5 ('valid' filtering, no padding), K1 = 0.01, K2 = 0.03,
contrast-structure at scales 1-4 and the full SSIM at scale 5, 2x2 average pooling between scales.
By default it is computed **per RGB channel and averaged over the channels** (channels="rgb"),
which is exactly what tf.image.ssim_multiscale does and what the Starfish paper trained and
reported with; the details follow TensorFlow so the two agree to float32 round-off (the test
checks < 1e-3): negative cs / SSIM values are clipped to 0 (TF's relu) before the powers, and an
odd side is padded by repeating its last row/column before pooling (TF's SYMMETRIC pad).
channels="luma" computes it once on BT.601 luma (Y = 0.299 R + 0.587 G + 0.114 B, unrounded),
the single-channel form of the original paper.
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
from scipy.ndimage import correlate1d

MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
FILTER_SIZE = 11
FILTER_SIGMA = 1.5
K1, K2 = 0.01, 0.03
PEAK = 255.0
LUMA_BT601 = (0.299, 0.587, 0.114)
Channels = Literal["rgb", "luma"]


def _check_pair(a: np.ndarray, b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"{what}: images differ in shape, {a.shape} vs {b.shape}")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"{what}: expected (H, W, 3) RGB images, got shape {a.shape}")
    for name, x in (("first", a), ("second", b)):
        if x.dtype != np.uint8:
            raise ValueError(f"{what}: the {name} image is {x.dtype}; pass 8-bit RGB (uint8, 0..255)")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two (H, W, 3) uint8 images; +inf when they are identical."""
    a, b = _check_pair(a, b, "psnr")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(PEAK * PEAK / mse)


def _gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """The normalized 1-D Gaussian; TF's 2-D window (softmax of -r^2 / 2 sigma^2) is its outer
    product with itself, so two 1-D passes give the same filter."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of (H, W, C) planes: output (H - n + 1, W - n + 1, C)."""
    n = len(g)
    lo = n // 2
    y = correlate1d(x, g, axis=0, mode="constant")[lo:x.shape[0] - (n - 1 - lo)]
    return correlate1d(y, g, axis=1, mode="constant")[:, lo:x.shape[1] - (n - 1 - lo)]


def _ssim_terms(x: np.ndarray, y: np.ndarray, g: np.ndarray, max_val: float,
                k1: float, k2: float) -> tuple[np.ndarray, np.ndarray]:
    """(SSIM, cs) per channel, each averaged over the valid window positions."""
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mx, my = _filter_valid(x, g), _filter_valid(y, g)
    num0 = mx * my * 2.0
    den0 = mx * mx + my * my
    lum = (num0 + c1) / (den0 + c1)
    num1 = _filter_valid(x * y, g) * 2.0
    den1 = _filter_valid(x * x + y * y, g)
    cs = (num1 - num0 + c2) / (den1 - den0 + c2)
    return (lum * cs).mean(axis=(0, 1)), cs.mean(axis=(0, 1))


def _downsample(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling; an odd side first gets its last row/column repeated."""
    h, w = x.shape[:2]
    if h % 2 or w % 2:
        x = np.pad(x, ((0, h % 2), (0, w % 2), (0, 0)), mode="symmetric")
        h, w = x.shape[:2]
    return x.reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3))


def min_side(scales: int = len(MS_SSIM_WEIGHTS), filter_size: int = FILTER_SIZE) -> int:
    """Smallest image side for which every scale is still at least one window wide (161 for 5)."""
    return (filter_size - 1) * 2 ** (scales - 1) + 1


def ms_ssim(a: np.ndarray, b: np.ndarray, channels: Channels = "rgb",
            weights: Sequence[float] = MS_SSIM_WEIGHTS, filter_size: int = FILTER_SIZE,
            sigma: float = FILTER_SIGMA, k1: float = K1, k2: float = K2) -> float:
    """MS-SSIM of two (H, W, 3) uint8 images, in [0, 1]; 1.0 when they are identical.

    channels: "rgb" (mean of the per-channel values, = tf.image.ssim_multiscale) or "luma".
    """
    a, b = _check_pair(a, b, "ms_ssim")
    if channels not in ("rgb", "luma"):
        raise ValueError(f"ms_ssim: channels {channels!r}: 'rgb' (per-channel mean, as TF) or 'luma'")
    if not weights:
        raise ValueError("ms_ssim: at least one scale weight")
    x = a.astype(np.float64) / PEAK
    y = b.astype(np.float64) / PEAK
    if channels == "luma":
        w3 = np.asarray(LUMA_BT601)
        x, y = (x @ w3)[..., None], (y @ w3)[..., None]
    g = _gaussian_1d(filter_size, sigma)
    h, w = a.shape[:2]
    for k in range(len(weights)):
        if min(h, w) < filter_size:
            raise ValueError(f"ms_ssim: a {a.shape[1]}x{a.shape[0]} image is {w}x{h} at scale {k + 1} of "
                             f"{len(weights)}, smaller than the {filter_size}x{filter_size} window; "
                             f"both sides must be at least {min_side(len(weights), filter_size)}")
        h, w = (h + 1) // 2, (w + 1) // 2
    factors = []
    for k in range(len(weights)):
        if k:
            x, y = _downsample(x), _downsample(y)
        ssim_c, cs_c = _ssim_terms(x, y, g, 1.0, k1, k2)
        factors.append(np.maximum(ssim_c if k == len(weights) - 1 else cs_c, 0.0))
    per_channel = np.prod([f ** wk for f, wk in zip(factors, weights)], axis=0)
    return float(per_channel.mean())


def ssim(a: np.ndarray, b: np.ndarray, channels: Channels = "rgb") -> float:
    """Single-scale SSIM (Wang et al. 2004) with the same window, per-channel mean like TF."""
    a, b = _check_pair(a, b, "ssim")
    x = a.astype(np.float64) / PEAK
    y = b.astype(np.float64) / PEAK
    if channels == "luma":
        w3 = np.asarray(LUMA_BT601)
        x, y = (x @ w3)[..., None], (y @ w3)[..., None]
    elif channels != "rgb":
        raise ValueError(f"ssim: channels {channels!r}: 'rgb' or 'luma'")
    if min(a.shape[:2]) < FILTER_SIZE:
        raise ValueError(f"ssim: {a.shape[1]}x{a.shape[0]} is smaller than the {FILTER_SIZE}x{FILTER_SIZE} window")
    s, _ = _ssim_terms(x, y, _gaussian_1d(FILTER_SIZE, FILTER_SIGMA), 1.0, K1, K2)
    return float(s.mean())
