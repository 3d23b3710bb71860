"""Packet-loss bench (issue 14): image quality against LoRa packet loss, the learned codec next to
JPEG with restart markers and JPEG + an erasure code, all three at the same airtime.

Sent, per held-out image and packet size (payload_bytes, the application payload with
lora.py's 4-byte image header; defaults 51, 115 and 242 B, the EU868 limits):

* ours-shuffled: the codec's integer latent, fixed-length coded (bits_for(bins) bits a value, no
  entropy coding) and shuffled over packets (entropy.LatentLayout / packetize, layout seed 0,
  image id = the image's index). Its packets' time on air is the budget of the other two.
* jpeg-rst: the highest-quality baseline JPEG with a restart marker every MCU row
  (jpeg_loss.jpeg_rst_at_airtime, "optimized" setting: 4:2:0, optimized Huffman tables) whose
  packets (cut at restart intervals) take at most that airtime.
* jpeg-fec: the same JPEG family plus zfec Reed-Solomon parity (jpeg_loss.jpeg_fec_at_airtime):
  for each parity p (default 0.2) the n-packet plan with m = ceil(p n) parity packets that carries
  the most file bytes in that airtime, and the highest-quality JPEG that fits it.

Equal airtime means equal time on air, not equal bytes: JPEG's packets carry 6 bytes of framing
(the 4-byte header and jpeg_loss's 2-byte field), ours 4, and time on air grows in steps of
4 (SF - 2 DE) bytes a packet. JPEG gets at most ours' airtime and one quality more would not fit;
where JPEG lands at ours' ~1.6 kB (qualities 2-7 on 224x224) one quality step is worth up to about
3 packets of 51 B, so JPEG's airtime is often, not always, within one packet of ours
(airtime_s against airtime_budget_s in the rows).

An image whose smallest JPEG (quality 1) is already over ours' airtime cannot be sent by that
method at equal airtime: it is left out of that method's averages and counted in
images_over_airtime (the rows say how many); common_images=True (CLI --common-images) leaves
such an image out of every method's rows at that payload instead, so that all three average the
same images (images_over_airtime then counts it for ours too). "ours-huffman" (entropy-coded
latent) is not run: its stream has no resynchronization point, so a lost packet loses every later
value, and decoding the prefix before it needs a prefix decoder that entropy.huffman_decode does
not have.

Link: each packet size is sent at the EU868 data rate it is the limit of, at 125 kHz, coding rate
4/5, 8 preamble symbols, explicit header, CRC, 13 bytes of LoRaWAN framing a packet
(lora.LoRaLink): 51 B at SF10 (DR2), 115 B at SF9 (DR3), 242 B at SF7 (DR5); another size at the
fastest SF whose limit is the smallest that holds it. sf= fixes one SF for every size (the size
must then fit that SF's limit). The SF sets the airtime, which the three methods share, so it
matters only through the step sizes of the airtime formula.

Loss: lora.loss_mask, "iid" (each packet dropped with probability rate) or "burst" (the
Gilbert channel with that mean rate and bursts of mean_burst packets, default 3). The masks of
image i, trial t and loss model k come from numpy's generator seeded with (seed, crc32(dataset),
i, t, k), the same seed for the three methods (common random numbers: their masks differ only
because their packet counts do) and for every loss rate (iid masks are nested: what is lost at
5 % is also lost at 10 %).

Receivers (what a real one shows; quality is PSNR and MS-SSIM (RGB) against the original):
ours: entropy.depacketize_received, the missing values decode as the mid level, which the
drop-trained codec learned; jpeg-rst: jpeg_loss.receive_jpeg (the header must arrive; lost
intervals concealed, "previous" by default: the pixel row above repeated down, which scored
above "gray" in 10 of 12 settings tried (flowers and Kodak, 115 / 242 B, 5-20 % iid)); jpeg-fec:
jpeg_loss.receive_jpeg_fec (exact with any k of the n packets, else the systematic prefix's
intervals). JPEG-RST's header (SOI..SOS with the optimized Huffman tables, ~330 B) fills about 7
packets of 51 B, 3 of 115 B, 2 of 242 B, and every one of them is needed (the rows' notes give the
mean). Nothing decodable (ours: no packet arrived; JPEG: its header is lost) is shown as a
gray (128) image, scored as such and counted in images_lost; images_partial counts decodes with
something lost but something shown. Both count decodes, images x trials.

Rows (COLUMNS) are per (dataset, method, parity, payload, loss model, loss rate): means over the
images that fit and the trials; psnr is the mean of per-image dB; *_no_loss are the same images
over a lossless channel; airtime_budget_s is ours' airtime for those images; bytes counts the
application bytes on air (headers in), code_bytes the coded image alone.

Default budget of the CLI (flowers and Kodak, 24 images each, 3 payloads x 7 rates x 2 loss models
x 3 trials, one parity: 252 rows), measured with an untrained default codec (CodecConfig(drop_rate=0.1),
224x224, channels 32/64/64) on 2 CPU cores shared with other jobs (load average 1.5-2.7): 3 min 7 s
wall, 2.0 GB peak memory; about 90 s a data set, most of it MS-SSIM (~15 ms an image) and the
decoder (~30 ms an image, batched once per payload). Twice that on a machine half as free.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import entropy, lora
from .lora import LoRaLink

PAYLOADS = (51, 115, 242)
RATES = (0.0, 0.03, 0.05, 0.1, 0.2, 0.3, 0.4)
LOSS_MODELS = ("iid", "burst")
TRIALS = 3
PARITIES = (0.2,)
MEAN_BURST = 3.0
DEFAULT_LIMIT = 24
METHODS = ("ours-shuffled", "jpeg-rst", "jpeg-fec")
LAYOUT_SEED = 0
BW_HZ = 125_000
CODING_RATE = 1                      # 4/5
GRAY = 128
LOST_AS = "gray (128)"
MAX_APP_PAYLOAD = 255 - lora.LORAWAN_OVERHEAD_BYTES    # 242 B: the SX127x FIFO minus LoRaWAN framing
DECODE_BATCH = 64
COLUMNS = ("dataset", "method", "parity", "payload_bytes", "sf", "bw_hz", "cr", "loss_model", "mean_burst",
           "loss_rate", "trials", "images", "images_over_airtime", "decodes", "bytes", "code_bytes", "airtime_s",
           "airtime_budget_s", "packets", "fec_n", "fec_k", "jpeg_quality", "packet_loss_measured", "psnr",
           "ms_ssim", "psnr_no_loss", "ms_ssim_no_loss", "images_lost", "images_partial", "lost_as", "note")


# ------------------------------------------------------------------------------ arguments

def _check_args(payloads, rates, models, trials, mean_burst, parities, sf, bw_hz) -> tuple:
    """The arguments as tuples, or a ValueError naming the bad value and what is allowed."""
    payloads, rates, models, parities = tuple(payloads), tuple(rates), tuple(models), tuple(parities)
    if not payloads or not rates or not models:
        raise ValueError("payloads, rates and loss models: at least one of each")
    for p in payloads:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise ValueError(f"payload {p!r}: an integer number of bytes")
        if p > MAX_APP_PAYLOAD:
            raise ValueError(f"payload {p} B: larger than LoRa allows, at most {MAX_APP_PAYLOAD} B of application "
                             f"payload (255 B PHY minus {lora.LORAWAN_OVERHEAD_BYTES} B of LoRaWAN framing; the "
                             "EU868 limits are 51, 115 and 242 B)")
        if p <= lora.HEADER + 2:
            raise ValueError(f"payload {p} B: more than the {lora.HEADER}-byte image header plus JPEG's 2-byte "
                             "packet field is needed")
    if len(set(payloads)) != len(payloads):
        raise ValueError(f"payloads {payloads}: each once")
    for r in rates:
        if isinstance(r, bool) or not isinstance(r, (int, float, np.floating, np.integer)) or not 0.0 <= r < 1.0:
            raise ValueError(f"loss rate {r!r}: a fraction of packets in [0, 1) (0.2 = 20 % lost)")
    if len(set(rates)) != len(rates):
        raise ValueError(f"loss rates {rates}: each once")
    for m in models:
        if m not in LOSS_MODELS:
            raise ValueError(f"loss model {m!r}: one of {', '.join(LOSS_MODELS)}")
    if len(set(models)) != len(models):
        raise ValueError(f"loss models {models}: each once")
    if "burst" in models:
        for r in rates:
            if r > 0:
                lora.gilbert_elliott_params(float(r), float(mean_burst))   # its ValueError says what is wrong
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"trials {trials!r}: an integer >= 1 (loss draws per image and rate)")
    for q in parities:
        if isinstance(q, bool) or not isinstance(q, (int, float, np.floating)) or not 0.0 <= q < 1.0:
            raise ValueError(f"parity {q!r}: the share of jpeg-fec's packets that are parity, in [0, 1)")
    if len(set(parities)) != len(parities):
        raise ValueError(f"parities {parities}: each once")
    for p in payloads:
        link_for_payload(int(p), sf, bw_hz)
    return tuple(int(p) for p in payloads), tuple(float(r) for r in rates), models, tuple(float(q) for q in parities)


def link_for_payload(payload_bytes: int, sf: int | None = None, bw_hz: int = BW_HZ,
                     cr: int = CODING_RATE) -> LoRaLink:
    """The link a payload size is sent on (module docstring): its EU868 data rate, or `sf`."""
    if payload_bytes > MAX_APP_PAYLOAD:
        raise ValueError(f"payload {payload_bytes} B: larger than LoRa allows ({MAX_APP_PAYLOAD} B)")
    if sf is not None:
        limit = lora.max_payload(sf, bw_hz)
        if payload_bytes > limit:
            raise ValueError(f"payload {payload_bytes} B: larger than LoRa allows at SF{sf}/{bw_hz // 1000} kHz "
                             f"(EU868 limit {limit} B); use a smaller payload or a lower SF")
        return LoRaLink(sf=sf, bw_hz=bw_hz, cr=cr, payload_bytes=payload_bytes)
    rates = [(s, n) for s, b, n in lora.EU868_DATA_RATES.values() if b == bw_hz]
    if not rates:
        raise ValueError(f"bandwidth {bw_hz} Hz has no EU868 data rate: pass sf=")
    fits = [n for _, n in rates if n >= payload_bytes]
    if not fits:
        raise ValueError(f"payload {payload_bytes} B: larger than any EU868 data rate at {bw_hz // 1000} kHz allows "
                         f"({max(n for _, n in rates)} B)")
    limit = min(fits)
    return LoRaLink(sf=min(s for s, n in rates if n == limit), bw_hz=bw_hz, cr=cr, payload_bytes=payload_bytes)


# ------------------------------------------------------------------------------ what is sent

@dataclass(frozen=True)
class Score:
    """Quality of what the receiver shows, and how much of it is real."""

    psnr: float
    ms_ssim: float
    status: str              # "complete" | "partial" | "lost" (nothing decodable: gray)


@dataclass
class Sent:
    """One image as one method puts it on air at one payload size (packets None: it does not fit)."""

    method: str
    parity: float | None
    packets: list[bytes] | None
    airtime_s: float         # this method's time on air (nan when it does not fit)
    budget_s: float          # ours' time on air: the budget
    code_bytes: int = 0
    image: np.ndarray | None = None    # what a lossless channel gives
    quality: int | None = None         # JPEG quality
    fec: object | None = None          # jpeg_loss.FecPlan
    header_packets: int = 0            # jpeg-rst: packets that carry the JPEG header (all needed)
    skipped: str = ""

    @property
    def key(self) -> tuple[str, float | None]:
        return self.method, self.parity

    @property
    def bytes_on_air(self) -> int:
        return sum(len(p) for p in self.packets) if self.packets else 0


def code_at_airtime(pixels: np.ndarray, latent: np.ndarray, layout: entropy.LatentLayout, link: LoRaLink,
                    image_id: int = 0, parities: Sequence[float] = PARITIES, setting: str = "optimized",
                    restart_rows: int = 1) -> list[Sent]:
    """ours-shuffled for one image's integer latent, then jpeg-rst and jpeg-fec (per parity) at its airtime.

    The Sent.image of ours is left None (the caller decodes the latents in a batch).
    """
    from . import jpeg, jpeg_loss
    if layout.payload_bytes != link.payload_bytes:
        raise ValueError(f"layout for {layout.payload_bytes}-byte packets, link for {link.payload_bytes}")
    packets = entropy.packetize(latent, layout, image_id & lora.MAX_IMAGE_ID)
    budget = link.airtime_s(packets)
    nbytes = -(-layout.n * entropy.bits_for(layout.bins) // 8)
    out = [Sent("ours-shuffled", None, packets, budget, budget, nbytes)]
    try:
        e, pk = jpeg_loss.jpeg_rst_at_airtime(pixels, link, budget, setting, restart_rows,   # type: ignore[arg-type]
                                              image_id=image_id & lora.MAX_IMAGE_ID)
        out.append(Sent("jpeg-rst", None, pk.packets, link.airtime_s(pk.packets), budget, e.nbytes, e.image, e.quality,
                        header_packets=pk.header_packets))
    except jpeg.BudgetTooSmall as err:
        out.append(Sent("jpeg-rst", None, None, math.nan, budget, skipped=str(err)))
    for parity in parities:
        try:
            e, pk, plan = jpeg_loss.jpeg_fec_at_airtime(pixels, link, budget, parity,
                                                        setting, restart_rows,   # type: ignore[arg-type]
                                                        image_id & lora.MAX_IMAGE_ID)
            out.append(Sent("jpeg-fec", parity, pk, link.airtime_s(pk), budget, e.nbytes, e.image, e.quality, plan))
        except jpeg.BudgetTooSmall as err:
            out.append(Sent("jpeg-fec", parity, None, math.nan, budget, skipped=str(err)))
    return out


def _score(original: np.ndarray, shown: np.ndarray, status: str) -> Score:
    from .metrics import ms_ssim, psnr
    return Score(psnr(original, shown), ms_ssim(original, shown), status)


def mask_seed(seed: int, dataset: str, image: int, trial: int, model_index: int) -> list[int]:
    """The seed sequence of one image's loss draws (module docstring)."""
    return [int(seed), zlib.crc32(dataset.encode()), int(image), int(trial), int(model_index)]


