/* Run a kmodel on the K210's KPU with the Kendryte standalone SDK's runtime
 * (kendryte-standalone-sdk: kpu_load_kmodel / kpu_run_kmodel / kpu_get_output, which take
 * kmodel v3 from nncase 0.1 and 'KMDL' models from nncase 0.2/1.x).
 *
 * Built by toolchain/kendryte/kmodel.py (K210_SDK must point at the SDK) with a
 * generated tc_kmodel_data.c/.h holding the model and the input vectors. For each input it
 * prints, on the SDK's console UART (115200 8N1 on the USB-serial port):
 *   out <index> <hex bytes of every output, in output order>
 *   cnt <index> <CPU cycles from kpu_run_kmodel to its completion callback>
 * then "done"; the format of firmware_templates/nn/main_vectors.c, so the host parses
 * both the same way (toolchain/nn/codegen.parse_vector_output). */
#include <stdint.h>
#include <stdio.h>

#include <encoding.h> /* read_cycle() */
#include <dmac.h>
#include <kpu.h>
#include <sysctl.h>

#include "tc_kmodel_data.h"

#define TC_KPU_DMA_CHANNEL DMAC_CHANNEL5
#define TC_KMODEL_MAX_OUTPUTS 16u
#define TC_PLL0_HZ 800000000UL /* CPU = PLL0 / 2 = 400 MHz, the board.toml clock */

static kpu_model_context_t tc_task;
static volatile int tc_done;

static void on_done(void *userdata)
{
    (void)userdata;
    tc_done = 1;
}

static void print_hex(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        putchar(digits[p[i] >> 4]);
        putchar(digits[p[i] & 15u]);
    }
}

int main(void)
{
    sysctl_pll_set_freq(SYSCTL_PLL0, TC_PLL0_HZ); /* re-inits the SDK's console UART too */
    sysctl_enable_irq();                           /* the completion callback is an interrupt */

    printf("tc_kmodel: %s, %u B, %u inputs of %u B, CPU %u Hz\n", TC_KMODEL_NAME, (unsigned)TC_KMODEL_BYTES,
           (unsigned)TC_KMODEL_INPUTS, (unsigned)TC_KMODEL_INPUT_BYTES,
           (unsigned)sysctl_clock_get_freq(SYSCTL_CLOCK_CPU));
    if (kpu_load_kmodel(&tc_task, tc_kmodel) != 0) {
        printf("tc_kmodel: kpu_load_kmodel failed (not a kmodel v3 or KMDL the SDK's runtime takes)\n");
        return 1;
    }
    for (uint32_t k = 0; k < TC_KMODEL_INPUTS; k++) {
        const uint8_t *input = tc_kmodel_inputs + (size_t)k * TC_KMODEL_INPUT_BYTES;
        tc_done = 0;
        const uint64_t t0 = read_cycle();
        if (kpu_run_kmodel(&tc_task, input, TC_KPU_DMA_CHANNEL, on_done, NULL) != 0) {
            printf("tc_kmodel: kpu_run_kmodel failed on input %u\n", (unsigned)k);
            return 1;
        }
        while (!tc_done)
            ;
        const uint64_t t1 = read_cycle();
        printf("out %u ", (unsigned)k);
        uint32_t n_out = 0;
        for (uint8_t *out; n_out < TC_KMODEL_MAX_OUTPUTS; n_out++) {
            size_t size;
            if (kpu_get_output(&tc_task, n_out, &out, &size) != 0)
                break; /* past the model's last output */
            print_hex(out, size);
        }
        if (n_out == 0) {
            printf("\ntc_kmodel: the model has no output\n");
            return 1;
        }
        printf("\ncnt %u %lu\n", (unsigned)k, (unsigned long)(t1 - t0));
    }
    printf("done\n");
    kpu_model_free(&tc_task);
    return 0;
}
