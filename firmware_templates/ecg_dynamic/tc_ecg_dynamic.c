/* tinycodec ECG dynamic codec (Dynamic-Deep): the device encoder.
 *
 * One 2048-sample segment in, one record out (docs/ecg_dynamic.md): impute missing samples,
 * flag the segment (missing, flat, saturated: those go lossless), and otherwise run the int8
 * encoder network (generated C, ecg_dynamic_encoder.c) on the mean-removed segment; its
 * predicted task errors pick the highest compression level whose prediction is under the
 * session's bound, and the record carries that level's latent, or the lossless code.
 *
 * Exact integer mirror of toolchain/codecs/ecg_dynamic/reference.py and bitstream.py.
 * Written for 16-bit int: sums and products that can pass 32767 are int32_t, the one 64-bit
 * product is the threshold's (once per segment). No floating point, no heap: the network's
 * arena is its own static buffer and the codec's only state is a 64-byte cost table.
 * Right shifts of negative values are arithmetic (gcc, clang), as the spec's floor needs.
 */
#include "tc_codec.h"
#include "tc_model.h" /* tc_ecg_dynamic_config.h, ecg_dynamic_encoder.h */

#define TC_LEVEL_BITS 2
#define TC_FLAG_BITS 2
#define TC_WORD_BITS 11 /* a sample, the mean, the flat value */
#define TC_K_BITS 4
#define TC_N_K 16
#define TC_MEAN_SHIFT 11 /* TC_N = 2^11: the mean is a shift */
#define TC_TASK_SHIFT 12
#define TC_BOUND_MASK 0x0FFFu
#define TC_TASK_FORCED 4 /* tasks 4..7 force level task - 4 */
#define TC_N_TASKS 8
#define TC_ALL_MISSING_VALUE 1024

enum { TC_FLAG_NONE = 0, TC_FLAG_FLAT = 1, TC_FLAG_SATURATED = 2, TC_FLAG_MISSING = 3 };

typedef char tc_mean_is_a_shift[(TC_N == 1 << TC_MEAN_SHIFT) ? 1 : -1];

typedef struct {
    uint8_t *buf;  /* zeroed before the first write: tc_put only sets bits */
    uint16_t pos;  /* bits written (the worst case, TC_OUT_BITS, is under 2^15) */
} tc_bits_t;

/* Append the low nbits (<= 16) of v, MSB first. */
static void tc_put(tc_bits_t *w, uint16_t v, uint8_t nbits)
{
    uint16_t mask;
    if (nbits == 0) return;
    mask = (uint16_t)(1u << (nbits - 1u));
    while (mask) {
        if (v & mask) w->buf[w->pos >> 3] |= (uint8_t)(0x80u >> (w->pos & 7u));
        w->pos++;
        mask >>= 1;
    }
}

/* Rice code: the quotient in unary (ones, then a zero), then the k low bits. */
static void tc_put_rice(tc_bits_t *w, uint16_t z, uint8_t k)
{
    uint16_t q = (uint16_t)(z >> k);
    while (q--) tc_put(w, 1u, 1);
    tc_put(w, 0u, 1);
    tc_put(w, (uint16_t)(z & ((1u << k) - 1u)), k);
}

static void tc_put_header(tc_bits_t *w, uint8_t level, uint8_t flag)
{
    tc_put(w, level, TC_LEVEL_BITS);
    tc_put(w, flag, TC_FLAG_BITS);
}

/* zigzag(x[i] - x[i-1]) of two 0..2047 samples: 0..4094 */
static uint16_t tc_zigzag_delta(const int16_t *x, uint16_t i)
{
    const int16_t d = (int16_t)(x[i] - x[i - 1]);
    return d >= 0 ? (uint16_t)((uint16_t)d << 1) : (uint16_t)(((uint16_t)-d << 1) - 1u);
}

/* The Rice parameter that codes the deltas in the fewest bits, the smallest on ties.
 * bits(k) = sum_i (z_i >> k) + (TC_N - 1)(1 + k); the sum is gathered per delta only while
 * z >> k is nonzero (at most 12 steps for 0..4094, not 16). */
