"""The non-learned half of the image codec work (issue 14): data, metrics, JPEG/WebP, LoRa, loss.

Everything runs on the real flowers_227 and Kodak files; TensorFlow is only the reference for
MS-SSIM. Fast: well under a minute on a 2-core machine, most of it TensorFlow's import.
"""
import math

import numpy as np
import pytest
from PIL import Image

from toolchain.codecs.image import dataset, jpeg, jpeg_loss, lora, metrics
from toolchain.codecs.image.dataset import ImageDataError


@pytest.fixture(scope="module")
def flowers_test():
    return dataset.flowers("test")


@pytest.fixture(scope="module")
def img(flowers_test):
    """One held-out flower, 224x224 center crop."""
    return dataset.load_record(flowers_test[0]).pixels


@pytest.fixture(scope="module")
def kodak_img():
    return dataset.load_record(dataset.kodak()[22], fit="resize_crop").pixels


# ------------------------------------------------------------------------------ dataset

def test_flowers_split_is_every_fifth_image_per_class_by_name():
    train, test = dataset.flowers("train"), dataset.flowers("test")
    assert (len(train), len(test)) == (600, 150)
    assert not {r.path for r in train} & {r.path for r in test}
    for k, cls in enumerate(dataset.FLOWER_CLASSES):
        names = sorted(r.name for r in train + test if r.label == cls)
        assert len(names) == 150
        assert [r.name for r in test if r.label == cls] == names[4::5]
        assert {r.label_index for r in train + test if r.label == cls} == {k}
        assert all(r.path.parent.name == cls for r in train + test if r.label == cls)


def test_kodak_is_test_only():
    recs = dataset.kodak()
    assert [r.name for r in recs] == [f"kodim{i:02d}.png" for i in range(1, 25)]
    assert {r.split for r in recs} == {"test"}
    with pytest.raises(ValueError, match="test only"):
        dataset.records("kodak", "train")


def test_default_load_is_a_224_center_crop_without_resampling(flowers_test):
    rec = flowers_test[3]
    raw = np.asarray(Image.open(rec.path).convert("RGB"))
    got = dataset.load_record(rec)
    assert got.pixels.dtype == np.uint8 and got.pixels.shape == (224, 224, 3)
    assert raw.shape == (227, 227, 3)
    assert np.array_equal(got.pixels, raw[1:225, 1:225])
    assert not got.grayscale and got.source_size == (227, 227)
    k = dataset.load_record(dataset.kodak()[0], fit="resize_crop")       # 768x512 -> 336x224 -> crop
    assert k.pixels.shape == (224, 224, 3) and k.source_size == (768, 512)
    assert dataset.load_array(flowers_test[:3]).shape == (3, 224, 224, 3)


# ------------------------------------------------------------------------------ bad inputs

