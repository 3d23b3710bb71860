"""TFLite's integer arithmetic, reproduced bit for bit in Python.

The code generator computes every quantization parameter here, at generate time,
exactly as TFLite Micro's Prepare() functions do (tensorflow/lite/kernels/
kernel_util.cc, quantization_util.cc, micro/kernels/*_common.cc), and builds the
int8 -> int8 look-up tables of LOGISTIC and TANH and SOFTMAX's exp table from a
port of gemmlowp's fixed-point functions (fixedpoint/fixedpoint.h). The C kernels
then only replay integer arithmetic.

Conventions that matter for bit-exactness:
- TfLiteRound is std::round: halves away from zero (Python's round() is not).
- Where TFLite multiplies two float scales in float32 before widening
  (FULLY_CONNECTED per-tensor), so do we (`f32`).
- int32 wrap-around of C is emulated with `w32` where gemmlowp relies on it.
- This is the default "double rounding" build of TFLite (TFLITE_SINGLE_ROUNDING
  unset), which is what the tflite-micro Python package runs.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def w32(x: int) -> int:
    """Wrap to int32 like two's-complement C arithmetic."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def f32(x: float) -> float:
    """Round a Python float to float32 and back."""
    return float(np.float32(x))


def tflite_round(x: float) -> int:
    """std::round: round half away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def _trunc_div(n: int, d: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d > 0) else -q


# --- quantized multipliers (quantization_util.cc) ---------------------------------------------

def quantize_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier: m ~= q * 2^(shift-31), q in [2^30, 2^31); shift > 0 means left."""
    if m == 0.0:
        return 0, 0
    frac, shift = math.frexp(m)
    q = tflite_round(frac * (1 << 31))
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        shift, q = 0, 0
    if q > INT32_MAX:
        raise ValueError(f"multiplier {m!r} does not fit int32")
    return q, shift


def quantize_multiplier_smaller_than_one_exp(m: float) -> tuple[int, int]:
    if not 0.0 < m < 1.0:
        raise ValueError(f"multiplier {m!r} must lie in (0, 1)")
    q, shift = quantize_multiplier(m)
    if shift > 0:
        raise ValueError(f"multiplier {m!r} gave a left shift")
    return q, shift


