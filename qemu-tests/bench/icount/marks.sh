# Guest-side helpers for the sara-icount plugin, sourced by the benchmark script in the VM (bash).
# run.sh --bench passes sara_icount=PATH-OF-MARK on the kernel command line when it loads the plugin;
# without it every helper does nothing, so a script can call them unconditionally.
#
#   icount_snap LABEL                     the plugin writes its counters, labelled LABEL
#   icount_module NAME MODULE KO [MODULE KO ...]
#                                         count the text of the loaded MODULE(s) as NAME: one range per
#                                         executable section but .init.* (all in the module's core
#                                         text), addresses from /sys/module/MODULE/sections (root),
#                                         sizes from the .ko file KO (readelf)
#   icount_unmodule NAME                  before unloading: NAME's ranges end (its counter stays)
#
# Markers are sent one at a time (the plugin assembles one message at a time): call these from one
# shell, not from concurrent jobs.
# (ICOUNT_MARK and ICOUNT_SYSFS may be preset: selftest.sh runs these helpers on the host.)
ICOUNT_MARK=${ICOUNT_MARK-$(sed -n 's/.*\bsara_icount=\([^ ]*\).*/\1/p' /proc/cmdline)}
ICOUNT_SYSFS=${ICOUNT_SYSFS:-/sys}

icount_on() { [ -n "$ICOUNT_MARK" ] && [ -x "$ICOUNT_MARK" ]; }

icount_snap() { icount_on || return 0; "$ICOUNT_MARK" snap "$1"; }

icount_module() {
  icount_on || return 0
  local name=$1 mod ko sec size addr n=0
  shift
  while [ $# -ge 2 ]; do
    mod=$1 ko=$2
    shift 2
    # readelf -SW: "[Nr] Name Type Address Off Size ES Flg Lk Inf Al"; executable: X in Flg.
    while read -r sec size; do
      case "$sec" in .init*) continue;; esac
      addr=$(cat "$ICOUNT_SYSFS/module/$mod/sections/$sec" 2>/dev/null) || { echo "icount: no section $sec of $mod" >&2; return 1; }
      [ "$((addr))" != 0 ] || { echo "icount: $mod's addresses are hidden (not root?)" >&2; return 1; }
      [ "$((16#$size))" -gt 0 ] || continue
      "$ICOUNT_MARK" range "$name" "$addr" "$(printf '0x%x' $((addr + 16#$size)))"
      n=$((n + 1))
    done < <(readelf -SW "$ko" | sed 's/^ *\[ *[0-9]*\] *//' | awk '$7 ~ /X/ {print $1, $5}')
  done
  [ "$n" -gt 0 ] || { echo "icount: no executable section for $name" >&2; return 1; }
}

icount_unmodule() { icount_on || return 0; "$ICOUNT_MARK" unrange "$1"; }
