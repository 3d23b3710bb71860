"""The trained image codecs committed in models/image-codec/ (written by `make bench-image`): each
loads, matches its model card's configuration, and reproduces the validation quality its
info.json records. The NAS winner (WINNER) goes through the host encoder and the gateway's
decoder as a user's own picture would. The loss-resilient variant still shows the picture when
a fifth of its packets are lost. Everything here loads the committed artifacts; nothing trains.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from PIL import Image

from toolchain import REPO_ROOT

MODELS = REPO_ROOT / "models" / "image-codec"
NAMES = sorted(p.name for p in MODELS.iterdir() if (p / "config.json").is_file()) if MODELS.is_dir() else []


def test_models_are_committed():
    assert NAMES, f"no trained image codec in {MODELS}: make bench-image writes them"
    winner = (MODELS / "WINNER").read_text().strip()
    assert winner in NAMES, f"WINNER names {winner!r}, which is not among {NAMES}"


@pytest.fixture(scope="module")
def val_images():
    from toolchain.codecs.image import bench
    _, va = bench.split_train_val()
    return va[:6]


@pytest.mark.parametrize("name", NAMES)
def test_model_matches_its_record(name, val_images):
    """Config, card and the recorded validation MS-SSIM (on the first validation images) agree."""
    from toolchain.codecs.image import artifacts
    from toolchain.codecs.image.metrics import ms_ssim
    d = MODELS / name
    info = json.loads((d / "info.json").read_text())
    card = (d / "card.md").read_text()
    codec = artifacts.load_codec(name)
    cfg = codec.config
    assert cfg.image_size == (224, 224)
    assert f"channels {', '.join(map(str, cfg.channels))}" in card
    assert f"{cfg.bins} bins" in card
    assert info["name"] == name
    assert (cfg.drop_rate > 0) == name.endswith("-drop10")
    dec = codec.decode(codec.encode(val_images))
    got = float(np.mean([ms_ssim(a, b) for a, b in zip(val_images, dec)]))
    # Six of the 30 validation images: close to the recorded mean, far above an untrained codec (~0.3).
    assert got > 0.7, f"{name}: MS-SSIM {got:.3f} on validation images"
    assert abs(got - info["val_ms_ssim"]) < 0.05, f"{name}: {got:.4f} here, {info['val_ms_ssim']:.4f} recorded"


def test_winner_through_encoder_and_gateway(tmp_path, val_images):
    """A PNG of the user's -> tinycodec image-encode -> packets -> tinycodec decode --format png:
    the PNG the gateway writes is what the codec decodes from the sent latent."""
    from toolchain import cli
    from toolchain.codecs.image import artifacts
    winner = (MODELS / "WINNER").read_text().strip()
    src = tmp_path / "mine.png"
    Image.fromarray(val_images[0]).save(src)
    pkt = tmp_path / "mine.pkt"
    assert cli.main(["image-encode", str(src), "--model", winner, "--out", str(pkt), "--fit", "center_crop"]) == 0
    out = tmp_path / "decoded"
    assert cli.main(["decode", "--format", "png", "--model", winner, "--out", str(out), "--file", str(pkt)]) == 0
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["status"] for r in rows] == ["complete"]
    shown = np.asarray(Image.open(out / rows[0]["png"]).convert("RGB"))
    codec = artifacts.load_codec(winner)
    want = codec.decode(codec.encode(val_images[:1]))[0]
    assert np.array_equal(shown, want)


def test_resilient_variant_degrades_gracefully(val_images):
    """The drop-trained variant with 20% of its 115-byte packets lost: the picture is still there,
    within 0.1 MS-SSIM of the same codec's lossless decode."""
    from toolchain.codecs.image import artifacts, entropy
    from toolchain.codecs.image.metrics import ms_ssim
    drop = [n for n in NAMES if n.endswith("-drop10")]
    assert drop, f"no loss-resilient (-drop10) codec in {MODELS}"
    codec = artifacts.load_codec(drop[0])
    cfg = codec.config
    lay = entropy.LatentLayout(cfg.latent_shape, cfg.bins, 115, seed=0)
    rng = np.random.default_rng(0)
    x = val_images[:4]
    q = codec.encode(x)
    full, lossy = [], []
    for i in range(len(x)):
        sent = entropy.packetize(q[i], lay, image_id=i)
        mask = np.ones(len(sent), bool)
        mask[rng.choice(len(sent), max(1, round(0.2 * len(sent))), replace=False)] = False
        got = entropy.depacketize(sent, mask, lay)
        assert got.missing.any()
        lossy.append(ms_ssim(x[i], codec.decode(got.latent, got.missing)[0]))
        full.append(ms_ssim(x[i], codec.decode(q[i:i + 1])[0]))
    assert np.mean(lossy) > np.mean(full) - 0.1, (np.mean(full), np.mean(lossy))
    assert np.mean(lossy) > 0.6
