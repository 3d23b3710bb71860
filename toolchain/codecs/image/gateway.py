"""The Starfish image codec's two ends off the camera (issue 14): a host encoder for pictures of
your own, and the LoRa gateway's decoder that turns image packets into PNG files.

Commands
    tinycodec image-encode IMAGE... --model NAME_OR_DIR --out PACKETS [--payload 115]
                           [--fit resize_crop|center_crop] [--upscale] [--coding shuffled|huffman|range]
                           [--seed 0] [--first-id 0]
    tinycodec decode --format png --model NAME_OR_DIR --out DIR  --file PACKETS
    tinycodec decode --format png --model NAME_OR_DIR --out DIR  --udp PORT [--host 127.0.0.1]
                     [--payload 115] [--coding shuffled] [--seed 0] [--ids 0-9,12]
                     [--idle-timeout S] [--duration S]
    (both decodes: [--max-missing F] [--strict])

image-encode loads every IMAGE strictly (dataset.read_rgb: a file that is no image, or a truncated
PNG or JPEG, is an error naming the file), converts grayscale to RGB and fits the pixels to the
codec's size, each with a printed note: --fit resize_crop (the default: a photo of any size is
scaled, Lanczos, so its shorter side is the codec's, then center-cropped) or center_crop (a window
of the codec's size at full resolution). An image smaller than the codec is refused unless
--upscale (resize_crop only). A bad file is reported and skipped; the others are still encoded and
written (exit status 1 says something was skipped). Each image is encoded alone (batch 1, as the
camera does) and packetized: --coding shuffled (default) is entropy.packetize's loss-resilient
layout, where any subset of packets decodes; huffman and range send entropy.huffman_encode /
range_encode's byte string cut by lora.packetize, which decodes only when every packet arrived.
Images get ids --first-id, --first-id + 1, ... (u16 in lora's 4-byte packet header).

Packets file (PACKETS, written by image-encode, read by decode --file; little-endian):

    offset 0   magic    8 B   b"TCIMGPK1" (the trailing "1" is the format version)
    offset 8   hlen     u32   length of the header
    offset 12  header   hlen  UTF-8 JSON: {"format": 1, "model": str, "config": CodecConfig fields,
                              "fingerprint": sha256 of the codec's weights (16 hex digits),
                              "layout": {"coding", "payload_bytes", "seed", "shape", "bins"},
                              "images": [{"id", "source", "packets", "source_size": [w, h],
                                          "notes": [str]}]}
    then records to the end of the file, in send order:
               length   u16   bytes of this packet (a LoRa application payload, <= 242 B)
               packet   length  lora.packet_header (image id u16, index u8, count u8) + data

The gateway (decode --format png) takes packets from such a file (--file) or from Semtech UDP
packet forwarder uplinks (--udp PORT: each rxpk "data" field is one image packet, what a real LoRa
gateway sends; host_tools.semtech_udp). The layout comes from --model and, for a file, its header;
for UDP from --payload, --coding and --seed, which must be what the camera used. Each packet is
checked on its own before it is used: header (index < count), image id (a file's header lists its
images; --ids restricts UDP), count (the layout's, or, for huffman/range, that of the image's
earlier packets), length (what the layout puts in that packet) and contents (padding bits, levels
< bins). A packet that fails is rejected with a warning naming it (file record and byte offset,
or UDP uplink and datagram) and the reason; the image's other packets are still used. Identical
duplicates are counted; a different packet with an index already received is rejected (the
first is kept). A malformed datagram (not JSON, wrong types) is counted and warned about.

Output, in DIR: img<id, 5 digits>.png per decoded image, with PNG text chunks tinycodec.status,
tinycodec.image_id, tinycodec.packets ("received/expected"), tinycodec.missing_fraction,
tinycodec.lost_packets, tinycodec.model and a readable Comment; and summary.csv, one row per
image: image_id, status, packets_received, packets_expected, missing_fraction, lost_packets,
rejected_packets, duplicates, png, source, note. Status:
    complete     every packet arrived: the codec's decoding of the sent latent
    partial      shuffled coding, some packets lost: the values they carried decode as the mid
                 level (codec_model.DROP_LEVEL); written, and flagged in summary.csv and the PNG
    undecodable  no valid packet, more missing than --max-missing (a fraction, default 1: any
                 packet is enough), or a huffman/range stream with a packet lost or that does
                 not decode: no PNG; the reason is in the note
Images are written as soon as they are complete; partial ones when the source ends: the file's
end, --duration, --idle-timeout seconds without a datagram, SIGINT (Ctrl-C) or SIGTERM.
An image id seen again after its image was written adds duplicates or rejected packets, not a
second image (a camera that restarts its ids needs a new --out folder).

Exit status (both commands, as host_tools.decode_cli): 0 done; 1 an input skipped (image-encode),
or an undecodable image or no image at all (decode; with --strict also a partial image or a
rejected packet or datagram); 2 bad arguments, a model, file or port that cannot be used.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import signal
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import entropy, lora
from .dataset import ImageDataError, read_rgb

MAGIC = b"TCIMGPK1"
FORMAT_VERSION = 1
CODINGS = ("shuffled", "huffman", "range")
FITS = ("resize_crop", "center_crop")
DEFAULT_PAYLOAD = 115           # EU868 DR3 (SF9 / 125 kHz) application payload
MAX_PAYLOAD = 242               # EU868's largest application payload (DR4-DR6)
MAX_RECORD = 0xFFFF
STATUSES = ("complete", "partial", "undecodable")
SUMMARY = "summary.csv"
SUMMARY_COLUMNS = ("image_id", "status", "packets_received", "packets_expected", "missing_fraction",
                   "lost_packets", "rejected_packets", "duplicates", "png", "source", "note")
SHOWN_WARNINGS = 20             # warnings printed one by one; the rest are counted


class GatewayError(ValueError):
    """Input the gateway or the host encoder cannot use: a file, an argument, a model mismatch."""


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _ranges(ks: Sequence[int]) -> str:
    """'0 3-5 9' of sorted integers."""
    out, ks = [], sorted(ks)
    i = 0
    while i < len(ks):
        j = i
        while j + 1 < len(ks) and ks[j + 1] == ks[j] + 1:
            j += 1
        out.append(str(ks[i]) if i == j else f"{ks[i]}-{ks[j]}")
        i = j + 1
    return " ".join(out)


def fingerprint(codec) -> str:
    """16 hex digits of sha256 over the codec's encoder and decoder weights (float32)."""
    h = hashlib.sha256()
    for w in list(codec.encoder.get_weights()) + list(codec.decoder.get_weights()):
        h.update(np.ascontiguousarray(np.asarray(w, np.float32)).tobytes())
    return h.hexdigest()[:16]


