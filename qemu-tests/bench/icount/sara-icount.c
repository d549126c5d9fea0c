/*
 * sara-icount — a QEMU 7.2 TCG plugin that counts the guest instructions executed, split by address
 * range, and writes its counters when the guest asks (markers, see marker.h and mark.c).
 *
 *   qemu-system-x86_64 ... -plugin sara-icount.so,out=FILE[,count=cb|inline][,window=LO-HI]
 *                                                         [,range=NAME:START-END ...]
 *
 * Classes. Every executed instruction is counted in exactly one class: a named range (a module's
 * text, announced by the guest with `mark range NAME START END` once the module is loaded, or given
 * as a plugin argument), else "kernel" (addresses >= 0xffff800000000000, x86-64's upper half), else
 * "user". Up to 14 names; a name's counter stays when its ranges go (`mark unrange NAME`).
 *
 * How it counts. At translation each translation block (TB) gets an execution callback whose user
 * data packs the TB's start address (48 bits: x86-64 addresses are sign-extended from bit 47) and
 * its instruction count. When the TB runs, the callback looks the start address up in the current
 * ranges and adds the count to that class in the running vCPU's own row of counters. So:
 *   - the class is decided at execution, with the ranges in force then: a TB translated before a
 *     module's range was announced (the module's init, `sarectl service add`) is still counted as
 *     that module once the range is known, and no translation cache flush is needed (7.2's
 *     qemu_plugin_reset(), the only way to flush, leaves the plugin lock held);
 *   - a TB counts as the range of its first instruction. A TB runs straight through consecutive
 *     instructions and stops at any jump, so it crosses a range's edge only by falling through from
 *     one section into the next; module text sections end in a return or jump, so this does not
 *     happen. The plugin checks: a TB whose first and last instructions fall in different classes
 *     (with the ranges known at its translation) is counted in `split_tbs`, expected 0;
 *   - the count is the TB's whole length, taken when it is entered: an exception in the middle of a
 *     TB (a page fault) counts the instructions after it too, and the TB that resumes there counts
 *     them again. Deterministic, and absent from the packet path (no faults there);
 *   - counters are per vCPU (the vCPU index QEMU passes): exact under MTTCG, where each vCPU runs in
 *     its own host thread; QEMU's inline counters (qemu_plugin_register_vcpu_tb_exec_inline) are
 *     plain read-add-writes on shared memory and lose counts when two vCPUs run the same TB.
 *
 * count=inline (default count=cb, all of the above) is for QEMU running every vCPU in one host
 * thread (-accel tcg,thread=single, which -icount implies; or a single-threaded program under
 * qemu-x86_64): there inline counters are exact and cost far less than a callback per TB (QEMU
 * user mode, best of 3, gzip: 1.24x the CPU time without plugin against 2.06x; python: 1.14x
 * against 1.64x). TBs starting outside the window (default
 * 0xffffffffa0000000-0xffffffffff000000, x86-64's module area, with or without KASLR) can never
 * be in a range, so they get an inline add to "user" or "kernel"; TBs in the window keep the
 * callback and its execution-time lookup. Ranges must lie in the window. The counter lines'
 * `threads` (host threads seen running the plugin's callbacks) shows a misuse: above 1 with
 * count=inline, the inline counts may have lost some.
 *
 * Markers. The guest executes magic NOPs (marker.h); at translation the plugin spots them by their
 * bytes and gives each an instruction callback, which assembles the message (under a lock; one
 * sender at a time) and at its end acts on it:
 *   snap LABEL              writes a "snap" line with every counter (cumulative since QEMU started)
 *   range NAME START END    adds [START, END) (hex) to NAME (ranges must not overlap)
 *   unrange NAME            removes NAME's ranges
 * A snap line counts the instructions up to the marker's own TB included.
 *
 * Output (one line each, tab-separated; counters as key=value, in a fixed order: user, kernel, the
 * names in the order they first appeared, total, split_tbs, threads):
 *   # sara-icount ...                       header: target, vCPUs, plugin API versions, mode
 *   range NAME 0xSTART 0xEND | unrange NAME  as they happen
 *   snap SEQ LABEL user=N kernel=N NAME=N ... total=N split_tbs=N threads=N
 *   exit SEQ - ...                           the same counters when QEMU exits
 *   error TEXT                              a malformed message or argument
 * The file is flushed after every line. Without out=, the lines go to QEMU's log, shown with
 * `-d plugin` (and -D FILE).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin-min.h"
#define ICOUNT_PROTOCOL_ONLY
#include "marker.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

_Static_assert(sizeof(void *) == 8, "the user data packs 64 bits into a pointer");

#define MAX_VCPUS 64          /* vCPUs with their own row; any beyond share one (atomic adds) */
#define MAX_CLASSES 16        /* user, kernel and 14 names */
#define MAX_RANGES 64         /* ranges in force at once */
#define NAME_MAX_LEN 31       /* a range's name */
#define LABEL_MAX_LEN 127     /* a snapshot's label */
#define MAX_WORDS 8           /* words of a message */
#define KERNEL_START 0xffff800000000000ull
#define ADDR_MASK 0x0000ffffffffffffull /* the 48 bits the user data keeps */
#define TB_COUNT_MAX 0xffffu            /* instructions one callback carries */
#define WINDOW_LO 0xffffffffa0000000ull /* the default window of count=inline */
#define WINDOW_HI 0xffffffffff000000ull

