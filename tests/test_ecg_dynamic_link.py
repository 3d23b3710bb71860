"""The ECG dynamic codec end to end over the link, on the native virtual board (fast: the untrained
development codec folder of devmodel.make_dev_model, in a temporary models folder).

The link application is built for "ecg-dynamic" (toolchain/link/app.py), runs behind a pty
(host_tools/virtual_board.py, as the HIL bench's native DUT), gets MIT-BIH record 100 (DS2) segments
as SAMPLES, and its REPORTs are decoded by HostDecoder: every window's bits must equal
reference.encode (the C's Python twin), its samples decode_segment of those bits, its level and flag
the reference's. Then `tinycodec decode` writes the capture to WFDB (with the .lvl annotation file),
CSV and Parquet (with the per-sample level and flag columns), read back here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import wfdb

from host_tools.decode_cli import main as decode_main
from host_tools.decoder import CodecSession
from toolchain.codecs.ecg_dynamic import LEVEL_CG, SEG_N
from toolchain.codecs.ecg_dynamic import bitstream as bs
from toolchain.codecs.ecg_dynamic import reference as ref
from toolchain.codecs.ecg_dynamic.deployed import NAME, DynamicModel, load_dynamic
from toolchain.codecs.ecg_dynamic.segments import record_segments
from toolchain.link.app import (ECG_MAX_PER_REPORT, AppBuild, build_app, check_session_fits, ecg_batch_max,
                                worst_report_bytes)

MISSING = bs.TC_MISSING
RECORD = 100  # DS2
FLUSH_S = 30.0


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A models folder holding an untrained ecg-dynamic codec folder (same architecture as the trained one)."""
    from toolchain.codecs.ecg_dynamic.devmodel import make_dev_model
    root = tmp_path_factory.mktemp("models")
    make_dev_model(root / NAME)
    return root


@pytest.fixture(scope="module")
def dm(models: Path) -> DynamicModel:
    return load_dynamic(models / NAME)


@pytest.fixture(scope="module")
def app(models: Path) -> AppBuild:
    return build_app(NAME, "native", models_dir=models)


@pytest.fixture
def board(dut_factory, app: AppBuild, models: Path):
    """make(capture=None) -> the native link application for the dev codec behind a pty, identified."""
    def make(capture: Path | None = None):
        return dut_factory(NAME, capture=capture, exe=str(app.exe), models_dir=models)
    return make


def ds2(first: int, n: int) -> np.ndarray:
    """n consecutive segments of record 100 from segment `first`, int64 adu."""
    return record_segments(RECORD).x[first:first + n].astype(np.int64)


def special_segments() -> dict[str, np.ndarray]:
    """The front end's edge cases on real ECG: dropouts (NaN at the source), lead-off, clipping."""
    base = ds2(20, 1)[0]
    nan = base.copy()
    nan[200:260] = MISSING
    nan[1500] = MISSING
    sat = base.copy()
    sat[700:760] = 2047  # the amplifier clips
    return {"missing": nan, "all_missing": np.full(SEG_N, MISSING, np.int64),
            "flat": np.full(SEG_N, 1024, np.int64), "saturated": sat, "clean": base}


def run_session(dut, X: np.ndarray, **session) -> tuple[CodecSession, int]:
    """Configure, stream X as SAMPLES, flush, wait for its windows; (session, number of X's first window)."""
    first = len(dut.decoder.windows)
    cs = dut.configure(**session)
    dut.replay(X)
    dut.command("flush", timeout=FLUSH_S)
    dut.wait_windows(first + len(X), timeout=60)
    return cs, first


def check_windows(dut, dm: DynamicModel, X: np.ndarray, cs: CodecSession, first: int) -> list[int]:
    """Windows first.. are X: the reference's bits, imputed count and level; decode_segment's samples;
    lossless ones equal to the (clamped, imputed) input. Returns the levels."""
    dec = dut.decoder
    expect = ref.encode(dm, X, cs.eps, cs.latent_bits)
    decoded = bs.decode_segments(dm, [(d, n) for d, n, _, _ in expect], cs.latent_bits)
    levels = []
    for j, ((data, nbits, imputed, level), seg) in enumerate(zip(expect, decoded)):
        k = first + j
        assert k in dec.windows, f"window {k} never arrived ({dec.summary()})"
        w = dec.windows[k]
        assert w.error is None, f"window {k}: {w.error}"
        assert (w.data, w.nbits) == (data, nbits), (
            f"window {k}: board sent {w.nbits} bits {w.data[:16].hex()}.., reference.encode {nbits} bits "
            f"{data[:16].hex()}..")
        assert w.imputed == imputed, f"window {k}: board imputed {w.imputed}, reference {imputed}"
        assert (w.level, w.flag) == (level, bs.flags_of(X[j])) == (seg.level, seg.flag), f"window {k}"
        np.testing.assert_array_equal(w.values, seg.values, err_msg=f"window {k}: samples")
        np.testing.assert_array_equal(w.missing, X[j] == MISSING, err_msg=f"window {k}: missing mask")
        if level == 0:
            np.testing.assert_array_equal(w.values, bs.clamp_and_impute(X[j])[0], err_msg=f"window {k}: lossless")
        levels.append(w.level)
    return levels


