/*
 * The program selftest.sh runs under qemu-x86_64 with sara-icount: loops of known instruction counts
 * between markers.
 *
 *   selftest-prog N
 *
 * icount_hot(n) and icount_warm(n) execute exactly 2n + 2 instructions each (mov; n x (dec, jnz);
 * ret), between the labels icount_hot/icount_hot_end and icount_warm/icount_warm_end. The program
 * announces hot's range itself (`range hot ...`); selftest.sh gives warm's as a plugin argument
 * (range=warm:START-END, addresses from nm: the program is static and not PIE).
 *
 *   s0  after announcing hot's range
 *   s1  after hot(N)                          hot += 2N+2
 *   s2  after hot(2N)                         hot += 4N+2
 *   s3  after warm(N)                         warm += 2N+2
 *   s4  after two threads ran hot(N) at once  hot += 2 (2N+2)
 *   s5  after `unrange hot`, hot(N)           hot += 0 (the 2N+2 count as user)
 * then five malformed messages, which the plugin reports as errors: an unknown one, an empty range,
 * a range overlapping warm, an unrange of a name without ranges, one longer than 255 bytes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "marker.h"

void icount_hot(unsigned long n);
void icount_warm(unsigned long n);
extern const unsigned char icount_hot_end[], icount_warm_end[];

/* n >= 1. */
__asm__(".pushsection .text\n"
        ".balign 64\n"
        ".globl icount_hot\n"
        ".type icount_hot, @function\n"
        "icount_hot:\n"
        "  mov %rdi, %rcx\n"
        "1: dec %rcx\n"
        "  jnz 1b\n"
        "  ret\n"
        ".globl icount_hot_end\n"
        "icount_hot_end:\n"
        ".balign 64\n"
        ".globl icount_warm\n"
        ".type icount_warm, @function\n"
        "icount_warm:\n"
        "  mov %rdi, %rcx\n"
        "1: dec %rcx\n"
        "  jnz 1b\n"
        "  ret\n"
        ".globl icount_warm_end\n"
        "icount_warm_end:\n"
        ".popsection\n");

/* volatile: every call loads its count the same way (one instruction), so s1 - s0 and s2 - s1
 * differ by the loops' 2N alone. */
static volatile unsigned long n_iter, n_double;
static pthread_barrier_t barrier;

static void *thread_main(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier); /* both threads loop at the same time */
    icount_hot(n_iter);
    return NULL;
}

int main(int argc, char **argv)
{
    char m[ICOUNT_MSG_MAX + 1];
    pthread_t t[2];

    if (argc != 2 || (n_iter = strtoul(argv[1], NULL, 10)) == 0 || n_iter > 1000000000) {
        fprintf(stderr, "usage: selftest-prog N (1 <= N <= 10^9)\n");
        return 2;
    }
    if (!icount_stubs_ok()) {
        fprintf(stderr, "selftest-prog: the marker stubs are not laid out as expected\n");
        return 1;
    }
    n_double = 2 * n_iter;
    snprintf(m, sizeof m, "range hot 0x%lx 0x%lx", (unsigned long)(uintptr_t)icount_hot,
             (unsigned long)(uintptr_t)icount_hot_end);
    icount_send(m);
    icount_send("snap s0");
    icount_hot(n_iter);
    icount_send("snap s1");
    icount_hot(n_double);
    icount_send("snap s2");
    icount_warm(n_iter);
    icount_send("snap s3");
    if (pthread_barrier_init(&barrier, NULL, 2) != 0)
        return 1;
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, thread_main, NULL) != 0)
            return 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    icount_send("snap s4");
    icount_send("unrange hot");
    icount_hot(n_iter);
    icount_send("snap s5");
    icount_send("bogus message");
    icount_send("range hot 0x20 0x10");
    snprintf(m, sizeof m, "range other 0x%lx 0x%lx", (unsigned long)(uintptr_t)icount_warm + 1,
             (unsigned long)(uintptr_t)icount_warm_end);
    icount_send(m); /* overlaps warm */
    icount_send("unrange nosuch");
    char longmsg[300];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    icount_send(longmsg); /* longer than ICOUNT_MSG_MAX */
    return 0;
}
