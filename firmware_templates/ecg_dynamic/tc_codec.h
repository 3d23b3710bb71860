/* tinycodec ECG dynamic codec (Dynamic-Deep): device side. Spec: docs/ecg_dynamic.md;
 * Python twin: toolchain/codecs/ecg_dynamic/reference.py. The same entry point as the
 * error-bounded codec, so every harness (main_native.c, main_uart.c, main_sim.c) runs it. */
#ifndef TC_CODEC_H
#define TC_CODEC_H

#include <stdint.h>

#define TC_MISSING (-32768) /* a missing sample (NaN at the source) */

#define TC_MAX_LATENT_BITS 8

/* Encodes one 2048-sample segment of 11-bit adu in place (missing samples are imputed into x,
 * samples outside 0..2047 clamped). eps = task << 12 | bound in thousandths: tasks 0..3 select
 * the level from the predicted error of task beat / rpeak / rhythm / weighted, 4..7 force level
 * task - 4. latent_bits: 1..TC_MAX_LATENT_BITS; mean_shift is ignored. out must hold
 * TC_OUT_BYTES; returns the exact number of bits written (0: refused, eps task 8..15 or
 * latent_bits out of range). *n_imputed: missing samples, saturated at 255. */
uint16_t tc_encode(int16_t *x, uint16_t eps, uint8_t latent_bits, uint8_t mean_shift, uint8_t *out,
                   uint8_t *n_imputed);

#endif
