/* nrf52840 HAL: the console on UARTE0 (0x40002000) with EasyDMA, polled, on the nRF52840-DK's
 * interface-MCU virtual COM port pins (TXD P0.06, RXD P0.08); the DWT cycle counter; the end
 * of a program parks the core.
 *
 * Clocks: nothing is reprogrammed. Out of reset the CPU runs at 64 MHz from HFINT (the
 * internal RC; HFXO is not started), which also clocks the UARTE's baud generator (HFINT's
 * +-1.5 % tolerance is fine for 115200 8N1). The flash instruction cache (NVMC ICACHECNF) is left
 * as reset leaves it (off). board.toml's hz (64 MHz) is this clock. */
#include <stdint.h>

#include "tc_hal.h"

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* nRF52840 PS v1.7, section 6.34 UARTE (registers). */
#define UARTE_BASE 0x40002000u
#define UARTE_TASKS_STARTRX REG32(UARTE_BASE + 0x000u)
#define UARTE_TASKS_STARTTX REG32(UARTE_BASE + 0x008u)
#define UARTE_EVENTS_ENDRX REG32(UARTE_BASE + 0x110u)
#define UARTE_EVENTS_ENDTX REG32(UARTE_BASE + 0x120u)
#define UARTE_ENABLE REG32(UARTE_BASE + 0x500u)
#define UARTE_PSEL_RTS REG32(UARTE_BASE + 0x508u)
#define UARTE_PSEL_TXD REG32(UARTE_BASE + 0x50Cu)
#define UARTE_PSEL_CTS REG32(UARTE_BASE + 0x510u)
#define UARTE_PSEL_RXD REG32(UARTE_BASE + 0x514u)
#define UARTE_BAUDRATE REG32(UARTE_BASE + 0x524u)
#define UARTE_RXD_PTR REG32(UARTE_BASE + 0x534u)
#define UARTE_RXD_MAXCNT REG32(UARTE_BASE + 0x538u)
#define UARTE_TXD_PTR REG32(UARTE_BASE + 0x544u)
#define UARTE_TXD_MAXCNT REG32(UARTE_BASE + 0x548u)
#define UARTE_CONFIG REG32(UARTE_BASE + 0x56Cu)
#define UARTE_ENABLE_ON 8u
#define UARTE_BAUD_115200 0x01D7E000u
#define PSEL_DISCONNECTED 0x80000000u
#define PIN_TXD 6u /* P0.06 */
#define PIN_RXD 8u /* P0.08 */

#define GPIO_P0_OUTSET REG32(0x50000508u)
#define GPIO_P0_PIN_CNF(n) REG32(0x50000700u + 4u * (n))

uint32_t tc_dwt_last, tc_dwt_high;

/* EasyDMA can only read and write RAM: one byte each way. */
static volatile uint8_t tx_byte, rx_byte;

static void rx_start(void)
{
    UARTE_EVENTS_ENDRX = 0u;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_byte;
    UARTE_RXD_MAXCNT = 1u;
    UARTE_TASKS_STARTRX = 1u;
}

void tc_hal_init(void)
{
    GPIO_P0_OUTSET = 1u << PIN_TXD;       /* idle high */
    GPIO_P0_PIN_CNF(PIN_TXD) = 1u;        /* output */
    GPIO_P0_PIN_CNF(PIN_RXD) = 0u;        /* input, buffer connected */
    UARTE_PSEL_TXD = PIN_TXD;
    UARTE_PSEL_RXD = PIN_RXD;
    UARTE_PSEL_RTS = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS = PSEL_DISCONNECTED;
    UARTE_BAUDRATE = UARTE_BAUD_115200;
    UARTE_CONFIG = 0u;                    /* 8N1, no flow control */
    UARTE_ENABLE = UARTE_ENABLE_ON;
    rx_start();
    tc_dwt_init();
}

void tc_hal_putc(char c)
{
    tx_byte = (uint8_t)c;
    UARTE_EVENTS_ENDTX = 0u;
    UARTE_TXD_PTR = (uint32_t)(uintptr_t)&tx_byte;
    UARTE_TXD_MAXCNT = 1u;
    UARTE_TASKS_STARTTX = 1u;
    while (!UARTE_EVENTS_ENDTX)
        ;
}

/* One byte per DMA transfer; the next one is started at once (the UARTE's RX FIFO holds the
 * bytes that arrive in between). */
int tc_hal_getc(void)
{
#ifdef TC_HAL_LINK /* the link application polls: -1 when no byte is waiting */
    if (!UARTE_EVENTS_ENDRX)
        return -1;
#else
    while (!UARTE_EVENTS_ENDRX)
        ;
#endif
    const int c = rx_byte;
    rx_start();
    return c;
}

/* No host to tell: interrupts off, the core sleeps (a debugger reads the exit marker on the
 * UART; reset or reflash to run again). */
__attribute__((noreturn)) void tc_hal_halt(int code)
{
    (void)code;
    __asm__ volatile("cpsid i" ::: "memory");
    for (;;)
        __asm__ volatile("wfi");
}
