"""The Starfish image codec (toolchain/image/codec_model.py) and its latent codes
(toolchain/image/entropy.py): shapes, quantization, the deployable encoder, exact round trips,
loss-resilient packets, and a seconds-long smoke training."""
from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from toolchain.codecs.image import entropy as E
from toolchain.codecs.image import lora
from toolchain.codecs.image.codec_model import (Codec, CodecConfig, bin_table, decoder_input, latent_to_bins, patchify,
                                         quantize_latent, train, unpatchify)

SMALL = dict(layers=2, channels=(4, 8), latent_channels=2, bins=5)


def smooth_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, size, size, 3): bilinear blow-ups of random 5x5 colour grids (learnable, unlike noise)."""
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 255, (n, 5, 5, 3))
    t = np.linspace(0, 4, size)
    i0 = np.minimum(t.astype(int), 3)
    f = t - i0
    a = lo[:, i0] * (1 - f)[None, :, None, None] + lo[:, i0 + 1] * f[None, :, None, None]
    b = a[:, :, i0] * (1 - f)[None, None, :, None] + a[:, :, i0 + 1] * f[None, None, :, None]
    return np.clip(np.round(b), 0, 255).astype(np.uint8)


def skewed_latent(n: int, bins: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.round(rng.laplace(bins / 2, bins / 20, n)), 0, bins - 1).astype(np.int64)


# ------------------------------------------------------------------------------ config, patches, shapes

@pytest.mark.parametrize("patches,grid,patch,latent", [
    (1, 1, (224, 224), (1, 28, 28, 4)),
    (4, 2, (112, 112), (4, 14, 14, 4)),
    (16, 4, (56, 56), (16, 7, 7, 4)),
])
def test_default_size_shapes(patches, grid, patch, latent):
    cfg = CodecConfig(patches=patches, layers=3, channels=(8, 8, 8), latent_channels=4)
    assert (cfg.grid, cfg.patch_size, cfg.latent_shape) == (grid, patch, latent)
    assert cfg.n_latent == int(np.prod(latent))


@pytest.mark.parametrize("patches", [1, 4, 16])
def test_model_shapes_and_patch_round_trip(patches):
    cfg = CodecConfig(patches=patches, image_size=(50, 50), **SMALL)   # 50 is no multiple: padding
    x = smooth_images(2, 50)
    p = patchify(x, cfg)
    assert p.shape == (2 * patches, *cfg.patch_size, 3)
    assert np.array_equal(unpatchify(p, cfg), x)
    g, (ph, pw) = cfg.grid, cfg.patch_size
    assert not p.reshape(2, g, g, ph, pw, 3)[:, -1, -1, -1].any()   # the padding is zeros
    codec = Codec.build(cfg)
    assert tuple(codec.encoder.output.shape[1:]) == cfg.latent_shape[1:]
    q = codec.encode(x)
    assert q.shape == (2, *cfg.latent_shape) and q.min() >= 0 and q.max() < cfg.bins
    y = codec.decode(q)
    assert y.shape == x.shape and y.dtype == np.uint8
    missing = np.zeros(q.shape, bool)
    missing[0, 0, 0, 0, 0] = True
    assert codec.decode(q, missing).shape == x.shape


def test_bad_config_and_images():
    with pytest.raises(ValueError, match="bins"):
        CodecConfig(bins=1)
    with pytest.raises(ValueError, match="bins"):
        CodecConfig(bins=2.5)
    with pytest.raises(ValueError, match="patches"):
        CodecConfig(patches=9)
    with pytest.raises(ValueError, match="one per layer"):
        CodecConfig(layers=2, channels=(8, 8, 8))
    with pytest.raises(ValueError, match="KPU"):
        CodecConfig(layers=1, channels=(2048,))
    with pytest.raises(ValueError, match="drop_rate"):
        CodecConfig(drop_rate=1.0)
    cfg = CodecConfig(patches=4, image_size=(32, 32), **SMALL)
    codec = Codec.build(cfg)
    with pytest.raises(ValueError, match=r"expected \(N, 32, 32, 3\).*got shape \(1, 32, 32, 1\)"):
        codec.encode(np.zeros((1, 32, 32, 1), np.uint8))
    with pytest.raises(ValueError, match="add a batch axis"):
        codec.encode(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        codec.encode(np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="0..4"):
        codec.decode(np.full((1, *cfg.latent_shape), 5))
    with pytest.raises(ValueError, match="smaller than the 11x11"):
        train(CodecConfig(patches=1, image_size=(8, 8), **SMALL), np.zeros((2, 8, 8, 3), np.uint8), 1)


# ------------------------------------------------------------------------------ quantization

def test_quantization_levels_and_noise_only_when_training():
    import tensorflow as tf
    bins = 5
    y = tf.constant(np.linspace(0, 1, 1001, dtype=np.float32))
    levels = np.unique(quantize_latent(y, bins, training=False).numpy())
    assert np.allclose(levels, [0, 0.25, 0.5, 0.75, 1.0]) and len(levels) == 5
    assert set(latent_to_bins(y.numpy(), bins)) == {0, 1, 2, 3, 4}
    noisy = quantize_latent(y, bins, training=True, seed=tf.constant([1, 2])).numpy()
    d = noisy - y.numpy()
    assert np.abs(d).max() <= 0.5 / (bins - 1) + 1e-7 and np.abs(d).max() > 0.4 / (bins - 1)
    assert len(np.unique(noisy)) > 900                        # off the grid
    with pytest.raises(ValueError, match="bins"):
        quantize_latent(y, 1, training=False)
    # a missing value is the mid level: decoder input 0, as the paper's B * M on the centred latent
    assert decoder_input(np.array([1.0, 0.0]), np.array([True, False])).tolist() == [0.0, -0.5]

    cfg = CodecConfig(patches=4, image_size=(32, 32), drop_rate=0.5, **SMALL)
    codec = Codec.build(cfg)
    x = tf.constant(smooth_images(2, 32).astype(np.float32) / 255)
    a, b = codec.forward(x, training=False).numpy(), codec.forward(x, training=False).numpy()
    assert np.array_equal(a, b)                                # inference: no noise, no drops
    s1, s2 = tf.constant([0, 1]), tf.constant([0, 2])
    t1, t1b = codec.forward(x, True, s1).numpy(), codec.forward(x, True, s1).numpy()
    assert np.array_equal(t1, t1b) and not np.array_equal(t1, codec.forward(x, True, s2).numpy())
    assert not np.array_equal(t1, a)


# ------------------------------------------------------------------------------ the deployable encoder

def test_encoder_int8_generates_c_and_every_layer_on_kpu(tmp_path):
    from toolchain.boards import load_board
    from toolchain.kendryte.kpu import kpu_summary, place_model
    from toolchain.nn.codegen import generate_nn
    from toolchain.nn.targets import run_on_board
    from toolchain.nn.tflm_reference import run_tflm_all
    from toolchain.train.zoo.common import io_details, quantize_like_tflite, run_tflite, tflite_ops

    cfg = CodecConfig(patches=4, image_size=(32, 32), **SMALL)
    codec = Codec.build(cfg)
    imgs = smooth_images(8, 32)
    tfl = codec.encoder_int8(imgs)
    assert sorted(set(tflite_ops(tfl))) == ["CONV_2D", "MAX_POOL_2D"]
    gen = generate_nn(tfl, tmp_path / "enc", name="starfish_enc")
    assert gen.header.is_file() and all(p.is_file() for p in gen.sources)
    pl = place_model(tfl)
    assert [p.placement for p in pl] == ["KPU", "none", "KPU", "none", "KPU"], [p.reason for p in pl]
    assert not any(p.partial for p in pl) and kpu_summary(pl)["kpu_mac_share"] == 1.0
    # the generated C is bit-exact with TFLite Micro on the host
    io_ = io_details(tfl)
    xq = quantize_like_tflite(patchify(imgs[:2].astype(np.float32) / 255, cfg), io_["input"]["scale"],
                              io_["input"]["zero_point"])
    xs = [x[None] for x in xq]
    ref = [np.asarray(o[0]).tobytes() for o in run_tflm_all(tfl, xs)]
    run = run_on_board(gen, load_board("native"), [x.tobytes() for x in xs], tmp_path / "run", measure=False)
    assert run.outputs == ref
    # the device's bins: int8 output -> bin_table, against the float codec
    yq = run_tflite(tfl, np.stack(xs))
    table = bin_table(io_["output"]["scale"], io_["output"]["zero_point"], cfg.bins)
    assert np.all(np.diff(table.astype(int)) >= 0)
    dev = table[yq.astype(np.int16) + 128].reshape(2, *cfg.latent_shape)
    assert np.abs(dev.astype(int) - codec.encode(imgs[:2])).max() <= 1


# ------------------------------------------------------------------------------ entropy codes

CODERS = [(E.huffman_encode, E.huffman_decode, E.huffman_bits),
          (E.range_encode, E.range_decode, E.range_bits),
          (E.fixed_encode, E.fixed_decode, E.fixed_bits)]


@pytest.mark.parametrize("bins", [2, 5, 16, 72, 256])
@pytest.mark.parametrize("enc,dec,size", CODERS, ids=["huffman", "range", "fixed"])
def test_codes_round_trip_exactly(enc, dec, size, bins):
    rng = np.random.default_rng(bins)
    for q in (rng.integers(0, bins, (4, 7, 7, 4)), skewed_latent(3000, bins, bins),
              np.full(50, bins - 1), np.array([0])):
        data = enc(q, bins)
        assert np.array_equal(dec(data, bins, q.size), q.ravel())
        s = size(q, bins)
        assert s.nbytes == len(data) and s.total <= 8 * len(data) < s.total + 8


def test_skewed_source_smaller_than_fixed_length():
    bins = 72
    q = skewed_latent(3136, bins)           # the default config's latent size
    s = E.sizes(q, bins)
    assert s["huffman"].total < s["fixed"].total and s["range"].total < s["fixed"].total
    assert s["huffman"].header > 0
    # the adaptive coder is within 1 % + 32 bits of its model's information content
    assert s["range"].total <= 1.01 * E.adaptive_ideal_bits(q, bins) + 32
    # fixed length is ceil(log2 bins) bits a value, not log2
    assert s["fixed"].total == 3136 * 7 and E.bits_for(2) == 1 and E.bits_for(5) == 3 and E.bits_for(256) == 8


@pytest.mark.parametrize("enc,dec,size", CODERS, ids=["huffman", "range", "fixed"])
def test_truncated_or_bad_streams_are_errors(enc, dec, size):
    bins = 16
    q = skewed_latent(2000, bins, 1)
    data = enc(q, bins)
    for cut in (1, 2, 3, 4, len(data) // 2, len(data) - 1):
        with pytest.raises(E.EntropyError, match="truncated|corrupted"):
            dec(data[:-cut], bins, q.size)
    with pytest.raises(E.EntropyError):
        dec(data + b"\x01", bins, q.size)
    with pytest.raises(ValueError, match="bins"):
        enc(q, 1)
    with pytest.raises(ValueError, match="bins"):
        dec(data, 1, q.size)
    with pytest.raises(ValueError, match="outside 0..15"):
        enc(np.array([3, 16]), bins)


# ------------------------------------------------------------------------------ loss-resilient packets

def test_packets_round_trip_and_a_lost_packet_scatters():
    cfg = CodecConfig(patches=4, layers=3, channels=(8, 8, 8), latent_channels=4, bins=12)
    layout = E.LatentLayout(cfg.latent_shape, cfg.bins, payload_bytes=51, seed=7)
    q = np.random.default_rng(0).integers(0, cfg.bins, cfg.latent_shape)
    packets = E.packetize(q, layout, image_id=3)
    assert len(packets) == layout.count and all(len(p) <= 51 for p in packets)
    assert layout.per_packet == (51 - lora.HEADER) * 8 // 4
    full = E.depacketize(packets, np.ones(len(packets), bool), layout)
    assert np.array_equal(full.latent, q) and not full.missing.any()
    back = E.depacketize_received(packets[::-1], layout, image_id=3)     # any order
    assert np.array_equal(back.latent, q)
    rx = np.ones(len(packets), bool)
    rx[1] = False
    part = E.depacketize(packets, rx, layout)
    assert part.packets_lost == [1] and part.missing.sum() == layout.per_packet
    assert np.array_equal(part.latent[~part.missing], q[~part.missing])
    # scattered: the lost values fall in every patch and are not one run of the flat latent
    idx = np.flatnonzero(part.missing.ravel())
    assert part.missing.any(axis=(1, 2, 3)).all()
    assert np.diff(idx).max() > 10 * np.diff(idx).min()
    assert len(np.unique(idx // (cfg.n_latent // 16))) > 8
    # both ends derive the permutation from the seed alone; another seed, another scattering
    assert np.array_equal(E.shuffle_permutation(layout.n, 7), layout.permutation())
    assert not np.array_equal(E.shuffle_permutation(layout.n, 8), layout.permutation())
    assert np.array_equal(np.sort(layout.permutation()), np.arange(layout.n))
    # bad input
    with pytest.raises(ValueError, match="shape"):
        E.packetize(q[:2], layout)
    with pytest.raises(lora.PacketError, match="packets"):
        E.depacketize_received(packets, E.LatentLayout(cfg.latent_shape, cfg.bins, 115, 7))
    with pytest.raises(lora.PacketError, match="over the 255"):
        E.LatentLayout((16, 64, 64, 8), 256, 51)
    with pytest.raises(ValueError, match="received mask"):
        E.depacketize(packets, rx[:-1], layout)


# ------------------------------------------------------------------------------ training

def test_smoke_train_lowers_loss_and_resumes(tmp_path):
    cfg = CodecConfig(patches=4, layers=2, channels=(8, 8), latent_channels=4, bins=8, drop_rate=0.1,
                      image_size=(64, 64))
    x = smooth_images(8, 64)
    first = train(cfg, x, 1, work_dir=tmp_path, batch=2, lr=3e-3, log=False)
    assert first.resumed_from == 0 and (tmp_path / "last.weights.npz").is_file()
    done = train(cfg, x, 2, work_dir=tmp_path, batch=2, lr=3e-3, log=False)
    assert done.resumed_from == 1 and [h["epoch"] for h in done.history] == [0, 1, 2]
    h = done.history
    assert h[2]["eval_loss"] < h[0]["eval_loss"] and h[2]["train_loss"] < h[1]["train_loss"]
    assert all(r["nonfinite_steps"] == 0 for r in h)
    with pytest.raises(ValueError, match="another configuration"):
        train(dataclasses.replace(cfg, bins=9), x, 2, work_dir=tmp_path, batch=2, lr=3e-3, log=False)


def test_training_ms_ssim_is_the_standard_one_with_finite_gradients():
    """Where every term is positive it equals tf.image.ssim_multiscale; on an anti-correlated output
    (negative contrast-structure terms, as an untrained decoder gives) TF's is NaN, ours finite."""
    import tensorflow as tf
    from toolchain.codecs.image.codec_model import ms_ssim_train
    rng = np.random.default_rng(3)
    x = rng.random((2, 176, 176, 3)).astype(np.float32)
    x = (x + np.roll(x, 1, 1) + np.roll(x, 1, 2)) / 3  # some structure
    y = np.clip(x + rng.normal(0, 0.03, x.shape), 0, 1).astype(np.float32)
    ours = ms_ssim_train(tf.constant(x), tf.constant(y), 5).numpy()
    ref = tf.image.ssim_multiscale(tf.constant(x), tf.constant(y), 1.0).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    flat = tf.Variable(1.0 - x)
    with tf.GradientTape(persistent=True) as tape:
        a = tf.reduce_sum(ms_ssim_train(tf.constant(x), flat, 5))
        b = tf.reduce_sum(tf.image.ssim_multiscale(tf.constant(x), flat, 1.0))
    assert np.isfinite(float(a)) and bool(tf.reduce_all(tf.math.is_finite(tape.gradient(a, flat))))
    assert not np.isfinite(float(b)) or not bool(tf.reduce_all(tf.math.is_finite(tape.gradient(b, flat))))
