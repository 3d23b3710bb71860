"""Lower a TFLite int8 graph to kernel calls with precomputed parameters.

Each supported operator becomes a `Step`: the C declarations of its constant
data (weights, multipliers, tables, one const parameter block) and one call.
Every parameter is computed here exactly as TFLite Micro's Prepare() would
(toolchain.quant.tflite_math), so the C only replays integer arithmetic.

Everything that cannot be reproduced exactly is refused *before* any C is
written: `lower()` collects every problem in the graph and raises one
UnsupportedModelError that names, for each, the operator, its index, the
tensor and the Keras layer it came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.nn.tflite_model import Graph, Operator, Tensor
from toolchain.quant import tflite_math as tm

ALIAS_OPS = {"RESHAPE", "EXPAND_DIMS", "SQUEEZE"}
SUPPORTED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MAX_POOL_2D",
                 "AVERAGE_POOL_2D", "CONCATENATION", "PAD", "PADV2", "RESIZE_NEAREST_NEIGHBOR", "LOGISTIC",
                 "TANH", "SOFTMAX", "QUANTIZE", "DEQUANTIZE"} | ALIAS_OPS

KERNEL_FILES = {
    "CONV_2D": "tc_nn_conv.c", "DEPTHWISE_CONV_2D": "tc_nn_depthwise_conv.c",
    "FULLY_CONNECTED": "tc_nn_fully_connected.c", "ADD": "tc_nn_add.c", "MUL": "tc_nn_mul.c",
    "MAX_POOL_2D": "tc_nn_pooling.c", "AVERAGE_POOL_2D": "tc_nn_pooling.c", "CONCATENATION": "tc_nn_concat.c",
    "PAD": "tc_nn_pad.c", "PADV2": "tc_nn_pad.c", "RESIZE_NEAREST_NEIGHBOR": "tc_nn_resize_nearest.c",
    "LOGISTIC": "tc_nn_lut.c", "TANH": "tc_nn_lut.c", "RELU": "tc_nn_lut.c", "RELU6": "tc_nn_lut.c", "SOFTMAX": "tc_nn_softmax.c",
    "QUANTIZE": "tc_nn_quantize.c", "DEQUANTIZE": "tc_nn_quantize.c",
}


class UnsupportedModelError(ValueError):
    """The graph holds something the generator cannot reproduce bit for bit."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: cannot generate C ({len(problems)} problem"
                         f"{'s' if len(problems) != 1 else ''}); nothing was written:\n{lines}")


class _Refuse(Exception):
    pass


@dataclass
class Step:
    op: Operator
    kind: str  # "call" | "alias"
    decls: list[str] = field(default_factory=list)
    call: str = ""  # with {in0}, {in1}, ..., {out0} placeholders for arena pointers
    reads: list[int] = field(default_factory=list)  # activation tensors read
    writes: list[int] = field(default_factory=list)
    summary: str = ""
    kernel_file: str | None = None
    macs: int = 0


@dataclass
class Lowered:
    graph: Graph
    steps: list[Step]
    activations: dict[int, int]  # tensor -> bytes
    aliases: list[tuple[int, int]]
    needs_float: bool
    weight_bytes: int


def layer_of(t: Tensor) -> str:
    """The Keras layer a TFLite tensor name points to ('model/conv1d_2/Relu;...' -> 'model/conv1d_2')."""
    name = t.name.split(";")[0]
    return name.rsplit("/", 1)[0] if "/" in name else name


def _where(op: Operator, g: Graph) -> str:
    outs = [g.tensors[i] for i in op.outputs if i >= 0]
    t = outs[0] if outs else None
    if t is None:
        return f"op #{op.index} {op.opcode}"
    if "/" in t.name.split(";")[0]:
        layer = f"layer '{layer_of(t)}'"
    else:
        # Graph outputs are renamed by the converter (e.g. 'StatefulPartitionedCall:0'):
        # name the layers that feed the op instead.
        feeds = sorted({layer_of(g.tensors[i]) for i in op.inputs
                        if i >= 0 and "/" in g.tensors[i].name.split(";")[0]})
        layer = f"the layer after {', '.join(repr(f) for f in feeds)}" if feeds else "layer unknown"
    return f"op #{op.index} {op.opcode} ({layer}, output tensor #{t.index} '{t.name}')"


# --- C text helpers -------------------------------------------------------------------------------

_CTYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}


