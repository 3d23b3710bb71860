/* LOGISTIC, TANH, RELU and RELU6 on int8: each is a function of one int8 value,
 * so the generator evaluates TFLite's integer arithmetic (gemmlowp's fixed-point
 * sigmoid and tanh, the ReLU requantization) for all 256 inputs and the device
 * only looks up. */
#include "tc_nn_kernels.h"

void tc_nn_lut_s8(const int8_t *table, const int8_t *in, int8_t *out, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) {
        out[i] = table[in[i] + 128];
    }
}
