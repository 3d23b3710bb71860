"""Render an int8 .tflite model as portable C99 (stage "generate-nn").

read_tflite -> lower (refuses what it cannot reproduce) -> plan_memory -> Jinja.
The output folder is self-contained: <name>.c/.h, the kernels the model uses,
their two headers, and tc_nn_model.h, which maps the model to the generic names
the test harnesses use. Only the board's tc_hal.h (tc_mul16) comes from outside.
"""
from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from .. import __version__, paths
from toolchain.nn.lower import Lowered, layer_of, lower
from toolchain.nn.plan import Plan, check_plan, plan_memory
from toolchain.nn.tflite_model import Graph, read_tflite

NN_TEMPLATES = paths.templates_dir() / "nn"
COMMON_FILES = ("tc_nn_kernels.h", "tc_nn_quant.h", "tc_nn_quant.c")
HARNESSES = {"vectors": "main_vectors.c", "sim": "main_sim_nn.c"}


@dataclass
class GeneratedNN:
    name: str
    out_dir: Path
    sources: list[Path]  # model + kernels (no harness)
    header: Path
    arena_bytes: int
    weight_bytes: int
    plan: Plan
    lowered: Lowered
    needs_float: bool
    input_bytes: list[int]
    output_bytes: list[int]
    input_offsets: list[int]  # byte offsets of the input/output tensors in the arena
    output_offsets: list[int]


def c_identifier(name: str) -> str:
    ident = re.sub(r"[^0-9a-zA-Z_]", "_", name).lower()
    return ident if ident and not ident[0].isdigit() else f"m_{ident}"


def _io(g: Graph, idx: tuple[int, ...], plan: Plan, sizes: dict[int, int]) -> list[dict]:
    out = []
    for i in idx:
        t = g.tensors[i]
        out.append(dict(index=i, bytes=sizes[i], offset=plan.offsets[i], dtype=t.dtype, shape=list(t.shape),
                        scale=float(t.quant.scale[0]) if t.quant is not None and len(t.quant.scale) else None,
                        zp=int(t.quant.zero_point[0]) if t.quant is not None and len(t.quant.scale) else None))
    return out


def plan_for(lw: Lowered) -> Plan:
    g = lw.graph
    writes: dict[int, int] = {}
    reads: dict[int, list[int]] = {}
    for k, s in enumerate(lw.steps):
        for t in s.writes:
            writes[t] = k
        for t in s.reads:
            reads.setdefault(t, []).append(k)
    plan = plan_memory(lw.activations, writes, reads, list(g.inputs), list(g.outputs), len(lw.steps), lw.aliases)
    check_plan(plan)
    return plan


_PLACEHOLDER = re.compile(r"\{(in|out)(\d+)\}")


def _bind(call: str, reads: list[int], writes: list[int], plan: Plan) -> str:
    def sub(m: re.Match) -> str:
        t = (reads if m.group(1) == "in" else writes)[int(m.group(2))]
        return f"tc_arena.bytes + {plan.offsets[t]}"

    return _PLACEHOLDER.sub(sub, call)


def generate_nn(model: str | Path | bytes, out_dir: Path, name: str | None = None, *,
                single_rounding: bool = False) -> GeneratedNN:
    """Write the C for `model` into out_dir. Raises UnsupportedModelError before writing anything."""
    raw = Path(model).read_bytes() if not isinstance(model, (bytes, bytearray)) else bytes(model)
    source = Path(model).name if not isinstance(model, (bytes, bytearray)) else "<bytes>"
    name = c_identifier(name or (Path(model).parent.name if source == "model.tflite" else Path(source).stem))
    g = read_tflite(raw)
    lw = lower(g, source)
    plan = plan_for(lw)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = []
    for s in lw.steps:
        outs = [g.tensors[i] for i in s.op.outputs if i >= 0]
        steps.append(dict(op=s.op, kind=s.kind, decls=s.decls, summary=s.summary,
                          layer=layer_of(outs[0]) if outs else "",
                          c_call=_bind(s.call, s.reads, s.writes, plan) + f"  /* {s.op.index}: {s.op.opcode} */"))
    per_channel = any(t.quant is not None and len(t.quant.scale) > 1 for t in g.tensors if t.data is not None)
    inputs = _io(g, g.inputs, plan, lw.activations)
    outputs = _io(g, g.outputs, plan, lw.activations)
    ctx = dict(name=name, NAME=name.upper(), guard=f"{name.upper()}_H", version=__version__, source=source,
               sha=hashlib.sha256(raw).hexdigest(), n_ops=len(g.operators),
               weight_quant="per channel" if per_channel else "per tensor", single_rounding=single_rounding,
               arena_bytes=plan.arena_bytes, weight_bytes=lw.weight_bytes, steps=steps,
               plan_lines=plan.describe([s.op.index for s in lw.steps]), inputs=inputs, outputs=outputs)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(NN_TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=False)
    header = out_dir / f"{name}.h"
    header.write_text(env.get_template("model.h.j2").render(**ctx))
    (out_dir / f"{name}.c").write_text(env.get_template("model.c.j2").render(**ctx))
    (out_dir / "tc_nn_model.h").write_text(_generic_header(name, inputs, outputs))
    (out_dir / "tc_nn_config.h").write_text(_config_header(name, lw.needs_float, single_rounding))
    kernels = sorted({s.kernel_file for s in lw.steps if s.kernel_file})
    for f in (*COMMON_FILES, *kernels):
        shutil.copyfile(NN_TEMPLATES / f, out_dir / f)
    return GeneratedNN(name, out_dir, [out_dir / f"{name}.c", out_dir / "tc_nn_quant.c", *(out_dir / k for k in kernels)], header,
                       plan.arena_bytes, lw.weight_bytes, plan, lw, lw.needs_float,
                       [t["bytes"] for t in inputs], [t["bytes"] for t in outputs],
                       [t["offset"] for t in inputs], [t["offset"] for t in outputs])


