"""The K210 target: k210 (real board: built, sized, flashed with kflash) and its emulated twin
k210-qemu (QEMU virt, exact instruction counts, a pty like a USB-serial port), the kmodel
firmware's SDK checks, and flashing through a fake K210 ISP peer."""
from __future__ import annotations

import binascii
import dataclasses
import importlib.util
import os
import re
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import serial

from host_tools.testing.fake_k210_isp import FakeK210, SlipDecoder, slip_encode
from host_tools.kflash_pty import is_pty
from toolchain import REPO_ROOT
from toolchain.boards import load_board
from toolchain.codecs.c_render import worst_case_bits
from toolchain.kendryte.kmodel import SDK_FILES, SDK_URL, K210SdkError, build_kmodel_firmware, find_sdk
from toolchain.families.qemu import run_qemu, start_qemu_pty
from toolchain.families.common import section_sizes
from toolchain.pipeline import build, get_model, pack_input, parse_output, run, verify
from toolchain.train.datasets import prepare

MODEL = "gsb-temporal"
K210, TWIN = load_board("k210"), load_board("k210-qemu")
CLI = [sys.executable, "-m", "toolchain.cli"]


def held_out(k: int) -> np.ndarray:
    test = prepare(MODEL).test
    idx = np.linspace(0, len(test) - 1, min(k, len(test))).round().astype(int)
    return test[idx]


@pytest.fixture(scope="module")
def fm():
    return get_model(MODEL)


@pytest.fixture(scope="module")
def twin_built(fm):
    return build(fm, TWIN)


@pytest.fixture(scope="module")
def k210_built(fm):
    return build(fm, K210)


def test_boards_are_data_and_twins():
    assert K210.arch == TWIN.arch == "riscv" and not K210.simulate and TWIN.simulate
    assert "k210-qemu" in K210.simulate_reason and K210.twin == "k210-qemu"
    # the twin shares the startup, layout and common HAL, and the memory map and clock
    assert K210.cfg.linker_script.resolve() == TWIN.cfg.linker_script.resolve()
    assert {p.resolve() for p in K210.cfg.runtime_sources} - {p.resolve() for p in TWIN.cfg.runtime_sources} \
        == {(K210.dir / "tc_hal.c").resolve()}
    for b in (K210, TWIN):
        assert (b.ram_origin, b.ram_bytes, b.clock_hz) == (0x80000000, 6 * 2**20, 400_000_000)
        assert (b.raw["memory"]["kpu_ram_origin"], b.raw["memory"]["kpu_ram_bytes"]) == (0x80600000, 2 * 2**20)
    assert K210.raw["uart"] == {"kind": "uarths", "base": 0x38000000, "baud": 115200}
    hal = (K210.dir / "tc_hal_k210.h").read_text()
    assert f"TC_HAL_UART_BAUD {K210.raw['uart']['baud']}u" in hal and "0x38000000" in (K210.dir / "tc_hal.c").read_text()
    assert (K210.flasher_tool, K210.flasher_driver, K210.raw["flasher"]["port"]) == ("kflash", "dan", "/dev/ttyUSB0")
    assert 0.2 < K210.active_current_a * K210.voltage_v < 0.4 and K210.raw["kpu"]["kernels"] == ["1x1", "3x3"]
    assert "-m" in TWIN.cfg.qemu_args and "8M" in TWIN.cfg.qemu_args and "shift=0" in TWIN.cfg.qemu_args
    assert 'TC_HAL_COUNTER_KIND "cycle"' in K210.hal_header.read_text()
    assert 'TC_HAL_COUNTER_KIND "instret"' in TWIN.hal_header.read_text()


def test_twin_200_held_out_windows_bit_exact_and_counts_deterministic(fm, twin_built):
    X = held_out(200)
    eps = prepare(MODEL).spec.eps[1]
    first = run(fm, twin_built, X, eps)
    v = verify(fm, X, eps, first)
    assert v.windows == len(X) == 200
    assert v.bit_exact == 200, f"windows {v.mismatches} differ from the Python reference"
    assert v.violations == 0 and v.max_abs_err <= eps
    ins = [w.instructions for w in first]
    assert all(isinstance(n, int) and n > 0 for n in ins)
    assert all(w.cycles is None for w in first)  # QEMU counts instructions, not cycles
    second = run(fm, twin_built, X, eps)
    assert [w.instructions for w in second] == ins
    assert [(w.data, w.nbits) for w in second] == [(w.data, w.nbits) for w in first]


