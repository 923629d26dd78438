//! The C-ABI twin of `step`, called through a `dlsym`ed function pointer.

/// The same function with the C ABI, for a plain function-pointer call.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn step_c(x: u64) -> u64 {
    x.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        >> 1
}
