/* stm32l4 HAL (STM32L476RG on a NUCLEO-L476RG): the console on USART2 (0x40004400), PA2 TX /
 * PA3 RX (AF7), which the board wires to the ST-LINK's virtual COM port; the DWT cycle counter;
 * the end of a program parks the core.
 *
 * Clocks: nothing is reprogrammed. Out of reset the STM32L476 runs from MSI at 4 MHz (range 6),
 * voltage range 1, flash 0 wait states; SYSCLK = HCLK = PCLK1 = 4 MHz, and USART2's kernel
 * clock is PCLK1 (RCC_CCIPR reset value). BRR = 4 MHz / 115200 = 35 (0.8 % error). The PLL is
 * not started: the core runs at 4 MHz, not the 80 MHz of board.toml's hz, which is the nominal
 * figure that time and energy are computed with (cycles / hz); cycle counts themselves do not
 * depend on the clock, except for flash wait states (0 here, 4 at 80 MHz) and the ART
 * accelerator, which change them. */
#include <stdint.h>

#include "tc_hal.h"

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* RM0351 (STM32L4x5/L4x6 reference manual): RCC 6.4, GPIO 8.5, USART 40.8. */
#define RCC_AHB2ENR REG32(0x4002104Cu)
#define RCC_APB1ENR1 REG32(0x40021058u)
#define RCC_AHB2ENR_GPIOAEN (1u << 0)
#define RCC_APB1ENR1_USART2EN (1u << 17)

#define GPIOA_MODER REG32(0x48000000u)
#define GPIOA_AFRL REG32(0x48000020u)

#define USART2_BASE 0x40004400u
#define USART_CR1 REG32(USART2_BASE + 0x00u)
#define USART_BRR REG32(USART2_BASE + 0x0Cu)
#define USART_ISR REG32(USART2_BASE + 0x1Cu)
#define USART_ICR REG32(USART2_BASE + 0x20u)
#define USART_RDR REG32(USART2_BASE + 0x24u)
#define USART_TDR REG32(USART2_BASE + 0x28u)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_ISR_ORE (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TXE (1u << 7)
#define USART_ICR_ORECF (1u << 3)

#define TC_STM32_PCLK1_HZ 4000000u /* MSI 4 MHz out of reset */

uint32_t tc_dwt_last, tc_dwt_high;

void tc_hal_init(void)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOAEN;
    RCC_APB1ENR1 |= RCC_APB1ENR1_USART2EN;
    (void)RCC_APB1ENR1; /* the clock enable takes effect before the first peripheral access */
    /* PA2, PA3: alternate function 7 (USART2_TX, USART2_RX). */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 4)) | (0xAu << 4);
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 8)) | (0x77u << 8);
    USART_CR1 = 0u;
    USART_BRR = (TC_STM32_PCLK1_HZ + TC_HAL_UART_BAUD / 2u) / TC_HAL_UART_BAUD;
    USART_CR1 = USART_CR1_TE | USART_CR1_RE | USART_CR1_UE; /* 8N1, oversampling by 16 */
    tc_dwt_init();
}

void tc_hal_putc(char c)
{
    while (!(USART_ISR & USART_ISR_TXE))
        ;
    USART_TDR = (uint8_t)c;
}

int tc_hal_getc(void)
{
    if (USART_ISR & USART_ISR_ORE)
        USART_ICR = USART_ICR_ORECF; /* an overrun stops reception until cleared */
#ifdef TC_HAL_LINK /* the link application polls: -1 when no byte is waiting */
    if (!(USART_ISR & USART_ISR_RXNE))
        return -1;
#else
    while (!(USART_ISR & USART_ISR_RXNE))
        ;
#endif
    return (int)(USART_RDR & 0xFFu);
}

/* No host to tell: interrupts off, the core sleeps. */
__attribute__((noreturn)) void tc_hal_halt(int code)
{
    (void)code;
    __asm__ volatile("cpsid i" ::: "memory");
    for (;;)
        __asm__ volatile("wfi");
}
