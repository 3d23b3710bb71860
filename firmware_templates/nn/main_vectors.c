/* Test harness for hosts and emulated boards with a console: runs every
 * embedded input vector through the generated network and prints
 *   out <index> <hex bytes of all outputs>
 *   cnt <index> <counter ticks for the invoke>   (0 where tc_hal has no counter)
 * then "done". Built by toolchain/nn/codegen.py with tc_nn_vectors.h. */
#include <stdint.h>
#include <string.h>

#include "tc_hal.h"
#include "tc_nn_model.h"
#include "tc_nn_vectors.h"

static void put_str(const char *s)
{
    while (*s) {
        tc_hal_putc(*s++);
    }
}

static void put_u64(uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (n) {
        tc_hal_putc(buf[--n]);
    }
}

static void put_hex(const uint8_t *p, uint32_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (uint32_t i = 0; i < n; ++i) {
        tc_hal_putc(digits[p[i] >> 4]);
        tc_hal_putc(digits[p[i] & 15u]);
    }
}

int main(void)
{
    const uint8_t *v = tc_nn_vectors;
    for (uint32_t k = 0; k < TC_NN_VECTORS_N; ++k) {
        for (int i = 0; i < TC_NN_NUM_INPUTS; ++i) {
            memcpy(TC_NN_INPUT(i), v, tc_nn_input_bytes[i]);
            v += tc_nn_input_bytes[i];
        }
        const uint64_t t0 = tc_hal_counter();
        TC_NN_INVOKE();
        const uint64_t t1 = tc_hal_counter();
        put_str("out ");
        put_u64(k);
        tc_hal_putc(' ');
        for (int i = 0; i < TC_NN_NUM_OUTPUTS; ++i) {
            put_hex((const uint8_t *)TC_NN_OUTPUT(i), tc_nn_output_bytes[i]);
        }
        tc_hal_putc('\n');
        put_str("cnt ");
        put_u64(k);
        tc_hal_putc(' ');
        put_u64(t1 - t0);
        tc_hal_putc('\n');
    }
    put_str("done\n");
    tc_hal_exit(0);
    return 0;
}
