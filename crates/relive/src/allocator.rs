//! Whether the library's global allocator is the process's `malloc`.
//!
//! A state's heap values are made by one generation and freed by the next,
//! so every generation must allocate from the same heap. The system
//! allocator (Rust's default) is glibc's `malloc`, one per process. A
//! `#[global_allocator]` linked into the app library (mimalloc, jemalloc, a
//! bump arena) is a new allocator in every generation, with heaps of its
//! own: the next generation would free memory its allocator never made.
//!
//! The check allocates a block through the global allocator and asks glibc
//! whether its in-use bytes grew by that much. An allocator that forwards to
//! `System` passes, as it should. Symbols cannot tell: with LTO the default
//! allocator's `__rdl_alloc` is inlined away exactly as when the app has an
//! allocator of its own.

use std::alloc::Layout;

/// Large and odd enough that no other thread's allocation of the same
/// moment is likely to mask it.
const PROBE: usize = (3 << 20) + 4096 + 48;
const ATTEMPTS: usize = 3;

/// Bytes glibc's `malloc` holds in use, in its arenas and mapped chunks.
fn malloc_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks.saturating_add(info.hblkhd)
}

/// Whether memory from the global allocator comes from the process's `malloc`.
pub(crate) fn is_malloc() -> bool {
    let Ok(layout) = Layout::from_size_align(PROBE, 8) else {
        return false;
    };
    (0..ATTEMPTS).any(|_| {
        let before = malloc_in_use();
        // SAFETY: the layout has a non-zero size. `black_box`: an allocation
        // that is freed unused is removed by the optimiser, and a release
        // build would then never allocate at all.
        let block = std::hint::black_box(unsafe { std::alloc::alloc(layout) });
        if block.is_null() {
            return false;
        }
        let grown = malloc_in_use().saturating_sub(before);
        // SAFETY: `block` was allocated just above with `layout`.
        unsafe { std::alloc::dealloc(block, layout) };
        grown >= PROBE
    })
}

/// The reason a library with its own allocator is refused.
pub(crate) const REFUSAL: &str = "the app has its own #[global_allocator], which is a new \
    allocator in every generation: the state's heap values, made by one generation, would be \
    freed by the next one's allocator, which never made them. Remove the #[global_allocator] \
    from the app and its dependencies (relive needs the system allocator, or one that forwards \
    to std::alloc::System)";

#[cfg(test)]
mod tests {
    /// Also under `cargo test --release`, where an unused allocation is
    /// optimised away unless the check keeps it.
    #[test]
    fn the_test_binary_allocates_from_malloc() {
        assert!(super::is_malloc());
    }
}
