"""The image codec's design space and its hardware filter (real int8 conversion, C generator, KPU checker)."""
from __future__ import annotations

import pytest

from toolchain.codecs.image.nas_space import config_of, feasible, starfish_space


def test_the_papers_space_and_the_default_grid():
    assert starfish_space(step=1).size == 3 * 64 ** 3 == 786432
    s = starfish_space()
    assert s.size == 3 * 8 ** 3 and s.names == ["patches", "c1", "c2", "c3"]
    cfg = config_of({"patches": 16, "c1": 8, "c2": 16, "c3": 24})
    assert cfg.channels == (8, 16, 24) and cfg.patch_size == (56, 56) and cfg.latent_shape == (16, 7, 7, 4)
    with pytest.raises(ValueError, match="needs patches, c1, c2, c3"):
        config_of({"patches": 4, "c1": 8})
    with pytest.raises(ValueError, match="step"):
        starfish_space(step=0)


def test_filter_accepts_a_kpu_encoder_and_rejects_one_over_a_small_boards_ram():
    small = {"patches": 16, "c1": 8, "c2": 8, "c3": 8}
    ok = feasible(small, "k210")
    assert ok.ok, ok.reasons
    assert ok.kpu_share == 1.0 and 0 < ok.arena_bytes < 6 * 2 ** 20 and ok.weight_bytes > 0
    no = feasible(small, "msp430g2553")
    assert not no.ok and any("RAM" in r for r in no.reasons)
