"""Task-aware multi-level ECG codec (Dynamic-Deep, ../shared/papers/000_157d9305776a23c9.txt).

One convolutional encoder trunk, one head per compression level (CG 16, 32, 64 in samples), a
predictor head per level estimating the downstream tasks' errors from the code, and a lossless
fallback. The wearable picks, per 2048-sample segment, the highest CG whose predicted error is
under the configured bound.

Modules: segments (MIT-BIH / CinC segments and their labels), tasks (the frozen downstream
models and their per-segment losses), model (Keras architecture), train (the paper's three
phases), bitstream (what a segment costs on the air: level id, flags, latent bits, lossless
coding), reference (the device's integer selection, the Python twin of the C), device (C for
the families, the kmodel), evaluate / bench (DS2 sweeps, oracles, baselines), cost (cloud cost).
"""
from __future__ import annotations

SEG_N = 2048            # samples per segment (5.69 s at 360 Hz): see segments.py for why
FS = 360.0
ADC_BITS = 11
ADU_PER_MV = 200.0
# level id on the air -> compression gain in samples (latent length = SEG_N // CG); 0 = lossless
LEVEL_CG = {0: 1, 1: 16, 2: 32, 3: 64}
LOSSY_LEVELS = (1, 2, 3)
TASKS = ("beat", "rpeak", "rhythm")   # per-task predicted errors, then their weighted sum
