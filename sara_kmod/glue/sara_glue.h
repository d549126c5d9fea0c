/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between sara_glue.c and SARA's Rust code. Rust declares the same functions in
 * sara_kmod/sys/ffi.rs; keep the two in step.
 */
#ifndef SARA_GLUE_H
#define SARA_GLUE_H

#include <linux/types.h>

struct net;
struct sk_buff;
struct genl_info;
struct nlattr;
struct netlink_callback;
typedef struct spinlock spinlock_t;

/* Implemented in Rust (sara_kmod/sys/entry.rs). */
void *sara_rs_net_init(struct net *net);
void sara_rs_net_exit(void *state);
unsigned int sara_rs_hook(void *state, struct sk_buff *skb, struct net *net);
int sara_rs_genl_doit(void *state, u8 cmd, struct genl_info *info);
u64 sara_rs_counter(void *state, u32 id);
u32 sara_rs_num_counters(void);
const char *sara_rs_counter_name(u32 id);
u32 sara_rs_purge(void *state);
int sara_rs_genl_dumpit(void *state, struct sk_buff *skb, struct netlink_callback *cb);

/* Implemented in C (sara_glue.c), called from Rust. */
int sara_glue_init(void);
void sara_glue_exit(void);
const u8 *sara_skb_data(const struct sk_buff *skb, u32 *headlen, u32 *len);
bool sara_skb_pull(struct sk_buff *skb, u32 n);
int sara_skb_linearize(struct sk_buff *skb);
int sara_xmit(struct net *net, struct sk_buff *skb, int ifindex, const u8 *mac, u16 frag_size,
	      u32 *frags);
u16 sara_skb_frag_max_size(const struct sk_buff *skb);
int sara_dev_mtu(struct net *net, int ifindex);
int sara_defrag_enable(struct net *net);
void sara_defrag_disable(struct net *net);
int sara_dev_ifindex(struct net *net, const char *name);
void sara_random_bytes(void *buf, u32 len);
void sara_synchronize_rcu(void);
struct nlattr **sara_info_attrs(const struct genl_info *info);
int sara_attr_nest(const struct genl_info *info, int attr, u32 idx, struct nlattr **tb);
int sara_tb_u8(struct nlattr **tb, int attr, u8 *out);
int sara_tb_u16(struct nlattr **tb, int attr, u16 *out);
int sara_tb_u32(struct nlattr **tb, int attr, u32 *out);
int sara_tb_bytes(struct nlattr **tb, int attr, u8 *buf, u32 cap);
void sara_set_err(const struct genl_info *info, int attr, const char *msg);
struct sk_buff *sara_reply_new(struct genl_info *info, u32 size);
int sara_put_u8(struct sk_buff *msg, int attr, u8 v);
int sara_put_u16(struct sk_buff *msg, int attr, u16 v);
int sara_put_u32(struct sk_buff *msg, int attr, u32 v);
int sara_put_u64(struct sk_buff *msg, int attr, u64 v, int pad);
int sara_put_bytes(struct sk_buff *msg, int attr, const void *p, u32 len);
void *sara_nest_start(struct sk_buff *msg, int attr);
void sara_nest_end(struct sk_buff *msg, void *nest);
int sara_reply_send(struct sk_buff *msg, struct genl_info *info);
void sara_reply_free(struct sk_buff *msg);
void sara_nest_cancel(struct sk_buff *msg, void *nest);
long *sara_dump_args(struct netlink_callback *cb);
struct nlattr **sara_dump_attrs(struct netlink_callback *cb);
void *sara_dump_begin(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd);
int sara_dump_end(struct sk_buff *skb, void *hdr);
void sara_dump_cancel(struct sk_buff *skb, void *hdr);
void sara_dump_mark_interrupted(void *hdr);
u32 sara_random_u32(void);
u32 sara_now_ms(void);
u32 sara_flow_capacity(void);
void sara_purge_kick(struct net *net);
void sara_lock_init(spinlock_t *lock);
void sara_lock_init_inner(spinlock_t *lock);
void sara_lock_init_stream(spinlock_t *lock);
void sara_lock_bh(spinlock_t *lock);
void sara_unlock_bh(spinlock_t *lock);

#endif
