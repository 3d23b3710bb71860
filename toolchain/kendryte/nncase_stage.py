"""The nncase stage: compile a TFLite model to a .kmodel for the Kendryte K210 (or K230) KPU.

nncase is Kendryte's compiler. Which version runs where:

* K210: nncase 1.x only (nncase 2.x dropped the K210). Its wheels (with the K210 target and a
  software simulator of the K210 runtime built in) exist for CPython 3.6-3.10, so it needs a
  Python <= 3.10 next to this project's 3.11. ``make setup-nncase`` makes one:
  ``.venv/nncase`` (inside the ignored .venv) with nncase==1.9.0.20230322 from PyPI.
* K230: nncase 2.x (+ the nncase-kpu plugin) runs on a .NET 7 runtime it loads at import.

This module finds such an environment (``detect_nncase``), builds it (``ensure_nncase_env``),
and runs nncase there as a subprocess through a small generated script (``nncase_script``): our
3.11 process never imports nncase. Where it is missing, every entry point raises
``NncaseUnavailable`` naming what is missing and how to get it; nothing here pretends to compile
or simulate.

nncase imports float TFLite models and quantizes them itself from calibration data (nncase FAQ;
nncase 1.9 crashes on an int8 model's import): ``kpu.float_tflite.float_tflite_from_int8`` turns a
zoo model into its float twin. ``simulate_kmodel`` runs a kmodel in nncase's own simulator (a
software model of the K210 runtime and KPU, not the chip) and compares it with TFLite on the same
inputs; ``nncase_placement`` reads nncase's IR dump to say which layers it put on the KPU.

    python -m toolchain.kendryte.nncase_stage            # status
    python -m toolchain.kendryte.nncase_stage --setup    # make setup-nncase
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import REPO_ROOT

__all__ = [
    "NNCASE_K210_VERSION",
    "Interpreter",
    "NncaseError",
    "NncaseNode",
    "NncaseStatus",
    "NncaseUnavailable",
    "SimResult",
    "compile_kmodel",
    "detect_nncase",
    "ensure_nncase_env",
    "layer_placements_nncase",
    "nncase_placement",
    "nncase_script",
    "simulate_kmodel",
]

NNCASE_K210_VERSION = "1.9.0.20230322"   # the last nncase 1.x (K210) release
NNCASE_K210_NUMPY = "2.2.6"              # last numpy for CPython 3.10; nncase 1.9 works with it
DEFAULT_VENV = REPO_ROOT / ".venv" / "nncase"
K210_PYTHONS = ("python3.10", "python3.9", "python3.8", "python3.7", "python3.6")
TARGETS = ("k210", "k230")
DOTNET_URL = "https://learn.microsoft.com/dotnet/core/install/linux"
PROBE_TIMEOUT_S = 30

# Run by each candidate interpreter: its version and the nncase it can import, as one JSON line.
# find_spec + metadata instead of `import nncase`: nncase 2.x loads .NET at import and fails
# without it, which is not what this probe asks.
_PROBE = r"""
import json, sys
try:
    from importlib.util import find_spec
    from importlib import metadata
    def ver(name):
        if find_spec(name) is None:
            return None
        try:
            return metadata.version(name.replace("_", "-"))
        except Exception:
            return "unknown"
except ImportError:
    def ver(name):
        return None
print(json.dumps({"version": list(sys.version_info[:3]), "nncase": ver("nncase"),
                  "nncase_kpu": ver("nncase_kpu")}))
