/* Bare-metal harness for emulated boards (mspdebug sim): the host writes one window into
 * tc_in, runs to the breakpoint tc_done, reads tc_out, and continues for the next window. */
#include <stdint.h>

#include "tc_codec.h"
#include "tc_model.h"

struct tc_in_s {
    uint16_t eps;
    uint8_t latent_bits;
    uint8_t mean_shift;
    int16_t x[TC_N];
};
struct tc_out_s {
    uint16_t nbits;
    uint8_t imputed;
    uint8_t pad;
    uint8_t bytes[TC_OUT_BYTES];
};

struct tc_in_s tc_in __attribute__((used));
struct tc_out_s tc_out __attribute__((used));

void __attribute__((noinline, used)) tc_done(void)
{
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    for (;;) {
        tc_out.nbits = tc_encode(tc_in.x, tc_in.eps, tc_in.latent_bits, tc_in.mean_shift, tc_out.bytes,
                                 &tc_out.imputed);
        tc_done();
    }
}
