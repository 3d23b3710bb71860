"""The image codec's encoder as deployed (toolchain/codecs/image/deploy.py): its int8 C bit-exact with
TFLite Micro on the host, the K210's QEMU twin and the Cortex-M4's QEMU twin, with instruction counts;
every compute layer on the K210's KPU by our placement and by nncase 1.9's, and nncase's simulator
close to the int8 encoder.

Real compilers, QEMU and nncase, no mocks. The codec: a small untrained one (weights seeded; bit-
exactness holds for any weights), 2 held-out flowers at 64x64 = 8 patches of 32x32. The compilers and
emulators come with `make setup` and are never skipped; nncase is separate (`make setup-nncase`):
without it the KPU row must say "skipped: <detect_nncase's reason>" and the nncase test skips with
that reason.
"""
from __future__ import annotations

import csv
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from toolchain.boards import UnknownBoardError
from toolchain.codecs.image import deploy as D
from toolchain.codecs.image.codec_model import Codec, CodecConfig
from toolchain.kendryte import nncase_stage as nn

CFG = CodecConfig(patches=4, layers=3, channels=(8, 8, 8), latent_channels=4, image_size=(64, 64))
N_IMAGES = 2
RUN_BOARDS = ("native", "k210-qemu", "cortex-m-qemu")
SIM_MEAN_LSB = 3.0       # nncase's simulator vs TFLite int8: mean |diff| (tests/test_ecg_kmodel.py's bound)
SIM_MAX_LSB = 16


@pytest.fixture(scope="module")
def codec():
    from toolchain.train.zoo.common import _seed
    _seed(0)
    return Codec.build(CFG)


@pytest.fixture(scope="module")
def images():
    from toolchain.codecs.image.rate_quality import held_out
    return np.stack(held_out("flowers", N_IMAGES, size=CFG.image_size[0]))


@pytest.fixture(scope="module")
def tflite(codec, images):
    return D.encoder_tflite(codec, images)


@pytest.fixture(scope="module")
def rows(codec, images, tflite, tmp_path_factory):
    # msp430g2553 (512 B of RAM) cannot hold the 11 KiB arena: its row must be a FitError skip
    got = D.deploy_rows(codec, images, (*RUN_BOARDS, "msp430g2553"), tmp_path_factory.mktemp("deploy"),
                        tflite=tflite, name="test-codec")
    return {r["board"]: r for r in got}


@pytest.fixture(scope="module")
def kpu(codec, images, tflite, tmp_path_factory):
    return D.kpu_row(codec, images, tmp_path_factory.mktemp("kpu"), tflite=tflite, name="test-codec")


@pytest.mark.parametrize("board", RUN_BOARDS)
def test_generated_c_is_bit_exact_on_every_board(rows, board):
    r = rows[board]
    assert r["status"] == "ok", r
    assert r["patches_run"] == r["patches_equal"] == N_IMAGES * CFG.patches and r["bit_exact"] is True
    assert r["images"] == N_IMAGES and r["model"] == "test-codec"
    assert r["arena_bytes"] > 0 and r["weight_bytes"] > 0 and r["model_flash_bytes"] > 0
    # the layers' MACs: 3x3 convs with 'same' padding on 32, 16, 8 px maps, then the 1x1 latent conv
    ph, pw = CFG.patch_size
    c_in = (3, *CFG.channels[:-1])
    want = sum((ph >> i) * (pw >> i) * 9 * ci * co for i, (ci, co) in enumerate(zip(c_in, CFG.channels)))
    want += (ph >> CFG.layers) * (pw >> CFG.layers) * CFG.channels[-1] * CFG.latent_channels
    assert r["macs_per_patch"] == want


@pytest.mark.parametrize("board", ["k210-qemu", "cortex-m-qemu"])
def test_instruction_counts_are_plausible(rows, board):
    r = rows[board]
    assert r["count_kind"] == "instructions"
    assert r["instr_per_patch"] > r["macs_per_patch"] > 0
    assert r["instr_per_patch"] <= r["instr_per_patch_max"] < 1.05 * r["instr_per_patch"]
    assert r["instr_per_image"] == pytest.approx(CFG.patches * r["instr_per_patch"])
    # int8 C on a CPU without SIMD: a few to a few tens of instructions per MAC (the zoo's
    # image-encoder: about 20 on riscv-qemu, results/nn_codegen.csv)
    assert 2 < r["instr_per_mac"] < 50
    assert r["instr_per_mac"] == pytest.approx(r["instr_per_patch"] / r["macs_per_patch"])


def test_host_has_no_counter(rows):
    r = rows["native"]
    assert r["count_kind"] == "" and r.get("instr_per_patch") is None


def test_a_board_the_model_does_not_fit_is_skipped_with_the_numbers(rows):
    r = rows["msp430g2553"]
    assert r["status"].startswith("skipped: FitError: model does not fit msp430g2553"), r
    assert "RAM needs" in r["status"] and r["patches_run"] == 0 and r["bit_exact"] is False


