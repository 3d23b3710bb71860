/* HAL shared by the K210 and its emulated twin k210-qemu. Each board's tc_hal.h includes
 * this and adds what differs: the counter (cycles on the chip, exact retired instructions
 * in QEMU) and the board name. The UART and the way a program stops are in each board's
 * tc_hal.c; tc_hal_k210.c (stdio, exit marker, trap report) is common. */
#ifndef TC_HAL_K210_H
#define TC_HAL_K210_H

#include <stdint.h>

/* Exit code tc_hal_exit reports after a CPU exception (see crt0.S). */
#define TC_HAL_EXIT_TRAP 254

/* The console: UARTHS on the K210, the NS16550A of QEMU virt on k210-qemu; 8N1. */
#define TC_HAL_UART_BAUD 115200u

/* The M extension multiplies directly. */
static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    return (int32_t)a * (int32_t)b;
}

/* Called by crt0 before constructors and main: sets up the UART. */
void tc_hal_init(void);

/* One byte out on the UART (blocks while its FIFO is full). printf and the rest of stdio
 * write through it too (tc_hal_k210.c sets up stdout). */
void tc_hal_putc(char c);

/* One byte in from the UART (blocks until there is one). */
#define TC_HAL_HAS_GETC 1
int tc_hal_getc(void);

/* Prints "\ntc_hal: exit <code>\n" and stops: the K210 parks the hart (wfi), QEMU exits
 * with the code through the SiFive test device (0 passes; 1..255 fail). */
__attribute__((noreturn)) void tc_hal_exit(int code);

/* Board part of tc_hal_exit, after the marker: park or leave QEMU. */
__attribute__((noreturn)) void tc_hal_halt(int code);

#endif
