/* tinycodec link application (see tc_app.h and docs/protocol.md). Written for 16-bit int. */
#include <stdint.h>

/* First: the generated session header may size the app for its codec (TC_APP_MAX_PER_REPORT,
 * TC_APP_BATCH_MAX, ...) before tc_app.h supplies the defaults. */
#include "tc_app_session.h"
#include "tc_app.h"
#include "tc_codec.h"
#include "tc_frame.h"
#include "tc_hal.h"
#include "tc_model.h"
#include "tc_report.h"
#include "tc_reporter.h"

#define WINDOW_RECORD_MAX (4u + TC_OUT_BYTES)
/* The largest report of k windows: header, end mark, one descriptor, k triplets and records. */
#define REPORT_WORST(k) (TC_REPORT_MIN_SIZE + 2ul + (k) * (6ul + WINDOW_RECORD_MAX)) /* no cast: #if uses it */
#define REPORT_MAX REPORT_WORST(TC_APP_MAX_PER_REPORT)
#if TC_APP_MTU
#define CHUNK (TC_APP_MTU - TC_FRAME_OVERHEAD)
#else
#define CHUNK TC_FRAME_PAYLOAD_MAX
#endif

/* Sizes the link's fields and the framing must carry (the ECG codec's records reach 3.6 kB):
 * a report's offsets and the reporter's buffer use are u16, a message has at most 255 fragments. */
#if REPORT_MAX > 65535ul
#error "TC_APP_MAX_PER_REPORT x TC_OUT_BYTES: a worst-case report exceeds the u16 offsets of docs/reports.md"
#endif
#if (REPORT_MAX + CHUNK - 1ul) / CHUNK > 255ul || (TC_APP_BATCH_MAX + CHUNK - 1ul) / CHUNK > 255ul
#error "a worst-case report or batch needs more than 255 fragments at this MTU: lower TC_APP_MAX_PER_REPORT"
#endif
#if TC_APP_BATCH_MAX > 65535ul
#error "TC_APP_BATCH_MAX: the reporter counts its buffer in u16"
#endif

#ifndef TC_APP_CHECK_WORST_REPORT
#define TC_APP_CHECK_WORST_REPORT 0 /* 1: refuse a CONFIG whose max_batch a worst-case report exceeds */
#endif
#ifndef TC_APP_EPS_OK
#define TC_APP_EPS_OK(eps) 1 /* every u16 eps is a valid error bound */
#endif
#ifndef TC_APP_BENCH_LO
#define TC_APP_BENCH_LO TC_LO /* lowest sample of the bench windows */
#endif
#ifndef TC_M
#define TC_M 0u /* IDENTIFY's m=: a codec without one latent size (ecg-dynamic: 128 / 64 / 32 by level) */
#endif

#ifndef TC_FW_HASH
#define TC_FW_HASH "unknown"
#endif
#ifndef TC_MODEL_HASH
#define TC_MODEL_HASH "unknown"
#endif

static struct {
    /* codec session */
    uint16_t eps;
    uint8_t latent_bits;
    uint8_t mean_shift;
    uint8_t per_report;
    uint8_t cfg_gen; /* codec session generation: bumped by every accepted CONFIG, carried by every window */
    /* input */
    int16_t x[TC_N];
    uint16_t fill;
    uint32_t next_sample; /* index the next SAMPLES message should start at */
    uint16_t window_no;
    /* output */
    uint16_t tx_seq;
    uint16_t report_seq;
    uint8_t in_report; /* windows in the report under construction */
    uint32_t windows_sent;
    uint32_t frames_sent;   /* frames put on the link (fragments count one each) */
    uint32_t messages_sent;
    uint32_t frames_bad;    /* frames the parser rejected */
    tc_report_t rb;
    tc_reporter_t rep;
    tc_frame_parser_t parser;
    uint8_t report_buf[REPORT_MAX];
    uint8_t batch_buf[TC_APP_BATCH_MAX];
    uint8_t win[WINDOW_RECORD_MAX];
    uint8_t enc[TC_FRAME_ENC_MAX];
    /* reassembly of host messages (one at a time) */
    uint8_t msg[TC_APP_MSG_MAX];
    uint16_t msg_len;
    uint16_t msg_seq;
    uint8_t msg_type;
    uint8_t msg_next_frag;
} app;

static void put_bytes(const uint8_t *p, uint16_t n)
{
    for (uint16_t i = 0; i < n; ++i) {
        tc_hal_putc((char)p[i]);
    }
}

