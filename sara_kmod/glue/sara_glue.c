// SPDX-License-Identifier: GPL-2.0
/*
 * sara_glue.c — thin C trampolines between Linux 6.12's C-only APIs and SARA's Rust code.
 *
 * 6.12's `kernel` crate has no netfilter, generic netlink, pernet or sysfs abstractions and cannot call
 * static inline helpers (dev_queue_xmit, skb_push, nla_get_u32, genlmsg_reply, ...). This file holds
 * exactly those calls and the declarative tables (netlink policy, ops, sysfs attributes, hook ops).
 * It makes no decision: every packet verdict, every request's meaning and every counter is Rust's
 * (sara_kmod/, the .rs files). Functions named sara_rs_* are implemented in Rust (sara_kmod/sys/entry.rs).
 */
#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/skbuff.h>
#include <linux/random.h>
#include <linux/jiffies.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>
#include <linux/slab.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/moduleparam.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/dst.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/sock.h>
#include <net/netfilter/ipv4/nf_defrag_ipv4.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>
#include <net/net_namespace.h>

#include "sara_glue.h"
#include "sara_genl_defs.h"

/* ---- per-namespace state -------------------------------------------------------------------- */

struct sara_net {
	void *rs; /* Rust NetState, owned by Rust; NULL while being created or destroyed */
	struct delayed_work purge; /* the flow table's incremental purge (Rust decides the period) */
};

static unsigned int flow_capacity = 262144;
module_param(flow_capacity, uint, 0444);
MODULE_PARM_DESC(flow_capacity,
		 "flows each network namespace's table holds (56 bytes each, plus 32 for the Call-ID index of its SIP calls: one 64-byte entry per two flows; allocated with the first service; default 262144)");

u32 sara_flow_capacity(void)
{
	return clamp_t(unsigned int, flow_capacity, 1024, 1U << 28);
}

static unsigned int sara_net_id __read_mostly;

static void *sara_state_of(struct net *net)
{
	struct sara_net *sn = net_generic(net, sara_net_id);

	return READ_ONCE(sn->rs);
}

static unsigned int sara_nf_hook(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	void *rs = sara_state_of(state->net);

	if (unlikely(!rs))
		return NF_ACCEPT;
	return sara_rs_hook(rs, skb, state->net);
}

/*
 * After defragmentation (-400), which SARA switches on (nf_defrag_ipv4, sara_defrag_enable) while the
 * namespace has services, and before conntrack (-200): packets SARA steals never create conntrack
 * entries.
 */
static const struct nf_hook_ops sara_nf_ops = {
	.hook = sara_nf_hook,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_PRE_ROUTING,
	.priority = NF_IP_PRI_CONNTRACK_DEFRAG + 1,
};

static void sara_purge_fn(struct work_struct *work)
{
	struct sara_net *sn = container_of(to_delayed_work(work), struct sara_net, purge);
	void *rs = READ_ONCE(sn->rs);
	u32 ms;

	if (!rs)
		return;
	rcu_read_lock();
	ms = sara_rs_purge(rs);
	rcu_read_unlock();
	if (ms)
		queue_delayed_work(system_unbound_wq, &sn->purge, msecs_to_jiffies(ms));
}

/* Starts the purge of `net`'s flow table now (called once the table exists). */
void sara_purge_kick(struct net *net)
{
	struct sara_net *sn = net_generic(net, sara_net_id);

	mod_delayed_work(system_unbound_wq, &sn->purge, 0);
}

static int __net_init sara_net_init(struct net *net)
{
	struct sara_net *sn = net_generic(net, sara_net_id);
	void *rs;
	int err;

	INIT_DELAYED_WORK(&sn->purge, sara_purge_fn);
	rs = sara_rs_net_init(net);
	if (!rs)
		return -ENOMEM;
	WRITE_ONCE(sn->rs, rs);
	err = nf_register_net_hook(net, &sara_nf_ops);
	if (err) {
		WRITE_ONCE(sn->rs, NULL);
		synchronize_net();
		sara_rs_net_exit(rs);
	}
	return err;
}

