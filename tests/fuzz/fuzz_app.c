/* libFuzzer target: the link application's whole receive path (frame parser, message
 * reassembly, CONFIG/SAMPLES/COMMAND parsing, codec, report building, reporter) on
 * arbitrary bytes. Built by toolchain/link/fuzz.py with ASan and UBSan. */
#include <stddef.h>
#include <stdint.h>

#include "tc_app.h"

volatile uint32_t tc_fuzz_sink;
uint32_t tc_fuzz_ms;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_app_init(); /* a fresh board per input keeps findings reproducible */
    for (size_t i = 0; i < size; ++i) {
        tc_app_rx(data[i]);
        if ((i & 63u) == 0u) {
            tc_app_idle();
        }
    }
    tc_app_idle();
    return 0;
}
