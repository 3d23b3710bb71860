/* Link HAL for QEMU virt: the NS16550A's receive side and the CLINT timer. */
#include <stdint.h>

#include "tc_hal.h"

#define UART_BASE 0x10000000u
#define UART_RBR (*(volatile uint8_t *)(uintptr_t)(UART_BASE + 0u))
#define UART_LSR (*(volatile uint8_t *)(uintptr_t)(UART_BASE + 5u))
#define UART_LSR_DR 0x01u
#define CLINT_MTIME (*(volatile uint64_t *)(uintptr_t)0x0200BFF8u)

int tc_hal_getc(void)
{
    if (!(UART_LSR & UART_LSR_DR)) {
        return -1;
    }
    return UART_RBR;
}

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