def test_cli_run_reports_instructions_per_window():
    p = subprocess.run([*CLI, "run", "--model", MODEL, "--target", "k210-qemu", "--windows", "30", "--eps", "10"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert re.search(r"k210-qemu gsb-temporal eps=10: 30/30 windows bit-exact, 0 bound violations .*"
                     r", \d+ instructions/window \(exact, QEMU -icount\)", p.stdout), p.stdout


def test_k210_image_builds_elf_and_bin_that_fit(k210_built):
    b = k210_built
    assert b.artifact.suffix == ".elf" and b.artifact.is_file() and b.image.suffix == ".bin" and b.image.is_file()
    size = b.image.stat().st_size
    assert 0 < size <= K210.ram_bytes and b.flash_bytes + b.ram_bytes + b.stack_reserve <= K210.ram_bytes
    # the BIN is the ELF's loadable bytes from 0x80000000, where the ROM jumps: _start first
    secs = section_sizes(b.artifact, K210.cfg.size)
    assert size >= secs[".text"] and size - b.flash_bytes < 64
    nm = subprocess.run([K210.cfg.nm, str(b.artifact)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^0*80000000 T _start$", nm, re.MULTILINE)
    text = subprocess.run([K210.cfg.objcopy, "-O", "binary", "-j", ".text", str(b.artifact), "/dev/stdout"],
                          capture_output=True, check=True).stdout
    assert b.image.read_bytes().startswith(text[:64])


def test_running_the_real_board_points_to_its_twin(fm, k210_built):
    with pytest.raises(RuntimeError, match=r"k210 cannot be run here: .*--target k210-qemu"):
        run(fm, k210_built, held_out(2), 10)


def test_crt0_parks_hart_1(fm, twin_built):
    """With two harts and no -icount, QEMU runs both in parallel (MTTCG): hart 1 starts at
    _start too. Parked, it leaves hart 0's output exactly as with one hart."""
    X = held_out(40)
    ref = run(fm, twin_built, X, 10)
    args = [a for a in TWIN.cfg.qemu_args]
    i = args.index("-icount")
    smp2_free = dataclasses.replace(TWIN, cfg=dataclasses.replace(TWIN.cfg, qemu_args=[*args[:i], *args[i + 2:], "-smp", "2"]))
    smp2_icount = dataclasses.replace(TWIN, cfg=dataclasses.replace(TWIN.cfg, qemu_args=[*args, "-smp", "2"]))
    for board in (smp2_free, smp2_icount):
        dev = run(fm, dataclasses.replace(twin_built, board=board), X, 10)
        v = verify(fm, X, 10, dev)
        assert v.bit_exact == len(X) and v.violations == 0
        if board is smp2_icount:
            assert [w.instructions for w in dev] == [w.instructions for w in ref]
    # and the whole UART text is clean: one cal line, a w and an n line per window, done, exit
    elf = next((twin_built.artifact.parents[1] / "run").glob("codec_batch.elf"))
    for _ in range(3):
        out = run_qemu(smp2_free, elf, timeout_s=60).stdout
        lines = out.strip().splitlines()
        assert lines[0].startswith("cal instret ") and lines[-3:] == ["done", "", "tc_hal: exit 0"]
        assert len(lines) == 1 + 2 * len(X) + 3  # + done, the exit marker's blank line and itself
        assert all(re.fullmatch(r"(w \d+ \d+ \d+ [0-9a-f]*|n \d+ \d+|cal instret \d+|done|tc_hal: exit 0|)", ln)
                   for ln in lines)


def test_qemu_pty_serves_windows_like_a_board(fm, twin_built):
    """The serve image on a pseudo-terminal: a host tool opens the port like /dev/ttyUSB0."""
    X = held_out(12)
    out_len = 4 + (worst_case_bits(fm) + 7) // 8
    with start_qemu_pty(TWIN, twin_built.artifact) as q:
        assert re.fullmatch(r"/dev/pts/\d+", q.port) and is_pty(q.fd)
        with serial.Serial(q.port, 115200, timeout=10) as s:
            assert s.readline() == f"tinycodec k210-qemu {MODEL} serve n={fm.n} out={out_len}\n".encode()
            dev = []
            for x in X:
                s.write(pack_input(x, 10, fm.latent_bits))
                rec = s.read(out_len)
                assert len(rec) == out_len
                dev.append(parse_output(rec))
        assert q.proc.poll() is None  # still serving
    assert q.proc.returncode is not None
    v = verify(fm, X, 10, dev)
    assert v.bit_exact == len(X) and v.violations == 0


# ---------------------------------------------------------------- kmodel firmware: the SDK

def test_kmodel_build_without_sdk_names_what_and_where(tmp_path):
    km = tmp_path / "m.kmodel"
    km.write_bytes(b"KMDL" + bytes(60))
    with pytest.raises(K210SdkError, match="K210_SDK is not set") as e:
        build_kmodel_firmware(km, [b"\0" * 4], tmp_path / "out", env={})
    assert SDK_URL in str(e.value)
    with pytest.raises(K210SdkError, match="is not a directory"):
        find_sdk({"K210_SDK": str(tmp_path / "nowhere")})


def test_empty_sdk_dir_is_rejected_naming_the_missing_file(tmp_path):
    sdk = tmp_path / "sdk"
    sdk.mkdir()
    with pytest.raises(K210SdkError, match=r"missing lib/drivers/include/kpu\.h") as e:
        build_kmodel_firmware(tmp_path / "m.kmodel", [b"\0"], tmp_path / "out", env={"K210_SDK": str(sdk)})
    assert SDK_URL in str(e.value) and str(sdk) in str(e.value)
    # an SDK with every file but no toolchain: the toolchain is named instead, nothing written
    for f in SDK_FILES:
        (sdk / f).parent.mkdir(parents=True, exist_ok=True)
        (sdk / f).write_text("")
    with pytest.raises(K210SdkError, match=r"K210_TOOLCHAIN=.*nope.*kendryte-gnu-toolchain"):
        build_kmodel_firmware(tmp_path / "m.kmodel", [b"\0"], tmp_path / "out",
                              env={"K210_SDK": str(sdk), "K210_TOOLCHAIN": str(tmp_path / "nope")})
    assert not (sdk / "src").exists()


# ---------------------------------------------------------------- flashing

def tc(*args, timeout=120):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)


def test_flash_k210_without_a_board_fails_fast_and_clearly():
    t0 = time.monotonic()
    p = tc("flash", "--model", MODEL, "--target", "k210", "--port", "/dev/ttyUSB-no-such-port")
    assert p.returncode == 2 and time.monotonic() - t0 < 30
    assert "/dev/ttyUSB-no-such-port does not exist" in p.stderr and "k210" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("board,driver", [("msp430g2553", "ezfet"), ("msp430f1611", "uif"),
                                          ("msp430f5529", "tilib")])
def test_flash_msp430_driver_is_configurable_and_fails_fast(board, driver):
    t0 = time.monotonic()
    p = tc("flash", "--model", MODEL, "--target", board, "--driver", driver)
    assert p.returncode == 2 and time.monotonic() - t0 < 30
    assert re.search(rf"mspdebug (-j )?{driver} prog", p.stdout) and f"driver {driver!r} failed" in p.stderr
    p = tc("flash", "--model", MODEL, "--target", board, "--driver", driver, "--port", "/dev/ttyUSB-no-such-port")
    assert p.returncode == 2 and "/dev/ttyUSB-no-such-port does not exist" in p.stderr


def test_makefile_passes_port_baud_board_and_driver():
    p = subprocess.run(["make", "-n", "-o", "setup", "flash", "TARGET=k210", "PORT=/dev/pts/99", "BAUD=1500000",
                        "BOARD=goE", "DRIVER=x"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=30)
    assert p.returncode == 0, p.stderr
    cmd = " ".join(p.stdout.replace("\\\n", " ").split())
    assert ("tinycodec flash --model gsb-temporal --target k210 --port /dev/pts/99 --driver x --baud 1500000 "
            "--board goE") in cmd


def _kflash_isp_program() -> bytes:
    """The flash-mode loader kflash uploads, from kflash.py itself (ISP_PROG: zlib, hex)."""
    src = Path(importlib.util.find_spec("kflash").origin).read_text()
    return zlib.decompress(binascii.unhexlify(re.search(r"ISP_PROG = '([0-9a-f]+)'", src).group(1)))


def test_slip_framing_round_trip():
    payload = bytes([0xD4, 0, 0xC0, 0xDB, 1, 0xDB, 0xDC, 0xC0])
    dec = SlipDecoder()
    framed = slip_encode(payload)
    assert framed.count(b"\xc0") == 2 and dec.feed(framed[:3]) == [] and dec.feed(framed[3:] + b"\xc0") == [payload]


@pytest.mark.parametrize("isp_board", ["dan", "goE"])
def test_make_flash_k210_through_a_fake_isp_peer(k210_built, isp_board):
    """`make flash TARGET=k210` -> tinycodec flash -> kflash (DTR/RTS reset, ROM greeting, loader
    upload, boot, flash-mode greeting, baud change, flash init, CRC-checked writes, reboot)
    against a fake K210 on a pty: the image it received equals the built BIN. For goE (FT2232
    boards) kflash also switches the ROM's baud rate before the loader upload."""
    with FakeK210() as k:
        t0 = time.monotonic()
        p = subprocess.run(["make", "-o", "setup", "flash", "TARGET=k210", f"MODEL={MODEL}", f"PORT={k.port}",
                            "BAUD=1500000", f"BOARD={isp_board}"], capture_output=True, text=True, cwd=REPO_ROOT,
                           timeout=120)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        assert k.wait_rebooted(5) and time.monotonic() - t0 < 60
        img = k.firmware()  # header + image + SHA-256 checked as the ROM checks them
    assert img.data == k210_built.image.read_bytes()
    assert img.flags == 0x02 and not img.encrypted  # DIO, plain
    t = k.t
    assert t.rejected == [] and t.greetings_rom >= 1 and t.greetings_loader == 2
    assert k.loader == _kflash_isp_program() and t.boot_address == 0x80000000
    assert all(n <= 1024 for _, n in t.sram_writes)
    assert t.loader_baud == [1500000] and t.flash_chip == 1 and t.rebooted
    # kflash's stage-0 switch for FT2232 boards: 1.5 Mbaud scaled by 38.6/38 (its clock fudge)
    assert t.rom_baud == ([int(1500000 * 38.6 / 38)] if isp_board == "goE" else [])
    assert sum(n for _, n in t.flash_writes) == 1 + 4 + len(img.data) + 32
    assert f"wrote {k210_built.image}" in p.stdout


def test_fake_peer_rejects_a_corrupted_chunk():
    """A flash write whose CRC does not match is answered 0xE2 and not written."""
    import struct
    with FakeK210() as k, serial.Serial(k.port, 115200, timeout=2) as s:
        def request(op: int, address: int, data: bytes, crc_ok: bool = True) -> bytes:
            body = struct.pack("<II", address, len(data)) + data
            crc = zlib.crc32(body) ^ (0 if crc_ok else 1)
            s.write(slip_encode(struct.pack("<HHI", op, 0, crc) + body))
            return s.read(4)
        s.write(b"\xc0\xc2" + bytes(12) + b"\xc0")
        assert s.read(4) == b"\xc0\xc2\xe0\xc0"
        assert request(0xC3, 0x80000000, b"\x13" * 8) == b"\xc0\xc3\xe0\xc0"
        s.write(slip_encode(struct.pack("<HHI", 0xC5, 0, zlib.crc32(struct.pack("<II", 0x80000000, 0)))
                            + struct.pack("<II", 0x80000000, 0)))
        time.sleep(0.2)
        assert request(0xD7, 1, b"") == b"\xc0\xd7\xe0\xc0"
        assert request(0xD4, 0, b"abcd", crc_ok=False) == b"\xc0\xd4\xe2\xc0"
        assert request(0xD4, 0, b"abcd") == b"\xc0\xd4\xe0\xc0"
    assert bytes(k.flash) == b"abcd" and len(k.t.rejected) == 1 and "CRC" in k.t.rejected[0]


def test_kflash_pty_wrapper_only_forgives_ptys():
    """The wrapper ignores the DTR/RTS ioctl error on a pty, nowhere else."""
    code = ("import sys, serial; sys.path.insert(0, %r); from host_tools.kflash_pty import patch_pyserial\n"
            "m, s = __import__('os').openpty(); port = __import__('os').ttyname(s)\n"
            "p = serial.Serial(port, 115200)\n"
            "try:\n    p.dtr = False\nexcept OSError:\n    print('unpatched raises')\n"
            "patch_pyserial(); p.dtr = True; p.rts = True; print('patched ok')\n") % str(REPO_ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.split("\n")[:2] == ["unpatched raises", "patched ok"], out.stderr
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        assert not is_pty(fd)
    finally:
        os.close(fd)
