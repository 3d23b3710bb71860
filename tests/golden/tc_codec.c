/* tinycodec error-bounded AE codec: the device encoder.
 *
 * Exact integer mirror of toolchain/codecs/ae_codec.py (window layout) and
 * toolchain/codecs/residual.py (residual block). Written for 16-bit int: every
 * intermediate that can pass 32767 is int32_t, and every 16x16 product goes
 * through the board's tc_mul16() (hardware multiplier where the board has one).
 * Right shifts of negative values are arithmetic (clang, gcc).
 */
#include "tc_codec.h"
#include "tc_hal.h"
#include "tc_model.h"

/* rshr(a, s): round half up, as fixed_point.rshr. */
#define TC_RSHR(a, s) (((a) + ((int32_t)1 << ((s) - 1))) >> (s))

typedef struct {
    uint8_t *buf;
    uint16_t pos; /* bits written */
} tc_bits_t;

/* Append the low nbits (<= 16) of v, MSB first. */
static void tc_put(tc_bits_t *w, uint16_t v, uint8_t nbits)
{
    uint16_t mask;
    if (nbits == 0) return;
    mask = (uint16_t)1u << (nbits - 1);
    while (mask) {
        if (v & mask) w->buf[w->pos >> 3] |= (uint8_t)(0x80u >> (w->pos & 7u));
        w->pos++;
        mask >>= 1;
    }
}

static void tc_put_rice(tc_bits_t *w, uint32_t v, uint8_t k)
{
    uint32_t q = v >> k;
    while (q--) tc_put(w, 1u, 1);
    tc_put(w, 0u, 1);
    tc_put(w, (uint16_t)(v & (((uint32_t)1 << k) - 1u)), k);
}

/* Divide rounding half away from zero (c > 0): ae_codec.div_round. */
static int32_t tc_div_round(int32_t s, uint16_t c)
{
    uint32_t a = (uint32_t)(s < 0 ? -s : s);
    uint32_t r = (a + (c >> 1)) / c;
    return s < 0 ? -(int32_t)r : (int32_t)r;
}

/* Q8 input (already shifted), clamped, table + 4-bit interpolation: fixed_point.sigmoid_q8. */
static int16_t tc_sigmoid(int32_t z)
{
    uint16_t p, idx, f;
    int16_t t0;
    if (z < -2048) z = -2048;
    if (z > 2047) z = 2047;
    p = (uint16_t)(z + 2048);
    idx = p >> 4;
    f = p & 15u;
    t0 = TC_SIG[idx];
    return (int16_t)(t0 + (int16_t)(((int16_t)(TC_SIG[idx + 1] - t0) * (int16_t)f) >> 4));
}

/* Work memory shared by the encoder (sphered d) and the residual stage (q): one is dead
 * before the other is born, and RAM is 512 B on the smallest board. */
static union {
    int16_t d[TC_N];
    int32_t q[TC_N];
} tc_work;

static void tc_impute(int16_t *x, uint8_t *n_imputed)
{
    int32_t s = 0;
    uint16_t cnt = 0, i;
    int32_t fill = 0;
    for (i = 0; i < TC_N; i++) {
        if (x[i] == TC_MISSING) continue;
#if TC_SPATIAL
        s += (int32_t)x[i] - TC_MU[i];
#else
        s += x[i];
#endif
        cnt++;
    }
    if (cnt) fill = tc_div_round(s, cnt);
    for (i = 0; i < TC_N; i++) {
        if (x[i] != TC_MISSING) continue;
#if TC_SPATIAL
        x[i] = (int16_t)(fill + TC_MU[i]);
#else
        x[i] = cnt ? (int16_t)fill : TC_MU[i];
#endif
        (*n_imputed)++;
    }
}

