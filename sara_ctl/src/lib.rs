//! `sarectl`'s library: netlink client for `sara.ko`, command implementations, and the control plane
//! (monitoring agent, manager). The binary is `src/main.rs`.

pub mod control;
