/* libFuzzer target for firmware_templates/link/tc_frame.c (built and run by toolchain/link/fuzz.py):
 *   clang-16 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
 *
 * 1. Every input byte goes to the streaming parser; accepted frames (the first 8 of an input)
 *    are re-encoded with tc_frame_encode and parsed again, which must give the same frame back.
 * 2. The input also drives the encoders: header fields and cap from its first bytes, payload
 *    from the rest, into heap buffers of exactly the allowed size so that ASan sees any write
 *    past them; what tc_frame_encode accepts must parse back; tc_cobs_encode must decode back.
 * Any broken property traps (a crash for libFuzzer). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tc_frame.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* Feeds a whole encoding (ending in its 0x00) to a fresh parser: exactly one frame, at the end. */
static const tc_frame_t *parse_one(tc_frame_parser_t *q, const uint8_t *enc, uint16_t n)
{
    uint16_t i;
    tc_frame_parser_init(q);
    for (i = 0; i < n; i++) {
        int r = tc_frame_parser_feed(q, enc[i]);
        CHECK(i + 1u == n ? r == TC_FRAME_OK : r == 0);
    }
    return &q->frame;
}

static void same_frame(const tc_frame_t *a, const tc_frame_t *b)
{
    CHECK(a->type == b->type && a->flags == b->flags && a->seq == b->seq);
    CHECK(a->frag_index == b->frag_index && a->frag_count == b->frag_count && a->len == b->len);
    CHECK(a->len == 0 || memcmp(a->payload, b->payload, a->len) == 0);
}

static void roundtrip(const tc_frame_t *f)
{
    static tc_frame_parser_t q;
    uint8_t *enc = malloc(TC_FRAME_ENC_MAX);
    uint16_t n, i;
    CHECK(enc != NULL);
    n = tc_frame_encode(f->type, f->flags, f->seq, f->frag_index, f->frag_count, f->payload, f->len, enc,
                        (uint16_t)TC_FRAME_ENC_MAX);
    CHECK(n >= TC_FRAME_OVERHEAD + 2u && n <= TC_FRAME_ENC_MAX && enc[n - 1u] == 0u);
    for (i = 0; i + 1u < n; i++) CHECK(enc[i] != 0u);
    same_frame(f, parse_one(&q, enc, n));
    /* Exact fit succeeds, one byte less is refused. */
    CHECK(tc_frame_encode(f->type, f->flags, f->seq, f->frag_index, f->frag_count, f->payload, f->len, enc, n) == n);
    CHECK(tc_frame_encode(f->type, f->flags, f->seq, f->frag_index, f->frag_count, f->payload, f->len, enc,
                          (uint16_t)(n - 1u)) == 0u);
    free(enc);
}

/* Reference COBS decoder (straight from the definition) for checking tc_cobs_encode. */
static size_t cobs_decode_ref(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t pos = 0, k = 0;
    while (pos < n) {
        uint8_t code = in[pos];
        size_t j;
        CHECK(code != 0u && pos + code <= n);
        for (j = 1; j < code; j++) out[k++] = in[pos + j];
        pos += code;
        if (code != 0xFFu && pos < n) out[k++] = 0u;
    }
    return k;
}

static void encoders(const uint8_t *data, size_t size)
{
    static tc_frame_parser_t q;
    uint16_t len, cap, n, i;
    uint8_t *out, *dec;
    uint8_t flags, fi, fc;

    if (size < 8) return;
    /* Mostly-valid fields so the encoder gets past validation often. */
    fc = (uint8_t)(data[5] == 0u ? 1u : data[5]);
    fi = (uint8_t)(data[4] % fc);
    flags = (uint8_t)(data[1] & TC_FLAG_ACK);
    if ((uint16_t)fi + 1u < fc) flags |= TC_FLAG_MORE;
    if (data[1] & 0x80u) flags = data[1]; /* sometimes any flags, to test the refusal */
    len = (uint16_t)((size - 8u) > 300u ? 300u : size - 8u);
    cap = (uint16_t)(((uint16_t)data[6] | (uint16_t)((uint16_t)data[7] << 8)) % (TC_FRAME_ENC_MAX + 8u));
    out = malloc(cap ? cap : 1u);
    CHECK(out != NULL);
    n = tc_frame_encode(data[0], flags, (uint16_t)(data[2] | (data[3] << 8)), fi, fc, data + 8, len, out, cap);
    CHECK(n <= cap);
    if (n) {
        const tc_frame_t *f = parse_one(&q, out, n);
        CHECK(f->type == data[0] && f->flags == flags && f->frag_index == fi && f->frag_count == fc);
        CHECK(f->len == len && (len == 0u || memcmp(f->payload, data + 8, len) == 0));
    } else if (len <= TC_FRAME_PAYLOAD_MAX && !(flags & 0x80u) && cap >= TC_FRAME_ENC_MAX) {
        CHECK(0); /* valid fields and room for anything: must have been encoded */
    }
    free(out);

    len = (uint16_t)(size > 2000u ? 2000u : size);
    out = malloc(TC_COBS_MAX(len));
    dec = malloc(len ? len : 1u);
    CHECK(out != NULL && dec != NULL);
    n = tc_cobs_encode(data, len, out);
    CHECK(n >= 1u && n <= TC_COBS_MAX(len));
    for (i = 0; i < n; i++) CHECK(out[i] != 0u);
    CHECK(cobs_decode_ref(out, n, dec) == len && (len == 0u || memcmp(dec, data, len) == 0));
    free(out);
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tc_frame_parser_t p;
    size_t i;
    unsigned accepted = 0;
    tc_frame_parser_init(&p);
    for (i = 0; i < size; i++) {
        int r = tc_frame_parser_feed(&p, data[i]);
        CHECK(r >= TC_FRAME_ERR_FIELDS && r <= TC_FRAME_OK);
        CHECK(p.n <= TC_FRAME_MAX);
        if (r == TC_FRAME_OK) {
            CHECK(p.frame.len <= TC_FRAME_PAYLOAD_MAX && p.frame.frag_index < p.frame.frag_count);
            if (accepted++ < 8u) roundtrip(&p.frame); /* the first few: keeps long streams fast */
        }
    }
    encoders(data, size);
    return 0;
}