static void __net_exit sara_net_exit(struct net *net)
{
	struct sara_net *sn = net_generic(net, sara_net_id);
	void *rs = sn->rs;

	nf_unregister_net_hook(net, &sara_nf_ops); /* waits for hooks in flight */
	WRITE_ONCE(sn->rs, NULL);
	synchronize_net();
	cancel_delayed_work_sync(&sn->purge);
	if (rs)
		sara_rs_net_exit(rs);
}

static struct pernet_operations sara_net_ops = {
	.init = sara_net_init,
	.exit = sara_net_exit,
	.id = &sara_net_id,
	.size = sizeof(struct sara_net),
};

/* ---- packets ---------------------------------------------------------------------------------- */

const u8 *sara_skb_data(const struct sk_buff *skb, u32 *headlen, u32 *len)
{
	*headlen = skb_headlen(skb);
	*len = skb->len;
	return skb->data;
}

bool sara_skb_pull(struct sk_buff *skb, u32 n)
{
	return pskb_may_pull(skb, n);
}

int sara_skb_linearize(struct sk_buff *skb)
{
	return skb_linearize(skb);
}

/* The Ethernet header of a direct-routing transmit: destination `mac`, out through `dev`; 0 or -ENOMEM
 * (the skb is left as it was, still the caller's). */
static int sara_push_eth(struct sk_buff *skb, struct net_device *dev, const u8 *mac)
{
	struct ethhdr *eth;

	if (unlikely(skb_cow_head(skb, ETH_HLEN + LL_RESERVED_SPACE(dev))))
		return -ENOMEM;
	eth = skb_push(skb, ETH_HLEN);
	skb_reset_mac_header(skb);
	ether_addr_copy(eth->h_dest, mac);
	ether_addr_copy(eth->h_source, dev->dev_addr);
	eth->h_proto = htons(ETH_P_IP);
	skb->dev = dev;
	return 0;
}

/*
 * A datagram sent in fragments (ip_do_fragment, as openvswitch's ovs_fragment does): the route
 * ip_do_fragment reads the device and MTU from is this stand-in on sara_xmit's stack, which also
 * carries the server's MAC to sara_frag_output and counts what became of the fragments.
 */
struct sara_frag_out {
	struct rtable rt;
	const u8 *mac;
	u32 sent;	/* fragments queued on the device */
	bool dropped;	/* a fragment the device refused (the datagram is lost) */
};

static unsigned int sara_frag_dst_mtu(const struct dst_entry *dst)
{
	return READ_ONCE(dst->dev->mtu);
}

static struct dst_ops sara_frag_dst_ops = {
	.family = AF_UNSPEC,
	.mtu = sara_frag_dst_mtu,
};

/* ip_do_fragment's output: one fragment (consumed in every case), its IP header ready. */
static int sara_frag_output(struct net *net, struct sock *sk, struct sk_buff *skb)
{
	struct sara_frag_out *out = container_of(skb_dst(skb), struct sara_frag_out, rt.dst);
	struct net_device *dev = out->rt.dst.dev;

	skb_dst_drop(skb); /* a no-reference pointer to the stand-in route: never past this call */
	if (unlikely(sara_push_eth(skb, dev, out->mac))) {
		kfree_skb(skb);
		return -ENOMEM;
	}
	if (dev_queue_xmit(skb) != NET_XMIT_SUCCESS) {
		out->dropped = true;
		return -ENOBUFS; /* stops ip_do_fragment: the rest is useless without this one */
	}
	out->sent++;
	return 0;
}

/* sara_xmit of a datagram in fragments of at most `frag_size` bytes (consumed): apart, so that the
 * whole packets' path does not set up the stand-in route. */
static noinline int sara_xmit_frags(struct net *net, struct sk_buff *skb, struct net_device *dev,
				    const u8 *mac, u16 frag_size, u32 *frags)
{
	struct sara_frag_out out = { .mac = mac };
	int err;

	skb_clear_tstamp(skb);
	dst_init(&out.rt.dst, &sara_frag_dst_ops, NULL, DST_OBSOLETE_NONE, DST_NOCOUNT);
	out.rt.dst.dev = dev;
	skb_dst_set_noref(skb, &out.rt.dst);
	/* ip_do_fragment cuts at min(device MTU, frag_max_size) */
	IPCB(skb)->frag_max_size = frag_size;
	err = ip_do_fragment(net, NULL, skb, sara_frag_output);
	*frags = out.sent;
	if (!err)
		return 0;
	return out.dropped ? 1 : 2;
}

