"""The image codec's host encoder and LoRa gateway (toolchain/codecs/image/gateway.py): pictures
-> `tinycodec image-encode` -> packets file -> `tinycodec decode --format png` -> PNG files, from
the file and from Semtech UDP uplinks on a real 127.0.0.1 socket; and bad input on both sides
(files that are no image or are cut short, grayscale and odd-sized pictures, lost, malformed and
foreign packets, garbage datagrams).

The codec is an untrained one (seeded) at 32x32: the gateway has to reproduce Codec.decode of the
latents it was sent, which any weights test as well as trained ones.
"""
from __future__ import annotations

import base64
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from host_tools.semtech_udp import PROTOCOL_VERSION, PULL_ACK, PULL_DATA, PUSH_ACK, push_data
from toolchain import REPO_ROOT
from toolchain.codecs.image import entropy, gateway, lora

SIZE = 32
PAYLOAD = 40      # 36 data bytes: 72 four-bit values (12 levels) a packet, 256 values -> 4 packets an image


def smooth(h: int, w: int, seed: int) -> np.ndarray:
    """uint8 (h, w, 3): a bilinear blow-up of a random 4x4 colour grid."""
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 255, (4, 4, 3))
    ys, xs = np.linspace(0, 3, h), np.linspace(0, 3, w)
    iy, ix = np.minimum(ys.astype(int), 2), np.minimum(xs.astype(int), 2)
    fy, fx = (ys - iy)[:, None, None], (xs - ix)[None, :, None]
    a = lo[iy][:, ix] * (1 - fy) * (1 - fx) + lo[iy + 1][:, ix] * fy * (1 - fx) \
        + lo[iy][:, ix + 1] * (1 - fy) * fx + lo[iy + 1][:, ix + 1] * fy * fx
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from toolchain.codecs.image.artifacts import save_codec
    from toolchain.codecs.image.codec_model import Codec, CodecConfig
    from toolchain.train.zoo.common import _seed
    _seed(0)
    cfg = CodecConfig(patches=4, layers=2, channels=(8, 8), latent_channels=4, bins=12, image_size=(SIZE, SIZE))
    return save_codec(Codec.build(cfg), tmp_path_factory.mktemp("codec") / "tiny")