static uint8_t tc_best_k(const int16_t *x)
{
    static uint32_t cost[TC_N_K]; /* static: off the stack of the smallest boards */
    uint16_t i, z;
    uint8_t k, best = 0;
    for (k = 0; k < TC_N_K; k++) cost[k] = (uint32_t)(TC_N - 1) * (1u + k);
    for (i = 1; i < TC_N; i++)
        for (z = tc_zigzag_delta(x, i), k = 0; z; z >>= 1, k++) cost[k] += z;
    for (k = 1; k < TC_N_K; k++)
        if (cost[k] < cost[best]) best = k;
    return best;
}

/* Level 0's body: first sample, k, the 2047 Rice-coded zigzag deltas. */
static void tc_put_lossless(tc_bits_t *w, const int16_t *x)
{
    const uint8_t k = tc_best_k(x);
    uint16_t i;
    tc_put(w, (uint16_t)x[0], TC_WORD_BITS);
    tc_put(w, k, TC_K_BITS);
    for (i = 1; i < TC_N; i++) tc_put_rice(w, tc_zigzag_delta(x, i), k);
}

static int16_t tc_clamp_adu(int16_t v)
{
    return v < 0 ? 0 : v > TC_ADC_MAX ? TC_ADC_MAX : v;
}

static uint8_t tc_any_missing(const int16_t *x)
{
    uint16_t i;
    for (i = 0; i < TC_N; i++)
        if (x[i] == TC_MISSING) return 1;
    return 0;
}

/* Clamp every present sample to 0..2047 (so every field below is in range and the record
 * never outgrows TC_OUT_BYTES) and give every missing one the previous present sample;
 * leading missing samples take the first present one, an all-missing segment 1024.
 * Returns the number of missing samples. */
static uint16_t tc_impute(int16_t *x)
{
    uint16_t i, first = 0, n_missing = 0;
    int16_t prev;
    while (first < TC_N && x[first] == TC_MISSING) first++;
    prev = first < TC_N ? tc_clamp_adu(x[first]) : (int16_t)TC_ALL_MISSING_VALUE;
    for (i = 0; i < TC_N; i++) {
        if (x[i] == TC_MISSING) {
            x[i] = prev;
            n_missing++;
        } else {
            x[i] = tc_clamp_adu(x[i]);
            prev = x[i];
        }
    }
    return n_missing;
}

