"""JPEG and WebP through Pillow, and the quality search that matches a byte budget.

Two JPEG settings (libjpeg-turbo, which Pillow wheels ship), because the Starfish paper's gain
depends on which JPEG it is measured against (issue 14):

* "paper": what the paper's notebooks ran: 4:4:4 (subsampling=0), the standard Huffman tables
  (optimize=False), baseline.
* "optimized": 4:2:0 (subsampling=2), Huffman tables optimized for the image (optimize=True), and
  at each quality the smaller of baseline and progressive ("progressive where it makes the file
  smaller"). Decoder-side deblocking is not applied: libjpeg-turbo has none.

WebP: Pillow's lossy WebP (libwebp) at method=6, its slowest and smallest.

Sizes are whole files, headers included (JFIF APP0, tables, RIFF), since every byte goes on air.
Restart markers (for jpeg_loss) come from Pillow's `restart_marker_rows` / `restart_marker_blocks`
save options, which emit libjpeg's DRI segment and RST0..7 markers; they force baseline.

Quality search: bisection over the integer quality for the highest quality whose file fits the
budget. File size is almost but not exactly non-decreasing in quality (WebP dips by < 1 % at a few
qualities, progressive JPEG at quality 1-2), so after the bisection the next `lookahead` qualities
are tried too and the highest that fits wins; the search costs about 7 + lookahead encodes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from .dataset import strict_decoding

JPEG_SETTINGS = ("paper", "optimized")
JpegSetting = Literal["paper", "optimized"]
JPEG_QUALITIES = (1, 100)   # libjpeg's range (Pillow maps 0 to 1)
WEBP_QUALITIES = (0, 100)
WEBP_METHOD = 6
LOOKAHEAD = 4
BASELINES = ("jpeg-paper", "jpeg-optimized", "webp")   # the method names of the rate-quality table


class BudgetTooSmall(ValueError):
    """Even the lowest quality does not fit the budget; `smallest` is that file's size (bytes or
    whatever the budget measures)."""

    def __init__(self, message: str, smallest: float):
        super().__init__(message)
        self.smallest = smallest


@dataclass(frozen=True)
class Encoded:
    """One compressed image: the file, what it decodes to, and how it was made."""

    codec: str                # "jpeg" | "webp"
    setting: str              # "paper" | "optimized" | "webp"
    quality: int
    data: bytes               # the whole file
    image: np.ndarray         # decoded (H, W, 3) uint8
    progressive: bool = False
    restart: str = ""         # "" or e.g. "rows=1" / "blocks=4"

    @property
    def nbytes(self) -> int:
        return len(self.data)

    @property
    def bpp(self) -> float:
        h, w = self.image.shape[:2]
        return 8.0 * len(self.data) / (h * w)


def _check_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8 RGB pixels, got {pixels.dtype} {pixels.shape}")
    return pixels


def decode(data: bytes) -> np.ndarray:
    """A JPEG / WebP / PNG file's pixels as (H, W, 3) uint8; a truncated file raises OSError."""
    from PIL import Image  # an extra of the package: imported where it is used
    with strict_decoding(), Image.open(io.BytesIO(data)) as im:
        im.load()
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _save(pixels: np.ndarray, fmt: str, **options) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, fmt, **options)
    return buf.getvalue()


def _check_quality(quality: int, lo_hi: tuple[int, int], codec: str) -> int:
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not lo_hi[0] <= quality <= lo_hi[1]:
        raise ValueError(f"{codec} quality {quality!r}: an integer in {lo_hi[0]}..{lo_hi[1]}")
    return int(quality)


