/* tinycodec error-bounded AE codec: device side. Reference: toolchain/codecs/ae_codec.py. */
#ifndef TC_CODEC_H
#define TC_CODEC_H

#include <stdint.h>

#define TC_MISSING (-32768) /* a missing reading */

#define TC_MAX_LATENT_BITS 14
#define TC_MAX_MEAN_SHIFT 8

/* Encodes one window in place (missing readings are imputed into x) with error bound eps
 * (native units), latent_bits (1..TC_MAX_LATENT_BITS) per latent unit and the window mean sent
 * on a grid of 2^mean_shift native units (0..TC_MAX_MEAN_SHIFT).
 * out must hold TC_OUT_BYTES; returns the exact number of bits written (0: refused). */
uint16_t tc_encode(int16_t *x, uint16_t eps, uint8_t latent_bits, uint8_t mean_shift, uint8_t *out,
                   uint8_t *n_imputed);

#endif
