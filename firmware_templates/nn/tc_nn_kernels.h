/* tinycodec int8 kernels: parameter blocks and entry points.
 *
 * Layout is TFLite's: NHWC activations, OHWI conv filters, 1HWO depthwise
 * filters, [out, in] fully-connected weights, int32 biases. The generator fills
 * one const parameter block per layer; dimensions are int16_t (every tensor a
 * microcontroller holds has dimensions below 32768), flat sizes int32_t. */
#ifndef TC_NN_KERNELS_H
#define TC_NN_KERNELS_H

#include <stdint.h>

#include "tc_nn_config.h" /* generated: TC_NN_FLOAT, TC_NN_SINGLE_ROUNDING */

/* Requantization shared by the convolution family: per output channel
 * multipliers and shifts (per-tensor layers repeat one value), output zero
 * point and the fused activation's clamp. */
typedef struct {
    const int32_t *mult;
    const int8_t *shift;
    int16_t input_offset;  /* -input zero point */
    int16_t output_offset; /* output zero point */
    int16_t act_min, act_max;
} tc_nn_requant_t;

typedef struct {
    int16_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
    int16_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    const int8_t *filter; /* [out_c][k_h][k_w][in_c] */
    const int32_t *bias;  /* [out_c] or NULL */
    tc_nn_requant_t q;
} tc_nn_conv_t;
void tc_nn_conv2d_s8(const tc_nn_conv_t *p, const int8_t *in, int8_t *out);

typedef struct {
    int16_t batches, in_h, in_w, in_c, out_h, out_w, depth_multiplier;
    int16_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    const int8_t *filter; /* [k_h][k_w][in_c * depth_multiplier] */
    const int32_t *bias;
    tc_nn_requant_t q;
} tc_nn_dwconv_t;
void tc_nn_depthwise_conv2d_s8(const tc_nn_dwconv_t *p, const int8_t *in, int8_t *out);

typedef struct {
    int16_t batches, in_depth, out_depth;
    int16_t filter_offset; /* -filter zero point (0 in every converter output) */
    const int8_t *filter;  /* [out_depth][in_depth] */
    const int32_t *bias;
    tc_nn_requant_t q;
} tc_nn_fc_t;
void tc_nn_fully_connected_s8(const tc_nn_fc_t *p, const int8_t *in, int8_t *out);

/* Broadcasting elementwise ops: shapes right-aligned to 4-D; a stride of 0
 * repeats an input along that dimension. */
typedef struct {
    int16_t dims[4];
    int32_t stride1[4], stride2[4];
    int16_t input1_offset, input2_offset, output_offset;
    int16_t act_min, act_max;
    int8_t left_shift;
    int8_t input1_shift, input2_shift, output_shift;
    int32_t input1_multiplier, input2_multiplier, output_multiplier;
} tc_nn_add_t;
void tc_nn_add_s8(const tc_nn_add_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);

typedef struct {
    int16_t dims[4];
    int32_t stride1[4], stride2[4];
    int16_t input1_offset, input2_offset, output_offset;
    int16_t act_min, act_max;
    int8_t output_shift;
    int32_t output_multiplier;
} tc_nn_mul_t;
void tc_nn_mul_s8(const tc_nn_mul_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);

typedef struct {
    int16_t batches, in_h, in_w, channels, out_h, out_w;
    int16_t f_h, f_w, stride_h, stride_w, pad_h, pad_w;
    int16_t act_min, act_max;
} tc_nn_pool_t;
void tc_nn_max_pool_s8(const tc_nn_pool_t *p, const int8_t *in, int8_t *out);
void tc_nn_avg_pool_s8(const tc_nn_pool_t *p, const int8_t *in, int8_t *out);

typedef struct {
    int16_t in_dims[4], out_dims[4], before[4];
    int8_t value;
} tc_nn_pad_t;
void tc_nn_pad_s8(const tc_nn_pad_t *p, const int8_t *in, int8_t *out);

typedef struct {
    int16_t batches, in_h, in_w, channels, out_h, out_w;
    const int16_t *y_map, *x_map; /* output row/column -> input row/column */
} tc_nn_resize_t;
void tc_nn_resize_nearest_s8(const tc_nn_resize_t *p, const int8_t *in, int8_t *out);

/* Concatenation of inputs sharing one quantization: for each of `outer`
 * slices, copy sizes[i] bytes of input i in turn. */
void tc_nn_concat_s8(int16_t n_inputs, const int8_t *const *inputs, const int32_t *sizes, int32_t outer, int8_t *out);

/* Any int8 -> int8 function of one value (LOGISTIC, TANH): table[x + 128]. */
void tc_nn_lut_s8(const int8_t *table, const int8_t *in, int8_t *out, int32_t n);

typedef struct {
    int32_t outer;
    int16_t depth;
    const int32_t *exp_table; /* exp(-k) in Q0.31 for k = 0..255; -1 where -k < TFLite's diff_min */
} tc_nn_softmax_t;
void tc_nn_softmax_s8(const tc_nn_softmax_t *p, const int8_t *in, int8_t *out);

void tc_nn_requantize_s8(const int8_t *in, int8_t *out, int32_t n, int32_t mult, int8_t shift, int16_t in_zp, int16_t out_zp);
#ifdef TC_NN_FLOAT
void tc_nn_quantize_f32_s8(const float *in, int8_t *out, int32_t n, float scale, int16_t zp);
void tc_nn_dequantize_s8_f32(const int8_t *in, float *out, int32_t n, double scale, int16_t zp);
#endif

#endif