def c_array(ctype: str, name: str, values, per_line: int = 16) -> str:
    vals = [str(int(v)) for v in np.asarray(values).ravel()]
    if ctype == "int32_t":  # INT32_MIN has no literal; keep 16-bit-int compilers exact
        vals = [f"INT32_C({v})" if abs(int(v)) > 32767 else v for v in vals]
    rows = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)] or ["0"]
    body = ",\n    ".join(rows)
    return f"static const {ctype} {name}[{max(len(vals), 1)}] = {{\n    {body}\n}};"


def _i32(v: int) -> str:
    return f"INT32_C({v})" if abs(v) > 32767 else str(v)


def _struct(ctype: str, name: str, fields: dict) -> str:
    def fmt(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f".{k} = {fmt(x)}" for k, x in v.items()) + "}"
        if isinstance(v, (list, tuple)):
            return "{" + ", ".join(fmt(x) for x in v) + "}"
        if isinstance(v, (int, np.integer)):
            return _i32(int(v))
        return str(v)

    # Several fields per line, as one would write it by hand.
    lines, cur = [], ""
    for k, v in fields.items():
        item = f".{k} = {fmt(v)},"
        if cur and len(cur) + 1 + len(item) > 96:
            lines.append(cur)
            cur = item
        else:
            cur = f"{cur} {item}" if cur else item
    lines.append(cur.rstrip(","))
    body = "\n    ".join(lines)
    return f"static const {ctype} {name} = {{\n    {body}\n}};"


# --- checks -----------------------------------------------------------------------------------------

def _act(g: Graph, op: Operator, i: int, role: str) -> Tensor:
    """An int8, per-tensor quantized activation (or constant) operand."""
    t = g.tensors[i]
    if t.dtype != "int8":
        raise _Refuse(f"{role} tensor #{t.index} '{t.name}' is {t.dtype}; only int8 activations are supported")
    if t.quant is None or len(t.quant.scale) == 0:
        raise _Refuse(f"{role} tensor #{t.index} '{t.name}' has no quantization parameters")
    if len(t.quant.scale) != 1:
        raise _Refuse(f"{role} tensor #{t.index} '{t.name}' is quantized per channel; "
                      "activations must be per-tensor")
    return t


def _scale(t: Tensor) -> float:
    return float(t.quant.scale[0])


def _zp(t: Tensor) -> int:
    return int(t.quant.zero_point[0])


def _const(g: Graph, i: int, role: str, dtype: str) -> Tensor:
    t = g.tensors[i]
    if t.data is None:
        raise _Refuse(f"{role} tensor #{t.index} '{t.name}' is not constant; only constant {role}s are supported")
    if t.dtype != dtype:
        raise _Refuse(f"{role} tensor #{t.index} '{t.name}' is {t.dtype}, expected {dtype}"
                      + (" (int4/int16 weights are not supported)" if role == "filter" else ""))
    return t


def _fused(op: Operator) -> str:
    act = op.options.get("fused_activation_function", "NONE")
    if act not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise _Refuse(f"fused activation {act} is not supported")
    return act


def _filter_quant(t: Tensor, axis: int, channels: int) -> None:
    q = t.quant
    if q is None or len(q.scale) == 0:
        raise _Refuse(f"filter tensor #{t.index} '{t.name}' is not quantized (hybrid or float model)")
    if np.any(q.zero_point != 0):
        raise _Refuse(f"filter tensor #{t.index} '{t.name}' has nonzero zero points; TFLite int8 weights are symmetric")
    if len(q.scale) > 1 and (q.axis != axis or len(q.scale) != channels):
        raise _Refuse(f"filter tensor #{t.index} '{t.name}': per-channel quantization along axis {q.axis} "
                      f"with {len(q.scale)} scales; expected axis {axis} with {channels}")


def _nhwc(t: Tensor, role: str) -> tuple[int, int, int, int]:
    if len(t.shape) != 4:
        raise _Refuse(f"{role} tensor #{t.index} '{t.name}' has shape {list(t.shape)}; expected 4-D NHWC")
    return tuple(int(d) for d in t.shape)  # type: ignore[return-value]


def _dims16(*dims: int) -> None:
    for d in dims:
        if not 0 <= d < 32768:
            raise _Refuse(f"dimension {d} does not fit the kernels' int16 dimensions")


