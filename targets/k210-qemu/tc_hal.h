/* Board HAL for k210-qemu: the K210's emulated twin on QEMU virt (same startup, linker script
 * and common HAL as targets/k210/; the UART and the exit differ, see tc_hal.c). */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#include "../k210/tc_hal_k210.h"

#ifndef TC_BOARD_NAME /* riscv-qemu reuses this HAL under its own name */
#define TC_BOARD_NAME "k210-qemu"
#endif

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

/* Link application (firmware_templates/app), in tc_hal_link.c; tc_hal_getc returns -1 when
 * nothing is waiting in link builds (TC_HAL_LINK). */
#define TC_HAL_BENCH_COUNTER_KIND "instret"
void tc_hal_flush(void);             /* output is unbuffered: nothing to do */
uint32_t tc_hal_millis(void);        /* CLINT mtime (10 MHz) in ms; virtual time under -icount */
uint32_t tc_hal_stack_used(void);    /* not measured here: 0xFFFFFFFF */
uint32_t tc_hal_bench_counter(void); /* retired instructions (low 32 bits) */

#endif
