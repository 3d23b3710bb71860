/* Test firmware for the MSP430 backend (tests/test_msp430.py mirrors it in
 * Python). It follows the simulator contract and exercises tc_mul16 and every
 * __mspabi_* helper clang-16 emits: multiply, 16/32/64-bit divide and
 * remainder, and 32-bit shifts by variable amounts. */
#include <stdint.h>

#include "tc_hal.h"

#define N_IN 16
#define N_OUT 35

int16_t tc_in[N_IN];
int32_t tc_out[N_OUT];

/* Breakpoint target. The memory clobber stops the compiler from treating the
 * call as pure and hoisting the work out of the loop: the host rewrites tc_in
 * while the CPU sits here. */
__attribute__((noinline, used)) void tc_done(void)
{
    __asm__ volatile("" ::: "memory");
}

static int16_t nz16(int16_t d) { d |= 1; return d == -1 ? 3 : d; }
static int32_t nz32(int32_t d) { d |= 1; return d == -1 ? 7 : d; }
static int64_t nz64(int64_t d) { d |= 1; return d == -1 ? 5 : d; }

static void process(const int16_t *x, int32_t *o)
{
    int32_t p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = tc_mul16(x[2 * i], x[2 * i + 1]);
        o[i] = p[i];
    }
    uint32_t acc = 0;  /* unsigned: the sum wraps like the Python model */
    for (int i = 0; i < N_IN; i++)
        acc += (uint32_t)tc_mul16(x[i], x[N_IN - 1 - i]);
    int32_t sacc = (int32_t)acc;
    o[8] = sacc;

    o[9] = (int16_t)((uint16_t)x[0] * (uint16_t)x[1]);  /* __mspabi_mpyi */
    o[10] = (int32_t)((uint32_t)p[0] * (uint32_t)x[2]); /* __mspabi_mpyl */

    /* Quotients and remainders use different divisors: with the same ones
     * clang derives x % d from x / d and the __mspabi_rem* would go untested. */
    o[11] = x[3] / nz16(x[4]);                                   /* divi */
    o[12] = x[3] % nz16(x[10]);                                  /* remi */
    o[13] = (uint16_t)x[5] / ((uint16_t)x[6] | 1u);              /* divu */
    o[14] = (uint16_t)x[5] % ((uint16_t)x[12] | 1u);             /* remu */

    o[15] = sacc / nz32(p[1]);                                   /* divli */
    o[16] = sacc % nz32(p[6]);                                   /* remli */
    o[17] = (int32_t)(acc / ((uint32_t)p[2] | 1u));              /* divul */
    o[18] = (int32_t)(acc % ((uint32_t)p[7] | 1u));              /* remul */

    o[19] = sacc >> (x[7] & 31);                     /* sral */
    o[20] = (int32_t)(acc << (x[8] & 31));           /* slll */
    o[21] = (int32_t)(acc >> (x[9] & 31));           /* srll */

    int64_t m = (int64_t)sacc * (int64_t)p[3];       /* mpyll; |m| < 2^61 */
    int64_t r64[4] = {
        m / nz64((int64_t)p[4] * 8),                                        /* divlli */
        m % nz64((int64_t)p[6] * 8),                                        /* remlli */
        (int64_t)((uint64_t)m / ((uint64_t)(uint32_t)p[5] | 1u)),          /* divull */
        (int64_t)((uint64_t)m % ((uint64_t)(uint32_t)p[7] | 1u)),          /* remull */
    };
    o[22] = (int32_t)(uint32_t)(uint64_t)m;
    o[23] = (int32_t)(uint32_t)((uint64_t)m >> 32);
    for (int i = 0; i < 4; i++) {
        o[24 + 2 * i] = (int32_t)(uint32_t)(uint64_t)r64[i];
        o[25 + 2 * i] = (int32_t)(uint32_t)((uint64_t)r64[i] >> 32);
    }

    o[32] = (int16_t)(x[11] >> (x[12] & 15));                  /* 16-bit shifts: inline loops */
    o[33] = (uint16_t)((uint16_t)x[13] << (x[14] & 15));

    uint32_t s = 0; /* data-dependent trip count */
    for (uint16_t i = 0; i < ((uint16_t)x[15] & 63u); i++)
        s += (uint32_t)tc_mul16(x[i & 15], x[(i * 7u) & 15]);
    o[34] = (int32_t)s;
}

int main(void)
{
    for (;;) {
        process(tc_in, tc_out);
        tc_done();
    }
}
