/* Startup for the Kendryte K210 and its emulated twin k210-qemu (one file for both).
 *
 * On the K210 the boot ROM copies the image from SPI flash to SRAM at 0x80000000 and starts
 * both harts there; QEMU's virt machine (-bios none) starts every hart at the ELF entry too.
 * Only hart 0 runs the program: any other hart parks in a wfi loop before touching memory
 * (no stack, no .bss), so `-smp 2` behaves exactly like one hart.
 *
 * Hart 0: gp, sp (top of SRAM), tp (picolibc's TLS block: errno), the FPU (mstatus.FS),
 * a trap handler that reports and stops, zeroed .tbss/.bss, the board HAL (UART), C
 * constructors, then exit(main()). */
    .section .text.tc_start, "ax"
    .globl _start
_start:
    csrr    t0, mhartid
    bnez    t0, tc_park_hart

    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, __stack
    la      tp, __tls_base

    /* No interrupts: the program polls the UART and reads counters. */
    csrw    mie, zero

    /* mstatus.FS = Initial (01): F/D instructions trap until the FPU is enabled. */
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
    call    tc_hal_init
    call    __libc_init_array
    li      a0, 0
    li      a1, 0
    call    main
    call    exit        /* picolibc: atexit handlers, then _exit -> tc_hal_exit */
3:  j       3b

/* Harts other than 0: interrupts off, any trap comes back here, sleep forever. Uses no
 * memory and no registers that hart 0 could see. */
    .balign 4
tc_park_hart:
    csrw    mie, zero
    la      t0, tc_park_hart
    csrw    mtvec, t0
4:  wfi
    j       4b

/* Any exception on hart 0 (bad address, illegal instruction, ...): report it on the UART
 * and stop (tc_hal_trap -> tc_hal_exit(TC_HAL_EXIT_TRAP)). A fresh stack at the top of
 * SRAM, in case sp is what went wrong. */
    .text
    .balign 4
tc_trap_entry:
    la      sp, __stack
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    call    tc_hal_trap
5:  j       5b