/*
 * Direct-routing transmit: the IP packet is left as it is; the Ethernet header is rebuilt with the
 * server's MAC and the packet queued on the server's interface. With `frag_size` > 0 (a datagram the
 * stack reassembled; Rust chose the size) it leaves in fragments of at most `frag_size` bytes, their
 * number in *frags.
 * Returns <0 when the packet was not consumed (caller returns NF_DROP), 0 when queued, 1 when the
 * device dropped it or one of its fragments, 2 when fragmenting it failed (both consumed).
 */
int sara_xmit(struct net *net, struct sk_buff *skb, int ifindex, const u8 *mac, u16 frag_size,
	      u32 *frags)
{
	struct net_device *dev;

	*frags = 0;
	dev = dev_get_by_index_rcu(net, ifindex);
	if (unlikely(!dev || !(dev->flags & IFF_UP)))
		return -ENODEV;
	if (likely(!frag_size) && unlikely(sara_push_eth(skb, dev, mac)))
		return -ENOMEM;
	nf_reset_ct(skb);
	skb_dst_drop(skb);
	skb_forward_csum(skb);
	if (unlikely(frag_size))
		return sara_xmit_frags(net, skb, dev, mac, frag_size, frags);
	return dev_queue_xmit(skb) == NET_XMIT_SUCCESS ? 0 : 1;
}

/* IPCB(skb)->frag_max_size: the largest fragment's size when the stack reassembled this datagram
 * (ip_defrag), 0 for a packet that arrived whole. */
u16 sara_skb_frag_max_size(const struct sk_buff *skb)
{
	return IPCB(skb)->frag_max_size;
}

/* MTU of device `ifindex` of `net` (hook context: inside rcu_read_lock), or -ENODEV. */
int sara_dev_mtu(struct net *net, int ifindex)
{
	struct net_device *dev = dev_get_by_index_rcu(net, ifindex);

	return dev ? (int)READ_ONCE(dev->mtu) : -ENODEV;
}

/* IPv4 defragmentation at PRE_ROUTING (-400, before SARA's hook) in `net`: one reference each. */
int sara_defrag_enable(struct net *net)
{
	return nf_defrag_ipv4_enable(net);
}

void sara_defrag_disable(struct net *net)
{
	nf_defrag_ipv4_disable(net);
}

/* ---- devices ---------------------------------------------------------------------------------- */

/* ifindex of an up-or-down Ethernet device named `name` in `net`; -ENODEV, -EINVAL (not Ethernet). */
int sara_dev_ifindex(struct net *net, const char *name)
{
	struct net_device *dev;
	int ret;

	rcu_read_lock();
	dev = dev_get_by_name_rcu(net, name);
	if (!dev)
		ret = -ENODEV;
	else if (dev->type != ARPHRD_ETHER)
		ret = -EINVAL;
	else
		ret = dev->ifindex;
	rcu_read_unlock();
	return ret;
}

/* ---- misc --------------------------------------------------------------------------------------- */

void sara_random_bytes(void *buf, u32 len)
{
	get_random_bytes(buf, len);
}

void sara_synchronize_rcu(void)
{
	synchronize_rcu();
}

u32 sara_random_u32(void)
{
	return get_random_u32();
}

u32 sara_now_ms(void)
{
	return jiffies_to_msecs(jiffies);
}

/* ---- BH-safe spinlocks ------------------------------------------------------------------------
 * Three lockdep classes (one per spin_lock_init call site): the "outer" locks (table shards, Call-ID
 * index shards, schedulers), never nested with each other; the "inner" ones (the replication ring),
 * which may be taken while an outer lock is held and never take another lock; and the "stream"
 * locks (the SIP-over-TCP stream pool's shards), held while the messages they frame are inspected,
 * so outer and inner locks are taken inside them, never the other way round. */

void sara_lock_init(spinlock_t *lock)
{
	spin_lock_init(lock);
}

void sara_lock_init_stream(spinlock_t *lock)
{
	spin_lock_init(lock);
}

