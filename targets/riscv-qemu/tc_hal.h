/* Board HAL for riscv-qemu (QEMU virt, RV64IMAFC, bare-metal M-mode). */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#define TC_BOARD_NAME "riscv-qemu"

/* What tc_hal_counter() counts: retired instructions (exact under
 * qemu -icount shift=0), not cycles. */
#define TC_HAL_COUNTER_KIND "instret"

/* Exit code tc_hal_exit reports after a CPU exception (see crt0.S). Codes
 * outside 0..255 are reported as 255: QEMU's exit status has 8 bits. */
#define TC_HAL_EXIT_TRAP 254

/* The M extension multiplies directly. */
static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    return (int32_t)a * (int32_t)b;
}

/* Retired-instruction counter. The memory clobber keeps loads and stores on
 * their side of the read; the read itself is one instruction. */
static inline uint64_t tc_hal_counter(void)
{
    uint64_t n;
    __asm__ volatile("rdinstret %0" : "=r"(n) : : "memory");
    return n;
}

/* One byte to the NS16550A UART at 0x10000000 (QEMU's -serial). printf and
 * the rest of stdio write through it too (tc_hal.c sets up stdout). */
void tc_hal_putc(char c);

/* Link application (firmware_templates/app), in tc_hal_link.c: UART receive, time. */
#define TC_HAL_BENCH_COUNTER_KIND "instret"
int tc_hal_getc(void);               /* next UART byte, or -1 when none is waiting */
void tc_hal_flush(void);             /* output is unbuffered: nothing to do */
uint32_t tc_hal_millis(void);        /* CLINT mtime (10 MHz) in ms; virtual time under -icount */
uint32_t tc_hal_stack_used(void);    /* not measured here: 0xFFFFFFFF */
uint32_t tc_hal_bench_counter(void); /* retired instructions (low 32 bits) */

/* Stop QEMU: 0 passes, anything else fails with that code (1..255). */
__attribute__((noreturn)) void tc_hal_exit(int code);

#endif