/* One message, fragmented to the link's MTU; every fragment carries the message's seq. */
static void send_msg(uint8_t type, const uint8_t *payload, uint16_t len)
{
    uint16_t count = (uint16_t)((len + CHUNK - 1u) / CHUNK);
    if (count == 0u) {
        count = 1u;
    }
    if (count > 255u) {
        return; /* cannot be framed; the callers keep messages far below this */
    }
    for (uint16_t k = 0; k < count; ++k) {
        const uint16_t off = (uint16_t)(k * CHUNK);
        const uint16_t left = (uint16_t)(len - off);
        const uint16_t n = left < (uint16_t)CHUNK ? left : (uint16_t)CHUNK;
        const uint8_t flags = (uint8_t)(k + 1u < count ? TC_FLAG_MORE : 0u);
        const uint16_t m = tc_frame_encode(type, flags, app.tx_seq, (uint8_t)k, (uint8_t)count, payload + off, n,
                                           app.enc, (uint16_t)sizeof app.enc);
        put_bytes(app.enc, m);
        app.frames_sent++;
    }
    app.messages_sent++;
    app.tx_seq++;
    tc_hal_flush();
}

static void send_text(uint8_t type, const char *s)
{
    uint16_t n = 0;
    while (s[n]) {
        n++;
    }
    send_msg(type, (const uint8_t *)s, n);
}

/* Minimal formatting for 16-bit targets without printf. */
static char *put_u32(char *p, uint32_t v)
{
    char tmp[11];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v);
    while (n) {
        *p++ = tmp[--n];
    }
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s) {
        *p++ = *s++;
    }
    return p;
}

static void reporter_send(void *ctx, const uint8_t *payload, uint16_t len)
{
    (void)ctx;
    send_msg(TC_MSG_REPORT, payload, len);
}

static void finish_report(uint8_t flags)
{
    if (!app.in_report) {
        return;
    }
    const uint16_t n = tc_report_end(&app.rb, TC_APP_WINDOW_MS * app.in_report, flags);
    app.in_report = 0;
    if (!n) {
        send_text(TC_MSG_ERROR, "report overflow");
    } else if (!tc_reporter_submit(&app.rep, tc_hal_millis(), app.report_buf, n)) {
        send_text(TC_MSG_ERROR, "report dropped: larger than the session's max_batch");
    }
}

static void encode_window(void)
{
    uint8_t imputed = 0;
    for (uint16_t i = 0; i < WINDOW_RECORD_MAX; ++i) {
        app.win[i] = 0;
    }
    const uint16_t nbits = tc_encode(app.x, app.eps, app.latent_bits, app.mean_shift, app.win + 4, &imputed);
    app.win[0] = (uint8_t)(nbits & 0xFFu);
    app.win[1] = (uint8_t)(nbits >> 8);
    app.win[2] = imputed;
    app.win[3] = app.cfg_gen;
    if (!app.in_report) {
        tc_report_begin(&app.rb, app.report_buf, (uint16_t)sizeof app.report_buf, TC_APP_DEVICE_ID,
                        TC_APP_SESSION_ID, app.report_seq++);
    }
    tc_report_add(&app.rb, TC_APP_TYPE_WINDOW, app.window_no, app.win, (uint16_t)(4u + (nbits + 7u) / 8u));
    app.window_no++;
    app.windows_sent++;
    if (++app.in_report >= app.per_report) {
        finish_report(0);
    }
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)rd16(p) | ((uint32_t)rd16(p + 2) << 16);
}

static void on_samples(const uint8_t *p, uint16_t len)
{
    if (len < 4u || (len - 4u) % 2u) {
        send_text(TC_MSG_ERROR, "samples: payload is not u32 index + int16 samples");
        return;
    }
    const uint32_t first = rd32(p);
    if (first != app.next_sample) {
        /* A gap (lost message) or a new recording: restart at the next window boundary. */
        app.fill = 0;
        send_text(TC_MSG_LOG, "samples: index jump, window restarted");
    }
    const uint16_t n = (uint16_t)((len - 4u) / 2u);
    for (uint16_t i = 0; i < n; ++i) {
        app.x[app.fill++] = (int16_t)rd16(p + 4 + 2u * i);
        if (app.fill == TC_N) {
            encode_window();
            app.fill = 0;
        }
    }
    app.next_sample = first + n;
}

static void ack(uint16_t seq, uint8_t status)
{
    const uint8_t a[3] = {(uint8_t)(seq & 0xFFu), (uint8_t)(seq >> 8), status};
    send_msg(TC_MSG_ACK, a, 3);
}

/* The codec session in force and its generation, for any listener: windows name the
 * generation they were encoded with, so a host that missed a CONFIG knows it did. */
