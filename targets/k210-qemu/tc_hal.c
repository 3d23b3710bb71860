/* k210-qemu HAL: the console on QEMU virt's NS16550A (0x10000000) instead of UARTHS, and the
 * exit through QEMU's SiFive test device (0x100000) instead of a parked hart. */
#include <stdint.h>

#include "tc_hal.h"

#define REG8(addr) (*(volatile uint8_t *)(uintptr_t)(addr))

#define UART_BASE 0x10000000u
#define UART_RBR REG8(UART_BASE + 0u) /* receive (read) / transmit (write) */
#define UART_THR REG8(UART_BASE + 0u)
#define UART_IER REG8(UART_BASE + 1u)
#define UART_FCR REG8(UART_BASE + 2u)
#define UART_LCR REG8(UART_BASE + 3u)
#define UART_LSR REG8(UART_BASE + 5u)
#define UART_LSR_DR 0x01u
#define UART_LSR_THRE 0x20u

#define TEST_DEV (*(volatile uint32_t *)(uintptr_t)0x100000u)
#define TEST_PASS 0x5555u
#define TEST_FAIL 0x3333u

void tc_hal_init(void)
{
    UART_IER = 0x00u; /* polled */
    UART_LCR = 0x03u; /* 8N1; QEMU ignores the divisor, so TC_HAL_UART_BAUD needs none */
    UART_FCR = 0x07u; /* FIFOs on and cleared */
}

void tc_hal_putc(char c)
{
    while (!(UART_LSR & UART_LSR_THRE))
        ;
    UART_THR = (uint8_t)c;
}

int tc_hal_getc(void)
{
#ifdef TC_HAL_LINK /* the link application polls: -1 when no byte is waiting */
    if (!(UART_LSR & UART_LSR_DR))
        return -1;
#else
    while (!(UART_LSR & UART_LSR_DR))
        ;
#endif
    return UART_RBR;
}

__attribute__((noreturn)) void tc_hal_halt(int code)
{
    if (code == 0) {
        TEST_DEV = TEST_PASS;
    } else {
        uint32_t c = (code > 0 && code < 256) ? (uint32_t)code : 255u;
        TEST_DEV = (c << 16) | TEST_FAIL;
    }
    for (;;)
        ;
}