def quantize_multiplier_greater_than_one(m: float) -> tuple[int, int]:
    if not m > 1.0:
        raise ValueError(f"multiplier {m!r} must exceed 1")
    return quantize_multiplier(m)


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits))
                          / (1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


# --- gemmlowp primitives -----------------------------------------------------------------------

def srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    return _trunc_div(ab + nudge, 1 << 31)


def rdbpot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT (round half away from zero)."""
    if not 0 <= exponent <= 31:
        raise ValueError(f"exponent {exponent} outside 0..31")
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier, double-rounding variant (common.cc)."""
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return rdbpot(srdhm(w32(x * (1 << left)), multiplier), right)


def sat_mul_pot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT<exponent> on int32."""
    if exponent == 0:
        return x
    if exponent < 0:
        return rdbpot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return w32(x << exponent)


def rounding_half_sum(a: int, b: int) -> int:
    s = a + b
    return _trunc_div(s + (1 if s >= 0 else -1), 2)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    """Input and result are Q0.31 (FixedPoint<int32, 0>)."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = w32(a + (1 << 28))  # + ConstantPOT<-3>
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = sat_mul_pot(x4, -2)
    poly = sat_mul_pot(w32(srdhm(w32(x4_over_4 + x3), constant_1_over_3) + x2), -1)
    return w32(constant_term + srdhm(constant_term, w32(x + poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """exp(a) for a <= 0 given with `integer_bits` integer bits; result Q0.31."""
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = w32((a & mask) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        sat_mul_pot(a_mod_quarter_minus_one_quarter, integer_bits))  # Rescale<0>
    remainder = w32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            if remainder & (1 << (frac_bits + exponent)):
                result = srdhm(result, multiplier)
    if integer_bits > 5:
        if a < -(1 << (36 - integer_bits)):
            result = 0
    if a == 0:
        result = INT32_MAX
    return result


def _newton_reciprocal_f2(a: int) -> int:
    """The shared Newton-Raphson loop of one_over_one_plus_x / one_minus_x_over_one_plus_x."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = w32(1515870810 + srdhm(half_denominator, -1010580540))  # 48/17 - 32/17 * d  (Q2.29)
    for _ in range(3):
        one_minus_half_denominator_times_x = w32((1 << 29) - srdhm(half_denominator, x))
        x = w32(x + sat_mul_pot(srdhm(x, one_minus_half_denominator_times_x), 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return sat_mul_pot(_newton_reciprocal_f2(a), 1)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return sat_mul_pot(w32(_newton_reciprocal_f2(a) - (1 << 29)), 2)


def gemmlowp_logistic(a: int, integer_bits: int) -> int:
    if a == 0:
        return 1 << 30
    abs_a = a if a > 0 else w32(-a)
    pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(w32(-abs_a), integer_bits))
    return pos if a > 0 else w32(INT32_MAX - pos)


def gemmlowp_tanh(a: int, integer_bits: int) -> int:
    if a == 0:
        return 0
    n = a if a < 0 else w32(-a)
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return w32(-t) if a < 0 else t


# --- per-op parameters (micro/kernels/*_common.cc) -----------------------------------------------

def quantize_value(scale: float, zero_point: int, f: float) -> int:
    """kernel_util.h Quantize(): float32 division, std::round."""
    return zero_point + tflite_round(f32(np.float32(f) / np.float32(scale)))


def activation_range(activation: str, scale: float, zero_point: int, qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs."""
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize_value(scale, zero_point, 0.0)), qmax
    if activation == "RELU6":
        return (max(qmin, quantize_value(scale, zero_point, 0.0)),
                min(qmax, quantize_value(scale, zero_point, 6.0)))
    if activation == "RELU_N1_TO_1":
        return (max(qmin, quantize_value(scale, zero_point, -1.0)),
                min(qmax, quantize_value(scale, zero_point, 1.0)))
    raise ValueError(f"fused activation {activation} is not supported")


def conv_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                     channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams: per channel, in double."""
    scales = [float(s) for s in np.asarray(filter_scales, dtype=np.float32).ravel()]
    mult, shift = [], []
    for c in range(channels):
        s = scales[c] if len(scales) > 1 else scales[0]
        q, sh = quantize_multiplier(float(np.float32(input_scale)) * s / float(np.float32(output_scale)))
        mult.append(q)
        shift.append(sh)
    return mult, shift


def fully_connected_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: the scale product is taken in float32."""
    product = f32(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(np.float32(output_scale)))


def add_params(s1: float, s2: float, so: float) -> dict:
    """CalculateOpDataAdd for int8 (left_shift 20)."""
    s1, s2, so = (float(np.float32(v)) for v in (s1, s2, so))
    left_shift = 20
    twice_max = 2 * max(s1, s2)
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * so))
    return dict(left_shift=left_shift, input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2,
                input2_shift=sh2, output_multiplier=mo, output_shift=sho)


def mul_multiplier(s1: float, s2: float, so: float) -> tuple[int, int]:
    s1, s2, so = (float(np.float32(v)) for v in (s1, s2, so))
    return quantize_multiplier(s1 * s2 / so)


def requantize_multiplier(s_in: float, s_out: float) -> tuple[int, int]:
    return quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))


def _unary_input_params(scale: float) -> tuple[int, int, int]:
    """Logistic/tanh Prepare(): multiplier, left shift, range radius for Q4.27 input."""
    real = float(np.float32(scale)) * float(1 << (31 - 4))
    frac, left_shift = math.frexp(real)
    multiplier = tflite_round(frac * (1 << 31))
    return multiplier, left_shift, calculate_input_radius(4, left_shift, 31)


