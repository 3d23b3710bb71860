/* 64-bit EABI helpers that clang-16 calls with the "special" convention
 * (CallingConv::MSP430_BUILTIN): first operand in R8:R11, second in R12:R15,
 * result in R12:R15 (low word first). Each trampoline spills both operands to
 * the stack and calls a C worker in runtime.c as worker(uint64_t v[2]), which
 * leaves the result in v[0]. R4-R11 come back unchanged: the workers preserve
 * R4-R10 by the normal convention and R11 is saved here.
 *
 * Written out five times rather than with .macro: the cycle probe
 * (families/msp430/build.py) maps each instruction to its own source line. */

    .section .text.__mspabi_mpyll,"ax",@progbits
    .global __mspabi_mpyll
    .type   __mspabi_mpyll,@function
__mspabi_mpyll:
    push    r11
    push    r15
    push    r14
    push    r13
    push    r12
    push    r11
    push    r10
    push    r9
    push    r8
    mov     r1, r12
    call    #__tc_mpyll
    pop     r12
    pop     r13
    pop     r14
    pop     r15
    add     #8, r1
    pop     r11
    ret
    .size   __mspabi_mpyll, .-__mspabi_mpyll

    .section .text.__mspabi_divlli,"ax",@progbits
    .global __mspabi_divlli
    .type   __mspabi_divlli,@function
__mspabi_divlli:
    push    r11
    push    r15
    push    r14
    push    r13
    push    r12
    push    r11
    push    r10
    push    r9
    push    r8
    mov     r1, r12
    call    #__tc_divlli
    pop     r12
    pop     r13
    pop     r14
    pop     r15
    add     #8, r1
    pop     r11
    ret
    .size   __mspabi_divlli, .-__mspabi_divlli

    .section .text.__mspabi_divull,"ax",@progbits
    .global __mspabi_divull
    .type   __mspabi_divull,@function
__mspabi_divull:
    push    r11
    push    r15
    push    r14
    push    r13
    push    r12
    push    r11
    push    r10
    push    r9
    push    r8
    mov     r1, r12
    call    #__tc_divull
    pop     r12
    pop     r13
    pop     r14
    pop     r15
    add     #8, r1
    pop     r11
    ret
    .size   __mspabi_divull, .-__mspabi_divull

    .section .text.__mspabi_remlli,"ax",@progbits
    .global __mspabi_remlli
    .type   __mspabi_remlli,@function
__mspabi_remlli:
    push    r11
    push    r15
    push    r14
    push    r13
    push    r12
    push    r11
    push    r10
    push    r9
    push    r8
    mov     r1, r12
    call    #__tc_remlli
    pop     r12
    pop     r13
    pop     r14
    pop     r15
    add     #8, r1
    pop     r11
    ret
    .size   __mspabi_remlli, .-__mspabi_remlli

    .section .text.__mspabi_remull,"ax",@progbits
    .global __mspabi_remull
    .type   __mspabi_remull,@function
__mspabi_remull:
    push    r11
    push    r15
    push    r14
    push    r13
    push    r12
    push    r11
    push    r10
    push    r9
    push    r8
    mov     r1, r12
    call    #__tc_remull
    pop     r12
    pop     r13
    pop     r14
    pop     r15
    add     #8, r1
    pop     r11
    ret
    .size   __mspabi_remull, .-__mspabi_remull
