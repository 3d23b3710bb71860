"""Ten minutes of MIT-BIH record 100 (DS2) through the board under test running the trained ECG
dynamic codec (models/ecg-dynamic).

106 segments of 2048 samples (ceil(600 s x 360 Hz / 2048); 603 s) go in as SAMPLES, four windows a
report, twice: with the board's default session (rhythm task, bound 0.75: the level the encoder's
predictor picks), and forced lossless (eps task 4: the largest records, ~1.2 kB a segment, 20+
frames a report). Every window must arrive, carry the bits of reference.encode (the C's Python
twin), decode to decode_segments of those bits, and report the reference's level; the board's
counters must equal what the host decoded.

The codec folder: models/ecg-dynamic (trained by `tinycodec train-ecg`), or $TINYCODEC_ECG_DYNAMIC,
or <--dut-models-dir>/ecg-dynamic. Without a trained folder the test fails (it does not skip: a
bench that silently lost its ECG check would read as passing).
"""
from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from host_tools.decoder import CodecSession
from host_tools.dut import window_bits
from toolchain.codecs.ecg_dynamic import FS, LEVEL_CG, SEG_N
from toolchain.codecs.ecg_dynamic import bitstream as bs
from toolchain.codecs.ecg_dynamic import reference as ref
from toolchain import paths
from toolchain.codecs.ecg_dynamic.deployed import NAME, default_dir, load_dynamic
from toolchain.link.app import ECG_MAX_PER_REPORT, ecg_batch_max

RECORD = 100  # in DS2, the inter-patient test set
SEGMENTS = math.ceil(600 * FS / SEG_N)  # 106: ten minutes, the last segment ends at 603 s
# Seconds the board may take per segment (QEMU runs the int8 encoder network at emulation speed).
PER_SEGMENT_S = {"native": 0.5, "qemu": 6.0, "serial": 3.0}


def _codec_folder(config: pytest.Config) -> Path:
    """Where the DUT's host side finds the codec (host_tools/dut.py start_dut: models_dir/ecg-dynamic first)."""
    d = config.getoption("--dut-models-dir")
    return Path(d) / NAME if d and (Path(d) / NAME).is_dir() else default_dir()


def _trained_codec(config: pytest.Config) -> Path:
    """The codec folder, or the test fails here (in its body: FAILED, not a setup ERROR) saying why."""
    folder = _codec_folder(config)
    if not (folder / "codec.json").is_file():
        pytest.fail(f"no trained ECG dynamic codec at {folder} (codec.json missing): train it with "
                    f"`tinycodec train-ecg` (into models/{NAME}), or point TINYCODEC_ECG_DYNAMIC or "
                    f"--dut-models-dir (a folder holding {NAME}/) at a codec folder", pytrace=False)
    shipped = paths.models_dir() / NAME
    if folder.resolve() == shipped.resolve() and "dev" in load_dynamic(folder).meta:
        pytest.fail(f"{shipped} holds an untrained development codec (devmodel.make_dev_model), not the trained "
                    f"one: retrain it with `tinycodec train-ecg`", pytrace=False)
    return folder


@pytest.fixture(scope="module")
def ten_minutes() -> np.ndarray:
    from toolchain import data as D
    from toolchain.codecs.ecg_dynamic.segments import record_segments

    assert RECORD in D.mitdb_split()["test"], f"record {RECORD} is not in DS2 any more"
    x = record_segments(RECORD).x
    assert len(x) >= SEGMENTS, f"record {RECORD} has {len(x)} segments of {SEG_N}, {SEGMENTS} needed"
    return x[:SEGMENTS].astype(np.int64)


