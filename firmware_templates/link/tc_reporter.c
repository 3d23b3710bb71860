/* Reporting modes: the state machine of tc_reporter.h, step for step as toolchain/link/modes.py.
 *
 * Every event first lets an expired urgent condition recede, then acts. An invariant keeps the
 * code short: whenever the effective mode is immediate with the link up, the batch buffer is
 * empty (every way into that state flushes it).
 */
#include "tc_reporter.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void update_mode(tc_reporter_t *r)
{
    if (!r->link_up) r->mode = TC_MODE_DELAYED;
    else if (r->urgent) r->mode = TC_MODE_IMMEDIATE;
    else r->mode = r->configured;
}

static void flush(tc_reporter_t *r)
{
    if (r->count == 0u) return;
    r->buf[0] = TC_REPORT_BATCH_MAGIC;
    put16(r->buf + 1, r->count);
    r->send(r->ctx, r->buf, r->used);
    r->count = 0;
    r->used = 0;
}

static void expire(tc_reporter_t *r, uint32_t now)
{
    /* Unsigned difference: correct across the clock's wrap at 2^32 ms. */
    if (r->urgent && (uint32_t)(now - r->urgent_at) >= r->hold_ms) {
        r->urgent = 0;
        update_mode(r);
    }
}

static void make_urgent(tc_reporter_t *r, uint32_t now)
{
    r->urgent = 1;
    r->urgent_at = now;
    update_mode(r);
    if (r->link_up) flush(r);
}

static void drop_oldest(tc_reporter_t *r)
{
    uint8_t *b = r->buf;
    uint16_t len = tc_report_length(b + TC_REPORT_BATCH_HEADER_SIZE,
                                    (uint16_t)(r->used - TC_REPORT_BATCH_HEADER_SIZE));
    uint16_t i, end = r->used;

    for (i = (uint16_t)(TC_REPORT_BATCH_HEADER_SIZE + len); i < end; i++) b[i - len] = b[i];
    r->used = (uint16_t)(r->used - len);
    r->count = (uint16_t)(r->count - 1u);
    r->dropped++;
    if (r->count == 0u) r->used = 0;
}

static void buffer(tc_reporter_t *r, uint32_t now, const uint8_t *rep, uint16_t len)
{
    uint16_t i;

    if (r->count > 0u && (uint32_t)r->used + len > r->max_bytes) {
        if (r->link_up) flush(r);
        else
            while (r->count > 0u && (uint32_t)r->used + len > r->max_bytes) drop_oldest(r);
    }
    if (r->count == 0u) {
        r->used = TC_REPORT_BATCH_HEADER_SIZE;
        r->first_at = now;
    }
    for (i = 0; i < len; i++) r->buf[r->used + i] = rep[i];
    r->used = (uint16_t)(r->used + len);
    r->count = (uint16_t)(r->count + 1u);
    if (r->link_up && (r->used == r->max_bytes || (uint32_t)(now - r->first_at) >= r->max_age_ms)) flush(r);
}

uint8_t tc_reporter_init(tc_reporter_t *r, uint8_t mode, uint8_t *buf, uint16_t cap, uint16_t max_bytes,
                         uint32_t max_age_ms, uint32_t hold_ms, tc_send_fn send, void *ctx)
{
    if (mode > TC_MODE_DELAYED || !buf || !send || max_bytes > cap ||
        max_bytes < TC_REPORT_BATCH_HEADER_SIZE + TC_REPORT_MIN_SIZE)
        return 0;
    r->buf = buf;
    r->max_bytes = max_bytes;
    r->max_age_ms = max_age_ms;
    r->hold_ms = hold_ms;
    r->send = send;
    r->ctx = ctx;
    r->configured = mode;
    r->link_up = 1;
    r->urgent = 0;
    r->urgent_at = 0;
    r->first_at = 0;
    r->used = 0;
    r->count = 0;
    r->dropped = 0;
    update_mode(r);
    return 1;
}

uint8_t tc_reporter_submit(tc_reporter_t *r, uint32_t now, const uint8_t *report, uint16_t len)
{
    uint16_t n = tc_report_length(report, len);

    if (n == 0u || n != len || (uint32_t)TC_REPORT_BATCH_HEADER_SIZE + len > r->max_bytes) return 0;
    expire(r, now);
    if (report[11] & TC_RF_EVENT) make_urgent(r, now);
    if (r->mode == TC_MODE_IMMEDIATE) r->send(r->ctx, report, len);
    else buffer(r, now, report, len);
    return 1;
}

void tc_reporter_tick(tc_reporter_t *r, uint32_t now)
{
    expire(r, now);
    if (r->link_up && r->count > 0u && (uint32_t)(now - r->first_at) >= r->max_age_ms) flush(r);
}

void tc_reporter_button(tc_reporter_t *r, uint32_t now)
{
    expire(r, now);
    make_urgent(r, now);
}

void tc_reporter_adaptation(tc_reporter_t *r, uint32_t now)
{
    expire(r, now);
    make_urgent(r, now);
}

void tc_reporter_link_lost(tc_reporter_t *r, uint32_t now)
{
    expire(r, now);
    r->link_up = 0;
    update_mode(r);
}

void tc_reporter_link_restored(tc_reporter_t *r, uint32_t now)
{
    expire(r, now);
    r->link_up = 1;
    update_mode(r);
    flush(r);
}
