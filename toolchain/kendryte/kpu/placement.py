"""Which layers of an int8 TFLite model the Kendryte K210's KPU can run, and why not the others.

The rules are nncase's (the K210 model compiler), read from its source and its FAQ, and checked
against nncase 1.9.0's real placement decisions on synthetic models (see the boundary tests):

* nncase docs/FAQ (release 1.0, "What kinds of ops can be fully accelerated by KPU?"): input
  feature maps <= 320x240 (WxH), output >= 4x4, 1-1024 channels; symmetric SAME padding
  (TensorFlow pads asymmetrically for stride 2 on even sizes); Conv2D and DepthwiseConv2D with
  1x1 or 3x3 filters and stride 1 or 2; MaxPool/AveragePool 2x2 or 4x4; any element-wise
  activation except PReLU. "Partially accelerated": other paddings (nncase adds Pad/Crop),
  other strides (KPU conv + StridedSlice), MatMul (Pad to 4x4 + 1x1 KPU conv + Crop).
  "K210 has 6MB general RAM and 2MB KPU dedicated RAM. Your model's input and output
  feature maps are stored at 2MB KPU RAM. The weights and other parameters are stored at 6MB RAM."
* nncase modules/k210 (1.x) kpu_utils.h ``is_supported_in_shape``: C <= 1024, 4 <= H <= 256,
  4 <= W <= 512 -- looser than the FAQ's 320x240, and what the compiler really enforces: nncase
  1.9 puts a 3x3 conv on a 240x321 or 256x512 map on the KPU and a 257-row one on the CPU.
  ``is_supported_filter``: square 1x1 or 3x3. fake_kpu_conv2d.cpp: stride 2 becomes KPU
  down-sampling only for non-depthwise convs (depthwise keeps a CPU slice);
  fuse_kpu_conv2d_pool.cpp: pooling fuses only into a non-depthwise conv, windows 2x2/s2, 2x2/s1,
  4x4/s4 (max or mean), no padding beyond the KPU's own.
* nncase 1.9 observed (this module's tests compile synthetic models when nncase is installed):
  maps below 4x4 are padded to 4 rows/columns on the CPU and run on the KPU (also for 3x3);
  FULLY_CONNECTED becomes a 1x1 KPU conv on the input padded to 4x4; a layer whose feature maps
  overflow the 2 MiB KPU RAM makes the whole compile fail ("Allocator has ran out of memory")
  rather than fall back -- this checker reports it as CPU, which is what the model needs.

KPU memory per feature map (nncase runtime_op_utility.h ``get_kpu_bytes``): rows are 64 bytes;
a map of width W <= 16 packs 4 channels per row (row pitch 16 B), 16 < W <= 32 packs 2 (pitch
32 B), wider maps take ceil(W/64) rows per image row, one channel per row group:
    groups = 4 | 2 | 1,  row_len = 1 | 1 | ceil(W/64)
    bytes  = 64 * row_len * H * ceil(C / min(C, groups))
Weights are not counted: they live in main RAM and the KPU streams them (<= 30 KiB per load).

Placements: 'KPU' (``partial`` True when the CPU pads, crops or slices around it), 'CPU', or
'none' (no compute of its own: reshapes, a PAD folded into the next conv, an activation or a
pooling fused into the KPU conv before it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from toolchain.nn.tflite_model import Graph, Operator, read_tflite

__all__ = ["FAQ_LIMITS", "KPU_LIMITS", "KpuLimits", "LayerPlacement", "kpu_bytes", "kpu_summary",
           "place_model"]


@dataclass(frozen=True)
class KpuLimits:
    max_w: int            # widest input map the KPU takes (after nncase's own padding)
    max_h: int
    min_hw: int = 4       # smaller maps are padded up to this on the CPU
    max_channels: int = 1024
    ram_bytes: int = 2 * 1024 * 1024   # KPU-dedicated SRAM holding a layer's input + output maps
    source: str = ""


# What nncase 1.x enforces (kpu_utils.h); the default, because nncase is what compiles the model.
KPU_LIMITS = KpuLimits(512, 256, source="nncase 1.x modules/k210 kpu_utils.h is_supported_in_shape")
# The documented, conservative envelope (nncase FAQ "fully accelerated").
FAQ_LIMITS = KpuLimits(320, 240, source="nncase docs/FAQ_EN.md: input <= 320x240 (WxH)")

FREE_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})
# Element-wise activations the KPU's 16-segment piecewise-linear table can hold (monotonic ones;
# the FAQ excludes PReLU).
FUSABLE_ACTIVATIONS = frozenset({"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH",
                                 "LEAKY_RELU", "ELU"})
POOL_OPS = {"MAX_POOL_2D": "max", "AVERAGE_POOL_2D": "mean"}
KPU_POOLS = {(2, 2), (2, 1), (4, 4)}   # (window, stride) of nncase's kpu_pool_* types


@dataclass
class LayerPlacement:
    index: int                 # operator index in the TFLite subgraph
    op: str                    # TFLite builtin name
    layer: str                 # output tensor name (first ';' part), for people
    placement: str             # 'KPU' | 'CPU' | 'none'
    reason: str
    kpu_bytes: int             # KPU RAM for input + output maps (0 where no KPU map is involved)
    shape_in: tuple
    shape_out: tuple
    macs: int = 0              # multiply-accumulates of this layer (conv / FC only)
    partial: bool = False      # KPU with CPU pad / crop / slice around it
    tensor: str = ""           # full output tensor name (nncase names its nodes after it)


def kpu_bytes(w: int, h: int, c: int) -> int:
    """Bytes of KPU RAM one W x H x C uint8 feature map takes (nncase get_kpu_bytes)."""
    if w <= 16:
        groups, row_len = 4, 1
    elif w <= 32:
        groups, row_len = 2, 1
    else:
        groups, row_len = 1, math.ceil(w / 64)
    per_line = min(c, groups)
    return 64 * row_len * h * math.ceil(c / per_line)


def _same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow SAME padding (before, after) along one axis."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


@dataclass
class _Ctx:
    g: Graph
    limits: KpuLimits
    producer: dict[int, int] = field(default_factory=dict)
    consumers: dict[int, list[int]] = field(default_factory=dict)
    out: dict[int, LayerPlacement] = field(default_factory=dict)
    # per KPU layer: can a following pool / activation still fuse into it? Pools need a
    # non-depthwise conv with no CPU crop/slice after it; activations any conv (nncase fuses them
    # before it adds the crop), not a FULLY_CONNECTED (observed with nncase 1.9).
    fusable_after: dict[int, dict] = field(default_factory=dict)

    def shape(self, t: int) -> tuple:
        return tuple(self.g.tensors[t].shape)

    def data_input(self, op: Operator) -> int:
        for t in op.inputs:
            if t >= 0 and self.g.tensors[t].data is None:
                return t
        return op.inputs[0]

    def sole_consumer(self, t: int) -> int | None:
        c = self.consumers.get(t, [])
        return c[0] if len(c) == 1 and t not in self.g.outputs else None


def _short(name: str) -> str:
    return name.split(";")[0]


def _hw(shape: tuple) -> tuple[int, int, int, int]:
    """(N, H, W, C) of a 4-D NHWC shape; 2-D (N, K) maps to (N, 1, 1, K)."""
    if len(shape) == 4:
        return tuple(int(s) for s in shape)  # type: ignore[return-value]
    if len(shape) == 2:
        return int(shape[0]), 1, 1, int(shape[1])
    if len(shape) == 3:
        return int(shape[0]), 1, int(shape[1]), int(shape[2])
    n = int(math.prod(shape)) if shape else 1
    return 1, 1, 1, n


def _folded_pad(ctx: _Ctx, op: Operator) -> tuple[int | None, tuple[int, int, int, int]]:
    """A PAD feeding this conv alone, padding only H/W with constants: (its index, t/b/l/r)."""
    t = ctx.data_input(op)
    p = ctx.producer.get(t)
    if p is None:
        return None, (0, 0, 0, 0)
    pop = ctx.g.operators[p]
    if pop.opcode != "PAD" or ctx.sole_consumer(t) != op.index or len(pop.inputs) < 2:
        return None, (0, 0, 0, 0)
    pads = ctx.g.tensors[pop.inputs[1]].data
    if pads is None or tuple(pads.shape) != (4, 2) or pads[0].any() or pads[3].any():
        return None, (0, 0, 0, 0)
    return p, (int(pads[1, 0]), int(pads[1, 1]), int(pads[2, 0]), int(pads[2, 1]))


def _place_conv(ctx: _Ctx, op: Operator) -> LayerPlacement:
    g, lim = ctx.g, ctx.limits
    depthwise = op.opcode == "DEPTHWISE_CONV_2D"
    w = g.tensors[op.inputs[1]]
    pad_op, (pt, pb, pl, pr) = _folded_pad(ctx, op)
    x_t = g.operators[pad_op].inputs[0] if pad_op is not None else ctx.data_input(op)
    n, h, wd, cin = _hw(ctx.shape(x_t))
    _, ho, wo, cout = _hw(ctx.shape(op.outputs[0]))
    kh, kw = (int(w.shape[1]), int(w.shape[2]))
    sh, sw = int(op.options.get("stride_h", 1) or 1), int(op.options.get("stride_w", 1) or 1)
    dh, dw_ = int(op.options.get("dilation_h_factor", 1)), int(op.options.get("dilation_w_factor", 1))
    act = op.options.get("fused_activation_function", "NONE")
    if op.options.get("padding") == "SAME":
        (a, b), (c, d) = _same_pads(h + pt + pb, kh, sh), _same_pads(wd + pl + pr, kw, sw)
        pt, pb, pl, pr = pt + a, pb + b, pl + c, pr + d
    macs = ho * wo * cout * kh * kw * (1 if depthwise else cin)
    base = dict(index=op.index, op=op.opcode, layer=_short(g.tensors[op.outputs[0]].name),
                shape_in=ctx.shape(ctx.data_input(op)), shape_out=ctx.shape(op.outputs[0]),
                macs=macs, tensor=g.tensors[op.outputs[0]].name)

    cpu: list[str] = []
    if not (kh == kw and kh in (1, 3)):
        cpu.append(f"kernel {kh}x{kw}: KPU supports 1x1 and 3x3 only")
    if dh != 1 or dw_ != 1:
        cpu.append(f"dilation {dh}x{dw_}: not a KPU conv (nncase would rewrite it around "
                   "SpaceToBatch on the CPU; not modelled here)")
    if depthwise and int(op.options.get("depth_multiplier", 1) or 1) != 1:
        cpu.append(f"depth multiplier {op.options['depth_multiplier']}: KPU depthwise needs "
                   "as many outputs as inputs")
    if n != 1:
        cpu.append(f"batch {n}: the KPU runs batch 1")
    if not (1 <= cin <= lim.max_channels and 1 <= cout <= lim.max_channels):
        cpu.append(f"{cin} -> {cout} channels: KPU supports 1-{lim.max_channels}")

    notes: list[str] = []
    kpad = 1 if kh == 3 else 0
    # nncase pads on the CPU what exceeds the KPU's own padding, and crops what falls short.
    ext_h, ext_w = max(pt - kpad, 0) + max(pb - kpad, 0), max(pl - kpad, 0) + max(pr - kpad, 0)
    if not cpu and (pt, pb, pl, pr) != (kpad,) * 4:
        notes.append(f"padding t/b/l/r {pt}/{pb}/{pl}/{pr} is not the KPU's symmetric {kpad}: "
                     "CPU pads / crops around it")
    hk, wk = h + ext_h, wd + ext_w
    if hk > lim.max_h or wk > lim.max_w:
        cpu.append(f"input {wk}x{hk} (WxH) exceeds the KPU's {lim.max_w}x{lim.max_h} "
                   "(bigger maps need tiling on the CPU)")
    if not cpu and (hk < lim.min_hw or wk < lim.min_hw):
        notes.append(f"input {wk}x{hk} (WxH) is below the KPU's {lim.min_hw}x{lim.min_hw} minimum: "
                     f"CPU pads it to {max(wk, lim.min_hw)}x{max(hk, lim.min_hw)} and crops the output")
        hk, wk = max(hk, lim.min_hw), max(wk, lim.min_hw)
    # Stride: 1 is native; 2 on a non-depthwise conv is the KPU's down-sampling pool (even sizes,
    # output >= 4x4); anything else runs at stride 1 on the KPU and the CPU keeps one value in s x s.
    pool_stride = 1
    if not cpu and (sh, sw) != (1, 1):
        if (sh, sw) == (2, 2) and not depthwise and hk // 2 >= lim.min_hw and wk // 2 >= lim.min_hw:
            pool_stride = 2
            if hk % 2 or wk % 2:
                notes.append(f"stride 2 on an odd {wk}x{hk} map: CPU pads it to even")
                hk, wk = hk + hk % 2, wk + wk % 2
        elif (sh, sw) == (2, 2) and depthwise:
            notes.append("depthwise stride 2: KPU computes stride 1, CPU keeps one value in 2x2 "
                         "(nncase fuses stride 2 into the KPU only for non-depthwise convs)")
        elif (sh, sw) == (2, 2):
            notes.append(f"output {wo}x{ho} below {lim.min_hw}x{lim.min_hw}: KPU computes stride 1, "
                         "CPU keeps one value in 2x2")
        else:
            notes.append(f"stride {sh}x{sw}: KPU computes stride 1, CPU keeps one value in "
                         f"{sh}x{sw}")
    need = kpu_bytes(wk, hk, cin) + kpu_bytes(wk // pool_stride, hk // pool_stride, cout)
    if not cpu and need > lim.ram_bytes:
        cpu.append(f"feature maps need {need} B of KPU RAM > {lim.ram_bytes} B (input "
                   f"{kpu_bytes(wk, hk, cin)} + output {need - kpu_bytes(wk, hk, cin)}); nncase 1.9 "
                   "fails the compile ('Allocator has ran out of memory') rather than fall back")
    if cpu:
        return LayerPlacement(placement="CPU", reason="; ".join(cpu), kpu_bytes=0, **base)

    kind = f"{kh}x{kw} stride {sh if sh == sw else f'{sh}x{sw}'} {'depthwise ' if depthwise else ''}conv"
    desc = (f"KPU: {kind}, {cin} -> {cout} channels, {wd}x{h} -> {wo}x{ho}"
            + (f", fused {act}" if act != "NONE" else ""))
    crop_after = any(("crops" in s or "one value in" in s) for s in notes)
    pool_block = (f"op {op.index} is a depthwise conv (nncase fuses pooling into non-depthwise KPU "
                  "convs only)" if depthwise else
                  f"op {op.index} already uses the KPU's pooling unit for its stride 2" if pool_stride == 2
                  else f"the CPU crops op {op.index}'s output first" if crop_after else "")
    ctx.fusable_after[op.index] = {"pool_block": pool_block, "act_free": True, "w": wk // pool_stride,
                                   "h": hk // pool_stride, "cin": cin, "wk": wk, "hk": hk,
                                   "cout": cout}
    if pad_op is not None:
        ctx.out[pad_op] = LayerPlacement(
            pad_op, "PAD", _short(g.tensors[g.operators[pad_op].outputs[0]].name), "none",
            f"folded into op {op.index}'s padding (nncase fuse_pad)", 0,
            ctx.shape(g.operators[pad_op].inputs[0]), ctx.shape(g.operators[pad_op].outputs[0]),
            tensor=g.tensors[g.operators[pad_op].outputs[0]].name)
    return LayerPlacement(placement="KPU", reason="; ".join([desc] + notes), kpu_bytes=need,
                          partial=bool(notes), **base)


def _place_fc(ctx: _Ctx, op: Operator) -> LayerPlacement:
    g, lim = ctx.g, ctx.limits
    x = ctx.shape(ctx.data_input(op))
    nout = int(g.tensors[op.inputs[1]].shape[0])
    k = int(g.tensors[op.inputs[1]].shape[1])
    rows = int(math.prod(x)) // k if k else 0
    base = dict(index=op.index, op=op.opcode, layer=_short(g.tensors[op.outputs[0]].name),
                shape_in=x, shape_out=ctx.shape(op.outputs[0]), macs=rows * k * nout,
                tensor=g.tensors[op.outputs[0]].name)
    cpu = []
    if rows != 1:
        cpu.append(f"{rows} input rows: nncase maps FULLY_CONNECTED onto the KPU for one row only")
    if not (k <= lim.max_channels and nout <= lim.max_channels):
        cpu.append(f"{k} -> {nout} features: as a 1x1 KPU conv they are channels, 1-{lim.max_channels}")
    m = lim.min_hw
    need = kpu_bytes(m, m, k) + kpu_bytes(m, m, nout)
    if not cpu and need > lim.ram_bytes:
        cpu.append(f"needs {need} B of KPU RAM > {lim.ram_bytes} B")
    if cpu:
        return LayerPlacement(placement="CPU", reason="; ".join(cpu), kpu_bytes=0, **base)
    act = op.options.get("fused_activation_function", "NONE")
    ctx.fusable_after[op.index] = {"pool_block": f"op {op.index} is a FULLY_CONNECTED", "act_free": False}
    return LayerPlacement(
        placement="KPU", partial=True, kpu_bytes=need,
        reason=(f"KPU: FULLY_CONNECTED {k} -> {nout} as a 1x1 conv on the input padded to {m}x{m} "
                f"(CPU pads and crops; nncase matmul_to_conv2d)" + (f", fused {act}" if act != "NONE" else "")),
        **base)


def _kpu_producer(ctx: _Ctx, op: Operator) -> tuple[int | None, str]:
    """The KPU conv whose output this op reads alone, looking through fused activations."""
    t = ctx.data_input(op)
    p = ctx.producer.get(t)
    if p is None:
        return None, "it reads the model input"
    if ctx.sole_consumer(t) != op.index:
        return None, f"op {p}'s output has other readers"
    pl = ctx.out.get(p)
    if pl is None or pl.placement == "CPU":
        return None, f"op {p} ({ctx.g.operators[p].opcode}) runs on the CPU"
    if pl.placement == "none" and ctx.g.operators[p].opcode in FUSABLE_ACTIVATIONS:
        return _kpu_producer(ctx, ctx.g.operators[p])
    if p not in ctx.fusable_after:
        return None, f"op {p} ({ctx.g.operators[p].opcode}) is not a KPU conv"
    return p, ""


def _place_activation(ctx: _Ctx, op: Operator) -> LayerPlacement:
    base = dict(index=op.index, op=op.opcode, layer=_short(ctx.g.tensors[op.outputs[0]].name),
                shape_in=ctx.shape(ctx.data_input(op)), shape_out=ctx.shape(op.outputs[0]),
                tensor=ctx.g.tensors[op.outputs[0]].name)
    p, why = _kpu_producer(ctx, op)
    if p is not None and not ctx.fusable_after[p]["act_free"]:
        p, why = None, (f"op {p} is a FULLY_CONNECTED: nncase 1.9 fuses activations into KPU "
                        "convs, not into the 1x1 conv it makes of a FULLY_CONNECTED")
    if p is None:
        return LayerPlacement(placement="CPU", kpu_bytes=0, reason=f"{op.opcode} not fused: {why}", **base)
    ctx.fusable_after[p]["act_free"] = False
    return LayerPlacement(placement="none", kpu_bytes=0,
                          reason=f"fused into op {p}'s KPU activation (16-segment piecewise-linear table)",
                          **base)


def _place_pool(ctx: _Ctx, op: Operator) -> LayerPlacement:
    o = op.options
    fh, fw = int(o.get("filter_height", 0)), int(o.get("filter_width", 0))
    sh, sw = int(o.get("stride_h", 0)), int(o.get("stride_w", 0))
    base = dict(index=op.index, op=op.opcode, layer=_short(ctx.g.tensors[op.outputs[0]].name),
                shape_in=ctx.shape(ctx.data_input(op)), shape_out=ctx.shape(op.outputs[0]),
                tensor=ctx.g.tensors[op.outputs[0]].name)
    why = ""
    if fh != fw or sh != sw or (fh, sh) not in KPU_POOLS:
        why = f"window {fh}x{fw} stride {sh}x{sw}: the KPU pools 2x2/s2, 2x2/s1, 4x4/s4 only"
    elif (fh, sh) == (2, 1) and o.get("padding") != "SAME":
        why = "2x2 stride 1 VALID pooling (the KPU's 2x2/s1 pool pads one row and column)"
    elif o.get("fused_activation_function", "NONE") != "NONE":
        why = "pooling with a fused activation"
    elif (fh, sh) != (2, 1) and o.get("padding") == "SAME" and any(
            n % fh for n in _hw(base["shape_in"])[1:3]):
        why = "SAME padding beyond the KPU's pooling window"
    p = None
    if not why:
        p, why = _kpu_producer(ctx, op)
        if p is not None and ctx.fusable_after[p]["pool_block"]:
            p, why = None, ctx.fusable_after[p]["pool_block"]
        if p is not None:
            f = ctx.fusable_after[p]
            if f["w"] // sh < ctx.limits.min_hw or f["h"] // sh < ctx.limits.min_hw:
                p, why = None, f"pooled output below {ctx.limits.min_hw}x{ctx.limits.min_hw}"
    if p is None:
        return LayerPlacement(placement="CPU", kpu_bytes=0,
                              reason=f"{op.opcode} on the CPU: {why} (the KPU pools only fused into "
                                     "the non-depthwise KPU conv before it)", **base)
    f = ctx.fusable_after[p]
    f["pool_block"] = f"op {p}'s KPU pooling is taken by op {op.index}"
    conv = ctx.out[p]
    conv.kpu_bytes = kpu_bytes(f["wk"], f["hk"], f["cin"]) + kpu_bytes(f["w"] // sh, f["h"] // sh, f["cout"])
    return LayerPlacement(placement="none", kpu_bytes=0,
                          reason=f"fused into op {p}'s KPU pooling ({POOL_OPS[op.opcode]} {fh}x{fh} stride {sh})",
                          **base)


def _as_graph(src: Graph | str | Path | bytes) -> Graph:
    return src if isinstance(src, Graph) else read_tflite(src)


def place_model(graph_or_path: Graph | str | Path | bytes,
                limits: KpuLimits = KPU_LIMITS) -> list[LayerPlacement]:
    """One LayerPlacement per operator of the model, in execution order."""
    g = _as_graph(graph_or_path)
    ctx = _Ctx(g, limits)
    for op in g.operators:
        for t in op.outputs:
            ctx.producer[t] = op.index
        for t in op.inputs:
            if t >= 0:
                ctx.consumers.setdefault(t, []).append(op.index)
    for op in g.operators:
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            pl = _place_conv(ctx, op)
        elif op.opcode == "FULLY_CONNECTED":
            pl = _place_fc(ctx, op)
        elif op.opcode in FUSABLE_ACTIVATIONS:
            pl = _place_activation(ctx, op)
        elif op.opcode in POOL_OPS:
            pl = _place_pool(ctx, op)
        elif op.opcode in FREE_OPS:
            pl = LayerPlacement(op.index, op.opcode, _short(g.tensors[op.outputs[0]].name), "none",
                                f"{op.opcode}: changes the shape only (no compute)", 0,
                                ctx.shape(ctx.data_input(op)), ctx.shape(op.outputs[0]),
                                tensor=g.tensors[op.outputs[0]].name)
        else:
            x = ctx.data_input(op) if op.inputs else -1
            pl = LayerPlacement(op.index, op.opcode, _short(g.tensors[op.outputs[0]].name), "CPU",
                                f"{op.opcode}: no KPU implementation (runs on the RISC-V CPU)", 0,
                                ctx.shape(x) if x >= 0 else (), ctx.shape(op.outputs[0]),
                                tensor=g.tensors[op.outputs[0]].name)
        ctx.out[op.index] = pl
    # A PAD comes first as CPU; the conv it feeds re-places it as 'none' when it folds it.
    return [ctx.out[i] for i in range(len(g.operators))]


def kpu_summary(placements: list[LayerPlacement]) -> dict:
    """Layer counts per placement, share of MACs on the KPU, peak KPU RAM of one layer."""
    macs = sum(p.macs for p in placements)
    kpu_macs = sum(p.macs for p in placements if p.placement == "KPU")
    kpu = [p for p in placements if p.placement == "KPU"]
    return {
        "layers": len(placements),
        "kpu_layers": len(kpu),
        "kpu_partial_layers": sum(p.partial for p in kpu),
        "cpu_layers": sum(p.placement == "CPU" for p in placements),
        "free_layers": sum(p.placement == "none" for p in placements),
        "macs": macs,
        "kpu_macs": kpu_macs,
        "kpu_mac_share": kpu_macs / macs if macs else 0.0,
        "peak_kpu_bytes": max((p.kpu_bytes for p in kpu), default=0),
    }
