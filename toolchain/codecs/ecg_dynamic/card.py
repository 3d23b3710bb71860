"""Per-level footprint (parameters, weight flash, tensor arena) and the codec folder's model card.

A level's encoder is the trunk plus that level's branch and predictor head; each is converted on
its own (int8, same representative data) and planned by the int8 C generator, so its arena and
weight bytes are what a device running only that level would need. The deployed encoder computes
all three levels in one graph (the selection needs every prediction): its figures are the last row.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from . import LEVEL_CG, LOSSY_LEVELS, SEG_N

TRUNK = ("t1", "t2dw", "t2pw", "t3", "t4")
BRANCH = {1: ("z1", "p1_fc", "p1_out"), 2: ("l2a", "z2", "p2_fc", "p2_out"),
          3: ("l2a", "l3a", "z3", "p3_fc", "p3_out")}


def _params(model, names) -> int:
    return int(sum(model.get_layer(n).count_params() for n in names))


def level_footprints(enc, rep_x: np.ndarray, deployed_tflite: bytes) -> list[dict]:
    """Rows: level, CG, parameters, weight bytes, arena bytes (int8 C generator's plan)."""
    from ...nn.codegen import generate_nn
    from ...train.zoo.common import _keras, convert_int8
    keras = _keras()
    rows = []
    with tempfile.TemporaryDirectory() as td:
        for lv in LOSSY_LEVELS:
            x = keras.Input((SEG_N, 1), batch_size=1)
            # rebuild the path of this level by calling the trained layers in order
            h = x
            for n in TRUNK:
                h = enc.get_layer(n)(h)
            t = h
            if lv == 1:
                z = enc.get_layer("z1")(t)
            else:
                h2 = enc.get_layer("l2a")(t)
                z = enc.get_layer("z2")(h2) if lv == 2 else enc.get_layer("z3")(enc.get_layer("l3a")(h2))
            p = enc.get_layer(f"p{lv}_out")(enc.get_layer(f"p{lv}_fc")(enc.get_layer(f"p{lv}_flat")(z)))
            sub = keras.Model(x, [z, p])
            g = generate_nn(convert_int8(sub, rep_x[..., None]), Path(td) / f"l{lv}", name=f"ecg_level{lv}")
            rows.append({"level": lv, "cg": LEVEL_CG[lv], "parameters": _params(enc, TRUNK + BRANCH[lv]),
                         "weight_bytes": g.weight_bytes, "arena_bytes": g.arena_bytes})
        g = generate_nn(deployed_tflite, Path(td) / "all", name="ecg_dynamic_encoder")
        rows.append({"level": "all (deployed)", "cg": "16/32/64", "parameters": int(enc.count_params()),
                     "weight_bytes": g.weight_bytes, "arena_bytes": g.arena_bytes})
    return rows


def write_card(out: Path, dm, enc, decs, foot: list[dict], history: dict, val: dict, cfg, tasks_weights) -> Path:
    lines = [
        "# ecg-dynamic: task-aware multi-level ECG codec (Dynamic-Deep)", "",
        "Made by `tinycodec train-ecg` (toolchain/codecs/ecg_dynamic/train.py, export.py); spec of the bitstream "
        "and the device's integer conventions: docs/ecg_dynamic.md.", "",
        "## What it is",
        f"- segments of {SEG_N} MIT-BIH MLII samples (360 Hz, 11-bit) -> levels CG 16 / 32 / 64 (latent 128 / 64 / 32 "
        f"values of {dm.latent_bits} bits) or lossless (delta + Rice);",
        "- encoder trunk shared by the levels, level 3 reuses level 2's stride-2 layer; a predictor head per level "
        "estimates the beat CCE, R-peak BCE, rhythm CCE and their weighted sum L_w from the code;",
        "- decoders: a small adapter per level into one shared decoder (host side, int8).",
        f"- int8 encoder input scale {dm.input_q.scale:.6g} mV/LSB, zero point {dm.input_q.zero_point} "
        f"(in_mult {dm.in_mult}); errors output scale {dm.outputs['errors'].scale:.6g}, zero point "
        f"{dm.outputs['errors'].zero_point}.", "",
        "## Footprint per level (int8 C generator: weights in flash, tensor arena in RAM)", "",
        "| level | CG | parameters | weight bytes | arena bytes |", "|---|---|---|---|---|",
        *[f"| {r['level']} | {r['cg']} | {r['parameters']} | {r['weight_bytes']} | {r['arena_bytes']} |" for r in foot],
        "", f"Decoder parameters (host): " + ", ".join(f"level {lv}: {decs[lv].count_params()}" for lv in LOSSY_LEVELS),
        "", "## Data and training",
        f"- training: DS1 records {dm.meta.get('records', {}).get('train')}; validation: DS1 records "
        f"{dm.meta.get('records', {}).get('val')}; DS2 never seen (evaluation: `make bench-ecg`).",
        f"- phase 1 (reconstruction, MSE x100 on mean-removed mV, all levels alike): {cfg.epochs1} epochs, Adam "
        f"{cfg.lr1} cosine, batch {cfg.batch}, {history.get('seconds', {}).get('phase1', 0):.0f} s;",
        f"- phase 2 (L_c = w0 L_R + L_w, w0 = {cfg.w0}, frozen tasks, weights {tasks_weights}; DS1 segments with all "
        f"tasks + {cfg.cinc_per_step} CinC training segments per batch, rhythm only): {cfg.epochs2} epochs, Adam "
        f"{cfg.lr2} cosine, {history.get('seconds', {}).get('phase2', 0):.0f} s;",
        f"- phase 3 (predictor heads only, MSE to the real per-segment errors of the deployed int8 path, each task "
        f"scaled by pred_scale {list(dm.pred_scale)} so that all share the int8 output): {cfg.epochs3} epochs, Adam "
        f"{cfg.lr3} cosine, {history.get('seconds', {}).get('phase3', 0):.0f} s, on the DS1 training *and* validation "
        f"records pooled (the frozen tasks were trained on the training records, so their errors there are "
        f"optimistic; the validation records are the only DS1 patients they never saw);",
        f"- seed {cfg.seed}; curves: curves.png, history.json.", "",
        "## Validation (DS1 validation records, deployed int8 path)", "",
        "The PRDN figures are held out; the predictor figures are not (the validation records are in phase 3's "
        "pool): the held-out test of the predictors is DS2's violation rate in results/ecg_dynamic.csv.", "",
        *[f"- {k}: {v}" for k, v in val.items()], "",
        "Figures on DS2: results/ecg_dynamic.csv (`make bench-ecg`).", ""]
    p = out / "README.md"
    p.write_text("\n".join(lines))
    return p
