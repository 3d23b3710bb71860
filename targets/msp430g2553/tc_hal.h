/* Board HAL for the MSP430G2553 LaunchPad (no hardware multiplier). */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#define TC_BOARD_NAME "msp430g2553"

/* Signed 16x16 -> 32 multiply by shift-add on the magnitudes. Looping over the
 * smaller magnitude ends early for small weights, and 16-bit adds into a
 * 32-bit accumulator are cheaper than a full __mspabi_mpyl (32x32) call. */
static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    uint16_t ua = a < 0 ? (uint16_t)(0u - (uint16_t)a) : (uint16_t)a;
    uint16_t ub = b < 0 ? (uint16_t)(0u - (uint16_t)b) : (uint16_t)b;
    if (ub > ua) {
        uint16_t t = ua;
        ua = ub;
        ub = t;
    }
    uint32_t m = ua, acc = 0;
    while (ub) {
        if (ub & 1u)
            acc += m;
        m <<= 1;
        ub >>= 1;
    }
    /* |product| <= 2^30, so the negation cannot overflow. */
    return ((a < 0) != (b < 0)) ? -(int32_t)acc : (int32_t)acc;
}

#endif
