/* MAX_POOL_2D and AVERAGE_POOL_2D, int8 (reference_integer_ops pooling.h).
 * Both only look at taps inside the input; the average divides by how many
 * there were, rounding halves away from zero. */
#include "tc_nn_kernels.h"
#include "tc_nn_quant.h"

static void tc_nn_pool_window(int origin, int filter, int size, int *start, int *end)
{
    *start = origin < 0 ? -origin : 0;
    *end = size - origin < filter ? size - origin : filter;
}

/* One walk over output pixels and channels for both pools: `is_max` picks the reduction. */
static void tc_nn_pool_s8(const tc_nn_pool_t *p, const int8_t *in, int8_t *out, int is_max)
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
                    int32_t acc = is_max ? -128 : 0;
                    for (int fy = fy0; fy < fy1; ++fy) {
                        const int8_t *row = in + (((int32_t)b * p->in_h + y0 + fy) * p->in_w + x0) * p->channels + c;
                        for (int fx = fx0; fx < fx1; ++fx) {
                            const int8_t v = row[(int32_t)fx * p->channels];
                            acc = is_max ? (v > acc ? v : acc) : acc + v;
                        }
                    }
                    if (!is_max && count > 0) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    *out++ = (int8_t)tc_nn_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void tc_nn_max_pool_s8(const tc_nn_pool_t *p, const int8_t *in, int8_t *out)
{
    tc_nn_pool_s8(p, in, out, 1);
}

void tc_nn_avg_pool_s8(const tc_nn_pool_t *p, const int8_t *in, int8_t *out)
{
    tc_nn_pool_s8(p, in, out, 0);
}