void sara_lock_init_inner(spinlock_t *lock)
{
	spin_lock_init(lock);
}

void sara_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void sara_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

/* ---- generic netlink ---------------------------------------------------------------------------- */

static const struct netlink_range_validation sara_timeout_range = {
	.min = 1,
	.max = SARA_MAX_TIMEOUT_S,
};

static const struct netlink_range_validation sara_u16_range = {
	.min = 1,
	.max = 65535,
};

static const struct nla_policy sara_policy[SARA_A_MAX + 1] = {
	[SARA_A_VIP] = { .type = NLA_BE32 },
	[SARA_A_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[SARA_A_PROTO] = { .type = NLA_U8 },
	[SARA_A_SIGPROTO] = NLA_POLICY_MAX(NLA_U8, SARA_SIG_MAX),
	[SARA_A_POLICY] = NLA_POLICY_MAX(NLA_U8, SARA_POLICY_MAX),
	[SARA_A_TIMEOUT] = NLA_POLICY_FULL_RANGE(NLA_U32, &sara_timeout_range),
	[SARA_A_SERVER_ID] = NLA_POLICY_FULL_RANGE(NLA_U32, &sara_u16_range),
	[SARA_A_SERVER_IP] = { .type = NLA_BE32 },
	[SARA_A_SERVER_MAC] = NLA_POLICY_EXACT_LEN(ETH_ALEN),
	[SARA_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 },
	[SARA_A_IFINDEX] = { .type = NLA_REJECT },
	[SARA_A_WEIGHT] = NLA_POLICY_FULL_RANGE(NLA_U32, &sara_u16_range),
	[SARA_A_SERVICE] = NLA_POLICY_NESTED(sara_policy),
	[SARA_A_SERVER] = NLA_POLICY_NESTED(sara_policy),
	[SARA_A_STATS] = { .type = NLA_REJECT },
	[SARA_A_PAD] = { .type = NLA_REJECT },
	[SARA_A_STATE] = NLA_POLICY_MAX(NLA_U8, SARA_STATE_DRAINING),
	[SARA_A_DOWN_ACTION] = NLA_POLICY_MAX(NLA_U8, SARA_DOWN_KEEP),
	[SARA_A_PACKETS] = { .type = NLA_REJECT },
	[SARA_A_FORECAST] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_LOAD] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_LOAD_DISPATCHER] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_LOAD_CLUSTER] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_T1] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_T2] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_T3] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_TC] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_SESSIONS] = { .type = NLA_REJECT },
	[SARA_A_INCREMENT] = NLA_POLICY_MAX(NLA_U16, 1000),
	[SARA_A_LOAD_KNOWN] = NLA_POLICY_MAX(NLA_U8, 1),
	[SARA_A_FLOW] = { .type = NLA_REJECT },
	[SARA_A_FLOW_SRC] = { .type = NLA_BE32 },
	[SARA_A_FLOW_SPORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[SARA_A_FLOW_DST] = { .type = NLA_BE32 },
	[SARA_A_FLOW_DPORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[SARA_A_SESSION_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[SARA_A_FLOW_STATUS] = { .type = NLA_REJECT },
	[SARA_A_FLOW_IDENTITY] = { .type = NLA_REJECT },
	[SARA_A_FLOW_WILDCARD] = { .type = NLA_REJECT },
	[SARA_A_FLOW_IDLE_MS] = { .type = NLA_REJECT },
	[SARA_A_FLOW_TIMEOUT_MS] = { .type = NLA_REJECT },
	[SARA_A_FLOW_BYTES] = { .type = NLA_REJECT },
	[SARA_A_FLOW_ENDED] = { .type = NLA_REJECT },
	[SARA_A_TABLE_CAPACITY] = { .type = NLA_REJECT },
	[SARA_A_HA_ROLE] = NLA_POLICY_MAX(NLA_U8, SARA_HA_BACKUP),
	[SARA_A_REPL_SEQ] = { .type = NLA_U64 },
	[SARA_A_REPL_HEAD] = { .type = NLA_REJECT },
	[SARA_A_REPL_RECORDS] = { .type = NLA_BINARY, .len = SARA_REPL_RUN_MAX },
	[SARA_A_REPL_LOST] = { .type = NLA_REJECT },
	[SARA_A_REPL_CAPACITY] = { .type = NLA_REJECT },
	[SARA_A_REPL_APPLIED] = { .type = NLA_REJECT },
	[SARA_A_REPL_FAILED] = { .type = NLA_REJECT },
	[SARA_A_HA_FLUSH] = { .type = NLA_FLAG },
	[SARA_A_REPL_CALLS] = { .type = NLA_U64 },
	[SARA_A_REPL_ADOPT] = { .type = NLA_FLAG },
	[SARA_A_REPL_SKIPPED] = { .type = NLA_REJECT },
};

static int sara_genl_doit(struct sk_buff *skb, struct genl_info *info)
{
	void *rs = sara_state_of(genl_info_net(info));

	if (!rs) {
		GENL_SET_ERR_MSG(info, "SARA is not set up in this network namespace (yet)");
		return -EAGAIN;
	}
	return sara_rs_genl_doit(rs, info->genlhdr->cmd, info);
}

static int sara_genl_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	void *rs = sara_state_of(sock_net(skb->sk));

	if (!rs)
		return -EAGAIN;
	return sara_rs_genl_dumpit(rs, skb, cb);
}

#define SARA_OP(c, f) { .cmd = (c), .doit = sara_genl_doit, .flags = (f) }

static const struct genl_small_ops sara_genl_ops[] = {
	SARA_OP(SARA_CMD_SERVICE_ADD, GENL_UNS_ADMIN_PERM),
	SARA_OP(SARA_CMD_SERVICE_DEL, GENL_UNS_ADMIN_PERM),
	SARA_OP(SARA_CMD_SERVICE_GET, 0),
	SARA_OP(SARA_CMD_SERVER_ADD, GENL_UNS_ADMIN_PERM),
	SARA_OP(SARA_CMD_SERVER_DEL, GENL_UNS_ADMIN_PERM),
	SARA_OP(SARA_CMD_SERVER_GET, 0),
	SARA_OP(SARA_CMD_STATS_GET, 0),
	SARA_OP(SARA_CMD_PUSH, GENL_UNS_ADMIN_PERM),
	SARA_OP(SARA_CMD_CONFIG_SET, GENL_UNS_ADMIN_PERM),
	{ .cmd = SARA_CMD_FLOW_GET, .dumpit = sara_genl_dumpit },
	SARA_OP(SARA_CMD_ANNOUNCE, GENL_UNS_ADMIN_PERM),
	SARA_OP(SARA_CMD_HA_SET, GENL_UNS_ADMIN_PERM),
	SARA_OP(SARA_CMD_HA_GET, 0),
	SARA_OP(SARA_CMD_REPL_GET, GENL_UNS_ADMIN_PERM),
	SARA_OP(SARA_CMD_REPL_APPLY, GENL_UNS_ADMIN_PERM),
};

static struct genl_family sara_genl_family __ro_after_init = {
	.name = SARA_FAMILY_NAME,
	.version = SARA_VERSION,
	.maxattr = SARA_A_MAX,
	.policy = sara_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = sara_genl_ops,
	.n_small_ops = ARRAY_SIZE(sara_genl_ops),
	.resv_start_op = SARA_CMD_MAX + 1,
};

/* The request's top-level attributes, indexed by type (read with sara_tb_*). */
struct nlattr **sara_info_attrs(const struct genl_info *info)
{
	return info->attrs;
}

/*
 * Parses the idx-th top-level attribute of type `attr` (a nest) into tb[0..SARA_A_MAX]; its content
 * was already validated against the family policy. 0, or -ENOENT when there is no such nest.
 */
int sara_attr_nest(const struct genl_info *info, int attr, u32 idx, struct nlattr **tb)
{
	const struct nlattr *pos;
	int rem;
	u32 i = 0;

	nlmsg_for_each_attr(pos, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(pos) != attr || i++ != idx)
			continue;
		return nla_parse_nested(tb, SARA_A_MAX, pos, sara_policy, info->extack);
	}
	return -ENOENT;
}

