/* Link HAL of the native virtual board: stdin/stdout are the board's UART (a pty
 * master when host_tools/virtual_board.py runs it). */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "tc_hal.h"

int tc_hal_getc(void)
{
    struct pollfd pfd = {0, POLLIN, 0};
    const int r = poll(&pfd, 1, 50);
    if (r == 0) {
        return -1;
    }
    unsigned char c;
    if (r < 0 || read(0, &c, 1) != 1) {
        return -2; /* EOF or the pty went away */
    }
    return c;
}

void tc_hal_flush(void)
{
    fflush(stdout);
}

uint32_t tc_hal_millis(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

uint32_t tc_hal_stack_used(void)
{
    return 0xFFFFFFFFu; /* a host process: not measured */
}

uint32_t tc_hal_bench_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}
