"""toolchain.nn.tflite_model: the struct-based .tflite reader.

Real int8 models come from the TensorFlow converter; every field the reader exposes is checked
against the flatbuffers-generated schema module that tflite-micro ships (an independent decoder).
Hand-made variants (re-packed through that module) cover what the converter does not emit: no
file identifier, buffers stored outside the flatbuffer, absent option fields, opcodes > 127,
custom ops, and corrupt files.
"""
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import re
import struct

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

from toolchain.nn.tflite_model import (BUILTIN_OPS, Graph, TfliteFormatError,
                                             read_tflite)


def _names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_")}


OPS, OPTIONS = _names(S.BuiltinOperator), _names(S.BuiltinOptions)
TYPES = {v: k.lower() for v, k in _names(S.TensorType).items()}
ENUMS = {"padding": _names(S.Padding), "fused_activation_function": _names(S.ActivationFunctionType),
         "weights_format": _names(S.FullyConnectedOptionsWeightsFormat), "quantized_bias_type": TYPES}
pytestmark = pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning")

NP_TYPES = {"float32": np.float32, "int32": np.int32, "int8": np.int8, "uint8": np.uint8,
            "int64": np.int64, "int16": np.int16, "bool": np.bool_, "float16": np.float16}


# ---------------------------------------------------------------------------------- models

def _keras_models():
    import tensorflow as tf
    keras, L = tf.keras, tf.keras.layers

    # Dynamic batch: Conv1D becomes EXPAND_DIMS/CONV_2D/RESHAPE, Flatten a SHAPE/STRIDED_SLICE chain.
    inp = keras.Input((16, 3))
    x = L.Conv1D(4, 3, padding="same", activation="relu")(inp)
    conv1d = keras.Model(inp, L.Softmax()(L.Dense(5)(L.Flatten()(x))))

    inp = keras.Input((8, 8, 2), batch_size=1)
    a = L.Conv2D(4, 3, strides=2, padding="same", activation="relu6")(inp)
    b = L.Conv2D(4, 3, padding="valid", dilation_rate=2)(inp)
    d = L.DepthwiseConv2D(3, padding="same")(a)
    m = L.Subtract()([L.Multiply()([L.Add()([a, d]), b]), a])
    up = L.UpSampling2D(2)(L.MaxPooling2D(2)(m))                    # nearest, via TILE
    pad = L.AveragePooling2D(2)(L.ZeroPadding2D(1)(up))             # PAD survives (not fused)
    cat = L.Concatenate()([L.Conv2D(4, 3, padding="same")(up), L.Activation("sigmoid")(a),
                           L.Activation("tanh")(d), L.LeakyReLU(0.2)(b)])
    g = L.GlobalAveragePooling2D()(L.AveragePooling2D(2, strides=1, padding="same")(cat))
    conv2d = keras.Model(inp, [cat, L.Softmax()(L.Dense(3)(g)), L.Flatten()(pad)])

    inp = keras.Input((4, 4, 3), batch_size=1)
    x = L.Concatenate()([L.Resizing(8, 8, interpolation="nearest")(inp),
                         L.Resizing(8, 8, interpolation="bilinear")(inp),
                         L.Conv2DTranspose(3, 3, strides=2, padding="same")(inp)])
    x = L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu")(x)
    resize = keras.Model(inp, [L.Dense(2)(x), L.GlobalAveragePooling2D(keepdims=True)(x)])
    return {"conv1d": conv1d, "conv2d": conv2d, "resize": resize}


def _convert(model) -> bytes:
    import tensorflow as tf
    shape = tuple(model.input.shape[1:])

    def representative():
        rng = np.random.default_rng(0)
        for _ in range(8):
            yield [rng.standard_normal((1,) + shape).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


@pytest.fixture(scope="module")
def keras_models():
    return _keras_models()


@pytest.fixture(scope="module")
def models(keras_models) -> dict[str, bytes]:
    return {name: _convert(m) for name, m in keras_models.items()}


# ---------------------------------------------------------------------------- cross-check

def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.title() for p in rest)


