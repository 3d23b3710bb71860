"""ECG dynamic codec, device path: the segment bitstream (round trips for every flag and level, errors
on malformed records), the integer selection, and the C (firmware_templates/ecg_dynamic/) bit-exact
with the Python reference on the host and on a QEMU twin.

The model: models/ecg-dynamic when it is there, else the development folder build/ecg-dynamic-dev,
else an untrained folder made here (devmodel.make_dev_model): bit-exactness holds for any weights."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import toolchain
from toolchain.codecs.bitstream import BitstreamError, BitWriter, zigzag
from toolchain.codecs.ecg_dynamic import LOSSY_LEVELS, SEG_N
from toolchain.codecs.ecg_dynamic import bitstream as bs
from toolchain.codecs.ecg_dynamic import reference as ref
from toolchain.codecs.ecg_dynamic.deployed import load_dynamic
from toolchain.codecs.ecg_dynamic.model import LATENT_LEN, N_PRED

MISSING = bs.TC_MISSING
FORCED = [ref.make_eps(t) for t in (4, 5, 6, 7)]   # lossless, CG 16, 32, 64


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    for root in (toolchain.REPO_ROOT / "models" / "ecg-dynamic", toolchain.REPO_ROOT / "build" / "ecg-dynamic-dev"):
        if (root / "codec.json").is_file():
            return load_dynamic(root)
    from toolchain.codecs.ecg_dynamic.devmodel import make_dev_model
    return make_dev_model(tmp_path_factory.mktemp("ecg-dynamic-dev"))


def ds2_segments(n: int) -> np.ndarray:
    """n segments evenly spaced over all DS2 (test) records, int64 adu."""
    from toolchain.codecs.ecg_dynamic.segments import record_segments
    from toolchain.data import mitdb_split
    X = np.concatenate([record_segments(r).x for r in mitdb_split()["test"]])
    return X[np.linspace(0, len(X) - 1, n).round().astype(int)].astype(np.int64)


def special_segments() -> dict[str, np.ndarray]:
    """One segment per edge case of the front end and the flags."""
    rng = np.random.default_rng(7)
    base = (1024 + 60 * np.sin(np.arange(SEG_N) / 9.0) + rng.integers(-3, 4, SEG_N)).astype(np.int64)
    s = {"clean": base.copy(), "all_missing": np.full(SEG_N, MISSING, np.int64), "flat": np.full(SEG_N, 977, np.int64),
         "flat_low": np.zeros(SEG_N, np.int64), "flat_high": np.full(SEG_N, 2047, np.int64)}
    x = base.copy(); x[1000] = MISSING; s["one_nan"] = x
    x = base.copy(); x[:37] = MISSING; s["leading_missing"] = x
    x = base.copy(); x[-5:] = MISSING; x[300:340] = MISSING; s["runs_missing"] = x
    x = base.copy(); x[::2] = MISSING; s["every_other_missing"] = x
    x = np.full(SEG_N, MISSING, np.int64); x[2047] = 12; s["one_present"] = x
    x = base.copy(); x[500] = 2047; s["saturated_high"] = x
    x = base.copy(); x[9] = 0; s["saturated_low"] = x
    x = base.copy(); x[40] = 3000; x[41] = -7; s["out_of_range"] = x
    x = np.full(SEG_N, 1500, np.int64); x[3] = MISSING; s["flat_with_missing"] = x
    s["full_swing"] = np.where(np.arange(SEG_N) % 2, 2047, 0).astype(np.int64)   # the worst case's deltas
    return s


# ---------------------------------------------------------------- bitstream


def test_flags_and_front_end():
    s = special_segments()
    want = {"clean": 0, "all_missing": 3, "flat": 1, "flat_low": 1, "flat_high": 1, "one_nan": 3,
            "leading_missing": 3, "runs_missing": 3, "every_other_missing": 3, "one_present": 3,
            "saturated_high": 2, "saturated_low": 2, "out_of_range": 2, "flat_with_missing": 3, "full_swing": 2}
    assert {k: bs.flags_of(x) for k, x in s.items()} == want
    v, miss = bs.clamp_and_impute(s["leading_missing"])
    assert miss.sum() == 37 and (v[:37] == s["leading_missing"][37]).all()
    v, miss = bs.clamp_and_impute(s["runs_missing"])
    assert (v[300:340] == s["runs_missing"][299]).all() and (v[-5:] == s["runs_missing"][-6]).all()
    v, _ = bs.clamp_and_impute(s["all_missing"])
    assert (v == 1024).all()
    v, _ = bs.clamp_and_impute(s["one_present"])
    assert (v == 12).all()
    v, _ = bs.clamp_and_impute(s["out_of_range"])
    assert v[40] == 2047 and v[41] == 0


def _bitwriter_lossless(x: np.ndarray) -> tuple[bytes, int]:
    """Level 0, flag 0 by the generic BitWriter: an independent writer of the same layout."""
    d = zigzag(np.diff(x))
    costs = [int(((d >> k) + 1 + k).sum()) for k in range(16)]
    k = int(np.argmin(costs))
    w = BitWriter()
    w.write(0, 2); w.write(0, 2); w.write(int(x[0]), 11); w.write(k, 4)
    for u in d:
        w.write_rice(int(u), k)
    return w.to_bytes(), w.nbits


def test_round_trip_every_flag_and_level(dm):
    B = dm.latent_bits
    rng = np.random.default_rng(3)
    for name, x in special_segments().items():
        flag = bs.flags_of(x)
        for level in (0, *LOSSY_LEVELS):
            z = rng.integers(-128, 128, LATENT_LEN[level]).astype(np.int8) if level else None
            data, nbits = bs.encode_segment(x, level, z, B)
            assert len(data) == (nbits + 7) // 8 and nbits <= bs.WORST_CASE_BITS
            p = bs.parse_segment(data, nbits, B)
            v, miss = bs.clamp_and_impute(x)
            assert p.flag == flag and (p.missing == miss).all(), name
            if flag or level == 0:
                assert p.level == 0 and (p.values == v).all(), (name, level)
                if flag == 1:
                    assert nbits == 4 + 11
                if name == "all_missing":
                    assert nbits == 4 + SEG_N
            else:
                assert p.level == level and p.mean == bs.segment_mean(v)
                assert nbits == 4 + 11 + LATENT_LEN[level] * B
                np.testing.assert_array_equal(p.u, bs.latent_u(z, B))
    from toolchain.codecs.ecg_dynamic.export import requantize_latent   # the training side's latent path
    q = np.arange(-128, 128).astype(np.int8)
    for b in range(1, 9):
        np.testing.assert_array_equal(bs.latent_q(bs.latent_u(q, b), b), requantize_latent(q, b))
    clean = special_segments()["clean"]
    assert bs.encode_segment(clean, 0, None, B) == _bitwriter_lossless(clean)
    full = special_segments()["full_swing"]
    assert bs.encode_segment(full, 0, None, B)[1] == 4 + 11 + 4 + 2047 * 13 < bs.WORST_CASE_BITS


def test_decode_segments_lossless_exact_and_lossy_in_range(dm):
    B = dm.latent_bits
    X = ds2_segments(6)
    items = [bs.encode_segment(x, 0, None, B) for x in X]
    zs = ref.encoder_outputs(dm, np.stack([ref.front_end(dm, x)[3] for x in X]))
    for lv in LOSSY_LEVELS:
        items += [bs.encode_segment(x, lv, zs[f"z{lv}"][i], B) for i, x in enumerate(X)]
    got = bs.decode_segments(dm, items, B)
    for d, x in zip(got[:6], X):
        assert d.level == 0 and (d.values == x).all() and not d.missing.any()
    for j, d in enumerate(got[6:]):
        lv, i = 1 + j // 6, j % 6
        assert d.level == lv and d.values.dtype == np.int64 and d.values.shape == (SEG_N,)
        assert 0 <= d.values.min() and d.values.max() <= 2047 and d.mean == bs.segment_mean(X[i])
        # the spec's reconstruction, by hand
        y = bs.run_decoder(dm, lv, bs.latent_q(bs.latent_u(zs[f"z{lv}"][i], B), B)[None])[0].astype(np.float64)
        o = dm.decoder_q[lv]["output"]
        want = np.clip(np.round(d.mean + 200 * o.scale * (y - o.zero_point)), 0, 2047)
        np.testing.assert_array_equal(d.values, want)
    one = bs.decode_segment(dm, *items[8], B)
    np.testing.assert_array_equal(one.values, got[8].values)
    s = special_segments()
    for name in ("all_missing", "one_nan", "flat", "saturated_high"):
        d = bs.decode_segment(dm, *bs.encode_segment(s[name], 3, np.zeros(32, np.int8), B), B)
        v, miss = bs.clamp_and_impute(s[name])
        assert d.level == 0 and (d.values == v).all() and (d.missing == miss).all() and d.mean is None


def test_decode_errors_name_the_field_and_bit(dm):
    B = dm.latent_bits
    s = special_segments()
    rec = {"lossless": bs.encode_segment(s["clean"], 0, None, B),
           "lossy": bs.encode_segment(s["clean"], 2, np.zeros(64, np.int8), B),
           "missing": bs.encode_segment(s["one_nan"], 0, None, B),
           "flat": bs.encode_segment(s["flat"], 0, None, B)}
    for kind, (data, nbits) in rec.items():
        for cut in (1, 9, nbits - 4, nbits - 1):
            with pytest.raises(BitstreamError, match=r"truncated at bit \d+"):
                bs.decode_segment(dm, data, nbits - cut, B)
    with pytest.raises(BitstreamError, match=r"^level: truncated at bit 0"):
        bs.parse_segment(b"", 0, B)
    with pytest.raises(BitstreamError, match=r"^deltas: truncated"):
        bs.parse_segment(*(rec["lossless"][0], 4 + 11 + 4 + 100), B)
    with pytest.raises(BitstreamError, match=r"^latent: truncated at bit 15"):
        bs.parse_segment(rec["lossy"][0], 20, B)
    with pytest.raises(BitstreamError, match=r"^mask: truncated at bit 4"):
        bs.parse_segment(rec["missing"][0], 100, B)
    with pytest.raises(BitstreamError, match=r"bit length"):
        bs.parse_segment(rec["flat"][0], 64, B)
    with pytest.raises(BitstreamError, match=r"^flag: 2 .* at bit 2 with level 1"):
        bs.parse_segment(bytes([0b01100000]) + bytes(200), 4 + 11 + 128 * B, B)
    with pytest.raises(BitstreamError, match=r"left over at bit 15"):
        bs.parse_segment(rec["flat"][0] + b"\0", 16, B)
    with pytest.raises(BitstreamError, match=r"^mask: flag 3 .* at bit 4 marks no sample"):
        bs.parse_segment(bytes([0b00110000]) + bytes(600), 4 + SEG_N + 15 + 2047, B)
    with pytest.raises(BitstreamError, match=r"^deltas .* outside 0..2047"):   # first 0, then a delta -1
        w = BitWriter(); w.write(0, 4); w.write(0, 11); w.write(0, 4); w.write_rice(1, 0)
        for _ in range(SEG_N - 2):
            w.write_rice(0, 0)
        bs.parse_segment(w.to_bytes(), w.nbits, B)


# ---------------------------------------------------------------- selection


def test_thresholds_monotone_and_selection(dm):
    ts = [ref.thresholds(dm, ref.make_eps(0, b)) for b in range(4096)]
    assert all(a <= b for a, b in zip(ts, ts[1:])) and ts[0] == dm.outputs["errors"].zero_point
    assert all(isinstance(t, int) for t in ts)
    # tasks see their own column; a level passes at q <= t
    rng = np.random.default_rng(0)
    for _ in range(50):
        e = rng.integers(-128, 128, 3 * N_PRED)
        for task in range(N_PRED):
            levels = [ref.select_level(dm, e, ref.make_eps(task, b)) for b in range(0, 4096, 7)]
            for b, lv in zip(range(0, 4096, 7), levels):
                t = ref.thresholds(dm, ref.make_eps(task, b))
                ok = [l for l in (3, 2, 1) if e[N_PRED * (l - 1) + task] <= t]
                assert lv == (ok[0] if ok else 0)
    # the vectorized rule (bench, kmodel) is the device twin's, segment by segment
    E = rng.integers(-128, 128, (200, 3 * N_PRED))
    for task in range(N_PRED):
        for b in (0, 40, 750, 4095):
            eps = ref.make_eps(task, b)
            assert ref.select_levels(E, ref.thresholds(dm, eps), task).tolist() == \
                [ref.select_level(dm, row, eps) for row in E]
    e = np.full(12, 127)
    assert [ref.select_level(dm, e, eps) for eps in FORCED] == [0, 1, 2, 3]
    for bad in (0x8000, 0xF123, -1, 1 << 16):
        with pytest.raises(ValueError):
            ref.select_level(dm, e, bad)


def test_reference_input_quantization_matches_training_side(dm):
    from toolchain.codecs.ecg_dynamic.export import quantize_input
    X = ds2_segments(5)
    q = np.stack([ref.front_end(dm, x)[3] for x in X])
    np.testing.assert_array_equal(q, quantize_input(dm, X)[..., 0])


# ---------------------------------------------------------------- the C


def _bad(got, want) -> list[int]:
    return [i for i, (g, w) in enumerate(zip(got, want)) if (g.data, g.nbits, g.imputed) != w[:3]]


def _device_set(n_ds2: int) -> np.ndarray:
    return np.concatenate([ds2_segments(n_ds2), np.stack(list(special_segments().values()))])


def test_c_bit_exact_on_native(dm, tmp_path):
    from toolchain.codecs.ecg_dynamic.device import build_on_board, run_on_board
    X = _device_set(100)
    b = build_on_board(dm, "native", tmp_path)
    for eps, bits in [*((e, dm.latent_bits) for e in FORCED), (ref.make_eps(2, 40), dm.latent_bits),
                      (ref.make_eps(3, 0), 3), (ref.make_eps(1, 4095), 8), (ref.make_eps(6), 1)]:
        want = ref.encode(dm, X, eps, bits)
        got = run_on_board(dm, "native", X, eps, bits, work_dir=tmp_path, built=b)
        assert not _bad(got, want), (hex(eps), bits, _bad(got, want)[:10])
    assert sum(w[2] for w in want) > 0 and {w[3] for w in ref.encode(dm, X, FORCED[3], 6)} == {0, 3}
    # refused: eps task 8..15, latent bits 0 or 9
    for eps, bits in ((0x8000, 6), (0x1000, 0), (0x1000, 9)):
        got = run_on_board(dm, "native", X[:2], eps, bits, work_dir=tmp_path, built=b)
        assert [g.nbits for g in got] == [0, 0]


def test_c_bit_exact_on_k210_qemu(dm, tmp_path):
    from toolchain.boards import load_board
    from toolchain.codecs.ecg_dynamic.device import run_on_board
    board = load_board("k210-qemu")
    if shutil.which(board.cfg.qemu) is None or shutil.which(board.cfg.cc) is None:
        pytest.skip(f"{board.cfg.qemu} or {board.cfg.cc} not installed")
    X = np.concatenate([ds2_segments(16), np.stack(list(special_segments().values()))[::2]])
    stats: dict = {}
    for eps in (FORCED[2], ref.make_eps(2, 40)):
        want = ref.encode(dm, X, eps, dm.latent_bits)
        got = run_on_board(dm, "k210-qemu", X, eps, dm.latent_bits, work_dir=tmp_path, stats=stats)
        assert not _bad(got, want), (hex(eps), _bad(got, want)[:10])
        assert all(g.instructions and g.instructions > 0 for g in got)
    assert stats["arena_bytes"] > 0 and stats["flash_bytes"] > stats["weight_bytes"]
    assert stats["ram_bytes"] >= stats["arena_bytes"]


def test_per_task_threshold_scales(dm):
    """The heads predict pred_scale[t] x the error: the threshold of task t scales with it."""
    import dataclasses
    d = dataclasses.replace(dm, pred_scale=(1.0, 40.0, 0.5, 0.25))
    s, zp = dm.outputs["errors"].scale, dm.outputs["errors"].zero_point
    for task, k in enumerate(d.pred_scale):
        mult = int(round(65536 * k / (1000 * s)))
        assert ref.err_mult(d, task) == mult
        for b in (0, 1, 40, 750, 4095):
            assert ref.thresholds(d, ref.make_eps(task, b)) == zp + ((b * mult) >> 16)
    assert ref.thresholds(d, ref.make_eps(1, 100)) > ref.thresholds(d, ref.make_eps(0, 100))
    # forced levels ignore the bound
    assert [ref.select_level(d, np.full(12, 127), e) for e in FORCED] == [0, 1, 2, 3]
