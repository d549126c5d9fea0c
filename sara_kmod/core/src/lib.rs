//! SARA's core: every decision SARA makes, as pure functions of packets, time, randomness and pushed
//! parameters. No allocation, no I/O, no `unsafe`, no floating point, no dependencies.
//!
//! The same source is compiled twice:
//! * on the host by Cargo, as the `sara_core` crate (unit tests, property tests, fuzzing, benchmarks,
//!   and reuse by `sarectl`);
//! * into `sara.ko` by Kbuild, as the module `sara_core` of the kernel crate (`sara_kmod/sara_main.rs`
//!   includes this file with `#[path]`). There `CONFIG_RUST` is set, this file is not a crate root, and
//!   the crate-level attributes below are skipped.
#![cfg_attr(not(CONFIG_RUST), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Kernel code must not panic: a panic in the packet path is a BUG() that kills the machine. Outside
// tests, the core never indexes unchecked, unwraps, panics or does arithmetic that can overflow
// (`cargo clippy -p sara_core` enforces it; the kernel is built with RUST_OVERFLOW_CHECKS).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects,
        clippy::float_arithmetic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod admission;
pub mod adopt;
pub mod calls;
pub mod counters;
pub mod dpi;
pub mod flow;
pub mod genl;
pub mod msg;
pub mod select;
pub mod streams;
pub mod table;
pub mod wire;