# ------------------------------------------------------------------------------ the bench

def loss_rows(codec, images: Sequence[np.ndarray], dataset: str, payloads: Sequence[int] = PAYLOADS,
              rates: Sequence[float] = RATES, models: Sequence[str] = LOSS_MODELS, trials: int = TRIALS,
              seed: int = 0, *, parities: Sequence[float] = PARITIES, mean_burst: float = MEAN_BURST,
              setting: str = "optimized", conceal: str = "previous", restart_rows: int = 1,
              sf: int | None = None, bw_hz: int = BW_HZ, cr: int = CODING_RATE,
              common_images: bool = False) -> list[dict]:
    """Rows of results/image_packet_loss.csv for one data set (module docstring for what is measured).

    codec: a codec_model.Codec (trained with drop_rate > 0 for the loss it will see); images:
    (H, W, 3) uint8 at the codec's image size.
    """
    from tqdm import tqdm

    from . import jpeg, jpeg_loss
    from .codec_model import check_images
    payloads, rates, models, parities = _check_args(payloads, rates, models, trials, mean_burst, parities, sf, bw_hz)
    if setting not in jpeg.JPEG_SETTINGS:
        raise ValueError(f"JPEG setting {setting!r}: one of {', '.join(jpeg.JPEG_SETTINGS)}")
    if conceal not in jpeg_loss.CONCEALMENTS:
        raise ValueError(f"concealment {conceal!r}: one of {', '.join(jpeg_loss.CONCEALMENTS)}")
    cfg = codec.config
    if len(images) == 0:
        raise ValueError(f"{dataset}: no images")
    arrays = [np.asarray(x) for x in images]
    try:
        stacked = np.stack(arrays)
    except ValueError:
        raise ValueError(f"{dataset} images: all must be ({cfg.image_size[0]}, {cfg.image_size[1]}, 3) uint8, got "
                         f"shapes {sorted({a.shape for a in arrays})}") from None
    imgs = check_images(stacked, cfg, f"{dataset} images")
    n = len(imgs)
    links = {p: link_for_payload(p, sf, bw_hz, cr) for p in payloads}
    layouts = {p: entropy.LatentLayout(cfg.latent_shape, cfg.bins, p, LAYOUT_SEED) for p in payloads}
    q = codec.encode(imgs)
    clean = codec.decode(q)
    gray_img = np.full(imgs.shape[1:], GRAY, np.uint8)
    gray = [_score(x, gray_img, "lost") for x in imgs]
    clean_ours = [_score(x, y, "complete") for x, y in zip(imgs, clean)]

    sent: dict[int, list[list[Sent]]] = {}        # payload -> image -> [ours, rst, fec per parity]
    clean_score: dict[tuple, Score] = {}          # (payload, i, key) -> lossless-channel score
    for p in payloads:
        sent[p] = []
        for i in range(n):
            row = code_at_airtime(imgs[i], q[i], layouts[p], links[p], i, parities, setting, restart_rows)
            row[0].image = clean[i]
            for s in row:
                if s.packets is not None:
                    clean_score[(p, i, s.key)] = clean_ours[i] if s.method == "ours-shuffled" else \
                        _score(imgs[i], s.image, "complete")
            sent[p].append(row)
        if common_images:
            for row in sent[p]:
                if any(s.packets is None for s in row):
                    for s in row:
                        s.packets, s.airtime_s = None, math.nan
                        s.skipped = s.skipped or "left out: another method cannot meet this airtime (common_images)"
    keys = [s.key for s in sent[payloads[0]][0]]

    cache: dict[tuple, Score] = {}

    def receive(p: int, i: int, s: Sent, mask: np.ndarray, pending: dict) -> tuple:
        ck = (p, i, s.key, np.packbits(mask).tobytes(), len(mask))
        if ck in cache or ck in pending:
            return ck
        if not mask.any():
            cache[ck] = clean_score[(p, i, s.key)]
            return ck
        got = lora.deliver(s.packets, mask)
        if s.method == "ours-shuffled":
            if not got:
                cache[ck] = gray[i]
            else:
                pending[ck] = entropy.depacketize_received(got, layouts[p], i & lora.MAX_IMAGE_ID)
            return ck
        recv = jpeg_loss.receive_jpeg if s.method == "jpeg-rst" else jpeg_loss.receive_jpeg_fec
        shown = recv(got, conceal, imgs.shape[1:3])     # type: ignore[arg-type]
        if not shown.decodable:
            cache[ck] = gray[i]
        elif shown.complete and np.array_equal(shown.image, s.image):
            cache[ck] = clean_score[(p, i, s.key)]
        else:
            cache[ck] = _score(imgs[i], shown.image, "complete" if shown.complete else "partial")
        return ck

    rows: list[dict] = []
    bar = tqdm(total=len(payloads) * len(models) * len(rates), desc=f"packet loss {dataset}", leave=False,
               disable=not sys.stderr.isatty())
    for p in payloads:
        pending: dict[tuple, entropy.ReceivedLatent] = {}     # ours' partial latents: one decode per payload
        draws: dict[tuple, dict[tuple, list[tuple[tuple, float]]]] = {}
        for mi, model in enumerate(models):
            for rate in rates:
                d = draws[(model, rate)] = {k: [] for k in keys}
                for i in range(n):
                    for t in range(trials):
                        ss = mask_seed(seed, dataset, i, t, mi)
                        for s in sent[p][i]:
                            if s.packets is None:
                                continue
                            mask = lora.loss_mask(len(s.packets), rate, model, mean_burst, np.random.default_rng(ss))
                            d[s.key].append((receive(p, i, s, mask, pending), float(mask.mean())))
                bar.update()
        _decode_pending(codec, imgs, pending, cache)
        for model in models:
            for rate in rates:
                for key in keys:
                    rows.append(_row(dataset, key, p, links[p], model, mean_burst, rate, trials,
                                     [sent[p][i][keys.index(key)] for i in range(n)], draws[(model, rate)][key],
                                     cache, clean_score, conceal))
    bar.close()
    return rows