def _ints(v) -> tuple:
    return () if v is None else tuple(int(x) for x in v)


def _crosscheck(g: Graph, data: bytes) -> None:
    """Compare everything read_tflite exposes with the generated schema module's decoding."""
    m = S.ModelT.InitFromPackedBuf(bytearray(data), 0)
    sg = m.subgraphs[0]
    assert g.version == m.version
    assert g.description == (m.description or b"").decode()
    assert g.num_subgraphs == len(m.subgraphs)
    assert g.name == (sg.name or b"").decode()
    assert g.inputs == _ints(sg.inputs) and g.outputs == _ints(sg.outputs)

    assert len(g.tensors) == len(sg.tensors)
    for i, (t, ref) in enumerate(zip(g.tensors, sg.tensors)):
        assert t.index == i
        assert t.name == ref.name.decode()
        assert t.shape == _ints(ref.shape)
        assert t.dtype == TYPES[ref.type]
        assert t.is_variable == bool(ref.isVariable)
        q = ref.quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            assert t.quant is None
        else:
            assert t.quant.scale.dtype == np.float32 and t.quant.zero_point.dtype == np.int64
            np.testing.assert_array_equal(t.quant.scale, np.asarray(q.scale, np.float32))
            np.testing.assert_array_equal(t.quant.zero_point, np.asarray(q.zeroPoint, np.int64))
            assert t.quant.axis == q.quantizedDimension
        buf = m.buffers[ref.buffer]
        if buf.data is not None and len(buf.data):
            raw = np.asarray(buf.data, np.uint8).tobytes()
        elif buf.offset > 1:
            raw = data[buf.offset:buf.offset + buf.size]
        else:
            raw = b""
        if ref.buffer == 0 or not raw:
            assert t.data is None
        else:
            assert t.data.dtype == NP_TYPES[t.dtype] and t.data.shape == t.shape
            assert t.data.tobytes() == raw

    assert len(g.operators) == len(sg.operators)
    for i, (op, ref) in enumerate(zip(g.operators, sg.operators)):
        code = m.operatorCodes[ref.opcodeIndex]
        assert op.index == i
        assert op.opcode == OPS[max(code.deprecatedBuiltinCode, code.builtinCode)]
        assert op.version == code.version
        assert op.custom_code == (None if code.customCode is None else code.customCode.decode())
        assert op.inputs == _ints(ref.inputs) and op.outputs == _ints(ref.outputs)
        opts = ref.builtinOptions
        if ref.builtinOptionsType == 0 or not op.options:
            assert op.options == {}
            continue
        # every field of the table, except ones the installed generated module has but the schema
        # the reader follows (tflite-micro's schema.fbs) does not
        assert {_camel(k) for k in op.options} == set(vars(opts)) - NEWER_FIELDS, \
            (op.opcode, OPTIONS[ref.builtinOptionsType])
        for key, value in op.options.items():
            want = getattr(opts, _camel(key))
            if key in ENUMS:
                want = ENUMS[key][want]
            elif isinstance(value, tuple) or value is None:
                want = None if want is None else _ints(want)
            assert value == want and type(value) is type(want), (op.opcode, key, value, want)


NEWER_FIELDS = {"quantSpec"}   # FullyConnectedOptions.quant_spec, not in the reader's schema


# Options tables the reader decodes, with an opcode that carries each.
DECODED = {"Conv2DOptions": "CONV_2D", "DepthwiseConv2DOptions": "DEPTHWISE_CONV_2D",
           "FullyConnectedOptions": "FULLY_CONNECTED", "AddOptions": "ADD", "SubOptions": "SUB",
           "MulOptions": "MUL", "Pool2DOptions": "MAX_POOL_2D", "ReshapeOptions": "RESHAPE",
           "ConcatenationOptions": "CONCATENATION", "ResizeBilinearOptions": "RESIZE_BILINEAR",
           "ResizeNearestNeighborOptions": "RESIZE_NEAREST_NEIGHBOR", "SoftmaxOptions": "SOFTMAX",
           "SqueezeOptions": "SQUEEZE", "TransposeConvOptions": "TRANSPOSE_CONV",
           "PadOptions": "PAD", "PadV2Options": "PADV2", "StridedSliceOptions": "STRIDED_SLICE",
           "LeakyReluOptions": "LEAKY_RELU", "ReducerOptions": "MEAN"}


