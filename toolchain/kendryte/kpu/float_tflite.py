"""Turn a fully int8 TFLite model into the float TFLite model it approximates.

nncase (the K210/K230 compiler) imports float TFLite models only and quantizes them itself from
calibration data (nncase FAQ: "Fatal: Not supported tflite opcode: DEQUANTIZE -- use float tflite
models, nncase will take care of quantization"; nncase 1.9 crashes on an int8 model). The zoo keeps
only the int8 models, so this rewrites one in place of rebuilding and retraining its Keras model:

* every quantized tensor (int8/uint8/int16 activations, int8 weights, int32 biases) becomes float32
  and loses its quantization parameters;
* constant data is dequantized: (q - zero_point) * scale, per channel along the quantized dimension;
* unquantized tensors (RESHAPE's int32 shape vectors, ...) are left alone.

The result computes with the trained weights exactly as the int8 model's real-valued view; its
activations are simply not rounded. Models with QUANTIZE/DEQUANTIZE operators (mixed precision) are
refused: their float form is not a plain relabelling.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["float_tflite_from_int8"]

_QUANT_TYPES = {"INT8": "i1", "UINT8": "u1", "INT16": "<i2", "INT32": "<i4"}


def float_tflite_from_int8(tfl: bytes) -> bytes:
    """The float32 twin of an int8 TFLite flatbuffer (same graph, dequantized constants)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tfl))
    names = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
    ops = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    for i, oc in enumerate(model.operatorCodes):
        code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        if ops.get(code) in ("QUANTIZE", "DEQUANTIZE"):
            raise ValueError(f"operator code {i} is {ops[code]}: a mixed-precision model has no plain "
                             "float form (float_tflite_from_int8 takes fully int8 models)")

    for sg_i, sg in enumerate(model.subgraphs):
        for t_i, t in enumerate(sg.tensors):
            q = t.quantization
            tname = names.get(t.type, str(t.type))
            if q is None or q.scale is None or len(q.scale) == 0 or tname not in _QUANT_TYPES:
                continue
            buf = model.buffers[t.buffer] if t.buffer else None
            if buf is not None and buf.data is not None and len(buf.data):
                raw = np.frombuffer(bytes(bytearray(buf.data)), np.dtype(_QUANT_TYPES[tname]))
                shape = tuple(int(s) for s in t.shape)
                v = raw.reshape(shape).astype(np.float64)
                scale = np.asarray(q.scale, np.float64)
                zp = np.asarray(q.zeroPoint if q.zeroPoint is not None and len(q.zeroPoint) else
                                np.zeros(len(scale)), np.float64)
                if len(scale) > 1:   # per-channel: broadcast along the quantized dimension
                    bshape = [1] * len(shape)
                    bshape[q.quantizedDimension] = len(scale)
                    scale, zp = scale.reshape(bshape), zp.reshape(bshape)
                f = ((v - zp) * scale).astype("<f4")
                # A fresh buffer per tensor: flatbuffers may share one buffer between tensors.
                nb = fb.BufferT()
                nb.data = np.frombuffer(f.tobytes(), np.uint8)
                model.buffers.append(nb)
                t.buffer = len(model.buffers) - 1
            t.type = fb.TensorType.FLOAT32
            t.quantization = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
