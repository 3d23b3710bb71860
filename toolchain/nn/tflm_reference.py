"""Reference inference for int8 .tflite models: what generated code must match bit for bit.

Two independent references:
  run_tflm / run_tflm_all    TFLite Micro's Python interpreter (pip tflite-micro),
                             the reference kernels a microcontroller would run;
  run_tflite_ref             TensorFlow Lite with its BUILTIN_REF (reference) kernels.
The two differ by one LSB on a few outputs (2 of 1200 in tests/test_tflm_reference.py):
TFLite Micro requantizes with two roundings (gemmlowp's
SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), TensorFlow Lite
2.21's reference kernels with one (TFLITE_SINGLE_ROUNDING). Firmware that
claims TFLM bit-exactness must round twice, and is checked against run_tflm.
tflm_arena reports the tensor arena TFLite Micro plans for a model, the RAM a
TFLM deployment needs besides the model itself.

Models here have one input; every input array must have the model's input
shape and dtype exactly (batch dimension included). Each input is an
independent inference: the interpreter's state is reset before it.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings

import numpy as np

_ARENA_LINE = re.compile(r"\[RecordingMicroAllocator\] Arena allocation (total|head|tail) (\d+) bytes")


class TFLiteReferenceError(Exception):
    """A reference interpreter is missing, or rejected the model or an input."""


def _tflm_runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as e:
        raise TFLiteReferenceError(f"TFLite Micro's Python interpreter is not installed: pip package tflite-micro "
                             f"(pinned in requirements.txt) ({e})") from e
    return runtime


def _arena_bytes(model: bytes) -> int:
    """A TFLite Micro arena that holds the model: the runtime's default (10x the model's size) is
    too small for models whose activations dwarf their weights (the 224x224 image encoder: 37 kB of
    weights, a 1 MB arena). Every tensor of every subgraph at 4 bytes an element (int32 biases,
    int8 tensors with room), doubled, plus 1 MiB for the runtime's own allocations, bounds what
    its planner asks for."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb
    m = schema_fb.Model.GetRootAsModel(bytearray(model), 0)
    total = 0
    for gi in range(m.SubgraphsLength()):
        g = m.Subgraphs(gi)
        for ti in range(g.TensorsLength()):
            t = g.Tensors(ti)
            n = 1
            for k in range(t.ShapeLength()):
                n *= max(1, int(t.Shape(k)))
            total += 4 * n
    return max(10 * len(model), 2 * total + (1 << 20))


def _tflm_interpreter(model: bytes):
    runtime = _tflm_runtime()
    try:
        return runtime.Interpreter.from_bytes(bytes(model))
    except Exception:  # noqa: BLE001 - the default arena may be too small: retry with a bound that holds
        pass
    try:
        # Only on failure: the arena's size shifts TFLM's reported tail allocation by a few bytes of
        # alignment, and the arena figures of models that load with the default stay as they were.
        return runtime.Interpreter.from_bytes(bytes(model), arena_size=_arena_bytes(bytes(model)))
    except Exception as e:  # the C++ side raises RuntimeError/ValueError with its log on stderr
        raise TFLiteReferenceError(f"TFLite Micro cannot load the model ({len(model)} B): {e}") from e


def _n_outputs(model: bytes) -> int:
    """Outputs of the model's main subgraph; refuses models with other than one input."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb
    m = schema_fb.Model.GetRootAsModel(bytearray(model), 0)
    if m.SubgraphsLength() < 1:
        raise TFLiteReferenceError("model has no subgraph")
    g = m.Subgraphs(0)
    if g.InputsLength() != 1:
        raise TFLiteReferenceError(f"model has {g.InputsLength()} inputs; the references take single-input models")
    return g.OutputsLength()


def _check_input(x: np.ndarray, i: int, shape, dtype) -> np.ndarray:
    x = np.asarray(x)
    if tuple(x.shape) != tuple(int(d) for d in shape) or x.dtype != np.dtype(dtype):
        raise TFLiteReferenceError(f"input {i}: shape {tuple(x.shape)} dtype {x.dtype}, but the model takes "
                             f"shape {tuple(int(d) for d in shape)} dtype {np.dtype(dtype)}")
    return np.ascontiguousarray(x)


def run_tflm_all(model: bytes, inputs: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Every output of the model for each input, through TFLite Micro: result[i][k] is output k of inputs[i]."""
    it = _tflm_interpreter(model)
    n_out = _n_outputs(model)
    d = it.get_input_details(0)
    results = []
    for i, x in enumerate(inputs):
        x = _check_input(x, i, d["shape"], d["dtype"])
        it.reset()
        it.set_input(x, 0)
        it.invoke()
        results.append([np.array(it.get_output(k), copy=True) for k in range(n_out)])
    return results


def run_tflm(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Output 0 of the model for each input, through TFLite Micro."""
    return [outs[0] for outs in run_tflm_all(model, inputs)]


def _read_fds(fds: tuple[int, ...], fn) -> str:
    """Run fn() with the OS-level file descriptors `fds` (C++ writes there, not to
    sys.stdout/stderr) redirected to a temporary file; return what was written."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            for fd in fds:
                os.dup2(tmp.fileno(), fd)
            fn()
        finally:
            for fd, old in zip(fds, saved):
                os.dup2(old, fd)
                os.close(old)
        tmp.seek(0)
        return tmp.read().decode("utf-8", "replace")


def tflm_arena(model: bytes) -> dict[str, int]:
    """Tensor arena TFLite Micro allocates for `model`, in bytes: {"total", "head", "tail"}
    (head: the planned, reused activation buffers; tail: persistent allocations).

    Read from Interpreter.print_allocations(), whose C++ logger writes to the
    process's stderr (fd 2; fd 1 is captured too in case a build logs there).
    The interpreter plans the arena when it is created; invoke() changes nothing."""
    it = _tflm_interpreter(model)
    text = _read_fds((1, 2), it.print_allocations)
    found = {k: int(v) for k, v in _ARENA_LINE.findall(text)}
    missing = [k for k in ("total", "head", "tail") if k not in found]
    if missing:
        raise TFLiteReferenceError(f"TFLite Micro's print_allocations() printed no arena {'/'.join(missing)} line "
                             f"('[RecordingMicroAllocator] Arena allocation ... bytes'); it printed:\n"
                             f"{text.strip() or '(nothing)'}")
    return found


def run_tflite_ref(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Output 0 of the model for each input, through TensorFlow Lite's reference kernels
    (OpResolverType.BUILTIN_REF): a second reference, independent of TFLite Micro."""
    try:
        import tensorflow as tf
    except ImportError as e:
        raise TFLiteReferenceError(f"TensorFlow is not installed: pip package tensorflow-cpu "
                             f"(pinned in requirements.txt) ({e})") from e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        try:
            it = tf.lite.Interpreter(model_content=bytes(model),
                                     experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
            it.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise TFLiteReferenceError(f"TensorFlow Lite cannot load the model ({len(model)} B): {e}") from e
    if len(it.get_input_details()) != 1:
        raise TFLiteReferenceError(f"model has {len(it.get_input_details())} inputs; the references take "
                                   f"single-input models")
    d = it.get_input_details()[0]
    out_index = it.get_output_details()[0]["index"]
    results = []
    for i, x in enumerate(inputs):
        x = _check_input(x, i, d["shape"], d["dtype"])
        it.reset_all_variables()
        it.set_tensor(d["index"], x)
        it.invoke()
        results.append(np.array(it.get_tensor(out_index), copy=True))
    return results
