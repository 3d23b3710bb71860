/* CONV_2D, int8 with per-channel requantization (TFLite's
 * reference_integer_ops::ConvPerChannel). Taps outside the input are skipped,
 * which is zero-padding in the real-valued domain. */
#include "tc_hal.h"
#include "tc_nn_kernels.h"
#include "tc_nn_quant.h"

void tc_nn_conv2d_s8(const tc_nn_conv_t *p, const int8_t *in, int8_t *out)
{
    const int32_t filter_per_out = (int32_t)p->k_h * p->k_w * p->in_c;
    for (int b = 0; b < p->batches; ++b) {
        for (int oy = 0; oy < p->out_h; ++oy) {
            const int in_y0 = oy * p->stride_h - p->pad_h;
            for (int ox = 0; ox < p->out_w; ++ox) {
                const int in_x0 = ox * p->stride_w - p->pad_w;
                for (int oc = 0; oc < p->out_c; ++oc) {
                    const int8_t *w = p->filter + (int32_t)oc * filter_per_out;
                    int32_t acc = 0;
                    for (int ky = 0; ky < p->k_h; ++ky) {
                        const int iy = in_y0 + ky * p->dil_h;
                        if (iy < 0 || iy >= p->in_h) {
                            w += (int32_t)p->k_w * p->in_c;
                            continue;
                        }
                        for (int kx = 0; kx < p->k_w; ++kx, w += p->in_c) {
                            const int ix = in_x0 + kx * p->dil_w;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            const int8_t *x = in + (((int32_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c;
                            for (int ic = 0; ic < p->in_c; ++ic) {
                                acc += tc_mul16((int16_t)(x[ic] + p->q.input_offset), w[ic]);
                            }
                        }
                    }
                    if (p->bias) {
                        acc += p->bias[oc];
                    }
                    acc = tc_nn_mbqm(acc, p->q.mult[oc], p->q.shift[oc]) + p->q.output_offset;
                    *out++ = (int8_t)tc_nn_clamp(acc, p->q.act_min, p->q.act_max);
                }
            }
        }
    }
}
