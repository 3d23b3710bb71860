/* cortex-m-qemu HAL: QEMU's mps2-an386 (Cortex-M4F): the console on CMSDK APB UART0
 * (0x40004000, QEMU's first -serial), the exit through ARM semihosting (QEMU's
 * -semihosting-config enable=on,target=native: SYS_EXIT_EXTENDED ends QEMU with the code),
 * and the exact instruction counter's timers (tc_hal.h). */
#include <stdint.h>

#include "tc_hal.h"

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* CMSDK APB UART (ARM DDI 0479, Cortex-M System Design Kit TRM, 4.3). */
#define UART_BASE 0x40004000u
#define UART_DATA REG32(UART_BASE + 0x00u)
#define UART_STATE REG32(UART_BASE + 0x04u) /* bit 0 TX buffer full, bit 1 RX buffer full */
#define UART_CTRL REG32(UART_BASE + 0x08u)  /* bit 0 TX enable, bit 1 RX enable */
#define UART_BAUDDIV REG32(UART_BASE + 0x10u)
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u

#define TC_MPS2_PCLK_HZ 25000000u

void tc_hal_init(void)
{
    UART_BAUDDIV = TC_MPS2_PCLK_HZ / TC_HAL_UART_BAUD; /* 217; QEMU only checks that it is >= 16 */
    UART_CTRL = 0x3u;                                  /* TX and RX on, no interrupts */
    tc_qemu_counter_init();
}

void tc_hal_putc(char c)
{
    while (UART_STATE & UART_STATE_TXFULL)
        ;
    UART_DATA = (uint8_t)c;
}

int tc_hal_getc(void)
{
#ifdef TC_HAL_LINK /* the link application polls: -1 when no byte is waiting */
    if (!(UART_STATE & UART_STATE_RXFULL))
        return -1;
#else
    while (!(UART_STATE & UART_STATE_RXFULL))
        ;
#endif
    return (int)(UART_DATA & 0xFFu);
}

/* ARM semihosting (ARM IHI 0087): bkpt 0xAB, operation in r0, parameter in r1. */
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_Stopped_ApplicationExit 0x20026u

__attribute__((noreturn)) void tc_hal_halt(int code)
{
    /* SYS_EXIT_EXTENDED's block: the reason, then the exit status QEMU exits with. */
    static volatile uint32_t block[2];
    block[0] = ADP_Stopped_ApplicationExit;
    block[1] = (code >= 0 && code < 256) ? (uint32_t)code : 255u;
    register uint32_t r0 __asm__("r0") = SYS_EXIT_EXTENDED;
    register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) /* only without semihosting (QEMU run without -semihosting-config) */
        __asm__ volatile("wfi");
}

/* The exact instruction counter (see tc_hal.h). MPS2 FPGAIO (AN386 application note, FPGA
 * system control registers): CLK100HZ at +0x14, COUNTER at +0x18, both on the 25 MHz clock. */
#define FPGAIO_CLK100HZ REG32(0x40028014u)
#define FPGAIO_COUNTER REG32(0x40028018u)
#define TICKS_PER_100HZ (TC_MPS2_PCLK_HZ / 100u) /* 250000 */

__attribute__((noinline)) uint64_t tc_qemu_ticks(void)
{
    const uint32_t fine = FPGAIO_COUNTER; /* the instant measured */
    const uint32_t coarse = FPGAIO_CLK100HZ;
    /* k = round((coarse * 250000 - fine) / 2^32), branch-free 64-bit arithmetic. */
    const uint64_t approx = (uint64_t)coarse * TICKS_PER_100HZ;
    const uint64_t high = (approx - fine + 0x80000000u) >> 32;
    return (high << 32) | fine;
}

/* The tick count at tc_hal_init: the counter counts instructions from there. Converting
 * differences of ticks (not absolute ticks) makes the rounding exact whatever the phase of
 * QEMU's virtual clock at reset (it does not start on a multiple of 256 ns). */
uint64_t tc_qemu_ticks_ref; /* read by tc_hal_counter's assembly */

void tc_qemu_counter_init(void)
{
    tc_qemu_ticks_ref = tc_qemu_ticks();
}

#if TC_QEMU_ICOUNT_SHIFT != 8
#error "tc_hal_counter's conversion is for -icount shift=8 (6.4 ticks of 40 ns per instruction)"
#endif


/* In assembly so that its cost is fixed whatever the compiler does: from the COUNTER load of
 * one call to that of the next, back to back, 24 instructions (TC_HAL_COUNTER_OVERHEAD) plus
 * what the caller puts between the calls (moving the first result away). r0-r3 only. */
__attribute__((naked, noinline)) uint64_t tc_hal_counter(void)
{
    __asm__ volatile(
        "ldr r3, =0x40028000\n\t"
        "ldr r2, [r3, #24]\n\t"          /* COUNTER: the instant measured */
        "ldr r3, [r3, #20]\n\t"          /* CLK100HZ */
        "ldr r1, =250000\n\t"
        "umull r3, r1, r3, r1\n\t"       /* r1:r3 = CLK100HZ * 250000 */
        "subs r3, r3, r2\n\t"
        "sbc r1, r1, #0\n\t"
        "adds r3, r3, #0x80000000\n\t"
        "adc r1, r1, #0\n\t"             /* r1 = high word of the 64-bit tick count */
        "ldr r3, =tc_qemu_ticks_ref\n\t"
        "ldrd r0, r3, [r3]\n\t"
        "subs r0, r2, r0\n\t"
        "sbc r1, r1, r3\n\t"             /* r1:r0 = ticks since tc_hal_init */
        "lsl r3, r1, #2\n\t"
        "orr r3, r3, r0, lsr #30\n\t"
        "adds r0, r0, r0, lsl #2\n\t"
        "adc r1, r1, r3\n\t"             /* * 5 */
        "adds r0, r0, #16\n\t"
        "adc r1, r1, #0\n\t"             /* + 16 */
        "lsrs r0, r0, #5\n\t"
        "orr r0, r0, r1, lsl #27\n\t"
        "lsrs r1, r1, #5\n\t"            /* >> 5 */
        "bx lr\n\t"
        ".ltorg\n\t");
}