def test_a_non_image_file_names_the_file(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not an image")
    with pytest.raises(ImageDataError, match=r"notes\.jpg: not an image"):
        dataset.load_image(p)


@pytest.mark.parametrize("which", ["jpeg", "png"])
def test_a_truncated_file_is_an_error_not_a_partial_image(tmp_path, flowers_test, which):
    src = flowers_test[0].path if which == "jpeg" else dataset.kodak()[0].path
    data = src.read_bytes()
    p = tmp_path / f"cut{src.suffix}"
    p.write_bytes(data[:len(data) // 2])
    with pytest.raises(ImageDataError, match=r"cut\.(jpg|png): damaged or truncated"):
        dataset.load_image(p, fit="none")


def test_grayscale_is_converted_and_flagged(tmp_path, img):
    p = tmp_path / "gray.png"
    Image.fromarray(img).convert("L").save(p)
    got = dataset.load_image(p)
    assert got.grayscale and got.source_mode == "L" and got.pixels.shape == (224, 224, 3)
    assert np.array_equal(got.pixels[..., 0], got.pixels[..., 1])
    assert np.array_equal(got.pixels[..., 1], got.pixels[..., 2])
    p16 = tmp_path / "gray16.png"
    Image.fromarray((img[..., 0].astype(np.uint16) * 257)).save(p16)   # 16-bit: scaled, not clipped
    assert np.array_equal(dataset.load_image(p16).pixels[..., 0], img[..., 0])


def test_odd_sized_images_name_the_file(tmp_path, img):
    p = tmp_path / "wide.png"
    Image.fromarray(img[:100]).save(p)                          # 224 wide, 100 high
    with pytest.raises(ImageDataError, match=r"wide\.png: 224x100 is smaller than the 224x224 center crop"):
        dataset.load_image(p)
    assert dataset.load_image(p, fit="resize_crop").pixels.shape == (224, 224, 3)
    rec = dataset.ImageRecord("flowers", p, "test", "daisy", 0)
    with pytest.raises(ImageDataError, match=r"wide\.png: 224x100, but flowers images are 227x227"):
        dataset.load_record(rec, fit="resize_crop")


def test_metric_inputs_are_checked(img):
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(img, img[:100])
    with pytest.raises(ValueError, match="uint8"):
        metrics.ms_ssim(img, img.astype(np.float32))
    with pytest.raises(ValueError, match="at least 161"):
        metrics.ms_ssim(img[:150, :150], img[:150, :150])


# ------------------------------------------------------------------------------ metrics

def test_identical_images_score_perfectly(img):
    assert metrics.psnr(img, img) == math.inf
    assert metrics.ms_ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert metrics.ms_ssim(img, img, "luma") == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_a_known_error(img):
    off = img.astype(np.int16) + np.where(img < 128, 1, -1)     # every value off by exactly 1
    assert metrics.psnr(img, off.astype(np.uint8)) == pytest.approx(20 * math.log10(255), abs=1e-9)


def test_ms_ssim_matches_tensorflow(flowers_test, kodak_img):
    import tensorflow as tf
    cases = []
    for rec in flowers_test[:2]:
        a = dataset.load_record(rec).pixels
        cases.append((a, jpeg.encode_jpeg(a, 10, "paper").image))
        cases.append((a, jpeg.encode_webp(a, 5).image))
    raw = dataset.load_image(flowers_test[2].path, fit="none").pixels     # 227x227: odd sides pad
    cases.append((raw, jpeg.encode_jpeg(raw, 20, "optimized").image))
    cases.append((kodak_img, jpeg.encode_jpeg(kodak_img, 5, "optimized").image))
    for a, b in cases:
        want = float(tf.image.ssim_multiscale(a[None], b[None], 255)[0])
        got = metrics.ms_ssim(a, b)
        assert abs(got - want) < 1e-3 and got < 0.999
        y = lambda x: (x.astype(np.float64) / 255 @ np.array(metrics.LUMA_BT601))[None, ..., None].astype(np.float32)
        want_y = float(tf.image.ssim_multiscale(y(a), y(b), 1.0)[0])
        assert abs(metrics.ms_ssim(a, b, "luma") - want_y) < 1e-3


# ------------------------------------------------------------------------------ JPEG / WebP

def test_paper_and_optimized_jpeg_are_what_they_say(img):
    paper = jpeg_loss.parse_header(jpeg.encode_jpeg(img, 50, "paper").data)[0]
    assert (paper["mcu_w"], paper["mcu_h"]) == (8, 8)                 # 4:4:4
    opt = jpeg.encode_jpeg(img, 50, "optimized")
    if opt.progressive:
        assert b"\xff\xc2" in opt.data
    base = jpeg.encode_jpeg(img, 50, "optimized", restart_rows=1)      # restart: baseline 4:2:0
    info = jpeg_loss.parse_header(base.data)[0]
    assert (info["mcu_w"], info["mcu_h"], info["restart_interval"]) == (16, 16, 14)
    assert opt.nbytes < jpeg.encode_jpeg(img, 50, "paper").nbytes
    with pytest.raises(ValueError, match="1..100"):
        jpeg.encode_jpeg(img, 0)
    with pytest.raises(ValueError, match="paper, optimized"):
        jpeg.encode_jpeg(img, 50, "turbo")


@pytest.mark.parametrize("method", jpeg.BASELINES)
def test_quality_search_fits_the_budget_and_is_monotone(kodak_img, method):
    encode = {"jpeg-paper": lambda q: jpeg.encode_jpeg(kodak_img, q, "paper"),
              "jpeg-optimized": lambda q: jpeg.encode_jpeg(kodak_img, q, "optimized"),
              "webp": lambda q: jpeg.encode_webp(kodak_img, q)}[method]
    hi = jpeg.WEBP_QUALITIES[1] if method == "webp" else jpeg.JPEG_QUALITIES[1]
    prev = None
    for budget in (2500, 3000, 4000, 6000):
        e = jpeg.at_budget(method, kodak_img, budget)
        assert e.nbytes <= budget and e.image.shape == kodak_img.shape
        assert e.nbytes == len(e.data) and e.bpp == pytest.approx(8 * e.nbytes / 224 ** 2)
        for q in range(e.quality + 1, min(hi, e.quality + jpeg.LOOKAHEAD) + 1):
            assert encode(q).nbytes > budget                        # the next qualities do not fit
        if prev is not None:
            assert e.quality >= prev.quality and e.nbytes >= prev.nbytes
        prev = e
    with pytest.raises(jpeg.BudgetTooSmall, match="over the budget of 100 B") as err:
        jpeg.at_budget(method, kodak_img, 100)
    assert err.value.smallest > 100


# ------------------------------------------------------------------------------ LoRa

@pytest.mark.parametrize("payload, sf, bw, cr, expect_ms", [
    # By hand from the SX1276 data sheet formula (module docstring), 8-symbol preamble:
    (20, 7, 125_000, 1, 56.576),     # Tsym 1.024 ms; ceil(176/28)=7 -> 35+8+12.25 = 55.25 sym (Semtech calc: 56.6 ms)
    (51, 12, 125_000, 1, 2465.792),  # Tsym 32.768 ms, DE=1: ceil(404/40)=11 -> 55+8+12.25 = 75.25 sym
    (51, 11, 125_000, 1, 1314.816),  # Tsym 16.384 ms > 16 ms, DE=1: ceil(408/36)=12 -> 80.25 sym (70.25 without DE)
    (51, 10, 125_000, 1, 616.448),   # Tsym 8.192 ms, DE=0: ceil(412/40)=11 -> 75.25 sym
    (50, 9, 250_000, 4, 238.08),     # Tsym 2.048 ms, CR 4/8: ceil(408/36)=12 -> 96+8+12.25 = 116.25 sym
])
def test_lora_time_on_air_matches_hand_computed_values(payload, sf, bw, cr, expect_ms):
    assert lora.time_on_air_s(payload, sf, bw, cr) * 1e3 == pytest.approx(expect_ms, abs=1e-6)


def test_lora_parameters_and_payload_limits():
    assert [lora.low_data_rate_optimize(sf) for sf in lora.SPREADING_FACTORS] == [False] * 4 + [True] * 2
    assert not lora.low_data_rate_optimize(11, 250_000)
    assert [lora.max_payload(sf) for sf in (12, 11, 10, 9, 8, 7)] == [51, 51, 51, 115, 242, 242]
    assert lora.max_payload(7, 250_000) == 242
    with pytest.raises(ValueError, match="no EU868 data rate"):
        lora.max_payload(12, 250_000)
    with pytest.raises(ValueError, match="spreading factor 6"):
        lora.time_on_air_s(10, 6)
    with pytest.raises(ValueError, match="bandwidth 500000"):
        lora.time_on_air_s(10, 7, 500_000)
    with pytest.raises(ValueError, match="coding rate 5"):
        lora.time_on_air_s(10, 7, 125_000, 5)
    with pytest.raises(ValueError, match="0..255"):
        lora.time_on_air_s(256, 7)
    link = lora.LoRaLink(sf=12)
    assert link.payload_bytes == 51 and link.data_per_packet == 47
    assert link.packet_airtime_s(51) == lora.time_on_air_s(51 + 13, 12)   # LoRaWAN framing counted
    assert lora.duty_cycle_off_s(1.0) == pytest.approx(99.0)


def test_radio_energy_from_the_board_file_or_parameters():
    link = lora.LoRaLink.from_board("msp430f5529")       # [energy] radio = "sx1276-sf7"
    assert (link.sf, link.payload_bytes, link.voltage_v, link.tx_a) == (7, 242, 3.3, 0.029)
    assert "msp430f5529" in link.source
    packets = lora.packetize(bytes(1000), 1, link.payload_bytes)
    assert link.energy_j(packets) == pytest.approx(3.3 * 0.029 * link.airtime_s(packets))
    with pytest.raises(ValueError, match="names no radio"):
        lora.LoRaLink.from_board("k210")
    with pytest.raises(ValueError, match="not a LoRa radio"):
        lora.LoRaLink.from_board("msp430f1611")           # CC2420
    own = lora.LoRaLink(sf=9, voltage_v=3.0, tx_a=0.12)    # e.g. +20 dBm PA_BOOST
    assert own.energy_j([115]) == pytest.approx(3.0 * 0.12 * lora.time_on_air_s(128, 9))
    with pytest.raises(ValueError, match="no voltage_v / tx_a"):
        lora.LoRaLink(sf=9).energy_j([10])


@pytest.mark.parametrize("n", [0, 1, 47, 48, 1000, 47 * 255])
def test_packetization_round_trips(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    packets = lora.packetize(data, 513, 51)
    assert all(len(p) <= 51 for p in packets) and len(packets) == max(1, math.ceil(n / 47))
    assert [len(p) for p in packets] == lora.packet_lengths(n, 51)
    assert all(lora.parse_header(p)[:3] == (513, i, len(packets)) for i, p in enumerate(packets))
    shuffled = [packets[i] for i in np.random.default_rng(1).permutation(len(packets))]
    got = lora.depacketize(shuffled + shuffled[:2])               # duplicates are harmless
    assert got.complete and got.data == data
    if len(packets) > 2:
        part = lora.depacketize(packets[:1] + packets[2:])
        assert part.missing == [1]
        with pytest.raises(lora.PacketError, match=r"packets \[1\]"):
            part.data


def test_packetization_errors():
    with pytest.raises(lora.PacketError, match="over the 255"):
        lora.packetize(bytes(47 * 255 + 1), 0, 51)
    with pytest.raises(lora.PacketError, match="shorter than the 4-byte header"):
        lora.depacketize([b"\x00\x01"])
    with pytest.raises(lora.PacketError, match="not to image"):
        lora.depacketize(lora.packetize(b"a" * 100, 1, 51)[:1] + lora.packetize(b"a" * 100, 2, 51)[1:])


def test_loss_models_are_seeded_and_hit_their_rates():
    a, b = lora.iid_loss(100_000, 0.2, seed=7), lora.iid_loss(100_000, 0.2, seed=7)
    assert np.array_equal(a, b) and abs(a.mean() - 0.2) < 0.01
    burst = lora.loss_mask(200_000, 0.2, "burst", mean_burst=4.0, seed=3)
    assert abs(burst.mean() - 0.2) < 0.01
    starts = np.flatnonzero(burst[1:] & ~burst[:-1])
    ends = np.flatnonzero(~burst[1:] & burst[:-1])
    runs = ends[ends > starts[0]][:len(starts) - 1] - starts[:len(starts) - 1]
    assert abs(runs.mean() - 4.0) < 0.2                             # mean burst length 1 / r
    assert not np.array_equal(burst, lora.loss_mask(200_000, 0.2, "burst", mean_burst=4.0, seed=4))


# ------------------------------------------------------------------------------ JPEG under loss

@pytest.fixture(scope="module")
def rst(img):
    """A 4:4:4 JPEG-RST (one interval per MCU row) in 51-byte packets."""
    e = jpeg_loss.encode_rst(img, 40, "paper", restart_rows=1)
    return e, jpeg_loss.packetize_jpeg(e.data, 9, 51)


def test_jpeg_rst_packets_decode_exactly_without_loss(rst):
    e, pk = rst
    assert all(len(p) <= 51 for p in pk.packets) and pk.header_packets >= 1
    assert pk.layout.n_intervals == 28 and pk.layout.restart_interval == 28
    assert sum(len(p) - 6 for p in pk.packets) == len(e.data)        # the file, plus 6 B a packet
    got = jpeg_loss.receive_jpeg(list(reversed(pk.packets)))
    assert got.complete and got.decodable and got.lost_fraction == 0.0
    assert np.array_equal(got.image, e.image)


def test_lost_interval_packets_are_concealed_and_flagged(rst, img):
    e, pk = rst
    drop = {pk.header_packets + 3, pk.header_packets + 10}
    got = jpeg_loss.receive_jpeg([p for i, p in enumerate(pk.packets) if i not in drop])
    assert got.image.shape == (224, 224, 3) and got.decodable and not got.complete
    assert got.lost_packets == sorted(drop) and got.lost_intervals and "restart intervals lost" in got.note
    m = got.lost_mask
    assert 0 < got.lost_fraction < 0.5 and m.sum() == len(got.lost_intervals) * 8 * 224
    assert (got.image[m] == 128).all()
    assert np.array_equal(got.image[~m], e.image[~m])                  # 4:4:4: the rest is untouched
    assert metrics.psnr(img, got.image) < metrics.psnr(img, e.image)
    prev = jpeg_loss.receive_jpeg([p for i, p in enumerate(pk.packets) if i not in drop], "previous")
    rows = np.flatnonzero(prev.lost_mask.any(axis=1))
    assert rows[0] > 0 and np.array_equal(prev.image[rows[0]], prev.image[rows[0] - 1])


def test_split_intervals_need_all_their_pieces(img):
    e = jpeg_loss.encode_rst(img, 75, "optimized", restart_rows=1)     # intervals > one packet
    pk = jpeg_loss.packetize_jpeg(e.data, 0, 51)
    conts = [i for i, p in enumerate(pk.packets)
             if i >= pk.header_packets and int.from_bytes(p[4:6], "little") & jpeg_loss.CONT_FLAG]
    assert conts and all(p[-1] != 0xFF for p in pk.packets[pk.header_packets:])   # no marker cut in two
    assert np.array_equal(jpeg_loss.receive_jpeg(pk.packets).image, e.image)
    gone = pk.packets[conts[0]]
    first = int.from_bytes(gone[4:6], "little") & jpeg_loss.MAX_INTERVALS
    touched = list(range(first, first + len(jpeg_loss.split_entropy(gone[6:]))))
    got = jpeg_loss.receive_jpeg([p for i, p in enumerate(pk.packets) if i != conts[0]])
    assert got.lost_intervals == touched and got.decodable          # the split one and any after it there
    near = np.zeros_like(got.lost_mask)                                # 4:2:0: chroma bleeds 2 px
    ys, xs = np.nonzero(got.lost_mask)
    near[max(ys.min() - 2, 0):ys.max() + 3, max(xs.min() - 2, 0):xs.max() + 3] = True
    assert np.array_equal(got.image[~near], e.image[~near])


def test_a_lost_header_leaves_nothing_decodable(rst):
    _, pk = rst
    got = jpeg_loss.receive_jpeg(pk.packets[1:])
    assert not got.decodable and got.lost_fraction == 1.0 and (got.image == 128).all()
    assert "header lost" in got.note


@pytest.mark.parametrize("model", ["iid", "burst"])
def test_random_loss_at_20_percent_gives_a_full_flagged_image(img, model):
    link = lora.LoRaLink(sf=12)
    budget = link.airtime_for_bytes(1500)
    e, pk = jpeg_loss.jpeg_rst_at_airtime(img, link, budget, "optimized")
    assert link.airtime_s(pk.packets) <= budget
    lost = lora.loss_mask(len(pk.packets), 0.2, model, seed=5)
    lost[:pk.header_packets] = False                                  # a header sent reliably
    got = jpeg_loss.receive_jpeg(lora.deliver(pk.packets, lost))
    assert got.image.shape == img.shape and got.decodable
    assert got.complete == (not lost.any())
    assert metrics.ms_ssim(img, got.image) <= metrics.ms_ssim(img, e.image)


def test_non_restart_jpegs_are_refused(img):
    with pytest.raises(jpeg_loss.JpegStructureError, match="no restart interval"):
        jpeg_loss.packetize_jpeg(jpeg.encode_jpeg(img, 50, "paper").data, 0, 51)
    prog = jpeg._save(img, "JPEG", quality=50, progressive=True)
    with pytest.raises(jpeg_loss.JpegStructureError, match="progressive"):
        jpeg_loss.parse_jpeg(prog)


# ------------------------------------------------------------------------------ JPEG + zfec

def test_zfec_recovers_any_m_losses_at_equal_airtime(img):
    link = lora.LoRaLink(sf=12)
    budget = link.airtime_for_bytes(1500)              # what a 1500-byte code of ours costs on air
    e, packets, plan = jpeg_loss.jpeg_fec_at_airtime(img, link, budget, parity=0.2)
    assert plan.m == math.ceil(0.2 * plan.n) and plan.k + plan.m == len(packets)
    assert link.airtime_s(packets) <= budget and e.nbytes <= plan.data_bytes
    rng = np.random.default_rng(0)
    for _ in range(5):
        drop = set(rng.choice(plan.n, plan.m, replace=False).tolist())
        got = jpeg_loss.fec_decode([p for i, p in enumerate(packets) if i not in drop])
        assert got.recovered and got.data == e.data
        shown = jpeg_loss.receive_jpeg_fec([p for i, p in enumerate(packets) if i not in drop])
        assert shown.complete and np.array_equal(shown.image, e.image)
    # m + 1 lost: no exact recovery; the systematic prefix still decodes by restart interval
    drop = set(range(plan.k - 1, plan.n))                            # the last data share and all parity
    got = jpeg_loss.receive_jpeg_fec([p for i, p in enumerate(packets) if i not in drop])
    assert not got.complete and got.decodable and 0 < got.lost_fraction < 1
    assert "< k" in got.note and got.image.shape == img.shape
    got = jpeg_loss.receive_jpeg_fec(packets[plan.m + 1:])             # share 0 (the header) lost too
    assert not got.decodable and (got.image == 128).all()
