"""The image sets of issue 14 (flowers_227, Kodak): which files, which split, and pixels at a fixed size.

Split (the same rule as the zoo's image encoder and the CinC subset): flowers, per class, files
sorted by name, every 5th (index 4, 9, ...) is test, the rest train: 600 / 150 images, 30 test
images per class. Kodak is test only (24 images): it is the codec benchmark, never trained on.

Size: the codecs work on 224x224 RGB, the paper's size. The default fit is a **center crop
without resampling** (227x227 flowers lose 1 px on the top/left and 2 px on the bottom/right),
so the pixels are the file's own and no resampling filter softens what the codecs see.
`fit="resize_crop"` instead scales the shorter side to the size with Lanczos (the filter the
paper re-sampled with) and then center-crops: what a whole Kodak photo (768x512) needs to come
out as one 224x224 view; a plain center crop of Kodak is a 224x224 window at full resolution.

Loading is strict: a file Pillow cannot identify, a truncated PNG or JPEG (decoded in full, with
Pillow's LOAD_TRUNCATED_IMAGES forced off), or an image too small for the requested crop raises
ImageDataError naming the file. Grayscale files are converted to RGB (the gray value in all three
channels) and say so in LoadedImage.grayscale; an alpha channel is dropped and says so too.
"""
from __future__ import annotations

import contextlib
import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np

from ...data.root import DataError, resolve_root

# Pillow is imported inside the functions: it is an extra of the package (tests/test_package.py
# keeps module-level imports to the core dependencies).

FLOWERS_DIR = "flowers_227"
KODAK_DIR = "kodak"
FLOWER_CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")  # label index = position
FLOWERS_SIZE = (227, 227)                        # (width, height), per shared/data/README.md
KODAK_SIZES = ((768, 512), (512, 768))           # landscape, and the six portrait images
TEST_EVERY = 5                                   # index % 5 == 4 is test
DEFAULT_SIZE = 224
Fit = Literal["center_crop", "resize_crop", "none"]
FITS: tuple[str, ...] = ("center_crop", "resize_crop", "none")
Split = Literal["train", "test", "all"]

_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


class ImageDataError(DataError):
    """An image file that cannot be used: not an image, damaged or truncated, or the wrong size.

    Messages start with the file's full path, since that is what the reader has to look at.
    """


@dataclass(frozen=True)
class ImageRecord:
    """One image of a dataset, not yet loaded."""

    dataset: str                 # "flowers" | "kodak"
    path: Path
    split: str                   # "train" | "test"
    label: str | None = None     # flowers: the class name; Kodak: None
    label_index: int | None = None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class LoadedImage:
    """Pixels ready for a codec, and what was done to the file to get them."""

    pixels: np.ndarray           # (H, W, 3) uint8 RGB
    path: Path
    source_mode: str             # Pillow's mode of the file: "RGB", "L", "P", "RGBA", ...
    source_size: tuple[int, int]  # (width, height) of the file
    fit: str
    grayscale: bool = False      # the file was grayscale; the three channels are equal
    alpha_dropped: bool = False  # the file had an alpha channel, which was discarded


# ------------------------------------------------------------------------------ listing

