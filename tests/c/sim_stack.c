/* Test firmware for the simulator's peak-stack measurement (tests/test_msp430.py).
 * Per item:
 *   tc_in[0] != 0: fill() writes every byte of a 100-byte local array, so the
 *      peak stack is 100 B plus a few return addresses and saved registers;
 *   tc_in[0] == 0: rec() recurses tc_in[1] levels deep, each frame holding an
 *      8-byte local (the warm-up pass over zeroed input is rec(0): shallow).
 * It also reports initialised (.data) and zeroed (.bss) globals, which crt0's
 * stack paint must leave alone. No stored byte is ever 0xA5 (the paint). */
#include <stdint.h>

#define FILL_BYTES 100

uint8_t tc_in[2];
uint16_t tc_out[6];

volatile uint16_t data_words[3] = {0x1234, 0xbeef, 0x0001};  /* .data */
volatile uint16_t bss_words[5];                              /* .bss */

__attribute__((noinline, used)) void tc_done(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static uint16_t fill(uint8_t seed)
{
    volatile uint8_t buf[FILL_BYTES];
    for (uint16_t i = 0; i < FILL_BYTES; i++)
        buf[i] = (uint8_t)((seed + i) & 0x3f);
    uint16_t sum = 0;
    for (uint16_t i = 0; i < FILL_BYTES; i++)
        sum += buf[i];
    return sum;
}

/* Not a tail call and not an associative accumulation: clang keeps the recursion. */
__attribute__((noinline)) static uint16_t rec(uint8_t n)
{
    volatile uint8_t local[8];
    for (uint8_t i = 0; i < 8; i++)
        local[i] = (uint8_t)(n + i) & 0x3f;
    if (n == 0)
        return local[0];
    return (uint16_t)((rec((uint8_t)(n - 1)) * 3u) ^ local[7]);
}

int main(void)
{
    for (;;) {
        tc_out[0] = tc_in[0] ? fill(tc_in[0]) : rec(tc_in[1]);
        tc_out[1] = data_words[0];
        tc_out[2] = data_words[1];
        tc_out[3] = data_words[2];
        tc_out[4] = bss_words[0] | bss_words[1] | bss_words[2] | bss_words[3] | bss_words[4];
        tc_out[5] = 0x5a5a;
        tc_done();
    }
}
