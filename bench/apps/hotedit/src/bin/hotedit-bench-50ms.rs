//! The same as src/main.rs with the debounce that hot-lib-reloader's docs
//! suggest trying for small libraries: `file_watch_debounce = 50` (ms).

#[path = "../frames.rs"]
mod frames;

use std::path::PathBuf;

/// The folder of this executable, where cargo puts the dylib too.
fn lib_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

#[hot_lib_reloader::hot_module(
    dylib = "hotedit_lib",
    lib_dir = super::lib_dir(),
    file_watch_debounce = 50
)]
mod hot {
    hot_functions_from_file!("lib/src/lib.rs");
    pub use hotedit_lib::State;
}

fn main() {
    frames::run(hot::frame);
}
