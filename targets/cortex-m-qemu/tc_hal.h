/* Board HAL for cortex-m-qemu: QEMU's mps2-an386 (ARM MPS2 FPGA board, AN386 image: a
 * Cortex-M4 with FPU), the emulated twin of nrf52840 and stm32l4 (same startup, linker
 * script and common HAL, ../cortex_m_common/; the UART, the exit and the counter differ).
 *
 * The counter: exact retired instructions. Cortex-M has no instret register and QEMU 7.2
 * does not model the DWT (CYCCNT reads 0). Under `-icount shift=8` every instruction moves
 * QEMU's virtual clock by exactly 2^8 = 256 ns, and the MPS2 FPGAIO COUNTER (0x40028018, a
 * 32-bit up-counter on the 25 MHz reference clock, computed by QEMU from the virtual clock on
 * each read, and I/O happens at an exact instruction boundary under icount) ticks 6.4 times per
 * instruction. QEMU's virtual clock does not start on a multiple of 256 ns, so tc_hal_init
 * records a reference tick count and tc_hal_counter converts the difference: over m
 * instructions ticks = 6.4 m + e with |e| < 1, so m = round(ticks / 6.4) = (ticks * 5 + 16) >> 5
 * exactly (the error of ticks / 6.4 is under 1/6.4 < 0.5). Virtual time must advance only by
 * instructions: no WFI/WFE in a measured interval (with sleep=on, QEMU's default, an idle CPU
 * lets virtual time follow the host clock). The 32-bit COUNTER wraps every 171.8 s of virtual time
 * (671 M instructions); the FPGAIO CLK100HZ register (0x40028014, 100 Hz, 32 bits, wraps after
 * 497 days) is read right after it and gives the high word: ticks64 = COUNTER + 2^32 * k with
 * k the one that brings it within 2^31 of CLK100HZ * 250000. No state, no interrupt, no limit
 * on an interval's length (below 1.7e14 instructions).
 *
 * tc_hal_counter is a real (non-inline) function in tc_hal.c, in assembly: every read costs the
 * same instructions (call, loads, branch-free arithmetic, return), wherever it is called from,
 * so main_uart.c's "cal" (two reads in a row) is what one read adds to an interval.
 * Requires -icount shift=8 in qemu_args (TC_QEMU_ICOUNT_SHIFT below must match). */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#include "../cortex_m_common/tc_hal_cm.h"

#ifndef TC_BOARD_NAME
#define TC_BOARD_NAME "cortex-m-qemu"
#endif

/* The -icount shift this HAL's conversion assumes (board.toml qemu_args). */
#define TC_QEMU_ICOUNT_SHIFT 8

/* What tc_hal_counter() counts: retired instructions (exact under -icount shift=8). */
#define TC_HAL_COUNTER_KIND "instret"

/* Instructions between the timer reads of two back-to-back tc_hal_counter() calls, not counting
 * the caller's own instructions between the calls (main_uart.c's "cal" line shows it plus those). */
#define TC_HAL_COUNTER_OVERHEAD 24

/* Retired instructions since tc_hal_init (called by Reset_Handler before main), exact. */
uint64_t tc_hal_counter(void);

/* The raw 64-bit 25 MHz tick count since reset (what tc_hal_counter converts), and the
 * reference read tc_hal_init takes. */
uint64_t tc_qemu_ticks(void);
void tc_qemu_counter_init(void);

/* Link application (firmware_templates/app), in tc_hal_link.c; tc_hal_getc returns -1 when
 * nothing is waiting in link builds (TC_HAL_LINK). */
#define TC_HAL_BENCH_COUNTER_KIND "instret"
void tc_hal_flush(void);             /* output is unbuffered: nothing to do */
uint32_t tc_hal_millis(void);        /* FPGAIO COUNTER in ms: virtual time (256 ns per instruction) */
uint32_t tc_hal_stack_used(void);    /* not measured here: 0xFFFFFFFF */
uint32_t tc_hal_bench_counter(void); /* retired instructions (low 32 bits) */

#endif
