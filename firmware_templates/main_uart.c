/* Harness for boards with a UART console (k210, k210-qemu, any riscv board with tc_hal_getc).
 *
 * Built with TC_EMBEDDED_WINDOWS (pipeline.run): the input records are compiled into the
 * image (tc_windows.h, written by the run stage); each one is encoded and printed as
 *   w <index> <nbits> <imputed> <hex of the (nbits+7)/8 encoded bytes>
 *   n <index> <counter ticks of tc_encode>
 * after one line "cal <kind> <ticks of two back-to-back counter reads>", then "done" and
 * tc_hal_exit(0). The host subtracts cal from each n (for rdinstret: exact instructions).
 *
 * Without it (the image `tinycodec build` makes and `tinycodec flash` writes), on a HAL with
 * tc_hal_getc (TC_HAL_HAS_GETC): prints one line
 *   tinycodec <board> <model> serve n=<TC_N> out=<record bytes>
 * then serves binary records over the UART like main_native.c does over stdin/stdout:
 *   in:  uint16 eps, uint8 latent_bits, uint8 mean_shift, int16 x[TC_N]   (little endian)
 *   out: uint16 nbits, uint8 imputed, uint8 0, uint8 bytes[TC_OUT_BYTES]
 */
#include <stdint.h>
#include <string.h>

#include "tc_codec.h"
#include "tc_hal.h"
#include "tc_model.h"

static void put_str(const char *s)
{
    while (*s)
        tc_hal_putc(*s++);
}

static __attribute__((unused)) void put_u64(uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (n)
        tc_hal_putc(buf[--n]);
}

static __attribute__((unused)) uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static __attribute__((unused)) void unpack_x(const uint8_t *rec, int16_t *x)
{
    for (uint16_t i = 0; i < TC_N; i++)
        x[i] = (int16_t)le16(rec + 4 + 2 * i);
}

static __attribute__((unused)) uint8_t tc_out[TC_OUT_BYTES];
static __attribute__((unused)) int16_t tc_x[TC_N];

#ifdef TC_EMBEDDED_WINDOWS
#include "tc_windows.h" /* TC_WINDOWS_N, TC_WINDOW_BYTES, tc_windows[] */

int main(void)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t imputed;
    const uint64_t c0 = tc_hal_counter();
    const uint64_t c1 = tc_hal_counter();
    put_str("cal " TC_HAL_COUNTER_KIND " ");
    put_u64(c1 - c0);
    tc_hal_putc('\n');
    for (uint32_t k = 0; k < TC_WINDOWS_N; k++) {
        const uint8_t *rec = tc_windows + (uint32_t)k * TC_WINDOW_BYTES;
        unpack_x(rec, tc_x);
        memset(tc_out, 0, sizeof tc_out);
        const uint64_t t0 = tc_hal_counter();
        const uint16_t nbits = tc_encode(tc_x, le16(rec), rec[2], rec[3], tc_out, &imputed);
        const uint64_t t1 = tc_hal_counter();
        put_str("w ");
        put_u64(k);
        tc_hal_putc(' ');
        put_u64(nbits);
        tc_hal_putc(' ');
        put_u64(imputed);
        tc_hal_putc(' ');
        for (uint32_t i = 0; i < (nbits + 7u) / 8u; i++) {
            tc_hal_putc(digits[tc_out[i] >> 4]);
            tc_hal_putc(digits[tc_out[i] & 15u]);
        }
        put_str("\nn ");
        put_u64(k);
        tc_hal_putc(' ');
        put_u64(t1 - t0);
        tc_hal_putc('\n');
    }
    put_str("done\n");
    tc_hal_exit(0);
}

#elif defined(TC_HAL_HAS_GETC)

int main(void)
{
    static uint8_t rec[4 + 2 * TC_N];
    uint8_t imputed;
    put_str("tinycodec " TC_BOARD_NAME " " TC_MODEL_NAME " serve n=");
    put_u64(TC_N);
    put_str(" out=");
    put_u64(4 + TC_OUT_BYTES);
    tc_hal_putc('\n');
    for (;;) {
        for (uint32_t i = 0; i < sizeof rec; i++)
            rec[i] = (uint8_t)tc_hal_getc();
        unpack_x(rec, tc_x);
        memset(tc_out, 0, sizeof tc_out);
        const uint16_t nbits = tc_encode(tc_x, le16(rec), rec[2], rec[3], tc_out, &imputed);
        tc_hal_putc((char)(nbits & 0xFFu));
        tc_hal_putc((char)(nbits >> 8));
        tc_hal_putc((char)imputed);
        tc_hal_putc(0);
        for (uint32_t i = 0; i < TC_OUT_BYTES; i++)
            tc_hal_putc((char)tc_out[i]);
    }
}

#else /* a HAL without tc_hal_getc (riscv-qemu): nothing to serve, only batch runs */

int main(void)
{
    put_str("tinycodec " TC_BOARD_NAME " " TC_MODEL_NAME ": this board's HAL has no UART input; "
            "build with TC_EMBEDDED_WINDOWS (tinycodec run)\n");
    tc_hal_exit(1);
}

#endif