def make_layout(cfg, payload: int, seed: int = 0) -> entropy.LatentLayout:
    """The shuffled layout of one image's latent; GatewayError when the payload cannot carry it."""
    if isinstance(payload, bool) or not isinstance(payload, int) or not lora.HEADER < payload <= MAX_PAYLOAD:
        raise GatewayError(f"payload {payload!r} B: {lora.HEADER + 1}..{MAX_PAYLOAD} (the {lora.HEADER}-byte image "
                           f"packet header plus data; EU868 allows 51 B at SF10-12, 115 at SF9, 242 at SF7-8)")
    try:
        return entropy.LatentLayout(cfg.latent_shape, cfg.bins, payload, seed)
    except lora.PacketError as e:
        raise GatewayError(f"payload {payload} B for a latent of {cfg.n_latent} values: {e}") from None


# ------------------------------------------------------------------------------ packets file

def write_packets_file(path: str | os.PathLike[str], header: dict, packets: Sequence[bytes]) -> Path:
    """MAGIC, the JSON header, then u16-length-prefixed packets (module docstring); atomic."""
    path = Path(path)
    body = json.dumps(header, indent=1).encode()
    parts = [MAGIC, struct.pack("<I", len(body)), body]
    for p in packets:
        if not 0 < len(p) <= MAX_RECORD:
            raise GatewayError(f"a packet of {len(p)} B does not fit a record")
        parts += [struct.pack("<H", len(p)), bytes(p)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(b"".join(parts))
    os.replace(tmp, path)
    return path


@dataclass
class PacketsFile:
    header: dict
    records: list[tuple[int, int, bytes]]     # (record number, byte offset, packet)
    problems: list[str]                       # a truncated last record, say


def _need(d: dict, key: str, kind, where: str):
    v = d.get(key) if isinstance(d, dict) else None
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        raise GatewayError(f"{where}: header field {key!r} is {v!r}, expected {getattr(kind, '__name__', kind)}")
    return v


def read_packets_file(path: str | os.PathLike[str]) -> PacketsFile:
    """The header and every complete record of a packets file. A file that is not one, or whose
    header is damaged, is a GatewayError; a cut-off last record is a problem, not an error (the
    records before it are kept)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise GatewayError(f"--file {path}: {e.strerror or e}") from None
    if not data.startswith(MAGIC):
        raise GatewayError(f"{path}: not a tinycodec image packets file (it starts with {data[:8]!r}, not "
                           f"{MAGIC!r}); make one with `tinycodec image-encode`")
    if len(data) < 12:
        raise GatewayError(f"{path}: {len(data)} B, truncated inside the header length")
    (hlen,) = struct.unpack_from("<I", data, 8)
    if 12 + hlen > len(data):
        raise GatewayError(f"{path}: the header says {hlen} B, the file has {len(data) - 12} after byte 12 (truncated)")
    try:
        header = json.loads(data[12:12 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GatewayError(f"{path}: damaged header (not UTF-8 JSON: {e})") from None
    where = str(path)
    if _need(header, "format", int, where) != FORMAT_VERSION:
        raise GatewayError(f"{path}: format {header['format']}, this tinycodec reads format {FORMAT_VERSION}")
    lay = _need(header, "layout", dict, where)
    if _need(lay, "coding", str, where + " layout") not in CODINGS:
        raise GatewayError(f"{path}: layout coding {lay['coding']!r}, not one of {', '.join(CODINGS)}")
    _need(lay, "payload_bytes", int, where + " layout")
    _need(lay, "seed", int, where + " layout")
    _need(header, "config", dict, where)
    for k, im in enumerate(_need(header, "images", list, where)):
        _need(im, "id", int, f"{where} images[{k}]")
    records, problems = [], []
    pos, k = 12 + hlen, 0
    while pos < len(data):
        if pos + 2 > len(data):
            problems.append(f"{path}: 1 byte at offset {pos} after record {k - 1}: a truncated record length")
            break
        (n,) = struct.unpack_from("<H", data, pos)
        if pos + 2 + n > len(data):
            problems.append(f"{path}: record {k} at byte {pos} says {n} B, only {len(data) - pos - 2} left "
                            "(file truncated); the records before it are used")
            break
        records.append((k, pos, data[pos + 2:pos + 2 + n]))
        pos += 2 + n
        k += 1
    return PacketsFile(header, records, problems)


# ------------------------------------------------------------------------------ camera side (host encoder)

def fit_pixels(pixels: np.ndarray, size_hw: tuple[int, int], fit: str, path: str | os.PathLike[str],
               upscale: bool = False) -> tuple[np.ndarray, list[str]]:
    """(H, W, 3) pixels at the codec's size (H, W), and a note of what was done (none if nothing).
    center_crop cuts the middle; resize_crop scales (Lanczos) the image to cover (H, W), then cuts,
    as dataset.fit_to does for squares. Smaller than (H, W): ImageDataError, unless resize_crop
    with upscale."""
    h0, w0 = pixels.shape[:2]
    h, w = size_hw
    if (h0, w0) == (h, w):
        return pixels, []
    if fit not in FITS:
        raise ValueError(f"fit {fit!r}: one of {', '.join(FITS)}")
    notes = []
    if fit == "center_crop":
        if h0 < h or w0 < w:
            raise ImageDataError(f"{path}: {w0}x{h0} is too small for the codec's {w}x{h} center crop "
                                 "(--fit resize_crop --upscale enlarges it)")
        notes.append(f"{w0}x{h0} center-cropped to {w}x{h}")
    else:
        scale = max(h / h0, w / w0)
        if scale > 1 and not upscale:
            raise ImageDataError(f"{path}: {w0}x{h0} is too small for the codec's {w}x{h} (it would be enlarged "
                                 f"x{scale:.2f}; pass --upscale to accept that)")
        if scale != 1:
            from PIL import Image
            nw, nh = max(w, round(w0 * scale)), max(h, round(h0 * scale))
            pixels = np.asarray(Image.fromarray(pixels).resize((nw, nh), Image.Resampling.LANCZOS))
            notes.append(f"{w0}x{h0} {'enlarged' if scale > 1 else 'scaled'} to {nw}x{nh} (Lanczos)"
                         + (f", center-cropped to {w}x{h}" if (nh, nw) != (h, w) else ""))
        else:
            notes.append(f"{w0}x{h0} center-cropped to {w}x{h}")
        h0, w0 = pixels.shape[:2]
    top, left = (h0 - h) // 2, (w0 - w) // 2
    return np.ascontiguousarray(pixels[top:top + h, left:left + w]), notes


@dataclass
class LoadedPicture:
    pixels: np.ndarray            # (H, W, 3) uint8 at the codec's size
    path: Path
    source_size: tuple[int, int]  # (width, height) of the file
    notes: list[str]


def load_picture(path: str | os.PathLike[str], size_hw: tuple[int, int], fit: str = "resize_crop",
                 upscale: bool = False) -> LoadedPicture:
    """One image file ready for the codec; ImageDataError naming the file when it cannot be."""
    arr, mode, gray, alpha = read_rgb(path)
    notes = []
    if gray:
        notes.append(f"grayscale ({mode}): the gray value copied to R, G and B")
    if alpha:
        notes.append(f"{mode}: the alpha channel dropped")
    px, fit_notes = fit_pixels(arr, size_hw, fit, path, upscale)
    return LoadedPicture(px, Path(path), (arr.shape[1], arr.shape[0]), notes + fit_notes)


def packets_of(q: np.ndarray, cfg, coding: str, payload: int, seed: int, image_id: int) -> list[bytes]:
    """One image's integer latent (cfg.latent_shape) as LoRa packets in that coding."""
    if coding == "shuffled":
        return entropy.packetize(q, make_layout(cfg, payload, seed), image_id)
    make_layout(cfg, payload, seed)   # checks the payload
    code = entropy.huffman_encode(q, cfg.bins) if coding == "huffman" else entropy.range_encode(q, cfg.bins)
    try:
        return lora.packetize(code, image_id, payload)
    except lora.PacketError as e:
        raise GatewayError(f"image {image_id}: {coding} code of {len(code)} B: {e}") from None


def _encode_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="tinycodec image-encode", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Encode pictures of your own with a Starfish image codec into the LoRa packets a camera "
                    "would send, written to a packets file that `tinycodec decode --format png --file` "
                    "decodes (no radio needed). A file that is no image or is truncated is reported and "
                    "skipped; the others are still written (exit status 1).",
        epilog=__doc__.split("Packets file")[1].split("The gateway")[0].join(["Packets file", ""]).rstrip() + "\n")
    ap.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, or anything else Pillow reads")
    ap.add_argument("--model", required=True, help="image codec: a name under models/image-codec/ or a folder "
                                                   "with config.json and weights.npz")
    ap.add_argument("--out", type=Path, required=True, help="the packets file to write")
    ap.add_argument("--payload", type=int, default=DEFAULT_PAYLOAD,
                    help=f"LoRa application payload per packet, header included (default {DEFAULT_PAYLOAD}: EU868 SF9)")
    ap.add_argument("--fit", choices=FITS, default="resize_crop",
                    help="resize_crop (default): scale to the codec's size, then cut; center_crop: cut only")
    ap.add_argument("--upscale", action="store_true", help="resize_crop: enlarge images smaller than the codec")
    ap.add_argument("--coding", choices=CODINGS, default="shuffled",
                    help="shuffled (default): loss-resilient, any subset of packets decodes; huffman / range: "
                         "smaller, but every packet is needed")
    ap.add_argument("--seed", type=int, default=0, help="shuffle seed (both ends must agree; default 0)")
    ap.add_argument("--first-id", type=int, default=0, help="image id of the first image (default 0)")
    return ap


