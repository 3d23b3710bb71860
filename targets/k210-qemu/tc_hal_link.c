/* Link HAL for QEMU virt (k210-qemu, riscv-qemu): time from the CLINT, the counter. The UART's
 * receive side is tc_hal_getc in tc_hal.c, which link builds (TC_HAL_LINK) make non-blocking. */
#include <stdint.h>

#include "tc_hal.h"

#define CLINT_MTIME (*(volatile uint64_t *)(uintptr_t)0x0200BFF8u)

void tc_hal_flush(void)
{
}

uint32_t tc_hal_millis(void)
{
    return (uint32_t)(CLINT_MTIME / 10000u);
}

uint32_t tc_hal_stack_used(void)
{
    return 0xFFFFFFFFu;
}

uint32_t tc_hal_bench_counter(void)
{
    return (uint32_t)tc_hal_counter();
}