"""


class NncaseUnavailable(RuntimeError):
    """nncase (or what it needs) is not installed; the message names what and how to install it."""


class NncaseError(RuntimeError):
    """nncase ran and failed (bad model, KPU RAM overflow, crash); the message has its output."""


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: tuple[int, int, int]
    nncase: str | None          # nncase distribution version importable there, None if none
    nncase_kpu: str | None = None

    @property
    def name(self) -> str:
        return f"Python {'.'.join(map(str, self.version))} ({self.path})"


@dataclass
class NncaseStatus:
    interpreters: list[Interpreter] = field(default_factory=list)   # every Python probed
    k210_python: str | None = None      # interpreter with nncase 1.x (K210)
    k210_nncase: str | None = None
    k210_missing: str = ""              # why not, "" when available
    dotnet: str | None = None
    dotnet_runtimes: list[str] = field(default_factory=list)        # "Microsoft.NETCore.App 7.0.20"
    k230_python: str | None = None      # interpreter with nncase 2.x + nncase-kpu (K230)
    k230_nncase: str | None = None
    k230_missing: str = ""

    def available(self, target: str) -> bool:
        return self.python(target) is not None

    def python(self, target: str) -> str | None:
        _check_target(target)
        return self.k210_python if target == "k210" else self.k230_python

    def missing(self, target: str) -> str:
        _check_target(target)
        return self.k210_missing if target == "k210" else self.k230_missing

    def require(self, target: str) -> str:
        """The interpreter that runs nncase for target, or NncaseUnavailable with the reason."""
        py = self.python(target)
        if py is None:
            raise NncaseUnavailable(self.message())
        return py

    def message(self) -> str:
        """Both targets' state in one text (the K210's first: it is this project's target)."""
        k210 = (f"nncase {self.k210_nncase} for the K210: {self.k210_python}" if self.k210_python
                else self.k210_missing)
        k230 = (f"nncase {self.k230_nncase} for the K230: {self.k230_python}" if self.k230_python
                else self.k230_missing)
        return f"{k210}; {k230}"


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"nncase target {target!r}: expected one of {', '.join(TARGETS)}")


# ---------------------------------------------------------------- detection

def _probe(python: str) -> Interpreter | None:
    """Run the probe with one interpreter; None when it does not run (a pyenv shim for a version
    that is not selected, a broken venv, a fake)."""
    try:
        r = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, check=False,
                           timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    try:
        d = json.loads(r.stdout.strip().splitlines()[-1])
        return Interpreter(python, tuple(int(v) for v in d["version"][:3]), d.get("nncase"),
                           d.get("nncase_kpu"))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _candidates(path: str, pyenv_root: Path | None, venv_dir: Path) -> list[str]:
    """Interpreters to probe, best first: the project's nncase venv, versioned pythons on PATH,
    pyenv's installed versions (real binaries; PATH often holds only pyenv shims, which fail for
    versions not selected), then python3 on PATH for the 'have python3.11' part of messages."""
    out: list[str] = []
    venv_py = venv_dir / "bin" / "python"
    if venv_py.exists():
        out.append(str(venv_py))
    for name in K210_PYTHONS + ("python3",):
        p = shutil.which(name, path=path)
        if p:
            out.append(p)
    if pyenv_root is not None and (pyenv_root / "versions").is_dir():
        def key(d: Path) -> tuple:
            return tuple(int(x) if x.isdigit() else -1 for x in re.split(r"[.\-]", d.name))
        # Only versions that can hold nncase 1.x: probing every pyenv Python costs seconds.
        for d in sorted((pyenv_root / "versions").iterdir(), key=key, reverse=True):
            if not (3, 0) <= key(d)[:2] <= (3, 10):
                continue
            for exe in sorted(d.glob("bin/python3.*")):
                if re.fullmatch(r"python3\.\d+", exe.name):
                    out.append(str(exe))
    seen, uniq = set(), []
    for p in out:
        rp = os.path.realpath(p) if "/shims/" not in p else p
        if rp not in seen:
            seen.add(rp)
            uniq.append(p)
    return uniq


