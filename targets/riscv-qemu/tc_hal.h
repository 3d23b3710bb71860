/* Board HAL for riscv-qemu: the k210-qemu HAL (same startup, UART, exit and counter) under
 * this board's name. */
#ifndef TC_BOARD_NAME
#define TC_BOARD_NAME "riscv-qemu"
#endif
#include "../k210-qemu/tc_hal.h"
