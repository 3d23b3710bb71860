/* Board HAL for host builds: the reference semantics of every HAL call. */
#ifndef TC_HAL_H
#define TC_HAL_H

#include <stdint.h>

#define TC_BOARD_NAME "native"

static inline int32_t tc_mul16(int16_t a, int16_t b)
{
    return (int32_t)a * (int32_t)b;
}

#endif