def _dotnet_runtimes(dotnet: str | None) -> list[str]:
    if dotnet is None:
        return []
    try:
        r = subprocess.run([dotnet, "--list-runtimes"], capture_output=True, text=True, check=False,
                           timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [" ".join(line.split()[:2]) for line in r.stdout.splitlines() if line.strip()]


def detect_nncase(path: str | None = None, pyenv_root: Path | None = None,
                  venv_dir: Path | None = None) -> NncaseStatus:
    """Find nncase 1.x (K210) and 2.x (K230) environments on this machine.

    path: the PATH to search (default $PATH); pyenv_root: where pyenv keeps its versions (default
    $PYENV_ROOT or ~/.pyenv); venv_dir: the project's nncase venv (default $TINYCODEC_NNCASE_VENV
    or .venv/nncase). Tests point all three at temporary folders."""
    path = os.environ.get("PATH", "") if path is None else path
    if pyenv_root is None:
        pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    venv_dir = Path(os.environ.get("TINYCODEC_NNCASE_VENV", DEFAULT_VENV)) if venv_dir is None else venv_dir
    st = NncaseStatus()
    st.interpreters = [i for i in (_probe(p) for p in _candidates(path, pyenv_root, venv_dir)) if i]

    # K210: nncase 1.x in any interpreter (only <= 3.10 ones can have it).
    for i in st.interpreters:
        if i.nncase and i.nncase.split(".")[0] == "1":
            st.k210_python, st.k210_nncase = i.path, i.nncase
            break
    if st.k210_python is None:
        old = [i for i in st.interpreters if i.version[:2] <= (3, 10)]
        if old:
            st.k210_missing = (
                f"nncase 1.x for the K210 is not installed: {old[0].name} can run it but has no "
                f"nncase 1.x; run `make setup-nncase` (creates {_rel(venv_dir)} with "
                f"nncase=={NNCASE_K210_VERSION} from PyPI)")
        else:
            have = sorted({f"python{i.version[0]}.{i.version[1]}" for i in st.interpreters})
            where = f"PATH or under {pyenv_root}/versions" if pyenv_root else "PATH"
            st.k210_missing = (
                f"nncase {'.'.join(NNCASE_K210_VERSION.split('.')[:2])} for the K210 needs Python <= 3.10: "
                f"none found on {where} (have {', '.join(have) or 'no python3'}). Install python3.10 "
                "(e.g. `pyenv install 3.10.14`) and run `make setup-nncase`")

    # K230: nncase 2.x + nncase-kpu, and the .NET 7 runtime nncase 2.x loads.
    st.dotnet = shutil.which("dotnet", path=path)
    st.dotnet_runtimes = _dotnet_runtimes(st.dotnet)
    net7 = [r for r in st.dotnet_runtimes if r.startswith("Microsoft.NETCore.App 7.")]
    v2 = [i for i in st.interpreters if i.nncase and i.nncase.split(".")[0] == "2"]
    if st.dotnet is None:
        st.k230_missing = (f"nncase 2.x for the K230 needs the .NET 7 runtime: `dotnet` not found "
                           f"({DOTNET_URL})")
    elif not net7:
        have = ", ".join(st.dotnet_runtimes) or "no runtimes"
        st.k230_missing = (f"nncase 2.x for the K230 needs the .NET 7 runtime (Microsoft.NETCore.App "
                           f"7.x): {st.dotnet} has {have} ({DOTNET_URL})")
    elif not v2:
        st.k230_missing = ("nncase 2.x for the K230 is not installed in any Python found: "
                           "`pip install nncase nncase-kpu` (2.x) into one")
    elif not v2[0].nncase_kpu:
        st.k230_missing = (f"nncase {v2[0].nncase} at {v2[0].path} lacks the K230 plugin: "
                           "`pip install nncase-kpu` of the same version")
    else:
        st.k230_python, st.k230_nncase = v2[0].path, v2[0].nncase
    return st


def _rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def ensure_nncase_env(venv_dir: Path | None = None, python: str | None = None,
                      status: NncaseStatus | None = None, log=print) -> str:
    """Make sure a Python with nncase 1.x (K210) exists; create ``venv_dir`` for it if needed.

    Uses an existing one when detect_nncase finds it; else makes a venv with the first Python <= 3.10
    found (or ``python``) and pip-installs nncase==NNCASE_K210_VERSION and numpy (needs PyPI).
    Returns the interpreter path; raises NncaseUnavailable when no Python <= 3.10 exists."""
    venv_dir = Path(os.environ.get("TINYCODEC_NNCASE_VENV", DEFAULT_VENV)) if venv_dir is None else venv_dir
    st = status or detect_nncase(venv_dir=venv_dir)
    if st.k210_python and python is None:
        log(f"nncase {st.k210_nncase} for the K210 already available: {st.k210_python}")
        return st.k210_python
    if python is None:
        old = [i for i in st.interpreters if i.version[:2] <= (3, 10)
               and not i.path.startswith(str(venv_dir))]
        if not old:
            raise NncaseUnavailable(st.k210_missing)
        python = old[0].path
    log(f"creating {venv_dir} with {python}")
    subprocess.run([python, "-m", "venv", "--clear", str(venv_dir)], check=True)
    vpy = str(venv_dir / "bin" / "python")
    subprocess.run([vpy, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    f"nncase=={NNCASE_K210_VERSION}", f"numpy=={NNCASE_K210_NUMPY}"], check=True)
    got = _probe(vpy)
    if got is None or not got.nncase:
        raise NncaseUnavailable(f"{venv_dir}: pip installed nncase=={NNCASE_K210_VERSION} but "
                                f"{vpy} cannot import it")
    log(f"nncase {got.nncase} ready: {vpy}")
    return vpy


# ---------------------------------------------------------------- the script nncase runs

def nncase_script(target: str) -> str:
    """Python source run by the nncase interpreter: ``script.py job.json``.

    job.json: {"mode": "compile", "tflite", "calib" (.npy, float32, samples x input shape),
    "out", "dump_dir"} or {"mode": "simulate", "kmodel", "inputs" (.npy), "outputs" (.npy)}.
    nncase 1.x (K210) takes calibration as raw bytes; nncase 2.x (K230) as a list of samples,
    each a list with one array per model input."""
    _check_target(target)
    v2 = target == "k230"
    set_data = ("ptq.set_tensor_data([[s] for s in calib])" if v2 else
                "ptq.set_tensor_data(np.ascontiguousarray(calib).tobytes())")
    return f'''\
# Generated by toolchain/kendryte/nncase_stage.py for target {target} (nncase {"2.x" if v2 else "1.x"}).
import json
import sys

import numpy as np
import nncase

job = json.load(open(sys.argv[1]))
if job["mode"] == "compile":
    co = nncase.CompileOptions()
    co.target = "{target}"
    co.preprocess = False
    co.dump_ir = bool(job.get("dump_dir"))
    co.dump_asm = bool(job.get("dump_dir"))
    co.dump_dir = job.get("dump_dir") or "."
    compiler = nncase.Compiler(co)
    compiler.import_tflite(open(job["tflite"], "rb").read(), nncase.ImportOptions())
    calib = np.load(job["calib"]).astype(np.float32)
    ptq = nncase.PTQTensorOptions()
    ptq.samples_count = int(calib.shape[0])
    {set_data}
    compiler.use_ptq(ptq)
    compiler.compile()
    kmodel = compiler.gencode_tobytes()
    open(job["out"], "wb").write(kmodel)
    print(json.dumps({{"kmodel_bytes": len(kmodel)}}))
elif job["mode"] == "simulate":
    sim = nncase.Simulator()
    sim.load_model(open(job["kmodel"], "rb").read())
    xs = np.load(job["inputs"]).astype(np.float32)
    ys = []
    for x in xs:
        sim.set_input_tensor(0, nncase.RuntimeTensor.from_numpy(np.ascontiguousarray(x)))
        sim.run()
        ys.append(sim.get_output_tensor(0).to_numpy().copy())
    np.save(job["outputs"], np.stack(ys))
    print(json.dumps({{"n": len(ys)}}))
else:
    raise SystemExit("unknown mode " + repr(job["mode"]))
'''


def _run_job(python: str, target: str, job: dict, work: Path, what: str, timeout: float) -> str:
    script = work / f"nncase_{target}.py"
    script.write_text(nncase_script(target))
    jf = work / f"{job['mode']}.json"
    jf.write_text(json.dumps(job))
    try:
        r = subprocess.run([python, str(script), str(jf)], capture_output=True, text=True, check=False,
                           timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired as e:
        raise NncaseError(f"{what}: nncase did not finish in {timeout:.0f} s") from e
    if r.returncode != 0:
        how = (f"killed by {signal.Signals(-r.returncode).name}" if r.returncode < 0
               else f"exit {r.returncode}")
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-8:])
        raise NncaseError(f"{what}: nncase ({python}) failed, {how}:\n{tail}")
    return r.stdout