/* Flat (max == min) before saturated (a sample at 0 or 2047): a flat line costs 11 bits. */
static uint8_t tc_flag(const int16_t *x)
{
    int16_t lo = x[0], hi = x[0];
    uint16_t i;
    for (i = 1; i < TC_N; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (lo == hi) return TC_FLAG_FLAT;
    if (lo == 0 || hi == TC_ADC_MAX) return TC_FLAG_SATURATED;
    return TC_FLAG_NONE;
}

/* m = (sum x + 1024) >> 11; 2048 samples of 0..2047 sum to under 2^22. */
static int16_t tc_mean(const int16_t *x)
{
    int32_t s = 0;
    uint16_t i;
    for (i = 0; i < TC_N; i++) s += x[i];
    return (int16_t)((s + (TC_N >> 1)) >> TC_MEAN_SHIFT);
}

/* The network's int8 input: q = clamp(zp_in + (((x - m) * in_mult + 32768) >> 16), -128, 127). */
static void tc_quantize_input(const int16_t *x, int16_t m, int8_t *q)
{
    uint16_t i;
    for (i = 0; i < TC_N; i++) {
        const int32_t v = TC_ED_IN_ZP + (((int32_t)(x[i] - m) * TC_ED_IN_MULT + (int32_t)32768) >> 16);
        q[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
}

static const int32_t tc_err_mult[TC_ED_N_PRED] = TC_ED_ERR_MULTS;

/* The highest CG (level 3, 2, 1) whose int8 predicted error of `task` is within the bound:
 * q <= zp_e + floor(bound_milli * err_mult[task] / 2^16); 0 (lossless) if none is. */
static uint8_t tc_select(const int8_t *errors, uint8_t task, uint16_t bound_milli)
{
    const int32_t t = TC_ED_ERR_ZP + (int32_t)(((int64_t)bound_milli * tc_err_mult[task]) >> 16);
    uint8_t level;
    for (level = 3; level >= 1; level--)
        if (errors[TC_ED_N_PRED * (level - 1u) + task] <= t) return level;
    return 0;
}

/* Run the encoder network on the segment: fills *m; the level, by prediction for tasks 0..3. */
static uint8_t tc_run_network(const int16_t *x, uint8_t task, uint16_t bound_milli, int16_t *m)
{
    *m = tc_mean(x);
    tc_quantize_input(x, *m, (int8_t *)ecg_dynamic_encoder_input(0));
    ecg_dynamic_encoder_invoke();
    if (task >= TC_TASK_FORCED) return (uint8_t)(task - TC_TASK_FORCED);
    return tc_select((const int8_t *)ecg_dynamic_encoder_output(TC_ED_OUT_ERRORS), task, bound_milli);
}

/* Level 1..3's body: the mean, then the level's latent at B bits,
 * u = min((q + 128 + (s ? 2^(s-1) : 0)) >> s, 2^B - 1), s = 8 - B. */
static void tc_put_lossy(tc_bits_t *w, uint8_t level, int16_t m, uint8_t bits)
{
    const uint8_t s = (uint8_t)(8u - bits);
    const uint16_t half = s ? (uint16_t)(1u << (s - 1u)) : 0u;
    const uint16_t top = (uint16_t)((1u << bits) - 1u);
    const int8_t *z;
    uint16_t i, len;
    switch (level) {
    case 1: z = (const int8_t *)ecg_dynamic_encoder_output(TC_ED_OUT_Z1); len = TC_ED_Z1_LEN; break;
    case 2: z = (const int8_t *)ecg_dynamic_encoder_output(TC_ED_OUT_Z2); len = TC_ED_Z2_LEN; break;
    default: z = (const int8_t *)ecg_dynamic_encoder_output(TC_ED_OUT_Z3); len = TC_ED_Z3_LEN; break;
    }
    tc_put(w, (uint16_t)m, TC_WORD_BITS);
    for (i = 0; i < len; i++) {
        const uint16_t u = (uint16_t)(((uint16_t)(z[i] + 128) + half) >> s);
        tc_put(w, u > top ? top : u, bits);
    }
}

/* Flag 3: the mask of the samples as they came, then (unless all are missing) the imputed
 * segment losslessly. Returns the number of missing samples. */
static uint16_t tc_encode_missing(tc_bits_t *w, int16_t *x)
{
    uint16_t i, n_missing;
    tc_put_header(w, 0, TC_FLAG_MISSING);
    for (i = 0; i < TC_N; i++) tc_put(w, x[i] == TC_MISSING, 1);
    n_missing = tc_impute(x);
    if (n_missing < TC_N) tc_put_lossless(w, x);
    return n_missing;
}

uint16_t tc_encode(int16_t *x, uint16_t eps, uint8_t latent_bits, uint8_t mean_shift, uint8_t *out,
                   uint8_t *n_imputed)
{
    const uint8_t task = (uint8_t)(eps >> TC_TASK_SHIFT);
    const uint16_t bound_milli = eps & TC_BOUND_MASK;
    tc_bits_t w;
    uint16_t i;
    uint8_t flag, level;
    int16_t m = 0;

    (void)mean_shift; /* the mean is always sent in full (11 bits) */
    *n_imputed = 0;
    if (latent_bits < 1 || latent_bits > TC_MAX_LATENT_BITS || task >= TC_N_TASKS)
        return 0; /* refused: 0 bits */
    w.buf = out;
    w.pos = 0;
    for (i = 0; i < TC_OUT_BYTES; i++) out[i] = 0;

    if (tc_any_missing(x)) {
        const uint16_t n_missing = tc_encode_missing(&w, x);
        *n_imputed = n_missing > 255u ? 255u : (uint8_t)n_missing;
        return w.pos;
    }
    (void)tc_impute(x); /* nothing missing: only clamps */
    flag = tc_flag(x);
    if (flag != TC_FLAG_NONE) {
        tc_put_header(&w, 0, flag);
        if (flag == TC_FLAG_FLAT)
            tc_put(&w, (uint16_t)x[0], TC_WORD_BITS);
        else
            tc_put_lossless(&w, x);
        return w.pos;
    }

    /* a clean segment: the network decides, unless the session forces lossless */
    level = task == TC_TASK_FORCED ? 0 : tc_run_network(x, task, bound_milli, &m);
    tc_put_header(&w, level, TC_FLAG_NONE);
    if (level == 0)
        tc_put_lossless(&w, x);
    else
        tc_put_lossy(&w, level, m, latent_bits);
    return w.pos;
}
