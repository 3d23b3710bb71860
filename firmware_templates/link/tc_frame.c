/* tinycodec link framing: device side. Reference (byte-identical): toolchain/link/frames.py. */
#include "tc_frame.h"

enum { PS_IDLE = 0, PS_FRAME = 1, PS_DROP = 2 };

uint16_t tc_crc16(const uint8_t *p, uint16_t n, uint16_t crc)
{
    /* Byte-wise form of the 0x1021 shift register: no 512-byte table in flash, no 8-step
     * bit loop. x folds the byte into the top nibble pair; the shifts are 0x1021's taps. */
    while (n--) {
        uint8_t x = (uint8_t)((crc >> 8) ^ *p++);
        x = (uint8_t)(x ^ (x >> 4));
        crc = (uint16_t)((uint16_t)(crc << 8) ^ (uint16_t)((uint16_t)x << 12) ^ (uint16_t)((uint16_t)x << 5) ^ x);
    }
    return crc;
}

/* COBS writer over several input pieces, with every store checked against cap. The code
 * byte of a block is reserved (pos advanced) and written when the block ends. */
typedef struct {
    uint8_t *out;
    uint16_t cap;
    uint16_t pos;      /* next data byte goes here */
    uint16_t code_pos; /* reserved slot of the current block's code byte */
    uint8_t code;      /* 1 + data bytes in the current block */
    uint8_t after_full; /* the last block was a full 0xFF one and nothing followed yet */
    uint8_t ok;
} cobs_w_t;

static void cw_reserve(cobs_w_t *w)
{
    if (w->pos >= w->cap) {
        w->ok = 0u;
        return;
    }
    w->code_pos = w->pos++;
    w->code = 1u;
}

static void cw_close(cobs_w_t *w)
{
    if (w->ok) w->out[w->code_pos] = w->code;
}

static void cw_begin(cobs_w_t *w, uint8_t *out, uint16_t cap)
{
    w->out = out;
    w->cap = cap;
    w->pos = 0u;
    w->ok = 1u;
    w->after_full = 0u;
    cw_reserve(w);
}

static void cw_put(cobs_w_t *w, uint8_t b)
{
    if (!w->ok) return;
    w->after_full = 0u;
    if (b == 0u) {
        cw_close(w);
        cw_reserve(w);
        return;
    }
    if (w->pos >= w->cap) {
        w->ok = 0u;
        return;
    }
    w->out[w->pos++] = b;
    if (++w->code == 0xFFu) {
        cw_close(w);
        cw_reserve(w);
        /* Canonical COBS: a full block that ends the input is not followed by an empty one. */
        w->after_full = 1u;
    }
}

static void cw_put_all(cobs_w_t *w, const uint8_t *p, uint16_t n)
{
    while (n--) cw_put(w, *p++);
}

/* Returns the encoded length, 0 if it did not fit. */
static uint16_t cw_end(cobs_w_t *w)
{
    if (!w->ok) return 0u;
    if (w->after_full) {
        w->pos--; /* drop the slot reserved for a block that never came */
        return w->pos;
    }
    cw_close(w);
    return w->pos;
}

uint16_t tc_cobs_encode(const uint8_t *in, uint16_t n, uint8_t *out)
{
    cobs_w_t w;
    if (n > TC_COBS_IN_MAX) return 0u;
    cw_begin(&w, out, (uint16_t)TC_COBS_MAX(n));
    cw_put_all(&w, in, n);
    return cw_end(&w);
}

/* Same rules as _field_problem in frames.py. */
static int fields_ok(uint8_t flags, uint8_t frag_index, uint8_t frag_count)
{
    uint8_t more;
    if (flags & (uint8_t)~(TC_FLAG_MORE | TC_FLAG_ACK)) return 0;
    if (frag_count == 0u || frag_index >= frag_count) return 0;
    more = (uint8_t)((uint16_t)frag_index + 1u < (uint16_t)frag_count);
    return ((flags & TC_FLAG_MORE) != 0u) == (more != 0u);
}

