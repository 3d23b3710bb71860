/* Board HAL for the MSP430F5529 LaunchPad. */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#define TC_BOARD_NAME "msp430f5529"

/* MPY32 (MSP430x5xx family guide, SLAU208, ch. "32-Bit Hardware Multiplier"),
 * base 0x4C0; its 16-bit registers keep the classic MPY layout. */
#define TC_MPYS (*(volatile uint16_t *)0x04C2u)
#define TC_OP2 (*(volatile uint16_t *)0x04C8u)
#define TC_RESLO (*(volatile uint16_t *)0x04CAu)
#define TC_RESHI (*(volatile uint16_t *)0x04CCu)

/* Signed 16x16 -> 32; not interrupt-safe (we run none). */
static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    TC_MPYS = (uint16_t)a;
    TC_OP2 = (uint16_t)b;
    uint16_t lo = TC_RESLO;
    uint16_t hi = TC_RESHI;
    return (int32_t)(((uint32_t)hi << 16) | lo);
}

#endif
