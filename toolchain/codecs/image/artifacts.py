"""Trained image codecs as files: models/image-codec/<name>/ holds config.json (the CodecConfig),
weights.npz (encoder e0.., decoder d0.., float32) and card.md (the model card: data, training,
figures). Tests and benches load these instead of training.

A codec trained on crops (see codec_model.train's ``crop``) is stored at the size it is used at
(224x224 by default): the layers are fully convolutional, so the weights do not depend on the
image size; only the patch grid and the input shape do (``with_image_size``).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from .codec_model import Codec, CodecConfig

MODELS_SUBDIR = "image-codec"


def models_dir() -> Path:
    from ... import paths
    return paths.models_dir() / MODELS_SUBDIR


def _resolve(name_or_dir: str | Path) -> Path:
    p = Path(name_or_dir)
    if p.is_dir():
        return p
    d = models_dir() / str(name_or_dir)
    if d.is_dir():
        return d
    have = sorted(x.name for x in models_dir().iterdir() if (x / "config.json").is_file()) if models_dir().is_dir() else []
    raise FileNotFoundError(f"image codec {str(name_or_dir)!r}: neither a folder nor one of models/{MODELS_SUBDIR}/ "
                            f"({', '.join(have) or 'none there yet: make bench-image trains them'})")


def config_from_json(d: dict) -> CodecConfig:
    fields = {f.name for f in dataclasses.fields(CodecConfig)}
    unknown = set(d) - fields
    if unknown:
        raise ValueError(f"codec config: unknown fields {sorted(unknown)} (known: {sorted(fields)})")
    return CodecConfig(**d)


def save_codec(codec: Codec, out_dir: str | Path, card: str | None = None, extra: dict | None = None) -> Path:
    """Write config.json, weights.npz (and card.md when given) to out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dataclasses.asdict(codec.config)
    (out / "config.json").write_text(json.dumps(meta, indent=1) + "\n")
    arrs = {f"e{i}": np.asarray(v, np.float32) for i, v in enumerate(codec.encoder.get_weights())}
    arrs.update({f"d{i}": np.asarray(v, np.float32) for i, v in enumerate(codec.decoder.get_weights())})
    np.savez_compressed(out / "weights.npz", **arrs)
    if extra is not None:
        (out / "info.json").write_text(json.dumps(extra, indent=1, default=str) + "\n")
    if card is not None:
        (out / "card.md").write_text(card)
    return out


def load_codec(name_or_dir: str | Path, image_size: tuple[int, int] | None = None) -> Codec:
    """The codec stored at models/image-codec/<name> (or a folder), optionally at another image size."""
    d = _resolve(name_or_dir)
    cfg = config_from_json(json.loads((d / "config.json").read_text()))
    if image_size is not None:
        cfg = dataclasses.replace(cfg, image_size=tuple(image_size))
    codec = Codec.build(cfg)
    w = np.load(d / "weights.npz")
    try:
        codec.encoder.set_weights([w[f"e{i}"] for i in range(len(codec.encoder.weights))])
        codec.decoder.set_weights([w[f"d{i}"] for i in range(len(codec.decoder.weights))])
    except (KeyError, ValueError) as e:
        raise ValueError(f"{d / 'weights.npz'} does not match {d / 'config.json'}: {e}") from None
    return codec


def with_image_size(codec: Codec, image_size: tuple[int, int], patches: int | None = None) -> Codec:
    """The same weights in a codec for another image size (and patch count)."""
    cfg = dataclasses.replace(codec.config, image_size=tuple(image_size),
                              patches=codec.config.patches if patches is None else patches)
    out = Codec.build(cfg)
    out.encoder.set_weights(codec.encoder.get_weights())
    out.decoder.set_weights(codec.decoder.get_weights())
    return out