uint16_t tc_frame_encode(uint8_t type, uint8_t flags, uint16_t seq, uint8_t frag_index, uint8_t frag_count,
                         const uint8_t *payload, uint16_t len, uint8_t *out, uint16_t cap)
{
    uint8_t hdr[TC_FRAME_HEADER];
    uint16_t crc, n;
    cobs_w_t w;

    if (len > TC_FRAME_PAYLOAD_MAX || !fields_ok(flags, frag_index, frag_count)) return 0u;
    hdr[0] = type;
    hdr[1] = flags;
    hdr[2] = (uint8_t)(seq & 0xFFu);
    hdr[3] = (uint8_t)(seq >> 8);
    hdr[4] = frag_index;
    hdr[5] = frag_count;
    crc = tc_crc16(hdr, TC_FRAME_HEADER, 0xFFFFu);
    if (len) crc = tc_crc16(payload, len, crc);

    cw_begin(&w, out, cap);
    cw_put_all(&w, hdr, TC_FRAME_HEADER);
    if (len) cw_put_all(&w, payload, len);
    cw_put(&w, (uint8_t)(crc & 0xFFu));
    cw_put(&w, (uint8_t)(crc >> 8));
    n = cw_end(&w);
    if (n == 0u || n >= cap) return 0u; /* no room for the delimiter */
    out[n] = 0u;
    return (uint16_t)(n + 1u);
}

void tc_frame_parser_init(tc_frame_parser_t *p)
{
    p->frame.type = 0u;
    p->frame.flags = 0u;
    p->frame.seq = 0u;
    p->frame.frag_index = 0u;
    p->frame.frag_count = 0u;
    p->frame.payload = p->buf;
    p->frame.len = 0u;
    p->n = 0u;
    p->code = 0u;
    p->left = 0u;
    p->state = PS_IDLE;
}

/* Appends a decoded byte; on overflow starts dropping up to the next 0x00. */
static int put(tc_frame_parser_t *p, uint8_t b)
{
    if (p->n >= TC_FRAME_MAX) {
        p->state = PS_DROP;
        return 0;
    }
    p->buf[p->n++] = b;
    return 1;
}

/* A delimiter ended the frame in buf[0..n): check it. */
static int end_frame(tc_frame_parser_t *p, uint16_t n)
{
    const uint8_t *b = p->buf;
    uint16_t carried;
    if (n < TC_FRAME_OVERHEAD) return TC_FRAME_ERR_SHORT;
    carried = (uint16_t)((uint16_t)b[n - 2u] | (uint16_t)((uint16_t)b[n - 1u] << 8));
    if (tc_crc16(b, (uint16_t)(n - 2u), 0xFFFFu) != carried) return TC_FRAME_ERR_CRC;
    if (!fields_ok(b[1], b[4], b[5])) return TC_FRAME_ERR_FIELDS;
    p->frame.type = b[0];
    p->frame.flags = b[1];
    p->frame.seq = (uint16_t)((uint16_t)b[2] | (uint16_t)((uint16_t)b[3] << 8));
    p->frame.frag_index = b[4];
    p->frame.frag_count = b[5];
    p->frame.payload = b + TC_FRAME_HEADER;
    p->frame.len = (uint16_t)(n - TC_FRAME_OVERHEAD);
    return TC_FRAME_OK;
}

int tc_frame_parser_feed(tc_frame_parser_t *p, uint8_t byte)
{
    if (byte == 0u) {
        uint8_t state = p->state, left = p->left;
        uint16_t n = p->n;
        p->n = 0u;
        p->left = 0u;
        p->code = 0u;
        p->state = PS_IDLE;
        if (state != PS_FRAME) return 0; /* idle delimiter, or the end of a dropped frame */
        if (left != 0u) return TC_FRAME_ERR_COBS;
        return end_frame(p, n);
    }
    if (p->state == PS_DROP) return 0;
    if (p->left == 0u) {
        /* A code byte. The block before it (if any) implied a 0x00 unless it was full. */
        if (p->state == PS_FRAME && p->code != 0xFFu && !put(p, 0u)) return TC_FRAME_ERR_TOO_LONG;
        p->state = PS_FRAME;
        p->code = byte;
        p->left = (uint8_t)(byte - 1u);
        return 0;
    }
    if (!put(p, byte)) return TC_FRAME_ERR_TOO_LONG;
    p->left--;
    return 0;
}
