"""Quantise-then-zstd baselines (`zstd`, `zstd-dict`).

q = quantize_residual(x - lo, eps) (>= 0, so x_rec = lo + q*(2*eps + 1) is within eps), written
little-endian with the smallest byte width B that holds bound = (2^W - 1 + eps) // (2*eps + 1)
(B follows from W and eps, so it is not sent), then compressed per window with zstd level 19.
The frame is sent without the 4-byte magic number, content size, checksum or dictionary id
(FORMAT_ZSTD1_MAGICLESS): the receiver knows n, eps and the format.  nbits = 8 * len(frame).

`zstd-dict` additionally uses a dictionary trained on the (quantised) training windows; the
dictionary is a model parameter held by both ends and is not charged.  If zstd's trainer cannot
build one (too few samples), a raw-content dictionary of the most recent training windows is used.
"""
from __future__ import annotations

import numpy as np
import zstandard as zstd

from .. import residual
from ..bitstream import BitstreamError
from .common import check_train, Encoded, RangeMixin

LEVEL = 19
DICT_SIZE = 2048


def _width(word_bits: int, eps: int) -> int:
    bound = ((1 << word_bits) - 1 + eps) // (2 * eps + 1)
    return max(1, (bound.bit_length() + 7) // 8)


def serialize(q: np.ndarray, width: int) -> bytes:
    q = np.asarray(q, dtype=np.int64)
    if width == 3:
        return b"".join(int(v).to_bytes(3, "little") for v in q)
    return q.astype(f"<u{width}").tobytes()


def deserialize(raw: bytes, n: int, width: int) -> np.ndarray:
    if len(raw) != n * width:
        raise BitstreamError(f"zstd: payload of {len(raw)} bytes, expected {n * width}")
    if width == 3:
        return np.array([int.from_bytes(raw[i:i + 3], "little") for i in range(0, len(raw), 3)],
                        dtype=np.int64)
    return np.frombuffer(raw, dtype=f"<u{width}").astype(np.int64)


class Zstd(RangeMixin):
    name = "zstd"

    def __init__(self) -> None:
        self.dict: zstd.ZstdCompressionDict | None = None

    def fit(self, train_windows: np.ndarray, word_bits: int, lo: int) -> None:
        self._set_range(word_bits, lo)

    def _params(self) -> zstd.ZstdCompressionParameters:
        return zstd.ZstdCompressionParameters.from_level(
            LEVEL, format=zstd.FORMAT_ZSTD1_MAGICLESS, write_content_size=0, write_checksum=0,
            write_dict_id=0)

    def _cdict(self, eps: int):
        return None

    def encode(self, x: np.ndarray, eps: int) -> Encoded:
        x = self.check(x, eps)
        q = residual.quantize_residual(x - self.lo, eps)
        raw = serialize(q, _width(self.word_bits, int(eps)))
        d = self._cdict(int(eps))
        cctx = zstd.ZstdCompressor(compression_params=self._params(), dict_data=d)
        frame = cctx.compress(raw)
        return Encoded(frame, 8 * len(frame))

    def decode(self, enc: Encoded, n: int, eps: int) -> np.ndarray:
        if enc.nbits != 8 * len(enc.data):
            raise BitstreamError(f"zstd: nbits {enc.nbits} != 8 * {len(enc.data)} bytes")
        width = _width(self.word_bits, int(eps))
        d = self._cdict(int(eps))
        dctx = zstd.ZstdDecompressor(dict_data=d, format=zstd.FORMAT_ZSTD1_MAGICLESS)
        try:
            raw = dctx.decompress(enc.data, max_output_size=n * width)
        except zstd.ZstdError as e:
            raise BitstreamError(f"zstd: bitstream truncated or corrupt: {e}") from None
        q = deserialize(raw, n, width)
        return self.lo + residual.dequantize_residual(q, eps)


class ZstdDict(Zstd):
    name = "zstd-dict"

    def __init__(self) -> None:
        super().__init__()
        self._train: np.ndarray | None = None
        self._dicts: dict[int, zstd.ZstdCompressionDict] = {}

    def fit(self, train_windows: np.ndarray, word_bits: int, lo: int) -> None:
        self._set_range(word_bits, lo)
        t = check_train(train_windows, "zstd-dict")
        self._train = t.astype(np.int64)
        self._dicts = {}

    def _cdict(self, eps: int):
        """Dictionary for this eps (trained on the training windows quantised the same way)."""
        if self._train is None:
            raise RuntimeError("zstd-dict: call fit(train_windows, word_bits, lo) first")
        if eps not in self._dicts:
            width = _width(self.word_bits, eps)
            samples = [serialize(residual.quantize_residual(w - self.lo, eps), width)
                       for w in self._train]
            try:
                d = zstd.train_dictionary(DICT_SIZE, samples, level=LEVEL)
            except zstd.ZstdError:
                tail = b"".join(samples)[-DICT_SIZE:]
                d = zstd.ZstdCompressionDict(tail, dict_type=zstd.DICT_TYPE_RAWCONTENT)
            self._dicts[eps] = d
        return self._dicts[eps]
