/* Layered diagnostic reports: builder, length check and schedule-table walker.
 *
 * Byte-identical to toolchain/link/reports.py (build_report + encode_report). The data goes into
 * the caller's buffer as it arrives, right after the header; the descriptor layer's size is only
 * known at the end, so tc_report_end moves the data up once and writes descriptors in front of it.
 * Every size test is done in uint32_t so nothing wraps where int is 16 bits.
 */
#include "tc_report.h"

#define HDR TC_REPORT_HEADER_SIZE
#define DESC_HEAD 2u
#define TRIPLET 6u
#define END_LEN 2u

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

void tc_report_begin(tc_report_t *r, uint8_t *buf, uint16_t cap, uint16_t device_id, uint16_t session_id,
                     uint16_t seq)
{
    r->buf = buf;
    r->cap = cap;
    r->device_id = device_id;
    r->session_id = session_id;
    r->seq = seq;
    r->data_len = 0;
    r->desc_bytes = 0;
    r->n_rec = 0;
    r->n_desc = 0;
    r->failed = (uint8_t)((uint32_t)HDR + END_LEN > cap);
}

uint8_t tc_report_add(tc_report_t *r, uint8_t type_id, uint16_t index, const uint8_t *data, uint16_t len)
{
    uint8_t merge;
    uint32_t need;
    uint16_t i;
    uint8_t *dst;

    if (r->failed) return 0;
    /* Consecutive records of one type form a time series under one descriptor (count is a byte). */
    merge = (uint8_t)(r->n_desc > 0u && r->desc_type[r->n_desc - 1u] == type_id &&
                      r->desc_count[r->n_desc - 1u] < 255u);
    if (r->n_rec >= (uint16_t)TC_REPORT_MAX_RECORDS || (!merge && r->n_desc >= (uint8_t)TC_REPORT_MAX_DESC)) {
        r->failed = 1;
        return 0;
    }
    need = (uint32_t)HDR + r->desc_bytes + (merge ? TRIPLET : DESC_HEAD + TRIPLET) + r->data_len + len + END_LEN;
    if (need > r->cap) {
        r->failed = 1;
        return 0;
    }
    dst = r->buf + HDR + r->data_len;
    for (i = 0; i < len; i++) dst[i] = data[i];
    r->data_len = (uint16_t)(r->data_len + len);
    if (merge) {
        r->desc_count[r->n_desc - 1u] = (uint8_t)(r->desc_count[r->n_desc - 1u] + 1u);
        r->desc_bytes = (uint16_t)(r->desc_bytes + TRIPLET);
    } else {
        r->desc_type[r->n_desc] = type_id;
        r->desc_count[r->n_desc] = 1u;
        r->n_desc = (uint8_t)(r->n_desc + 1u);
        r->desc_bytes = (uint16_t)(r->desc_bytes + DESC_HEAD + TRIPLET);
    }
    r->rec_index[r->n_rec] = index;
    r->rec_len[r->n_rec] = len;
    r->n_rec = (uint16_t)(r->n_rec + 1u);
    return 1;
}

uint16_t tc_report_end(tc_report_t *r, uint32_t interval_ms, uint8_t flags)
{
    uint8_t *b = r->buf;
    uint16_t d = r->desc_bytes, n = r->data_len, i, pos, off, k = 0;
    uint8_t j, c;

    if (r->failed || (flags & (uint8_t)~TC_RF_KNOWN) != 0u) return 0;
    /* Data moves up by d bytes into the space it already reserved (adds checked the fit):
     * copy from the top so that the overlapping regions are not clobbered. */
    for (i = n; i > 0u; i--) b[HDR + d + i - 1u] = b[HDR + i - 1u];
    b[0] = TC_REPORT_MAGIC;
    put16(b + 1, r->device_id);
    put16(b + 3, r->session_id);
    put16(b + 5, r->seq);
    put16(b + 7, (uint16_t)(interval_ms & 0xFFFFu));
    put16(b + 9, (uint16_t)(interval_ms >> 16));
    b[11] = flags;
    b[12] = r->n_desc;
    pos = HDR;
    off = (uint16_t)(HDR + d);
    for (j = 0; j < r->n_desc; j++) {
        b[pos++] = r->desc_type[j];
        b[pos++] = r->desc_count[j];
        for (c = 0; c < r->desc_count[j]; c++, k++) {
            put16(b + pos, r->rec_index[k]);
            put16(b + pos + 2u, r->rec_len[k]);
            put16(b + pos + 4u, off);
            off = (uint16_t)(off + r->rec_len[k]);
            pos = (uint16_t)(pos + TRIPLET);
        }
    }
    b[off] = TC_REPORT_END0;
    b[off + 1u] = TC_REPORT_END1;
    r->failed = 1; /* a report is ended once */
    return (uint16_t)(off + END_LEN);
}

uint16_t tc_report_length(const uint8_t *p, uint16_t avail)
{
    uint32_t pos = HDR, expect;
    uint8_t n_desc, j, c, count;

    if (avail < TC_REPORT_MIN_SIZE || p[0] != TC_REPORT_MAGIC || (p[11] & (uint8_t)~TC_RF_KNOWN) != 0u) return 0;
    n_desc = p[12];
    /* First pass: the descriptor layer must lie inside avail; it ends where the data starts. */
    for (j = 0; j < n_desc; j++) {
        if (pos + DESC_HEAD > avail) return 0;
        count = p[pos + 1u];
        if (count == 0u) return 0;
        pos += DESC_HEAD + (uint32_t)TRIPLET * count;
    }
    if (pos > avail) return 0;
    /* Second pass: records must sit back to back in description order (the only layout written). */
    expect = pos;
    pos = HDR;
    for (j = 0; j < n_desc; j++) {
        count = p[pos + 1u];
        pos += DESC_HEAD;
        for (c = 0; c < count; c++, pos += TRIPLET) {
            if (get16(p + pos + 4u) != expect) return 0;
            expect += get16(p + pos + 2u);
        }
    }
    if (expect + END_LEN > avail || p[expect] != TC_REPORT_END0 || p[expect + 1u] != TC_REPORT_END1) return 0;
    return (uint16_t)(expect + END_LEN);
}

uint8_t tc_sched_due(const tc_sched_entry_t *table, uint8_t n_entries, uint32_t report_no, uint8_t *ids,
                     uint8_t max)
{
    uint32_t covered = 0;
    uint8_t i, n = 0;

    for (i = 0; i < n_entries && n < max; i++) {
        if (table[i].period == 0u || report_no % table[i].period != 0u) continue;
        if ((covered & table[i].leaves) != 0u) continue;
        covered |= table[i].leaves;
        ids[n++] = table[i].type_id;
    }
    return n;
}
