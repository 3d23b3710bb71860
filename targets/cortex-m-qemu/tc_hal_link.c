/* Link HAL for cortex-m-qemu: time from the MPS2 FPGAIO counter, the bench counter. The UART's
 * receive side is tc_hal_getc in tc_hal.c, which link builds (TC_HAL_LINK) make non-blocking.
 *
 * tc_hal_millis is QEMU's virtual time: under -icount shift=8 it advances 256 ns per
 * instruction, not with the host clock, so a guest that busy-polls its UART sees its
 * milliseconds go by faster than the host's (QEMU runs ~300 M instructions/s: ~80 virtual
 * seconds per host second). Timeouts in the link application are virtual time.
 *
 * Throughput: QEMU's CMSDK UART model has a one-byte receive buffer (no FIFO), so the host's
 * bytes come in one per QEMU main-loop round trip: about 17 KB/s (measured with or without
 * -icount), against the 16-byte FIFO of QEMU virt's 16550 on the RISC-V boards. The HIL ECG
 * replay (~450 KB in) takes ~28 s here; on a loaded host (other QEMUs on the same cores) it is
 * slower still, and tests/hil's fixed 10 s ACK waits can run out. */
#include <stdint.h>

#include "tc_hal.h"

void tc_hal_flush(void)
{
}

uint32_t tc_hal_millis(void)
{
    return (uint32_t)(tc_qemu_ticks() / 25000u); /* 25 MHz */
}

uint32_t tc_hal_stack_used(void)
{
    return 0xFFFFFFFFu;
}

uint32_t tc_hal_bench_counter(void)
{
    return (uint32_t)tc_hal_counter();
}
