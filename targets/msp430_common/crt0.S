/* Startup for every MSP430 board: no libc, no interrupts.
 * Symbols come from link.ld.in (__stack, __data_*, __bss_*,
 * __stack_paint_start) and from
 * msp430mcu's periph.x (__WDTCTL, whose address differs per chip). */

    .section .init,"ax",@progbits
    .global __tc_reset
    .type   __tc_reset,@function
__tc_reset:
    /* The watchdog is on after reset and would bite after ~32 ms at 1 MHz,
       long before a model finishes. 0x5A80 = WDTPW | WDTHOLD. */
    mov.w   #0x5a80, &__WDTCTL
    mov.w   #__stack, r1

    /* Copy .data from its load address in flash; the linker script keeps
       both ends word aligned, so a word loop suffices. */
    mov.w   #__data_load_start, r12
    mov.w   #__data_start, r13
1:  cmp.w   #__data_end, r13
    jhs     2f
    mov.w   @r12+, r14
    mov.w   r14, 0(r13)
    incd.w  r13
    jmp     1b

    /* Zero .bss (.noinit is left alone on purpose). */
2:  mov.w   #__bss_start, r13
3:  cmp.w   #__bss_end, r13
    jhs     4f
    clr.w   0(r13)
    incd.w  r13
    jmp     3b

    /* Paint the free RAM [__stack_paint_start, __stack) with 0xA5A5 so the
       simulator can find the deepest stack word ever written (families/msp430/sim.py
       reads it back after a batch). Nothing has been pushed yet: SP is still
       __stack and this code uses registers only, so no live byte is painted.
       Both ends are word aligned (link.ld.in). */
    .global __tc_stack_paint
__tc_stack_paint:
4:  mov.w   #__stack_paint_start, r13
    mov.w   #0xa5a5, r14
5:  cmp.w   r1, r13
    jhs     6f
    mov.w   r14, 0(r13)
    incd.w  r13
    jmp     5b

    /* The first push ever: the return address lands at __stack - 2. */
6:  call    #main
    /* main should never return; if it does, park here. */
7:  jmp     7b
    .size   __tc_reset, .-__tc_reset

    /* Every unused vector points here: an unexpected interrupt hangs
       visibly instead of jumping to erased flash. */
    .global __tc_default_isr
    .type   __tc_default_isr,@function
__tc_default_isr:
    jmp     __tc_default_isr
    .size   __tc_default_isr, .-__tc_default_isr

    .section .resetvec,"a",@progbits
    .word   __tc_reset
