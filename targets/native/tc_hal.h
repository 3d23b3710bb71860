/* Board HAL for host builds: the reference semantics of every HAL call. */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TC_BOARD_NAME "native"

/* The host has no meaningful counter: tc_hal_counter() is always 0. */
#define TC_HAL_COUNTER_KIND "none"

static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    return (int32_t)a * (int32_t)b;
}

static inline void tc_hal_putc(char c)
{
    putchar((unsigned char)c);
}

static inline uint64_t tc_hal_counter(void)
{
    return 0;
}

__attribute__((noreturn)) static inline void tc_hal_exit(int code)
{
    fflush(stdout);
    exit(code);
}

/* Link application (firmware_templates/app): defined in tc_hal_link.c, which only
 * link-application builds compile (it needs POSIX poll/read). */
#define TC_HAL_LINK_SOURCES "tc_hal_link.c"
int tc_hal_getc(void);          /* next byte, -1 if none within 50 ms, -2 when the link is gone */
void tc_hal_flush(void);        /* push buffered output onto the link */
uint32_t tc_hal_millis(void);   /* monotonic milliseconds */
uint32_t tc_hal_stack_used(void); /* stack high-water mark in bytes; 0xFFFFFFFF: not measurable */
#define TC_HAL_BENCH_COUNTER_KIND "ns"
uint32_t tc_hal_bench_counter(void); /* the bench command's clock: host nanoseconds (wraps) */

#endif
