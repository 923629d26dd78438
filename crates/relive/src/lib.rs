//! relive: run-time recompile for Rust — the app side.
//!
//! An app is a `cdylib` crate with one state struct that derives
//! [`State`](derive@State), implements [`App`], and is exported with
//! [`export!`]. The `relive` command builds it, loads it, calls
//! [`App::frame`] in a loop, and when the source changes it builds the new
//! code and swaps it in at a frame boundary, handing the same state over.
//!
//! ```
//! #[derive(Default, relive::State)]
//! pub struct All {
//!     pub frames: u64,
//!     pub names: Vec<String>,
//! }
//!
//! impl relive::App for All {
//!     fn frame(&mut self, ctx: &mut relive::Ctx) -> relive::Flow {
//!         self.frames += 1;
//!         if ctx.frame() > 3 { relive::Flow::Exit } else { relive::Flow::Continue }
//!     }
//! }
//!
//! relive::export!(All);
//! ```
//!
//! # What survives a reload
//! Every field of the state struct. When the new code's state type has the
//! same layout, its bytes are moved as they are; when fields were added,
//! removed or reordered, each field that kept its name and its exact layout is
//! moved and new fields start from their `Default`; any other change is
//! refused and the old code keeps running. Heap memory is shared between
//! generations, so a custom `#[global_allocator]` in the app is not supported.
#![deny(missing_docs)]

mod allocator;
mod ctx;
mod foreign;
pub mod imports;
mod more_impls;
mod panics;
pub mod state;
mod std_impls;
mod via_serde;
mod workers;

#[doc(hidden)]
pub mod __rt;
#[doc(hidden)]
pub use serde as __serde;

pub use ctx::{Ctx, Worker};
pub use relive_derive::{State, dyn_trait};
pub use state::State;
pub use via_serde::Serde;

/// What the app wants after a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Run another frame.
    Continue,
    /// Stop the program; `relive run` exits with code 0.
    Exit,
}

/// An app that relive runs and reloads. Implement it for the state struct.
pub trait App: State + Default {
    /// Runs once on a fresh start, after `Default`. Not run after a reload.
    fn init(&mut self, ctx: &mut Ctx) {
        let _ = ctx;
    }

    /// Runs one frame. relive calls it in a loop; the app sets its own pace.
    fn frame(&mut self, ctx: &mut Ctx) -> Flow;

    /// Runs on the new code after each reload (and on the old code after a
    /// rollback), before its first frame.
    fn reloaded(&mut self, ctx: &mut Ctx) {
        let _ = ctx;
    }

    /// Runs on the old code at the frame boundary before its state leaves:
    /// before it is handed to new code at a reload, and before each crash
    /// checkpoint (about twice a second, while the program goes on). Turn
    /// what cannot be carried (an ECS world, a handle, a GPU resource) into
    /// plain data in carried fields here, by copying: the program may go on
    /// with this state. Rebuild it in [`App::reloaded`]. If the swap does
    /// not happen after all, `reloaded` runs on this same code.
    fn unloading(&mut self, ctx: &mut Ctx) {
        let _ = ctx;
    }
}

/// Makes a boxed trait object usable in the state:
/// `relive::dyn_state!(Box<dyn Shape>, |shape| shape.boxed_clone());`, with
/// `#[relive::dyn_trait]` on the trait.
///
/// The second argument makes a deep copy (relive keeps one while new code
/// runs its first frame, for a rollback). A trait object's vtable lives in
/// the code of the generation that made it, so relive keeps that generation
/// mapped while the value is carried across reloads ("pinned"). A reload
/// that changes the trait (its fingerprint) or the types around the object
/// is refused, naming the field: the old vtable would not fit the new code.
///
/// ```
/// #[relive::dyn_trait]
/// pub trait Shape: Send {
///     fn area(&self) -> f64;
///     fn boxed_clone(&self) -> Box<dyn Shape>;
/// }
/// relive::dyn_state!(Box<dyn Shape>, |shape| shape.boxed_clone());
/// ```
#[macro_export]
macro_rules! dyn_state {
    (Box<$object:ty>, $clone:expr) => {
        // SAFETY: a boxed trait object is a data pointer and a vtable pointer;
        // it is described as pinned with its trait's fingerprint, so its bytes
        // move only between identical layouts of an unchanged trait, and the
        // generation that made its vtable stays mapped.
        unsafe impl $crate::State for ::std::boxed::Box<$object> {
            fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
                $crate::__rt::visit_wide_pointer::<$object>(&**self, visit);
            }
            fn describe(layout: &mut $crate::state::LayoutBuilder) -> ::std::string::String {
                layout.pinned_with::<Self>(
                    "trait object",
                    <$object as $crate::state::TraitFingerprint>::fingerprint(layout),
                )
            }
            fn snapshot(&self) -> Self {
                let copy: fn(&Self) -> Self = $clone;
                copy(self)
            }
            fn save<S: $crate::__serde::Serializer>(
                &self,
                _serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                ::core::result::Result::Err(<S::Error as $crate::__serde::ser::Error>::custom(
                    "a trait object cannot be saved by field name (nor kept across a crash)",
                ))
            }
            fn load<'de, D: $crate::__serde::Deserializer<'de>>(
                _deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                ::core::result::Result::Err(<D::Error as $crate::__serde::de::Error>::custom(
                    "a trait object cannot be loaded by field name",
                ))
            }
        }
    };
}

