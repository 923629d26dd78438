//! The hot-reloadable library of the hot-lib-reloader comparison: one cheap
//! function, called through hot-lib-reloader's wrapper, directly (linked as
//! an rlib) and through a plain `extern "C"` function pointer from `dlsym`
//! (the way relive calls an app's frame). The C-ABI twin lives in its own
//! file so that `hot_functions_from_file!` does not wrap it.

/// The benchmarked function: a few integer operations.
#[unsafe(no_mangle)]
#[inline(never)]
pub fn step(x: u64) -> u64 {
    x.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        >> 1
}

mod c_abi;
pub use c_abi::step_c;