def _decode_pending(codec, imgs: np.ndarray, pending: dict, cache: dict) -> None:
    """Decode the partial latents in batches and score them against their originals."""
    items = list(pending.items())
    for b in range(0, len(items), 4 * DECODE_BATCH):
        chunk = items[b:b + 4 * DECODE_BATCH]
        lat = np.stack([rl.latent for _, rl in chunk])
        miss = np.stack([rl.missing for _, rl in chunk])
        shown = codec.decode(lat, miss, batch=DECODE_BATCH)
        for (ck, _), img in zip(chunk, shown):
            cache[ck] = _score(imgs[ck[1]], img, "partial")


def _mean(v) -> float:
    return float(np.mean(v)) if len(v) else math.nan


def _row(dataset, key, p, link, model, mean_burst, rate, trials, sent: list[Sent], draws, cache, clean_score,
         conceal) -> dict:
    method, parity = key
    fit = [(i, s) for i, s in enumerate(sent) if s.packets is not None]
    scores = [cache[ck] for ck, _ in draws]
    notes = []
    if method == "ours-shuffled":
        notes.append("fixed-length latents shuffled over packets; missing values decode as the mid level")
    elif method == "jpeg-rst":
        hp = _mean([s.header_packets for _, s in fit])
        notes.append(f"restart marker every MCU row; lost intervals concealed ({conceal}); the header "
                     f"(all needed) fills {hp:.3g} packets on average")
    else:
        notes.append(f"zfec, {parity:g} of the packets parity; < k packets: the systematic prefix's intervals")
    over = len(sent) - len(fit)
    if over:
        why = "JPEG cannot meet ours' airtime even at quality 1 (for this method or, common_images, another)"
        notes.append(f"{over} of {len(sent)} images left out: {why}")
    lost = sum(s.status == "lost" for s in scores)
    if lost:
        notes.append(f"{lost} decodes with nothing decodable, scored as a gray (128) image")
    return {
        "dataset": dataset, "method": method, "parity": "" if parity is None else parity, "payload_bytes": p,
        "sf": link.sf, "bw_hz": link.bw_hz, "cr": lora.CODING_RATES[link.cr], "loss_model": model,
        "mean_burst": mean_burst if model == "burst" else "", "loss_rate": rate, "trials": trials,
        "images": len(fit), "images_over_airtime": over, "decodes": len(scores),
        "bytes": _mean([s.bytes_on_air for _, s in fit]), "code_bytes": _mean([s.code_bytes for _, s in fit]),
        "airtime_s": _mean([s.airtime_s for _, s in fit]), "airtime_budget_s": _mean([s.budget_s for _, s in fit]),
        "packets": _mean([len(s.packets) for _, s in fit]),
        "fec_n": _mean([s.fec.n for _, s in fit]) if method == "jpeg-fec" and fit else "",
        "fec_k": _mean([s.fec.k for _, s in fit]) if method == "jpeg-fec" and fit else "",
        "jpeg_quality": _mean([s.quality for _, s in fit]) if method != "ours-shuffled" and fit else "",
        "packet_loss_measured": _mean([f for _, f in draws]),
        "psnr": _mean([s.psnr for s in scores]), "ms_ssim": _mean([s.ms_ssim for s in scores]),
        "psnr_no_loss": _mean([clean_score[(p, i, key)].psnr for i, _ in fit]),
        "ms_ssim_no_loss": _mean([clean_score[(p, i, key)].ms_ssim for i, _ in fit]),
        "images_lost": lost, "images_partial": sum(s.status == "partial" for s in scores),
        "lost_as": LOST_AS, "note": "; ".join(notes),
    }


