/*
 * The part of QEMU 7.2's TCG plugin API (plugin API version 1) that sara-icount.c uses, declared
 * here because Debian 12 ships QEMU with plugin support built in but without the header
 * (include/qemu/qemu-plugin.h of QEMU v7.2.0).
 *
 * Every declaration below has the type and, for enums, the values of that header; only what the
 * plugin calls is declared. QEMU resolves these functions in its own executable when it dlopen()s
 * the plugin (`nm -D /usr/bin/qemu-system-x86_64 | grep qemu_plugin_` lists them). None of them
 * takes or returns a glib type, so the plugin needs no glib headers.
 *
 * The loader refuses a plugin that does not export `int qemu_plugin_version` (checked against the
 * range QEMU supports, 1..1 in 7.2; the plugin prints the range QEMU reports) and calls the exported
 * qemu_plugin_install().
 */
#ifndef SARA_QEMU_PLUGIN_MIN_H
#define SARA_QEMU_PLUGIN_MIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

/* The API version this plugin is built against: QEMU 7.2's QEMU_PLUGIN_VERSION. */
#define QEMU_PLUGIN_VERSION 1

typedef uint64_t qemu_plugin_id_t;

/* Passed to qemu_plugin_install(); valid only during that call. */
typedef struct qemu_info_t {
    const char *target_name; /* "x86_64" */
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

/* Opaque handles, valid only during the translation callback. */
struct qemu_plugin_tb;
struct qemu_plugin_insn;

/* Callback flags: what a callback does with the vCPU registers. 7.2's values. */
enum qemu_plugin_cb_flags {
    QEMU_PLUGIN_CB_NO_REGS, /* 0 */
    QEMU_PLUGIN_CB_R_REGS,  /* 1 */
    QEMU_PLUGIN_CB_RW_REGS, /* 2 */
};

/* Inline operations: 7.2 has this one only (value 0). */
enum qemu_plugin_op {
    QEMU_PLUGIN_INLINE_ADD_U64, /* 0: *(uint64_t *)ptr += imm, not atomic */
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

/* What the plugin exports. */
extern QEMU_PLUGIN_EXPORT int qemu_plugin_version;
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv);

/* What QEMU provides. */
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

#endif
