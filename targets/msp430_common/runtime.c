/* MSP430 EABI (SLAA534) integer helpers that clang-16 calls but that we have
 * no libgcc for. Only the ones clang-16 actually emits are here (checked with
 * llvm-nm on test code for -mhwmult=none/16bit/f5series).
 *
 * Rule for this file: no '*', '/', '%' and no shift by a variable amount on
 * 32/64-bit values, or clang would call these very helpers from themselves.
 * tests/test_msp430.py checks that runtime.o has no undefined __mspabi_*.
 *
 * The 64-bit helpers that use the EABI's special register convention
 * (operands in R8:R11 and R12:R15) are asm trampolines in mspabi_builtin.S
 * that land in the __tc_*64 workers below. memcpy/memmove/memset are at the
 * end: clang emits calls to them for struct copies even when freestanding.
 */
#include <stddef.h>
#include <stdint.h>

/* ---- unsigned cores ------------------------------------------------------ */

/* Not inlined: one copy serves mpyi, mpyl and mpyll. */
__attribute__((noinline)) static uint32_t umul16x16(uint16_t a, uint16_t b)
{
    uint32_t acc = 0, m = a;
    while (b) {
        if (b & 1u)
            acc += m;
        m <<= 1;
        b >>= 1;
    }
    return acc;
}

__attribute__((noinline)) static uint16_t udivmod16(uint16_t n, uint16_t d, uint16_t *rem)
{
    uint16_t q = 0, r = 0;
    for (uint16_t bit = 0x8000u; bit; bit >>= 1) {
        r = (uint16_t)(r << 1) | ((n & bit) ? 1u : 0u);
        if (r >= d) {
            r -= d;
            q |= bit;
        }
    }
    *rem = r;
    return q;
}

__attribute__((noinline)) static uint32_t udivmod32(uint32_t n, uint32_t d, uint32_t *rem)
{
    uint32_t q = 0, r = 0;
    for (uint8_t i = 0; i < 32; i++) {
        /* r:n <<= 1 without a variable shift */
        r = (r << 1) | (n >> 31);
        n <<= 1;
        q <<= 1;
        if (r >= d) {
            r -= d;
            q |= 1u;
        }
    }
    *rem = r;
    return q;
}

/* Not inlined: the four 64-bit workers share one ~0.5 KB copy. */
__attribute__((noinline)) static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem)
{
    uint64_t q = 0, r = 0;
    for (uint8_t i = 0; i < 64; i++) {
        r = (r << 1) | (n >> 63);
        n <<= 1;
        q <<= 1;
        if (r >= d) {
            r -= d;
            q |= 1u;
        }
    }
    *rem = r;
    return q;
}

/* Low 64 bits of a*b from 16x16->32 partial products (schoolbook on words). */
typedef uint32_t (*mul16_fn)(uint16_t, uint16_t);

static inline uint64_t mul64_words(uint64_t a, uint64_t b, mul16_fn mul)
{
    uint16_t aw[4], bw[4], r[4] = {0, 0, 0, 0};
    for (uint8_t i = 0; i < 4; i++) {
        aw[i] = (uint16_t)a;
        bw[i] = (uint16_t)b;
        a >>= 16;
        b >>= 16;
    }
    for (uint8_t i = 0; i < 4; i++) {
        uint32_t carry = 0;
        for (uint8_t j = 0; i + j < 4; j++) {
            /* max (2^16-1)^2 + 2(2^16-1) = 2^32-1: cannot overflow */
            uint32_t p = mul(aw[i], bw[j]) + r[i + j] + carry;
            r[i + j] = (uint16_t)p;
            carry = p >> 16;
        }
    }
    return (uint64_t)r[0] | ((uint64_t)r[1] << 16) | ((uint64_t)r[2] << 32) |
           ((uint64_t)r[3] << 48);
}

static inline uint32_t lo32_from16(uint16_t al, uint16_t ah, uint16_t bl,
                                   uint16_t bh, mul16_fn mul)
{
    uint32_t lo = mul(al, bl);
    uint16_t cross = (uint16_t)mul(al, bh) + (uint16_t)mul(ah, bl);
    return lo + ((uint32_t)cross << 16);
}

/* ---- software multiply (no hardware multiplier) -------------------------- */

int16_t __mspabi_mpyi(int16_t a, int16_t b)
{
    return (int16_t)umul16x16((uint16_t)a, (uint16_t)b);
}

int32_t __mspabi_mpyl(int32_t a, int32_t b)
{
    uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
    return (int32_t)lo32_from16((uint16_t)ua, (uint16_t)(ua >> 16),
                                (uint16_t)ub, (uint16_t)(ub >> 16), umul16x16);
}