def _requant(name: str, mult: list[int], shift: list[int], in_zp: int, out: Tensor, act: str) -> tuple[list[str], dict]:
    lo, hi = tm.activation_range(act, _scale(out), _zp(out))
    decls = [c_array("int32_t", f"{name}_mult", mult), c_array("int8_t", f"{name}_shift", shift)]
    return decls, dict(mult=f"{name}_mult", shift=f"{name}_shift", input_offset=-in_zp, output_offset=_zp(out),
                       act_min=lo, act_max=hi)


def _bias(g: Graph, op: Operator, name: str, channels: int) -> tuple[list[str], str]:
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return [], "NULL"
    b = _const(g, op.inputs[2], "bias", "int32")
    if b.data.size != channels:
        raise _Refuse(f"bias tensor #{b.index} has {b.data.size} values for {channels} channels")
    return [c_array("int32_t", f"{name}_bias", b.data)], f"{name}_bias"


# --- per-op lowering ----------------------------------------------------------------------------------

def _window(op: Operator, ih: int, iw: int, kh: int, kw: int, oh: int, ow: int) -> tuple[int, ...]:
    """Strides, dilations and leading pads of a convolution window, checked against the output
    size TFLite computes (ComputePaddingHeightWidth): (sh, sw, dh, dw, ph, pw, padding)."""
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    pad = o.get("padding", "SAME")
    for got, want, what in ((oh, tm.out_size(pad, ih, kh, sh, dh), "height"), (ow, tm.out_size(pad, iw, kw, sw, dw), "width")):
        if got != want:
            raise _Refuse(f"output {what} {got} disagrees with {pad} padding ({want})")
    return sh, sw, dh, dw, tm.same_padding(ih, kh, sh, dh, oh), tm.same_padding(iw, kw, sw, dw, ow), pad


def _conv(g: Graph, op: Operator, name: str) -> Step:
    x = _act(g, op, op.inputs[0], "input")
    y = _act(g, op, op.outputs[0], "output")
    w = _const(g, op.inputs[1], "filter", "int8")
    n, ih, iw, ic = _nhwc(x, "input")
    _, oh, ow, oc = _nhwc(y, "output")
    if len(w.shape) != 4:
        raise _Refuse(f"filter tensor #{w.index} has shape {list(w.shape)}")
    fo, kh, kw, fi = (int(d) for d in w.shape)
    if fi != ic or fo != oc:
        raise _Refuse(f"grouped convolution (filter {list(w.shape)} on {ic} input channels) is not supported")
    _filter_quant(w, 0, oc)
    sh, sw, dh, dw, ph, pw, pad = _window(op, ih, iw, kh, kw, oh, ow)
    _dims16(n, ih, iw, ic, oh, ow, oc, kh, kw)
    mult, shift = tm.conv_multipliers(_scale(x), w.quant.scale, _scale(y), oc)
    decls, q = _requant(name, mult, shift, _zp(x), y, _fused(op))
    bdecl, bname = _bias(g, op, name, oc)
    decls = [c_array("int8_t", f"{name}_filter", w.data), *bdecl, *decls]
    decls.append(_struct("tc_nn_conv_t", name, dict(
        batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw, stride_h=sh,
        stride_w=sw, dil_h=dh, dil_w=dw, pad_h=ph, pad_w=pw, filter=f"{name}_filter", bias=bname, q=q)))
    return Step(op, "call", decls, f"tc_nn_conv2d_s8(&{name}, {{in0}}, {{out0}});", [x.index], [y.index],
                f"{ih}x{iw}x{ic} -> {oh}x{ow}x{oc}, {kh}x{kw}/{sh}x{sw} {pad}", macs=n * oh * ow * oc * kh * kw * ic)


