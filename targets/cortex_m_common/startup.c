/* Startup for every Cortex-M4F board (the QEMU twin cortex-m-qemu, nrf52840, stm32l4): one
 * file for all of them, linked with ../cortex_m_common/link.ld.
 *
 * The vector table (section .vectors, first in .text at the flash origin, where VTOR points
 * out of reset on all three) holds the initial MSP (__stack, the top of RAM) and
 * Reset_Handler. Reset_Handler: interrupts masked (the program polls), SP set again (a debugger
 * or bootloader may enter here with another), the FPU enabled (CPACR CP10/CP11 full access, then
 * DSB/ISB, before any code that might use s0..s31), .data (and picolibc's .tdata, errno) copied
 * from its load address in flash, .bss/.tbss zeroed, picolibc's thread pointer set, the board
 * HAL (tc_hal_init: UART, counter), C constructors, then exit(main()).
 *
 * Every fault and unexpected exception (HardFault, MemManage, BusFault, UsageFault, NMI, SVC,
 * PendSV, SysTick, any IRQ) goes to one handler that prints
 *   tc_hal: fault exc=<n> pc=0x........ lr=0x........ xpsr=0x........ cfsr=0x........ hfsr=0x........ mmfar=0x........ bfar=0x........
 * (exc = IPSR: 2 NMI, 3 HardFault, 4 MemManage, 5 BusFault, 6 UsageFault, 11 SVC, 14 PendSV,
 * 15 SysTick, 16+n IRQ n; pc/lr/xpsr from the stacked exception frame) and exits with
 * TC_HAL_EXIT_TRAP. MemManage/BusFault/UsageFault are not enabled separately (SHCSR), so they
 * escalate to HardFault (exc=3, hfsr FORCED bit 30) and cfsr says which. */
#include <stdint.h>

#include "tc_hal_cm.h"

extern uint32_t __stack[];                 /* link.ld: top of RAM */
extern uint32_t __tc_data_start[], __tc_data_end[], __tc_data_load[];
extern uint32_t __tc_zero_start[], __tc_zero_end[];
extern uint8_t __tls_base[];

extern void __libc_init_array(void);       /* picolibc: .preinit_array, .init_array */
extern void _set_tls(void *tls);           /* picolibc (arm): the thread pointer for errno */
extern void exit(int code) __attribute__((noreturn));
extern int main(void);

void tc_hal_put_str(const char *s);        /* tc_hal_cm.c */
void tc_hal_put_hex32(uint32_t v);

void Reset_Handler(void) __attribute__((noreturn, naked));
void tc_fault_entry(void) __attribute__((naked));
void tc_fault_report(const uint32_t *frame, uint32_t exc) __attribute__((noreturn, used));
__attribute__((noreturn, used)) void tc_reset_c(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_CFSR  (*(volatile uint32_t *)0xE000ED28u)
#define SCB_HFSR  (*(volatile uint32_t *)0xE000ED2Cu)
#define SCB_MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define SCB_BFAR  (*(volatile uint32_t *)0xE000ED38u)

/* 16 system exceptions + 96 interrupts (the STM32L476 has 82, the nRF52840 48, the MPS2
 * AN386 32); none is enabled, any that fires is reported as a fault. */
#define TC_VECTORS (16 + 96)

typedef void (*tc_vector)(void);
__attribute__((section(".vectors"), used)) const tc_vector tc_vector_table[TC_VECTORS] = {
    [0] = (tc_vector)(uintptr_t)__stack,
    [1] = Reset_Handler,
    [2 ... TC_VECTORS - 1] = tc_fault_entry,
};

void Reset_Handler(void)
{
    __asm__ volatile(
        "cpsid i\n\t"
        "ldr r0, =__stack\n\t"
        "msr msp, r0\n\t"
        "mov sp, r0\n\t"
        /* CPACR: CP10 and CP11 full access (bits 20..23). */
        "ldr r0, =0xE000ED88\n\t"
        "ldr r1, [r0]\n\t"
        "orr r1, r1, #0x00F00000\n\t"
        "str r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
        "b tc_reset_c\n\t"
        ".ltorg\n\t");
}

/* No floating point in here (the compiler must not spill to s-registers before CPACR is set,
 * which is why the enable is in Reset_Handler's assembly). */
void tc_reset_c(void)
{
    uint32_t *src = __tc_data_load;
    for (uint32_t *dst = __tc_data_start; dst < __tc_data_end;)
        *dst++ = *src++;
    for (uint32_t *dst = __tc_zero_start; dst < __tc_zero_end;)
        *dst++ = 0u;
    _set_tls(__tls_base);
    tc_hal_init();
    __libc_init_array();
    exit(main());
}

/* The exception frame is on the stack the faulting code used (EXC_RETURN bit 2: PSP/MSP; this
 * program only uses MSP). A fresh stack at the top of RAM for the report, in case SP is what
 * went wrong: pc/lr/xpsr are read from the frame first. */
void tc_fault_entry(void)
{
    __asm__ volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mrs r1, ipsr\n\t"
        "ldr r2, [r0, #20]\n\t"   /* stacked lr */
        "ldr r3, [r0, #24]\n\t"   /* stacked pc */
        "ldr r12, [r0, #28]\n\t"  /* stacked xpsr */
        "ldr r0, =__stack\n\t"
        "sub r0, r0, #16\n\t"
        "mov sp, r0\n\t"
        "str r2, [sp, #0]\n\t"
        "str r3, [sp, #4]\n\t"
        "str r12, [sp, #8]\n\t"
        "mov r0, sp\n\t"
        "b tc_fault_report\n\t"
        ".ltorg\n\t");
}

/* frame[0] = lr, frame[1] = pc, frame[2] = xpsr (copied by tc_fault_entry). The line's format
 * is what the Cortex-M family's explain_trap parses. */
void tc_fault_report(const uint32_t *frame, uint32_t exc)
{
    const uint32_t lr = frame[0], pc = frame[1], xpsr = frame[2];
    tc_hal_put_str("\ntc_hal: fault exc=");
    char d[4] = {0};
    uint32_t e = exc & 0x1FFu;
    int n = 0;
    do {
        d[n++] = (char)('0' + e % 10u);
        e /= 10u;
    } while (e && n < 3);
    while (n)
        tc_hal_putc(d[--n]);
    tc_hal_put_str(" pc=");
    tc_hal_put_hex32(pc);
    tc_hal_put_str(" lr=");
    tc_hal_put_hex32(lr);
    tc_hal_put_str(" xpsr=");
    tc_hal_put_hex32(xpsr);
    tc_hal_put_str(" cfsr=");
    tc_hal_put_hex32(SCB_CFSR);
    tc_hal_put_str(" hfsr=");
    tc_hal_put_hex32(SCB_HFSR);
    tc_hal_put_str(" mmfar=");
    tc_hal_put_hex32(SCB_MMFAR);
    tc_hal_put_str(" bfar=");
    tc_hal_put_hex32(SCB_BFAR);
    tc_hal_put_str("\n");
    tc_hal_exit(TC_HAL_EXIT_TRAP);
}