enum { CLASS_USER, CLASS_KERNEL, CLASS_FIRST_NAMED };

/* One vCPU's counters, on their own cache lines. Written by that vCPU only, read by snapshots. */
struct counters {
    uint64_t c[MAX_CLASSES];
} __attribute__((aligned(64)));

static struct counters per_vcpu[MAX_VCPUS];
static struct counters shared_row; /* vCPU indexes >= MAX_VCPUS */

struct range {
    uint64_t lo, hi; /* [lo, hi) */
    unsigned cls;
};

/* Published whole through `ranges` and never changed or freed afterwards (a vCPU may be reading an
 * old one at any time); an update publishes a new table. Tables are small and updates rare. */
struct range_table {
    uint64_t lo, hi; /* the smallest range holding all of them (lo == hi: none) */
    size_t n;
    struct range r[MAX_RANGES];
    struct range_table *older; /* kept, not freed (see above) */
};

static struct range_table *ranges; /* read with __atomic_load_n(ACQUIRE), NULL: no ranges */
static uint64_t split_tbs;         /* atomic */

/* count=inline: set at installation, read-only afterwards. */
static bool inline_mode;
static uint64_t window_lo = WINDOW_LO, window_hi = WINDOW_HI;
/* Its inline counters (user, kernel): QEMU's generated code adds to them without atomics, which is
 * exact only with one host thread; the plugin reads them with relaxed atomic loads. */
static uint64_t inline_row[CLASS_FIRST_NAMED];

/* Host threads that ran a callback: each counts itself once (initial-exec TLS: a plain %fs load in
 * the per-TB callback, no __tls_get_addr call). */
static __thread bool thread_seen __attribute__((tls_model("initial-exec")));
static uint64_t threads_seen; /* atomic */

/* Everything below is under `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char names[MAX_CLASSES][NAME_MAX_LEN + 1] = {"user", "kernel"};
static unsigned n_classes = CLASS_FIRST_NAMED;
static FILE *out;      /* NULL: QEMU's log (qemu_plugin_outs) */
static bool finished;  /* after the exit line nothing more is written */
static uint64_t seq;   /* snapshots written */
static char msg[ICOUNT_MSG_MAX + 1];
static size_t msg_len;
static bool msg_open, msg_bad;

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t sext48(uint64_t x)
{
    x &= ADDR_MASK;
    return (x & (1ull << 47)) ? (x | ~ADDR_MASK) : x;
}

static unsigned classify(const struct range_table *t, uint64_t vaddr)
{
    unsigned def = vaddr >= KERNEL_START ? CLASS_KERNEL : CLASS_USER;

    if (t == NULL || vaddr < t->lo || vaddr >= t->hi)
        return def;
    for (size_t i = 0; i < t->n; i++)
        if (vaddr >= t->r[i].lo && vaddr < t->r[i].hi)
            return t->r[i].cls;
    return def;
}

/* A bounded line buffer: appends stop (and mark the line truncated) when it is full. */
struct line {
    char b[2048];
    size_t n;
    bool truncated;
};

static void __attribute__((format(printf, 2, 3))) add(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (l->truncated)
        return;
    va_start(ap, fmt);
    k = vsnprintf(l->b + l->n, sizeof l->b - l->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof l->b - l->n) {
        l->truncated = true;
        l->b[l->n] = '\0';
    } else {
        l->n += (size_t)k;
    }
}

