"""A short model card next to every committed model."""
from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from ..codecs import ae_codec
from ..quant.fixed_point import FixedModel
from .autoencoder import FloatAE
from .datasets import Prepared


def write_card(fm: FixedModel, prep: Prepared, ae: FloatAE, path: Path) -> None:
    spec = prep.spec
    rows = []
    for eps in spec.eps:
        b = ae_codec.encode_batch(fm, prep.val, eps)
        cr = prep.val.size * fm.word_bits / b.bits.sum()
        rmse = float(np.sqrt(np.mean((b.x_rec - prep.val) ** 2))) * prep.quantum
        rows.append(f"| {eps} ({eps * prep.quantum:g} {prep.unit}) | {cr:.2f} | {rmse:.4g} {prep.unit} |")
    notes = "; ".join(f"{k}: {v}" for k, v in prep.notes.items())
    text = f"""# Model card: {fm.name}

Error-bounded autoencoder codec (Alsheikh et al., rate-distortion balanced compression for WSNs),
integer model for microcontrollers. Made by `tinycodec train --model {fm.name} --save` on
{datetime.date.today().isoformat()}.

| | |
|---|---|
| data | {prep.dataset}, {prep.signal} in {prep.unit}, quantum {prep.quantum:g} {prep.unit}, native word {prep.word_bits} bits |
| mode | {fm.mode}, n = {fm.n} readings per window |
| network | {fm.n} -> {fm.m} -> {fm.n}, sigmoid, variant `{fm.variant}`, L-BFGS {len(ae.curve)} iterations |
| sphering | window mean removed, clip at c = {fm.c} native units (3 sigma), scaled to [0.1, 0.9] |
| quantization | int16 weights Q{fm.f1} / Q{fm.f2}, int32 accumulators, Q15 activations, Q8 sigmoid table (257 points), default {fm.latent_bits} bits per latent unit |
| windows | {len(prep.train)} train / {len(prep.val)} validation / {len(prep.test)} test (chronological split; {notes}) |
| final validation RMSE | {ae.curve[-1].get('val_rmse', float('nan')):.4f} (sphered units) |

Validation windows, default latent bits, every reading within eps:

| eps | CR | RMSE |
|---|---|---|
{chr(10).join(rows)}

Intended use: on-node compression of {prep.signal} for the deployment it was trained on. The bound
holds for any input (the residual path), but the compression ratio degrades on data unlike the
training days (sensor faults, other sites). Training curve: `curve.png`, `curve.csv`.
"""
    path.write_text(text)
