/* DEPTHWISE_CONV_2D, int8 per-channel (reference_integer_ops::DepthwiseConvPerChannel):
 * output channel ic * depth_multiplier + m filters input channel ic only. */
#include "tc_hal.h"
#include "tc_nn_kernels.h"
#include "tc_nn_quant.h"

void tc_nn_depthwise_conv2d_s8(const tc_nn_dwconv_t *p, const int8_t *in, int8_t *out)
{
    const int out_c = p->in_c * p->depth_multiplier;
    for (int b = 0; b < p->batches; ++b) {
        for (int oy = 0; oy < p->out_h; ++oy) {
            const int in_y0 = oy * p->stride_h - p->pad_h;
            for (int ox = 0; ox < p->out_w; ++ox) {
                const int in_x0 = ox * p->stride_w - p->pad_w;
                for (int ic = 0; ic < p->in_c; ++ic) {
                    for (int m = 0; m < p->depth_multiplier; ++m) {
                        const int oc = ic * p->depth_multiplier + m;
                        int32_t acc = 0;
                        for (int ky = 0; ky < p->k_h; ++ky) {
                            const int iy = in_y0 + ky * p->dil_h;
                            if (iy < 0 || iy >= p->in_h) {
                                continue;
                            }
                            for (int kx = 0; kx < p->k_w; ++kx) {
                                const int ix = in_x0 + kx * p->dil_w;
                                if (ix < 0 || ix >= p->in_w) {
                                    continue;
                                }
                                const int8_t x = in[(((int32_t)b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic];
                                const int8_t w = p->filter[((int32_t)ky * p->k_w + kx) * out_c + oc];
                                acc += tc_mul16((int16_t)(x + p->q.input_offset), w);
                            }
                        }
                        if (p->bias) {
                            acc += p->bias[oc];
                        }
                        acc = tc_nn_mbqm(acc, p->q.mult[oc], p->q.shift[oc]) + p->q.output_offset;
                        out[(((int32_t)b * p->out_h + oy) * p->out_w + ox) * out_c + oc] =
                            (int8_t)tc_nn_clamp(acc, p->q.act_min, p->q.act_max);
                    }
                }
            }
        }
    }
}