/* Writes one line (under lock). */
static void emit_locked(struct line *l)
{
    if (finished)
        return;
    if (l->truncated) {
        l->n = 0;
        l->truncated = false;
        add(l, "error\tline too long");
    }
    if (out != NULL) {
        fprintf(out, "%s\n", l->b);
        fflush(out);
    } else {
        add(l, "\n");
        qemu_plugin_outs(l->b);
    }
}

static void __attribute__((format(printf, 1, 2))) emit_error_locked(const char *fmt, ...)
{
    struct line l = {.n = 0};
    va_list ap;
    int k;

    add(&l, "error\t");
    va_start(ap, fmt);
    k = vsnprintf(l.b + l.n, sizeof l.b - l.n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof l.b - l.n)
        l.truncated = true;
    emit_locked(&l);
}

/* A counters line: KIND SEQ LABEL key=value... (under lock). */
static void emit_counters_locked(const char *kind, uint64_t n, const char *label)
{
    uint64_t sum[MAX_CLASSES] = {0}, total = 0;
    struct line l = {.n = 0};

    for (unsigned v = 0; v < MAX_VCPUS; v++)
        for (unsigned c = 0; c < MAX_CLASSES; c++)
            sum[c] += __atomic_load_n(&per_vcpu[v].c[c], __ATOMIC_RELAXED);
    for (unsigned c = 0; c < MAX_CLASSES; c++)
        sum[c] += __atomic_load_n(&shared_row.c[c], __ATOMIC_RELAXED);
    for (unsigned c = 0; c < CLASS_FIRST_NAMED; c++)
        sum[c] += __atomic_load_n(&inline_row[c], __ATOMIC_RELAXED);
    add(&l, "%s\t%" PRIu64 "\t%s", kind, n, label);
    for (unsigned c = 0; c < n_classes; c++)
        add(&l, "\t%s=%" PRIu64, names[c], sum[c]);
    for (unsigned c = 0; c < MAX_CLASSES; c++)
        total += sum[c];
    add(&l, "\ttotal=%" PRIu64 "\tsplit_tbs=%" PRIu64 "\tthreads=%" PRIu64, total,
        __atomic_load_n(&split_tbs, __ATOMIC_RELAXED),
        __atomic_load_n(&threads_seen, __ATOMIC_RELAXED));
    emit_locked(&l);
}

/* Words of the class names: letters, digits, '_', '-', '.'; not a reserved name. */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return strcmp(s, "user") != 0 && strcmp(s, "kernel") != 0 && strcmp(s, "total") != 0 &&
           strcmp(s, "split_tbs") != 0 && strcmp(s, "threads") != 0;
}

/* A label: printable, no blanks (mark.c sends nothing else), bounded. */
static bool valid_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > LABEL_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* Parses a hexadecimal address ("0x" optional), the whole word. */
static bool parse_addr(const char *s, uint64_t *v)
{
    char *end;
    unsigned long long x;

    if (s[0] == '\0' || s[0] == '-' || s[0] == '+')
        return false;
    errno = 0;
    x = strtoull(s, &end, 16);
    if (errno != 0 || end == s || *end != '\0')
        return false;
    *v = (uint64_t)x;
    return true;
}

/* Publishes `next` (filled from the current table) in place of the current one (under lock). */
static void publish_locked(struct range_table *next)
{
    next->lo = next->hi = 0;
    for (size_t i = 0; i < next->n; i++) {
        if (i == 0 || next->r[i].lo < next->lo)
            next->lo = next->r[i].lo;
        if (i == 0 || next->r[i].hi > next->hi)
            next->hi = next->r[i].hi;
    }
    next->older = __atomic_load_n(&ranges, __ATOMIC_RELAXED);
    __atomic_store_n(&ranges, next, __ATOMIC_RELEASE);
}

static struct range_table *copy_current_locked(void)
{
    struct range_table *cur = __atomic_load_n(&ranges, __ATOMIC_RELAXED);
    struct range_table *next = calloc(1, sizeof *next);

    if (next != NULL && cur != NULL) {
        next->n = cur->n;
        memcpy(next->r, cur->r, sizeof next->r);
    }
    return next;
}

