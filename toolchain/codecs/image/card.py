"""The model card of a trained image codec (models/image-codec/<name>/card.md)."""
from __future__ import annotations

from .codec_model import CodecConfig


def codec_card(cfg: CodecConfig, info: dict) -> str:
    t = info.get("training", {})
    hist = info.get("history", [])
    last = hist[-1] if hist else {}
    bits = cfg.n_latent * max(1, (cfg.bins - 1).bit_length())
    return f"""# Image codec {info.get('name', '')}

Starfish-style learned image codec (issue 14; paper: shared/papers/002). {info.get('note', '')}

| | |
|---|---|
| images | {cfg.image_size[0]}x{cfg.image_size[1]} RGB, {cfg.patches} patch(es) of {cfg.patch_size[0]}x{cfg.patch_size[1]} |
| encoder | {cfg.layers} x (conv 3x3 + ReLU, max-pool 2x2), channels {', '.join(map(str, cfg.channels))}; linear conv {cfg.latent_kernel}x{cfg.latent_kernel} to {cfg.latent_channels} channels |
| latent | {'x'.join(map(str, cfg.latent_shape))} values, {cfg.bins} bins (sigmoid, uniform-noise training); fixed length {bits} bits = {(bits + 7) // 8} B |
| drop rate (training) | {cfg.drop_rate} |
| data | flowers_227 train split ({info.get('train_images', '?')} images, center-cropped to 224; {t.get('n_val', '?')} train-split images held out for validation); test split and Kodak never seen |
| training | {t.get('epochs', '?')} epochs of Adam (lr {t.get('lr', '?')}, batch {t.get('batch', '?')}, seed {t.get('seed', '?')}) on random {t.get('train_crop', '?')}x{t.get('train_crop', '?')} crops, loss 1 - MS-SSIM + 0.1 MSE; {info.get('train_s', '?')} s on the bench machine |
| validation (224x224, rounded latent) | MS-SSIM {info.get('val_ms_ssim', float('nan')):.4f}, PSNR {info.get('val_psnr', float('nan')):.2f} dB |
| last epoch (crops) | val MS-SSIM {last.get('val_ms_ssim', float('nan')):.4f} |

Files: config.json (CodecConfig), weights.npz (float32 encoder e*, decoder d*), info.json (training
history). Load with `toolchain.codecs.image.artifacts.load_codec("{info.get('name', '')}")`.
Made by `make bench-image` (toolchain/codecs/image/bench.py).
"""
