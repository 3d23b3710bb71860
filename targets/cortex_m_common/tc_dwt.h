/* The DWT cycle counter (CYCCNT) of a real Cortex-M3/M4/M7, for the chips' tc_hal_counter
 * (nrf52840, stm32l4). Not on the QEMU twin: QEMU 7.2 does not implement the DWT (its
 * registers read as zero there), see ../cortex-m-qemu/tc_hal.h for the exact counter it uses.
 *
 * tc_dwt_init (from the board's tc_hal_init): DEMCR.TRCENA on, CYCCNT = 0, DWT_CTRL.CYCCNTENA.
 * CYCCNT is 32 bits: it wraps after 2^32 cycles (67 s at 64 MHz, 54 s at 80 MHz).
 * tc_dwt_cycles64 extends it to 64 bits in software: it must be called at least once per wrap
 * period (every tc_hal_counter read does), so a single measured interval must stay under
 * 2^32 cycles. The extension is branch-free (same instruction count whatever the value) so
 * that a counter read costs the same every time and main_uart.c's "cal" overhead is constant. */
#ifndef TC_DWT_H
#define TC_DWT_H

#include <stdint.h>

#define TC_DWT_DEMCR   (*(volatile uint32_t *)0xE000EDFCu)
#define TC_DWT_CTRL    (*(volatile uint32_t *)0xE0001000u)
#define TC_DWT_CYCCNT  (*(volatile uint32_t *)0xE0001004u)
#define TC_DWT_LAR     (*(volatile uint32_t *)0xE0001FB0u) /* CoreSight lock (M7 only; ignored on M4) */

static inline void tc_dwt_init(void)
{
    TC_DWT_DEMCR |= 1u << 24;   /* TRCENA: enables DWT and ITM */
    TC_DWT_LAR = 0xC5ACCE55u;
    TC_DWT_CYCCNT = 0u;
    TC_DWT_CTRL |= 1u;          /* CYCCNTENA */
}

/* The raw 32-bit cycle count; one load. */
static inline uint32_t tc_dwt_cycles32(void)
{
    uint32_t c;
    __asm__ volatile("" ::: "memory");
    c = TC_DWT_CYCCNT;
    __asm__ volatile("" ::: "memory");
    return c;
}

/* State of the software extension (one definition, in the board's tc_hal.c). */
extern uint32_t tc_dwt_last, tc_dwt_high;

/* 64-bit cycles: the high word goes up by one when the low word went backwards since the
 * last call (branch-free: (now < last) as 0/1). */
static inline uint64_t tc_dwt_cycles64(void)
{
    const uint32_t now = tc_dwt_cycles32();
    const uint32_t wrapped = (uint32_t)(now < tc_dwt_last);
    tc_dwt_high += wrapped;
    tc_dwt_last = now;
    return ((uint64_t)tc_dwt_high << 32) | now;
}

#endif
