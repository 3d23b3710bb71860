/* riscv-qemu HAL: UART output, stdio on top of it, and exit through the
 * SiFive test device. Built into every riscv-qemu program (board.toml
 * runtime_sources). */
#include <stdint.h>
#include <stdio.h>

#include "tc_hal.h"

#define UART_BASE 0x10000000u
#define UART_THR (*(volatile uint8_t *)(uintptr_t)(UART_BASE + 0u))
#define UART_LSR (*(volatile uint8_t *)(uintptr_t)(UART_BASE + 5u))
#define UART_LSR_THRE 0x20u

#define TEST_DEV (*(volatile uint32_t *)(uintptr_t)0x100000u)
#define TEST_PASS 0x5555u
#define TEST_FAIL 0x3333u

void tc_hal_putc(char c)
{
    while (!(UART_LSR & UART_LSR_THRE))
        ;
    UART_THR = (uint8_t)c;
}

__attribute__((noreturn)) void tc_hal_exit(int code)
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

/* picolibc's exit() ends here after running atexit handlers. */
__attribute__((noreturn)) void _exit(int code)
{
    tc_hal_exit(code);
}

static int uart_put(char c, FILE *f)
{
    (void)f;
    tc_hal_putc(c);
    return (unsigned char)c;
}

static FILE tc_uart_stdio = FDEV_SETUP_STREAM(uart_put, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &tc_uart_stdio;
FILE *const stdout = &tc_uart_stdio;
FILE *const stderr = &tc_uart_stdio;

static void put_str(const char *s)
{
    while (*s)
        tc_hal_putc(*s++);
}

static void put_hex(uint64_t v)
{
    put_str("0x");
    for (int shift = 60; shift >= 0; shift -= 4)
        tc_hal_putc("0123456789abcdef"[(v >> shift) & 0xFu]);
}

/* Called by crt0.S's trap entry; the line's format is parsed by qemu_run.py. */
__attribute__((noreturn, used)) void tc_hal_trap(uint64_t mcause, uint64_t mepc, uint64_t mtval)
{
    put_str("\ntc_hal: trap mcause=");
    put_hex(mcause);
    put_str(" mepc=");
    put_hex(mepc);
    put_str(" mtval=");
    put_hex(mtval);
    put_str("\n");
    tc_hal_exit(TC_HAL_EXIT_TRAP);
}
