/* Bare-metal harness for the MSP430 simulator, with no buffers of its own: the
 * host writes the input straight into the model's input tensor in the arena,
 * runs from the breakpoint tc_done through one invoke back to tc_done, and reads
 * the output tensor from the arena (toolchain/families/msp430/sim.py,
 * symbols "tc_arena+<offset>"). */
#include <stdint.h>

#include "tc_nn_model.h"

void __attribute__((noinline, used)) tc_done(void)
{
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    for (;;) {
        tc_done();
        TC_NN_INVOKE();
    }
}