def _dwconv(g: Graph, op: Operator, name: str) -> Step:
    x = _act(g, op, op.inputs[0], "input")
    y = _act(g, op, op.outputs[0], "output")
    w = _const(g, op.inputs[1], "filter", "int8")
    n, ih, iw, ic = _nhwc(x, "input")
    _, oh, ow, oc = _nhwc(y, "output")
    if len(w.shape) != 4 or int(w.shape[0]) != 1 or int(w.shape[3]) != oc or oc % ic:
        raise _Refuse(f"depthwise filter {list(w.shape)} does not match {ic} -> {oc} channels")
    kh, kw = int(w.shape[1]), int(w.shape[2])
    _filter_quant(w, 3, oc)
    sh, sw, dh, dw, ph, pw, pad = _window(op, ih, iw, kh, kw, oh, ow)
    _dims16(n, ih, iw, ic, oh, ow, oc, kh, kw)
    mult, shift = tm.conv_multipliers(_scale(x), w.quant.scale, _scale(y), oc)
    decls, q = _requant(name, mult, shift, _zp(x), y, _fused(op))
    bdecl, bname = _bias(g, op, name, oc)
    decls = [c_array("int8_t", f"{name}_filter", w.data), *bdecl, *decls]
    decls.append(_struct("tc_nn_dwconv_t", name, dict(
        batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, depth_multiplier=oc // ic, k_h=kh, k_w=kw,
        stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw, pad_h=ph, pad_w=pw, filter=f"{name}_filter", bias=bname, q=q)))
    return Step(op, "call", decls, f"tc_nn_depthwise_conv2d_s8(&{name}, {{in0}}, {{out0}});", [x.index], [y.index],
                f"{ih}x{iw}x{ic} -> {oh}x{ow}x{oc}, {kh}x{kw}/{sh}x{sw} {pad}", macs=n * oh * ow * oc * kh * kw)


def _fc(g: Graph, op: Operator, name: str) -> Step:
    x = _act(g, op, op.inputs[0], "input")
    y = _act(g, op, op.outputs[0], "output")
    w = _const(g, op.inputs[1], "filter", "int8")
    if op.options.get("weights_format", "DEFAULT") not in ("DEFAULT", 0):
        raise _Refuse(f"weights_format {op.options.get('weights_format')} is not supported")
    if len(w.shape) != 2:
        raise _Refuse(f"filter tensor #{w.index} has shape {list(w.shape)}; expected [out, in]")
    od, idp = int(w.shape[0]), int(w.shape[1])
    size = int(np.prod(x.shape))
    if size % idp or int(np.prod(y.shape)) != size // idp * od:
        raise _Refuse(f"input {list(x.shape)} / output {list(y.shape)} do not match filter {list(w.shape)}")
    batches = size // idp
    _dims16(batches, idp, od)
    q = w.quant
    if q is None or len(q.scale) == 0:
        raise _Refuse(f"filter tensor #{w.index} '{w.name}' is not quantized (hybrid or float model)")
    if len(q.scale) > 1:
        _filter_quant(w, 0, od)
        mult, shift = tm.conv_multipliers(_scale(x), q.scale, _scale(y), od)
        filter_offset = 0
    else:
        m, s = tm.fully_connected_multiplier(_scale(x), float(q.scale[0]), _scale(y))
        mult, shift = [m] * od, [s] * od
        filter_offset = -int(q.zero_point[0])
    decls, rq = _requant(name, mult, shift, _zp(x), y, _fused(op))
    bdecl, bname = _bias(g, op, name, od)
    decls = [c_array("int8_t", f"{name}_filter", w.data), *bdecl, *decls]
    decls.append(_struct("tc_nn_fc_t", name, dict(batches=batches, in_depth=idp, out_depth=od,
                                                  filter_offset=filter_offset, filter=f"{name}_filter",
                                                  bias=bname, q=rq)))
    return Step(op, "call", decls, f"tc_nn_fully_connected_s8(&{name}, {{in0}}, {{out0}});", [x.index], [y.index],
                f"{idp} -> {od}" + (f" x{batches}" if batches > 1 else ""), macs=batches * idp * od)


