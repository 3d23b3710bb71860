"""JPEG under LoRa packet loss, decoded the way a receiver that knows which packets it lost would.

Why restart markers: without them one lost packet desynchronizes the Huffman decoder for the rest
of the image. With a restart interval (DRI) the encoder byte-aligns and resets the DC predictors
every Ri MCUs and writes RST0..RST7, so each interval decodes on its own: this is JPEG's best
chance on a lossy link. Pillow (13) exposes libjpeg's restart option as the save arguments
`restart_marker_rows` / `restart_marker_blocks`, so no cjpeg/djpeg is needed (jpeg.encode_jpeg).
Restart files are baseline (sequential); progressive scans would spread every MCU over all packets.

Packets (inside lora.packetize's 4-byte header, which gives the packet order and count): each
packet's data starts with a u16 LE field, then bytes of the JPEG file:

    field = 0xFFFF                      header packet: the next bytes of SOI .. SOS (inclusive)
    field = interval | 0x8000 * cont    entropy-coded data starting with restart interval
                                        `interval` (cont = 1: the packet begins in the middle of
                                        it, an interval too long for one packet), each interval
                                        followed by its RSTn marker (EOI after the last)

Header packets come first, then intervals packed greedily at interval boundaries: an interval
joins the current packet if it fits whole, else it starts the next one, and only an interval
longer than a packet is split. On air that is the file's bytes plus 6 bytes a packet.

Receiver: the header must arrive whole (all its packets, which parse up to SOS); otherwise
nothing is decodable and the image is all gray, flagged. An interval is kept when every packet
holding a piece of it arrived. The stream is rebuilt as header + the kept intervals, with lost
intervals empty between their RST markers (libjpeg resynchronizes at the next marker), decoded by
Pillow's libjpeg-turbo, and the MCUs of lost intervals are then concealed in the pixels: gray
(128), or "previous" (the pixel row above the lost MCUs repeated down; gray in the top MCU row).
libjpeg's 4:2:0 fancy upsampling still mixes a quarter of the lost MCUs' chroma into the
adjacent pixel row/column of kept MCUs; that is left as a real decoder leaves it.

JPEG + erasure code (zfec, Reed-Solomon over GF(2^8)), at the airtime of another code: the file
(restart markers in, so a failure still degrades by interval) is split into k equal shares, zfec
adds m parity shares, and any k of the n = k + m packets give the file back exactly. Packet data:
k u8 | pad u8 (zero bytes added to the last share) | share. With more than m packets lost, the
systematic shares 0..j-1 that arrived in a row are decoded as the JPEG-RST receiver would.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from . import lora
from .jpeg import LOOKAHEAD, JPEG_QUALITIES, Encoded, JpegSetting, decode, encode_jpeg, search_quality
from .lora import LoRaLink, PacketError

HEADER_FIELD = 0xFFFF
CONT_FLAG = 0x8000
MAX_INTERVALS = 0x7FFF
FIELD_BYTES = 2
FEC_FIELDS = 2               # k u8, pad u8
GRAY = 128
Conceal = Literal["gray", "previous"]
CONCEALMENTS = ("gray", "previous")

_SOF_BASELINE = {0xC0, 0xC1}                       # baseline / extended sequential, Huffman
_SOF_OTHER = {0xC2: "progressive", 0xC3: "lossless", 0xC5: "differential", 0xC6: "differential progressive",
              0xC7: "differential lossless", 0xC9: "arithmetic", 0xCA: "arithmetic progressive",
              0xCB: "arithmetic lossless", 0xCD: "arithmetic differential", 0xCE: "arithmetic", 0xCF: "arithmetic"}
_RST = range(0xD0, 0xD8)
_EOI = 0xD9


class JpegStructureError(ValueError):
    """A JPEG that is not a baseline file with restart markers, or is cut short."""


@dataclass(frozen=True)
class JpegLayout:
    """The parts of a baseline JPEG that packetization and concealment need."""

    header: bytes                # SOI .. end of the SOS segment
    intervals: list[bytes]       # entropy-coded data of each restart interval, markers removed
    width: int
    height: int
    mcu_w: int                   # MCU size in pixels (8 for 4:4:4, 16 for 4:2:0)
    mcu_h: int
    restart_interval: int        # MCUs per interval (DRI)

    @property
    def mcus_x(self) -> int:
        return math.ceil(self.width / self.mcu_w)

    @property
    def mcus_y(self) -> int:
        return math.ceil(self.height / self.mcu_h)

    @property
    def n_intervals(self) -> int:
        return math.ceil(self.mcus_x * self.mcus_y / self.restart_interval)


def parse_header(data: bytes) -> tuple[dict, int]:
    """({width, height, mcu_w, mcu_h, restart_interval}, offset just after SOS)."""
    if data[:2] != b"\xff\xd8":
        raise JpegStructureError("not a JPEG: no SOI marker at the start")
    pos, info = 2, {"restart_interval": 0}
    while True:
        if pos + 4 > len(data):
            raise JpegStructureError(f"JPEG header cut short at byte {pos} (no SOS segment)")
        if data[pos] != 0xFF:
            raise JpegStructureError(f"JPEG header: expected a marker at byte {pos}, found 0x{data[pos]:02x}")
        marker = data[pos + 1]
        if marker == 0xFF:      # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        seg = data[pos + 4:pos + 2 + length]
        if length < 2 or len(seg) != length - 2:
            raise JpegStructureError(f"JPEG header: segment 0x{marker:02x} at byte {pos} is cut short")
        if marker in _SOF_OTHER:
            raise JpegStructureError(f"a {_SOF_OTHER[marker]} JPEG (SOF 0x{marker:02x}); packet-loss decoding "
                                     "needs a baseline file (encode with restart markers, which forces it)")
        if marker in _SOF_BASELINE:
            info["height"] = int.from_bytes(seg[1:3], "big")
            info["width"] = int.from_bytes(seg[3:5], "big")
            ncomp = seg[5]
            hs = [seg[6 + 3 * i + 1] >> 4 for i in range(ncomp)]
            vs = [seg[6 + 3 * i + 1] & 15 for i in range(ncomp)]
            info["mcu_w"], info["mcu_h"] = (8 * max(hs), 8 * max(vs)) if ncomp > 1 else (8, 8)
        elif marker == 0xDD:
            info["restart_interval"] = int.from_bytes(seg[:2], "big")
        elif marker == 0xDA:
            if "width" not in info:
                raise JpegStructureError("JPEG header: SOS before any SOF segment")
            return info, pos + 2 + length
        pos += 2 + length


def split_entropy(data: bytes) -> list[tuple[bytes, int | None]]:
    """Entropy-coded bytes cut at markers: [(segment, marker or None if unterminated), ...].

    0xFF 0x00 is a stuffed 0xFF byte (kept); markers are RST0..7 and EOI.
    """
    out: list[tuple[bytes, int | None]] = []
    start, i, n = 0, 0, len(data)
    while i < n:
        if data[i] != 0xFF or i + 1 >= n:
            i += 1
            continue
        nxt = data[i + 1]
        if nxt == 0x00:
            i += 2
        elif nxt in _RST or nxt == _EOI:
            out.append((data[start:i], nxt))
            i += 2
            start = i
            if nxt == _EOI:
                return out
        elif nxt == 0xFF:
            i += 1
        else:
            raise JpegStructureError(f"unexpected marker 0xff{nxt:02x} inside entropy-coded data")
    if start < n or not out:
        out.append((data[start:], None))
    return out


def parse_jpeg(data: bytes) -> JpegLayout:
    """The header and restart intervals of a whole baseline JPEG with restart markers."""
    info, sos_end = parse_header(data)
    if info["restart_interval"] == 0:
        raise JpegStructureError("the JPEG has no restart interval (DRI): encode with restart_rows or restart_blocks")
    segs = split_entropy(data[sos_end:])
    if segs[-1][1] != _EOI:
        raise JpegStructureError("the JPEG's entropy-coded data is cut short (no EOI marker)")
    layout = JpegLayout(data[:sos_end], [s for s, _ in segs], info["width"], info["height"],
                        info["mcu_w"], info["mcu_h"], info["restart_interval"])
    if len(layout.intervals) != layout.n_intervals:
        raise JpegStructureError(f"{len(layout.intervals)} restart intervals, but {layout.mcus_x}x{layout.mcus_y} "
                                 f"MCUs every {layout.restart_interval} make {layout.n_intervals}")
    if layout.n_intervals > MAX_INTERVALS:
        raise JpegStructureError(f"{layout.n_intervals} restart intervals: the packet field holds at most {MAX_INTERVALS}")
    return layout


def _marker(k: int, n: int) -> bytes:
    return bytes((0xFF, _EOI if k == n - 1 else 0xD0 + k % 8))


def rebuild(layout_header: bytes, intervals: Sequence[bytes | None]) -> bytes:
    """A decodable JPEG: the header, then each interval (None: empty) and its marker."""
    n = len(intervals)
    return layout_header + b"".join((iv or b"") + _marker(k, n) for k, iv in enumerate(intervals))


# ------------------------------------------------------------------------------ packets

@dataclass(frozen=True)
class JpegPackets:
    """A JPEG cut into packets at restart-interval boundaries."""

    packets: list[bytes]
    header_packets: int          # the first this many carry the header
    layout: JpegLayout

    @property
    def airtime_bytes(self) -> list[int]:
        return [len(p) for p in self.packets]


def packetize_jpeg(data: bytes, image_id: int, payload_bytes: int) -> JpegPackets:
    """Packets of a baseline JPEG with restart markers (layout: module docstring)."""
    layout = parse_jpeg(data)
    cap = payload_bytes - lora.HEADER - FIELD_BYTES
    if cap < 3:
        raise PacketError(f"payload {payload_bytes} B leaves {cap} B for JPEG data: too small")
    bodies: list[bytes] = []
    for off in range(0, len(layout.header), cap):
        bodies.append(HEADER_FIELD.to_bytes(2, "little") + layout.header[off:off + cap])
    n_header = len(bodies)
    n = layout.n_intervals
    cur: bytearray | None = None
    for k, iv in enumerate(layout.intervals):
        wire = iv + _marker(k, n)
        if cur is not None and len(cur) - FIELD_BYTES + len(wire) <= cap:
            cur += wire
            continue
        if cur is not None:
            bodies.append(bytes(cur))
        pieces = _pieces(wire, cap)
        for j, piece in enumerate(pieces):
            cur = bytearray((k | (CONT_FLAG if j else 0)).to_bytes(2, "little")) + piece
            if j < len(pieces) - 1:
                bodies.append(bytes(cur))
    if cur is not None:
        bodies.append(bytes(cur))
    if len(bodies) > lora.MAX_PACKETS:
        raise PacketError(f"{len(data)} B of JPEG need {len(bodies)} packets of {payload_bytes} B, over "
                          f"{lora.MAX_PACKETS}")
    packets = [lora.packet_header(image_id, i, len(bodies)) + b for i, b in enumerate(bodies)]
    return JpegPackets(packets, n_header, layout)


def _pieces(wire: bytes, cap: int) -> list[bytes]:
    """`wire` in pieces of at most cap bytes, never cut right after an 0xFF, so that a marker or
    a stuffed 0xFF 0x00 stays in one piece and each piece parses on its own."""
    out, o = [], 0
    while o < len(wire):
        end = min(o + cap, len(wire))
        if end < len(wire) and wire[end - 1] == 0xFF:
            end -= 1
        out.append(wire[o:end])
        o = end
    return out


# ------------------------------------------------------------------------------ receiver

@dataclass
class LossyImage:
    """What a receiver shows for one image, and how much of it is real."""

    image: np.ndarray            # (H, W, 3) uint8, always the full size
    complete: bool               # every pixel decoded from received data
    decodable: bool              # the header arrived (False: the image is all gray)
    lost_packets: list[int]
    lost_intervals: list[int] = field(default_factory=list)
    lost_mask: np.ndarray | None = None   # (H, W) bool: concealed pixels
    note: str = ""

    @property
    def lost_fraction(self) -> float:
        """Share of the pixels that were concealed rather than decoded."""
        if not self.decodable:
            return 1.0
        return 0.0 if self.lost_mask is None else float(self.lost_mask.mean())


def _gray(size: tuple[int, int]) -> np.ndarray:
    return np.full((size[0], size[1], 3), GRAY, np.uint8)


def conceal(image: np.ndarray, layout: JpegLayout, lost_intervals: Sequence[int],
            how: Conceal = "gray") -> tuple[np.ndarray, np.ndarray]:
    """(image with the lost intervals' MCUs filled, (H, W) mask of those pixels)."""
    if how not in CONCEALMENTS:
        raise ValueError(f"concealment {how!r}: one of {', '.join(CONCEALMENTS)}")
    img = image.copy()
    mask = np.zeros(img.shape[:2], dtype=bool)
    ri, mx = layout.restart_interval, layout.mcus_x
    total = layout.mcus_x * layout.mcus_y
    for k in sorted(lost_intervals):
        for m in range(k * ri, min((k + 1) * ri, total)):
            y0, x0 = (m // mx) * layout.mcu_h, (m % mx) * layout.mcu_w
            y1, x1 = min(y0 + layout.mcu_h, layout.height), min(x0 + layout.mcu_w, layout.width)
            mask[y0:y1, x0:x1] = True
            if how == "previous" and y0 > 0:
                img[y0:y1, x0:x1] = img[y0 - 1, x0:x1][None]
            else:
                img[y0:y1, x0:x1] = GRAY
    return img, mask


def _header_from(parts: dict[int, tuple[int, bytes]]) -> tuple[bytes | None, int]:
    """(header bytes or None if incomplete, index of the first non-header packet)."""
    buf, i = bytearray(), 0
    while i in parts and parts[i][0] == HEADER_FIELD:
        buf += parts[i][1]
        i += 1
    try:
        _, end = parse_header(bytes(buf))
    except JpegStructureError:
        return None, i
    return (bytes(buf) if end == len(buf) else None), i


def _intervals_from(parts: dict[int, tuple[int, bytes]], first: int, count: int) -> dict[int, bytes]:
    """Complete intervals among the received interval packets (a split interval needs all its pieces)."""
    done: dict[int, bytes] = {}
    open_k, open_buf, open_at = -1, b"", -2    # the interval still waiting for its next piece
    for p in range(first, count):
        if p not in parts:
            continue
        fld, body = parts[p]
        if fld == HEADER_FIELD:
            continue
        k, cont = fld & MAX_INTERVALS, bool(fld & CONT_FLAG)
        for j, (seg, marker) in enumerate(split_entropy(body)):
            if j == 0 and cont:
                if not (open_k == k and open_at == p - 1):
                    if marker is not None:
                        k += 1         # the start of this interval was lost: skip its tail
                    continue
                seg = open_buf + seg
            if marker is None:
                open_k, open_buf, open_at = k, seg, p
            else:
                done[k] = seg
                k += 1
    return done


def receive_jpeg(received: Sequence[bytes], conceal_with: Conceal = "gray",
                 expected_size: tuple[int, int] = (224, 224)) -> LossyImage:
    """The image a receiver makes of the JPEG-RST packets that arrived (any order).

    expected_size (height, width) is only used when the header is lost and the file cannot say.
    """
    if conceal_with not in CONCEALMENTS:
        raise ValueError(f"concealment {conceal_with!r}: one of {', '.join(CONCEALMENTS)}")
    if not received:
        return LossyImage(_gray(expected_size), False, False, [], note="no packet arrived")
    got = lora.depacketize(received)
    parts: dict[int, tuple[int, bytes]] = {}
    for i, body in got.parts.items():
        if len(body) < FIELD_BYTES:
            raise PacketError(f"image {got.image_id} packet {i}: {len(body)} B, no JPEG packet field")
        parts[i] = (int.from_bytes(body[:2], "little"), body[2:])
    header, first = _header_from(parts)
    if header is None:
        return LossyImage(_gray(expected_size), False, False, got.missing,
                          note="header lost: nothing decodable (image all gray)")
    info, _ = parse_header(header)
    layout = JpegLayout(header, [], info["width"], info["height"], info["mcu_w"], info["mcu_h"],
                        info["restart_interval"])
    if layout.restart_interval == 0:
        raise JpegStructureError("received a JPEG header without a restart interval (DRI)")
    done = _intervals_from(parts, first, got.count)
    return _decode_intervals(layout, done, got.missing, conceal_with)


def _decode_intervals(layout: JpegLayout, done: dict[int, bytes], lost_packets: list[int],
                      how: Conceal) -> LossyImage:
    n = layout.n_intervals
    lost = [k for k in range(n) if k not in done]
    image = decode(rebuild(layout.header, [done.get(k) for k in range(n)]))
    image, mask = conceal(image, layout, lost, how)
    note = f"{len(lost)} of {n} restart intervals lost, concealed ({how})" if lost else ""
    return LossyImage(image, not lost, True, lost_packets, lost, mask, note)


# ------------------------------------------------------------------------------ at an airtime

def encode_rst(pixels: np.ndarray, quality: int, setting: JpegSetting = "optimized",
               restart_rows: int = 1, restart_blocks: int = 0) -> Encoded:
    """A baseline JPEG with restart markers every restart_rows MCU rows (or restart_blocks MCUs)."""
    if not (restart_rows or restart_blocks):
        raise ValueError("a JPEG for a lossy link needs restart markers: restart_rows or restart_blocks > 0")
    return encode_jpeg(pixels, quality, setting, restart_rows=restart_rows, restart_blocks=restart_blocks)


def jpeg_rst_at_airtime(pixels: np.ndarray, link: LoRaLink, airtime_s: float,
                        setting: JpegSetting = "optimized", restart_rows: int = 1, restart_blocks: int = 0,
                        image_id: int = 0, lookahead: int = LOOKAHEAD) -> tuple[Encoded, JpegPackets]:
    """The highest-quality JPEG-RST whose packets fit in airtime_s on `link`."""
    memo: dict[int, JpegPackets | None] = {}

    def encode(q: int) -> Encoded:
        e = encode_rst(pixels, q, setting, restart_rows, restart_blocks)
        try:
            memo[q] = packetize_jpeg(e.data, image_id, link.payload_bytes)
        except PacketError:      # more than 255 packets: certainly over any airtime we search
            memo[q] = None
        return e

    def cost(e: Encoded) -> float:
        packed = memo[e.quality]
        return math.inf if packed is None else link.airtime_s(packed.packets)

    best = search_quality(encode, cost, airtime_s, JPEG_QUALITIES, lookahead, unit="s on air")
    return best, memo[best.quality]  # type: ignore[return-value]


# ------------------------------------------------------------------------------ erasure code

def _zfec():
    try:
        import zfec
    except ImportError as e:
        raise ImportError("JPEG + erasure code needs zfec (pip install zfec==1.6.0.0)") from e
    return zfec


@dataclass(frozen=True)
class FecPlan:
    """n packets of which any k rebuild the data; each share at most share_bytes."""

    n: int
    k: int
    share_bytes: int

    @property
    def m(self) -> int:
        return self.n - self.k

    @property
    def data_bytes(self) -> int:
        """Largest file the plan carries."""
        return self.k * self.share_bytes

    def packet_bytes(self) -> int:
        return lora.HEADER + FEC_FIELDS + self.share_bytes


def fec_plan(airtime_s: float, link: LoRaLink, parity: float) -> FecPlan:
    """The plan that carries the most file bytes in airtime_s, with m = ceil(parity * n) parity packets.

    Over n = 1..255 packets, each share is the largest whose packet still lets n packets fit the
    airtime (time on air grows in steps of 4 (SF - 2 DE) bytes, so equal airtime rarely means
    equal bytes); the k = n - m of the best n carry the file.
    """
    if not 0.0 <= parity < 1.0:
        raise ValueError(f"parity {parity!r}: the share of packets that are parity, in [0, 1)")
    max_share = link.payload_bytes - lora.HEADER - FEC_FIELDS
    toa = [link.packet_airtime_s(lora.HEADER + FEC_FIELDS + s) for s in range(1, max_share + 1)]
    best: FecPlan | None = None
    for n in range(1, lora.MAX_PACKETS + 1):
        per = airtime_s / n
        s = max((i + 1 for i, t in enumerate(toa) if t <= per), default=0)
        if s == 0:
            break
        m = math.ceil(parity * n - 1e-9)
        k = n - m
        if k < 1:
            continue
        if best is None or k * s > best.data_bytes:
            best = FecPlan(n, k, s)
    if best is None:
        raise ValueError(f"{airtime_s:g} s on air is less than one {link.payload_bytes}-byte-link packet")
    return best


def fec_encode(data: bytes, image_id: int, plan: FecPlan) -> list[bytes]:
    """n packets: k systematic shares of `data` (zero-padded) then m zfec parity shares."""
    if len(data) > plan.data_bytes:
        raise PacketError(f"{len(data)} B do not fit the plan's {plan.k} x {plan.share_bytes} B")
    if plan.n > lora.MAX_PACKETS:
        raise PacketError(f"{plan.n} packets: at most {lora.MAX_PACKETS}")
    share = max(1, math.ceil(len(data) / plan.k))   # a smaller file gets shorter packets
    pad = plan.k * share - len(data)
    padded = data + bytes(pad)
    blocks = [padded[i * share:(i + 1) * share] for i in range(plan.k)]
    shares = _zfec().Encoder(plan.k, plan.n).encode(blocks)
    return [lora.packet_header(image_id, i, plan.n) + bytes((plan.k, pad)) + bytes(s) for i, s in enumerate(shares)]


@dataclass
class FecResult:
    """The erasure decoder's result: the whole file, or the systematic prefix that arrived."""

    data: bytes | None           # the file when at least k packets arrived
    prefix: bytes                # systematic shares 0..j-1 that arrived in a row (pad removed at the end)
    k: int
    n: int
    received: list[int]

    @property
    def recovered(self) -> bool:
        return self.data is not None


def fec_decode(received: Sequence[bytes]) -> FecResult:
    """Any k of the n packets give the file back; fewer give the systematic prefix."""
    if not received:
        raise PacketError("no packets received: nothing says which image or how many packets")
    got = lora.depacketize(received)
    k_pad = {body[:2] for body in got.parts.values()}
    if len(k_pad) != 1 or any(len(b) < FEC_FIELDS + 1 for b in got.parts.values()):
        raise PacketError(f"image {got.image_id}: packets disagree on k / pad or carry no share")
    k, pad = next(iter(k_pad))
    if not 1 <= k <= got.count:
        raise PacketError(f"image {got.image_id}: k = {k} with {got.count} packets")
    shares = {i: b[FEC_FIELDS:] for i, b in got.parts.items()}
    if len({len(s) for s in shares.values()}) != 1:
        raise PacketError(f"image {got.image_id}: shares of different lengths")
    prefix = bytearray()
    j = 0
    while j < k and j in shares:
        prefix += shares[j]
        j += 1
    if j == k and pad:
        del prefix[-pad:]
    data = None
    if len(shares) >= k:
        nums = sorted(shares)[:k]
        blocks = _zfec().Decoder(k, got.count).decode([shares[i] for i in nums], nums)
        whole = b"".join(bytes(b) for b in blocks)
        data = whole[:len(whole) - pad] if pad else whole
    return FecResult(data, bytes(prefix), k, got.count, sorted(shares))


def receive_jpeg_fec(received: Sequence[bytes], conceal_with: Conceal = "gray",
                     expected_size: tuple[int, int] = (224, 224)) -> LossyImage:
    """The image from JPEG-RST + zfec packets: exact with >= k packets, else the prefix's intervals."""
    if not received:
        return LossyImage(_gray(expected_size), False, False, [], note="no packet arrived")
    res = fec_decode(received)
    lost_packets = [i for i in range(res.n) if i not in res.received]
    if res.recovered:
        layout = parse_jpeg(res.data)
        return LossyImage(decode(res.data), True, True, lost_packets, [], np.zeros((layout.height, layout.width), bool),
                          note=f"erasure code recovered {len(lost_packets)} lost of {res.n} packets" if lost_packets else "")
    try:
        info, sos_end = parse_header(res.prefix)
    except JpegStructureError:
        return LossyImage(_gray(expected_size), False, False, lost_packets,
                          note=f"{len(res.received)} of {res.n} packets (< k = {res.k}) and the header is not in "
                               "the systematic prefix: nothing decodable (image all gray)")
    layout = JpegLayout(res.prefix[:sos_end], [], info["width"], info["height"], info["mcu_w"], info["mcu_h"],
                        info["restart_interval"])
    done = {k: seg for k, (seg, marker) in enumerate(split_entropy(res.prefix[sos_end:])) if marker is not None}
    out = _decode_intervals(layout, done, lost_packets, conceal_with)
    out.note = f"{len(res.received)} of {res.n} packets (< k = {res.k}): " + out.note
    return out


def jpeg_fec_at_airtime(pixels: np.ndarray, link: LoRaLink, airtime_s: float, parity: float,
                        setting: JpegSetting = "optimized", restart_rows: int = 1,
                        image_id: int = 0, lookahead: int = LOOKAHEAD) -> tuple[Encoded, list[bytes], FecPlan]:
    """The highest-quality JPEG-RST that fits fec_plan(airtime_s, link, parity), and its n packets."""
    plan = fec_plan(airtime_s, link, parity)
    best = search_quality(lambda q: encode_rst(pixels, q, setting, restart_rows), lambda e: e.nbytes,
                          plan.data_bytes, JPEG_QUALITIES, lookahead)
    packets = fec_encode(best.data, image_id, plan)
    return best, packets, plan
