//! hot-lib-reloader in its documented setup with the default debounce of the
//! library file (500 ms): `#[hot_module]` over the `hotedit_lib` dylib, its
//! functions read with `hot_functions_from_file!`. `lib_dir` points at the
//! folder of this executable, because relive-bench builds with its own
//! `CARGO_TARGET_DIR`.

mod frames;

use std::path::PathBuf;

/// The folder of this executable, where cargo puts the dylib too.
fn lib_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

#[hot_lib_reloader::hot_module(dylib = "hotedit_lib", lib_dir = super::lib_dir())]
mod hot {
    hot_functions_from_file!("lib/src/lib.rs");
    pub use hotedit_lib::State;
}

fn main() {
    frames::run(hot::frame);
}
