/* MAX_POOL_2D and AVERAGE_POOL_2D, int8 (reference_integer_ops pooling.h).
 * Both only look at taps inside the input; the average divides by how many
 * there were, rounding halves away from zero. */
#include "tc_nn_kernels.h"
#include "tc_nn_quant.h"

static int tc_nn_pool_window(int origin, int filter, int size, int *start, int *end)
{
    *start = origin < 0 ? -origin : 0;
    *end = size - origin < filter ? size - origin : filter;
    return *end > *start;
}

void tc_nn_max_pool_s8(const tc_nn_pool_t *p, const int8_t *in, int8_t *out)
{
    for (int b = 0; b < p->batches; ++b) {
        for (int oy = 0; oy < p->out_h; ++oy) {
            for (int ox = 0; ox < p->out_w; ++ox) {
                const int y0 = oy * p->stride_h - p->pad_h;
                const int x0 = ox * p->stride_w - p->pad_w;
                int fy0, fy1, fx0, fx1;
                tc_nn_pool_window(y0, p->f_h, p->in_h, &fy0, &fy1);
                tc_nn_pool_window(x0, p->f_w, p->in_w, &fx0, &fx1);
                for (int c = 0; c < p->channels; ++c) {
                    int32_t m = -128;
                    for (int fy = fy0; fy < fy1; ++fy) {
                        for (int fx = fx0; fx < fx1; ++fx) {
                            const int8_t v = in[(((int32_t)b * p->in_h + y0 + fy) * p->in_w + x0 + fx) * p->channels + c];
                            m = v > m ? v : m;
                        }
                    }
                    *out++ = (int8_t)tc_nn_clamp(m, p->act_min, p->act_max);
                }
            }
        }
    }
}

void tc_nn_avg_pool_s8(const tc_nn_pool_t *p, const int8_t *in, int8_t *out)
{
    for (int b = 0; b < p->batches; ++b) {
        for (int oy = 0; oy < p->out_h; ++oy) {
            for (int ox = 0; ox < p->out_w; ++ox) {
                const int y0 = oy * p->stride_h - p->pad_h;
                const int x0 = ox * p->stride_w - p->pad_w;
                int fy0, fy1, fx0, fx1;
                tc_nn_pool_window(y0, p->f_h, p->in_h, &fy0, &fy1);
                tc_nn_pool_window(x0, p->f_w, p->in_w, &fx0, &fx1);
                const int16_t count = (int16_t)((fy1 - fy0) * (fx1 - fx0));
                for (int c = 0; c < p->channels; ++c) {
                    int32_t acc = 0;
                    for (int fy = fy0; fy < fy1; ++fy) {
                        for (int fx = fx0; fx < fx1; ++fx) {
                            acc += in[(((int32_t)b * p->in_h + y0 + fy) * p->in_w + x0 + fx) * p->channels + c];
                        }
                    }
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    *out++ = (int8_t)tc_nn_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}
