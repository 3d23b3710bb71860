/* PAD / PADV2, int8, up to 4-D: the pad value is the output zero point
 * (PAD) or the constant operand (PADV2). */
#include "tc_nn_kernels.h"

void tc_nn_pad_s8(const tc_nn_pad_t *p, const int8_t *in, int8_t *out)
{
    for (int i0 = 0; i0 < p->out_dims[0]; ++i0) {
        const int j0 = i0 - p->before[0];
        for (int i1 = 0; i1 < p->out_dims[1]; ++i1) {
            const int j1 = i1 - p->before[1];
            for (int i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int j2 = i2 - p->before[2];
                const int row_inside = j0 >= 0 && j0 < p->in_dims[0] && j1 >= 0 && j1 < p->in_dims[1] &&
                                       j2 >= 0 && j2 < p->in_dims[2];
                const int32_t row = row_inside ? (((int32_t)j0 * p->in_dims[1] + j1) * p->in_dims[2] + j2) * p->in_dims[3] : 0;
                for (int i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    const int j3 = i3 - p->before[3];
                    *out++ = (row_inside && j3 >= 0 && j3 < p->in_dims[3]) ? in[row + j3] : p->value;
                }
            }
        }
    }
}