/* Adds [lo, hi) to NAME; on failure writes why into err and changes nothing (under lock). */
static bool add_range_locked(const char *name, uint64_t lo, uint64_t hi, char *err, size_t errlen)
{
    const struct range_table *cur = __atomic_load_n(&ranges, __ATOMIC_RELAXED);
    struct range_table *next;
    unsigned cls;

    if (!valid_name(name)) {
        snprintf(err, errlen, "bad range name (letters, digits, _-. at most %d; not a column's name)",
                 NAME_MAX_LEN);
        return false;
    }
    if (lo >= hi) {
        snprintf(err, errlen, "empty range");
        return false;
    }
    if (inline_mode && (lo < window_lo || hi > window_hi)) {
        snprintf(err, errlen, "outside the window 0x%" PRIx64 "-0x%" PRIx64 " of count=inline",
                 window_lo, window_hi);
        return false;
    }
    if (cur != NULL) {
        if (cur->n >= MAX_RANGES) {
            snprintf(err, errlen, "more than %d ranges", MAX_RANGES);
            return false;
        }
        for (size_t i = 0; i < cur->n; i++)
            if (lo < cur->r[i].hi && cur->r[i].lo < hi) {
                snprintf(err, errlen, "overlaps a range of %s", names[cur->r[i].cls]);
                return false;
            }
    }
    for (cls = CLASS_FIRST_NAMED; cls < n_classes; cls++)
        if (strcmp(names[cls], name) == 0)
            break;
    if (cls == n_classes && n_classes == MAX_CLASSES) {
        snprintf(err, errlen, "more than %d names", MAX_CLASSES - CLASS_FIRST_NAMED);
        return false;
    }
    next = copy_current_locked();
    if (next == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (cls == n_classes) {
        /* The name exists before any count can land in it: the table is published below. */
        snprintf(names[cls], sizeof names[cls], "%s", name);
        n_classes++;
    }
    next->r[next->n++] = (struct range){.lo = lo, .hi = hi, .cls = cls};
    publish_locked(next);
    return true;
}

/* Removes NAME's ranges; false if it has none (under lock). */
static bool remove_ranges_locked(const char *name)
{
    const struct range_table *cur = __atomic_load_n(&ranges, __ATOMIC_RELAXED);
    struct range_table *next;
    size_t kept = 0;
    bool found = false;

    if (cur == NULL)
        return false;
    for (size_t i = 0; i < cur->n; i++)
        if (strcmp(names[cur->r[i].cls], name) == 0)
            found = true;
    if (!found)
        return false;
    next = calloc(1, sizeof *next);
    if (next == NULL)
        return false;
    for (size_t i = 0; i < cur->n; i++)
        if (strcmp(names[cur->r[i].cls], name) != 0)
            next->r[kept++] = cur->r[i];
    next->n = kept;
    publish_locked(next);
    return true;
}

/* ---- messages from the guest ----------------------------------------------------------------- */

/* Splits s in place at single spaces; returns the number of words, or -1 if over max. */
static int split_words(char *s, char **w, int max)
{
    int n = 0;

    while (*s != '\0') {
        if (n == max)
            return -1;
        w[n++] = s;
        while (*s != '\0' && *s != ' ')
            s++;
        if (*s == ' ')
            *s++ = '\0';
    }
    return n;
}

static void handle_message_locked(char *text)
{
    char copy[ICOUNT_MSG_MAX + 1], err[160];
    char *w[MAX_WORDS];
    int n;
    uint64_t lo, hi;

    snprintf(copy, sizeof copy, "%s", text);
    n = split_words(text, w, MAX_WORDS);
    if (n >= 1 && strcmp(w[0], "snap") == 0) {
        if (n != 2 || !valid_label(w[1])) {
            emit_error_locked("bad snap message: %s", copy);
            return;
        }
        emit_counters_locked("snap", ++seq, w[1]);
    } else if (n >= 1 && strcmp(w[0], "range") == 0) {
        if (n != 4 || !parse_addr(w[2], &lo) || !parse_addr(w[3], &hi)) {
            emit_error_locked("bad range message: %s", copy);
            return;
        }
        if (!add_range_locked(w[1], lo, hi, err, sizeof err)) {
            emit_error_locked("%s: %s", err, copy);
            return;
        }
        struct line l = {.n = 0};
        add(&l, "range\t%s\t0x%016" PRIx64 "\t0x%016" PRIx64, w[1], lo, hi);
        emit_locked(&l);
    } else if (n >= 1 && strcmp(w[0], "unrange") == 0) {
        if (n != 2 || !remove_ranges_locked(w[1])) {
            emit_error_locked("bad unrange message (no such ranges?): %s", copy);
            return;
        }
        struct line l = {.n = 0};
        add(&l, "unrange\t%s", w[1]);
        emit_locked(&l);
    } else {
        emit_error_locked("unknown message: %s", copy);
    }
}

static inline void note_thread(void)
{
    if (__builtin_expect(!thread_seen, 0)) {
        thread_seen = true;
        __atomic_fetch_add(&threads_seen, 1, __ATOMIC_RELAXED);
    }
}

/* A marker instruction ran; udata is its code. */
static void marker_exec(unsigned int vcpu_index, void *udata)
{
    unsigned code = (unsigned)(uintptr_t)udata;

    (void)vcpu_index;
    note_thread();
    pthread_mutex_lock(&lock);
    if (code == ICOUNT_BEGIN) {
        if (msg_open)
            emit_error_locked("message begun before the previous one ended (two senders?)");
        msg_open = true;
        msg_bad = false;
        msg_len = 0;
    } else if (code == ICOUNT_END) {
        if (!msg_open) {
            emit_error_locked("message end without a beginning");
        } else if (msg_bad) {
            emit_error_locked("message too long or with a control byte");
        } else {
            msg[msg_len] = '\0';
            handle_message_locked(msg);
        }
        msg_open = false;
    } else if (msg_open) {
        if (code < 0x20 || code >= 0x7f || msg_len >= ICOUNT_MSG_MAX)
            msg_bad = true;
        else
            msg[msg_len++] = (char)code;
    }
    /* A byte outside a message is a sender that started before the plugin saw its BEGIN: dropped. */
    pthread_mutex_unlock(&lock);
}

/* ---- translation and execution --------------------------------------------------------------- */

/* A TB ran: udata packs (start address & ADDR_MASK) << 16 | instruction count. */
static void tb_exec(unsigned int vcpu_index, void *udata)
{
    uint64_t u = (uint64_t)(uintptr_t)udata;
    uint64_t n = u & TB_COUNT_MAX;
    unsigned cls = classify(__atomic_load_n(&ranges, __ATOMIC_ACQUIRE), sext48(u >> 16));

    note_thread();
    if (vcpu_index < MAX_VCPUS) {
        /* Only this vCPU's thread writes this row: a relaxed load and store, no lock prefix. */
        uint64_t *c = &per_vcpu[vcpu_index].c[cls];
        __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
    } else {
        __atomic_fetch_add(&shared_row.c[cls], n, __ATOMIC_RELAXED);
    }
}

/* The marker code of insn, or -1 if it is not a marker. */
static int marker_code(const struct qemu_plugin_insn *insn)
{
    static const unsigned char prefix[] = ICOUNT_INSN_PREFIX;
    const unsigned char *b;
    uint32_t d;

    if (qemu_plugin_insn_size(insn) != ICOUNT_INSN_LEN)
        return -1;
    b = qemu_plugin_insn_data(insn);
    if (b == NULL || memcmp(b, prefix, sizeof prefix) != 0)
        return -1;
    d = (uint32_t)b[5] | (uint32_t)b[6] << 8 | (uint32_t)b[7] << 16 | (uint32_t)b[8] << 24;
    if ((d & 0xffff0000u) != (uint32_t)ICOUNT_MAGIC || (d & 0xffffu) >= ICOUNT_NCODES)
        return -1;
    return (int)(d & 0xffffu);
}

static bool in_window(uint64_t vaddr)
{
    return vaddr >= window_lo && vaddr < window_hi;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t start;

    (void)id;
    if (n == 0)
        return;
    start = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, 0));
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        int code = marker_code(insn);
        if (code >= 0)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, marker_exec, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)code);
    }
    if (n > 1) {
        const struct range_table *t = __atomic_load_n(&ranges, __ATOMIC_ACQUIRE);
        uint64_t last = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, n - 1));
        if (classify(t, start) != classify(t, last) ||
            (inline_mode && in_window(start) != in_window(last)))
            __atomic_fetch_add(&split_tbs, 1, __ATOMIC_RELAXED);
    }
    if (inline_mode && !in_window(start)) {
        unsigned cls = start >= KERNEL_START ? CLASS_KERNEL : CLASS_USER;
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &inline_row[cls],
                                                 (uint64_t)n);
        return;
    }
    /* x86-64 executes canonical addresses only, so sext48 gives `start` back. TCG's blocks hold
     * at most 512 instructions; the loop covers any count anyway. */
    for (size_t left = n; left > 0;) {
        size_t k = left > TB_COUNT_MAX ? TB_COUNT_MAX : left;
        qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)((start & ADDR_MASK) << 16 | k));
        left -= k;
    }
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    pthread_mutex_lock(&lock);
    emit_counters_locked("exit", seq, "-");
    finished = true;
    if (out != NULL) {
        fclose(out);
        out = NULL;
    }
    pthread_mutex_unlock(&lock);
}

