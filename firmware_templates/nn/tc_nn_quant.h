/* tinycodec int8 kernels: TFLite's fixed-point helpers, shared by every kernel.
 *
 * Each function replays the integer arithmetic of TensorFlow Lite's reference
 * kernels (tensorflow/lite/kernels/internal/common.{h,cc}, gemmlowp's
 * fixedpoint.h) so that the generated C gives the same bytes as TFLite Micro.
 * Written for 16-bit int (MSP430): every intermediate that can exceed 16 bits
 * is int32_t or int64_t, and constants carry INT32_C. Right shifts of negative
 * values are arithmetic on every compiler tinycodec uses (gcc, clang).
 *
 * Define TC_NN_SINGLE_ROUNDING to match a TFLite build made with
 * TFLITE_SINGLE_ROUNDING=1; the default matches the stock (double rounding)
 * build that the tflite-micro Python package runs. */
#ifndef TC_NN_QUANT_H
#define TC_NN_QUANT_H

#include <stdint.h>

#include "tc_nn_config.h"

static inline int32_t tc_nn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#if defined(__MSP430__) && !defined(TC_NN_QUANT_IMPL)
/* On the MSP430 these are ordinary functions in tc_nn_quant.c: each inlined copy
 * of the 64-bit arithmetic costs a few hundred bytes of 16-bit code, and they
 * run once per output value, not per multiply-accumulate. */
int32_t tc_nn_srdhm(int32_t a, int32_t b);
int32_t tc_nn_rdbpot(int32_t x, int e);
int32_t tc_nn_mbqm(int32_t x, int32_t m, int shift);
int32_t tc_nn_sat_shl(int32_t x, int e);
int32_t tc_nn_one_over_one_plus_x(int32_t a);
int tc_nn_clz32(uint32_t x);
#else
#if defined(__MSP430__)
#define TC_NN_QFN
#else
#define TC_NN_QFN static inline
#endif

/* gemmlowp::SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded. */
TC_NN_QFN int32_t tc_nn_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : (INT64_C(1) - (INT64_C(1) << 30));
    const int64_t n = ab + nudge;
    /* C division truncates toward zero; so must this shift (|n| < 2^62). */
    return (int32_t)(n >= 0 ? (n >> 31) : -((-n) >> 31));
}

/* gemmlowp::RoundingDivideByPOT: x / 2^e, halves away from zero; 0 <= e <= 31. */
TC_NN_QFN int32_t tc_nn_rdbpot(int32_t x, int e)
{
    const int32_t mask = (int32_t)((UINT32_C(1) << e) - UINT32_C(1));
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (remainder > threshold ? 1 : 0);
}

/* tflite::MultiplyByQuantizedMultiplier: x * m * 2^(shift - 31). */
TC_NN_QFN int32_t tc_nn_mbqm(int32_t x, int32_t m, int shift)
{
#ifdef TC_NN_SINGLE_ROUNDING
    const int total_shift = 31 - shift;
    const int64_t round = INT64_C(1) << (total_shift - 1);
    return (int32_t)(((int64_t)x * (int64_t)m + round) >> total_shift);
#else
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    /* x * (1 << left) wraps in TFLite; unsigned arithmetic makes that defined here. */
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return tc_nn_rdbpot(tc_nn_srdhm(shifted, m), right);
#endif
}

/* SaturatingRoundingMultiplyByPOT<e> for e > 0. */
TC_NN_QFN int32_t tc_nn_sat_shl(int32_t x, int e)
{
    const int32_t threshold = (int32_t)((UINT32_C(1) << (31 - e)) - UINT32_C(1));
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << e);
}

/* gemmlowp::one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out (Newton-Raphson in Q2.29). */
TC_NN_QFN int32_t tc_nn_one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = (int32_t)((uint32_t)INT32_C(1515870810) + (uint32_t)tc_nn_srdhm(half_denominator, INT32_C(-1010580540)));
    for (int i = 0; i < 3; ++i) {
        const int32_t one_minus = (int32_t)((uint32_t)(INT32_C(1) << 29) - (uint32_t)tc_nn_srdhm(half_denominator, x));
        x = (int32_t)((uint32_t)x + (uint32_t)tc_nn_sat_shl(tc_nn_srdhm(x, one_minus), 2));
    }
    return tc_nn_sat_shl(x, 1);
}

TC_NN_QFN int tc_nn_clz32(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & UINT32_C(0x80000000))) {
        x <<= 1;
        ++n;
    }
    return n;
}

#endif /* outlined */

#endif
