/*
 * The guest side of sara-icount's markers: sends a text message to the plugin by executing magic
 * no-op instructions, which the plugin recognises by their bytes when QEMU translates them.
 *
 * The marker instruction is `nopq DISP32(%r11,%r11,1)` in the encoding
 *
 *     4d 0f 1f 84 1b  d0 d1 d2 d3        (DISP32 little-endian)
 *
 * a 9-byte multi-byte NOP (REX.WRXB, 0F 1F /0, SIB base r11, index r11) that no compiler or
 * assembler emits as padding (they use base and index rax, and displacement 0). Its displacement is
 * ICOUNT_MAGIC | code: code 0x000-0x0ff carries one byte of the message, ICOUNT_BEGIN starts a
 * message and ICOUNT_END ends it. The plugin assembles the bytes between BEGIN and END and acts on
 * the text at END. A NOP does nothing, so without the plugin (or under real hardware) a marker is a
 * few harmless calls.
 *
 * There is one stub per code, `marker; ret`, 16-byte aligned: the stub of code C is at
 * icount_stubs + 16 * C. Static code, no run-time code generation. A message is sent by one thread;
 * two processes sending at once would interleave their bytes (the plugin then reports an error).
 *
 * Include this header in exactly one C file of a program (it defines the stubs); the plugin defines
 * ICOUNT_PROTOCOL_ONLY first and gets the constants alone.
 */
#ifndef SARA_ICOUNT_MARKER_H
#define SARA_ICOUNT_MARKER_H

#include <stdint.h>
#include <string.h>

/* Plain numbers (no suffix): the assembler reads them too. */
#define ICOUNT_MAGIC 0x5a2a0000 /* high 16 bits of the displacement */
#define ICOUNT_BEGIN 0x100
#define ICOUNT_END 0x101
#define ICOUNT_NCODES 0x102
#define ICOUNT_MSG_MAX 255 /* bytes of text in one message */
#define ICOUNT_STUB_STRIDE 16
/* The marker instruction: these 5 bytes, then the 32-bit displacement. */
#define ICOUNT_INSN_PREFIX {0x4d, 0x0f, 0x1f, 0x84, 0x1b}
#define ICOUNT_INSN_LEN 9

#ifndef ICOUNT_PROTOCOL_ONLY

#define ICOUNT_STR_(x) #x
#define ICOUNT_STR(x) ICOUNT_STR_(x)

/* The stubs: ICOUNT_NCODES of them, in .text. */
__asm__(".pushsection .text\n"
        ".balign 16\n"
        ".globl icount_stubs\n"
        ".hidden icount_stubs\n"
        ".type icount_stubs, @function\n"
        "icount_stubs:\n"
        ".set icount_code, 0\n"
        ".rept " ICOUNT_STR(ICOUNT_NCODES) "\n"
        ".balign 16\n"
        ".byte 0x4d, 0x0f, 0x1f, 0x84, 0x1b\n"
        ".long " ICOUNT_STR(ICOUNT_MAGIC) " + icount_code\n"
        "ret\n"
        ".set icount_code, icount_code + 1\n"
        ".endr\n"
        ".size icount_stubs, . - icount_stubs\n"
        ".popsection\n");

extern const unsigned char icount_stubs[];

static inline void icount_code(unsigned code)
{
    void (*stub)(void) = (void (*)(void))(uintptr_t)(icount_stubs + (uintptr_t)code * ICOUNT_STUB_STRIDE);
    stub();
}

/* 1 if every stub has the expected bytes (the assembler laid them out as intended). */
static inline int icount_stubs_ok(void)
{
    for (unsigned c = 0; c < ICOUNT_NCODES; c++) {
        const unsigned char *p = icount_stubs + (uintptr_t)c * ICOUNT_STUB_STRIDE;
        uint32_t d = (uint32_t)ICOUNT_MAGIC | c;
        const unsigned char want[10] = {0x4d, 0x0f, 0x1f, 0x84, 0x1b, (unsigned char)d,
                                        (unsigned char)(d >> 8), (unsigned char)(d >> 16),
                                        (unsigned char)(d >> 24), 0xc3};
        if (memcmp(p, want, sizeof want) != 0)
            return 0;
    }
    return 1;
}

/* Sends msg (at most ICOUNT_MSG_MAX bytes; the plugin rejects longer ones). */
static inline void icount_send(const char *msg)
{
    icount_code(ICOUNT_BEGIN);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
        icount_code(*p);
    icount_code(ICOUNT_END);
}

#endif /* ICOUNT_PROTOCOL_ONLY */
#endif
