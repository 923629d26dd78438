//! The boundary between the relive host and an app library.
//!
//! Everything that crosses between the two sides is defined here and nowhere
//! else: the handshake that the host reads from the library file before it is
//! loaded, the names and signatures of the `extern "C"` entry points, and the
//! `#[repr(C)]` values they pass. Layout descriptions of the app's state cross
//! as JSON text (see [`layout`]), so that a change to them can never be read
//! through the wrong Rust type. Bump [`ABI_VERSION`] whenever anything in this
//! crate changes meaning.
#![deny(missing_docs)]

// Every relive crate depends on this one, and cargo compiles no crate whose
// dependency failed: on another system this is the one error, not a cascade
// about memfd, prctl or dlopen flags in the crates above.
#[cfg(not(target_os = "linux"))]
compile_error!(
    "relive runs on Linux only (it relies on dlopen, memfd, prctl and /proc); build it on Linux"
);

pub mod handshake;
pub mod layout;

/// The exit status of a runner whose older, kept-mapped generation's code
/// panicked when newer code called it: the crash is that old code's, not
/// the running generation's, so the supervisor starts the running one again.
pub const EXIT_OLD_CODE_PANICKED: i32 = 86;

pub use handshake::{ABI_VERSION, FLAG_PANIC_ABORT, HANDSHAKE_SYMBOL, Handshake, MAGIC};

/// What the host tells the app about the frame it is about to run.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Number of frames run before this one, across all generations.
    pub frame: u64,
    /// Time since the start of the previous frame, in nanoseconds.
    pub dt_ns: u64,
    /// The reload generation of the running code (1 for the first load).
    pub generation: u64,
    /// The last swap pause in nanoseconds (0 before the first reload).
    pub last_pause_ns: u64,
    /// The bytes that arrived on the host's input since the previous frame
    /// (null with `input_len` 0 for none). Owned by the host, valid for
    /// the call only.
    pub input: *const u8,
    /// Number of bytes at `input`.
    pub input_len: usize,
}

impl Default for FrameInfo {
    fn default() -> FrameInfo {
        FrameInfo {
            frame: 0,
            dt_ns: 0,
            generation: 0,
            last_pause_ns: 0,
            input: std::ptr::null(),
            input_len: 0,
        }
    }
}

/// Result of an entry point. A plain integer, so that an unexpected value
/// from a foreign library can never be undefined behaviour on the host side.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u32);

impl Status {
    /// The call succeeded (and, for a frame, the app wants another one).
    pub const OK: Status = Status(0);
    /// The frame returned `Flow::Exit`.
    pub const EXIT: Status = Status(1);
    /// The call panicked; `relive_last_message` has the message and location.
    pub const PANICKED: Status = Status(2);
    /// Worker threads did not stop before the deadline; `relive_last_message`
    /// names them.
    pub const TIMED_OUT: Status = Status(3);
    /// The call was made in a state that does not allow it (for example a
    /// frame without a state); `relive_last_message` says which.
    pub const MISUSE: Status = Status(4);
}

/// A borrowed run of bytes owned by the app library. Valid until the next
/// call into the same library.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Bytes {
    /// First byte.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

/// Where the app's state lives inside its library.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StateRef {
    /// Address of the state value (null when the library holds none).
    pub ptr: *mut u8,
    /// `size_of` the state type.
    pub size: usize,
}

/// How a new generation takes the state over from the previous one.
///
/// When `identical` is non-zero the old value's bytes are moved as they are.
/// Otherwise `sources[i]` is, for field `i` of the new state type (in
/// declaration order), the byte offset of the field with the same name and an
/// identical layout in the old value, or `-1` for a field that starts from its
/// `Default`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Adopt {
    /// The previous generation's state value.
    pub src: *const u8,
    /// `size_of` the previous state type.
    pub src_size: usize,
    /// Non-zero: move all bytes unchanged.
    pub identical: u32,
    /// One entry per field of the new state type.
    pub sources: *const i64,
    /// Number of entries in `sources`.
    pub sources_len: usize,
}

