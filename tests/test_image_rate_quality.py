"""Rate-quality rows of the image baselines on held-out images (real Pillow codecs, real files)."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from toolchain.codecs.image.rate_quality import (baseline_codec, efficiency_at_equal_quality, held_out, main,
                                          rate_quality_rows)


@pytest.fixture(scope="module")
def flowers():
    return held_out("flowers", limit=3)


def test_rows_respect_the_budget_and_count_what_does_not_fit(flowers):
    rows = rate_quality_rows("flowers", "jpeg-optimized", baseline_codec("jpeg-optimized"), flowers, (400, 3000))
    small, big = rows
    assert small["images"] + small["images_over_budget"] == 3 and big["images"] == 3
    assert big["bytes"] <= 3000 and 0 < big["ms_ssim"] <= 1 and big["psnr"] > 15
    assert big["bpp"] == pytest.approx(8 * big["bytes"] / (224 * 224))
    if small["images_over_budget"]:
        assert "cannot be coded within 400 B" in small["note"]
    paper = rate_quality_rows("flowers", "jpeg-paper", baseline_codec("jpeg-paper"), flowers, (1000,))[0]
    assert paper["images"] == 0 and paper["images_over_budget"] == 3   # 4:4:4 floor ~2.3 kB


def test_efficiency_at_equal_ms_ssim_reads_the_reference_curve():
    rows = [{"dataset": "d", "method": "ref", "bytes": b, "ms_ssim": s} for b, s in ((1000, .80), (2000, .90), (4000, .95))]
    rows += [{"dataset": "d", "method": "new", "bytes": 1000, "ms_ssim": .90},
             {"dataset": "d", "method": "new", "bytes": 500, "ms_ssim": .70}]   # outside the reference's range
    (e,) = efficiency_at_equal_quality(rows, "new", "ref", "d")
    assert e["reference_bytes"] == pytest.approx(2000) and e["efficiency"] == pytest.approx(2.0)
    rows.append({"dataset": "d", "method": "new", "bytes": 1000, "ms_ssim": .85})
    e = efficiency_at_equal_quality(rows, "new", "ref", "d")
    assert e[0]["reference_bytes"] == pytest.approx(np.sqrt(1000 * 2000))   # log-bytes interpolation


def test_cli_writes_csv_and_png(tmp_path):
    out = tmp_path / "rq.csv"
    assert main(["--datasets", "kodak", "--methods", "webp", "--budgets", "2000", "--limit", "2", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert [(r["dataset"], r["method"], r["budget"]) for r in rows] == [("kodak", "webp", "2000")]
    assert float(rows[0]["bytes"]) <= 2000 and out.with_suffix(".png").stat().st_size > 1000