def _input_spec(tflite: Path) -> tuple[tuple[int, ...], str]:
    from toolchain.nn.tflite_model import read_tflite
    g = read_tflite(tflite)
    if len(g.inputs) != 1:
        raise ValueError(f"{tflite}: nncase stage handles one-input models, this one has {len(g.inputs)}")
    t = g.tensors[g.inputs[0]]
    return tuple(t.shape), t.dtype


def _samples(x: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """x as (N, *shape): accepts (N, *shape), (N, *shape without the batch 1) or one sample."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape == shape:
        return x[None]
    if x.shape[1:] == shape:
        return x
    if shape and shape[0] == 1 and x.shape[1:] == shape[1:]:
        return x[:, None]
    raise ValueError(f"{what} has shape {x.shape}; the model input is {shape} (give N x {shape})")


def compile_kmodel(tflite: Path, calib: np.ndarray, target: str, out: Path,
                   dump_dir: Path | None = None, status: NncaseStatus | None = None,
                   timeout: float = 600) -> Path:
    """Compile a float TFLite model to ``out`` (.kmodel) with nncase, calibrating on ``calib``.

    Raises NncaseUnavailable before anything else when nncase for target is missing, ValueError for
    an int8 model (convert with float_tflite_from_int8) or calibration of the wrong shape, and
    NncaseError when nncase fails (e.g. 'Allocator has ran out of memory': a layer's maps exceed
    the 2 MiB KPU RAM)."""
    _check_target(target)
    python = (status or detect_nncase()).require(target)
    tflite, out = Path(tflite), Path(out)
    shape, dtype = _input_spec(tflite)
    if dtype != "float32":
        raise ValueError(f"{tflite}: input is {dtype}; nncase imports float TFLite models and "
                         "quantizes them itself (nncase FAQ). Convert an int8 model with "
                         "toolchain.kendryte.kpu.float_tflite.float_tflite_from_int8")
    calib = _samples(calib, shape, "calibration data")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nncase-") as td:
        work = Path(td)
        np.save(work / "calib.npy", calib)
        job = {"mode": "compile", "tflite": str(tflite.resolve()), "calib": str(work / "calib.npy"),
               "out": str(out.resolve()), "dump_dir": str(Path(dump_dir).resolve()) if dump_dir else ""}
        _run_job(python, target, job, work, f"compiling {tflite} for {target}", timeout)
    if not out.exists() or out.stat().st_size == 0:
        raise NncaseError(f"compiling {tflite} for {target}: nncase reported success but wrote no {out}")
    return out


@dataclass
class SimResult:
    n: int                     # inputs run
    max_abs_err: float         # nncase simulator vs TFLite, in output units
    mean_abs_err: float
    ref_mean_abs: float        # mean |TFLite output|, to read the errors against
    outputs: np.ndarray        # the simulator's outputs (N, *output shape)
    note: str = ("nncase's simulator: a software model of the K210 runtime and KPU (not the chip) "
                 "running the compiled kmodel")


def _tflite_outputs(tflite: Path, xs: np.ndarray) -> np.ndarray:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    import tensorflow as tf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ip = tf.lite.Interpreter(model_path=str(tflite),
                                 experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    ip.allocate_tensors()
    i, o = ip.get_input_details()[0]["index"], ip.get_output_details()[0]["index"]
    ys = []
    for x in xs:
        ip.set_tensor(i, x.astype(np.float32))
        ip.invoke()
        ys.append(ip.get_tensor(o).copy())
    return np.stack(ys)


def simulate_kmodel(kmodel: Path, tflite: Path, inputs: np.ndarray, target: str = "k210",
                    status: NncaseStatus | None = None, timeout: float = 600) -> SimResult:
    """Run ``kmodel`` in nncase's simulator and the float ``tflite`` in TFLite on the same inputs."""
    _check_target(target)
    python = (status or detect_nncase()).require(target)
    shape, _ = _input_spec(Path(tflite))
    xs = _samples(inputs, shape, "simulation inputs")
    ref = _tflite_outputs(Path(tflite), xs)
    with tempfile.TemporaryDirectory(prefix="nncase-") as td:
        work = Path(td)
        np.save(work / "x.npy", xs)
        job = {"mode": "simulate", "kmodel": str(Path(kmodel).resolve()), "inputs": str(work / "x.npy"),
               "outputs": str(work / "y.npy")}
        _run_job(python, target, job, work, f"simulating {kmodel}", timeout)
        ys = np.load(work / "y.npy")
    if ys.size != ref.size:
        raise NncaseError(f"simulating {kmodel}: {ys.shape} outputs, TFLite gives {ref.shape}")
    ys = ys.reshape(ref.shape)
    err = np.abs(ys.astype(np.float64) - ref.astype(np.float64))
    return SimResult(len(xs), float(err.max()), float(err.mean()), float(np.abs(ref).mean()), ys)


# ---------------------------------------------------------------- nncase's placement, from its dump

@dataclass(frozen=True)
class NncaseNode:
    name: str
    op: str        # nncase op type: KPUConv2D, Conv2D, ReduceWindow2D, Binary, Pad, ...
    module: str    # 'k210' (KPU) or 'stackvm' (CPU)


# nncase ops that only move or convert data; they say nothing about where a layer computes.
_DATA_OPS = frozenset({"Input", "Output", "Constant", "Bitcast", "Transpose", "Quantize", "Dequantize",
                       "Call", "KPUUpload", "KPUDownload", "Copy", "Convert", "Pad", "Slice", "Ignore"})


def _varint(b: bytes, i: int) -> tuple[int, int]:
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _pb_fields(b: bytes):
    """(field number, wire type, value) of a protobuf message (enough of the wire format for
    nncase's .nnir.pb dumps, which are ONNX ModelProto messages)."""
    i, n = 0, len(b)
    while i < n:
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            ln, i = _varint(b, i)
            v, i = b[i:i + ln], i + ln
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wt} at byte {i}")
        yield f, wt, v