def encode_main(argv: list[str] | None = None) -> int:
    args = _encode_parser().parse_args(argv)
    try:
        return _encode(args)
    except (GatewayError, FileNotFoundError, ValueError) as e:
        _err(f"tinycodec image-encode: error: {e}")
        return 2
    except ModuleNotFoundError as e:
        return _missing_module("image-encode", e)


def _missing_module(cmd: str, e: ModuleNotFoundError) -> int:
    extras = {"tensorflow": "nn", "keras": "nn", "PIL": "image", "constriction": "image"}
    extra = extras.get((e.name or "").split(".")[0])
    if extra is None:
        raise e
    _err(f"tinycodec {cmd}: error: needs {e.name}, which is not installed (pip install 'tinycodec[{extra}]', "
         "or make setup)")
    return 2


def _encode(args) -> int:
    if not 0 <= args.first_id <= lora.MAX_IMAGE_ID:
        raise GatewayError(f"--first-id {args.first_id}: 0..{lora.MAX_IMAGE_ID}")
    if args.first_id + len(args.images) - 1 > lora.MAX_IMAGE_ID:
        raise GatewayError(f"{len(args.images)} images from --first-id {args.first_id} pass the largest id "
                           f"{lora.MAX_IMAGE_ID}")
    from .artifacts import load_codec
    codec = load_codec(args.model)
    cfg = codec.config
    make_layout(cfg, args.payload, args.seed)
    loaded, skipped = [], 0
    for p in args.images:
        try:
            loaded.append(load_picture(p, cfg.image_size, args.fit, args.upscale))
        except ImageDataError as e:
            _err(f"tinycodec image-encode: skipped {e}")
            skipped += 1
    if not loaded:
        _err(f"tinycodec image-encode: no image could be encoded; nothing written to {args.out}")
        return 1
    packets, images = [], []
    for k, pic in enumerate(loaded):
        image_id = args.first_id + k
        q = codec.encode(pic.pixels[None])[0]
        ps = packets_of(q, cfg, args.coding, args.payload, args.seed, image_id)
        packets += ps
        images.append({"id": image_id, "source": str(pic.path), "packets": len(ps),
                       "source_size": list(pic.source_size), "notes": pic.notes})
        print(f"image {image_id} <- {pic.path}: {len(ps)} packets, {sum(map(len, ps))} B"
              + "".join(f"\n  note: {n}" for n in pic.notes), flush=True)
    header = {"format": FORMAT_VERSION, "model": str(args.model),
              "config": json.loads(json.dumps(dataclasses.asdict(cfg))), "fingerprint": fingerprint(codec),
              "layout": {"coding": args.coding, "payload_bytes": args.payload, "seed": args.seed,
                         "shape": list(cfg.latent_shape), "bins": cfg.bins},
              "images": images}
    write_packets_file(args.out, header, packets)
    print(f"wrote {len(images)} images, {len(packets)} packets ({sum(map(len, packets))} B of payload) to "
          f"{args.out}" + (f"; {skipped} file(s) skipped" if skipped else ""), flush=True)
    return 1 if skipped else 0