def _broadcast(a: Tensor, b: Tensor, y: Tensor) -> tuple[list[int], list[int], list[int]]:
    if max(len(a.shape), len(b.shape), len(y.shape)) > 4:
        raise _Refuse("broadcasting beyond 4-D is not supported")
    out = [1] * (4 - len(y.shape)) + [int(d) for d in y.shape]

    def strides(t: Tensor) -> list[int]:
        dims = [1] * (4 - len(t.shape)) + [int(d) for d in t.shape]
        full, acc = [0] * 4, 1
        for k in range(3, -1, -1):
            if dims[k] != out[k] and dims[k] != 1:
                raise _Refuse(f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast to {list(y.shape)}")
            full[k] = acc if dims[k] == out[k] and dims[k] != 1 else 0
            acc *= dims[k]
        return full

    _dims16(*out)
    return out, strides(a), strides(b)


def _operand(g: Graph, i: int, name: str, decls: list[str], reads: list[int], role: str) -> tuple[Tensor, str]:
    """An elementwise input: an arena activation or an emitted constant."""
    t = g.tensors[i]
    if t.data is not None:
        if t.dtype != "int8":
            raise _Refuse(f"constant {role} tensor #{t.index} is {t.dtype}")
        decls.append(c_array("int8_t", f"{name}_{role}", t.data))
        return t, f"{name}_{role}"
    reads.append(i)
    return t, f"{{in{len(reads) - 1}}}"


def _add_mul(g: Graph, op: Operator, name: str) -> Step:
    decls: list[str] = []
    reads: list[int] = []
    _act(g, op, op.inputs[0], "input1")
    _act(g, op, op.inputs[1], "input2")
    a, pa = _operand(g, op.inputs[0], name, decls, reads, "input1")
    b, pb = _operand(g, op.inputs[1], name, decls, reads, "input2")
    y = _act(g, op, op.outputs[0], "output")
    dims, s1, s2 = _broadcast(a, b, y)
    lo, hi = tm.activation_range(_fused(op), _scale(y), _zp(y))
    common = dict(dims=dims, stride1=s1, stride2=s2, input1_offset=-_zp(a), input2_offset=-_zp(b),
                  output_offset=_zp(y), act_min=lo, act_max=hi)
    if op.opcode == "ADD":
        p = tm.add_params(_scale(a), _scale(b), _scale(y))
        fields = dict(common, left_shift=p["left_shift"], input1_shift=p["input1_shift"],
                      input2_shift=p["input2_shift"], output_shift=p["output_shift"],
                      input1_multiplier=p["input1_multiplier"], input2_multiplier=p["input2_multiplier"],
                      output_multiplier=p["output_multiplier"])
        decls.append(_struct("tc_nn_add_t", name, fields))
        call = f"tc_nn_add_s8(&{name}, {pa}, {pb}, {{out0}});"
    else:
        m, s = tm.mul_multiplier(_scale(a), _scale(b), _scale(y))
        decls.append(_struct("tc_nn_mul_t", name, dict(common, output_shift=s, output_multiplier=m)))
        call = f"tc_nn_mul_s8(&{name}, {pa}, {pb}, {{out0}});"
    return Step(op, "call", decls, call, reads, [y.index], f"{list(a.shape)} , {list(b.shape)} -> {list(y.shape)}")


def _pool(g: Graph, op: Operator, name: str) -> Step:
    x = _act(g, op, op.inputs[0], "input")
    y = _act(g, op, op.outputs[0], "output")
    n, ih, iw, c = _nhwc(x, "input")
    _, oh, ow, c2 = _nhwc(y, "output")
    fh, fw = int(op.options.get("filter_height", 1)), int(op.options.get("filter_width", 1))
    if c != c2:
        raise _Refuse(f"pooling changes {c} channels to {c2}")
    sh, sw, _, _, ph, pw, pad = _window(op, ih, iw, fh, fw, oh, ow)
    _dims16(n, ih, iw, c, oh, ow, fh, fw)
    lo, hi = tm.activation_range(_fused(op), _scale(y), _zp(y))
    decls = [_struct("tc_nn_pool_t", name, dict(
        batches=n, in_h=ih, in_w=iw, channels=c, out_h=oh, out_w=ow, f_h=fh, f_w=fw, stride_h=sh, stride_w=sw,
        pad_h=ph, pad_w=pw, act_min=lo, act_max=hi))]
    fn = "tc_nn_max_pool_s8" if op.opcode == "MAX_POOL_2D" else "tc_nn_avg_pool_s8"
    return Step(op, "call", decls, f"{fn}(&{name}, {{in0}}, {{out0}});", [x.index], [y.index],
                f"{ih}x{iw}x{c} -> {oh}x{ow}x{c}, {fh}x{fw}/{sh}x{sw} {pad}")


def _concat(g: Graph, op: Operator, name: str) -> Step:
    y = _act(g, op, op.outputs[0], "output")
    if _fused(op) != "NONE":
        raise _Refuse("a fused activation on CONCATENATION is not supported")
    rank = len(y.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    decls: list[str] = []
    reads: list[int] = []
    ptrs, sizes = [], []
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64))
    for k, i in enumerate(op.inputs):
        t = _act(g, op, i, f"input{k}")
        if _scale(t) != _scale(y) or _zp(t) != _zp(y):
            raise _Refuse(f"input tensor #{t.index} '{t.name}' is quantized differently from the output "
                          "(TFLite Micro requires one scale and zero point)")
        if len(t.shape) != rank:
            raise _Refuse(f"input tensor #{t.index} has rank {len(t.shape)}, output {rank}")
        _, p = _operand(g, i, name, decls, reads, f"input{k}")
        ptrs.append(p)
        sizes.append(int(t.shape[axis]) * inner)
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    decls.append(c_array("int32_t", f"{name}_sizes", sizes))
    call = (f"{{ const int8_t *const ins[{len(ptrs)}] = {{{', '.join(ptrs)}}}; "
            f"tc_nn_concat_s8({len(ptrs)}, ins, {name}_sizes, {_i32(outer)}, {{out0}}); }}")
    return Step(op, "call", decls, call, reads, [y.index], f"{len(ptrs)} inputs on axis {axis} -> {list(y.shape)}")