int sara_tb_u8(struct nlattr **tb, int attr, u8 *out)
{
	if (attr <= 0 || attr > SARA_A_MAX || !tb[attr])
		return -ENOENT;
	*out = nla_get_u8(tb[attr]);
	return 0;
}

int sara_tb_u16(struct nlattr **tb, int attr, u16 *out)
{
	if (attr <= 0 || attr > SARA_A_MAX || !tb[attr])
		return -ENOENT;
	*out = nla_get_u16(tb[attr]);
	return 0;
}

int sara_tb_u32(struct nlattr **tb, int attr, u32 *out)
{
	if (attr <= 0 || attr > SARA_A_MAX || !tb[attr])
		return -ENOENT;
	*out = nla_get_u32(tb[attr]);
	return 0;
}

/*
 * Attribute readers over a table of attributes indexed by type (a request's top level or a parsed
 * nest): 0 and *out set when present, -ENOENT when absent (the policy checked types).
 * sara_tb_bytes copies at most `cap` bytes and returns the payload's full length.
 */
int sara_tb_bytes(struct nlattr **tb, int attr, u8 *buf, u32 cap)
{
	if (attr <= 0 || attr > SARA_A_MAX || !tb[attr])
		return -ENOENT;
	memcpy(buf, nla_data(tb[attr]), min_t(u32, cap, nla_len(tb[attr])));
	return nla_len(tb[attr]);
}

