/* tinycodec link application: the board side of docs/protocol.md ("Application").
 *
 * Samples come in (SAMPLES messages replaying a recording), every TC_N of them are
 * encoded with the codec, windows are packed into reports (docs/reports.md, record
 * type TC_APP_TYPE_WINDOW) and sent in immediate or delayed mode through the
 * reporter; COMMAND messages run the benchmark and drive the reporter's events. */
#ifndef TC_APP_H
#define TC_APP_H

#include <stdint.h>

#define TC_APP_PROTO 1u
#define TC_APP_TYPE_WINDOW 1u /* report record: u16 nbits, u8 imputed, u8 config generation, ceil(nbits/8) bytes */
#define TC_APP_CONFIG_CODEC 0x01u /* first byte of a host CONFIG that sets the codec session */

#ifndef TC_APP_MAX_PER_REPORT
#define TC_APP_MAX_PER_REPORT 8u
#endif
#ifndef TC_APP_BATCH_MAX
#define TC_APP_BATCH_MAX 4096u /* delayed mode buffer (the paper's 32 kB does not fit an MCU) */
#endif
#ifndef TC_APP_BENCH_MAX
#define TC_APP_BENCH_MAX 10000u /* largest "bench N" */
#endif
#ifndef TC_APP_MTU
#define TC_APP_MTU 0u /* link MTU in raw frame bytes; 0: a byte stream, fragments of TC_FRAME_MAX */
#endif

/* Feed one received byte; sends whatever the byte completes. */
void tc_app_init(void);
void tc_app_rx(uint8_t byte);
void tc_app_idle(void); /* call when no byte is pending: the reporter's age limit */

#endif