def nncase_placement(dump_dir: Path) -> list[NncaseNode]:
    """Compute nodes of a compiled model from nncase 1.x's dump (``compile_kmodel(dump_dir=...)``):
    ir_merge_module_regions/<module>.nnir.pb, ONNX ModelProto (graph = 7, node = 1; NodeProto
    name = 3, op_type = 4). k210_*.nnir.pb hold the KPU's regions, main.nnir.pb the CPU's."""
    d = Path(dump_dir) / "ir_merge_module_regions"
    files = sorted(d.glob("*.nnir.pb"))
    if not files:
        raise FileNotFoundError(f"{d}: no .nnir.pb files (compile with dump_dir to get them)")
    nodes = []
    for p in files:
        module = "k210" if p.name.startswith("k210") else "stackvm"
        for f, _, graph in _pb_fields(p.read_bytes()):
            if f != 7:
                continue
            for gf, _, node in _pb_fields(graph):
                if gf != 1:
                    continue
                name = op = ""
                for nf, nwt, v in _pb_fields(node):
                    if nf == 3 and nwt == 2:
                        name = v.decode("utf-8", "replace")
                    elif nf == 4 and nwt == 2:
                        op = v.decode("utf-8", "replace")
                if op not in _DATA_OPS or op in ("Pad", "Slice"):
                    nodes.append(NncaseNode(name, op, module))
    return nodes