def _pad(g: Graph, op: Operator, name: str) -> Step:
    x = _act(g, op, op.inputs[0], "input")
    y = _act(g, op, op.outputs[0], "output")
    paddings = _const(g, op.inputs[1], "paddings", g.tensors[op.inputs[1]].dtype)
    if paddings.dtype not in ("int32", "int64"):
        raise _Refuse(f"paddings tensor is {paddings.dtype}")
    rank = len(x.shape)
    if rank > 4:
        raise _Refuse("PAD beyond 4-D is not supported")
    pads = np.asarray(paddings.data, dtype=np.int64).reshape(rank, 2)
    if np.any(pads < 0):
        raise _Refuse("negative paddings are not supported")
    value = _zp(y)
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        cv = _const(g, op.inputs[2], "constant_values", "int8")
        value = int(cv.data.ravel()[0])
    if _scale(x) != _scale(y) or _zp(x) != _zp(y):
        raise _Refuse("PAD with different input and output quantization is not supported")
    lead = 4 - rank
    in_dims = [1] * lead + [int(d) for d in x.shape]
    out_dims = [1] * lead + [int(d) for d in y.shape]
    before = [0] * lead + [int(p) for p in pads[:, 0]]
    _dims16(*in_dims, *out_dims)
    decls = [_struct("tc_nn_pad_t", name, dict(in_dims=in_dims, out_dims=out_dims, before=before, value=value))]
    return Step(op, "call", decls, f"tc_nn_pad_s8(&{name}, {{in0}}, {{out0}});", [x.index], [y.index],
                f"{list(x.shape)} -> {list(y.shape)}")


def _resize(g: Graph, op: Operator, name: str) -> Step:
    x = _act(g, op, op.inputs[0], "input")
    y = _act(g, op, op.outputs[0], "output")
    n, ih, iw, c = _nhwc(x, "input")
    _, oh, ow, _ = _nhwc(y, "output")
    ac = bool(op.options.get("align_corners", False))
    hp = bool(op.options.get("half_pixel_centers", False))
    ys = tm.nearest_neighbor_map(ih, oh, ac, hp)
    xs = tm.nearest_neighbor_map(iw, ow, ac, hp)
    _dims16(n, ih, iw, c, oh, ow)
    decls = [c_array("int16_t", f"{name}_y", ys), c_array("int16_t", f"{name}_x", xs),
             _struct("tc_nn_resize_t", name, dict(batches=n, in_h=ih, in_w=iw, channels=c, out_h=oh, out_w=ow,
                                                  y_map=f"{name}_y", x_map=f"{name}_x"))]
    return Step(op, "call", decls, f"tc_nn_resize_nearest_s8(&{name}, {{in0}}, {{out0}});", [x.index], [y.index],
                f"{ih}x{iw}x{c} -> {oh}x{ow}x{c}")


def _unary_lut(g: Graph, op: Operator, name: str) -> Step:
    x = _act(g, op, op.inputs[0], "input")
    y = _act(g, op, op.outputs[0], "output")
    if op.opcode == "LOGISTIC":
        if _zp(y) != -128:
            raise _Refuse(f"LOGISTIC output zero point {_zp(y)}; TFLite Micro requires -128")
        table = tm.logistic_lut(_scale(x), _zp(x))
    elif op.opcode == "TANH":
        table = tm.tanh_lut(_scale(x), _zp(x))
    elif op.opcode == "RELU":
        table = tm.relu_lut(_scale(x), _zp(x), _scale(y), _zp(y))
    else:  # RELU6 clamps on the input's scale and ignores the output's, as TFLite Micro does
        table = tm.relu6_lut(_scale(x), _zp(x))
    n = int(np.prod(x.shape))
    decls = [c_array("int8_t", f"{name}_table", table)]
    return Step(op, "call", decls, f"tc_nn_lut_s8({name}_table, {{in0}}, {{out0}}, {_i32(n)});", [x.index],
                [y.index], f"{n} values, 256-entry table")