def check_clean(dut, windows: int) -> None:
    dec = dut.decoder
    st = dut.stats()
    assert dec.stats.lost_messages == [] and dec.lost_windows() == [], dec.summary()
    assert dec.stats.window_errors == 0 and dec.stats.report_errors == 0, dec.stats.errors[:5]
    assert dec.stats.errors == [], f"board errors: {dec.stats.errors[:5]}"
    assert st.windows == windows and st.frames_bad == 0, st
    assert (st.frames_sent, st.messages_sent) == (st.host_frames, st.host_messages), st


def test_app_renders_the_ecg_codec_with_room_for_its_records(app: AppBuild, dm: DynamicModel):
    src = app.src_dir
    names = {p.name for p in src.iterdir()}
    assert {"tc_ecg_dynamic.c", "ecg_dynamic_encoder.c", "tc_app.c", "main_app.c"} <= names
    assert not names & {"main_native.c", "main_uart.c", "main_sim.c", "tc_codec.c"}, "a second main or the AE codec"
    assert src.parent.name.startswith("app-"), "ECG builds are kept apart per codec folder"
    header = (src / "tc_app_session.h").read_text()
    assert "#define TC_APP_WINDOW_MS 5689ul" in header  # 2048 samples at 360 Hz
    assert f"#define TC_APP_DEFAULT_EPS {ref.make_eps(2, 750)}u" in header  # rhythm, bound 0.75
    assert f"#define TC_APP_MAX_PER_REPORT {ECG_MAX_PER_REPORT}u" in header
    assert f"#define TC_APP_BATCH_MAX {ecg_batch_max()}u" in header
    assert ecg_batch_max() == 3 + worst_report_bytes(3585, ECG_MAX_PER_REPORT) <= 0xFFFF
    assert app.session.types[0].validity_ms == 5689 and app.exe.is_file()


def test_ds2_segments_bit_exact_at_every_level(board, dm: DynamicModel):
    dut = board()
    assert dut.identity["model"] == NAME and dut.identity["n"] == str(SEG_N)
    cs, first = run_session(dut, ds2(0, 3))  # the board's default session: rhythm at 0.75, one a report
    assert cs.eps == ref.make_eps(2, 750) and cs.latent_bits == dm.latent_bits
    check_windows(dut, dm, ds2(0, 3), cs, first)
    forced = {4: 0, 5: 1, 7: 3}  # eps task -> the level it forces
    big = ecg_batch_max()
    for (task, level), per_report, bits, at in zip(forced.items(), (2, 4, 1), (6, 8, 3), (3, 6, 9)):
        X = ds2(at, 3)
        cs, first = run_session(dut, X, eps=ref.make_eps(task), latent_bits=bits, per_report=per_report,
                                max_batch=big)
        assert check_windows(dut, dm, X, cs, first) == [level] * 3, f"eps task {task}"
    check_clean(dut, 12)


def test_missing_flat_and_saturated_segments_go_lossless_with_their_flag(board, dm: DynamicModel):
    dut = board()
    seg = special_segments()
    X = np.stack(list(seg.values()))
    cs, first = run_session(dut, X, eps=ref.make_eps(6), per_report=ECG_MAX_PER_REPORT, max_batch=ecg_batch_max())
    assert check_windows(dut, dm, X, cs, first) == [0, 0, 0, 0, 2]  # CG 32 forced: only the clean one gets it
    w = [dut.decoder.windows[first + j] for j in range(len(X))]
    assert [x.flag for x in w] == [bs.FLAG_MISSING, bs.FLAG_MISSING, bs.FLAG_FLAT, bs.FLAG_SATURATED, bs.FLAG_NONE]
    assert [x.imputed for x in w] == [61, 255, 0, 0, 0]  # the u8 count saturates
    assert w[1].missing.all() and (w[1].values == bs.IMPUTE_ALL_MISSING).all()
    check_clean(dut, len(X))


def test_sessions_the_ecg_app_refuses(board, dm: DynamicModel):
    dut = board()
    big = ecg_batch_max()
    with pytest.raises(ValueError, match=f"per_report 5: its link application takes 1..{ECG_MAX_PER_REPORT}"):
        check_session_fits(dm, 5, big)
    with pytest.raises(ValueError, match="max_batch 4096 B with per_report 2: a worst-case report needs 7210 B"):
        dut.configure(per_report=2)  # the host says why before the board says no
    refused = {"per_report 5": CodecSession(ref.make_eps(2, 750), 6, 0, 5, 0, big, 360_000),
               "batch under a worst-case report": CodecSession(ref.make_eps(2, 750), 6, 0, 2, 0, 4096, 360_000),
               "eps task 8": CodecSession(ref.make_eps(7) + (1 << 12), 6, 0, 1, 0, 4096, 360_000),
               "latent_bits 9": CodecSession(ref.make_eps(2, 750), 9, 0, 1, 0, 4096, 360_000)}
    for why, cs in refused.items():
        with pytest.raises(ValueError, match="board rejected CONFIG"):
            dut.client.configure(cs)
    X = ds2(30, 2)
    cs, first = run_session(dut, X, per_report=1)  # still serving, with the session it had
    check_windows(dut, dm, X, cs, first)
    check_clean(dut, 2)


