//! Why a library could not become a generation.

use std::path::PathBuf;

/// A library file that relive refuses to load, or could not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The library file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a complete shared object for this machine.
    #[error("{path} is not a complete shared object for this machine: {detail}")]
    NotSharedObject {
        /// The library file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A shared object without the relive handshake.
    #[error(
        "{path} is not a relive app: it has no relive handshake (no {symbol} symbol); the crate must depend on `relive` and call `relive::export!(State)`"
    )]
    NoHandshake {
        /// The library file.
        path: PathBuf,
        /// The handshake symbol's name.
        symbol: &'static str,
    },
    /// The handshake does not match this host.
    #[error(
        "{path} was built {detail}; rebuild the app with the same toolchain and relive version as the host"
    )]
    Mismatch {
        /// The library file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// Built with `panic = "abort"`: a panic would end the program instead
    /// of unwinding to relive, which rolls it back.
    #[error(
        "{path} was built with panic = \"abort\": a panic in it would end the whole program instead of rolling back to the previous code; set panic = \"unwind\" (the default) in the [profile.*] that relive builds with"
    )]
    PanicAbort {
        /// The library file.
        path: PathBuf,
    },
    /// The library's global allocator is not the process's `malloc`.
    #[error("{path} cannot be reloaded safely: {detail}")]
    Allocator {
        /// The library file.
        path: PathBuf,
        /// What the library said about its allocator.
        detail: String,
    },
    /// The private copy could not be made.
    #[error(
        "cannot stage a private copy of {path} in {dir}: {source}; check the free space and permissions of the temp folder (or set TMPDIR)"
    )]
    Stage {
        /// The library file.
        path: PathBuf,
        /// The private folder.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `dlopen` failed.
    #[error(
        "cannot load {path}: {detail}; check the app's own shared-library dependencies (`ldd` on the built library)"
    )]
    Open {
        /// The staged copy.
        path: PathBuf,
        /// The loader's message.
        detail: String,
    },
    /// An entry point is missing.
    #[error("{path} lacks the entry point `{symbol}`; it was built against an incompatible relive")]
    MissingEntry {
        /// The library file.
        path: PathBuf,
        /// The missing symbol.
        symbol: &'static str,
    },
    /// The library's layout description is unusable.
    #[error(
        "{path} describes its state unreadably: {detail}; rebuild the app against the relive this host was built from"
    )]
    Layout {
        /// The library file.
        path: PathBuf,
        /// The parse error.
        detail: String,
    },
    /// A `#[relive(keep)]` field holds a type of the reloaded app.
    #[error("{path} cannot be loaded: {detail}")]
    Kept {
        /// The library file.
        path: PathBuf,
        /// Which field, and what to do.
        detail: String,
    },
}