/* Worker for the __mspabi_mpyll trampoline: v[0] = v[0] * v[1]. */
void __tc_mpyll(uint64_t v[2])
{
    v[0] = mul64_words(v[0], v[1], umul16x16);
}

/* ---- 16-bit hardware multiplier at 0x130 (F1xx/F2xx/F4xx MPY) ----------- */
/* No save/restore of the multiplier: tinycodec firmware runs no interrupts. */

#define HW_MPY (*(volatile uint16_t *)0x0130u)
#define HW_OP2 (*(volatile uint16_t *)0x0138u)
#define HW_RESLO (*(volatile uint16_t *)0x013Au)
#define HW_RESHI (*(volatile uint16_t *)0x013Cu)

static uint32_t hw_umul16(uint16_t a, uint16_t b)
{
    HW_MPY = a;
    HW_OP2 = b;
    uint16_t lo = HW_RESLO;
    uint16_t hi = HW_RESHI;
    return ((uint32_t)hi << 16) | lo;
}

int16_t __mspabi_mpyi_hw(int16_t a, int16_t b)
{
    HW_MPY = (uint16_t)a;
    HW_OP2 = (uint16_t)b;
    return (int16_t)HW_RESLO;
}

int32_t __mspabi_mpyl_hw(int32_t a, int32_t b)
{
    uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
    return (int32_t)lo32_from16((uint16_t)ua, (uint16_t)(ua >> 16),
                                (uint16_t)ub, (uint16_t)(ub >> 16), hw_umul16);
}

/* clang-16 calls this one with the ordinary C convention (a in R12:R15, b on
 * the stack), unlike the software __mspabi_mpyll. */
int64_t __mspabi_mpyll_hw(int64_t a, int64_t b)
{
    return (int64_t)mul64_words((uint64_t)a, (uint64_t)b, hw_umul16);
}

/* ---- MPY32 of the F5xx/F6xx family at 0x4C0 ----------------------------- */

#define F5_MPY (*(volatile uint16_t *)0x04C0u)
#define F5_OP2 (*(volatile uint16_t *)0x04C8u)
#define F5_RESLO (*(volatile uint16_t *)0x04CAu)
#define F5_MPY32L (*(volatile uint16_t *)0x04D0u)
#define F5_MPY32H (*(volatile uint16_t *)0x04D2u)
#define F5_OP2L (*(volatile uint16_t *)0x04E0u)
#define F5_OP2H (*(volatile uint16_t *)0x04E2u)
#define F5_RES0 (*(volatile uint16_t *)0x04E4u)
#define F5_RES1 (*(volatile uint16_t *)0x04E6u)
#define F5_RES2 (*(volatile uint16_t *)0x04E8u)
#define F5_RES3 (*(volatile uint16_t *)0x04EAu)

/* Full 32x32 -> 64 unsigned product; writing OP2H starts the multiply. */
static uint64_t f5_umul32(uint32_t a, uint32_t b)
{
    F5_MPY32L = (uint16_t)a;
    F5_MPY32H = (uint16_t)(a >> 16);
    F5_OP2L = (uint16_t)b;
    F5_OP2H = (uint16_t)(b >> 16);
    uint16_t r0 = F5_RES0, r1 = F5_RES1, r2 = F5_RES2, r3 = F5_RES3;
    return (uint64_t)r0 | ((uint64_t)r1 << 16) | ((uint64_t)r2 << 32) |
           ((uint64_t)r3 << 48);
}

int16_t __mspabi_mpyi_f5hw(int16_t a, int16_t b)
{
    F5_MPY = (uint16_t)a;
    F5_OP2 = (uint16_t)b;
    return (int16_t)F5_RESLO;
}

int32_t __mspabi_mpyl_f5hw(int32_t a, int32_t b)
{
    return (int32_t)(uint32_t)f5_umul32((uint32_t)a, (uint32_t)b);
}

int64_t __mspabi_mpyll_f5hw(int64_t a, int64_t b)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    uint32_t al = (uint32_t)ua, ah = (uint32_t)(ua >> 32);
    uint32_t bl = (uint32_t)ub, bh = (uint32_t)(ub >> 32);
    uint32_t cross = (uint32_t)f5_umul32(al, bh) + (uint32_t)f5_umul32(ah, bl);
    return (int64_t)(f5_umul32(al, bl) + ((uint64_t)cross << 32));
}

/* ---- division: C semantics (truncate toward zero, remainder takes the
 *      dividend's sign). Division by zero returns all ones / the dividend,
 *      as the restoring loop naturally does; callers must not rely on it. */