# ------------------------------------------------------------------------------ output

def label(row: dict) -> str:
    """A method's name with its parity: 'jpeg-fec (parity 0.2)'."""
    par = row.get("parity", "")
    return f"{row['method']} (parity {float(par):g})" if par not in ("", None) else row["method"]


def _f(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def summary_lines(rows: Sequence[dict], rate: float = 0.2) -> list[str]:
    """The comparison at the loss rate closest to `rate`: one line per (dataset, payload, loss model)."""
    if not rows:
        return []
    have = sorted({_f(r["loss_rate"]) for r in rows})
    at = min(have, key=lambda v: abs(v - rate))
    out = []
    groups = sorted({(r["dataset"], int(_f(r["payload_bytes"])), r["loss_model"]) for r in rows},
                    key=lambda g: (g[0], g[1], g[2]))
    for ds, p, model in groups:
        sel = [r for r in rows if (r["dataset"], int(_f(r["payload_bytes"])), r["loss_model"]) == (ds, p, model)
               and _f(r["loss_rate"]) == at]
        if not sel:
            continue
        parts = []
        for r in sel:
            over = int(_f(r["images_over_airtime"]))
            parts.append(f"{label(r)} {_f(r['ms_ssim']):.3f}" + (f" ({over} img over airtime)" if over else ""))
        out.append(f"{ds} {p} B SF{sel[0]['sf']} {model} {at:.0%} loss, MS-SSIM: " + " | ".join(parts))
    return out


def plot(rows: Sequence[dict], png: str | Path) -> Path:
    """MS-SSIM against the loss rate: one panel per (loss model, payload), a line per method
    (colour) and data set (line style)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    png = Path(png)
    if not rows:
        raise ValueError("plot: no rows")
    models = [m for m in LOSS_MODELS if any(r["loss_model"] == m for r in rows)]
    payloads = sorted({int(_f(r["payload_bytes"])) for r in rows})
    labels = list(dict.fromkeys(label(r) for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    colors = {lb: plt.get_cmap("tab10")(k % 10) for k, lb in enumerate(labels)}
    styles = {ds: ("-", "--", ":", "-.")[k % 4] for k, ds in enumerate(datasets)}
    fig, axes = plt.subplots(len(models), len(payloads), figsize=(4.3 * len(payloads), 3.5 * len(models)),
                             squeeze=False, sharey=True)
    for a, model in enumerate(models):
        for b, p in enumerate(payloads):
            ax = axes[a][b]
            sel = [r for r in rows if r["loss_model"] == model and int(_f(r["payload_bytes"])) == p]
            for lb in labels:
                for ds in datasets:
                    pts = sorted((100 * _f(r["loss_rate"]), _f(r["ms_ssim"])) for r in sel
                                 if label(r) == lb and r["dataset"] == ds and not math.isnan(_f(r["ms_ssim"])))
                    if pts:
                        ax.plot(*zip(*pts), marker="o", ms=3, ls=styles[ds], color=colors[lb],
                                label=f"{lb}, {ds}" if len(datasets) > 1 else lb)
            ax.axvline(20, color="0.6", lw=0.8, ls=":")
            sfs = sorted({str(r["sf"]) for r in sel})
            burst = f", bursts of {_f(sel[0]['mean_burst']):g}" if model == "burst" and sel else ""
            ax.set_title(f"{p} B packets, SF{'/'.join(sfs)}: {model} loss{burst}", fontsize=9)
            ax.set_xlabel("packets lost (%)")
            if b == 0:
                ax.set_ylabel("MS-SSIM (RGB), equal airtime")
            ax.grid(alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    ncol = min(len(names), 3)
    fig.legend(handles, names, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.suptitle("Quality against LoRa packet loss, at ours' airtime (held-out images)", fontsize=10)
    fig.tight_layout(rect=(0, 0.035 * -(-len(names) // ncol) / len(models) + 0.01, 1, 1))
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    from ... import paths
    from .jpeg import JPEG_SETTINGS
    from .jpeg_loss import CONCEALMENTS
    from .rate_quality import FIT, held_out, write_csv
    ap = argparse.ArgumentParser(description="Image quality against LoRa packet loss: the learned codec vs "
                                             "JPEG + restart markers and JPEG + zfec at equal airtime "
                                             "-> results/image_packet_loss.csv and .png")
    ap.add_argument("--model", required=True,
                    help="the codec: a name under models/image-codec/ or a folder (the drop-trained one)")
    ap.add_argument("--datasets", nargs="+", default=["flowers", "kodak"], choices=sorted(FIT))
    ap.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                    help=f"held-out images per data set, evenly spread (default {DEFAULT_LIMIT}; 0: all)")
    ap.add_argument("--trials", type=int, default=TRIALS, help=f"loss draws per image and rate (default {TRIALS})")
    ap.add_argument("--payloads", type=int, nargs="+", default=list(PAYLOADS))
    ap.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    ap.add_argument("--loss-models", nargs="+", default=list(LOSS_MODELS))
    ap.add_argument("--mean-burst", type=float, default=MEAN_BURST, help="mean burst length, packets")
    ap.add_argument("--parity", type=float, nargs="+", default=list(PARITIES),
                    help="share of jpeg-fec's packets that are parity (one series each)")
    ap.add_argument("--sf", type=int, default=None, help="one SF for every payload (default: each payload's EU868 DR)")
    ap.add_argument("--setting", choices=JPEG_SETTINGS, default="optimized")
    ap.add_argument("--conceal", choices=CONCEALMENTS, default="previous")
    ap.add_argument("--common-images", action="store_true",
                    help="average every method over the same images: those all three can send at ours' airtime")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="CSV (default results/image_packet_loss.csv)")
    ap.add_argument("--png", type=Path, default=None, help="plot (default: the CSV's name with .png)")
    a = ap.parse_args(argv)
    try:
        _check_args(a.payloads, a.rates, a.loss_models, a.trials, a.mean_burst, a.parity, a.sf, BW_HZ)
    except ValueError as e:
        ap.error(str(e))
    if a.limit < 0:
        ap.error(f"--limit {a.limit}: images per data set, >= 0 (0: all)")
    out = a.out or paths.results_dir() / "image_packet_loss.csv"
    png = a.png or out.with_suffix(".png")
    t0 = time.perf_counter()
    from ...train.zoo.common import _limit_threads
    from .artifacts import load_codec
    _limit_threads(2)
    codec = load_codec(a.model)
    size = codec.config.image_size
    if size[0] != size[1]:
        ap.error(f"codec {a.model} is for {size[1]}x{size[0]} images; the held-out sets are square crops")
    rows: list[dict] = []
    for ds in a.datasets:
        t1 = time.perf_counter()
        images = held_out(ds, a.limit or None, size[0])
        rows += loss_rows(codec, images, ds, a.payloads, a.rates, a.loss_models, a.trials, a.seed,
                          parities=a.parity, mean_burst=a.mean_burst, setting=a.setting, conceal=a.conceal, sf=a.sf,
                          common_images=a.common_images)
        print(f"[image] packet loss {ds}: {len(images)} images in {time.perf_counter() - t1:.0f} s",
              file=sys.stderr, flush=True)
    write_csv(rows, out, COLUMNS)
    plot(rows, png)
    for line in summary_lines(rows, 0.2):
        print(line)
    print(f"wrote {out} ({len(rows)} rows) and {png} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
