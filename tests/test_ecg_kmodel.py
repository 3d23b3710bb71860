"""ECG dynamic codec's encoder as a K210 kmodel (toolchain/codecs/ecg_dynamic/kmodel.py): nncase 1.9
compiles it, its simulator agrees with the int8 TFLite encoder within the tolerances below, and every
layer has a placement (nncase's and the analytic KPU model's, which must agree).

The codec folder: models/ecg-dynamic when it holds codec.json, else build/ecg-dynamic-dev; with
neither the tests fail (the repo's tests do not skip on missing models).
nncase absent (no `make setup-nncase`): as tests/test_kpu.py::test_real_nncase_when_installed, the
test checks that the stage refuses with the message that says how to get it, and checks nothing else.

Tolerances (simulator vs TFLite, per output, the simulator's float output requantized onto the
TFLite output's int8 grid; nncase calibrated on 16 DS1 segments as the CLI does): mean |diff| <= 3
LSB; mean |diff| < 10 % of the mean |TFLite output| in real units for the latents (test_kpu's
criterion for nncase), < 20 % for the errors head (ReLU outputs, mostly exact zeros, so the mean
|y| it is read against is small: 7 % on the dev model); for the latents z1..z3 max |diff| <= 32 LSB
(8 steps of the 6-bit latent). The errors head's max is reported, not bounded: on the dev model it
reaches ~80-100 LSB (the int8 encoder itself is 84 LSB from its float twin there).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from toolchain import REPO_ROOT
from toolchain.codecs.ecg_dynamic import kmodel as K
from toolchain.codecs.ecg_dynamic.deployed import OUTPUT_NAMES, load_dynamic
from toolchain.codecs.ecg_dynamic.reference import select_levels
from toolchain.kendryte import nncase_stage as nn
from toolchain.nn.tflite_model import read_tflite

FOLDERS = (REPO_ROOT / "models" / "ecg-dynamic", REPO_ROOT / "build" / "ecg-dynamic-dev")
N_SEG = 16
LATENT_MAX_LSB = 32
MEAN_LSB = 3.0


def _folder() -> Path:
    for d in FOLDERS:
        if (d / "codec.json").is_file():
            return d
    pytest.fail(f"no ECG dynamic codec folder: neither {FOLDERS[0]} nor {FOLDERS[1]} has codec.json "
                "(`make bench-ecg` trains one)")


@pytest.fixture(scope="module")
def dm():
    return load_dynamic(_folder())


@pytest.fixture(scope="module")
def segments():
    return K.ds2_segments(N_SEG)


@pytest.fixture(scope="module")
def report(dm, segments, tmp_path_factory):
    """The report, or None when nncase for the K210 is missing (after checking the refusal)."""
    st = nn.detect_nncase()
    work = tmp_path_factory.mktemp("ecg-kmodel")
    if not st.available("k210"):
        with pytest.raises(nn.NncaseUnavailable, match="K210"):
            K.kmodel_report(dm, segments, work, status=st)
        assert not (work / "encoder.kmodel").exists()
        return None
    return K.kmodel_report(dm, segments, work, calib_adu=K.ds1_calibration(), status=st)


def test_level_rule_by_hand():
    e = np.full((5, 12), 100)
    e[0, 4 * 2 + 2] = 10          # level 3 passes
    e[1, 4 * 1 + 2] = 10          # level 2 only
    e[2, 2] = 10                  # level 1 only
    e[3, [2, 6]] = 10             # levels 1 and 2: 2
    e[4, 4 * 2 + 1] = 10          # level 3 passes for another task only: lossless
    assert select_levels(e, 10, 2).tolist() == [3, 2, 1, 2, 0]
    assert select_levels(e, 9, 2).tolist() == [0] * 5
    assert select_levels(e, 10, 1).tolist() == [0, 0, 0, 0, 3]


def test_device_input_is_the_int8_front_end(dm, segments):
    q, f = K.device_input(dm, segments[:2])
    x = segments[:2].astype(np.int64)
    m = (x.sum(1, keepdims=True) + 1024) >> 11
    want = np.clip(dm.input_q.zero_point + (((x - m) * dm.in_mult + 32768) >> 16), -128, 127)
    assert q.dtype == np.int8 and q.shape == (2, 2048, 1) and (q[..., 0] == want).all()
    np.testing.assert_array_equal(f, (q.astype(np.float32) - dm.input_q.zero_point) * np.float32(dm.input_q.scale))


def test_kmodel_compiles_and_the_simulator_agrees_with_tflite(report, dm):
    if report is None:
        return
    km = Path(report["kmodel"])
    head = km.read_bytes()[:8]
    assert head[:4] == b"LDMK" and int.from_bytes(head[4:], "little") == 5
    assert report["kmodel_bytes"] == km.stat().st_size > 0
    assert report["memory"]["model"] == report["kmodel_bytes"] and report["memory"]["total"] > 0
    assert report["segments"] == N_SEG and report["calib_segments"] == K.N_CALIB
    for name in OUTPUT_NAMES:
        o = report["outputs"][name]
        assert o["values"] == N_SEG * int(np.prod(dm.outputs[name].shape)), name
        assert o["mean_abs_diff"] < (0.2 if name == "errors" else 0.1) * o["ref_mean_abs"], (name, o)
        assert o["mean_abs_diff_lsb"] <= MEAN_LSB, (name, o)
        assert 0 < o["equal_share"] <= 1, (name, o)
        if name != "errors":
            assert o["max_abs_diff_lsb"] <= LATENT_MAX_LSB, (name, o)
    lv = report["level"]
    assert lv["task"] == "rhythm" and lv["task_index"] == 2
    t = lv["task_index"]
    assert lv["threshold_q"] == dm.outputs["errors"].zero_point + (
        (750 * int(round(65536 * dm.pred_scale[t] / (1000 * dm.outputs["errors"].scale)))) >> 16)
    assert sum(lv["levels_tflite"]) == sum(lv["levels_sim"]) == N_SEG
    assert 0 <= lv["mismatch_share"] <= lv["mismatch_share_worst_threshold"] <= 1


def test_every_layer_has_a_placement(report, dm):
    if report is None:
        return
    layers = report["layers"]
    assert len(layers) == len(read_tflite(dm.encoder_tflite).operators)
    assert all(r["placement_nncase"] in ("KPU", "CPU", "none") for r in layers)
    assert all(r["placement_model"] in ("KPU", "CPU", "none") for r in layers)
    assert report["placement_agree"] == len(layers), [
        (r["index"], r["op"], r["placement_nncase"], r["placement_model"]) for r in layers
        if r["placement_nncase"] != r["placement_model"]]
    assert report["kpu_layers_nncase"] >= 1
    # the outputs' ADD layers (LUTs nncase names 'output_F*') are traced to their tensors
    assert all(r["placement_nncase"] == "CPU" for r in layers if r["op"] in ("ADD", "CONCATENATION"))
    assert report["kpu_ram_peak_bytes"] == report["kpu_ram_peak_bytes_model"] > 0


def test_csv(report, tmp_path):
    if report is None:
        return
    lp, sp = K.write_kmodel_csv(report, tmp_path / "ecg_kmodel.csv")
    assert sp == tmp_path / "ecg_kmodel_summary.csv"
    with lp.open() as f:
        r = csv.DictReader(f)
        assert r.fieldnames[:4] == ["layer", "op", "placement_nncase", "placement_model"]
        rows = list(r)
    assert len(rows) == len(report["layers"]) and all(x["placement_nncase"] for x in rows)
    with sp.open() as f:
        r = csv.DictReader(f)
        assert r.fieldnames[:5] == ["output", "max_abs_diff_lsb", "equal_share", "level_mismatch_share",
                                    "kmodel_bytes"]
        rows = list(r)
    assert [x["output"] for x in rows] == list(OUTPUT_NAMES)
    assert all(int(x["kmodel_bytes"]) == report["kmodel_bytes"] for x in rows)


def test_cli(report, tmp_path, capsys):
    if report is None:
        return
    out = tmp_path / "r.csv"
    assert K.main(["--model", str(_folder()), "--segments", "6", "--calib", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "kmodel" in text and "placement:" in text and out.is_file() and K.summary_path(out).is_file()
