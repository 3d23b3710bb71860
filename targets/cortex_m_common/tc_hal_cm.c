/* The part of the Cortex-M HAL that does not depend on the board: stdio on top of
 * tc_hal_putc / tc_hal_getc and the exit marker. Built into every Cortex-M program (board.toml
 * runtime_sources). Includes only tc_hal_cm.h, never "tc_hal.h" (see targets/k210/tc_hal_k210.c
 * for why). */
#include <stdint.h>
#include <stdio.h>

#include "tc_hal_cm.h"

void tc_hal_put_str(const char *s);
void tc_hal_put_hex32(uint32_t v);

void tc_hal_put_str(const char *s)
{
    while (*s)
        tc_hal_putc(*s++);
}

void tc_hal_put_hex32(uint32_t v)
{
    tc_hal_put_str("0x");
    for (int shift = 28; shift >= 0; shift -= 4)
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
    tc_hal_put_str("\ntc_hal: exit ");
    put_int(code);
    tc_hal_put_str("\n");
    tc_hal_halt(code);
}

/* picolibc's exit() ends here after running atexit handlers and destructors. */
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
    int c = tc_hal_getc();
    return c < 0 ? EOF : c;
}

static FILE tc_uart_stdio = FDEV_SETUP_STREAM(uart_put, uart_get, NULL, _FDEV_SETUP_RW);
FILE *const stdin = &tc_uart_stdio;
FILE *const stdout = &tc_uart_stdio;
FILE *const stderr = &tc_uart_stdio;