/* `msg` must be a static string: the extack keeps the pointer. */
void sara_set_err(const struct genl_info *info, int attr, const char *msg)
{
	struct netlink_ext_ack *extack = info->extack;

	if (!extack)
		return;
	if (attr > 0 && info->attrs[attr])
		NL_SET_BAD_ATTR(extack, info->attrs[attr]);
	else if (attr > 0)
		NL_SET_ERR_ATTR_MISS(extack, NULL, attr);
	extack->_msg = msg;
}

/* Replies. */
struct sk_buff *sara_reply_new(struct genl_info *info, u32 size)
{
	struct sk_buff *msg = genlmsg_new(size, GFP_KERNEL);

	if (!msg)
		return NULL;
	if (!genlmsg_put_reply(msg, info, &sara_genl_family, 0, info->genlhdr->cmd)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int sara_put_u8(struct sk_buff *msg, int attr, u8 v) { return nla_put_u8(msg, attr, v); }
int sara_put_u16(struct sk_buff *msg, int attr, u16 v) { return nla_put_u16(msg, attr, v); }
int sara_put_u32(struct sk_buff *msg, int attr, u32 v) { return nla_put_u32(msg, attr, v); }
int sara_put_u64(struct sk_buff *msg, int attr, u64 v, int pad)
{
	return nla_put_u64_64bit(msg, attr, v, pad);
}
int sara_put_bytes(struct sk_buff *msg, int attr, const void *p, u32 len)
{
	return nla_put(msg, attr, len, p);
}

void *sara_nest_start(struct sk_buff *msg, int attr)
{
	return nla_nest_start_noflag(msg, attr);
}

void sara_nest_end(struct sk_buff *msg, void *nest)
{
	nla_nest_end(msg, nest);
}

int sara_reply_send(struct sk_buff *msg, struct genl_info *info)
{
	nlmsg_end(msg, nlmsg_hdr(msg)); /* the reply is the only message in msg */
	return genlmsg_reply(msg, info);
}

void sara_reply_free(struct sk_buff *msg)
{
	nlmsg_free(msg);
}

void sara_nest_cancel(struct sk_buff *msg, void *nest)
{
	nla_nest_cancel(msg, nest);
}

/* Dumps: cb->args[] is the dump's cursor (Rust's); the request's attributes were parsed and
 * validated against the family policy by the genetlink core. */
long *sara_dump_args(struct netlink_callback *cb)
{
	return cb->args;
}

struct nlattr **sara_dump_attrs(struct netlink_callback *cb)
{
	return genl_info_dump(cb)->attrs;
}

/* Starts one message of a dump in `skb`; NULL when it does not fit. */
void *sara_dump_begin(struct sk_buff *skb, struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq, &sara_genl_family,
			   NLM_F_MULTI, cmd);
}

/* Ends the message begun by sara_dump_begin; returns skb->len (what a dumpit returns for "more"). */
int sara_dump_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
	return skb->len;
}

