/* tinycodec link framing: device side. Reference (byte-identical): toolchain/link/frames.py.
 *
 * raw frame = type u8 | flags u8 | seq u16 LE | frag_index u8 | frag_count u8 | payload | CRC-16 LE
 * CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0) over header + payload.
 * On a byte stream each raw frame is COBS-encoded and followed by one 0x00. See docs/protocol.md.
 *
 * No malloc, no stdio; correct where int is 16 bits. */
#ifndef TC_FRAME_H
#define TC_FRAME_H

#include <stdint.h>

/* Largest raw frame (header + payload + CRC) this build sends or parses. Override with
 * -DTC_FRAME_MAX=n to size the parser's buffer to the board's RAM (and its link's MTU). */
#ifndef TC_FRAME_MAX
#define TC_FRAME_MAX 264u
#endif

#define TC_FRAME_HEADER 6u
#define TC_FRAME_OVERHEAD 8u /* header + CRC */
#define TC_FRAME_PAYLOAD_MAX (TC_FRAME_MAX - TC_FRAME_OVERHEAD)

#if TC_FRAME_MAX < 8 || TC_FRAME_MAX > 65000
#error "TC_FRAME_MAX must be in 8..65000 (lengths are 16-bit)"
#endif

/* Bytes COBS needs for n input bytes (no delimiter); tc_cobs_encode's out must hold this. */
#define TC_COBS_MAX(n) ((n) + (n) / 254u + 1u)
/* Largest input tc_cobs_encode takes: TC_COBS_MAX of it still fits in uint16_t. */
#define TC_COBS_IN_MAX 65000u
/* Bytes tc_frame_encode writes at most: COBS of the largest frame + the 0x00 delimiter. */
#define TC_FRAME_ENC_MAX (TC_COBS_MAX(TC_FRAME_MAX) + 1u)

#define TC_FLAG_MORE 0x01u /* more fragments of this message follow */
#define TC_FLAG_ACK 0x02u  /* the sender asks for an ACK */

/* Message types (MsgType in frames.py); the framing layer treats payloads as opaque. */
#define TC_MSG_IDENTIFY 1u
#define TC_MSG_CONFIG 2u
#define TC_MSG_SAMPLES 3u
#define TC_MSG_REPORT 4u
#define TC_MSG_BENCH 5u
#define TC_MSG_LOG 6u
#define TC_MSG_ERROR 7u
#define TC_MSG_ACK 8u
#define TC_MSG_COMMAND 9u

/* tc_frame_parser_feed results: 1 frame ready, 0 in progress, < 0 a frame rejected. */
#define TC_FRAME_OK 1
#define TC_FRAME_ERR_CRC (-1)
#define TC_FRAME_ERR_COBS (-2)    /* a COBS block cut short by the delimiter */
#define TC_FRAME_ERR_TOO_LONG (-3) /* more than TC_FRAME_MAX raw bytes; dropped up to the next 0x00 */
#define TC_FRAME_ERR_SHORT (-4)   /* under TC_FRAME_OVERHEAD raw bytes */
#define TC_FRAME_ERR_FIELDS (-5)  /* CRC fine but header fields inconsistent (frag_index/count, flags) */

typedef struct {
    uint8_t type;
    uint8_t flags;
    uint16_t seq;
    uint8_t frag_index;
    uint8_t frag_count;
    const uint8_t *payload; /* points into the parser's buffer: valid until the next feed */
    uint16_t len;
} tc_frame_t;

typedef struct {
    tc_frame_t frame; /* the last accepted frame */
    uint8_t buf[TC_FRAME_MAX]; /* decoded raw frame */
    uint16_t n;     /* bytes in buf */
    uint8_t code;   /* current COBS block's code byte */
    uint8_t left;   /* data bytes still due in the current block */
    uint8_t state;  /* internal: idle, in a frame, or dropping up to the next 0x00 */
} tc_frame_parser_t;

/* CRC-16/CCITT-FALSE of p[0..n), continuing from crc (start with 0xFFFF). */
uint16_t tc_crc16(const uint8_t *p, uint16_t n, uint16_t crc);

/* COBS-encodes in[0..n) into out (no delimiter); out must hold TC_COBS_MAX(n) bytes.
 * Returns the bytes written, 0 if n > TC_COBS_IN_MAX. */
uint16_t tc_cobs_encode(const uint8_t *in, uint16_t n, uint8_t *out);

/* Builds a frame and writes it as sent on a byte stream: COBS(raw frame) + 0x00.
 * Returns the bytes written, or 0 (nothing usable in out) if they do not fit in cap, if
 * len > TC_FRAME_PAYLOAD_MAX, or if the fields are inconsistent: frag_count 0,
 * frag_index >= frag_count, reserved flag bits, or TC_FLAG_MORE not set exactly when
 * frag_index < frag_count - 1. payload may be 0 when len is 0. cap >= TC_FRAME_ENC_MAX
 * always fits. */
uint16_t tc_frame_encode(uint8_t type, uint8_t flags, uint16_t seq, uint8_t frag_index, uint8_t frag_count,
                         const uint8_t *payload, uint16_t len, uint8_t *out, uint16_t cap);

void tc_frame_parser_init(tc_frame_parser_t *p);

/* Feeds one received byte. Returns TC_FRAME_OK when a complete, CRC-valid frame is in
 * p->frame, 0 while in progress (or idle), or a TC_FRAME_ERR_* when a frame was rejected.
 * After an error the parser resynchronizes at the next 0x00. Any byte sequence is safe. */
int tc_frame_parser_feed(tc_frame_parser_t *p, uint8_t byte);

#endif