def _config_header(name: str, needs_float: bool, single_rounding: bool) -> str:
    lines = [f"/* Kernel configuration for '{name}' (generated). */", "#ifndef TC_NN_CONFIG_H", "#define TC_NN_CONFIG_H",
             "/* float32 model inputs/outputs (QUANTIZE/DEQUANTIZE): needs float support */" if needs_float else
             "/* int8 in, int8 out: no floating point anywhere */",
             *(["#define TC_NN_FLOAT 1"] if needs_float else []),
             *(["#define TC_NN_SINGLE_ROUNDING 1"] if single_rounding else []), "#endif", ""]
    return "\n".join(lines)


def _generic_header(name: str, inputs: list[dict], outputs: list[dict]) -> str:
    """tc_nn_model.h: the harnesses' view of whichever model was generated."""
    ins = ", ".join(str(t["bytes"]) for t in inputs)
    outs = ", ".join(str(t["bytes"]) for t in outputs)
    # 16 bits where every size fits (the MSP430's native word), else 32 (a 224x224 RGB input is 150528 B)
    size_type = "uint16_t" if max(t["bytes"] for t in [*inputs, *outputs]) <= 0xFFFF else "uint32_t"
    lines = [
        f"/* Generic names for the generated model '{name}', used by the tinycodec test harnesses. */",
        "#ifndef TC_NN_MODEL_H", "#define TC_NN_MODEL_H", "", "#include <stdint.h>", "",
        f'#include "{name}.h"', "",
        f"#define TC_NN_NUM_INPUTS {len(inputs)}", f"#define TC_NN_NUM_OUTPUTS {len(outputs)}",
        f"#define TC_NN_INPUT_TOTAL {sum(t['bytes'] for t in inputs)}",
        f"#define TC_NN_OUTPUT_TOTAL {sum(t['bytes'] for t in outputs)}",
        f"#define TC_NN_INPUT(i) {name}_input(i)", f"#define TC_NN_OUTPUT(i) {name}_output(i)",
        f"#define TC_NN_INVOKE() {name}_invoke()",
        f"static const {size_type} tc_nn_input_bytes[{len(inputs)}] = {{{ins}}};",
        f"static const {size_type} tc_nn_output_bytes[{len(outputs)}] = {{{outs}}};", "", "#endif", "",
    ]
    return "\n".join(lines)


def write_vectors(out_dir: Path, vectors: list[bytes]) -> Path:
    """tc_nn_vectors.h: the input vectors main_vectors.c runs, embedded in the image."""
    data = b"".join(vectors)
    rows = [", ".join(f"0x{b:02x}" for b in data[i:i + 16]) for i in range(0, len(data), 16)] or ["0"]
    body = ",\n    ".join(rows)
    text = (f"/* {len(vectors)} input vectors for main_vectors.c. */\n#ifndef TC_NN_VECTORS_H\n#define TC_NN_VECTORS_H\n\n"
            f"#include <stdint.h>\n\n#define TC_NN_VECTORS_N {len(vectors)}u\n"
            f"static const uint8_t tc_nn_vectors[{max(len(data), 1)}] = {{\n    {body}\n}};\n\n#endif\n")
    p = Path(out_dir) / "tc_nn_vectors.h"
    p.write_text(text)
    return p


def copy_harness(out_dir: Path, kind: str) -> Path:
    src = NN_TEMPLATES / HARNESSES[kind]
    dst = Path(out_dir) / src.name
    shutil.copyfile(src, dst)
    return dst


def parse_vector_output(text: str, n: int, out_bytes: int) -> tuple[list[bytes], list[int | None]]:
    """Parse main_vectors.c's console output into per-vector output bytes and counter ticks."""
    outs: list[bytes | None] = [None] * n
    counts: list[int | None] = [None] * n
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) == 3 and parts[0] == "out":
            outs[int(parts[1])] = bytes.fromhex(parts[2])
        elif len(parts) == 3 and parts[0] == "cnt":
            counts[int(parts[1])] = int(parts[2])
    if "done" not in text.split():
        raise RuntimeError(f"harness did not finish; output tail:\n{text[-1500:]}")
    missing = [k for k, o in enumerate(outs) if o is None or len(o) != out_bytes]
    if missing:
        raise RuntimeError(f"harness output missing or short for vectors {missing[:10]}")
    return [o for o in outs if o is not None], counts


def as_vector(arrays: list[np.ndarray]) -> bytes:
    return b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
