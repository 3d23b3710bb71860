/* HAL shared by every Cortex-M board (cortex-m-qemu, nrf52840, stm32l4). Each board's
 * tc_hal.h includes this and adds what differs: the counter (exact retired instructions on
 * the QEMU twin, DWT cycles on the chips), TC_BOARD_NAME and the UART constants. The UART
 * and the way a program stops are in each board's tc_hal.c; startup.c (vectors, reset, fault
 * report) and tc_hal_cm.c (stdio, exit marker) are common. */
#ifndef TC_HAL_CM_H
#define TC_HAL_CM_H

#include <stdint.h>

/* Exit code tc_hal_exit reports after a CPU fault (startup.c's fault handler). */
#define TC_HAL_EXIT_TRAP 254

/* The console baud rate (8N1); QEMU ignores it. */
#define TC_HAL_UART_BAUD 115200u

/* Cortex-M4 has a single-cycle 32x32 multiply (and SMULBB): a plain multiply. */
static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    return (int32_t)a * (int32_t)b;
}

/* Called by Reset_Handler before constructors and main: clocks the board needs, the UART. */
void tc_hal_init(void);

/* One byte out on the UART (blocks while the transmitter is busy). printf and the rest of
 * stdio write through it too (tc_hal_cm.c sets up stdin/stdout/stderr). */
void tc_hal_putc(char c);

/* One byte in from the UART (blocks until there is one; in link builds, TC_HAL_LINK, it
 * returns -1 at once when nothing is waiting). */
#define TC_HAL_HAS_GETC 1
int tc_hal_getc(void);

/* Prints "\ntc_hal: exit <code>\n" and stops: QEMU exits with the code (semihosting), a
 * chip parks the core (interrupts off, wfi loop). */
__attribute__((noreturn)) void tc_hal_exit(int code);

/* Board part of tc_hal_exit, after the marker. */
__attribute__((noreturn)) void tc_hal_halt(int code);

#endif