uint16_t __mspabi_divu(uint16_t n, uint16_t d)
{
    uint16_t r;
    return udivmod16(n, d, &r);
}

uint16_t __mspabi_remu(uint16_t n, uint16_t d)
{
    uint16_t r;
    udivmod16(n, d, &r);
    return r;
}

int16_t __mspabi_divi(int16_t n, int16_t d)
{
    uint16_t r;
    uint16_t un = n < 0 ? (uint16_t)(0u - (uint16_t)n) : (uint16_t)n;
    uint16_t ud = d < 0 ? (uint16_t)(0u - (uint16_t)d) : (uint16_t)d;
    uint16_t q = udivmod16(un, ud, &r);
    return (int16_t)(((n < 0) != (d < 0)) ? (uint16_t)(0u - q) : q);
}

int16_t __mspabi_remi(int16_t n, int16_t d)
{
    uint16_t r;
    uint16_t un = n < 0 ? (uint16_t)(0u - (uint16_t)n) : (uint16_t)n;
    uint16_t ud = d < 0 ? (uint16_t)(0u - (uint16_t)d) : (uint16_t)d;
    udivmod16(un, ud, &r);
    return (int16_t)(n < 0 ? (uint16_t)(0u - r) : r);
}

uint32_t __mspabi_divul(uint32_t n, uint32_t d)
{
    uint32_t r;
    return udivmod32(n, d, &r);
}

uint32_t __mspabi_remul(uint32_t n, uint32_t d)
{
    uint32_t r;
    udivmod32(n, d, &r);
    return r;
}

int32_t __mspabi_divli(int32_t n, int32_t d)
{
    uint32_t r;
    uint32_t un = n < 0 ? 0u - (uint32_t)n : (uint32_t)n;
    uint32_t ud = d < 0 ? 0u - (uint32_t)d : (uint32_t)d;
    uint32_t q = udivmod32(un, ud, &r);
    return (int32_t)(((n < 0) != (d < 0)) ? 0u - q : q);
}

int32_t __mspabi_remli(int32_t n, int32_t d)
{
    uint32_t r;
    uint32_t un = n < 0 ? 0u - (uint32_t)n : (uint32_t)n;
    uint32_t ud = d < 0 ? 0u - (uint32_t)d : (uint32_t)d;
    udivmod32(un, ud, &r);
    return (int32_t)(n < 0 ? 0u - r : r);
}

/* Workers for the 64-bit trampolines: v[0] = op(v[0], v[1]). */

void __tc_divull(uint64_t v[2])
{
    uint64_t r;
    v[0] = udivmod64(v[0], v[1], &r);
}

void __tc_remull(uint64_t v[2])
{
    udivmod64(v[0], v[1], &v[0]);
}

void __tc_divlli(uint64_t v[2])
{
    uint64_t r;
    int neg_n = (int64_t)v[0] < 0, neg_d = (int64_t)v[1] < 0;
    uint64_t q = udivmod64(neg_n ? 0u - v[0] : v[0],
                           neg_d ? 0u - v[1] : v[1], &r);
    v[0] = (neg_n != neg_d) ? 0u - q : q;
}

void __tc_remlli(uint64_t v[2])
{
    uint64_t r;
    int neg_n = (int64_t)v[0] < 0, neg_d = (int64_t)v[1] < 0;
    udivmod64(neg_n ? 0u - v[0] : v[0], neg_d ? 0u - v[1] : v[1], &r);
    v[0] = neg_n ? 0u - r : r;
}

/* ---- 32-bit shifts by a variable count (count in R14, 0..31) ------------ */

uint32_t __mspabi_slll(uint32_t x, int16_t n)
{
    n &= 31;
    if (n & 16) {
        x = (uint32_t)(uint16_t)x << 16;
        n -= 16;
    }
    for (; n; n--)
        x <<= 1;
    return x;
}

uint32_t __mspabi_srll(uint32_t x, int16_t n)
{
    n &= 31;
    if (n & 16) {
        x >>= 16;
        n -= 16;
    }
    for (; n; n--)
        x >>= 1;
    return x;
}

int32_t __mspabi_sral(int32_t x, int16_t n)
{
    n &= 31;
    if (n & 16) {
        x >>= 16;
        n -= 16;
    }
    for (; n; n--)
        x >>= 1;
    return x;
}

/* ---- the libc calls clang may emit on its own (struct copies, zeroing) --- */
/* Compiled with -ffreestanding, so these loops are not turned back into calls. */

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}
