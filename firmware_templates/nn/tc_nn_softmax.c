/* SOFTMAX, int8 in, int8 out with scale 1/256 and zero point -128
 * (reference_ops::Softmax, quantized). exp() of each difference to the row
 * maximum comes from the generated table; the reciprocal of the sum is
 * gemmlowp's Newton-Raphson, as in TFLite. */
#include "tc_nn_kernels.h"
#include "tc_nn_quant.h"

void tc_nn_softmax_s8(const tc_nn_softmax_t *p, const int8_t *in, int8_t *out)
{
    for (int32_t i = 0; i < p->outer; ++i, in += p->depth, out += p->depth) {
        int8_t max_in_row = -128;
        for (int c = 0; c < p->depth; ++c) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        int32_t sum_of_exps = 0; /* Q12.19 */
        for (int c = 0; c < p->depth; ++c) {
            const int32_t e = p->exp_table[max_in_row - in[c]];
            if (e >= 0) {
                sum_of_exps += tc_nn_rdbpot(e, 12);
            }
        }
        /* GetReciprocal(sum_of_exps, 12, &num_bits_over_unit) */
        const int headroom_plus_one = tc_nn_clz32((uint32_t)sum_of_exps);
        const int num_bits_over_unit = 12 - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (UINT32_C(1) << 31));
        const int32_t shifted_scale = tc_nn_one_over_one_plus_x(shifted_sum_minus_one);
        const int exponent = num_bits_over_unit + 31 - 8;
        for (int c = 0; c < p->depth; ++c) {
            const int32_t e = p->exp_table[max_in_row - in[c]];
            if (e >= 0) {
                const int32_t unsat = tc_nn_rdbpot(tc_nn_srdhm(shifted_scale, e), exponent);
                out[c] = (int8_t)tc_nn_clamp(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}