def test_builtin_ops_table_matches_schema():
    assert BUILTIN_OPS == OPS
    assert BUILTIN_OPS[3] == "CONV_2D" and BUILTIN_OPS[150] == "GELU"


@pytest.mark.parametrize("name", ["conv1d", "conv2d", "resize"])
def test_matches_generated_schema(models, name):
    g = read_tflite(models[name])
    _crosscheck(g, models[name])
    assert g.num_subgraphs == 1 and g.version == 3
    assert all(t.dtype == "int8" for t in (g.tensors[i] for i in g.inputs + g.outputs))


def test_models_cover_the_ops_we_care_about(models):
    ops, tags = set(), set()
    for data in models.values():
        ops |= {op.opcode for op in read_tflite(data).operators}
        sg = S.ModelT.InitFromPackedBuf(bytearray(data), 0).subgraphs[0]
        tags |= {OPTIONS[op.builtinOptionsType] for op in sg.operators}
    assert {"EXPAND_DIMS", "CONV_2D", "RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD",
            "SUB", "MUL", "MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION", "PAD", "TILE",
            "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR", "TRANSPOSE_CONV", "LOGISTIC", "TANH",
            "SOFTMAX", "LEAKY_RELU", "MEAN", "STRIDED_SLICE", "QUANTIZE"} <= ops
    # the options tables actually exercised by the cross-check above
    assert {"Conv2DOptions", "DepthwiseConv2DOptions", "FullyConnectedOptions", "AddOptions",
            "SubOptions", "MulOptions", "Pool2DOptions", "ConcatenationOptions", "SoftmaxOptions",
            "ResizeNearestNeighborOptions", "ResizeBilinearOptions", "TransposeConvOptions",
            "StridedSliceOptions", "LeakyReluOptions", "ReducerOptions"} <= tags & set(DECODED)


def test_decoded_values(models):
    ops = read_tflite(models["conv2d"]).operators
    convs = [op.options for op in ops if op.opcode == "CONV_2D"]
    assert {"padding": "SAME", "stride_w": 2, "stride_h": 2, "fused_activation_function": "RELU6",
            "dilation_w_factor": 1, "dilation_h_factor": 1,
            "quantized_bias_type": "float32"} in convs
    assert any(c["padding"] == "VALID" and c["dilation_h_factor"] == 2 for c in convs)
    (leaky,) = [op for op in ops if op.opcode == "LEAKY_RELU"]
    assert leaky.options["alpha"] == pytest.approx(0.2)
    (mean,) = [op for op in ops if op.opcode == "MEAN"]
    assert mean.options == {"keep_dims": False}
    fc = [op for op in read_tflite(models["resize"]).operators if op.opcode == "FULLY_CONNECTED"]
    assert fc[0].options["keep_num_dims"] is True
    conv1d = read_tflite(models["conv1d"])
    assert [op.opcode for op in conv1d.operators][:3] == ["EXPAND_DIMS", "CONV_2D", "RESHAPE"]


