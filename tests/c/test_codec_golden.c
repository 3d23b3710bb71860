/* C-only check of the generated codec against the Python reference's bytes (tests/golden). */
#include <stdio.h>
#include <string.h>

#include "tc_codec.h"
#include "tc_model.h"
#include "tc_vectors.h"

int main(void)
{
    int fails = 0;
    for (int v = 0; v < TC_NVEC; v++) {
        const tc_vector_t *t = &TC_VECTORS[v];
        int16_t x[TC_N];
        uint8_t out[TC_OUT_BYTES], imputed;
        memcpy(x, t->x, sizeof x);
        uint16_t nbits = tc_encode(x, t->eps, t->latent_bits, t->mean_shift, out, &imputed);
        if (nbits != t->nbits || imputed != t->imputed || memcmp(out, t->bytes, (nbits + 7u) / 8u) != 0) {
            printf("vector %d (eps %u): got %u bits, %u imputed; expected %u bits, %u imputed\n", v,
                   t->eps, nbits, imputed, t->nbits, t->imputed);
            fails++;
        }
    }
    printf("%d passed, %d failed\n", TC_NVEC - fails, fails);
    return fails != 0;
}
