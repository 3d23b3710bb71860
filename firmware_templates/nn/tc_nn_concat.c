/* CONCATENATION of int8 tensors that share one scale and zero point (TFLite
 * Micro requires it), so this is a strided copy. */
#include "tc_nn_kernels.h"

void tc_nn_concat_s8(int16_t n_inputs, const int8_t *const *inputs, const int32_t *sizes, int32_t outer, int8_t *out)
{
    for (int32_t o = 0; o < outer; ++o) {
        for (int i = 0; i < n_inputs; ++i) {
            const int8_t *src = inputs[i] + o * sizes[i];
            for (int32_t k = 0; k < sizes[i]; ++k) {
                *out++ = src[k];
            }
        }
    }
}
