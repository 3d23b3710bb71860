"""K210 target: KPU placement checker, KPU-friendly ECG layout, nncase stage, platformio.ini, bench.

Placement expectations are nncase 1.9's real decisions (checked by compiling each case with nncase
1.9.0 when writing the checker, and again here when nncase is installed: `make setup-nncase`).
nncase detection is tested with fake interpreters on a temporary PATH: that tests our detection
logic, not nncase.
"""
from __future__ import annotations

import configparser
import csv
import json
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from toolchain import REPO_ROOT
from toolchain.kendryte import nncase_stage as nn
from toolchain.kendryte.kpu import FAQ_LIMITS, kpu_bytes, kpu_summary, place_model
from toolchain.platformio import write_platformio_ini
from toolchain.nn.tflite_model import Graph, Operator, Quant, Tensor

ZOO = REPO_ROOT / "models" / "zoo"


def _by_index(name: str) -> dict:
    return {p.index: p for p in place_model(ZOO / name / "model.tflite")}


# ---------------------------------------------------------------- zoo placements

def test_ecg_cae_encoder_1xk_convs_fall_back_to_the_cpu():
    p = _by_index("ecg-cae-encoder")
    assert (p[1].op, p[1].placement) == ("CONV_2D", "CPU")
    assert p[1].reason == "kernel 1x7: KPU supports 1x1 and 3x3 only"
    assert (p[2].op, p[2].placement) == ("DEPTHWISE_CONV_2D", "CPU")
    assert "kernel 1x5" in p[2].reason
    # the 1x1 conv on a 64x1 map: nncase pads it to 4 rows and runs it on the KPU
    assert (p[3].placement, p[3].partial) == ("KPU", True)
    assert "input 64x1 (WxH) is below the KPU's 4x4 minimum" in p[3].reason
    assert p[4].placement == "CPU" and "kernel 1x3" in p[4].reason
    assert p[0].placement == p[5].placement == "none"     # reshapes
    s = kpu_summary(list(p.values()))
    assert (s["macs"], s["kpu_macs"]) == (16896, 4096)


def test_ecg_cae_decoder_runs_entirely_on_the_cpu():
    pl = place_model(ZOO / "ecg-cae-decoder" / "model.tflite")
    convs = [p for p in pl if p.op == "CONV_2D"]
    assert [p.reason for p in convs] == ["kernel 1x5: KPU supports 1x1 and 3x3 only"] * 2 + \
        ["kernel 1x7: KPU supports 1x1 and 3x3 only"] * 2
    assert all(p.placement == "CPU" for p in pl if p.op == "RESIZE_NEAREST_NEIGHBOR")
    assert kpu_summary(pl)["kpu_mac_share"] == 0.0


def test_ecg_beat_cnn_placements():
    p = _by_index("ecg-beat-cnn")
    assert p[1].placement == "CPU" and p[1].reason.startswith("kernel 1x7")
    assert p[2].placement == "CPU" and "window 1x2 stride 1x2" in p[2].reason       # MaxPooling1D
    assert p[5].placement == "CPU" and p[5].op == "ADD"
    assert (p[13].placement, p[13].partial) == ("KPU", True)                         # 1x1 gate conv
    assert (p[14].op, p[14].placement) == ("LOGISTIC", "none")                       # fused into it
    assert "fused into op 13's KPU activation" in p[14].reason
    assert [p[i].placement for i in (20, 21)] == ["KPU", "KPU"]                       # FCs
    assert "FULLY_CONNECTED 128 -> 16 as a 1x1 conv" in p[20].reason
    assert p[22].placement == "CPU" and p[22].op == "SOFTMAX"


