/* The part of the K210 HAL that does not depend on the UART: stdio on top of tc_hal_putc /
 * tc_hal_getc, the exit marker and the trap report. Built into k210 and k210-qemu programs
 * (board.toml runtime_sources). Only includes tc_hal_k210.h, never "tc_hal.h": a quoted
 * include is looked up next to this file first, which would pick the k210 board's header
 * for a k210-qemu build. */
#include <stdint.h>
#include <stdio.h>

#include "tc_hal_k210.h"

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

static void put_int(int v)
{
    char buf[12];
    int n = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do {
        buf[n++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u);
    if (v < 0)
        tc_hal_putc('-');
    while (n)
        tc_hal_putc(buf[--n]);
}

__attribute__((noreturn)) void tc_hal_exit(int code)
{
    put_str("\ntc_hal: exit ");
    put_int(code);
    put_str("\n");
    tc_hal_halt(code);
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

static int uart_get(FILE *f)
{
    (void)f;
    return tc_hal_getc();
}

static FILE tc_uart_stdio = FDEV_SETUP_STREAM(uart_put, uart_get, NULL, _FDEV_SETUP_RW);
FILE *const stdin = &tc_uart_stdio;
FILE *const stdout = &tc_uart_stdio;
FILE *const stderr = &tc_uart_stdio;

/* Called by crt0.S's trap entry; the line's format is parsed by toolchain/families/riscv.py. */
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
