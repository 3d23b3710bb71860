"""Render the codec firmware (firmware_templates/) for one model and board."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import jinja2

from .. import __version__, paths
from ..quant.fixed_point import SIG_TABLE, FixedModel

TEMPLATES = paths.templates_dir()
CODEC_SOURCES = ("tc_codec.c",)
MAX_LATENT_BITS = 14  # tc_codec.h TC_MAX_LATENT_BITS
HARNESS = {"native": "main_native.c", "sim": "main_sim.c", "uart": "main_uart.c"}


def worst_case_bits(m: FixedModel) -> int:
    """Largest window the encoder can emit: flag + bitmap + mean + latent + residual block
    (the cheapest mode is never dearer than dense Rice with k = 15; |q| < 2^17 gives <= 19 bits)."""
    return 1 + m.n + m.word_bits + m.m * MAX_LATENT_BITS + 6 + 19 * m.n


def model_hash(m: FixedModel) -> str:
    return hashlib.sha256(json.dumps(m.to_dict(), sort_keys=True).encode()).hexdigest()


def render_codec(m: FixedModel, board: str, out_dir: Path, harness: str) -> list[Path]:
    """Write tc_model.h, the codec and the harness into out_dir; returns the .c files."""
    if harness not in HARNESS:
        raise ValueError(f"unknown harness {harness!r}; choose one of {sorted(HARNESS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    bits = worst_case_bits(m)
    text = env.get_template("tc_model.h.j2").render(
        m=m, version=__version__, board=board, model_hash=model_hash(m),
        out_bits=bits, out_bytes=(bits + 7) // 8, sig=SIG_TABLE.tolist())
    (out_dir / "tc_model.h").write_text(text)
    for name in ("tc_codec.h", *CODEC_SOURCES, HARNESS[harness]):
        shutil.copyfile(TEMPLATES / name, out_dir / name)
    return [out_dir / n for n in (*CODEC_SOURCES, HARNESS[harness])]
