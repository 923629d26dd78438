//! End-to-end tests of `relive run`, driving the real binary on copies of
//! the fixture apps under `fixtures/`.
//!
//! Modules:
//! - `reload`: state carried across edits, compile errors, panics and
//!   rollback, refused layout changes, `Flow::Exit`.
//! - `outside`: `--no-build` with builds started elsewhere and bad libraries.
//! - `cli`: bad input and Ctrl-C.

mod harness;

mod cli;
mod outside;
mod reload;
