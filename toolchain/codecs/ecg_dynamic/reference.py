"""The device's integer path in Python: the bit-exact twin of firmware_templates/ecg_dynamic/tc_ecg_dynamic.c.

Per segment (docs/ecg_dynamic.md): clamp and impute, flag, mean, the int8 input of the encoder,
the encoder network through TFLite Micro's interpreter (what the generated C equals byte for byte),
the level from the predicted task errors and the session's `eps` field, and the record
(bitstream.encode_segment). Integers only from the model's constants on: in_mult and err_mult are
the two numbers computed (once, in float) from the model's scales, and the C gets them as constants.
"""
from __future__ import annotations

import numpy as np

from . import LOSSY_LEVELS, SEG_N
from .bitstream import MAX_LATENT_BITS, clamp_and_impute, encode_segment, flags_of, segment_mean
from .deployed import DynamicModel
from .model import LATENT_LEN, N_PRED

TASK_SHIFT = 12
BOUND_MASK = (1 << TASK_SHIFT) - 1
N_SELECT_TASKS = N_PRED          # tasks 0..3 select by prediction (beat, rpeak, rhythm, weighted)
FORCED_TASK = 4                  # tasks 4..7 force level task - 4
N_TASK_CODES = FORCED_TASK + 4
N_IMPUTED_MAX = 255              # the harness record's imputed count is a u8


def parse_eps(eps: int) -> tuple[int, int]:
    """eps (u16) -> (task, bound_milli); task 8..15 is refused (the device sends 0 bits)."""
    eps = int(eps)
    if not 0 <= eps <= 0xFFFF:
        raise ValueError(f"eps is a u16, got {eps}")
    task, bound = eps >> TASK_SHIFT, eps & BOUND_MASK
    if task >= N_TASK_CODES:
        raise ValueError(f"eps {eps:#06x}: task {task} is not 0..{N_TASK_CODES - 1} (the device refuses it)")
    return task, bound


def make_eps(task: int, bound_milli: int = 0) -> int:
    if not 0 <= task < N_TASK_CODES or not 0 <= bound_milli <= BOUND_MASK:
        raise ValueError(f"task 0..{N_TASK_CODES - 1} and bound 0..{BOUND_MASK} thousandths, "
                         f"got {task}, {bound_milli}")
    return (task << TASK_SHIFT) | bound_milli


def err_mults(dm: DynamicModel) -> list[int]:
    """Per selecting task t: round(65536 * pred_scale[t] / (1000 s_e)), thousandths of the bound ->
    the errors output's int8 steps of that task's (scaled) prediction, Q16."""
    return [int(round(65536.0 * s / (1000.0 * dm.outputs["errors"].scale))) for s in dm.pred_scale]


def err_mult(dm: DynamicModel, task: int = 0) -> int:
    return err_mults(dm)[task]


def threshold_q(dm: DynamicModel, task: int, bound_milli: int) -> int:
    """zp_e + floor(bound_milli * err_mult[task] / 65536): a prediction q passes when q <= it."""
    return dm.outputs["errors"].zero_point + ((int(bound_milli) * err_mult(dm, task)) >> 16)


def thresholds(dm: DynamicModel, eps: int) -> int:
    """The int8 threshold the predictions of eps's task are compared with (a prediction q passes
    when q <= t). Integer only (64-bit product in the C). Forced tasks (4..7) get task 0's."""
    task, bound = parse_eps(eps)
    return threshold_q(dm, task if task < N_SELECT_TASKS else 0, bound)


def quantize_input(dm: DynamicModel, values: np.ndarray, mean: int) -> np.ndarray:
    """q = clamp(zp_in + (((x - m) * in_mult + 32768) >> 16), -128, 127) (arithmetic shift)."""
    x = np.asarray(values, np.int64)
    q = dm.input_q.zero_point + (((x - int(mean)) * dm.in_mult + 32768) >> 16)
    return np.clip(q, -128, 127).astype(np.int8)


def front_end(dm: DynamicModel, x: np.ndarray) -> tuple[np.ndarray, int, int, np.ndarray]:
    """(x clamped and imputed int64, n_imputed, mean, encoder input q_in int8 (2048,))."""
    v, miss = clamp_and_impute(x)
    m = segment_mean(v)
    return v, int(miss.sum()), m, quantize_input(dm, v, m)


