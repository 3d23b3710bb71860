/* K210 HAL: the console on UARTHS (0x38000000, the high-speed UART wired to the USB-serial
 * bridge on IO4/IO5 of Sipeed and Kendryte boards, the port kflash uses), and a parked hart
 * at exit. Register layout: kendryte-standalone-sdk lib/drivers/include/uarths.h; clock
 * tree: lib/drivers/sysctl.c (sysctl_clock_get_freq for SYSCTL_CLOCK_CPU).
 *
 * The boot ROM routes IO4/IO5 to UARTHS; this HAL does not reprogram the PLLs, so it reads
 * the CPU clock the ROM left (IN0 = 26 MHz through PLL0 and the ACLK divider) and sets the
 * UARTHS divisor for TC_HAL_UART_BAUD from it. */
#include <stdint.h>

#include "tc_hal.h"

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define UARTHS_BASE 0x38000000u
#define UARTHS_TXDATA REG32(UARTHS_BASE + 0x00u) /* bit 31: FIFO full */
#define UARTHS_RXDATA REG32(UARTHS_BASE + 0x04u) /* bit 31: FIFO empty, bits 7..0: data */
#define UARTHS_TXCTRL REG32(UARTHS_BASE + 0x08u) /* bit 0: txen, bit 1: two stop bits */
#define UARTHS_RXCTRL REG32(UARTHS_BASE + 0x0Cu) /* bit 0: rxen */
#define UARTHS_IE REG32(UARTHS_BASE + 0x10u)
#define UARTHS_DIV REG32(UARTHS_BASE + 0x18u) /* baud = f_cpu / (div + 1) */
#define UARTHS_FLAG (1u << 31)

#define SYSCTL_BASE 0x50440000u
#define SYSCTL_PLL0 REG32(SYSCTL_BASE + 0x08u)     /* clkr0 [3:0], clkf0 [9:4], clkod0 [13:10] */
#define SYSCTL_CLK_SEL0 REG32(SYSCTL_BASE + 0x20u) /* aclk_sel [0], aclk_divider_sel [2:1] */
#define K210_IN0_HZ 26000000u

/* The CPU clock now: IN0 when ACLK is not on PLL0, else PLL0 / (2 << aclk_divider_sel). */
static uint32_t cpu_hz(void)
{
    uint32_t sel = SYSCTL_CLK_SEL0;
    if (!(sel & 1u))
        return K210_IN0_HZ;
    uint32_t pll = SYSCTL_PLL0;
    uint64_t nr = (pll & 0xFu) + 1u, nf = ((pll >> 4) & 0x3Fu) + 1u, od = ((pll >> 10) & 0xFu) + 1u;
    uint64_t pll0 = (uint64_t)K210_IN0_HZ * nf / (nr * od);
    return (uint32_t)(pll0 / (2u << ((sel >> 1) & 3u)));
}

void tc_hal_init(void)
{
    UARTHS_DIV = cpu_hz() / TC_HAL_UART_BAUD - 1u;
    UARTHS_IE = 0u;
    UARTHS_TXCTRL = 1u; /* enabled, one stop bit */
    UARTHS_RXCTRL = 1u;
}

void tc_hal_putc(char c)
{
    while (UARTHS_TXDATA & UARTHS_FLAG)
        ;
    UARTHS_TXDATA = (uint8_t)c;
}

int tc_hal_getc(void)
{
    for (;;) {
        uint32_t v = UARTHS_RXDATA; /* each read pops the FIFO: read once per try */
        if (!(v & UARTHS_FLAG))
            return (int)(v & 0xFFu);
    }
}

/* The K210 has nothing to exit to: sleep. The UART goes on sending what is in its FIFO. */
__attribute__((noreturn)) void tc_hal_halt(int code)
{
    (void)code;
    __asm__ volatile("csrw mie, zero");
    for (;;)
        __asm__ volatile("wfi");
}
