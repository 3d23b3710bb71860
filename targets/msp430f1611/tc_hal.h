/* Board HAL for the MSP430F1611 (TelosB / Tmote Sky). */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#define TC_BOARD_NAME "msp430f1611"

/* 16-bit hardware multiplier (MSP430x1xx family guide, SLAU049, ch. 7). */
#define TC_MPYS (*(volatile uint16_t *)0x0132u)
#define TC_OP2 (*(volatile uint16_t *)0x0138u)
#define TC_RESLO (*(volatile uint16_t *)0x013Au)
#define TC_RESHI (*(volatile uint16_t *)0x013Cu)

/* Signed 16x16 -> 32: writing OP2 starts the signed multiply; the result is
 * readable by the next instruction. Not interrupt-safe, and needs not be:
 * tinycodec firmware runs with interrupts off. */
static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    TC_MPYS = (uint16_t)a;
    TC_OP2 = (uint16_t)b;
    uint16_t lo = TC_RESLO;
    uint16_t hi = TC_RESHI;
    return (int32_t)(((uint32_t)hi << 16) | lo);
}

#endif