def encode_jpeg(pixels: np.ndarray, quality: int, setting: JpegSetting = "paper",
                restart_rows: int = 0, restart_blocks: int = 0) -> Encoded:
    """JPEG of `pixels` at `quality` in one of JPEG_SETTINGS.

    restart_rows / restart_blocks > 0 put a restart marker every that many MCU rows / MCUs
    (one of the two); the file is then always baseline, even in the "optimized" setting.
    """
    pixels = _check_pixels(pixels)
    quality = _check_quality(quality, JPEG_QUALITIES, "JPEG")
    if setting not in JPEG_SETTINGS:
        raise ValueError(f"JPEG setting {setting!r}: one of {', '.join(JPEG_SETTINGS)}")
    if restart_rows < 0 or restart_blocks < 0 or (restart_rows and restart_blocks):
        raise ValueError("restart markers: restart_rows or restart_blocks, one of them, > 0")
    opts: dict = {"quality": quality}
    if restart_rows:
        opts["restart_marker_rows"] = int(restart_rows)
    if restart_blocks:
        opts["restart_marker_blocks"] = int(restart_blocks)
    restart = f"rows={restart_rows}" if restart_rows else (f"blocks={restart_blocks}" if restart_blocks else "")
    if setting == "paper":
        data = _save(pixels, "JPEG", subsampling=0, optimize=False, progressive=False, **opts)
        progressive = False
    else:
        data = _save(pixels, "JPEG", subsampling=2, optimize=True, progressive=False, **opts)
        progressive = False
        if not restart:
            prog = _save(pixels, "JPEG", subsampling=2, optimize=True, progressive=True, **opts)
            if len(prog) < len(data):
                data, progressive = prog, True
    return Encoded("jpeg", setting, quality, data, decode(data), progressive, restart)


def encode_webp(pixels: np.ndarray, quality: int) -> Encoded:
    """Lossy WebP of `pixels` at `quality` (method 6)."""
    pixels = _check_pixels(pixels)
    quality = _check_quality(quality, WEBP_QUALITIES, "WebP")
    data = _save(pixels, "WEBP", quality=quality, method=WEBP_METHOD, lossless=False)
    return Encoded("webp", "webp", quality, data, decode(data))


def search_quality(encode: Callable[[int], Encoded], cost: Callable[[Encoded], float], budget: float,
                   qualities: tuple[int, int], lookahead: int = LOOKAHEAD, unit: str = "B") -> Encoded:
    """The highest quality in the inclusive range whose encoding costs at most `budget`.

    `cost` measures an encoding in the budget's unit: bytes of the file, or seconds on air of its
    packets (jpeg_loss). See the module docstring for the search. Raises BudgetTooSmall when the
    lowest quality is already over the budget.
    """
    lo, hi = qualities
    cache: dict[int, Encoded] = {}

    def fits(q: int) -> bool:
        if q not in cache:
            cache[q] = encode(q)
        return cost(cache[q]) <= budget

    if not fits(lo):
        smallest = cost(cache[lo])
        raise BudgetTooSmall(f"the smallest {cache[lo].setting} {cache[lo].codec} (quality {lo}) costs "
                             f"{smallest:g} {unit}, over the budget of {budget:g} {unit}", smallest)
    good, bad = lo, hi + 1       # invariant: `good` fits; `bad` is above the range or known not to fit
    if fits(hi):
        good = hi
    else:
        bad = hi
        while bad - good > 1:
            mid = (good + bad) // 2
            if fits(mid):
                good = mid
            else:
                bad = mid
    for q in range(good + 1, min(hi, good + lookahead) + 1):
        if fits(q):
            good = q
    return cache[good]


def jpeg_at_budget(pixels: np.ndarray, budget_bytes: int, setting: JpegSetting = "paper",
                   lookahead: int = LOOKAHEAD) -> Encoded:
    """The highest-quality JPEG in `setting` whose whole file is at most budget_bytes."""
    return search_quality(lambda q: encode_jpeg(pixels, q, setting), lambda e: e.nbytes, budget_bytes,
                          JPEG_QUALITIES, lookahead)


def webp_at_budget(pixels: np.ndarray, budget_bytes: int, lookahead: int = LOOKAHEAD) -> Encoded:
    """The highest-quality WebP whose whole file is at most budget_bytes."""
    return search_quality(lambda q: encode_webp(pixels, q), lambda e: e.nbytes, budget_bytes,
                          WEBP_QUALITIES, lookahead)


def at_budget(method: str, pixels: np.ndarray, budget_bytes: int) -> Encoded:
    """jpeg-paper | jpeg-optimized | webp at a byte budget: the baselines of the rate-quality table."""
    if method == "webp":
        return webp_at_budget(pixels, budget_bytes)
    if method.startswith("jpeg-") and method[5:] in JPEG_SETTINGS:
        return jpeg_at_budget(pixels, budget_bytes, method[5:])  # type: ignore[arg-type]
    raise ValueError(f"unknown baseline {method!r}: jpeg-paper, jpeg-optimized or webp")

