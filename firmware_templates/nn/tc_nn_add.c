/* ADD, int8 with broadcasting (reference_integer_ops AddFunc): both inputs are
 * brought to a common scale with 20 bits of headroom, summed, and rescaled. */
#include "tc_nn_kernels.h"
#include "tc_nn_quant.h"

void tc_nn_add_s8(const tc_nn_add_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    for (int i0 = 0; i0 < p->dims[0]; ++i0) {
        for (int i1 = 0; i1 < p->dims[1]; ++i1) {
            for (int i2 = 0; i2 < p->dims[2]; ++i2) {
                const int32_t o1 = i0 * p->stride1[0] + i1 * p->stride1[1] + i2 * p->stride1[2];
                const int32_t o2 = i0 * p->stride2[0] + i1 * p->stride2[1] + i2 * p->stride2[2];
                for (int i3 = 0; i3 < p->dims[3]; ++i3) {
                    const int32_t a = (int32_t)(in1[o1 + i3 * p->stride1[3]] + p->input1_offset);
                    const int32_t b = (int32_t)(in2[o2 + i3 * p->stride2[3]] + p->input2_offset);
                    const int32_t sa = tc_nn_mbqm((int32_t)((uint32_t)a << p->left_shift), p->input1_multiplier, p->input1_shift);
                    const int32_t sb = tc_nn_mbqm((int32_t)((uint32_t)b << p->left_shift), p->input2_multiplier, p->input2_shift);
                    const int32_t r = tc_nn_mbqm(sa + sb, p->output_multiplier, p->output_shift) + p->output_offset;
                    *out++ = (int8_t)tc_nn_clamp(r, p->act_min, p->act_max);
                }
            }
        }
    }
}
