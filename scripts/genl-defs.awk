# Turns sara_kmod/core/src/genl.rs into sara_genl_defs.h for the C glue: every line
#   pub const NAME: TYPE = VALUE;
# becomes
#   #define SARA_NAME VALUE
# so the netlink numbers have one source (the Rust file) and the C policy cannot drift from it.
BEGIN { print "/* Generated from sara_kmod/core/src/genl.rs by scripts/genl-defs.awk: do not edit. */"; print "#ifndef SARA_GENL_DEFS_H"; print "#define SARA_GENL_DEFS_H" }
/^pub const [A-Z0-9_]+: [A-Za-z0-9&' ]+ = .*;$/ {
  name = $3; sub(/:$/, "", name)
  val = $0; sub(/^[^=]*= /, "", val); sub(/;$/, "", val)
  print "#define SARA_" name " " val
}
END { print "#endif" }