def _softmax(g: Graph, op: Operator, name: str) -> Step:
    x = _act(g, op, op.inputs[0], "input")
    y = _act(g, op, op.outputs[0], "output")
    if _zp(y) != -128 or np.float32(_scale(y)) != np.float32(1.0 / 256):
        raise _Refuse(f"SOFTMAX output quantization (scale {_scale(y)}, zero point {_zp(y)}); "
                      "TFLite Micro requires 1/256 and -128")
    depth = int(x.shape[-1])
    outer = int(np.prod(x.shape)) // depth
    beta = float(op.options.get("beta", 1.0))
    if float(np.float32(beta)) * float(np.float32(_scale(x))) * (1 << 26) <= 1.0:
        # TFLite CHECKs beta * scale * 2^26 > 1 (QuantizeMultiplierGreaterThanOne) and aborts otherwise.
        raise _Refuse(f"input scale {_scale(x):.3g} with beta {beta}: TFLite's softmax requires "
                      "beta * scale * 2^26 > 1 and aborts on this model")
    diff_min, table = tm.softmax_params(_scale(x), beta)
    _dims16(depth)
    decls = [c_array("int32_t", f"{name}_exp", table),
             _struct("tc_nn_softmax_t", name, dict(outer=outer, depth=depth, exp_table=f"{name}_exp"))]
    return Step(op, "call", decls, f"tc_nn_softmax_s8(&{name}, {{in0}}, {{out0}});", [x.index], [y.index],
                f"{outer} x {depth}, diff_min {diff_min}")


def _quantize(g: Graph, op: Operator, name: str) -> Step:
    x = g.tensors[op.inputs[0]]
    y = g.tensors[op.outputs[0]]
    n = int(np.prod(x.shape))
    if op.opcode == "DEQUANTIZE":
        _act(g, op, x.index, "input")
        if y.dtype != "float32":
            raise _Refuse(f"DEQUANTIZE to {y.dtype} is not supported")
        call = f"tc_nn_dequantize_s8_f32({{in0}}, (float *){{out0}}, {_i32(n)}, {float(np.float32(_scale(x)))!r}, {_zp(x)});"
        return Step(op, "call", [], call, [x.index], [y.index], f"{n} values int8 -> float32")
    y = _act(g, op, y.index, "output")
    if x.dtype == "float32":
        call = (f"tc_nn_quantize_f32_s8((const float *){{in0}}, {{out0}}, {_i32(n)}, "
                f"{float(np.float32(_scale(y)))!r}f, {_zp(y)});")
        return Step(op, "call", [], call, [x.index], [y.index], f"{n} values float32 -> int8")
    _act(g, op, x.index, "input")
    m, s = tm.requantize_multiplier(_scale(x), _scale(y))
    call = f"tc_nn_requantize_s8({{in0}}, {{out0}}, {_i32(n)}, {_i32(m)}, {s}, {_zp(x)}, {_zp(y)});"
    return Step(op, "call", [], call, [x.index], [y.index], f"{n} values int8 -> int8")


def _alias(g: Graph, op: Operator, name: str) -> Step:
    x = g.tensors[op.inputs[0]]
    y = g.tensors[op.outputs[0]]
    if x.dtype != y.dtype or int(np.prod(x.shape)) != int(np.prod(y.shape)):
        raise _Refuse(f"{list(x.shape)} {x.dtype} -> {list(y.shape)} {y.dtype} is not a pure reshape")
    if x.data is not None:
        raise _Refuse("reshaping a constant tensor is not supported")
    return Step(op, "alias", [], "", [x.index], [y.index], f"{list(x.shape)} -> {list(y.shape)} (no code: same bytes)")