def encoder_outputs(dm: DynamicModel, q_in_batch: np.ndarray) -> dict[str, np.ndarray]:
    """The int8 encoder network on int8 inputs (S, 2048) through TFLite Micro's interpreter:
    {"z1": (S, 128), "z2": (S, 64), "z3": (S, 32), "errors": (S, 12)} int8."""
    from ...nn.tflm_reference import run_tflm_all
    q = np.asarray(q_in_batch, np.int8).reshape(-1, SEG_N)
    outs = run_tflm_all(dm.encoder_tflite, [qi.reshape(1, SEG_N, 1) for qi in q])
    res: dict[str, np.ndarray] = {}
    for k, name in enumerate(dm.output_order):
        want = int(np.prod(dm.outputs[name].shape))
        got = [np.asarray(o[k]).reshape(-1) for o in outs]
        if any(g.size != want for g in got):
            raise ValueError(f"encoder output {k} ({name}) has {got[0].size} values, codec.json says {want}")
        res[name] = np.stack(got).astype(np.int8) if got else np.zeros((0, want), np.int8)
    return res


def select_level(dm: DynamicModel, errors_q: np.ndarray, eps: int) -> int:
    """The level the device picks from the int8 predictions errors_q (12,): tasks 0..3 the highest
    CG whose prediction q = errors[4 (l - 1) + task] passes the threshold, else 0; tasks 4..7 force
    level task - 4. Flags are not looked at here (they force level 0 in the record)."""
    task, _ = parse_eps(eps)
    if task >= FORCED_TASK:
        return task - FORCED_TASK
    t = thresholds(dm, eps)
    e = np.asarray(errors_q).ravel()
    for level in sorted(LOSSY_LEVELS, reverse=True):
        if int(e[N_PRED * (level - 1) + task]) <= t:
            return level
    return 0


def select_levels(errors_q: np.ndarray, threshold_q: int, task: int) -> np.ndarray:
    """select_level's rule on many segments' int8 errors (S, 12) at one threshold: for l = 3, 2, 1
    the first whose errors[4 (l - 1) + task] <= threshold_q, else 0 (lossless)."""
    e = np.asarray(errors_q, np.int64)
    lv = np.zeros(len(e), np.int64)
    for level in sorted(LOSSY_LEVELS):     # ascending: a higher level that passes overwrites
        lv[e[:, N_PRED * (level - 1) + task] <= threshold_q] = level
    return lv


def encode(dm: DynamicModel, X: np.ndarray, eps: int, latent_bits: int) -> list[tuple[bytes, int, int, int]]:
    """What tc_encode returns for each segment of X (S, 2048) int adu (TC_MISSING allowed):
    (bytes, nbits, n_imputed as the device reports it (saturated at 255), level sent).
    The network runs only where its output matters (flag 0 and not forced lossless), as on the device.
    Invalid eps or latent_bits raise ValueError (the device returns 0 bits)."""
    if not 1 <= int(latent_bits) <= MAX_LATENT_BITS:
        raise ValueError(f"latent_bits must be 1..{MAX_LATENT_BITS}, got {latent_bits}")
    task, _ = parse_eps(eps)
    X = np.atleast_2d(np.asarray(X)).astype(np.int64)
    fronts = [front_end(dm, x) for x in X]
    flags = [flags_of(x) for x in X]
    forced_lossless = task == FORCED_TASK
    need = [i for i, f in enumerate(flags) if f == 0 and not forced_lossless]
    outs = encoder_outputs(dm, np.stack([fronts[i][3] for i in need])) if need else {}
    row = {i: j for j, i in enumerate(need)}
    res = []
    for i, x in enumerate(X):
        level, z = 0, None
        if i in row:
            level = select_level(dm, outs["errors"][row[i]], eps)
            if level:
                z = outs[f"z{level}"][row[i]]
                assert z.size == LATENT_LEN[level]
        data, nbits = encode_segment(x, level, z, latent_bits)
        res.append((data, nbits, min(fronts[i][1], N_IMPUTED_MAX), level if flags[i] == 0 else 0))
    return res
