"""The committed int8 TFLite model zoo (models/zoo/, built by `tinycodec zoo`): no training here.

Each model must load, take and give int8, run in TFLite Micro on its committed held-out inputs
with the committed outputs, and have the op set its model card states. The codec encoder must
still be the project's codec: its Keras form, built from models/gsb-temporal/model.json, equals
the project's float encoder.
"""
from __future__ import annotations

import numpy as np
import pytest

from toolchain.train import zoo

NAMES = list(zoo.ZOO)


@pytest.fixture(scope="module", params=NAMES)
def model(request):
    d = zoo.ZOO_DIR / request.param
    tfl = (d / "model.tflite").read_bytes()
    with np.load(d / "heldout.npz") as f:
        arrays = {k: f[k] for k in f.files}
    return request.param, tfl, arrays, (d / "README.md").read_text()


def test_zoo_has_the_five_models():
    assert NAMES == ["codec-encoder", "ecg-cae-encoder", "ecg-cae-decoder", "ecg-beat-cnn", "image-encoder"]
    for n in NAMES:
        for f in ("model.tflite", "heldout.npz", "README.md"):
            assert (zoo.ZOO_DIR / n / f).is_file(), f"{n}/{f} missing: run `tinycodec zoo`"


def test_zoo_stays_small():
    total = sum((zoo.ZOO_DIR / n / f).stat().st_size for n in NAMES for f in ("model.tflite", "heldout.npz"))
    assert total < 1_100_000


def test_int8_io_and_heldout_shapes(model):
    name, tfl, a, _ = model
    io_ = zoo.io_details(tfl)
    assert io_["input"]["dtype"] == "int8" and io_["output"]["dtype"] == "int8"
    assert io_["input"]["shape"][0] == 1 and io_["output"]["shape"][0] == 1
    x = a["x"]
    assert x.dtype == np.int8 and len(x) >= 100
    assert x.shape == (len(x),) + io_["input"]["shape"]
    assert a["y_float"].dtype == np.float32 and a["y_float"].shape == (len(x),) + io_["output"]["shape"]
    assert a["y_tflm"].dtype == np.int8 and a["y_tflm"].shape == a["y_float"].shape
    if "labels" in a:
        assert a["labels"].shape == (len(x),)
    assert len(np.unique(x)) > 16, "held-out inputs look degenerate"


def test_runs_in_tflite_micro_and_matches_the_float_model(model):
    name, tfl, a, _ = model
    y = zoo.run_tflm(tfl, a["x"]).reshape(a["y_tflm"].shape)
    np.testing.assert_array_equal(y, a["y_tflm"])
    io_ = zoo.io_details(tfl)
    yd = zoo.dequantize(y, io_["output"]["scale"], io_["output"]["zero_point"])
    r = np.corrcoef(yd.ravel(), a["y_float"].ravel())[0, 1]
    assert r > 0.9, f"{name}: int8 output correlates {r:.3f} with the float model"


def test_op_set_is_the_cards(model):
    name, tfl, _, card = model
    assert zoo.card_ops(card) == sorted(set(zoo.tflite_ops(tfl)))


def test_expected_ops_are_exercised():
    ops = {n: set(zoo.tflite_ops((zoo.ZOO_DIR / n / "model.tflite").read_bytes())) for n in NAMES}
    assert ops["codec-encoder"] == {"FULLY_CONNECTED", "LOGISTIC"}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D"} <= ops["ecg-cae-encoder"]
    assert "RESIZE_NEAREST_NEIGHBOR" in ops["ecg-cae-decoder"] and "TILE" not in ops["ecg-cae-decoder"]
    assert {"ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION", "MUL", "LOGISTIC",
            "FULLY_CONNECTED", "SOFTMAX"} <= ops["ecg-beat-cnn"]
    assert {"PAD", "CONV_2D", "DEPTHWISE_CONV_2D", "TANH"} <= ops["image-encoder"]


def test_codec_encoder_is_the_projects_encoder():
    from toolchain.codecs import ae_codec
    from toolchain.pipeline import get_model
    fm = get_model(zoo.CODEC_MODEL)
    d = zoo.ZOO_DIR / "codec-encoder"
    with np.load(d / "heldout.npz") as f:
        X, xq, y_float = f["x_float"], f["x"], f["y_float"]
    X = X[:: max(1, len(X) // 16)]  # a few windows are enough
    keras_model = zoo.codec_encoder_keras(fm, batch_size=None)  # weights from model.json, no training
    yk = keras_model.predict(X, verbose=0)
    # the project's float encoder, FloatAE.encode(sphere(x)), with the real-valued window mean
    np.testing.assert_allclose(yk, zoo.codec_float_encode(fm, X), atol=1e-5)
    # ... and with toolchain.train.fit.sphere itself (mean rounded to an integer, as on the device)
    np.testing.assert_allclose(yk, zoo.codec_float_encode(fm, X, exact_mean=False), atol=2e-3)
    # ... and the integer codec, at 14 bits per latent unit
    code = ae_codec.encode_latent(fm, X.astype(np.int64), ae_codec.window_mean(fm, X.astype(np.int64)), 14)
    np.testing.assert_allclose(yk, code / 2.0 ** 14, atol=4e-3)
    # the committed float outputs and int8 inputs are these windows
    with np.load(d / "heldout.npz") as f:
        np.testing.assert_allclose(keras_model.predict(f["x_float"], verbose=0),
                                   f["y_float"].reshape(len(f["x_float"]), -1), atol=1e-5)
    io_ = zoo.io_details((d / "model.tflite").read_bytes())
    with np.load(d / "heldout.npz") as f:
        q = zoo.quantize_like_tflite(f["x_float"], io_["input"]["scale"], io_["input"]["zero_point"])
    np.testing.assert_array_equal(q.reshape(xq.shape), xq)


def test_quantize_like_tflite_rounds_half_away_from_zero():
    q = zoo.quantize_like_tflite(np.array([0.5, -0.5, 1.5, -1.5, 1000.0, -1000.0]), 1.0, 0)
    assert q.tolist() == [1, -1, 2, -2, 127, -128]
    assert zoo.quantize_like_tflite(np.array([2.5]), 1.0, -3).tolist() == [0]
