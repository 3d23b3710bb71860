/* Host harness for the codec (target "native"): stdin records in, encoded windows out.
 * In:  per window  uint16 eps, uint8 latent_bits, uint8 mean_shift, int16 x[TC_N]   (little endian)
 * Out: per window  uint16 nbits, uint8 imputed, uint8 0, uint8 bytes[TC_OUT_BYTES]
 */
#include <stdio.h>
#include <string.h>

#include "tc_codec.h"
#include "tc_model.h"

int main(void)
{
    unsigned char rec[4 + 2 * TC_N];
    unsigned char out[4 + TC_OUT_BYTES];
    int16_t x[TC_N];
    uint8_t imputed;
    uint16_t nbits, eps, i;
    while (fread(rec, 1, sizeof rec, stdin) == sizeof rec) {
        eps = (uint16_t)(rec[0] | (rec[1] << 8));
        for (i = 0; i < TC_N; i++)
            x[i] = (int16_t)(uint16_t)(rec[4 + 2 * i] | (rec[5 + 2 * i] << 8));
        memset(out, 0, sizeof out);
        nbits = tc_encode(x, eps, rec[2], rec[3], out + 4, &imputed);
        out[0] = (uint8_t)(nbits & 0xFF);
        out[1] = (uint8_t)(nbits >> 8);
        out[2] = imputed;
        if (fwrite(out, 1, sizeof out, stdout) != sizeof out) return 1;
    }
    return 0;
}
