"""The committed golden example: generated C for one model plus named test vectors from the Python
reference, so a C-only build (CMake/ctest) checks the codec without Python, and CI can diff a
regenerated copy against the committed one.

    python -m toolchain.codecs.golden            # rewrite tests/golden/
    python -m toolchain.codecs.golden --check    # exit 1 if tests/golden/ is stale
"""
from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import REPO_ROOT
from ..codecs import ae_codec
from ..quant.fixed_point import FixedModel
from toolchain.codecs.c_render import render_codec

GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
GOLDEN_MODEL = "gsb-temporal"
SESSIONS = ((0, 0), (10, 0), (10, 4), (50, 6))  # (eps, mean_shift)


def _vectors(fm: FixedModel) -> str:
    from ..train.datasets import prepare
    test = prepare(fm.name).test
    idx = np.linspace(0, len(test) - 1, 8).round().astype(int)
    X = test[idx].copy()
    X[1, 3] = ae_codec.MISSING     # a missing reading, imputed on the device
    X[2, 0] = 30000                # beyond the sensor's range: residual path
    lines = ["/* AUTOMATICALLY GENERATED - DO NOT EDIT. Regenerate: python -m toolchain.codecs.golden",
             f" * Test vectors for model {fm.name}: held-out test windows (rows {idx.tolist()}) and the",
             " * bytes the Python reference (toolchain/codecs/ae_codec.py) emits for them. */",
             "#ifndef TC_VECTORS_H", "#define TC_VECTORS_H", "#include <stdint.h>", "",
             f"#define TC_NVEC {len(X) * len(SESSIONS)}", "",
             "typedef struct {", "    uint16_t eps;", "    uint8_t latent_bits;", "    uint8_t mean_shift;", "    int16_t x[TC_N];",
             "    uint16_t nbits;", "    uint8_t imputed;", "    uint8_t bytes[TC_OUT_BYTES];", "} tc_vector_t;", "",
             "static const tc_vector_t TC_VECTORS[TC_NVEC] = {"]
    for eps, t in SESSIONS:
        b = ae_codec.encode_batch(fm, X, eps, mean_shift=t)
        for i, x in enumerate(X):
            data, nbits = ae_codec.pack(fm, b, i)
            lines.append(f"    /* window {idx[i]}, eps = {eps}, mean_shift = {t} */")
            lines.append(f"    {{ {eps}, {fm.latent_bits}, {t}, {{ {', '.join(map(str, x))} }},")
            lines.append(f"      {nbits}, {int(b.missing[i].sum())}, {{ {', '.join(f'0x{v:02x}' for v in data)} }} }},")
    lines += ["};", "", "#endif", ""]
    return "\n".join(lines)


def write_golden(out: Path) -> list[Path]:
    from ..pipeline import get_model
    fm = get_model(GOLDEN_MODEL)
    out.mkdir(parents=True, exist_ok=True)
    render_codec(fm, "native", out, "native")
    (out / "main_native.c").unlink()  # the golden test brings its own main
    (out / "tc_vectors.h").write_text(_vectors(fm))
    return sorted(out.iterdir())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    if not args.check:
        for p in write_golden(GOLDEN_DIR):
            print(f"wrote {p.relative_to(REPO_ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as d:
        fresh = write_golden(Path(d))
        stale = [p.name for p in fresh if not (GOLDEN_DIR / p.name).exists()
                 or not filecmp.cmp(p, GOLDEN_DIR / p.name, shallow=False)]
    if stale:
        print(f"tests/golden is stale ({', '.join(stale)}): run python -m toolchain.codecs.golden")
        return 1
    print("tests/golden is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