/* ---- installation ---------------------------------------------------------------------------- */

/* On stderr: qemu_plugin_outs() shows only with -d plugin. */
static void __attribute__((format(printf, 1, 2))) install_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "sara-icount: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

/* LO-HI (hex) into lo, hi; false if malformed. */
static bool parse_lo_hi(const char *v, uint64_t *lo, uint64_t *hi)
{
    char buf[80];
    char *dash;

    if (strlen(v) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", v);
    dash = strchr(buf, '-');
    if (dash == NULL)
        return false;
    *dash = '\0';
    return parse_addr(buf, lo) && parse_addr(dash + 1, hi) && *lo < *hi;
}

/* range=NAME:START-END */
static bool parse_range_arg(const char *v)
{
    char buf[128], err[160];
    char *colon;
    uint64_t lo, hi;
    bool ok;

    if (strlen(v) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", v);
    colon = strchr(buf, ':');
    if (colon == NULL)
        return false;
    *colon = '\0';
    if (!parse_lo_hi(colon + 1, &lo, &hi))
        return false;
    pthread_mutex_lock(&lock);
    ok = add_range_locked(buf, lo, hi, err, sizeof err);
    if (ok) {
        struct line l = {.n = 0};
        add(&l, "range\t%s\t0x%016" PRIx64 "\t0x%016" PRIx64, buf, lo, hi);
        emit_locked(&l);
    }
    pthread_mutex_unlock(&lock);
    if (!ok)
        install_error("range: %s", err);
    return ok;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv)
{
    const char *out_path = NULL;

    if (info->target_name == NULL || strcmp(info->target_name, "x86_64") != 0) {
        install_error("counts x86_64 guests only, not %s",
                      info->target_name ? info->target_name : "?");
        return -1;
    }
    /* out=, count= and window= first: ranges are checked against the window and written out. */
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out_path = argv[i] + 4;
        } else if (strcmp(argv[i], "count=inline") == 0) {
            inline_mode = true;
        } else if (strcmp(argv[i], "count=cb") == 0) {
            inline_mode = false;
        } else if (strncmp(argv[i], "window=", 7) == 0) {
            if (!parse_lo_hi(argv[i] + 7, &window_lo, &window_hi)) {
                install_error("bad argument %s (window=LO-HI, hex)", argv[i]);
                return -1;
            }
        }
    }
    if (out_path != NULL) {
        out = fopen(out_path, "w");
        if (out == NULL) {
            install_error("cannot write %s", out_path);
            return -1;
        }
    }
    {
        struct line l = {.n = 0};
        add(&l, "# sara-icount: target %s, %s, vcpus %d (max %d), plugin API %d (QEMU supports %d-%d)",
            info->target_name, info->system_emulation ? "system emulation" : "user mode",
            info->system_emulation ? info->system.smp_vcpus : -1,
            info->system_emulation ? info->system.max_vcpus : -1, QEMU_PLUGIN_VERSION,
            info->version.min, info->version.cur);
        if (inline_mode)
            add(&l, ", count=inline window 0x%" PRIx64 "-0x%" PRIx64, window_lo, window_hi);
        else
            add(&l, ", count=cb");
        pthread_mutex_lock(&lock);
        emit_locked(&l);
        pthread_mutex_unlock(&lock);
    }
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0 || strcmp(argv[i], "count=inline") == 0 ||
            strcmp(argv[i], "count=cb") == 0 || strncmp(argv[i], "window=", 7) == 0)
            continue;
        if (strncmp(argv[i], "range=", 6) == 0) {
            if (!parse_range_arg(argv[i] + 6)) {
                install_error("bad argument %s (range=NAME:START-END, hex)", argv[i]);
                goto fail;
            }
            continue;
        }
        install_error("unknown argument %s (out=FILE, count=cb|inline, window=LO-HI, "
                      "range=NAME:START-END)", argv[i]);
        goto fail;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
fail:
    if (out != NULL) {
        fclose(out);
        out = NULL;
    }
    return -1;
}