def _sigmoid_family_lut(input_scale: float, input_zero_point: int, f, out_shift: int, out_offset: int) -> np.ndarray:
    """reference_integer_ops Logistic/Tanh (int8) for every input (index = value + 128): inputs beyond
    the range radius saturate; the rest go through gemmlowp's Q4.27 function `f` and are rescaled."""
    mult, shift, radius = _unary_input_params(input_scale)
    out = np.empty(256, dtype=np.int8)
    for v in range(-128, 128):
        x = v - input_zero_point
        if x <= -radius:
            y = -128
        elif x >= radius:
            y = 127
        else:
            y = min(max(rdbpot(f(mbqm(x, mult, shift), 4), 31 - out_shift) + out_offset, -128), 127)
        out[v + 128] = y
    return out


def logistic_lut(input_scale: float, input_zero_point: int) -> np.ndarray:
    """Logistic: Q0.31 -> 1/256 steps with zero point -128."""
    return _sigmoid_family_lut(input_scale, input_zero_point, gemmlowp_logistic, 8, -128)


def tanh_lut(input_scale: float, input_zero_point: int) -> np.ndarray:
    """Tanh: Q0.31 -> 1/128 steps; the output zero point is 0 by contract."""
    return _sigmoid_family_lut(input_scale, input_zero_point, gemmlowp_tanh, 7, 0)


def relu_lut(input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int) -> np.ndarray:
    """ReluQuantized (int8) for every input; the multiplier is a float32 quotient, widened."""
    mult, shift = quantize_multiplier(f32(np.float32(input_scale) / np.float32(output_scale)))
    lo = max(-128, output_zero_point + tflite_round(f32(np.float32(0.0) / np.float32(output_scale))))
    out = np.empty(256, dtype=np.int8)
    for v in range(-128, 128):
        y = output_zero_point + mbqm(v - input_zero_point, mult, shift)
        out[v + 128] = min(max(y, lo), 127)
    return out


def relu6_lut(input_scale: float, input_zero_point: int) -> np.ndarray:
    """Relu6Quantized (int8): clamp to [zero point, quantized 6.0] on the input's own scale."""
    lower = input_zero_point
    upper = min(max(tflite_round(f32(np.float32(6.0) / np.float32(input_scale))) + input_zero_point, -128), 127)
    out = np.empty(256, dtype=np.int8)
    for v in range(-128, 128):
        out[v + 128] = upper if v > upper else (lower if v < lower else v)
    return out


def softmax_params(input_scale: float, beta: float) -> tuple[int, np.ndarray]:
    """PreprocessSoftmaxScaling + diff_min, and exp(diff) in Q0.31 for diff = 0, -1, ..., -255.

    Entry k of the table is exp_on_negative_values of the rescaled diff -k, or -1
    where diff < diff_min (TFLite leaves those out of the sum and outputs -128)."""
    scaled_diff_integer_bits = 5
    max_real = (1 << 31) - 1.0
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - scaled_diff_integer_bits)),
               max_real)
    # TFLite CHECKs real > 1 (QuantizeMultiplierGreaterThanOne); builds without the
    # check, TFLite Micro's among them, go on with whatever QuantizeMultiplier gives.
    mult, left_shift = quantize_multiplier(real)
    diff_min = -calculate_input_radius(scaled_diff_integer_bits, left_shift, 31)
    table = np.empty(256, dtype=np.int32)
    for k in range(256):
        d = -k
        if d >= diff_min:
            table[k] = exp_on_negative_values(mbqm(d, mult, left_shift), scaled_diff_integer_bits)
        else:
            table[k] = -1
    return diff_min, table


def nearest_neighbor_map(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> list[int]:
    """GetNearestNeighbor for every output index, in float32 as TFLite computes it."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel_centers else 0.0)
    idx = []
    for o in range(out_size):
        v = np.float32(np.float32(np.float32(o) + offset) * scale)
        i = tflite_round(float(v)) if align_corners else int(math.floor(float(v)))
        i = min(i, in_size - 1)
        if half_pixel_centers:
            i = max(0, i)
        idx.append(i)
    return idx


def same_padding(in_size: int, filter_size: int, stride: int, dilation: int, out_size: int) -> int:
    """ComputePaddingWithOffset: the leading pad (the trailing one may be one more)."""
    effective = (filter_size - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2


def out_size(padding: str, in_size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride
