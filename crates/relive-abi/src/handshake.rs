//! The handshake record every relive app exports as a data symbol.
//!
//! It holds only fixed-size byte arrays and integers (no pointers, hence no
//! relocations), so the host can read it straight out of the library file and
//! refuse a foreign or mismatched library before `dlopen` runs any of its code.

/// Version of the contract in this crate. A library built against another
/// version is refused.
pub const ABI_VERSION: u32 = 8;

/// First bytes of every handshake.
pub const MAGIC: [u8; 16] = *b"relive-app-abi\0\0";

/// Name of the exported handshake static.
pub const HANDSHAKE_SYMBOL: &str = "RELIVE_HANDSHAKE";

/// [`Handshake::flags`] bit: the library was built with `panic = "abort"`,
/// so a panic in it ends the process instead of unwinding to relive.
pub const FLAG_PANIC_ABORT: u32 = 1;

/// Length of the text fields of [`Handshake`].
pub const TEXT_LEN: usize = 128;

/// Identity of an app library, exported as `RELIVE_HANDSHAKE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// Always [`MAGIC`].
    pub magic: [u8; 16],
    /// The [`ABI_VERSION`] the library was built against.
    pub abi_version: u32,
    /// Facts about how the library was built (`FLAG_*` bits).
    pub flags: u32,
    /// `rustc -V` of the compiler that built the library, NUL-padded.
    pub rustc: [u8; TEXT_LEN],
    /// Version of the `relive` crate, NUL-padded.
    pub relive_version: [u8; TEXT_LEN],
    /// Rust path of the state type, NUL-padded.
    pub state_type: [u8; TEXT_LEN],
}

impl Handshake {
    /// Builds a handshake at compile time; text longer than the field is cut.
    pub const fn new(rustc: &str, relive_version: &str, state_type: &str, flags: u32) -> Handshake {
        Handshake {
            magic: MAGIC,
            abi_version: ABI_VERSION,
            flags,
            rustc: text(rustc),
            relive_version: text(relive_version),
            state_type: text(state_type),
        }
    }

    /// Reads a handshake from its raw bytes (as found in a library file).
    pub fn from_bytes(bytes: &[u8]) -> Option<Handshake> {
        if bytes.len() < size_of::<Handshake>() {
            return None;
        }
        let mut at = 0;
        let mut take = |n: usize| {
            let part = &bytes[at..at + n];
            at += n;
            part
        };
        Some(Handshake {
            magic: take(16).try_into().ok()?,
            abi_version: u32::from_ne_bytes(take(4).try_into().ok()?),
            flags: u32::from_ne_bytes(take(4).try_into().ok()?),
            rustc: take(TEXT_LEN).try_into().ok()?,
            relive_version: take(TEXT_LEN).try_into().ok()?,
            state_type: take(TEXT_LEN).try_into().ok()?,
        })
    }

    /// The rustc version text.
    pub fn rustc(&self) -> String {
        untext(&self.rustc)
    }

    /// The relive crate version text.
    pub fn relive_version(&self) -> String {
        untext(&self.relive_version)
    }

    /// Whether the library was built with `panic = "abort"`.
    pub fn panics_abort(&self) -> bool {
        self.flags & FLAG_PANIC_ABORT != 0
    }

    /// The state type's path.
    pub fn state_type(&self) -> String {
        untext(&self.state_type)
    }
}

const fn text(s: &str) -> [u8; TEXT_LEN] {
    let src = s.as_bytes();
    let mut out = [0u8; TEXT_LEN];
    let mut i = 0;
    while i < src.len() && i < TEXT_LEN {
        out[i] = src[i];
        i += 1;
    }
    out
}

fn untext(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_bytes() {
        let h = Handshake::new(
            "rustc 1.95.0 (59807616e 2026-04-14)",
            "0.1.0",
            "app::All",
            FLAG_PANIC_ABORT,
        );
        // SAFETY: Handshake is repr(C) plain data without padding bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&h as *const Handshake).cast::<u8>(),
                size_of::<Handshake>(),
            )
        };
        let back = Handshake::from_bytes(bytes).expect("complete handshake");
        assert_eq!(back, h);
        assert_eq!(back.rustc(), "rustc 1.95.0 (59807616e 2026-04-14)");
        assert_eq!(back.state_type(), "app::All");
        assert!(back.panics_abort());
        assert!(Handshake::from_bytes(&bytes[..10]).is_none());
    }
}
