/* Board HAL for k210-qemu: the K210's emulated twin on QEMU virt (same startup, linker script
 * and common HAL as targets/k210/; the UART and the exit differ, see tc_hal.c). */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#include "../k210/tc_hal_k210.h"

#define TC_BOARD_NAME "k210-qemu"

/* What tc_hal_counter() counts: retired instructions (exact under qemu -icount shift=0),
 * not cycles. */
#define TC_HAL_COUNTER_KIND "instret"

/* Retired-instruction counter; the read itself is one instruction. */
static inline uint64_t tc_hal_counter(void)
{
    uint64_t n;
    __asm__ volatile("rdinstret %0" : "=r"(n) : : "memory");
    return n;
}

#endif