/* zigzag of q[i] (mode 2) or of q[i] - q[i-1] (mode 3): residual.zigzag / residual._delta */
static uint32_t tc_zz(uint16_t i, uint8_t delta)
{
    int32_t v = tc_work.q[i];
    if (delta && i > 0) v -= tc_work.q[i - 1];
    return v < 0 ? ((uint32_t)(-v) << 1) - 1u : (uint32_t)v << 1;
}

/* Add sum_k (v >> k) for every k (saturated at 0xFFFF: a candidate saturates only if its
 * true cost does, and the winner never does). The per-sample constant 1 + extra + k is added
 * once per block in tc_residual: this loop stops as soon as v is 0, after ~log2(v) steps. */
static void tc_cost(uint16_t *c, uint32_t v)
{
    uint8_t k = 0;
    while (v && k < 16) {
        uint32_t t = c[k] + v;
        c[k] = t > 0xFFFFu ? 0xFFFFu : (uint16_t)t;
        v >>= 1;
        k++;
    }
}

static void tc_cost_const(uint16_t *c, uint16_t count, uint16_t per_sample)
{
    uint8_t k;
    uint32_t add = (uint32_t)count * per_sample; /* count * (per_sample + k), built up in k */
    for (k = 0; k < 16; k++) {
        uint32_t t = c[k] + add;
        c[k] = t > 0xFFFFu ? 0xFFFFu : (uint16_t)t;
        add += count;
    }
}

/* Residual block: residual.choose + residual.encode. Modes 1 sparse, 2 dense, 3 delta. */
static void tc_residual(tc_bits_t *w, uint16_t n_nonzero)
{
    static uint16_t cost[3][16]; /* static: 96 B off a 512 B stack */
    uint16_t i, best;
    uint8_t k, mode, bmode, bk;
    if (n_nonzero == 0) {
        tc_put(w, 0u, 2);
        return;
    }
    for (k = 0; k < 16; k++) {
        cost[0][k] = 6u + TC_N;
        cost[1][k] = 6u;
        cost[2][k] = 6u;
    }
    for (i = 0; i < TC_N; i++) {
        int32_t q = tc_work.q[i];
        if (q != 0) tc_cost(cost[0], (q < 0 ? (uint32_t)(-q) : (uint32_t)q) - 1u);
        tc_cost(cost[1], tc_zz(i, 0));
        tc_cost(cost[2], tc_zz(i, 1));
    }
    /* sparse: sign + stop bit per nonzero; dense, delta: stop bit per sample; + k each */
    tc_cost_const(cost[0], n_nonzero, 2);
    tc_cost_const(cost[1], TC_N, 1);
    tc_cost_const(cost[2], TC_N, 1);
    best = 0xFFFFu; bmode = 1; bk = 0;
    for (mode = 0; mode < 3; mode++)
        for (k = 0; k < 16; k++)
            if (cost[mode][k] < best) { best = cost[mode][k]; bmode = (uint8_t)(mode + 1); bk = k; }
    tc_put(w, bmode, 2);
    tc_put(w, bk, 4);
    if (bmode == 1) {
        for (i = 0; i < TC_N; i++) tc_put(w, tc_work.q[i] != 0, 1);
        for (i = 0; i < TC_N; i++) {
            int32_t q = tc_work.q[i];
            if (q == 0) continue;
            tc_put(w, q < 0, 1);
            tc_put_rice(w, (q < 0 ? (uint32_t)(-q) : (uint32_t)q) - 1u, bk);
        }
    } else {
        for (i = 0; i < TC_N; i++) tc_put_rice(w, tc_zz(i, bmode == 3), bk);
    }
}

