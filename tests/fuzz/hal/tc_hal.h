/* HAL for the link application's fuzz target: output goes to a sink, time advances
 * by one millisecond per call, nothing blocks. */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#define TC_BOARD_NAME "fuzz"
#define TC_HAL_COUNTER_KIND "none"
#define TC_HAL_BENCH_COUNTER_KIND "none"

extern volatile uint32_t tc_fuzz_sink;
extern uint32_t tc_fuzz_ms;

static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    return (int32_t)a * (int32_t)b;
}
static inline void tc_hal_putc(char c)
{
    tc_fuzz_sink += (uint8_t)c;
}
static inline void tc_hal_flush(void)
{
}
static inline uint64_t tc_hal_counter(void)
{
    return 0;
}
static inline uint32_t tc_hal_bench_counter(void)
{
    return 0;
}
static inline uint32_t tc_hal_millis(void)
{
    return tc_fuzz_ms++;
}
static inline uint32_t tc_hal_stack_used(void)
{
    return 0xFFFFFFFFu;
}
static inline int tc_hal_getc(void)
{
    return -2;
}
static inline void tc_hal_exit(int code)
{
    (void)code;
}

#endif
