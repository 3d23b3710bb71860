/* tinycodec error-bounded AE codec: device side. Reference: toolchain/codecs/ae_codec.py. */
#ifndef TC_CODEC_H
#define TC_CODEC_H

#include <stdint.h>

#define TC_MISSING (-32768) /* a missing reading */

/* Encodes one window in place (missing readings are imputed into x).
 * out must hold TC_OUT_BYTES; returns the exact number of bits written. */
uint16_t tc_encode(int16_t *x, uint16_t eps, uint8_t *out, uint8_t *n_imputed);

#endif