def test_weights_match_keras(models, keras_models):
    """Independent of any flatbuffer decoder: the int8 weights dequantize to the Keras kernels."""
    g = read_tflite(models["conv1d"])
    km = keras_models["conv1d"]
    kconv = next(l for l in km.layers if l.name.startswith("conv1d")).get_weights()[0]   # (k, in, out)
    kdense = next(l for l in km.layers if l.name.startswith("dense")).get_weights()[0]   # (in, out)
    conv = next(op for op in g.operators if op.opcode == "CONV_2D")
    fc = next(op for op in g.operators if op.opcode == "FULLY_CONNECTED")
    for op, want in ((conv, kconv.transpose(2, 0, 1)[:, None]), (fc, kdense.T)):
        w = g.tensors[op.inputs[1]]
        assert w.dtype == "int8" and w.data.shape == want.shape
        assert w.quant.axis == 0 and len(w.quant.scale) == want.shape[0]   # per output channel
        scale = w.quant.scale.reshape((-1,) + (1,) * (want.ndim - 1))
        deq = (w.data.astype(np.float64) - w.quant.zero_point.reshape(scale.shape)) * scale
        assert np.all(np.abs(deq - want) <= scale * 0.5 + 1e-6)
    g = read_tflite(models["conv2d"])
    dw = next(op for op in g.operators if op.opcode == "DEPTHWISE_CONV_2D")
    assert g.tensors[dw.inputs[1]].quant.axis == 3       # depthwise kernels: (1, h, w, channels)


def test_read_from_path(models, tmp_path):
    p = tmp_path / "model.tflite"
    p.write_bytes(models["conv2d"])
    g = read_tflite(p)
    _crosscheck(g, models["conv2d"])
    assert [t.name for t in g.tensors] == [t.name for t in read_tflite(str(p)).tensors]
    p.write_bytes(models["conv2d"][:1000])
    with pytest.raises(TfliteFormatError, match="model.tflite: "):
        read_tflite(p)


# ------------------------------------------------------------------------ hand-made variants

def _unpack(data: bytes):
    return S.ModelT.InitFromPackedBuf(bytearray(data), 0)


def _pack(m, identifier: bool = True) -> bytes:
    b = flatbuffers.Builder(1024)
    root = m.Pack(b)
    b.Finish(root, file_identifier=b"TFL3" if identifier else None)
    return bytes(b.Output())


def test_repacked_without_identifier(models):
    data = _pack(_unpack(models["conv2d"]), identifier=False)
    assert data[4:8] != b"TFL3"
    g = read_tflite(data)
    _crosscheck(g, data)
    ref = read_tflite(models["conv2d"])
    assert [op.options for op in g.operators] == [op.options for op in ref.operators]
    assert all(a.data is None and b.data is None or np.array_equal(a.data, b.data)
               for a, b in zip(g.tensors, ref.tensors))


def test_buffers_outside_the_flatbuffer(models):
    """Buffer.offset/size (the >2GB layout): data appended after the flatbuffer."""
    m = _unpack(models["conv1d"])
    blobs = {}
    for i, buf in enumerate(m.buffers):
        if buf.data is not None and len(buf.data):
            blobs[i] = np.asarray(buf.data, np.uint8).tobytes()
            buf.data, buf.offset, buf.size = None, 2, len(blobs[i])
    head = _pack(m)
    out = bytearray(head)
    for i, raw in blobs.items():
        out += bytes(-len(out) % 16)
        m.buffers[i].offset = len(out)
        out += raw
    assert len(_pack(m)) == len(head)            # ulong values do not change the layout
    out[:len(head)] = _pack(m)
    g = read_tflite(bytes(out))
    _crosscheck(g, bytes(out))
    ref = read_tflite(models["conv1d"])
    for a, b in zip(g.tensors, ref.tensors):
        assert (a.data is None) == (b.data is None)
        assert a.data is None or np.array_equal(a.data, b.data)
    used = next(t.buffer for t in m.subgraphs[0].tensors if t.buffer in blobs)
    m.buffers[used].offset = len(out) - 2        # runs past the end of the file
    with pytest.raises(TfliteFormatError, match="external data .* out of range"):
        read_tflite(_pack(m) + bytes(out[len(head):]))