_LOWER = {"CONV_2D": _conv, "DEPTHWISE_CONV_2D": _dwconv, "FULLY_CONNECTED": _fc, "ADD": _add_mul, "MUL": _add_mul,
          "MAX_POOL_2D": _pool, "AVERAGE_POOL_2D": _pool, "CONCATENATION": _concat, "PAD": _pad, "PADV2": _pad,
          "RESIZE_NEAREST_NEIGHBOR": _resize, "LOGISTIC": _unary_lut, "TANH": _unary_lut, "RELU": _unary_lut, "RELU6": _unary_lut, "SOFTMAX": _softmax,
          "QUANTIZE": _quantize, "DEQUANTIZE": _quantize, "RESHAPE": _alias, "EXPAND_DIMS": _alias,
          "SQUEEZE": _alias}


def _tensor_bytes(t: Tensor) -> int:
    width = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "float32": 4}.get(t.dtype)
    if width is None:
        raise _Refuse(f"tensor #{t.index} '{t.name}' has type {t.dtype}")
    return int(np.prod(t.shape, dtype=np.int64)) * width


SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK", "GATHER", "CONCATENATION", "SLICE"}


def shape_only_ops(g: Graph) -> set[int]:
    """Operators that only compute the shape operand of a RESHAPE.

    A Keras model with a dynamic batch computes Flatten's target shape at run time
    (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE). Every shape here is static and
    RESHAPE takes its output shape from its output tensor, so those ops are dead."""
    consumers: dict[int, list[tuple[Operator, int]]] = {}
    for op in g.operators:
        for pos, i in enumerate(op.inputs):
            if i >= 0:
                consumers.setdefault(i, []).append((op, pos))
    dead: set[int] = set()
    changed = True
    while changed:
        changed = False
        for op in reversed(g.operators):
            if op.index in dead or op.opcode not in SHAPE_OPS:
                continue
            outs = [i for i in op.outputs if i >= 0]
            if any(g.tensors[i].dtype not in ("int32", "int64") for i in outs) or set(outs) & set(g.outputs):
                continue
            if all(c.index in dead or (c.opcode == "RESHAPE" and pos == 1)
                   for i in outs for c, pos in consumers.get(i, [])) and any(consumers.get(i) for i in outs):
                dead.add(op.index)
                changed = True
    return dead


def lower(g: Graph, source: str = "model") -> Lowered:
    """Lower every operator; raise UnsupportedModelError listing every problem found."""
    problems: list[str] = []
    steps: list[Step] = []
    dead = shape_only_ops(g)
    for t in (g.tensors[i] for i in (*g.inputs, *g.outputs)):
        if t.dtype not in ("int8", "float32"):
            problems.append(f"graph {'input' if t.index in g.inputs else 'output'} tensor #{t.index} '{t.name}' "
                            f"is {t.dtype}; only int8 (or float32 through QUANTIZE/DEQUANTIZE) is supported")
    for op in g.operators:
        if op.index in dead:
            continue
        fn = _LOWER.get(op.opcode)
        if fn is None:
            what = f"custom op '{op.custom_code}'" if op.opcode == "CUSTOM" else "this operator"
            problems.append(f"{_where(op, g)}: {what} is not supported by the int8 code generator "
                            f"(supported: {', '.join(sorted(SUPPORTED_OPS))})")
            continue
        try:
            step = fn(g, op, f"op{op.index}")
            step.kernel_file = KERNEL_FILES.get(op.opcode)
            steps.append(step)
        except _Refuse as e:
            problems.append(f"{_where(op, g)}: {e}")
        except (IndexError, KeyError, TypeError) as e:  # malformed operands
            problems.append(f"{_where(op, g)}: malformed operands ({type(e).__name__}: {e})")
    activations: dict[int, int] = {}
    needs_float = False
    if not problems:
        for s in steps:
            for i in (*s.reads, *s.writes):
                t = g.tensors[i]
                try:
                    activations[i] = _tensor_bytes(t)
                except _Refuse as e:
                    problems.append(f"{_where(s.op, g)}: {e}")
                needs_float |= t.dtype == "float32"
        for i in (*g.inputs, *g.outputs):
            if i not in activations:
                activations[i] = _tensor_bytes(g.tensors[i])
    if problems:
        raise UnsupportedModelError(source, problems)
    aliases = [(s.writes[0], s.reads[0]) for s in steps if s.kind == "alias"]
    weight_bytes = sum(t.data.nbytes for t in g.tensors if t.data is not None)
    return Lowered(g, steps, activations, aliases, needs_float, weight_bytes)