static void send_config(void)
{
    const uint8_t cfg[14] = {TC_APP_CONFIG_CODEC, (uint8_t)(app.eps & 0xFFu), (uint8_t)(app.eps >> 8), app.latent_bits,
                             app.mean_shift, app.per_report, app.rep.configured,
                             (uint8_t)(app.rep.max_bytes & 0xFFu), (uint8_t)(app.rep.max_bytes >> 8),
                             (uint8_t)(app.rep.max_age_ms & 0xFFu), (uint8_t)((app.rep.max_age_ms >> 8) & 0xFFu),
                             (uint8_t)((app.rep.max_age_ms >> 16) & 0xFFu), (uint8_t)(app.rep.max_age_ms >> 24),
                             app.cfg_gen};
    send_msg(TC_MSG_CONFIG, cfg, 14);
}

static void on_config(const uint8_t *p, uint16_t len, uint16_t seq)
{
    /* u8 0x01, u16 eps, u8 latent_bits, u8 mean_shift, u8 per_report, u8 mode, u16 max_batch, u32 max_age_ms */
    if (len != 13u || p[0] != TC_APP_CONFIG_CODEC || !TC_APP_EPS_OK(rd16(p + 1)) || p[3] < 1u ||
        p[3] > TC_MAX_LATENT_BITS || p[4] > 8u || p[5] < 1u || p[5] > TC_APP_MAX_PER_REPORT || p[6] > 1u ||
        rd16(p + 7) > TC_APP_BATCH_MAX || rd16(p + 7) < TC_REPORT_BATCH_HEADER_SIZE + TC_REPORT_MIN_SIZE ||
        (TC_APP_CHECK_WORST_REPORT && TC_REPORT_BATCH_HEADER_SIZE + REPORT_WORST((uint32_t)p[5]) > rd16(p + 7))) {
        ack(seq, 1); /* refused: the codec would send nothing, or reports could not be buffered */
        return;
    }
    finish_report(0);
    app.eps = rd16(p + 1);
    app.latent_bits = p[3];
    app.mean_shift = p[4];
    app.per_report = p[5];
    tc_reporter_init(&app.rep, p[6], app.batch_buf, (uint16_t)sizeof app.batch_buf, rd16(p + 7), rd32(p + 9),
                     TC_APP_HOLD_MS, reporter_send, 0);
    app.cfg_gen++;
    ack(seq, 0);
    send_config();
}

static void bench(uint32_t windows)
{
    /* Synthetic windows: a slow ramp with a wobble, inside every model's range. */
    uint32_t t0, t1;
    uint32_t seed = 12345u;
    uint32_t total = 0;
    for (uint32_t w = 0; w < windows; ++w) {
        for (uint16_t i = 0; i < TC_N; ++i) {
            seed = seed * 1103515245u + 12345u;
            app.x[i] = (int16_t)(TC_APP_BENCH_LO + (int32_t)((w * 7u + i) % 64u) + (int32_t)((seed >> 16) & 7u));
        }
        uint8_t imputed = 0;
        t0 = tc_hal_bench_counter();
        (void)tc_encode(app.x, app.eps, app.latent_bits, app.mean_shift, app.win + 4, &imputed);
        t1 = tc_hal_bench_counter();
        total += t1 - t0;
    }
    char out[160];
    char *q = put_str(out, "windows=");
    q = put_u32(q, windows);
    q = put_str(q, " counter=" TC_HAL_BENCH_COUNTER_KIND " ticks=");
    q = put_u32(q, total);
    q = put_str(q, " static_ram=");
    q = put_u32(q, (uint32_t)sizeof app);
    q = put_str(q, " stack=");
    if (tc_hal_stack_used() == 0xFFFFFFFFu) {
        q = put_str(q, "unmeasured");
    } else {
        q = put_u32(q, tc_hal_stack_used());
    }
    *q = 0;
    app.fill = 0;
    send_text(TC_MSG_BENCH, out);
}

static int starts(const uint8_t *p, uint16_t len, const char *s)
{
    uint16_t i = 0;
    for (; s[i]; ++i) {
        if (i >= len || p[i] != (uint8_t)s[i]) {
            return 0;
        }
    }
    return 1;
}

