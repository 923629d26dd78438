//! The relive loader as a library.
//!
//! [`Generation`] is one loaded app library: checked from its bytes, copied
//! to a private folder ([`Staging`]), loaded with `RTLD_NOW | RTLD_LOCAL`,
//! its entry points resolved once. [`plan()`] compares two generations' state
//! layouts. [`Runner`] runs frames and swaps generations at frame
//! boundaries: it stops the old code's workers, hands the state over, runs
//! the new code's first frame while the old generation is still loaded, and
//! rolls back to the old code and its state if the new code panics.
//!
//! # Known problems
//! - A library whose code registered thread-local destructors on a thread
//!   that is still alive stays mapped after it is closed (glibc's rule);
//!   relive runs each generation's frames on a thread that ends at the swap
//!   for this reason.
//! - A panic is caught; a crash (segfault, abort) in app code ends the
//!   process. Run the [`Runner`] in a child process with a
//!   [`CheckpointSink`] (as the `relive` command does) to bring it back.
#![deny(missing_docs)]

pub mod checkpoint;
mod error;
mod generation;
pub mod hazards;
pub mod input;
pub mod inspect;
pub mod keep;
pub mod plan;
pub mod preload;
mod runner;
mod staging;

pub use error::LoadError;
pub use generation::{Generation, LoadTimings, Loaded, Staged, stage};
pub use hazards::Hazard;
pub use plan::{Plan, Refusal, plan};
pub use relive_abi::EXIT_OLD_CODE_PANICKED;
pub use runner::{
    Begin, CheckpointSink, DEFAULT_MILLIS, MAX_MARKS, ReplayCommand, RunEvent, Runner, Stages,
};
pub use staging::Staging;