uint16_t tc_encode(int16_t *x, uint16_t eps, uint8_t latent_bits, uint8_t mean_shift, uint8_t *out,
                   uint8_t *n_imputed)
{
    tc_bits_t w;
    int16_t yq[TC_M];
    int32_t s, mean, acc;
    uint16_t i, j, n_nonzero = 0, step = (uint16_t)(2u * eps + 1u);
    uint8_t any_missing = 0;

    if (latent_bits < 1 || latent_bits > TC_MAX_LATENT_BITS || mean_shift > TC_MAX_MEAN_SHIFT)
        return 0; /* refused: 0 bits */
    w.buf = out;
    w.pos = 0;
    for (i = 0; i < TC_OUT_BYTES; i++) out[i] = 0;
    *n_imputed = 0;

    /* missing flag + bitmap, then imputation */
    for (i = 0; i < TC_N; i++)
        if (x[i] == TC_MISSING) any_missing = 1;
    tc_put(&w, any_missing, 1);
    if (any_missing) {
        for (i = 0; i < TC_N; i++) tc_put(&w, x[i] == TC_MISSING, 1);
        tc_impute(x, n_imputed);
    }

    /* window mean */
    s = 0;
    for (i = 0; i < TC_N; i++) s += x[i];
    mean = tc_div_round(s, TC_N);
    if (mean < TC_LO) mean = TC_LO;
    if (mean > TC_HI) mean = TC_HI;
    {
        /* the mean on a 2^mean_shift grid: fewer header bits, its rounding goes to the residual */
        uint32_t code = ((uint32_t)(mean - TC_LO) + ((1u << mean_shift) >> 1)) >> mean_shift;
        uint32_t top = (uint32_t)(TC_HI - TC_LO) >> mean_shift;
        if (code > top) code = top;
        tc_put(&w, (uint16_t)code, (uint8_t)(TC_WORD_BITS - mean_shift));
        mean = TC_LO + (int32_t)(code << mean_shift);
    }

    /* sphering to Q15 */
    for (i = 0; i < TC_N; i++) {
        int32_t t = (int32_t)x[i] - mean;
        if (t < -TC_CLIP) t = -TC_CLIP;
        if (t > TC_CLIP) t = TC_CLIP;
        tc_work.d[i] = (int16_t)(16384 + TC_RSHR(tc_mul16((int16_t)t, TC_K_IN), TC_S_IN));
    }

    /* encoder layer -> latent code */
    for (j = 0; j < TC_M; j++) {
        acc = TC_B1[j];
        for (i = 0; i < TC_N; i++) acc += tc_mul16(TC_W1[j][i], tc_work.d[i]);
        yq[j] = (int16_t)(tc_sigmoid(TC_RSHR(acc, TC_SHIFT1)) >> (15u - latent_bits));
        tc_put(&w, (uint16_t)yq[j], latent_bits);
        /* the decoder sees the bin midpoint */
        yq[j] = (int16_t)(((unsigned)(uint16_t)yq[j] << (15u - latent_bits)) + (1u << (14u - latent_bits)));
    }

    /* decoder layer -> xhat -> quantized residual q */
    for (i = 0; i < TC_N; i++) {
        int16_t u;
        int32_t xhat, r;
        uint32_t a, qa;
        acc = TC_B2[i];
        for (j = 0; j < TC_M; j++) acc += tc_mul16(TC_W2[i][j], yq[j]);
        u = tc_sigmoid(TC_RSHR(acc, TC_SHIFT2));
        xhat = mean + TC_RSHR(tc_mul16((int16_t)(u - 16384), TC_K_OUT), TC_S_OUT);
        if (xhat < TC_LO) xhat = TC_LO;
        if (xhat > TC_HI) xhat = TC_HI;
        r = (int32_t)x[i] - xhat;
        a = (uint32_t)(r < 0 ? -r : r);
        if (a <= eps)
            qa = 0; /* within the bound: the common case needs no division */
        else if (step == 1u)
            qa = a;
        else if (a + eps <= 0xFFFFu)
            qa = (uint16_t)(a + eps) / step; /* 16-bit divide where it suffices */
        else
            qa = (a + eps) / step;
        tc_work.q[i] = r < 0 ? -(int32_t)qa : (int32_t)qa;
        if (qa) n_nonzero++;
    }

    tc_residual(&w, n_nonzero);
    return w.pos;
}