# ------------------------------------------------------------------------------ gateway side

@dataclass
class ImageState:
    """What the gateway has of one image id."""
    image_id: int
    count: int | None = None                 # packets the image has (from its headers or the file)
    parts: dict[int, bytes] = field(default_factory=dict)   # index -> data (after the header)
    rejected: int = 0
    duplicates: int = 0
    source: str = ""
    status: str | None = None                # set when finished
    missing_fraction: float | None = None
    png: Path | None = None
    note: str = ""

    @property
    def done(self) -> bool:
        return self.status is not None

    @property
    def lost(self) -> list[int]:
        return [k for k in range(self.count or 0) if k not in self.parts]


class Gateway:
    """Packets in, PNG files and summary.csv out (module docstring)."""

    def __init__(self, codec, out_dir: str | os.PathLike[str], *, coding: str = "shuffled",
                 payload: int = DEFAULT_PAYLOAD, seed: int = 0, model_name: str = "",
                 ids: set[int] | None = None, expected: Sequence[dict] = (), max_missing: float = 1.0,
                 ids_what: str = "--ids", progress: bool = False):
        if coding not in CODINGS:
            raise GatewayError(f"coding {coding!r}: one of {', '.join(CODINGS)}")
        if not 0.0 <= max_missing <= 1.0:
            raise GatewayError(f"--max-missing {max_missing}: a fraction in [0, 1]")
        self.codec, self.cfg = codec, codec.config
        self.coding, self.payload = coding, payload
        self.layout = make_layout(self.cfg, payload, seed)
        self.out_dir = Path(out_dir)
        self.model_name = model_name
        self.ids, self.ids_what = ids, ids_what
        self.max_missing = max_missing
        self.progress = progress                  # print each image as it is written
        self.images: dict[int, ImageState] = {}
        for im in expected:
            st = self.images.setdefault(int(im["id"]), ImageState(int(im["id"])))
            st.source = str(im.get("source", ""))
            if isinstance(im.get("packets"), int) and im["packets"] > 0:
                st.count = im["packets"]
        self.accepted = 0
        self.reasons: Counter[str] = Counter()    # rejected packets by reason
        self.warnings = 0
        nb = entropy.bits_for(self.cfg.bins)
        m, n = self.layout.per_packet, self.layout.n
        self._shuffled_len = [-(-min(m, n - k * m) * nb // 8) for k in range(self.layout.count)]
        self.out_dir.mkdir(parents=True, exist_ok=True)

    # --- warnings

    def warn(self, msg: str) -> None:
        self.warnings += 1
        if self.warnings <= SHOWN_WARNINGS:
            _err(f"tinycodec decode: warning: {msg}")
        elif self.warnings == SHOWN_WARNINGS + 1:
            _err("tinycodec decode: warning: more warnings are counted in the summary, not shown")

    def _reject(self, where: str, reason: str, msg: str, st: ImageState | None = None) -> None:
        self.reasons[reason] += 1
        if st is not None:
            st.rejected += 1
        self.warn(f"{where}: {msg}; packet rejected")

    # --- packets

    def _check(self, st: ImageState, k: int, count: int, data: bytes) -> tuple[str, str] | None:
        """(reason, message) when the packet does not fit the layout or its image; None if it does."""
        if self.coding == "shuffled":
            lay = self.layout
            if count != lay.count:
                return "count", (f"header says {count} packets, the layout has {lay.count} (latent "
                                 f"{'x'.join(map(str, lay.shape))}, {lay.bins} bins, {self.payload}-byte payload, "
                                 "shuffled): another model or payload, or a corrupted header")
            want = self._shuffled_len[k]
            if len(data) != want:
                return "length", (f"{len(data)} data bytes, packet {k} of this layout has {want}"
                                  f"{' (truncated)' if len(data) < want else ''}")
            try:
                entropy.fixed_decode(data, lay.bins, min(lay.per_packet, lay.n - k * lay.per_packet))
            except entropy.EntropyError as e:
                return "corrupt", str(e)
            return None
        if st.count is not None and count != st.count:
            return "count", f"header says {count} packets, the image's other packets say {st.count}"
        per = self.payload - lora.HEADER
        if k < count - 1 and len(data) != per:
            return "length", (f"{len(data)} data bytes; every packet but the last has {per} at a "
                              f"{self.payload}-byte payload")
        if not 1 <= len(data) <= per:
            return "length", f"{len(data)} data bytes; a last packet has 1..{per}"
        return None

    def feed(self, packet: bytes, where: str) -> None:
        """One received packet; `where` names it in messages (file record, UDP uplink)."""
        try:
            pid, k, count, data = lora.parse_header(bytes(packet))
        except lora.PacketError as e:
            self._reject(where, "header", str(e))
            return
        what = f"{where} (image {pid}, packet {k} of {count})"
        if self.ids is not None and pid not in self.ids:
            self._reject(what, "foreign", f"image id {pid} is not one of {self.ids_what}")
            return
        st = self.images.setdefault(pid, ImageState(pid))
        bad = self._check(st, k, count, data)
        if bad is not None:
            self._reject(what, bad[0], bad[1], st)
            return
        if k in st.parts:
            if st.parts[k] == data:
                st.duplicates += 1
            else:
                self._reject(what, "conflict", f"differs from the packet {k} of image {pid} already received "
                                               "(the first one is kept)", st)
            return
        if st.done:
            self._reject(what, "late", f"image {pid} was already finished ({st.status})", st)
            return
        st.parts[k] = data
        st.count = count
        self.accepted += 1
        if len(st.parts) == count:
            self._finish_image(st)

    # --- images

    def _finish_image(self, st: ImageState) -> None:
        if not st.parts:
            st.status, st.missing_fraction = "undecodable", 1.0
            st.note = ("no valid packet received" if not st.rejected
                       else f"all {st.rejected} packets received were rejected")
            return
        if self.coding == "shuffled":
            pkts = [lora.packet_header(st.image_id, k, st.count) + d for k, d in sorted(st.parts.items())]
            rx = entropy.depacketize_received(pkts, self.layout, st.image_id)
            q, missing, frac = rx.latent, rx.missing, rx.missing_rate
            if frac > self.max_missing:
                st.status, st.missing_fraction = "undecodable", frac
                st.note = f"{frac:.1%} of the latent missing, over --max-missing {self.max_missing:g}"
                return
        else:
            if st.lost:
                st.status, st.missing_fraction = "undecodable", 1.0
                st.note = (f"{len(st.lost)} of {st.count} packets lost ({_ranges(st.lost)}); a {self.coding}-coded "
                           "latent needs every packet (--coding shuffled survives loss)")
                return
            code = b"".join(st.parts[k] for k in range(st.count))
            try:
                flat = (entropy.huffman_decode if self.coding == "huffman" else entropy.range_decode)(
                    code, self.cfg.bins, self.cfg.n_latent)
            except entropy.EntropyError as e:
                st.status, st.missing_fraction, st.note = "undecodable", 1.0, f"{self.coding} stream: {e}"
                return
            q, missing, frac = flat.reshape(self.cfg.latent_shape), None, 0.0
        pixels = self.codec.decode(q[None], None if missing is None else missing[None])[0]
        status = "complete" if not st.lost else "partial"
        note = "" if status == "complete" else (f"{len(st.lost)} of {st.count} packets lost ({_ranges(st.lost)}): "
                                                f"{frac:.1%} of the latent decoded as the mid level")
        st.png = self._write_png(st, pixels, status, frac, note)
        st.status, st.missing_fraction, st.note = status, frac, note   # only once the PNG is there
        if self.progress:
            print(f"image {st.image_id}: {status}, {len(st.parts)}/{st.count} packets -> {st.png}", flush=True)
        self.write_summary()

    def _write_png(self, st: ImageState, pixels: np.ndarray, status: str, frac: float, note: str) -> Path:
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo
        info = PngInfo()
        text = {"tinycodec.status": status, "tinycodec.image_id": str(st.image_id),
                "tinycodec.packets": f"{len(st.parts)}/{st.count}", "tinycodec.missing_fraction": f"{frac:.6f}",
                "tinycodec.lost_packets": _ranges(st.lost), "tinycodec.model": self.model_name,
                "Software": "tinycodec",
                "Comment": f"image {st.image_id}: {status}" + (f"; {note}" if note else "")}
        for k, v in text.items():
            info.add_text(k, v)
        path = self.out_dir / f"img{st.image_id:05d}.png"
        tmp = path.with_name(path.name + ".tmp")
        Image.fromarray(pixels).save(tmp, format="PNG", pnginfo=info)
        os.replace(tmp, path)
        return path

    def finish(self) -> list[ImageState]:
        """Decode what is left (partial images), write summary.csv; every image's state by id."""
        for st in sorted(self.images.values(), key=lambda s: s.image_id):
            if not st.done:
                self._finish_image(st)
        if self.ids is not None and self.ids_what == "--ids":
            for i in sorted(self.ids - set(self.images)):
                st = self.images[i] = ImageState(i, status="undecodable", missing_fraction=1.0,
                                                 note="no packet received")
        self.write_summary()
        return [self.images[i] for i in sorted(self.images)]

    def write_summary(self) -> Path:
        path = self.out_dir / SUMMARY
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(SUMMARY_COLUMNS)
            for i in sorted(self.images):
                st = self.images[i]
                w.writerow([i, st.status or "pending", len(st.parts), st.count if st.count is not None else "",
                            "" if st.missing_fraction is None else f"{st.missing_fraction:.6f}",
                            _ranges(st.lost), st.rejected, st.duplicates, st.png.name if st.png else "",
                            st.source, st.note])
        os.replace(tmp, path)
        return path


# ------------------------------------------------------------------------------ decode CLI

def wants_png(argv: Sequence[str]) -> bool:
    """True for `decode` arguments that ask for images (--format png): this module's decoder."""
    argv = list(argv)
    return "--format=png" in argv or any(a == "--format" and b == "png" for a, b in zip(argv, argv[1:]))


def _ids(text: str) -> set[int]:
    out: set[int] = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            a, b = int(lo), int(hi or lo)
            if not 0 <= a <= b <= lora.MAX_IMAGE_ID:
                raise ValueError
            out.update(range(a, b + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: image ids like 0-9,12 (0..{lora.MAX_IMAGE_ID})") from None
    return out


def _decode_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="tinycodec decode", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The LoRa gateway's image decoder: image packets (a packets file, or Semtech UDP uplinks) "
                    "-> one PNG per image and summary.csv in --out DIR.",
        epilog=__doc__.split("The gateway (decode --format png)")[1].join(["The gateway (decode --format png)", ""]))
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", type=Path, help="packets file of `tinycodec image-encode`")
    src.add_argument("--udp", type=int, metavar="PORT", help="UDP port for a Semtech packet forwarder's PUSH_DATA "
                                                             "(0: any free port, printed)")
    ap.add_argument("--format", choices=["png"], required=True)
    ap.add_argument("--model", required=True, help="image codec: a name under models/image-codec/ or a folder")
    ap.add_argument("--out", type=Path, required=True, help="folder for the PNG files and summary.csv")
    ap.add_argument("--host", default="127.0.0.1", help="--udp: address to listen on (default 127.0.0.1)")
    ap.add_argument("--payload", type=int, help=f"--udp: the camera's payload per packet (default {DEFAULT_PAYLOAD}); "
                                                "a file's header says it")
    ap.add_argument("--coding", choices=CODINGS, help="--udp: the camera's coding (default shuffled)")
    ap.add_argument("--seed", type=int, help="--udp: the camera's shuffle seed (default 0)")
    ap.add_argument("--ids", type=_ids, help="accept only these image ids, e.g. 0-9,12 (a file: default its own)")
    ap.add_argument("--max-missing", type=float, default=1.0,
                    help="largest missing latent fraction still written as a partial image (default 1: any packet)")
    ap.add_argument("--idle-timeout", type=float, help="--udp: stop after this many seconds without a datagram")
    ap.add_argument("--duration", type=float, help="--udp: stop after this many seconds")
    ap.add_argument("--strict", action="store_true", help="exit 1 also for a partial image or a rejected packet")
    return ap


def decode_main(argv: list[str] | None = None, on_listen: Callable[[int], None] | None = None) -> int:
    """`tinycodec decode --format png ...`; on_listen(port) is called once the UDP socket is bound
    (for programs and tests that pass --udp 0)."""
    args = _decode_parser().parse_args(argv)
    try:
        return _decode(args, on_listen)
    except (GatewayError, FileNotFoundError, ValueError) as e:
        _err(f"tinycodec decode: error: {e}")
        return 2
    except ModuleNotFoundError as e:
        return _missing_module("decode", e)


def _layout_args(args, header: dict | None) -> tuple[str, int, int]:
    given = {"coding": args.coding, "payload_bytes": args.payload, "seed": args.seed}
    if header is None:
        return (args.coding or "shuffled", DEFAULT_PAYLOAD if args.payload is None else args.payload,
                args.seed or 0)
    lay = header["layout"]
    for key, v in given.items():
        if v is not None and v != lay[key]:
            opt = {"payload_bytes": "payload"}.get(key, key)
            raise GatewayError(f"--{opt} {v}: the packets file {args.file} was written with {lay[key]!r}")
    return lay["coding"], lay["payload_bytes"], lay["seed"]


def _decode(args, on_listen) -> int:
    from .artifacts import config_from_json, load_codec
    pf = read_packets_file(args.file) if args.file else None
    header = pf.header if pf else None
    coding, payload, seed = _layout_args(args, header)
    codec = load_codec(args.model)
    if header is not None:
        try:
            file_cfg = config_from_json(header["config"])
        except (TypeError, ValueError) as e:
            raise GatewayError(f"{args.file}: header config unreadable ({e})") from None
        if file_cfg != codec.config:
            raise GatewayError(f"{args.file} was encoded by a codec with {file_cfg}; --model {args.model} is "
                               f"{codec.config}: decode with the codec that encoded it")
    ids, ids_what, expected = args.ids, "--ids", []
    if header is not None:
        expected = [im for im in header["images"] if ids is None or im["id"] in ids]
        if ids is None:
            ids, ids_what = {im["id"] for im in expected}, f"the images {args.file} lists"
    gw = Gateway(codec, args.out, coding=coding, payload=payload, seed=seed, model_name=str(args.model),
                 ids=ids, ids_what=ids_what, expected=expected, max_missing=args.max_missing,
                 progress=args.udp is not None)
    if header is not None and header.get("fingerprint") not in (None, fingerprint(codec)):
        gw.warn(f"{args.file} was encoded by a codec with other weights (fingerprint {header['fingerprint']}, "
                f"--model {args.model} has {fingerprint(codec)}): pixels will differ from the camera's codec")
    udp, handlers = None, {}
    if pf is not None:
        for problem in pf.problems:
            gw.warn(problem)
        for k, pos, pkt in pf.records:
            gw.feed(pkt, f"{args.file} record {k} (byte {pos})")
    else:
        udp, handlers = _serve_udp(gw, args, on_listen)
    try:
        states = gw.finish()
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    return _report(gw, states, args, pf, udp)


def _serve_udp(gw: Gateway, args, on_listen) -> tuple[object, dict]:
    """Feed uplinks to the gateway until --duration, --idle-timeout, SIGINT or SIGTERM; the UDP
    stats and the signal handlers to restore once the images are written."""
    from host_tools.semtech_udp import UdpListener
    try:
        listener = UdpListener(args.host, args.udp)
    except OSError as e:
        raise GatewayError(f"--udp {args.host}:{args.udp}: cannot listen: {e.strerror or e}") from None
    stats = listener.stats
    _err(f"tinycodec decode: listening for Semtech UDP uplinks on {args.host}:{listener.port}")
    stopping = {"signal": None}

    def on_signal(signum, _frame):   # a flag the loop checks (within one poll): no packet is cut short
        if stopping["signal"] is None:
            stopping["signal"] = signal.Signals(signum).name

    old = {}
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            old[s] = signal.signal(s, on_signal)
    shown_errors, uplinks = 0, 0
    start = last = time.monotonic()
    try:
        if on_listen is not None:
            on_listen(listener.port)
        while True:
            before = stats.datagrams
            try:
                ups = listener.poll(0.1)
            except (TypeError, AttributeError, KeyError) as e:
                # semtech_udp.parse_push_data trusts that "rxpk" is a list: a datagram counted, not answered
                stats.malformed += 1
                stats.errors.append(f"PUSH_DATA with a wrongly typed JSON body ({type(e).__name__}: {e})")
                ups = []
            now = time.monotonic()
            if stats.datagrams != before:
                last = now
            for e in stats.errors[shown_errors:]:
                gw.warn(f"datagram {stats.datagrams}: {e}; ignored")
            shown_errors = len(stats.errors)
            for up in ups:
                uplinks += 1
                gw.feed(up.payload, f"uplink {uplinks} (datagram {stats.datagrams}, gateway {up.gateway})")
            if stopping["signal"] is not None:
                _err(f"tinycodec decode: {stopping['signal']}: stopping, writing what was received")
                break
            if args.duration is not None and now - start >= args.duration:
                _err(f"tinycodec decode: --duration {args.duration:g} s reached")
                break
            if args.idle_timeout is not None and now - last >= args.idle_timeout:
                _err(f"tinycodec decode: no datagram for {args.idle_timeout:g} s (--idle-timeout): stopping")
                break
    except KeyboardInterrupt:   # handlers not installed (not the main thread)
        _err("tinycodec decode: interrupted: stopping, writing what was received")
    except BaseException:
        for s, h in old.items():
            signal.signal(s, h)
        raise
    finally:
        listener.close()
    # the handlers stay until the caller has written the images: a second signal does not cut that short
    return stats, old


def _report(gw: Gateway, states: list[ImageState], args, pf: PacketsFile | None, udp) -> int:
    by = Counter(st.status for st in states)
    for st in states:
        rx = f"{len(st.parts)}/{st.count if st.count is not None else '?'} packets"
        miss = "" if st.missing_fraction is None else f", {st.missing_fraction:.1%} of the latent missing"
        print(f"image {st.image_id}: {st.status}, {rx}{miss}" + (f" -> {st.png}" if st.png else "")
              + (f" ({st.note})" if st.note and st.status != "complete" else ""))
    rej = sum(gw.reasons.values())
    print(f"images: {by['complete']} complete, {by['partial']} partial, {by['undecodable']} undecodable; "
          f"packets: {gw.accepted} accepted, {sum(s.duplicates for s in states)} duplicates, {rej} rejected"
          + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(gw.reasons.items())) + ")" if rej else ""))
    if udp is not None:
        print(f"udp: {udp.datagrams} datagrams ({udp.push_data} PUSH_DATA, {udp.pull_data} PULL_DATA), "
              f"{udp.uplinks} uplinks, {udp.malformed} malformed, {udp.radio_crc_bad} radio CRC failures")
    print(f"summary: {gw.out_dir / SUMMARY}" + (f"; {gw.warnings} warnings" if gw.warnings else ""), flush=True)
    written = by["complete"] + by["partial"]
    if written == 0 or by["undecodable"]:
        return 1
    bad_input = rej or (pf is not None and pf.problems) or (udp is not None and (udp.malformed or udp.radio_crc_bad))
    if args.strict and (by["partial"] or bad_input):
        return 1
    return 0