def test_schema_defaults_for_absent_fields(models):
    """The flatbuffers builder omits fields equal to their default: the reader must fill them in."""
    m = _unpack(models["conv2d"])
    ops, codes = m.subgraphs[0].operators, m.operatorCodes
    name = lambda op: OPS[max(codes[op.opcodeIndex].deprecatedBuiltinCode, codes[op.opcodeIndex].builtinCode)]
    conv = next(i for i, op in enumerate(ops) if name(op) == "CONV_2D")
    add = next(i for i, op in enumerate(ops) if name(op) == "ADD")
    fc = next(i for i, op in enumerate(ops) if name(op) == "FULLY_CONNECTED")
    ops[conv].builtinOptions = S.Conv2DOptionsT()
    ops[add].builtinOptions = S.AddOptionsT()
    ops[fc].builtinOptions = S.FullyConnectedOptionsT()
    data = _pack(m)
    sg = S.Model.GetRootAs(data, 0).Subgraphs(0)
    tab = sg.Operators(conv).BuiltinOptions()
    assert tab.Offset(4 + 2 * 4) == 0 and tab.Offset(4 + 2 * 1) == 0   # dilation_w, stride_w absent
    g = read_tflite(data)
    _crosscheck(g, data)
    assert g.operators[conv].options == {
        "padding": "SAME", "stride_w": 0, "stride_h": 0, "fused_activation_function": "NONE",
        "dilation_w_factor": 1, "dilation_h_factor": 1, "quantized_bias_type": "float32"}
    assert g.operators[add].options == {"fused_activation_function": "NONE", "pot_scale_int16": True}
    assert g.operators[fc].options["keep_num_dims"] is False
    # options table missing altogether (tag NONE): nothing decoded
    ops[conv].builtinOptionsType, ops[conv].builtinOptions = 0, None
    assert read_tflite(_pack(m)).operators[conv].options == {}


def test_every_decoded_table_with_all_defaults(models):
    """One operator per decoded options table, every field at its default (hence absent from the
    vtable): the reader's defaults must equal the generated module's."""
    m = _unpack(models["conv1d"])
    sg = m.subgraphs[0]
    first = len(sg.operators)
    for table, opcode in DECODED.items():
        code, op = S.OperatorCodeT(), S.OperatorT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(S.BuiltinOperator, opcode)
        m.operatorCodes.append(code)
        op.opcodeIndex, op.inputs, op.outputs = len(m.operatorCodes) - 1, [0], [1]
        op.builtinOptionsType = getattr(S.BuiltinOptions, table)
        op.builtinOptions = getattr(S, table + "T")()
        sg.operators.append(op)
    data = _pack(m)
    g = read_tflite(data)
    _crosscheck(g, data)
    got = {table: op.options for table, op in zip(DECODED, g.operators[first:])}
    assert got["PadOptions"] == got["PadV2Options"] == {}
    assert got["ReshapeOptions"] == {"new_shape": None} and got["SqueezeOptions"] == {"squeeze_dims": None}
    assert got["DepthwiseConv2DOptions"]["depth_multiplier"] == 0
    assert got["TransposeConvOptions"]["fused_activation_function"] == "NONE"
    assert got["SoftmaxOptions"] == {"beta": 0.0} and got["SubOptions"]["pot_scale_int16"] is True
    # present vectors come back as tuples
    sg.operators[first + list(DECODED).index("ReshapeOptions")].builtinOptions.newShape = [1, -1]
    sg.operators[first + list(DECODED).index("SqueezeOptions")].builtinOptions.squeezeDims = []
    ops = read_tflite(_pack(m)).operators[first:]
    assert ops[list(DECODED).index("ReshapeOptions")].options == {"new_shape": (1, -1)}
    assert ops[list(DECODED).index("SqueezeOptions")].options == {"squeeze_dims": ()}