/// Exports a state type as a relive app: defines the handshake, the state's
/// storage and the `extern "C"` entry points the host calls. Use it once per
/// crate, at the crate root.
#[macro_export]
macro_rules! export {
    ($state:ty) => {
        const _: () = {
            use $crate::__rt::abi;

            // The state lives in initialised data (not .bss), so its pages are
            // part of the file mapping instead of faulting in on first write.
            #[unsafe(link_section = ".data.relive_state")]
            static SLOT: $crate::__rt::Slot<$state> = $crate::__rt::Slot::new();

            #[unsafe(no_mangle)]
            #[used]
            static RELIVE_HANDSHAKE: abi::Handshake = abi::Handshake::new(
                $crate::__rt::RUSTC_VERSION,
                $crate::__rt::RELIVE_VERSION,
                ::core::stringify!($state),
                if ::core::cfg!(panic = "abort") {
                    abi::FLAG_PANIC_ABORT
                } else {
                    0
                },
            );

            #[unsafe(no_mangle)]
            extern "C" fn relive_layout() -> abi::Bytes {
                $crate::__rt::layout(&SLOT)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_init(info: *const abi::FrameInfo) -> abi::Status {
                $crate::__rt::init(&SLOT, info)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_frame(info: *const abi::FrameInfo) -> abi::Status {
                $crate::__rt::frame(&SLOT, info)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_reloaded(info: *const abi::FrameInfo) -> abi::Status {
                $crate::__rt::reloaded(&SLOT, info)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_unloading(info: *const abi::FrameInfo) -> abi::Status {
                $crate::__rt::unloading(&SLOT, info)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_state() -> abi::StateRef {
                $crate::__rt::state_ref(&SLOT)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_adopt(plan: *const abi::Adopt) -> abi::Status {
                // SAFETY: the host passes a valid plan, as the ABI requires.
                unsafe { $crate::__rt::adopt(&SLOT, plan) }
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_release(mask: *const u8, len: usize) -> abi::Status {
                // SAFETY: the host passes `len` mask bytes, as the ABI requires.
                unsafe { $crate::__rt::release(&SLOT, mask, len) }
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_snapshot() -> abi::Status {
                $crate::__rt::snapshot(&SLOT)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_restore() -> abi::Status {
                $crate::__rt::restore(&SLOT)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_discard_snapshot() -> abi::Status {
                $crate::__rt::discard_snapshot(&SLOT)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_drop_state() -> abi::Status {
                $crate::__rt::drop_state(&SLOT)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_save(
                portable: u32,
                buf: *mut u8,
                cap: usize,
                out: *mut abi::Bytes,
            ) -> abi::Status {
                // SAFETY: the host passes a writable buffer of `cap` bytes (or
                // null) and a writable Bytes, as the ABI requires.
                unsafe { $crate::__rt::save(&SLOT, portable != 0, buf, cap, out) }
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_load(bytes: abi::Bytes) -> abi::Status {
                // SAFETY: the host passes readable bytes, as the ABI requires.
                unsafe { $crate::__rt::load(&SLOT, bytes) }
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_stop_workers(deadline_ms: u64) -> abi::Status {
                $crate::__rt::stop_workers(deadline_ms)
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_check_allocator() -> abi::Status {
                $crate::__rt::check_allocator()
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_points_into(
                ranges: *const u64,
                count: usize,
                out: *mut u8,
            ) -> abi::Status {
                // SAFETY: the host passes `2 * count` words and `count`
                // writable bytes, as the ABI requires.
                unsafe { $crate::__rt::points_into(&SLOT, ranges, count, out) }
            }
            #[unsafe(no_mangle)]
            extern "C" fn relive_last_message() -> abi::Bytes {
                $crate::__rt::last_message()
            }
        };
    };
}
