//! `sarectl`'s library: netlink client for `sara.ko`, command implementations, and the control plane
//! (monitoring agent, manager). The binary is `src/main.rs`.
//!
//! `unsafe` lives in [`sys`] alone (thin wrappers over system calls, each with its `// SAFETY:`);
//! every other module is safe Rust, enforced by `deny(unsafe_code)`.

#![deny(unsafe_code)]

pub mod auth;
pub mod calls;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod control;
pub mod error;
pub mod gateway;
pub mod ha;
pub mod kernel;
pub mod output;
pub mod sim;
#[allow(unsafe_code)]
pub mod sys;