def test_every_compute_layer_on_the_kpu(kpu):
    # 3 x (conv + ReLU, max-pool fused into it) + the latent conv: 4 compute layers, 7 operators
    n = CFG.layers + 1
    assert (kpu["kpu_layers"], kpu["compute_layers"], kpu["layers"]) == (n, n, 2 * CFG.layers + 1)
    assert kpu["kpu_mac_share"] == 1.0 and 0 < kpu["peak_kpu_bytes"] <= 2 * 1024 * 1024
    assert kpu["board"] == D.KPU_BOARD


def test_nncase_agrees_with_our_placement_and_its_simulator_is_close(kpu):
    st = nn.detect_nncase()
    if not st.available("k210"):
        assert kpu["status"] == f"skipped: {st.missing('k210')}"
        pytest.skip(st.missing("k210"))
    assert kpu["status"] == "ok", kpu
    assert kpu["nncase"] == st.k210_nncase
    assert kpu["placement_agree"] == kpu["layers"] and kpu["nncase_kpu_layers"] == kpu["kpu_layers"], kpu["note"]
    assert kpu["kmodel_bytes"] > 0
    assert kpu["sim_mean_abs_lsb"] <= SIM_MEAN_LSB and kpu["sim_max_abs_lsb"] <= SIM_MAX_LSB, kpu
    assert 0 < kpu["sim_equal_share"] <= 1


def test_csv_and_summary(rows, kpu, tmp_path):
    out = D.write_csv([*rows.values(), kpu], tmp_path / "r" / "image_deploy.csv")
    with out.open() as f:
        got = list(csv.DictReader(f))
    assert [g["board"] for g in got] == [*RUN_BOARDS, "msp430g2553", D.KPU_BOARD]
    assert set(got[0]) == set(D.FIELDS) and got[0]["bit_exact"] == "True"
    lines = D.summary_lines([*rows.values(), kpu])
    assert lines[1].startswith(f"k210-qemu: {N_IMAGES * CFG.patches}/{N_IMAGES * CFG.patches} patches bit-exact")
    assert "instructions per patch" in lines[1] and lines[3].startswith("msp430g2553: skipped: FitError")
    assert lines[4].startswith(f"{D.KPU_BOARD}: 4/4 compute layers on the KPU")


def test_errors_name_the_problem(codec, images, tflite, tmp_path):
    with pytest.raises(UnknownBoardError, match="unknown board 'k211'.*k210-qemu"):
        D.deploy_rows(codec, images, ("native", "k211"), tmp_path, tflite=tflite)
    with pytest.raises(ValueError, match=r"expected \(N, 64, 64, 3\).*got shape \(2, 32, 32, 3\)"):
        D.deploy_rows(codec, images[:, :32, :32], ("native",), tmp_path, tflite=tflite)
    with pytest.raises(ValueError, match=r"add a batch axis"):
        D.kpu_row(codec, images[0], tmp_path, tflite=tflite)
    with pytest.raises(ValueError, match="dtype float32"):
        D.deploy_rows(codec, images.astype(np.float32), ("native",), tmp_path, tflite=tflite)
    with pytest.raises(ValueError, match="n_images 0"):
        D.deploy_rows(codec, images, ("native",), tmp_path, n_images=0, tflite=tflite)
    assert not (tmp_path / "c").exists()      # refused before generating anything


def test_cli(codec, images, tmp_path, capsys):
    from toolchain.codecs.image.artifacts import save_codec
    folder = save_codec(codec, tmp_path / "codec")
    out = tmp_path / "deploy.csv"
    # held-out flowers at the codec's size, calibrated on 2 training flowers
    assert D.main(["--model", str(folder), "--images", "1", "--calib", "2", "--boards", "native", "--no-kpu",
                   "--out", str(out), "--work", str(tmp_path / "w")]) == 0
    text = capsys.readouterr().out
    assert "native: 4/4 patches bit-exact with TFLite Micro" in text and f"wrote {out}" in text
    with out.open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["board"] == "native" and row["status"] == "ok" and row["images"] == "1"
    assert D.main(["--model", "no-such-codec", "--boards", "native"]) == 2
    assert "image codec 'no-such-codec'" in capsys.readouterr().err
    assert D.main(["--model", str(folder), "--boards", "k211"]) == 2
    assert "unknown board 'k211'" in capsys.readouterr().err
    np.save(tmp_path / "small.npy", images[:, :32, :32])
    assert D.main(["--model", str(folder), "--image-file", str(tmp_path / "small.npy")]) == 2
    assert "small.npy: expected (N, 64, 64, 3)" in capsys.readouterr().err
    assert D.main(["--model", str(folder), "--images", "0"]) == 2
    assert "--images 0: at least 1" in capsys.readouterr().err