void sara_dump_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

/* Marks the message begun by sara_dump_begin as part of an interrupted dump (the walk overlapped a
 * change that can make it list an entry twice or not at all): the reader walks again. */
void sara_dump_mark_interrupted(void *hdr)
{
	genlmsg_nlhdr(hdr)->nlmsg_flags |= NLM_F_DUMP_INTR;
}

/* ---- sysfs: /sys/kernel/sara/<counter> and /sys/kernel/sara/stats ------------------------------
 * Each file shows the counters of the reading process's network namespace.
 */

static struct kobject *sara_kobj;
static struct kobj_attribute *sara_attrs;
static struct attribute **sara_attr_ptrs;

static void *sara_reader_state(void)
{
	struct nsproxy *ns = current->nsproxy;

	return ns ? sara_state_of(ns->net_ns) : NULL;
}

static ssize_t sara_counter_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	void *rs = sara_reader_state();
	u32 id = attr - sara_attrs;

	if (!rs)
		return -ENODEV;
	return sysfs_emit(buf, "%llu\n", sara_rs_counter(rs, id));
}

static ssize_t sara_stats_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	void *rs = sara_reader_state();
	u32 n = sara_rs_num_counters(), i;
	int len = 0;

	if (!rs)
		return -ENODEV;
	for (i = 0; i < n; i++)
		len += sysfs_emit_at(buf, len, "%s %llu\n", sara_rs_counter_name(i),
				     sara_rs_counter(rs, i));
	return len;
}

static struct attribute_group sara_attr_group;

static int sara_sysfs_init(void)
{
	u32 n = sara_rs_num_counters(), i;
	int err = -ENOMEM;

	/* n counter files + "stats" + NULL terminator */
	sara_attrs = kcalloc(n + 1, sizeof(*sara_attrs), GFP_KERNEL);
	sara_attr_ptrs = kcalloc(n + 2, sizeof(*sara_attr_ptrs), GFP_KERNEL);
	if (!sara_attrs || !sara_attr_ptrs)
		goto fail;
	for (i = 0; i < n; i++) {
		sysfs_attr_init(&sara_attrs[i].attr);
		sara_attrs[i].attr.name = sara_rs_counter_name(i);
		sara_attrs[i].attr.mode = 0444;
		sara_attrs[i].show = sara_counter_show;
		sara_attr_ptrs[i] = &sara_attrs[i].attr;
	}
	sysfs_attr_init(&sara_attrs[n].attr);
	sara_attrs[n].attr.name = "stats";
	sara_attrs[n].attr.mode = 0444;
	sara_attrs[n].show = sara_stats_show;
	sara_attr_ptrs[n] = &sara_attrs[n].attr;
	sara_attr_group.attrs = sara_attr_ptrs;

	sara_kobj = kobject_create_and_add("sara", kernel_kobj);
	if (!sara_kobj)
		goto fail;
	err = sysfs_create_group(sara_kobj, &sara_attr_group);
	if (err) {
		kobject_put(sara_kobj);
		goto fail;
	}
	return 0;
fail:
	kfree(sara_attrs);
	kfree(sara_attr_ptrs);
	return err;
}

static void sara_sysfs_exit(void)
{
	sysfs_remove_group(sara_kobj, &sara_attr_group);
	kobject_put(sara_kobj);
	kfree(sara_attrs);
	kfree(sara_attr_ptrs);
}

/* ---- module-wide registration, called from Rust's module init/exit ----------------------------- */

int sara_glue_init(void)
{
	int err;

	err = register_pernet_subsys(&sara_net_ops);
	if (err)
		return err;
	err = sara_sysfs_init();
	if (err)
		goto out_pernet;
	err = genl_register_family(&sara_genl_family);
	if (err)
		goto out_sysfs;
	return 0;
out_sysfs:
	sara_sysfs_exit();
out_pernet:
	unregister_pernet_subsys(&sara_net_ops);
	return err;
}

void sara_glue_exit(void)
{
	genl_unregister_family(&sara_genl_family);
	sara_sysfs_exit();
	unregister_pernet_subsys(&sara_net_ops);
}
