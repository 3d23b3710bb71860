"""The image codec's NAS design space (Starfish Table 3) and its hardware filter on a board.

The paper searches patches (1, 4 or 16) x the channels of three encoder stages (1..64 each):
3 x 64^3 = 786432 configurations. `starfish_space(step)` is that space with channels on a grid of
`step` (step 1: the paper's; the default 8 gives 3 x 8^3 = 1536, a size a 2-core machine can
filter). `feasible(params, board)` builds the candidate's encoder (toolchain.codecs.image.codec_model,
batch 1, untrained) and runs the NAS feasibility filter on it (toolchain.train.nas.feasibility:
int8 conversion, the int8 C generator's arena and weights against the board, the KPU checker's
share of layers on the KPU).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .codec_model import MAX_CHANNELS, CodecConfig

PATCHES = (1, 4, 16)
STAGES = 3


def starfish_space(step: int = 8, max_channels: int = 64):
    """patches x c1 x c2 x c3, channels step, 2 * step, ..., max_channels (step 1: 1..64)."""
    from ...train.nas.space import Space
    if not 1 <= step <= max_channels <= MAX_CHANNELS:
        raise ValueError(f"step {step} and max_channels {max_channels}: 1 <= step <= max_channels <= {MAX_CHANNELS}")
    ch = tuple(range(step, max_channels + 1, step))
    return Space.of(patches=PATCHES, **{f"c{i}": ch for i in range(1, STAGES + 1)})


def config_of(params: dict, latent_channels: int = 4, bins: int = 16, drop_rate: float = 0.0,
              image_size: tuple[int, int] = (224, 224)) -> CodecConfig:
    """A design point ({patches, c1, c2, c3}) as a codec config."""
    try:
        ch = tuple(int(params[f"c{i}"]) for i in range(1, STAGES + 1))
        return CodecConfig(patches=int(params["patches"]), layers=STAGES, channels=ch, latent_channels=latent_channels,
                           bins=bins, drop_rate=drop_rate, image_size=image_size)
    except KeyError as e:
        raise ValueError(f"design point {params}: no {e.args[0]!r} (needs patches, c1, c2, c3)") from None


def feasible(params: dict, board: str = "k210", *, latent_channels: int = 4, n_rep: int = 2,
             work_dir: Path | None = None, seed: int = 0, nncase: bool = False, **budget_kw):
    """The feasibility of one design point's encoder on `board` (Feasibility: ok, reasons, sizes)."""
    from ...train.nas.feasibility import Budget, check
    from .codec_model import build_encoder
    cfg = config_of(params, latent_channels)
    rep = np.random.default_rng(seed).random((n_rep, *cfg.patch_size, 3), dtype=np.float32)
    return check(lambda: build_encoder(cfg, batch_size=1), rep, Budget.from_board(board, **budget_kw),
                 work_dir=work_dir, nncase=nncase)