static void on_command(const uint8_t *p, uint16_t len, uint16_t seq)
{
    const uint32_t now = tc_hal_millis();
    if (starts(p, len, "bench ")) {
        uint32_t n = 0;
        for (uint16_t i = 6; i < len && p[i] >= '0' && p[i] <= '9'; ++i) {
            n = n * 10u + (uint32_t)(p[i] - '0');
        }
        if (n > TC_APP_BENCH_MAX) {
            ack(seq, 1); /* refused: a board must stay responsive */
            return;
        }
        ack(seq, 0);
        bench(n ? n : 100u);
    } else if (starts(p, len, "flush")) {
        finish_report(0);
        tc_reporter_link_restored(&app.rep, now); /* restored from "down" or a no-op flush */
        ack(seq, 0);
    } else if (starts(p, len, "button")) {
        finish_report(TC_RF_BUTTON);
        tc_reporter_button(&app.rep, now);
        ack(seq, 0);
    } else if (starts(p, len, "event")) {
        finish_report(TC_RF_EVENT);
        ack(seq, 0);
    } else if (starts(p, len, "link-lost")) {
        tc_reporter_link_lost(&app.rep, now);
        ack(seq, 0);
    } else if (starts(p, len, "link-restored")) {
        tc_reporter_link_restored(&app.rep, now);
        ack(seq, 0);
    } else if (starts(p, len, "stats")) {
        /* Counters before this reply: the host compares them with what it decoded. */
        char out[160];
        char *q = put_str(out, "frames_sent=");
        q = put_u32(q, app.frames_sent);
        q = put_str(q, " messages_sent=");
        q = put_u32(q, app.messages_sent);
        q = put_str(q, " windows=");
        q = put_u32(q, app.windows_sent);
        q = put_str(q, " frames_bad=");
        q = put_u32(q, app.frames_bad);
        *q = 0;
        ack(seq, 0);
        send_text(TC_MSG_LOG, out);
    } else if (starts(p, len, "identify")) {
        ack(seq, 0);
        tc_app_init();
    } else {
        ack(seq, 2);
    }
}

static void on_message(uint8_t type, const uint8_t *p, uint16_t len, uint16_t seq)
{
    switch (type) {
    case TC_MSG_SAMPLES:
        on_samples(p, len);
        break;
    case TC_MSG_CONFIG:
        on_config(p, len, seq);
        break;
    case TC_MSG_COMMAND:
        on_command(p, len, seq);
        break;
    default:
        send_text(TC_MSG_ERROR, "unexpected message type");
        break;
    }
}

void tc_app_rx(uint8_t byte)
{
    const int r = tc_frame_parser_feed(&app.parser, byte);
    if (r != TC_FRAME_OK) {
        if (r < 0) {
            app.frames_bad++; /* a corrupt frame: the host notices by the missing ACK or seq */
        }
        return;
    }
    const tc_frame_t *f = &app.parser.frame;
    if (f->frag_index == 0u) {
        app.msg_len = 0;
        app.msg_seq = f->seq;
        app.msg_type = f->type;
        app.msg_next_frag = 0;
    }
    if (f->seq != app.msg_seq || f->frag_index != app.msg_next_frag || app.msg_len + f->len > TC_APP_MSG_MAX) {
        app.msg_next_frag = 0xFFu; /* broken message: wait for the next first fragment */
        return;
    }
    for (uint16_t i = 0; i < f->len; ++i) {
        app.msg[app.msg_len++] = f->payload[i];
    }
    app.msg_next_frag++;
    if (app.msg_next_frag == f->frag_count) {
        on_message(app.msg_type, app.msg, app.msg_len, app.msg_seq);
        app.msg_next_frag = 0xFFu;
    }
}

void tc_app_idle(void)
{
    tc_reporter_tick(&app.rep, tc_hal_millis());
}

void tc_app_init(void)
{
    tc_frame_parser_init(&app.parser);
    app.eps = TC_APP_DEFAULT_EPS;
    app.latent_bits = TC_LATENT_BITS;
    app.mean_shift = 0;
    app.per_report = 1;
    app.fill = 0;
    app.next_sample = 0;
    app.window_no = 0;
    app.in_report = 0;
    app.msg_next_frag = 0xFFu;
    tc_reporter_init(&app.rep, TC_MODE_IMMEDIATE, app.batch_buf, (uint16_t)sizeof app.batch_buf,
                     (uint16_t)sizeof app.batch_buf, TC_APP_MAX_AGE_MS, TC_APP_HOLD_MS, reporter_send, 0);
    char out[200];
    char *q = put_str(out, "proto=");
    q = put_u32(q, TC_APP_PROTO);
    q = put_str(q, " board=" TC_BOARD_NAME " fw=" TC_FW_HASH " model=" TC_MODEL_NAME " model_hash=" TC_MODEL_HASH " n=");
    q = put_u32(q, TC_N);
    q = put_str(q, " m=");
    q = put_u32(q, TC_M);
    q = put_str(q, " mtu=");
    q = put_u32(q, TC_APP_MTU);
    *q = 0;
    send_text(TC_MSG_IDENTIFY, out);
    send_msg(TC_MSG_CONFIG, tc_app_session, (uint16_t)sizeof tc_app_session);
    send_config();
}
