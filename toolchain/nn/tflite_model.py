"""A small, self-contained reader for TensorFlow Lite ``.tflite`` models.

It parses the flatbuffer binary format directly with :mod:`struct` (no tensorflow, tflite-micro or
``flatbuffers`` dependency) and returns subgraph 0 as plain dataclasses: tensors with their
quantization and constant data, operators with their decoded builtin options.

Flatbuffer layout, as far as this reader needs it (all little-endian):

* byte 0: uoffset (uint32) to the root table; bytes 4..8: optional file identifier (``TFL3``).
* table at ``p``: int32 soffset at ``p``; its vtable is at ``p - soffset``.
* vtable: uint16 vtable size, uint16 table size, then one uint16 per field slot giving the field's
  offset from ``p`` (0 or past the vtable end = absent, use the schema default).  Field N of a
  schema table is slot N; a union field takes two slots (the ``_type`` tag, then the value);
  deprecated fields keep their slot.
* offset fields (tables, vectors, strings) hold a uoffset relative to the field's own position.
* vectors and strings: uint32 element count, then the elements (strings are UTF-8, NUL-ended);
  a vector of tables holds one uoffset per element, each relative to its own position.

Field ids follow tensorflow/compiler/mlir/lite/schema/schema.fbs (the schema tflite-micro uses).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

__all__ = ["BUILTIN_OPS", "Graph", "Operator", "Quant", "Tensor", "TfliteFormatError", "read_tflite"]


class TfliteFormatError(ValueError):
    """The file is not a well-formed TFLite flatbuffer; the message names the table/field and byte."""


# enum BuiltinOperator : int32 -- values are contiguous from 0, so the position is the value.
_BUILTIN_NAMES = """
ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE
DEQUANTIZE EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP
L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC
LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE
RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS
SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD
UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND
TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE
BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE
BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG
PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV
SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE
POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT
LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE
ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU
SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N
GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE
MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4
NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL
PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D
CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT
HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE
ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE
RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE RELU_0_TO_1
UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2
UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC
STABLEHLO_ADD STABLEHLO_DIVIDE STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM
STABLEHLO_RESHAPE STABLEHLO_CLAMP STABLEHLO_CONCATENATE
STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE
STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND
STABLEHLO_COSINE STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG
STABLEHLO_MINIMUM STABLEHLO_NEGATE STABLEHLO_OR STABLEHLO_POWER
STABLEHLO_REMAINDER STABLEHLO_RSQRT STABLEHLO_SELECT STABLEHLO_SUBTRACT
STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT
STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD
STABLEHLO_IOTA STABLEHLO_DOT_GENERAL STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT
STABLEHLO_WHILE STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE
STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW STABLEHLO_COMPOSITE
STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT STABLEHLO_CASE
""".split()
BUILTIN_OPS: dict[int, str] = dict(enumerate(_BUILTIN_NAMES))

# enum TensorType : byte, lowercased; value = position.
_TENSOR_TYPES = ("float32", "float16", "int32", "uint8", "int64", "string", "bool", "int16",
                 "complex64", "int8", "float64", "complex128", "uint64", "resource", "variant",
                 "uint32", "uint16", "int4", "bfloat16", "int2", "uint4", "float8_e4m3fn",
                 "float8_e5m2")
# Types numpy can decode element-wise. Others (string, resource, variant, sub-byte packed, bfloat16,
# float8) come back as the raw bytes: a 1-D uint8 array, not reshaped.
_NP_DTYPES = {"float32": "<f4", "float16": "<f2", "int32": "<i4", "uint8": "u1", "int64": "<i8",
              "bool": "?", "int16": "<i2", "complex64": "<c8", "int8": "i1", "float64": "<f8",
              "complex128": "<c16", "uint64": "<u8", "uint32": "<u4", "uint16": "<u2"}

# Enums used by the decoded options (value = position).
_ENUMS = {"pad": ("SAME", "VALID"),
          "act": ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"),
          "wfmt": ("DEFAULT", "SHUFFLED4x16INT8"),   # FullyConnectedOptionsWeightsFormat
          "dtype": _TENSOR_TYPES}
_SCALAR_FMT = {"int": "<i", "bool": "<B", "float": "<f", "pad": "<b", "act": "<b", "wfmt": "<b",
               "dtype": "<b"}

# BuiltinOptions union tag -> (table, opcodes that may carry it, [(field, slot, kind, default)]).
# Defaults are the schema's: 0 / false / first enum value unless schema.fbs says otherwise.
_PAD, _ACT = ("padding", 0, "pad", 0), "fused_activation_function"
_OPTIONS: dict[int, tuple[str, frozenset[str], list[tuple[str, int, str, object]]]] = {
    1: ("Conv2DOptions", frozenset({"CONV_2D"}),
        [_PAD, ("stride_w", 1, "int", 0), ("stride_h", 2, "int", 0), (_ACT, 3, "act", 0),
         ("dilation_w_factor", 4, "int", 1), ("dilation_h_factor", 5, "int", 1),
         ("quantized_bias_type", 6, "dtype", 0)]),
    2: ("DepthwiseConv2DOptions", frozenset({"DEPTHWISE_CONV_2D"}),
        [_PAD, ("stride_w", 1, "int", 0), ("stride_h", 2, "int", 0),
         ("depth_multiplier", 3, "int", 0), (_ACT, 4, "act", 0),
         ("dilation_w_factor", 5, "int", 1), ("dilation_h_factor", 6, "int", 1)]),
    5: ("Pool2DOptions", frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"}),
        [_PAD, ("stride_w", 1, "int", 0), ("stride_h", 2, "int", 0), ("filter_width", 3, "int", 0),
         ("filter_height", 4, "int", 0), (_ACT, 5, "act", 0)]),
    8: ("FullyConnectedOptions", frozenset({"FULLY_CONNECTED"}),
        [(_ACT, 0, "act", 0), ("weights_format", 1, "wfmt", 0), ("keep_num_dims", 2, "bool", False),
         ("asymmetric_quantize_inputs", 3, "bool", False), ("quantized_bias_type", 4, "dtype", 0)]),
    9: ("SoftmaxOptions", frozenset({"SOFTMAX"}), [("beta", 0, "float", 0.0)]),
    10: ("ConcatenationOptions", frozenset({"CONCATENATION"}),
         [("axis", 0, "int", 0), (_ACT, 1, "act", 0)]),
    11: ("AddOptions", frozenset({"ADD"}), [(_ACT, 0, "act", 0), ("pot_scale_int16", 1, "bool", True)]),
    # slots 0/1 are the deprecated new_height/new_width
    15: ("ResizeBilinearOptions", frozenset({"RESIZE_BILINEAR"}),
         [("align_corners", 2, "bool", False), ("half_pixel_centers", 3, "bool", False)]),
    17: ("ReshapeOptions", frozenset({"RESHAPE"}), [("new_shape", 0, "ints", None)]),
    21: ("MulOptions", frozenset({"MUL"}), [(_ACT, 0, "act", 0)]),
    22: ("PadOptions", frozenset({"PAD"}), []),
    27: ("ReducerOptions", frozenset({"MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN",
                                       "REDUCE_ANY", "REDUCE_ALL"}), [("keep_dims", 0, "bool", False)]),
    28: ("SubOptions", frozenset({"SUB"}), [(_ACT, 0, "act", 0), ("pot_scale_int16", 1, "bool", True)]),
    30: ("SqueezeOptions", frozenset({"SQUEEZE"}), [("squeeze_dims", 0, "ints", None)]),
    32: ("StridedSliceOptions", frozenset({"STRIDED_SLICE"}),
         [("begin_mask", 0, "int", 0), ("end_mask", 1, "int", 0), ("ellipsis_mask", 2, "int", 0),
          ("new_axis_mask", 3, "int", 0), ("shrink_axis_mask", 4, "int", 0),
          ("offset", 5, "bool", False)]),
    43: ("PadV2Options", frozenset({"PADV2"}), []),
    49: ("TransposeConvOptions", frozenset({"TRANSPOSE_CONV"}),
         [_PAD, ("stride_w", 1, "int", 0), ("stride_h", 2, "int", 0), (_ACT, 3, "act", 0),
          ("quantized_bias_type", 4, "dtype", 0)]),
    74: ("ResizeNearestNeighborOptions", frozenset({"RESIZE_NEAREST_NEIGHBOR"}),
         [("align_corners", 0, "bool", False), ("half_pixel_centers", 1, "bool", False)]),
    75: ("LeakyReluOptions", frozenset({"LEAKY_RELU"}), [("alpha", 0, "float", 0.0)]),
}


@dataclass(frozen=True)
class Quant:
    scale: np.ndarray        # float32, 1-D (len 1 per-tensor, len C per-channel)
    zero_point: np.ndarray   # int64, 1-D, same length
    axis: int                # quantized_dimension


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str                # TensorType name, lowercased
    quant: Quant | None       # None when the tensor has no scale
    data: np.ndarray | None   # constant data (see _NP_DTYPES for undecodable types); None if none
    is_variable: bool


@dataclass
class Operator:
    index: int
    opcode: str               # BuiltinOperator name; 'CUSTOM' for custom ops
    version: int
    custom_code: str | None
    inputs: tuple[int, ...]   # -1 = optional input absent
    outputs: tuple[int, ...]
    options: dict             # decoded builtin options; {} when not decoded


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    name: str                 # subgraph name
    description: str          # model description
    version: int              # model schema version
    num_subgraphs: int


class _Buf:
    """The file bytes plus bounds-checked primitive reads that fail with a located message."""

    def __init__(self, data: bytes, label: str) -> None:
        self.b, self.n, self.label = data, len(data), label

    def fail(self, where: str, msg: str, pos: int) -> NoReturn:
        raise TfliteFormatError(f"{self.label}: {where}: {msg} at byte {pos}")

    def check(self, pos: int, size: int, where: str, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > self.n:
            self.fail(where, f"{what} out of range ({size} bytes, file has {self.n})", pos)

    def u32(self, pos: int, where: str, what: str) -> int:
        self.check(pos, 4, where, what)
        return struct.unpack_from("<I", self.b, pos)[0]


class _Table:
    """One flatbuffer table; ``where`` names it in error messages."""

    def __init__(self, buf: _Buf, pos: int, where: str) -> None:
        self.buf, self.pos, self.where = buf, pos, where
        buf.check(pos, 4, where, "table")
        self.vt = pos - struct.unpack_from("<i", buf.b, pos)[0]
        buf.check(self.vt, 4, where, "vtable")
        self.vtsize, self.tsize = struct.unpack_from("<HH", buf.b, self.vt)
        if self.vtsize < 4 or self.vtsize % 2 or self.tsize < 4:
            buf.fail(where, f"bad vtable (size {self.vtsize}, table size {self.tsize})", self.vt)
        buf.check(self.vt, self.vtsize, where, "vtable")
        buf.check(pos, self.tsize, where, "table body")

    def field(self, slot: int, size: int, name: str) -> int | None:
        """Absolute position of field ``slot`` (``size`` bytes inline), or None when absent."""
        o = 4 + 2 * slot
        if o + 2 > self.vtsize:
            return None
        off = struct.unpack_from("<H", self.buf.b, self.vt + o)[0]
        if off == 0:
            return None
        if off + size > self.tsize:
            self.buf.fail(self.where, f"field '{name}' lies outside its table", self.pos + off)
        return self.pos + off

    def scalar(self, slot: int, fmt: str, default, name: str):
        p = self.field(slot, struct.calcsize(fmt), name)
        return default if p is None else struct.unpack_from(fmt, self.buf.b, p)[0]

    def ref(self, slot: int, name: str) -> int | None:
        """Target of an offset field (table, vector or string), or None when absent."""
        p = self.field(slot, 4, name)
        return None if p is None else p + self.buf.u32(p, self.where, f"'{name}' offset")

    def table(self, slot: int, name: str, where: str) -> _Table | None:
        p = self.ref(slot, name)
        return None if p is None else _Table(self.buf, p, where)

    def vector(self, slot: int, dtype: str, name: str) -> np.ndarray | None:
        """A vector of scalars as a (copied) numpy array, or None when absent."""
        p = self.ref(slot, name)
        if p is None:
            return None
        n = self.buf.u32(p, self.where, f"'{name}' length")
        dt = np.dtype(dtype)
        self.buf.check(p + 4, n * dt.itemsize, self.where, f"'{name}' ({n} x {dt})")
        return np.frombuffer(self.buf.b, dt, n, p + 4).copy()

    def string(self, slot: int, name: str) -> str | None:
        raw = self.vector(slot, "u1", name)
        return None if raw is None else raw.tobytes().decode("utf-8", "replace")

    def tables(self, slot: int, name: str, where: str) -> list[_Table]:
        """A vector of tables; element i is named ``where.format(i)``."""
        p = self.ref(slot, name)
        if p is None:
            return []
        n = self.buf.u32(p, self.where, f"'{name}' length")
        self.buf.check(p + 4, 4 * n, self.where, f"'{name}' ({n} offsets)")
        out = []
        for i in range(n):
            e = p + 4 + 4 * i
            out.append(_Table(self.buf, e + struct.unpack_from("<I", self.buf.b, e)[0], where.format(i)))
        return out


def _ints(a: np.ndarray | None) -> tuple[int, ...]:
    return () if a is None else tuple(int(v) for v in a)


def _options(op: _Table, opcode: str, where: str) -> dict:
    """Decode Operator.builtin_options (union: tag in slot 3, table in slot 4)."""
    tag = op.scalar(3, "<B", 0, "builtin_options_type")
    if tag not in _OPTIONS:                       # NONE or a table this reader does not decode
        return {}
    tname, opcodes, fields = _OPTIONS[tag]
    if opcode not in opcodes:
        op.buf.fail(where, f"builtin_options is {tname}, which does not belong to {opcode}",
                    op.field(3, 1, "builtin_options_type"))
    t = op.table(4, "builtin_options", f"{where} {tname}")
    if t is None:
        op.buf.fail(where, f"builtin_options_type is {tname} but the table is missing", op.pos)
    out: dict = {}
    for name, slot, kind, default in fields:
        if kind == "ints":
            v = t.vector(slot, "<i4", name)
            out[name] = None if v is None else _ints(v)
            continue
        v = t.scalar(slot, _SCALAR_FMT[kind], default, name)
        if kind == "bool":
            v = bool(v)
        elif kind == "float":
            v = float(v)
        elif kind in _ENUMS:
            if not 0 <= v < len(_ENUMS[kind]):
                t.buf.fail(t.where, f"{name} has unknown enum value {v}", t.field(slot, 1, name))
            v = _ENUMS[kind][v]
        out[name] = v
    return out


def _buffer_bytes(buf: _Buf, b: _Table) -> bytes | None:
    """Buffer.data (slot 0), or for >2GB models Buffer.offset/size (slots 1, 2: the data lies
    outside the flatbuffer, offset counted from the start of the file, valid only when > 1)."""
    data = b.ref(0, "data")
    if data is not None:
        n = buf.u32(data, b.where, "data length")
        buf.check(data + 4, n, b.where, f"data ({n} bytes)")
        return buf.b[data + 4:data + 4 + n] if n else None
    offset, size = b.scalar(1, "<Q", 0, "offset"), b.scalar(2, "<Q", 0, "size")
    if offset > 1:
        buf.check(offset, size, b.where, f"external data ({size} bytes)")
        return buf.b[offset:offset + size] if size else None
    return None


def _tensor(buf: _Buf, t: _Table, i: int, buffers: list[_Table]) -> Tensor:
    name = t.string(3, "name") or ""
    where = f"tensor {i} '{name}'"
    t.where = where
    shape = _ints(t.vector(0, "<i4", "shape"))
    code = t.scalar(1, "<b", 0, "type")
    if not 0 <= code < len(_TENSOR_TYPES):
        buf.fail(where, f"unknown tensor type {code}", t.field(1, 1, "type"))
    dtype = _TENSOR_TYPES[code]

    quant = None
    q = t.table(4, "quantization", f"{where} quantization")
    if q is not None:
        scale = q.vector(2, "<f4", "scale")
        if scale is not None and len(scale):
            zp = q.vector(3, "<i8", "zero_point")
            zp = np.zeros(len(scale), np.int64) if zp is None or not len(zp) else zp
            if len(zp) != len(scale):
                buf.fail(q.where, f"{len(scale)} scales but {len(zp)} zero points", q.pos)
            scale, zp = scale.astype(np.float32), zp.astype(np.int64)
            scale.setflags(write=False)
            zp.setflags(write=False)
            quant = Quant(scale, zp, int(q.scalar(6, "<i", 0, "quantized_dimension")))

    # Constant data this reader cannot turn into a dense array: refuse rather than return None.
    if t.field(6, 4, "sparsity") is not None:
        buf.fail(where, "sparse tensors are not supported", t.field(6, 4, "sparsity"))
    ext = t.scalar(10, "<I", 0, "external_buffer")
    if ext:
        buf.fail(where, f"data in external buffer {ext} (external weight files are not supported)",
                 t.field(10, 4, "external_buffer"))

    data = None
    bi = t.scalar(2, "<I", 0, "buffer")
    if bi >= len(buffers):
        buf.fail(where, f"buffer {bi} out of range (model has {len(buffers)} buffers)",
                 t.field(2, 4, "buffer"))
    raw = _buffer_bytes(buf, buffers[bi]) if bi else None   # buffer 0 is the empty sentinel
    if raw is not None:
        if dtype in _NP_DTYPES:
            dt = np.dtype(_NP_DTYPES[dtype])
            count = int(np.prod(shape, dtype=np.int64))
            if any(d < 0 for d in shape) or count * dt.itemsize != len(raw):
                buf.fail(where, f"buffer {bi} holds {len(raw)} bytes, shape {shape} of {dtype} "
                         f"needs {count * dt.itemsize}", buffers[bi].pos)
            data = np.frombuffer(raw, dt).reshape(shape).copy()
        else:
            data = np.frombuffer(raw, np.uint8).copy()
    return Tensor(i, name, shape, dtype, quant, data, bool(t.scalar(5, "<B", 0, "is_variable")))


def _parse(buf: _Buf) -> Graph:
    model = _Table(buf, buf.u32(0, "model", "root offset"), "model")
    version = model.scalar(0, "<I", 0, "version")
    codes = []
    for c in model.tables(1, "operator_codes", "operator_codes[{}]"):
        # builtin_code (int32, slot 3) superseded the int8 deprecated_builtin_code (slot 0) once
        # the enum outgrew 127; writers fill both (0 in the unused one), hence the max.
        code = max(c.scalar(0, "<b", 0, "deprecated_builtin_code"),
                   c.scalar(3, "<i", 0, "builtin_code"))
        codes.append((BUILTIN_OPS.get(code, f"BUILTIN_{code}"), c.scalar(2, "<i", 1, "version"),
                      c.string(1, "custom_code")))
    subgraphs = model.tables(2, "subgraphs", "subgraph {}")
    if not subgraphs:
        buf.fail("model", "no subgraphs", model.pos)
    buffers = model.tables(4, "buffers", "buffer {}")
    sg = subgraphs[0]

    tensors = [_tensor(buf, t, i, buffers) for i, t in enumerate(sg.tables(0, "tensors", "tensor {}"))]
    nt = len(tensors)

    def indices(t: _Table, slot: int, name: str, optional: bool) -> tuple[int, ...]:
        v = _ints(t.vector(slot, "<i4", name))
        for k in v:
            if not (-1 if optional else 0) <= k < nt:
                buf.fail(t.where, f"{name} refers to tensor {k} (subgraph has {nt})", t.pos)
        return v

    operators = []
    for i, op in enumerate(sg.tables(3, "operators", "operator {}")):
        ci = op.scalar(0, "<I", 0, "opcode_index")
        if ci >= len(codes):
            buf.fail(op.where, f"opcode_index {ci} out of range ({len(codes)} operator codes)",
                     op.field(0, 4, "opcode_index"))
        opcode, opver, custom = codes[ci]
        op.where = f"operator {i} ({opcode})"
        operators.append(Operator(i, opcode, opver, custom, indices(op, 1, "inputs", True),
                                  indices(op, 2, "outputs", True), _options(op, opcode, op.where)))
    return Graph(tensors, operators, indices(sg, 1, "inputs", False), indices(sg, 2, "outputs", False),
                 sg.string(4, "name") or "", model.string(3, "description") or "", version,
                 len(subgraphs))


def read_tflite(src: str | Path | bytes) -> Graph:
    """Read subgraph 0 of a ``.tflite`` model given as a path or the file's bytes.

    Raises TfliteFormatError (a ValueError) for malformed files."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        data, label = bytes(src), "<bytes>"
    else:
        data, label = Path(src).read_bytes(), str(src)
    buf = _Buf(data, label)
    if len(data) < 8:
        buf.fail("file", f"too short for a TFLite flatbuffer ({len(data)} bytes)", 0)
    ident = data[4:8]
    if ident == b"TFL3":
        return _parse(buf)
    # The identifier is optional in flatbuffers. Four printable characters are some other file
    # identifier; anything else may be a model written without one: accept it if it parses.
    if all(0x20 <= c < 0x7F for c in ident):
        buf.fail("file", f"file identifier {ident.decode()!r} is not 'TFL3' (bytes 4..8)", 4)
    try:
        return _parse(buf)
    except TfliteFormatError as e:
        raise TfliteFormatError(f"{label}: no 'TFL3' file identifier at bytes 4..8, and the "
                                f"content does not parse as a TFLite model: {e}") from e
