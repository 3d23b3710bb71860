/* QUANTIZE (int8 -> int8 requantization; float32 -> int8) and DEQUANTIZE
 * (int8 -> float32). The float paths need an FPU or soft-float library and are
 * compiled only with TC_NN_FLOAT (models with float inputs or outputs). */
#include "tc_nn_kernels.h"
#include "tc_nn_quant.h"

void tc_nn_requantize_s8(const int8_t *in, int8_t *out, int32_t n, int32_t mult, int8_t shift, int16_t in_zp, int16_t out_zp)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t r = tc_nn_mbqm((int32_t)in[i] - in_zp, mult, shift) + out_zp;
        out[i] = (int8_t)tc_nn_clamp(r, -128, 127);
    }
}

#ifdef TC_NN_FLOAT
#include <math.h>

void tc_nn_quantize_f32_s8(const float *in, int8_t *out, int32_t n, float scale, int16_t zp)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t r = (int32_t)roundf(in[i] / scale) + zp;
        out[i] = (int8_t)tc_nn_clamp(r, -128, 127);
    }
}

void tc_nn_dequantize_s8_f32(const int8_t *in, float *out, int32_t n, double scale, int16_t zp)
{
    for (int32_t i = 0; i < n; ++i) {
        out[i] = (float)(scale * (double)((int32_t)in[i] - zp));
    }
}
#endif
