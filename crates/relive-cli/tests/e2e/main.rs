//! End-to-end tests of `relive run` and `relive new`, driving the real
//! binary on copies of the fixture apps under `fixtures/` and of the
//! examples under `examples/`.
//!
//! Modules:
//! - `reload`: state carried across edits, compile errors, panics and
//!   rollback, refused layout changes, `Flow::Exit`.
//! - `outside`: `--no-build` with builds started elsewhere and bad libraries.
//! - `cli`: bad input and Ctrl-C.
//! - `crash`: segfaults, aborts, stack overflows and crashes in workers come
//!   back on the last good generation with the checkpointed state.
//! - `migrate`: migration by field name in nested types, refusals naming the
//!   field, `&'static str` and `fn` pointers across fifty reloads.
//! - `process`: the app's process: text printed without a newline across
//!   a swap, Ctrl-C in programs the app starts, panics the app catches, an
//!   allocator of the app's own.
//! - `inputs`: an app that writes files in its own package folder starts no
//!   build; edits of `include_str!` files, new modules and rename saves
//!   still reload at once.
//! - `robust`: bad libraries, a library still being written, save storms, a
//!   worker that will not stop, and a soak of hundreds of reloads.
//! - `shapes`: a state of every shape carried unchanged across 300 swaps.
//! - `examples`: the `workers` and `migration` examples edited as their
//!   comments invite (workers restarted on the new code, fields inserted
//!   and reordered).
//! - `foreign`: glam, rand_pcg, indexmap and rustc-hash values in the state
//!   (the `foreign` fixture and the `boids` example) across edits and a
//!   field added to a nested struct.
//! - `window`: the `window` example under Xvfb, its pixels read back before
//!   and after an edit; the window stays the same, and a crash brings the
//!   state back in a new window.
//! - `persistent`: a persistent-mode workspace (an app `dylib` on a `deps`
//!   `dylib` re-exporting minifb) under Xvfb: three edits redraw the same
//!   window in new colours, old generations are unmapped, the state's frame
//!   counter goes on.
//! - `new_app`: `relive new`, then `relive run` on the new app and an edit;
//!   occupied folders and bad names.
//! - `standalone`: copying an example out of the workspace.
//! - `input`: bytes piped into `relive run` reach `ctx.input()` exactly
//!   once across a reload and a rollback.
//! - `terminal`: `relive run` in a real pseudo-terminal (raw mode, SIGWINCH,
//!   resizes, one row for relive, the mode given back).
//! - `screen`: a real pseudo-terminal for a test, read with `vt100`, and
//!   `relive run` started in it.
//! - `tui`: the ratatui example in a real pseudo-terminal, edited, resized,
//!   rolled back after a panic and quit with Ctrl-C.
//! - `looping`: `relive loop`, `live` and `rewind` on a deterministic app:
//!   exact replay (across reloads too), an edit inside the window, a crash
//!   during a loop, divergence of an app that reads the wall clock.
//! - `hazards`: signal handlers, threads and descriptors that old code left
//!   in the process (a SIGWINCH after a reload does not crash it).
//! - `status_line`: the status line read from a pseudo-terminal after
//!   failures, the swap pause after a paused program, `--quiet`.
//! - `msrv`: the declared minimum Rust against `cargo metadata` and the
//!   features the sources use.

mod harness;

mod cli;
mod crash;
mod examples;
mod foreign;
mod hazards;
mod input;
mod inputs;
mod looping;
mod migrate;
mod msrv;
mod new_app;
mod outside;
mod persistent;
mod process;
mod reload;
mod robust;
mod screen;
mod shapes;
mod standalone;
mod status_line;
mod terminal;
mod tui;
mod window;