def test_extended_opcode_and_custom_op(models):
    m = _unpack(models["conv1d"])
    sg = m.subgraphs[0]
    gelu, custom = S.OperatorCodeT(), S.OperatorCodeT()
    gelu.deprecatedBuiltinCode, gelu.builtinCode, gelu.version = 127, 150, 2  # 127 = placeholder
    custom.deprecatedBuiltinCode, custom.builtinCode, custom.customCode = 32, 32, b"MyOp"
    m.operatorCodes += [gelu, custom]
    for k in (2, 1):
        op = S.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = len(m.operatorCodes) - k, [0, -1], [1]
        sg.operators.append(op)
    sg.operators[-1].customOptions = [1, 2, 3]
    data = _pack(m)
    g = read_tflite(data)
    _crosscheck(g, data)
    a, b = g.operators[-2:]
    assert (a.opcode, a.version, a.custom_code, a.inputs) == ("GELU", 2, None, (0, -1))
    assert (b.opcode, b.version, b.custom_code, b.options) == ("CUSTOM", 1, "MyOp", {})


# ------------------------------------------------------------------------------ bad files

@pytest.mark.parametrize("cut", [0, 3, 7, 8, 100, 0.5, -16, -1])
def test_truncated(models, cut):
    data = models["conv2d"]
    n = int(len(data) * cut) if isinstance(cut, float) else cut % len(data) if cut < 0 else cut
    with pytest.raises(TfliteFormatError, match=r"^<bytes>: .* at byte \d+$"):
        read_tflite(data[:n])


def test_wrong_identifier(models):
    data = bytearray(models["conv1d"])
    data[4:8] = b"TFL2"
    with pytest.raises(TfliteFormatError, match="'TFL2' is not 'TFL3'.* at byte 4"):
        read_tflite(bytes(data))
    assert issubclass(TfliteFormatError, ValueError)
    garbage = bytes([8, 0, 0, 0, 1, 2, 0xFF, 0]) + bytes(range(256)) * 4
    with pytest.raises(TfliteFormatError, match="no 'TFL3' file identifier"):
        read_tflite(garbage)


def test_corrupt_buffer_index(models):
    data = bytearray(models["conv2d"])
    g = read_tflite(bytes(data))
    k = next(t.index for t in g.tensors if t.data is not None)
    tensor = S.Model.GetRootAs(data, 0).Subgraphs(0).Tensors(k)
    pos = tensor._tab.Pos + tensor._tab.Offset(4 + 2 * 2)      # Tensor.buffer is field 2
    assert struct.unpack_from("<I", data, pos)[0] == tensor.Buffer()
    struct.pack_into("<I", data, pos, 9999)
    msg = rf"^<bytes>: tensor {k} '{re.escape(g.tensors[k].name)}': buffer 9999 out of range .* at byte {pos}$"
    with pytest.raises(TfliteFormatError, match=msg):
        read_tflite(bytes(data))


def test_corrupt_references(models):
    m = _unpack(models["conv2d"])
    sg = m.subgraphs[0]
    sg.operators[3].inputs[0] = len(sg.tensors)
    with pytest.raises(TfliteFormatError, match=rf"operator 3 \(\w+\): inputs refers to tensor {len(sg.tensors)}"):
        read_tflite(_pack(m))
    m = _unpack(models["conv2d"])
    m.subgraphs[0].operators[0].opcodeIndex = len(m.operatorCodes)
    with pytest.raises(TfliteFormatError, match="operator 0: opcode_index .* out of range"):
        read_tflite(_pack(m))
    m = _unpack(models["conv2d"])     # CONV_2D carrying Pool2DOptions
    m.subgraphs[0].operators[0].builtinOptionsType = S.BuiltinOptions.Pool2DOptions
    m.subgraphs[0].operators[0].builtinOptions = S.Pool2DOptionsT()
    with pytest.raises(TfliteFormatError, match="Pool2DOptions, which does not belong to CONV_2D"):
        read_tflite(_pack(m))
    m = _unpack(models["conv2d"])     # constant data shorter than its shape
    t = next(t for t in m.subgraphs[0].tensors if t.buffer and m.buffers[t.buffer].data is not None)
    m.buffers[t.buffer].data = m.buffers[t.buffer].data[:-1]
    with pytest.raises(TfliteFormatError, match=rf"buffer {t.buffer} holds \d+ bytes, shape"):
        read_tflite(_pack(m))
