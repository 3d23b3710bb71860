/* RESIZE_NEAREST_NEIGHBOR: the source row and column of every output pixel are
 * tabulated at generate time (TFLite computes them in float32). */
#include "tc_nn_kernels.h"

void tc_nn_resize_nearest_s8(const tc_nn_resize_t *p, const int8_t *in, int8_t *out)
{
    for (int b = 0; b < p->batches; ++b) {
        for (int oy = 0; oy < p->out_h; ++oy) {
            const int8_t *row = in + ((int32_t)b * p->in_h + p->y_map[oy]) * p->in_w * p->channels;
            for (int ox = 0; ox < p->out_w; ++ox) {
                const int8_t *px = row + (int32_t)p->x_map[ox] * p->channels;
                for (int c = 0; c < p->channels; ++c) {
                    *out++ = px[c];
                }
            }
        }
    }
}