def layer_placements_nncase(tensor_names: list[str], nodes: list[NncaseNode],
                            output_tensor: str = "") -> list[tuple[str, str]]:
    """('KPU' | 'CPU' | 'none', detail) per TFLite layer, given the layers' output tensor names.

    nncase names its nodes after the TFLite tensor they compute, adding suffixes ('/conv', '/fc',
    '_0', '(pre_pad)'), and names the graph's output node 'output...': each node goes to the layer
    whose tensor name is the longest prefix of its name (a RESHAPE's tensor name is often a prefix
    of the conv before it), nodes named 'output' to ``output_tensor``."""
    mine: dict[str, list[NncaseNode]] = {t: [] for t in tensor_names if t}
    for n in nodes:
        name = n.name
        if output_tensor and re.match(r"output(_F)?(/|$)", name):
            name = output_tensor + name[len("output"):]
        best = max((t for t in mine if name.startswith(t)), key=len, default=None)
        if best is not None:
            mine[best].append(n)
    out = []
    for t in tensor_names:
        ns = mine.get(t, [])
        kpu = [n for n in ns if n.module == "k210" and n.op.startswith("KPU")]
        cpu = [n for n in ns if n.module != "k210" and n.op not in _DATA_OPS]
        assist = sorted({n.op for n in ns if n.op in ("Pad", "Slice") and n.module != "k210"})
        if kpu:
            out.append(("KPU", "KPUConv2D" + (f" + CPU {'/'.join(assist)}" if assist else "")))
        elif cpu:
            out.append(("CPU", "/".join(sorted({n.op for n in cpu}))))
        else:
            out.append(("none", "no compute node of its own (fused or only moved)"))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setup", action="store_true", help="create the K210 nncase venv if missing")
    a = ap.parse_args(argv)
    if a.setup:
        try:
            ensure_nncase_env()
        except NncaseUnavailable as e:
            print(f"setup-nncase: {e}", file=sys.stderr)
            return 1
    st = detect_nncase()
    print(st.message())
    return 0


if __name__ == "__main__":
    sys.exit(main())
