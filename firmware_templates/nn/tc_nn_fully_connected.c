/* FULLY_CONNECTED, int8 (reference_integer_ops::FullyConnected and
 * FullyConnectedPerChannel: identical but for where the multiplier comes from). */
#include "tc_hal.h"
#include "tc_nn_kernels.h"
#include "tc_nn_quant.h"

void tc_nn_fully_connected_s8(const tc_nn_fc_t *p, const int8_t *in, int8_t *out)
{
    for (int b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (int32_t)b * p->in_depth;
        const int8_t *w = p->filter;
        for (int oc = 0; oc < p->out_depth; ++oc) {
            int32_t acc = 0;
            for (int d = 0; d < p->in_depth; ++d) {
                acc += tc_mul16((int16_t)(w[d] + p->filter_offset), (int16_t)(x[d] + p->q.input_offset));
            }
            w += p->in_depth;
            if (p->bias) {
                acc += p->bias[oc];
            }
            acc = tc_nn_mbqm(acc, p->q.mult[oc], p->q.shift[oc]) + p->q.output_offset;
            *out++ = (int8_t)tc_nn_clamp(acc, p->q.act_min, p->q.act_max);
        }
    }
}
