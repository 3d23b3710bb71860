/* Test driver for firmware_templates/link/tc_frame.c: one command per line on stdin, the
 * answer on stdout followed by a line ".". Used by tests/test_link_frames.py to check the C
 * framing byte for byte against toolchain/link/frames.py. Hex is lower or upper case;
 * "-" stands for no bytes.
 *
 *   K <hex>                                  -> CRC-16 of the bytes, 4 hex digits
 *   C <hex>                                  -> tc_cobs_encode of the bytes, hex
 *   E <type> <flags> <seq> <fi> <fc> <cap> <hex>  -> tc_frame_encode output, hex ("-" if 0)
 *   R                                        -> re-initializes the parser
 *   F <hex>                                  -> feeds the bytes to the parser; per event one line:
 *        f <type> <flags> <seq> <fi> <fc> <hex payload>   an accepted frame
 *        e <code>                                         a rejected frame
 */
#include <stdio.h>
#include <stdlib.h>

#include "tc_frame.h"

#define BUF_MAX 70000u

static uint8_t in_buf[BUF_MAX];
static uint8_t out_buf[BUF_MAX];
static tc_frame_parser_t parser;

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void die(const char *why)
{
    fprintf(stderr, "tc_frame_driver: %s\n", why);
    exit(2);
}

static int skip_spaces(void)
{
    int c = getchar();
    while (c == ' ' || c == '\t') c = getchar();
    return c;
}

static long read_number(void)
{
    long v = 0;
    int c = skip_spaces(), any = 0;
    while (c >= '0' && c <= '9') {
        v = v * 10 + (c - '0');
        any = 1;
        c = getchar();
    }
    if (!any) die("expected a number");
    if (c != ' ' && c != '\t') die("expected a space after a number");
    return v;
}

/* Reads a hex token up to the end of the line; calls sink for each byte. Returns count. */
static unsigned long read_hex(void (*sink)(uint8_t))
{
    unsigned long n = 0;
    int c = skip_spaces();
    if (c == '-') {
        c = getchar();
    } else {
        while (c != '\n' && c != EOF) {
            int hi = hexval(c), lo = hexval(getchar());
            if (hi < 0 || lo < 0) die("bad hex");
            sink((uint8_t)(hi * 16 + lo));
            n++;
            c = getchar();
        }
    }
    while (c == ' ' || c == '\t' || c == '\r') c = getchar();
    if (c != '\n' && c != EOF) die("trailing characters");
    return n;
}

static unsigned long in_len;

static void to_buf(uint8_t b)
{
    if (in_len >= BUF_MAX) die("hex too long");
    in_buf[in_len++] = b;
}

static void print_hex(const uint8_t *p, unsigned long n)
{
    unsigned long i;
    if (n == 0) fputs("-", stdout);
    for (i = 0; i < n; i++) printf("%02x", p[i]);
    putchar('\n');
}

static void feed(uint8_t b)
{
    int r = tc_frame_parser_feed(&parser, b);
    if (r == TC_FRAME_OK) {
        const tc_frame_t *f = &parser.frame;
        printf("f %u %u %u %u %u ", (unsigned)f->type, (unsigned)f->flags, (unsigned)f->seq,
               (unsigned)f->frag_index, (unsigned)f->frag_count);
        print_hex(f->payload, f->len);
    } else if (r < 0) {
        printf("e %d\n", r);
    }
}

int main(void)
{
    int c;
    tc_frame_parser_init(&parser);
    while ((c = skip_spaces()) != EOF) {
        if (c == '\n') continue;
        in_len = 0;
        switch (c) {
        case 'K':
            read_hex(to_buf);
            printf("%04x\n", (unsigned)tc_crc16(in_buf, (uint16_t)in_len, 0xFFFFu));
            break;
        case 'C': {
            uint16_t n;
            read_hex(to_buf);
            if (in_len > TC_COBS_IN_MAX) die("C: input too long");
            n = tc_cobs_encode(in_buf, (uint16_t)in_len, out_buf);
            print_hex(out_buf, n);
            break;
        }
        case 'E': {
            long type = read_number(), flags = read_number(), seq = read_number();
            long fi = read_number(), fc = read_number(), cap = read_number();
            uint16_t n;
            read_hex(to_buf);
            if (cap > (long)BUF_MAX || cap > 65535L || in_len > 65535u) die("E: cap or payload too large");
            n = tc_frame_encode((uint8_t)type, (uint8_t)flags, (uint16_t)seq, (uint8_t)fi, (uint8_t)fc,
                                in_len ? in_buf : NULL, (uint16_t)in_len, out_buf, (uint16_t)cap);
            print_hex(out_buf, n);
            break;
        }
        case 'R':
            read_hex(to_buf);
            tc_frame_parser_init(&parser);
            break;
        case 'F':
            read_hex(feed);
            break;
        default:
            die("unknown command");
        }
        puts(".");
        fflush(stdout);
    }
    return 0;
}
