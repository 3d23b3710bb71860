/* Layered diagnostic reports: the device-side builder and schedule-table walker.
 * Reference: toolchain/link/reports.py (format), toolchain/link/scheduler.py (table).
 * Format: docs/reports.md. No malloc, no stdio, no libc; correct with 16-bit int.
 *
 * Building one report:
 *     tc_report_t rb;
 *     tc_report_begin(&rb, buf, sizeof buf, DEVICE_ID, SESSION_ID, seq);
 *     tc_report_add(&rb, TYPE_QRS, beat_no, qrs_bytes, 16);   (records of one type in a row
 *     tc_report_add(&rb, TYPE_QRS, beat_no + 1, ..., 16);      share one descriptor)
 *     len = tc_report_end(&rb, interval_ms, flags);           (0: it did not fit)
 *
 * Following a schedule table emitted by toolchain.link.scheduler.schedule_c_table():
 *     n = tc_sched_due(tc_sched_table, TC_SCHED_ENTRIES, report_no, ids, sizeof ids);
 *     then add one record of each ids[0..n-1], in that order, and end the report with
 *     interval TC_SCHED_INTERVAL_MS; report_no counts modulo TC_SCHED_PERIOD.
 */
#ifndef TC_REPORT_H
#define TC_REPORT_H

#include <stdint.h>

#define TC_REPORT_MAGIC 0xA1u
#define TC_REPORT_BATCH_MAGIC 0xB1u
#define TC_REPORT_HEADER_SIZE 13u
#define TC_REPORT_BATCH_HEADER_SIZE 3u
#define TC_REPORT_END0 0xEEu
#define TC_REPORT_END1 0x0Du
#define TC_REPORT_MIN_SIZE 15u /* header + end mark: an empty report */

/* Header flags. */
#define TC_RF_EVENT 0x01u   /* a pathological finding is in this report */
#define TC_RF_BUTTON 0x02u  /* the patient's button was pressed */
#define TC_RF_ADAPTED 0x04u /* first report after a software adaptation */
#define TC_RF_KNOWN 0x07u

/* Records and descriptors one report may hold (RAM: 4 B per record, 2 B per descriptor). */
#ifndef TC_REPORT_MAX_RECORDS
#define TC_REPORT_MAX_RECORDS 32
#endif
#ifndef TC_REPORT_MAX_DESC
#define TC_REPORT_MAX_DESC 16
#endif
#if TC_REPORT_MAX_DESC > 255
#error "TC_REPORT_MAX_DESC: n_desc is one byte"
#endif

typedef struct {
    uint8_t *buf;
    uint16_t cap;
    uint16_t device_id;
    uint16_t session_id;
    uint16_t seq;
    uint16_t data_len;   /* data bytes so far, staged at buf + TC_REPORT_HEADER_SIZE */
    uint16_t desc_bytes; /* size of the descriptor layer so far */
    uint16_t n_rec;
    uint8_t n_desc;
    uint8_t failed;      /* sticky: a record did not fit; tc_report_end returns 0 */
    uint8_t desc_type[TC_REPORT_MAX_DESC];
    uint8_t desc_count[TC_REPORT_MAX_DESC];
    uint16_t rec_index[TC_REPORT_MAX_RECORDS];
    uint16_t rec_len[TC_REPORT_MAX_RECORDS];
} tc_report_t;

/* Starts a report in buf[0..cap). */
void tc_report_begin(tc_report_t *r, uint8_t *buf, uint16_t cap, uint16_t device_id, uint16_t session_id,
                     uint16_t seq);

/* Appends one record (len bytes) of type_id with its index. Returns 1, or 0 when the finished report
 * would not fit in cap (or the record/descriptor tables are full); after a 0 the report is lost. */
uint8_t tc_report_add(tc_report_t *r, uint8_t type_id, uint16_t index, const uint8_t *data, uint16_t len);

/* Lays out header, descriptors, data and end mark. Returns the report's length, or 0 when it did not
 * fit or flags sets reserved bits. */
uint16_t tc_report_end(tc_report_t *r, uint32_t interval_ms, uint8_t flags);

/* Length of the well-formed report at p (at most avail bytes), or 0 if it is malformed or cut short.
 * Checks the structure only (magic, flags, counts, offsets, end mark), not the session's types. */
uint16_t tc_report_length(const uint8_t *p, uint16_t avail);

/* One row of a schedule table: type_id is due in report n when n % period == 0, unless one of its
 * leaf parameters (bit i of leaves: the session's i-th leaf) is already carried by an earlier row. */
typedef struct {
    uint8_t type_id;
    uint16_t period; /* in reports */
    uint32_t leaves;
} tc_sched_entry_t;

/* The type ids to put in report report_no, in order. Returns how many (at most max). */
uint8_t tc_sched_due(const tc_sched_entry_t *table, uint8_t n_entries, uint32_t report_no, uint8_t *ids,
                     uint8_t max);

#endif