def test_decode_writes_levels_to_wfdb_csv_and_parquet(board, dm: DynamicModel, models: Path, tmp_path):
    capture = tmp_path / "ecg.bin"
    dut = board(capture=capture)
    seg = special_segments()
    X = np.concatenate([ds2(40, 2), np.stack([seg["missing"], seg["flat"], seg["saturated"]])])
    cs, first = run_session(dut, X, eps=ref.make_eps(5))
    check_windows(dut, dm, X, cs, first)
    dut.close()
    windows = [dut.decoder.windows[k] for k in range(len(X))]
    levels = np.repeat([w.level for w in windows], SEG_N)
    flags = np.repeat([bs.FLAG_NAMES[w.flag] for w in windows], SEG_N)
    values = np.concatenate([w.values for w in windows])
    valid = ~np.concatenate([w.missing for w in windows])
    assert [w.level for w in windows] == [1, 1, 0, 0, 0] and not valid.all()

    for fmt, name in (("wfdb", "rec100"), ("csv", "rec100.csv"), ("parquet", "rec100.parquet")):
        assert decode_main(["--file", str(capture), "--models-dir", str(models), "--out", str(tmp_path / name),
                            "--format", fmt, "--no-progress"]) == 0, fmt

    rec = wfdb.rdrecord(str(tmp_path / "rec100"), physical=False)
    assert rec.fs == 360.0 and rec.sig_name == [NAME]
    np.testing.assert_array_equal(rec.d_signal[:, 0], np.where(valid, values, -32768))
    ann = wfdb.rdann(str(tmp_path / "rec100"), "lvl")
    assert list(ann.sample) == [k * SEG_N for k in range(len(X))] and set(ann.symbol) == {"="}
    assert ann.aux_note == [f"level={w.level} cg={LEVEL_CG[w.level]} flag={bs.FLAG_NAMES[w.flag]}"
                            for w in windows]
    assert ann.aux_note[:3] == ["level=1 cg=16 flag=none", "level=1 cg=16 flag=none", "level=0 cg=1 flag=missing"]

    df = pd.read_csv(tmp_path / "rec100.csv", keep_default_na=False, na_values=[""])
    tab = pq.read_table(tmp_path / "rec100.parquet").to_pandas()
    for what, d in (("csv", df), ("parquet", tab)):
        assert list(d.columns) == ["sample", NAME, "level", "flag"], what
        col = d[NAME].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(col), ~valid, err_msg=what)
        np.testing.assert_array_equal(col[valid], values[valid], err_msg=what)
        np.testing.assert_array_equal(d["level"].to_numpy(dtype=int), levels, err_msg=what)
        np.testing.assert_array_equal(d["flag"].astype(str).to_numpy(), flags, err_msg=what)


# ---------------------------------------------------------------- flashing the trained codec


def _trained():
    from toolchain.codecs.ecg_dynamic.deployed import default_dir, load_dynamic
    if not (default_dir() / "codec.json").is_file():
        pytest.fail(f"no trained codec at {default_dir()} (models/ecg-dynamic is committed)")
    return load_dynamic(default_dir())


def test_flash_refuses_a_board_the_codec_does_not_fit(capsys):
    from toolchain.cli import main as tinycodec
    _trained()
    assert tinycodec(["flash", "--model", "ecg-dynamic", "--target", "msp430f1611"]) == 2
    err = capsys.readouterr().err
    assert "does not fit msp430f1611" in err and "RAM needs" in err and "Traceback" not in err


def test_flash_k210_writes_the_ecg_serve_image_through_kflash():
    """tinycodec flash --model ecg-dynamic --target k210 -> kflash -> a fake K210 ISP peer on a pty:
    the image it received is the serve image build_on_board makes."""
    from host_tools.testing.fake_k210_isp import FakeK210
    from toolchain.cli import main as tinycodec
    from toolchain.codecs.ecg_dynamic.device import build_on_board
    dm = _trained()
    with FakeK210() as k:
        assert tinycodec(["flash", "--model", "ecg-dynamic", "--target", "k210", "--port", k.port,
                          "--baud", "1500000"]) == 0
        assert k.wait_rebooted(5)
        img = k.firmware()
    assert img.data == build_on_board(dm, "k210").result.image.read_bytes()
