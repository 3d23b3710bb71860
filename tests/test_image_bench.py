"""Pieces of `make bench-image` (toolchain.codecs.image.bench) on a small untrained codec:
the training config for crops, our rate-quality rows, the network decoder hook, saved artifacts."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from toolchain.codecs.image import artifacts, bench, entropy, lora  # noqa: E402
from toolchain.codecs.image.codec_model import Codec, CodecConfig  # noqa: E402
from toolchain.codecs.image.nas_space import config_of  # noqa: E402


@pytest.fixture(scope="module")
def codec():
    from toolchain.train.zoo.common import _seed
    _seed(0)
    return Codec.build(CodecConfig(patches=4, layers=3, channels=(4, 4, 4), latent_channels=2, bins=16))


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (3, 28, 28, 3)).astype(np.uint8)
    return [np.kron(b, np.ones((8, 8, 1), np.uint8)) for b in base]   # smooth-ish 224x224 images


@pytest.mark.parametrize("patches,train_patches", [(1, 1), (4, 1), (16, 4)])
def test_train_config_keeps_the_patch_size(patches, train_patches):
    deploy = config_of({"patches": patches, "c1": 8, "c2": 8, "c3": 8})
    t = bench.train_config(deploy)
    assert t.image_size == (bench.TRAIN_CROP, bench.TRAIN_CROP) and t.patches == train_patches
    if patches > 1:
        assert t.patch_size == deploy.patch_size


def test_model_names_say_what_they_are():
    p = {"patches": 4, "c1": 8, "c2": 16, "c3": 24}
    assert bench.model_name(p, 4, 16, 0.0) == "starfish-p4-8-16-24-c4-b16"
    assert bench.model_name(p, 4, 16, 0.1) == "starfish-p4-8-16-24-c4-b16-drop10"


def test_ours_rows_count_exact_bytes(codec, images):
    rows = bench.ours_rows(codec, "test-codec", "flowers", images, [0, 1, 2], lambda x: np.zeros(len(x), int))
    by = {r["method"]: r for r in rows}
    assert set(by) == {"ours-huffman", "ours-range", "ours-fixed"}
    n = codec.config.n_latent
    assert by["ours-fixed"]["bytes"] == (n * entropy.bits_for(16) + 7) // 8
    q = codec.encode(np.stack(images))
    assert by["ours-huffman"]["bytes"] == np.mean([len(entropy.huffman_encode(x, 16)) for x in q])
    assert by["ours-fixed"]["task_acc"] == pytest.approx(1 / 3)
    assert 0 < by["ours-fixed"]["ms_ssim"] <= 1


def test_network_decoder_matches_the_shuffled_packets(codec, images):
    codes, decode = bench.network_decoder(codec, images, {51, 115, 242})
    cfg = codec.config
    q = codec.encode(np.stack(images))
    lay = entropy.LatentLayout(cfg.latent_shape, cfg.bins, 51)
    # lora.packetize of the code carries exactly entropy.packetize's payloads
    assert [p[lora.HEADER:] for p in lora.packetize(codes[0], 0, 51)] == \
        [p[lora.HEADER:] for p in entropy.packetize(q[0], lay, 0)]
    full = decode(0, np.ones(lay.count, bool))
    from toolchain.codecs.image.metrics import ms_ssim
    assert full == pytest.approx(ms_ssim(images[0], codec.decode(q[0])[0]))
    mask = np.ones(lay.count, bool)
    mask[::2] = False
    rec = entropy.depacketize(entropy.packetize(q[0], lay, 0), mask, lay)
    assert decode(0, mask) == pytest.approx(ms_ssim(images[0], codec.decode(rec.latent, rec.missing)[0]))
    assert decode(0, np.zeros(lay.count, bool)) is None
    with pytest.raises(ValueError, match="packets"):
        decode(0, np.ones(lay.count + 7, bool))


def test_artifacts_round_trip(codec, tmp_path, images):
    out = artifacts.save_codec(codec, tmp_path / "m", card="# card\n", extra={"k": 1})
    back = artifacts.load_codec(out)
    x = np.stack(images[:1])
    assert np.array_equal(back.encode(x), codec.encode(x))
    small = artifacts.with_image_size(codec, (112, 112), patches=1)
    assert small.config.patch_size == codec.config.patch_size
    with pytest.raises(FileNotFoundError, match="image codec 'no-such-model'"):
        artifacts.load_codec("no-such-model")
    (out / "config.json").write_text('{"patches": 4, "bogus": 1}')
    with pytest.raises(ValueError, match="unknown fields"):
        artifacts.load_codec(out)


def test_compressai_rows_are_rate_quality_curves_on_our_byte_scale():
    rows = bench.compressai_rows()
    assert {r["method"] for r in rows} == set(bench.COMPRESSAI_KODAK)
    for m in bench.COMPRESSAI_KODAK:
        curve = [r for r in rows if r["method"] == m]
        # a rate-quality curve: quality rises with rate, bytes are bpp at 224x224
        assert all(a["bpp"] < b["bpp"] and a["psnr"] < b["psnr"] and a["ms_ssim"] < b["ms_ssim"]
                   for a, b in zip(curve, curve[1:]))
        assert all(r["bytes"] == pytest.approx(r["bpp"] * 224 * 224 / 8) for r in curve)
    assert all(r["dataset"] == "kodak" and "not run here" in r["note"] for r in rows)
