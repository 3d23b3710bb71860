/* Bare-metal harness for the MSP430 simulator: the host writes the input bytes
 * into tc_in, runs to the breakpoint tc_done, reads tc_out, and continues for
 * the next vector (toolchain/backends/mspdebug_sim.py). */
#include <stdint.h>
#include <string.h>

#include "tc_nn_model.h"

uint8_t tc_in[TC_NN_INPUT_TOTAL] __attribute__((used));
uint8_t tc_out[TC_NN_OUTPUT_TOTAL] __attribute__((used));

void __attribute__((noinline, used)) tc_done(void)
{
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    for (;;) {
        const uint8_t *v = tc_in;
        for (int i = 0; i < TC_NN_NUM_INPUTS; ++i) {
            memcpy(TC_NN_INPUT(i), v, tc_nn_input_bytes[i]);
            v += tc_nn_input_bytes[i];
        }
        TC_NN_INVOKE();
        uint8_t *o = tc_out;
        for (int i = 0; i < TC_NN_NUM_OUTPUTS; ++i) {
            memcpy(o, TC_NN_OUTPUT(i), tc_nn_output_bytes[i]);
            o += tc_nn_output_bytes[i];
        }
        tc_done();
    }
}