def test_image_encoder_is_all_kpu():
    p = _by_index("image-encoder")
    # ZeroPadding2D(1) + VALID 3x3/s2 = symmetric padding: no CPU help at all
    assert (p[0].op, p[0].placement) == ("PAD", "none") and "folded into op 1" in p[0].reason
    assert (p[1].placement, p[1].partial) == ("KPU", False)
    assert p[1].reason == "KPU: 3x3 stride 2 conv, 3 -> 8 channels, 32x32 -> 16x16, fused RELU"
    assert (p[2].placement, p[2].partial) == ("KPU", False)
    assert (p[3].placement, p[3].partial) == ("KPU", False)
    # SAME 3x3/s2 on an even 16x16 map pads 0 before, 1 after: nncase pads / crops on the CPU
    assert (p[4].placement, p[4].partial) == ("KPU", True)
    assert "padding t/b/l/r 0/1/0/1 is not the KPU's symmetric 1" in p[4].reason
    assert (p[5].op, p[5].placement) == ("TANH", "none")
    s = kpu_summary(list(p.values()))
    assert s["kpu_mac_share"] == 1.0 and s["kpu_layers"] == 4
    assert s["peak_kpu_bytes"] == kpu_bytes(32, 32, 3) + kpu_bytes(16, 16, 8)


def test_codec_encoder_fc_on_kpu_sigmoid_on_cpu():
    p = _by_index("codec-encoder")
    assert [p[i].placement for i in range(3)] == ["KPU", "KPU", "CPU"]
    assert "nncase 1.9 fuses activations into KPU convs, not into" in p[2].reason


# ---------------------------------------------------------------- synthetic boundary cases