def flowers(split: Split = "all", root: str | os.PathLike[str] | None = None) -> list[ImageRecord]:
    """The 750 flower images (or one split), in class order, then by file name.

    Classes come from labels.csv (`file,label,source_path`, the data README's record of the
    labels); each row's folder must agree with its label, so a file moved between class folders
    is caught instead of silently relabelled. Without labels.csv the class is the folder name.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split {split!r}: one of 'train', 'test', 'all'")
    base = resolve_root(root) / FLOWERS_DIR
    if not base.is_dir():
        raise DataError(f"missing data folder {base} (flowers_227; see the data root's README.md)")
    by_class = _flower_files(base)
    out: list[ImageRecord] = []
    for k, cls in enumerate(FLOWER_CLASSES):
        files = sorted(by_class.get(cls, []), key=lambda p: p.name)
        if not files:
            raise DataError(f"{base}: no images of class {cls!r}")
        for i, path in enumerate(files):
            part = "test" if i % TEST_EVERY == TEST_EVERY - 1 else "train"
            if split in ("all", part):
                out.append(ImageRecord("flowers", path, part, cls, k))
    return out


def _flower_files(base: Path) -> dict[str, list[Path]]:
    labels = base / "labels.csv"
    by_class: dict[str, list[Path]] = {}
    if labels.is_file():
        with open(labels, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
                raise DataError(f"{labels}: expected the columns file,label (got {reader.fieldnames})")
            for line, row in enumerate(reader, start=2):
                rel, label = row["file"], row["label"]
                if label not in FLOWER_CLASSES:
                    raise DataError(f"{labels}:{line}: label {label!r} is not one of {', '.join(FLOWER_CLASSES)}")
                if Path(rel).parts[0] != label:
                    raise DataError(f"{labels}:{line}: {rel} is labelled {label!r} but lies in another class folder")
                path = base / rel
                if not path.is_file():
                    raise DataError(f"{labels}:{line}: missing image {path}")
                by_class.setdefault(label, []).append(path)
    else:
        for cls in FLOWER_CLASSES:
            by_class[cls] = [p for p in (base / cls).glob("*") if p.is_file()]
    return by_class


def kodak(root: str | os.PathLike[str] | None = None) -> list[ImageRecord]:
    """The 24 Kodak images, kodim01..kodim24, all test."""
    base = resolve_root(root) / KODAK_DIR
    files = sorted(base.glob("kodim*.png"))
    if not files:
        raise DataError(f"no kodim*.png in {base} (Kodak; see the data root's README.md)")
    return [ImageRecord("kodak", p, "test") for p in files]


def records(dataset: str, split: Split = "test", root: str | os.PathLike[str] | None = None) -> list[ImageRecord]:
    """flowers(split) or kodak() by name; Kodak has only a test split."""
    if dataset == "flowers":
        return flowers(split, root)
    if dataset == "kodak":
        if split == "train":
            raise ValueError("Kodak is test only (no training images)")
        return kodak(root)
    raise ValueError(f"unknown image dataset {dataset!r} (flowers | kodak)")


# ------------------------------------------------------------------------------ loading

@contextlib.contextmanager
def strict_decoding() -> Iterator[None]:
    """Pillow's LOAD_TRUNCATED_IMAGES is process-wide; a truncated file must fail here even if
    some other code turned it on (it is restored afterwards; not thread-safe)."""
    from PIL import ImageFile
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


def read_rgb(path: str | os.PathLike[str]) -> tuple[np.ndarray, str, bool, bool]:
    """(pixels (H, W, 3) uint8, file mode, was grayscale, alpha dropped) of a whole image file."""
    from PIL import Image, UnidentifiedImageError
    path = Path(path)
    if not path.is_file():
        raise ImageDataError(f"{path}: no such image file")
    try:
        with strict_decoding(), Image.open(path) as im:
            im.load()  # decodes everything: a truncated file fails here, not later
            mode = im.mode
            arr = _to_rgb(im)
    except UnidentifiedImageError as e:
        raise ImageDataError(f"{path}: not an image Pillow can read ({e})") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageDataError(f"{path}: damaged or truncated image file ({e})") from e
    return arr, mode, mode in _GRAY_MODES, mode in _ALPHA_MODES


def _to_rgb(im) -> np.ndarray:
    """(H, W, 3) uint8 of an opened Pillow image of any mode."""
    if im.mode.startswith("I;16") or im.mode == "I":
        # 16-bit gray (Pillow's convert("L") would clip at 255 instead of scaling)
        a = np.asarray(im, dtype=np.int64)
        if a.min() < 0 or a.max() > 65535:
            raise ValueError(f"{im.mode} image with values outside 0..65535")
        g = ((a * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode == "F":
        raise ValueError("floating-point (mode F) image: no 8-bit meaning for its values")
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def fit_to(pixels: np.ndarray, size: int, fit: str, path: Path | str = "<array>") -> np.ndarray:
    """Pixels cut (and for resize_crop, scaled) to size x size; see the module docstring."""
    if fit not in FITS:
        raise ValueError(f"fit {fit!r}: one of {', '.join(FITS)}")
    if fit == "none":
        return pixels
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size {size!r}: a positive number of pixels (the side of the square)")
    h, w = pixels.shape[:2]
    if fit == "resize_crop" and min(h, w) != size:
        from PIL import Image
        scale = size / min(h, w)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        pixels = np.asarray(Image.fromarray(pixels).resize((nw, nh), Image.Resampling.LANCZOS))
        h, w = nh, nw
    if h < size or w < size:
        raise ImageDataError(
            f"{path}: {w}x{h} is smaller than the {size}x{size} center crop "
            f"(use fit='resize_crop' to scale it, or a smaller size)")
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(pixels[top:top + size, left:left + size])


def load_image(path: str | os.PathLike[str], size: int = DEFAULT_SIZE, fit: Fit = "center_crop") -> LoadedImage:
    """One image file as (size, size, 3) uint8 RGB (fit="none": the file's own size)."""
    path = Path(path)
    arr, mode, gray, alpha = read_rgb(path)
    source_size = (arr.shape[1], arr.shape[0])
    return LoadedImage(fit_to(arr, size, fit, path), path, mode, source_size, fit, gray, alpha)


def load_record(rec: ImageRecord, size: int = DEFAULT_SIZE, fit: Fit = "center_crop") -> LoadedImage:
    """load_image, plus a check that the file has the size its dataset documents.

    A flowers file that is not 227x227 or a Kodak file that is not 768x512 / 512x768 has been
    replaced or damaged (`tinycodec data verify` checks the hashes); it is named, not cropped.
    """
    img = load_image(rec.path, size, fit)
    expected = (FLOWERS_SIZE,) if rec.dataset == "flowers" else KODAK_SIZES
    if img.source_size not in expected:
        want = " or ".join(f"{w}x{h}" for w, h in expected)
        raise ImageDataError(f"{rec.path}: {img.source_size[0]}x{img.source_size[1]}, but {rec.dataset} "
                             f"images are {want} (run `tinycodec data verify`)")
    return img


def load_array(recs: Sequence[ImageRecord], size: int = DEFAULT_SIZE, fit: Fit = "center_crop") -> np.ndarray:
    """(N, size, size, 3) uint8 of the records, in their order."""
    if fit == "none":
        raise ValueError("load_array needs one size for all images: fit='center_crop' or 'resize_crop'")
    if not recs:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([load_record(r, size, fit).pixels for r in recs])
