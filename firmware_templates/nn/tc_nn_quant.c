/* The fixed-point helpers as out-of-line functions, for the MSP430 (see
 * tc_nn_quant.h); empty on every other target. */
#define TC_NN_QUANT_IMPL
#include "tc_nn_quant.h"

#ifndef __MSP430__
/* ISO C forbids an empty translation unit. */
typedef int tc_nn_quant_unused_t;
#endif
