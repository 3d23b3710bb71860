/* Reporting modes (immediate / delayed) with automatic switching: the device-side state machine.
 * Reference: toolchain/link/modes.py (same transitions, same payload bytes); docs/reports.md.
 *
 * Effective mode: delayed while the link is down; otherwise immediate while an urgent condition
 * holds (a report flagged TC_RF_EVENT, the patient's button, a software adaptation: each holds for
 * hold_ms after its last occurrence); otherwise the configured mode.
 * Immediate: each report is sent at once as it is. Delayed: reports are buffered and sent as one
 * batch (0xB1, count u16, reports) when the next report would not fit in max_bytes, when the batch
 * is exactly max_bytes, or when its first report is max_age_ms old. With the link down nothing is
 * sent: the oldest reports are dropped to make room. Time is the caller's ms clock (wraps at 2^32).
 */
#ifndef TC_REPORTER_H
#define TC_REPORTER_H

#include <stdint.h>

#include "tc_report.h"

#define TC_MODE_IMMEDIATE 0u
#define TC_MODE_DELAYED 1u

typedef void (*tc_send_fn)(void *ctx, const uint8_t *payload, uint16_t len);

typedef struct {
    uint8_t *buf;        /* batch buffer, cap >= max_bytes */
    uint16_t max_bytes;  /* size limit of one batch payload, header included */
    uint32_t max_age_ms; /* age limit of the oldest buffered report */
    uint32_t hold_ms;    /* how long an urgent condition keeps immediate mode */
    tc_send_fn send;
    void *ctx;
    uint8_t configured;  /* TC_MODE_* chosen by the server */
    uint8_t mode;        /* effective mode */
    uint8_t link_up;
    uint8_t urgent;
    uint32_t urgent_at;
    uint32_t first_at;   /* when the oldest buffered report arrived */
    uint16_t used;       /* batch bytes in buf (header included), 0 when empty */
    uint16_t count;      /* buffered reports */
    uint32_t dropped;    /* reports dropped while the link was down */
} tc_reporter_t;

/* Returns 1, or 0 if the limits are unusable (mode unknown, max_bytes < 18 or > cap). Starts with
 * the link up and no urgent condition. */
uint8_t tc_reporter_init(tc_reporter_t *r, uint8_t mode, uint8_t *buf, uint16_t cap, uint16_t max_bytes,
                         uint32_t max_age_ms, uint32_t hold_ms, tc_send_fn send, void *ctx);

/* One finished report (tc_report_end's output). Returns 1, or 0 (nothing changes) when it is not one
 * well-formed report or could never fit a batch (3 + len > max_bytes). */
uint8_t tc_reporter_submit(tc_reporter_t *r, uint32_t now, const uint8_t *report, uint16_t len);

void tc_reporter_tick(tc_reporter_t *r, uint32_t now);          /* hold expiry, age limit */
void tc_reporter_button(tc_reporter_t *r, uint32_t now);        /* patient's button */
void tc_reporter_adaptation(tc_reporter_t *r, uint32_t now);    /* interpretive software adapted */
void tc_reporter_link_lost(tc_reporter_t *r, uint32_t now);
void tc_reporter_link_restored(tc_reporter_t *r, uint32_t now); /* flushes what was buffered */

#endif
