#!/bin/bash
# One sample of the benchmark's counters, read in the dispatcher's namespace with shell builtins only
# (no fork: under TCG each process costs a lot), so that every value is read at about the same time:
#   TIME SOFTIRQ_TICKS IDLE_TICKS PKTS_AT_SERVERS SARA_FORWARDED SARA_SESSIONS IPVS_CONNS IPVS_INPKTS PKTS_BEFORE_MARK
# Softirq and idle are the "cpu" line of /proc/stat (all CPUs); the packets are what the bridge sent to
# the servers (tx of v-s1 and v-s2, in the root namespace: /proc/1/net/dev).
#
# With a LABEL, the instruction counter's snapshot LABEL (icount/marks.sh's icount_snap; nothing
# without the plugin) is taken first, between two readings of the packet counter: PKTS_BEFORE_MARK
# is the one before it, PKTS_AT_SERVERS (and everything else) the one after, so the packets delivered
# at the snapshot's instant lie between the two. bench.sh exports ICOUNT_MARK (marks.sh reads
# /proc/cmdline otherwise, a fork). Without a LABEL both packet columns are the same reading.
# Usage: ip netns exec disp bash snap.sh [LABEL]
pkts() {  # the servers' bridge ports' tx packets, into pk
  local line f
  pk=0
  while read -r line; do
    case "$line" in
      v-s1:*|v-s2:*)
        read -r -a f <<<"${line#*:}"
        pk=$((pk + f[9]));;
    esac
  done </proc/1/net/dev
}
if [ -n "${1:-}" ]; then
  . "${0%/*}/icount/marks.sh"
  pkts; pk0=$pk
  icount_snap "$1"
fi
t=$EPOCHREALTIME
read -r _ _ _ _ idle _ _ sirq _ </proc/stat
pkts
[ -n "${1:-}" ] || pk0=$pk
fwd=0; ses=0; conns=0; inpk=0
[ -r /sys/kernel/sara/packets_forwarded ] && read -r fwd </sys/kernel/sara/packets_forwarded
[ -r /sys/kernel/sara/sessions_created ] && read -r ses </sys/kernel/sara/sessions_created
if [ -r /proc/net/ip_vs_stats ]; then
  { read -r _; read -r _; read -r c i _; } </proc/net/ip_vs_stats
  conns=$((16#$c)); inpk=$((16#$i))
fi
echo "$t $sirq $idle $pk $fwd $ses $conns $inpk $pk0"