@pytest.fixture(scope="module")
def codec(model_dir):
    from toolchain.codecs.image.artifacts import load_codec
    return load_codec(model_dir)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """Good and bad input files."""
    from PIL import Image
    d = tmp_path_factory.mktemp("pictures")
    p = {"exact": d / "exact.png", "photo": d / "photo.jpg", "wide": d / "wide.png", "gray": d / "gray.png",
         "odd": d / "odd_300x199.png", "tiny": d / "tiny.png", "text": d / "notes.png",
         "cut_png": d / "cut.png", "cut_jpg": d / "cut.jpg"}
    Image.fromarray(smooth(SIZE, SIZE, 1)).save(p["exact"])
    Image.fromarray(smooth(60, 80, 2)).save(p["photo"], quality=90)
    Image.fromarray(smooth(40, 64, 3)).save(p["wide"])
    Image.fromarray(smooth(48, 48, 4)[..., 0]).save(p["gray"])          # mode L
    Image.fromarray(smooth(199, 300, 5)).save(p["odd"])
    Image.fromarray(smooth(20, 24, 6)).save(p["tiny"])
    p["text"].write_text("not a picture, whatever the name says\n")
    noise = np.random.default_rng(7).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(d / "full.png")
    Image.fromarray(noise).save(d / "full.jpg", quality=95)
    for key, full in (("cut_png", d / "full.png"), ("cut_jpg", d / "full.jpg")):
        b = full.read_bytes()
        p[key].write_bytes(b[:len(b) // 2])
    return p


def encode(model_dir, out, *images, extra=()) -> int:
    return gateway.encode_main([*map(str, images), "--model", str(model_dir), "--out", str(out),
                                "--payload", str(PAYLOAD), *extra])


def decode(model_dir, out_dir, *source, extra=(), on_listen=None) -> int:
    return gateway.decode_main(["--format", "png", "--model", str(model_dir), "--out", str(out_dir), *source,
                                *extra], on_listen=on_listen)


def summary(out_dir: Path) -> dict[int, dict]:
    with open(out_dir / gateway.SUMMARY, newline="") as f:
        return {int(r["image_id"]): r for r in csv.DictReader(f)}


def png(path: Path) -> tuple[np.ndarray, dict]:
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")), dict(im.text)


def by_image(records) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    for _, _, p in records:
        out.setdefault(lora.parse_header(p)[0], []).append(p)
    return out


def expected_pixels(codec, packets: list[bytes], image_id: int) -> np.ndarray:
    """What Codec.decode makes of the latent these shuffled packets carry."""
    lay = entropy.LatentLayout(codec.config.latent_shape, codec.config.bins, PAYLOAD)
    rx = entropy.depacketize_received(packets, lay, image_id)
    return codec.decode(rx.latent[None], rx.missing[None])[0]


# ------------------------------------------------------------------------------ round trips

@pytest.mark.parametrize("coding", ["shuffled", "huffman", "range"])
def test_pictures_round_trip_through_a_packets_file(model_dir, codec, pictures, tmp_path, coding, capsys):
    srcs = [pictures["exact"], pictures["photo"], pictures["wide"]]
    assert encode(model_dir, tmp_path / "p.bin", *srcs, extra=["--coding", coding, "--first-id", "7"]) == 0
    pf = gateway.read_packets_file(tmp_path / "p.bin")
    assert [im["id"] for im in pf.header["images"]] == [7, 8, 9] and not pf.problems
    assert pf.header["layout"]["coding"] == coding and pf.header["layout"]["payload_bytes"] == PAYLOAD
    assert all(len(p) <= PAYLOAD for _, _, p in pf.records)
    assert decode(model_dir, tmp_path / "out", "--file", str(tmp_path / "p.bin")) == 0
    rows = summary(tmp_path / "out")
    assert sorted(rows) == [7, 8, 9]
    for k, src in zip((7, 8, 9), srcs):
        # the latent the camera sends is the codec's encoding of the fitted picture
        pic = gateway.load_picture(src, (SIZE, SIZE))
        q = codec.encode(pic.pixels[None])[0]
        pkts = by_image(pf.records)[k]
        assert pkts == gateway.packets_of(q, codec.config, coding, PAYLOAD, 0, k)
        got, text = png(tmp_path / "out" / f"img{k:05d}.png")
        assert np.array_equal(got, codec.decode(q[None])[0])
        assert text["tinycodec.status"] == "complete" and text["tinycodec.image_id"] == str(k)
        r = rows[k]
        assert (r["status"], r["packets_received"], r["packets_expected"], r["missing_fraction"]) == \
            ("complete", str(len(pkts)), str(len(pkts)), "0.000000")
        assert r["source"] == str(src) and r["png"] == f"img{k:05d}.png"
    if coding == "shuffled":
        assert [len(v) for v in by_image(pf.records).values()] == [4, 4, 4]
    out = capsys.readouterr().out
    assert "images: 3 complete, 0 partial, 0 undecodable" in out
    assert np.array_equal(gateway.load_picture(pictures["exact"], (SIZE, SIZE)).pixels, smooth(SIZE, SIZE, 1))


def test_lost_packets_give_a_flagged_partial_image_and_a_reported_loss(model_dir, codec, pictures, tmp_path):
    srcs = [pictures["exact"], pictures["photo"], pictures["wide"]]
    assert encode(model_dir, tmp_path / "p.bin", *srcs) == 0
    pf = gateway.read_packets_file(tmp_path / "p.bin")
    pk = by_image(pf.records)
    kept = [p for p in pk[0] if lora.parse_header(p)[1] != 2] + pk[2]      # image 0 loses packet 2; image 1 all
    gateway.write_packets_file(tmp_path / "lossy.bin", pf.header, kept)
    assert decode(model_dir, tmp_path / "out", "--file", str(tmp_path / "lossy.bin")) == 1   # image 1 lost
    rows = summary(tmp_path / "out")
    r0, r1, r2 = rows[0], rows[1], rows[2]
    assert (r0["status"], r0["packets_received"], r0["packets_expected"], r0["lost_packets"]) == \
        ("partial", "3", "4", "2")
    assert float(r0["missing_fraction"]) == 72 / 256
    got, text = png(tmp_path / "out" / "img00000.png")
    assert np.array_equal(got, expected_pixels(codec, pk[0][:2] + pk[0][3:], 0))
    assert text["tinycodec.status"] == "partial" and text["tinycodec.lost_packets"] == "2"
    assert "partial" in text["Comment"] and text["tinycodec.packets"] == "3/4"
    assert (r1["status"], r1["png"], r1["note"]) == ("undecodable", "", "no valid packet received")
    assert not (tmp_path / "out" / "img00001.png").exists()
    assert r2["status"] == "complete"
    # fewer packets than --max-missing allows: reported, not drawn
    assert decode(model_dir, tmp_path / "out2", "--file", str(tmp_path / "lossy.bin"),
                  extra=["--max-missing", "0.1", "--ids", "0"]) == 1
    assert summary(tmp_path / "out2")[0]["status"] == "undecodable"
    assert "over --max-missing 0.1" in summary(tmp_path / "out2")[0]["note"]
    assert not (tmp_path / "out2" / "img00000.png").exists() and sorted(summary(tmp_path / "out2")) == [0]


def test_an_entropy_coded_image_with_a_lost_packet_is_undecodable(model_dir, pictures, tmp_path, capsys):
    assert encode(model_dir, tmp_path / "p.bin", pictures["photo"], pictures["exact"],
                  extra=["--coding", "huffman", "--payload", "24"]) == 0
    pf = gateway.read_packets_file(tmp_path / "p.bin")
    pk = by_image(pf.records)
    assert len(pk[0]) >= 2
    gateway.write_packets_file(tmp_path / "lossy.bin", pf.header, pk[0][1:] + pk[1])
    assert decode(model_dir, tmp_path / "out", "--file", str(tmp_path / "lossy.bin")) == 1
    rows = summary(tmp_path / "out")
    assert rows[0]["status"] == "undecodable" and "needs every packet" in rows[0]["note"]
    assert rows[1]["status"] == "complete"
    assert "image 0: undecodable" in capsys.readouterr().out


# ------------------------------------------------------------------------------ bad pictures

def test_image_encode_reports_bad_files_and_keeps_the_good_ones(model_dir, codec, pictures, tmp_path, capsys):
    files = [pictures[k] for k in ("text", "exact", "cut_png", "gray", "cut_jpg", "odd", "tiny")]
    assert encode(model_dir, tmp_path / "p.bin", *files) == 1
    cap = capsys.readouterr()
    err = cap.err
    assert f"skipped {pictures['text']}: not an image Pillow can read" in err
    assert f"skipped {pictures['cut_png']}: damaged or truncated image file" in err
    assert f"skipped {pictures['cut_jpg']}: damaged or truncated image file" in err
    assert f"skipped {pictures['tiny']}: 24x20 is too small for the codec's 32x32" in err and "--upscale" in err
    assert "grayscale (L): the gray value copied to R, G and B" in cap.out
    assert "300x199 scaled to 48x32 (Lanczos), center-cropped to 32x32" in cap.out
    assert "4 file(s) skipped" in cap.out
    pf = gateway.read_packets_file(tmp_path / "p.bin")
    assert [(im["id"], Path(im["source"]).name) for im in pf.header["images"]] == \
        [(0, "exact.png"), (1, "gray.png"), (2, "odd_300x199.png")]
    gray = gateway.load_picture(pictures["gray"], (SIZE, SIZE))
    assert gray.source_size == (48, 48) and (gray.pixels == gray.pixels[..., :1]).all()
    assert decode(model_dir, tmp_path / "out", "--file", str(tmp_path / "p.bin")) == 0
    got, _ = png(tmp_path / "out" / "img00001.png")
    assert np.array_equal(got, codec.decode(codec.encode(gray.pixels[None]))[0])
    # the other fits: a center crop of the odd-sized picture, an enlarged tiny one
    odd = gateway.load_picture(pictures["odd"], (SIZE, SIZE), "center_crop")
    assert odd.notes == ["300x199 center-cropped to 32x32"]
    assert np.array_equal(odd.pixels, smooth(199, 300, 5)[83:115, 134:166])
    assert encode(model_dir, tmp_path / "t.bin", pictures["tiny"], extra=["--upscale"]) == 0
    assert "24x20 enlarged to 38x32 (Lanczos)" in capsys.readouterr().out
    assert encode(model_dir, tmp_path / "c.bin", pictures["tiny"], extra=["--fit", "center_crop"]) == 1
    assert "too small for the codec's 32x32 center crop" in capsys.readouterr().err
    assert not (tmp_path / "c.bin").exists()          # nothing encodable: nothing written


def test_bad_arguments_and_files_are_clear_errors(model_dir, pictures, tmp_path, capsys):
    assert encode(tmp_path / "no-such-codec", tmp_path / "p.bin", pictures["exact"]) == 2
    assert "image codec" in capsys.readouterr().err
    assert encode(model_dir, tmp_path / "p.bin", pictures["exact"], extra=["--payload", "4"]) == 2
    assert "payload 4 B" in capsys.readouterr().err
    assert decode(model_dir, tmp_path / "o", "--file", str(pictures["exact"])) == 2
    assert "not a tinycodec image packets file" in capsys.readouterr().err
    assert encode(model_dir, tmp_path / "p.bin", pictures["exact"]) == 0
    b = (tmp_path / "p.bin").read_bytes()
    (tmp_path / "h.bin").write_bytes(b[:20])
    assert decode(model_dir, tmp_path / "o", "--file", str(tmp_path / "h.bin")) == 2
    assert "truncated" in capsys.readouterr().err
    assert decode(model_dir, tmp_path / "o", "--file", str(tmp_path / "p.bin"), extra=["--payload", "115"]) == 2
    assert "--payload 115: the packets file" in capsys.readouterr().err
    # a codec of another shape
    from toolchain.codecs.image.artifacts import save_codec
    from toolchain.codecs.image.codec_model import Codec, CodecConfig
    other = save_codec(Codec.build(CodecConfig(patches=1, layers=1, channels=(4,), latent_channels=2, bins=4,
                                               image_size=(SIZE, SIZE))), tmp_path / "other")
    assert decode(other, tmp_path / "o", "--file", str(tmp_path / "p.bin")) == 2
    assert "decode with the codec that encoded it" in capsys.readouterr().err


# ------------------------------------------------------------------------------ bad packets

def test_malformed_and_foreign_packets_are_rejected_by_name(model_dir, codec, pictures, tmp_path, capsys):
    assert encode(model_dir, tmp_path / "p.bin", pictures["exact"], pictures["photo"]) == 0
    pf = gateway.read_packets_file(tmp_path / "p.bin")
    pk = by_image(pf.records)
    p1 = bytearray(pk[1][1])
    p1[-1] = 0x00 if p1[-1] else 0x11                           # same index, other (valid) contents
    bad = [b"\x00\x00",                                         # shorter than the header
           bytes([0, 0, 5, 4]) + pk[0][0][4:],                  # index 5 of 4
           bytes([0, 0, 0, 9]) + pk[0][0][4:],                  # 9 packets: not this layout
           pk[0][0][:-3],                                       # cut short
           bytes([3, 0, 0, 4]) + pk[0][0][4:],                  # image 3: not in the file
           pk[0][2][:4] + b"\xff" * (len(pk[0][2]) - 4)]        # header and length fine, level 15 of 12
    records = [bad[0], pk[0][0], bad[1], bad[2], pk[0][1], pk[0][1], bad[3], bad[4], bad[5], pk[0][2],
               pk[0][3], *pk[1][:2], bytes(p1), *pk[1][2:]]
    gateway.write_packets_file(tmp_path / "bad.bin", pf.header, records)
    with open(tmp_path / "bad.bin", "ab") as f:
        f.write(b"\x30\x00" + b"\x01" * 7)                      # a cut-off last record
    assert decode(model_dir, tmp_path / "out", "--file", str(tmp_path / "bad.bin")) == 0
    err = capsys.readouterr().err
    name = f"{tmp_path / 'bad.bin'} record"
    assert f"{name} 0 (byte " in err and "2-byte packet is shorter than the 4-byte header" in err
    assert "index 5 of 4 packets" in err
    assert "(image 0, packet 0 of 9): header says 9 packets, the layout has 4" in err
    assert "(image 0, packet 0 of 4): 33 data bytes, packet 0 of this layout has 36 (truncated)" in err
    assert "image id 3 is not one of the images" in err
    assert "(image 0, packet 2 of 4): fixed: value 15 is not a level of bins=12 (corrupted)" in err
    assert "differs from the packet 1 of image 1 already received" in err
    assert "record 16 at byte" in err and "(file truncated)" in err
    rows = summary(tmp_path / "out")
    assert (rows[0]["status"], rows[0]["rejected_packets"], rows[0]["duplicates"]) == ("complete", "3", "1")
    assert (rows[1]["status"], rows[1]["rejected_packets"]) == ("complete", "1")
    for k in (0, 1):
        assert np.array_equal(png(tmp_path / "out" / f"img{k:05d}.png")[0], expected_pixels(codec, pk[k], k))
    assert decode(model_dir, tmp_path / "out", "--file", str(tmp_path / "bad.bin"), extra=["--strict"]) == 1
    assert "7 rejected (conflict 1, corrupt 1, count 1, foreign 1, header 2, length 1)" in capsys.readouterr().out


# ------------------------------------------------------------------------------ Semtech UDP

def _uplink_datagrams(packets: list[bytes]) -> list[bytes]:
    return [push_data([p], token=bytes([1, k % 256])) for k, p in enumerate(packets)]


def _garbage_datagrams() -> list[bytes]:
    head = bytes([PROTOCOL_VERSION, 9, 9, 0]) + bytes(8)
    return [b"hello, gateway here",                                  # not the protocol
            head + b"{not json",                                     # PUSH_DATA, body not JSON
            head + json.dumps({"rxpk": 5}).encode(),                 # rxpk not a list
            head + json.dumps({"rxpk": [{"data": 17}]}).encode(),    # data not a string
            head + json.dumps({"rxpk": [{"data": base64.b64encode(b"\x00\x00\x00\x01\xff").decode(),
                                         "size": "five"}]}).encode()]


def test_udp_uplinks_decode_and_garbage_datagrams_are_counted(model_dir, codec, pictures, tmp_path, capsys):
    assert encode(model_dir, tmp_path / "p.bin", pictures["exact"], pictures["photo"]) == 0
    pk = by_image(gateway.read_packets_file(tmp_path / "p.bin").records)
    sent = pk[0] + [pk[1][0], pk[1][1], pk[1][3]] + [b"\x07"]        # image 1 without packet 2; a 1-byte uplink
    acks = []

    def gateway_side(port: int) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2.0)
        for d in _garbage_datagrams()[:2] + _uplink_datagrams(sent) + _garbage_datagrams()[2:]:
            s.sendto(d, ("127.0.0.1", port))
        s.sendto(bytes([PROTOCOL_VERSION, 4, 2, PULL_DATA]) + bytes(8), ("127.0.0.1", port))
        try:
            while True:
                acks.append(s.recv(64))
        except OSError:
            pass
        s.close()

    threads = []

    def on_listen(port: int) -> None:
        threads.append(threading.Thread(target=gateway_side, args=(port,), daemon=True))
        threads[0].start()

    t0 = time.monotonic()
    rc = decode(model_dir, tmp_path / "out", "--udp", "0", extra=["--payload", str(PAYLOAD), "--idle-timeout", "1"],
                on_listen=on_listen)
    threads[0].join(5)
    assert rc == 0 and time.monotonic() - t0 < 20
    cap = capsys.readouterr()
    rows = summary(tmp_path / "out")
    assert (rows[0]["status"], rows[1]["status"], rows[1]["lost_packets"]) == ("complete", "partial", "2")
    assert np.array_equal(png(tmp_path / "out" / "img00000.png")[0], expected_pixels(codec, pk[0], 0))
    assert np.array_equal(png(tmp_path / "out" / "img00001.png")[0],
                          expected_pixels(codec, [pk[1][0], pk[1][1], pk[1][3]], 1))
    assert "udp: 14 datagrams (8 PUSH_DATA, 1 PULL_DATA), 8 uplinks, 5 malformed" in cap.out
    assert "no datagram for 1 s (--idle-timeout)" in cap.err
    assert "uplink 8 (datagram 10, gateway a84041ffff1f2a3b)" in cap.err and "shorter than the 4-byte header" in cap.err
    for what in ("not PUSH_DATA v2", "JSON body unreadable", "wrongly typed JSON body", "no valid base64 'data'",
                 "size five != 5"):
        assert what in cap.err, what
    assert sum(a[3] == PUSH_ACK for a in acks) == 8 and sum(a[3] == PULL_ACK for a in acks) == 1


def test_the_gateway_cli_writes_what_it_has_on_sigterm(model_dir, pictures, tmp_path):
    """`tinycodec decode --format png --udp 0` as a user runs it: a subprocess, stopped by SIGTERM."""
    assert encode(model_dir, tmp_path / "p.bin", pictures["exact"], pictures["wide"]) == 0
    pk = by_image(gateway.read_packets_file(tmp_path / "p.bin").records)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    exe = Path(sys.executable).with_name("tinycodec")
    cmd = [str(exe if exe.exists() else REPO_ROOT / ".venv" / "bin" / "tinycodec"), "decode", "--format", "png",
           "--model", str(model_dir), "--out", str(tmp_path / "out"), "--udp", "0", "--payload", str(PAYLOAD)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port, deadline = None, time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            if "listening for Semtech UDP uplinks on 127.0.0.1:" in line:
                port = int(line.rsplit(":", 1)[1])
        assert port, f"the gateway did not start: rc {proc.poll()}"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(10)
        for d in _uplink_datagrams(pk[0] + pk[1][1:]) + [b"\x02garbage"]:
            s.sendto(d, ("127.0.0.1", port))
        s.sendto(bytes([PROTOCOL_VERSION, 4, 2, PULL_DATA]) + bytes(8), ("127.0.0.1", port))
        while s.recv(64)[3] != PULL_ACK:     # every uplink before it has been handled
            pass
        s.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "SIGTERM: stopping, writing what was received" in err
    assert "datagram 8: datagram of 8 B is shorter than a PUSH_DATA header (12 B); ignored" in err
    assert f"image 0: complete, 4/4 packets -> {tmp_path / 'out' / 'img00000.png'}" in out
    assert "image 1: partial, 3/4 packets, " in out and "udp: 9 datagrams" in out
    rows = summary(tmp_path / "out")
    assert (rows[0]["status"], rows[1]["status"], rows[1]["lost_packets"]) == ("complete", "partial", "0")
    assert png(tmp_path / "out" / "img00001.png")[1]["tinycodec.status"] == "partial"
