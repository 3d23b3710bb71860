/* Board HAL for the Nordic nRF52840 (Cortex-M4F, 64 MHz): the common Cortex-M HAL
 * (../cortex_m_common/) with the UARTE0 console and the DWT cycle counter. */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#include "../cortex_m_common/tc_dwt.h"
#include "../cortex_m_common/tc_hal_cm.h"

#define TC_BOARD_NAME "nrf52840"

/* What tc_hal_counter() counts: CPU clock cycles (DWT CYCCNT, 64 MHz HFCLK). */
#define TC_HAL_COUNTER_KIND "cycle"

/* Cycles since tc_hal_init (64-bit, extended in software: one interval < 2^32 cycles = 67 s). */
static inline uint64_t tc_hal_counter(void)
{
    return tc_dwt_cycles64();
}

#endif
