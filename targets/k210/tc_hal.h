/* Board HAL for the Kendryte K210 (dual-core RV64IMAFDC, bare-metal M-mode on hart 0). */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#include "tc_hal_k210.h"

#define TC_BOARD_NAME "k210"

/* What tc_hal_counter() counts: CPU clock cycles (the cycle CSR). */
#define TC_HAL_COUNTER_KIND "cycle"

/* Cycle counter. The memory clobber keeps loads and stores on their side of the read. */
static inline uint64_t tc_hal_counter(void)
{
    uint64_t n;
    __asm__ volatile("rdcycle %0" : "=r"(n) : : "memory");
    return n;
}

#endif