class _G:
    """A tiny TFLite-like Graph built by hand (what read_tflite returns)."""

    def __init__(self, shape):
        self.tensors: list[Tensor] = []
        self.ops: list[Operator] = []
        self.x = self.t(shape)
        self.cur = self.x

    def t(self, shape, data=None, name=None):
        i = len(self.tensors)
        q = Quant(np.ones(1, np.float32), np.zeros(1, np.int64), 0)
        self.tensors.append(Tensor(i, name or f"t{i}", tuple(shape), "int8", q, data, False))
        return i

    def op(self, opcode, inputs, out_shape, **options):
        o = self.t(out_shape)
        self.ops.append(Operator(len(self.ops), opcode, 1, None, tuple(inputs), (o,), options))
        self.cur = o
        return self

    def conv(self, cout, k, s=1, padding="SAME", depthwise=False, act="NONE", dil=1):
        n, h, w, cin = self.tensors[self.cur].shape
        kh, kw = (k, k) if isinstance(k, int) else k
        if padding == "SAME":
            ho, wo = -(-h // s), -(-w // s)
        else:
            ho, wo = (h - (kh - 1) * dil - 1) // s + 1, (w - (kw - 1) * dil - 1) // s + 1
        wshape = (1, kh, kw, cout) if depthwise else (cout, kh, kw, cin)
        wt = self.t(wshape, np.zeros(wshape, np.int8))
        b = self.t((cout,), np.zeros(cout, np.int32))
        opts = dict(padding=padding, stride_w=s, stride_h=s, fused_activation_function=act,
                    dilation_w_factor=dil, dilation_h_factor=dil)
        if depthwise:
            opts["depth_multiplier"] = 1
        return self.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", (self.cur, wt, b),
                       (n, ho, wo, cout), **opts)

    def pool(self, k, s, kind="MAX_POOL_2D", padding="VALID"):
        n, h, w, c = self.tensors[self.cur].shape
        return self.op(kind, (self.cur,), (n, h // s, w // s, c), padding=padding, stride_w=s,
                       stride_h=s, filter_width=k, filter_height=k, fused_activation_function="NONE")

    def pad(self, t, b, l, r):
        n, h, w, c = self.tensors[self.cur].shape
        pads = self.t((4, 2), np.array([[0, 0], [t, b], [l, r], [0, 0]], np.int32))
        return self.op("PAD", (self.cur, pads), (n, h + t + b, w + l + r, c))

    def fc(self, nout):
        k = int(np.prod(self.tensors[self.cur].shape[1:]))
        wt = self.t((nout, k), np.zeros((nout, k), np.int8))
        return self.op("FULLY_CONNECTED", (self.cur, wt), (1, nout), fused_activation_function="NONE")

    def graph(self) -> Graph:
        return Graph(self.tensors, self.ops, (self.x,), (self.cur,), "g", "", 3, 1)


def _last(g: _G, limits=None):
    pl = place_model(g.graph()) if limits is None else place_model(g.graph(), limits)
    return pl[-1]


def test_input_size_limits():
    ok = _last(_G((1, 240, 320, 3)).conv(4, 3))
    assert (ok.placement, ok.partial) == ("KPU", False)
    assert ok.kpu_bytes == kpu_bytes(320, 240, 3) + kpu_bytes(320, 240, 4)
    assert _last(_G((1, 240, 320, 3)).conv(4, 3), FAQ_LIMITS).placement == "KPU"
    # 321 wide: outside the FAQ's documented 320x240, inside what nncase 1.9 enforces (512x256)
    faq = _last(_G((1, 240, 321, 3)).conv(4, 3), FAQ_LIMITS)
    assert faq.placement == "CPU" and "input 321x240 (WxH) exceeds the KPU's 320x240" in faq.reason
    assert _last(_G((1, 240, 321, 3)).conv(4, 3)).placement == "KPU"
    assert _last(_G((1, 256, 512, 3)).conv(4, 3)).placement == "KPU"
    wide = _last(_G((1, 64, 513, 3)).conv(4, 3))
    assert wide.placement == "CPU" and "exceeds the KPU's 512x256" in wide.reason
    assert _last(_G((1, 257, 64, 3)).conv(4, 3)).placement == "CPU"


def test_kernel_stride_and_padding():
    s2 = _last(_G((1, 17, 17, 8)).conv(8, 3, s=2))            # SAME on odd: pad 1/1, odd size
    assert s2.placement == "KPU" and "CPU pads it to even" in s2.reason
    s2_even = _last(_G((1, 16, 16, 8)).pad(1, 1, 1, 1).conv(8, 3, s=2, padding="VALID"))
    assert (s2_even.placement, s2_even.partial) == ("KPU", False)
    assert s2_even.reason == "KPU: 3x3 stride 2 conv, 8 -> 8 channels, 16x16 -> 8x8"
    k5 = _last(_G((1, 16, 16, 8)).conv(8, 5))
    assert (k5.placement, k5.reason) == ("CPU", "kernel 5x5: KPU supports 1x1 and 3x3 only")
    s3 = _last(_G((1, 18, 18, 8)).conv(8, 3, s=3))
    assert s3.placement == "KPU" and "stride 3x3: KPU computes stride 1, CPU keeps one value in 3x3" in s3.reason
    dw2 = _last(_G((1, 16, 16, 8)).conv(8, 3, s=2, depthwise=True))
    assert dw2.placement == "KPU" and "depthwise stride 2" in dw2.reason
    dil = _last(_G((1, 16, 16, 8)).conv(8, 3, dil=2))
    assert dil.placement == "CPU" and "dilation 2x2" in dil.reason
    valid = _last(_G((1, 16, 16, 8)).conv(8, 3, padding="VALID"))
    assert valid.partial and "padding t/b/l/r 0/0/0/0" in valid.reason


def test_channels_and_small_maps():
    c = _last(_G((1, 8, 8, 4)).conv(1025, 1))
    assert c.placement == "CPU" and c.reason == "4 -> 1025 channels: KPU supports 1-1024"
    assert _last(_G((1, 8, 8, 4)).conv(1024, 1)).placement == "KPU"
    out3 = _last(_G((1, 6, 6, 8)).conv(8, 3, s=2))            # output 3x3
    assert out3.placement == "KPU" and out3.partial and "output 3x3 below 4x4" in out3.reason
    in3 = _last(_G((1, 3, 3, 8)).conv(8, 3))                  # nncase pads 3x3 -> 4x4
    assert in3.partial and "CPU pads it to 4x4" in in3.reason
    assert _last(_G((1, 4, 4, 8)).conv(8, 3)).partial is False
    fc = _last(_G((1, 32)).fc(1100))
    assert fc.placement == "CPU" and "32 -> 1100 features" in fc.reason


def test_kpu_ram_limit():
    big = _last(_G((1, 240, 320, 32)).conv(32, 3))
    assert big.placement == "CPU"
    assert "feature maps need 4915200 B of KPU RAM > 2097152 B" in big.reason
    ok = _last(_G((1, 240, 320, 8)).conv(8, 3))
    assert ok.placement == "KPU" and ok.kpu_bytes == 1228800


def test_kpu_bytes_formula():
    # nncase get_kpu_bytes: 64-byte rows; W <= 16 packs 4 channels per row, W <= 32 packs 2
    assert kpu_bytes(16, 16, 8) == 64 * 16 * 2
    assert kpu_bytes(4, 4, 1) == 64 * 4
    assert kpu_bytes(32, 32, 3) == 64 * 32 * 2
    assert kpu_bytes(33, 10, 3) == 64 * 10 * 3
    assert kpu_bytes(320, 240, 1) == 5 * 64 * 240


def test_pooling_and_activation_fusion():
    pl = place_model(_G((1, 16, 16, 8)).conv(8, 3, act="RELU").pool(2, 2).graph())
    assert pl[1].placement == "none" and "KPU pooling (max 2x2 stride 2)" in pl[1].reason
    assert pl[0].kpu_bytes == kpu_bytes(16, 16, 8) + kpu_bytes(8, 8, 8)
    dw = place_model(_G((1, 16, 16, 8)).conv(8, 3, depthwise=True).pool(2, 2).graph())
    assert dw[1].placement == "CPU" and "depthwise" in dw[1].reason
    p3 = place_model(_G((1, 16, 16, 8)).conv(8, 3).pool(3, 3).graph())
    assert p3[1].placement == "CPU" and "window 3x3 stride 3x3" in p3[1].reason
    g = _G((1, 16, 16, 8)).conv(8, 3)
    g.op("LOGISTIC", (g.cur,), g.tensors[g.cur].shape)
    assert place_model(g.graph())[1].placement == "none"
    g = _G((1, 16, 16, 8)).conv(8, 3)
    g.op("PRELU", (g.cur,), g.tensors[g.cur].shape)
    assert place_model(g.graph())[1].placement == "CPU"


# ---------------------------------------------------------------- KPU-friendly layout

def test_kpu_friendly_ecg_encoder_moves_the_macs_to_the_kpu():
    from toolchain.kendryte.kpu.layout import compare_placement, ecg_encoder_kpu_tflite, kpu_fold
    from toolchain.nn.tflite_model import read_tflite
    assert kpu_fold(256) == (16, 16)
    with pytest.raises(ValueError, match="no H x W fold"):
        kpu_fold(13)
    tfl = ecg_encoder_kpu_tflite()
    g = read_tflite(tfl)
    assert g.tensors[g.inputs[0]].shape == (1, 256, 1) and g.tensors[g.inputs[0]].dtype == "int8"
    assert int(np.prod(g.tensors[g.outputs[0]].shape)) == 128       # same latent size as 32 x 4
    cmp = compare_placement(ZOO / "ecg-cae-encoder" / "model.tflite", tfl)
    assert cmp["variant"]["kpu_mac_share"] > cmp["original"]["kpu_mac_share"]
    assert cmp["variant"]["kpu_mac_share"] == 1.0 and cmp["variant"]["cpu_layers"] == 0
    assert cmp["original"]["kpu_mac_share"] < 0.25


# ---------------------------------------------------------------- nncase stage

def _fake(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _py(path: Path, version: str, nncase: str | None = None, kpu: str | None = None) -> Path:
    d = {"version": [int(v) for v in version.split(".")], "nncase": nncase, "nncase_kpu": kpu}
    return _fake(path, f"echo '{json.dumps(d)}'")


@pytest.fixture
def fake_env(tmp_path):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    kw = dict(path=str(bin_), pyenv_root=tmp_path / "pyenv", venv_dir=tmp_path / "no-venv")
    return bin_, kw


def test_detection_without_an_old_python(fake_env):
    bin_, kw = fake_env
    _py(bin_ / "python3", "3.11.7")
    _fake(bin_ / "python3.10", "echo 'pyenv: python3.10: command not found' >&2; exit 127")  # a shim
    st = nn.detect_nncase(**kw)
    assert not st.available("k210") and not st.available("k230")
    msg = st.message()
    assert "nncase 1.9 for the K210 needs Python <= 3.10: none found on PATH" in msg
    assert "(have python3.11)" in msg and "pyenv install 3.10.14" in msg and "make setup-nncase" in msg
    assert "nncase 2.x for the K230 needs the .NET 7 runtime: `dotnet` not found" in msg
    assert nn.DOTNET_URL in msg
    # compile_kmodel refuses before it looks at anything else
    with pytest.raises(nn.NncaseUnavailable, match="needs Python <= 3.10"):
        nn.compile_kmodel(Path("/nonexistent.tflite"), np.zeros((1, 1)), "k210", Path("/x.kmodel"),
                          status=st)
    with pytest.raises(nn.NncaseUnavailable, match="dotnet"):
        nn.simulate_kmodel(Path("/x.kmodel"), Path("/x.tflite"), np.zeros((1, 1)), "k230", status=st)


def test_detection_finds_python_without_nncase_then_with(fake_env, tmp_path):
    bin_, kw = fake_env
    _py(bin_ / "python3.10", "3.10.13")
    st = nn.detect_nncase(**kw)
    assert not st.available("k210")
    assert "nncase 1.x for the K210 is not installed: Python 3.10.13" in st.k210_missing
    assert "make setup-nncase" in st.k210_missing
    # nncase 1.9 in a pyenv version that is not on PATH
    py39 = _py(tmp_path / "pyenv" / "versions" / "3.9.18" / "bin" / "python3.9", "3.9.18",
               nncase="1.9.0.20230322")
    st = nn.detect_nncase(**kw)
    assert st.available("k210") and st.k210_python == str(py39)
    assert st.require("k210") == str(py39)
    # the project's venv comes first
    venv_py = _py(tmp_path / "no-venv" / "bin" / "python", "3.10.13", nncase="1.8.0.20220929")
    assert nn.detect_nncase(**kw).k210_python == str(venv_py)


def test_detection_k230_dotnet(fake_env):
    bin_, kw = fake_env
    _py(bin_ / "python3", "3.11.7", nncase="2.11.0", kpu="2.11.0")
    _fake(bin_ / "dotnet", "echo 'Microsoft.NETCore.App 8.0.1 [/usr/share/dotnet/shared/Microsoft.NETCore.App]'")
    st = nn.detect_nncase(**kw)
    assert not st.available("k230")
    assert "needs the .NET 7 runtime (Microsoft.NETCore.App 7.x)" in st.k230_missing
    assert "has Microsoft.NETCore.App 8.0.1" in st.k230_missing
    _fake(bin_ / "dotnet", "echo 'Microsoft.NETCore.App 7.0.20 [/usr/share/dotnet/shared/Microsoft.NETCore.App]'")
    st = nn.detect_nncase(**kw)
    assert st.available("k230") and st.k230_nncase == "2.11.0"
    assert not st.available("k210")          # nncase 2.x does not do the K210


def test_generated_scripts_are_python():
    for target in ("k210", "k230"):
        src = nn.nncase_script(target)
        compile(src, f"nncase_{target}.py", "exec")
        for needle in ("nncase.CompileOptions()", f'co.target = "{target}"', "import_tflite",
                       "PTQTensorOptions", "use_ptq", "gencode_tobytes", "nncase.Simulator()"):
            assert needle in src
    assert "tobytes()" in nn.nncase_script("k210")
    assert "[[s] for s in calib]" in nn.nncase_script("k230")
    with pytest.raises(ValueError, match="expected one of k210, k230"):
        nn.nncase_script("k510")


def test_compile_refuses_int8_models_and_bad_calibration(tmp_path):
    st = nn.NncaseStatus(k210_python="/nonexistent/python", k210_nncase="1.9.0.20230322")
    with pytest.raises(ValueError, match="float_tflite_from_int8"):
        nn.compile_kmodel(ZOO / "codec-encoder" / "model.tflite", np.zeros((4, 32)), "k210",
                          tmp_path / "m.kmodel", status=st)
    assert nn._samples(np.zeros((4, 32)), (1, 32), "c").shape == (4, 1, 32)
    with pytest.raises(ValueError, match=r"the model input is \(1, 32\)"):
        nn._samples(np.zeros((4, 31)), (1, 32), "calibration data")


def _pb(field: int, payload: bytes) -> bytes:
    def varint(v):
        out = b""
        while True:
            b, v = v & 0x7F, v >> 7
            out += bytes([b | (0x80 if v else 0)])
            if not v:
                return out
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def test_nncase_dump_parsing(tmp_path):
    d = tmp_path / "ir_merge_module_regions"
    d.mkdir()

    def model(*nodes):
        return _pb(7, b"".join(_pb(1, _pb(3, n.encode()) + _pb(4, o.encode())) for n, o in nodes))
    (d / "k210_0.nnir.pb").write_bytes(model(("net/conv1;net/conv1/x/conv", "KPUConv2D"),
                                             ("net/conv1;net/conv1/x/kpu_download", "KPUUpload")))
    (d / "main.nnir.pb").write_bytes(model(("net/conv1;net/conv1/x(pre_pad)", "Pad"),
                                           ("net/conv2;y/conv", "Conv2D"), ("net/conv2", "Bitcast"),
                                           ("output_F", "TableLookup1D")))
    nodes = nn.nncase_placement(tmp_path)
    assert {n.op for n in nodes} == {"KPUConv2D", "Pad", "Conv2D", "TableLookup1D"}
    got = nn.layer_placements_nncase(["net/conv1;net/conv1/x", "net/conv2;y", "net/conv2", "out:0"],
                                     nodes, output_tensor="out:0")
    assert got == [("KPU", "KPUConv2D + CPU Pad"), ("CPU", "Conv2D"),
                   ("none", "no compute node of its own (fused or only moved)"),
                   ("CPU", "TableLookup1D")]
    with pytest.raises(FileNotFoundError, match="no .nnir.pb"):
        nn.nncase_placement(tmp_path / "empty")


def test_float_twin_of_an_int8_model():
    from toolchain.kendryte.kpu.float_tflite import float_tflite_from_int8
    from toolchain.nn.tflite_model import read_tflite
    from toolchain.train.zoo import dequantize
    tfl = (ZOO / "ecg-cae-encoder" / "model.tflite").read_bytes()
    g8, gf = read_tflite(tfl), read_tflite(float_tflite_from_int8(tfl))
    assert [o.opcode for o in g8.operators] == [o.opcode for o in gf.operators]
    assert gf.tensors[gf.inputs[0]].dtype == "float32" and gf.tensors[gf.inputs[0]].quant is None
    w8, wf = g8.tensors[g8.operators[1].inputs[1]], gf.tensors[gf.operators[1].inputs[1]]
    np.testing.assert_allclose(wf.data, dequantize(w8.data, 1.0, 0) * w8.quant.scale[:, None, None, None],
                               rtol=1e-6)


def test_real_nncase_when_installed(tmp_path):
    """With nncase 1.9 (make setup-nncase): compile + simulate + placement agree with the checker.
    Without it: the stage refuses with the message that says how to get it."""
    st = nn.detect_nncase()
    from toolchain.kendryte.kpu.float_tflite import float_tflite_from_int8
    from toolchain.bench.kpu import _heldout_float
    tfl = (ZOO / "image-encoder" / "model.tflite").read_bytes()
    ft = tmp_path / "f.tflite"
    ft.write_bytes(float_tflite_from_int8(tfl))
    x = _heldout_float("image-encoder", tfl)
    if not st.available("k210"):
        with pytest.raises(nn.NncaseUnavailable, match="K210"):
            nn.compile_kmodel(ft, x[:8], "k210", tmp_path / "m.kmodel", status=st)
        return
    km = nn.compile_kmodel(ft, x[:16], "k210", tmp_path / "m.kmodel", dump_dir=tmp_path / "d", status=st)
    head = km.read_bytes()[:8]       # "KMDL" as a little-endian uint32, then the kmodel version
    assert head[:4] == b"LDMK" and int.from_bytes(head[4:], "little") == 5
    sim = nn.simulate_kmodel(km, ft, x[16:32], status=st)
    assert sim.n == 16 and sim.mean_abs_err < 0.1 * sim.ref_mean_abs
    pl = place_model(tfl)
    g_out = [p.tensor for p in pl][-1]
    got = nn.layer_placements_nncase([p.tensor for p in pl], nn.nncase_placement(tmp_path / "d"), g_out)
    assert [w for w, _ in got] == [p.placement for p in pl]


# ---------------------------------------------------------------- platformio.ini

def _ini(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser()
    cp.read(path)
    return cp


@pytest.mark.parametrize("board, platform, pio_board, framework", [
    ("k210", "kendryte210", "sipeed-maix-bit", "kendryte-standalone-sdk"),
    ("msp430g2553", "timsp430", "lpmsp430g2553", None),
    ("msp430f5529", "timsp430", "lpmsp430f5529", None),
    ("msp430f1611", "timsp430", "lpmsp430g2553", None),
])
def test_platformio_ini(tmp_path, board, platform, pio_board, framework):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    ini = write_platformio_ini(tmp_path, board)
    cp = _ini(ini)
    env = cp[f"env:{board}"]
    assert (env["platform"], env["board"]) == (platform, pio_board)
    assert env.get("framework") == framework
    assert cp["platformio"]["src_dir"] == "src" and cp["platformio"]["default_envs"] == board
    if board == "msp430f1611":
        assert env["board_build.mcu"] == "msp430f1611"
    pio = REPO_ROOT / ".venv" / "bin" / "pio"
    if pio.exists():    # PlatformIO checks the file offline
        r = subprocess.run([str(pio), "project", "config", "-d", str(tmp_path), "--json-output"],
                           capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 0, r.stderr
        assert platform in r.stdout


def test_platformio_ini_errors(tmp_path):
    with pytest.raises(ValueError, match="no PlatformIO mapping for board 'avr'"):
        write_platformio_ini(tmp_path, "avr")
    with pytest.raises(FileNotFoundError, match="generate the project first"):
        write_platformio_ini(tmp_path / "missing", "k210")
    flat = write_platformio_ini(tmp_path, "sipeed-maixduino")      # a PlatformIO id, flat project
    assert _ini(flat)["platformio"]["src_dir"] == "."
    assert _ini(flat)["env:sipeed-maixduino"]["platform"] == "kendryte210"


# ---------------------------------------------------------------- bench

def test_bench_writes_the_csv(tmp_path):
    from toolchain.bench.kpu import FIELDS, run_bench
    out = tmp_path / "k210_kpu.csv"
    lines: list[str] = []
    rows = run_bench(["codec-encoder"], out=out, variant=False, log=lines.append)
    assert FIELDS == ["model", "layer", "op", "placement", "reason", "kpu_bytes", "nncase_placement",
                      "nncase_max_abs_err", "nncase_mean_abs_err", "nncase_note"]
    with out.open() as f:
        r = csv.DictReader(f)
        assert r.fieldnames == FIELDS
        got = list(r)
    assert len(got) == len(rows) == 3
    assert [g["placement"] for g in got] == ["KPU", "KPU", "CPU"]
    assert any(line.startswith("codec-encoder: KPU 2") for line in lines)
    st = nn.detect_nncase()
    if st.available("k210"):
        assert [g["nncase_placement"] for g in got] == ["KPU", "KPU", "CPU"]
        assert float(got[0]["nncase_max_abs_err"]) >= 0
    else:   # the nncase columns stay empty and say why
        assert all(g["nncase_placement"] == g["nncase_max_abs_err"] == "" for g in got)
        assert all(g["nncase_note"] == st.message() for g in got)
    with pytest.raises(ValueError, match="not in"):
        run_bench(["no-such-model"], out=out)