/// Names of the entry points that `relive::export!` defines. The host looks
/// each up once per loaded generation.
pub mod symbols {
    /// `extern "C" fn() -> Bytes`: the state's layout as JSON.
    pub const LAYOUT: &str = "relive_layout";
    /// `extern "C" fn(*const FrameInfo) -> Status`: fresh start, `Default` then `App::init`.
    pub const INIT: &str = "relive_init";
    /// `extern "C" fn(*const FrameInfo) -> Status`: one `App::frame`.
    pub const FRAME: &str = "relive_frame";
    /// `extern "C" fn(*const FrameInfo) -> Status`: `App::reloaded`.
    pub const RELOADED: &str = "relive_reloaded";
    /// `extern "C" fn(*const FrameInfo) -> Status`: `App::unloading`, in the
    /// old code at the frame boundary, before the state is checkpointed or
    /// handed over.
    pub const UNLOADING: &str = "relive_unloading";
    /// `extern "C" fn() -> StateRef`: where the state lives.
    pub const STATE: &str = "relive_state";
    /// `extern "C" fn(*const Adopt) -> Status`: take the previous generation's state over.
    pub const ADOPT: &str = "relive_adopt";
    /// `extern "C" fn(*const u8, usize) -> Status`: the state was moved out;
    /// drop the fields whose mask byte is non-zero and forget the rest.
    pub const RELEASE: &str = "relive_release";
    /// `extern "C" fn() -> Status`: keep a deep copy of the state.
    pub const SNAPSHOT: &str = "relive_snapshot";
    /// `extern "C" fn() -> Status`: make the kept copy the state again.
    pub const RESTORE: &str = "relive_restore";
    /// `extern "C" fn() -> Status`: drop the kept copy.
    pub const DISCARD_SNAPSHOT: &str = "relive_discard_snapshot";
    /// `extern "C" fn() -> Status`: drop the state.
    pub const DROP_STATE: &str = "relive_drop_state";
    /// `extern "C" fn(u64) -> Status`: stop and join worker threads within
    /// the given milliseconds.
    pub const STOP_WORKERS: &str = "relive_stop_workers";
    /// `extern "C" fn(u32, *mut u8, usize, *mut Bytes) -> Status`:
    /// serialises the state by field name (for a migration, or with a
    /// non-zero first argument for a checkpoint another process can load,
    /// which `fn` pointers and trait objects refuse). It writes into the
    /// given buffer when it fits (then `out` points into it), else into a
    /// buffer of the library, valid until the next call.
    pub const SAVE: &str = "relive_save";
    /// `extern "C" fn(Bytes) -> Status`: makes the state from bytes that
    /// another generation's `relive_save` wrote, matching fields by name.
    pub const LOAD: &str = "relive_load";
    /// `extern "C" fn() -> Status`: whether the library's global allocator
    /// hands out the process's `malloc` memory (`OK`), which every
    /// generation shares, or memory of its own (`MISUSE`, with the reason
    /// in `relive_last_message`): a `#[global_allocator]` linked into the
    /// library is a new allocator in every generation, which cannot free
    /// what the previous one allocated.
    pub const CHECK_ALLOCATOR: &str = "relive_check_allocator";
    /// `extern "C" fn(*const u64, usize, *mut u8) -> Status`: given `n`
    /// address ranges (`2 * n` words: start, end), sets byte `i` of the `n`
    /// output bytes to 1 when a value in the state points into range `i`,
    /// to 2 when a trait object does (its own data is opaque), else 0.
    pub const POINTS_INTO: &str = "relive_points_into";
    /// `extern "C" fn() -> Bytes`: the message of the last failed call.
    pub const LAST_MESSAGE: &str = "relive_last_message";
}

/// `rustc -V` of the compiler named by `$RUSTC` (for build scripts, which
/// record it so that host and app can compare their compilers).
pub fn rustc_version_for_build() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    std::process::Command::new(&rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown rustc".into())
}
