/* Startup for riscv-qemu: QEMU's reset vector jumps here (0x80000000) in
 * M-mode with -bios none. Set up gp, sp, tp, the FPU and a trap handler, zero
 * .tbss/.bss, run constructors, then exit(main()). */
    .section .text.tc_start, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack
    la      tp, __tls_base

    /* mstatus.FS = Initial: the F extension traps until enabled. */
    li      t0, (1 << 13)
    csrs    mstatus, t0
    csrw    fcsr, zero

    la      t0, tc_trap_entry
    csrw    mtvec, t0

    la      t0, __tc_zero_start
    la      t1, __tc_zero_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:
    call    __libc_init_array
    li      a0, 0
    li      a1, 0
    call    main
    call    exit        /* picolibc: atexit handlers, then _exit -> tc_hal_exit */
3:  j       3b

/* Any exception (bad address, illegal instruction, ...) lands here: report it
 * on the UART and stop QEMU with TC_HAL_EXIT_TRAP instead of looping forever.
 * A fresh stack at the top of RAM, in case sp is what went wrong. */
    .text
    .balign 4
tc_trap_entry:
    la      sp, __stack
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    call    tc_hal_trap
4:  j       4b