def _stream(dut, X: np.ndarray, session: str) -> CodecSession:
    """Configure (four windows a report), send X as SAMPLES, flush, wait for every window."""
    eps = None if session == "default" else ref.make_eps(4)  # None: the board's default
    cs = dut.configure(eps=eps, per_report=ECG_MAX_PER_REPORT, max_batch=ecg_batch_max())
    if session == "default":
        assert cs.eps == ref.make_eps(2, 750), f"board's default eps {cs.eps:#06x}, expected rhythm at 0.75"
    budget = 60 + PER_SEGMENT_S[dut.kind] * len(X)
    dut.replay(X)
    dut.command("flush", timeout=budget)
    dut.wait_windows(len(X), timeout=budget)
    return cs


def _check_bit_exact(dut, X: np.ndarray, cs: CodecSession) -> list[bs.DecodedSegment]:
    """Every window: reference.encode's bits, imputed count and level; decode_segments' samples."""
    expect = ref.encode(dut.fm, X, cs.eps, cs.latent_bits)
    assert [(d, n) for d, n, _, _ in expect] == window_bits(dut, X, cs)
    decoded = bs.decode_segments(dut.fm, [(d, n) for d, n, _, _ in expect], cs.latent_bits)
    dec = dut.decoder
    lost = [k for k in range(len(X)) if k not in dec.windows]
    assert not lost, f"windows never received: {lost[:20]} ({dec.summary()})"
    for k, ((data, nbits, imputed, level), seg) in enumerate(zip(expect, decoded)):
        w = dec.windows[k]
        assert w.error is None, f"window {k}: {w.error}"
        assert (w.data, w.nbits) == (data, nbits), (
            f"window {k}: board sent {w.nbits} bits {w.data[:16].hex()}.., reference.encode {nbits} bits "
            f"{data[:16].hex()}..")
        assert (w.imputed, w.level, w.flag) == (imputed, level, seg.flag), f"window {k}"
        np.testing.assert_array_equal(w.values, seg.values, err_msg=f"window {k}: decoded samples")
        if level == 0:
            np.testing.assert_array_equal(w.values, X[k], err_msg=f"window {k}: lossless")
    return decoded


def _levels_line(dut, n_samples: int) -> str:
    """What the board chose: windows per level, and the bits against 11-bit raw samples."""
    ws = dut.decoder.windows.values()
    levels = Counter(w.level for w in ws)
    bits = sum(w.nbits for w in ws)
    codec = "UNTRAINED development codec, " if "dev" in dut.fm.meta else ""
    return (f"{codec}levels {', '.join(f'{lv} (CG {LEVEL_CG[lv]}): {levels[lv]}' for lv in sorted(levels))}; "
            f"{bits} bits for {n_samples} samples ({n_samples * 11 / bits:.1f}x vs 11-bit raw)")


@pytest.mark.parametrize("session", ["default", "lossless"])
def test_ecg_dynamic_ten_minutes_mitdb_100(dut_factory, ten_minutes, check_link_clean, record_property,
                                           request: pytest.FixtureRequest, session: str):
    trained_codec = _trained_codec(request.config)
    X = ten_minutes
    t0 = time.monotonic()
    dut = dut_factory(NAME)  # the codec folder as above: $TINYCODEC_ECG_DYNAMIC, --dut-models-dir or models/
    assert dut.fm.root.resolve() == trained_codec.resolve(), f"the host decodes with {dut.fm.root}"
    t_up = time.monotonic()
    cs = _stream(dut, X, session)
    t_board = time.monotonic()
    decoded = _check_bit_exact(dut, X, cs)
    check_link_clean(dut, len(X))
    dec = dut.decoder
    assert dec.stats.reports == -(-len(X) // ECG_MAX_PER_REPORT)
    values, received = dec.signal()
    assert received.all() and len(values) == X.size
    np.testing.assert_array_equal(values, np.concatenate([s.values for s in decoded]))
    if session == "lossless":
        assert {w.level for w in dec.windows.values()} == {0}
    summary = (f"{_levels_line(dut, X.size)}; board up {t_up - t0:.1f} s, streamed and encoded in "
               f"{t_board - t_up:.1f} s, checked in {time.monotonic() - t_board:.1f} s")
    record_property(f"ecg_dynamic_{session}", summary)
    print(f"\n{dut.describe()}: {summary}")
