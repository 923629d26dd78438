//! Reads a library file before it is loaded: is it a complete shared object
//! for this machine, and does it carry a relive handshake that matches this
//! host? `dlopen` runs a library's initialisers, so everything that can be
//! refused is refused here, from the bytes alone.

use std::path::Path;

use object::{Object, ObjectKind, ObjectSection, ObjectSegment, ObjectSymbol};
use relive_abi::{ABI_VERSION, HANDSHAKE_SYMBOL, Handshake, MAGIC};

use crate::error::LoadError;

/// `rustc -V` of the compiler that built the host.
pub const HOST_RUSTC: &str = env!("RELIVE_RUSTC_VERSION");
/// Version of relive the host belongs to (the workspace's crates share it).
pub const HOST_RELIVE: &str = env!("CARGO_PKG_VERSION");

/// Checks `bytes` (the contents of `path`) and returns its handshake.
pub fn inspect(path: &Path, bytes: &[u8]) -> Result<Handshake, LoadError> {
    let not_so = |detail: String| LoadError::NotSharedObject {
        path: path.to_path_buf(),
        detail,
    };
    let file = object::File::parse(bytes).map_err(|e| {
        if bytes.starts_with(b"\x7fELF") {
            not_so(format!("the file is truncated or corrupt ({e})"))
        } else {
            not_so(format!("it is not an ELF file ({e})"))
        }
    })?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(not_so(format!("it is a {:?} file, not ELF", file.format())));
    }
    if file.kind() != ObjectKind::Dynamic {
        return Err(not_so(format!(
            "it is a {:?} object, not a shared object",
            file.kind()
        )));
    }
    if file.architecture() != host_architecture() {
        return Err(not_so(format!(
            "it is built for {:?}, this machine is {:?}",
            file.architecture(),
            host_architecture()
        )));
    }
    complete(&file, bytes.len() as u64).map_err(not_so)?;

    if file.dynamic_symbols().next().is_none() {
        // Every library built by rustc exports symbols: a file without a
        // dynamic symbol table is one still being written over zeros.
        return Err(not_so(
            "it has no dynamic symbol table: it is incomplete (still being written?)".into(),
        ));
    }
    let symbol = file
        .dynamic_symbols()
        .find(|s| s.name() == Ok(HANDSHAKE_SYMBOL))
        .ok_or(LoadError::NoHandshake {
            path: path.to_path_buf(),
            symbol: HANDSHAKE_SYMBOL,
        })?;
    let raw = symbol
        .section_index()
        .and_then(|index| file.section_by_index(index).ok())
        .and_then(|section| {
            let data = section.data().ok()?;
            let start = usize::try_from(symbol.address().checked_sub(section.address())?).ok()?;
            data.get(start..start.checked_add(size_of::<Handshake>())?)
        })
        .ok_or_else(|| {
            not_so(format!(
                "its {HANDSHAKE_SYMBOL} symbol points outside its data"
            ))
        })?;
    let handshake = Handshake::from_bytes(raw)
        .ok_or_else(|| not_so(format!("its {HANDSHAKE_SYMBOL} is truncated")))?;
    check(path, &handshake)?;
    Ok(handshake)
}

/// A linker writes the section headers last: a file whose sections or
/// segments reach past its end is still being written, or was cut short.
fn complete(file: &object::File<'_>, len: u64) -> Result<(), String> {
    for segment in file.segments() {
        let (offset, size) = segment.file_range();
        if offset.saturating_add(size) > len {
            return Err(format!(
                "a segment ends at byte {} of {len}: the file is truncated",
                offset + size
            ));
        }
    }
    for section in file.sections() {
        if let Some((offset, size)) = section.file_range()
            && offset.saturating_add(size) > len
        {
            return Err(format!(
                "section {} ends at byte {} of {len}: the file is truncated",
                section.name().unwrap_or("?"),
                offset + size
            ));
        }
    }
    Ok(())
}

fn check(path: &Path, handshake: &Handshake) -> Result<(), LoadError> {
    let mismatch = |detail: String| LoadError::Mismatch {
        path: path.to_path_buf(),
        detail,
    };
    if handshake.magic != MAGIC {
        return Err(mismatch("with an unknown handshake (bad magic)".into()));
    }
    if handshake.abi_version != ABI_VERSION {
        return Err(mismatch(format!(
            "against relive ABI version {}, but this host speaks version {ABI_VERSION}",
            handshake.abi_version
        )));
    }
    if handshake.rustc() != HOST_RUSTC {
        return Err(mismatch(format!(
            "by `{}`, but the host was built by `{HOST_RUSTC}`",
            handshake.rustc()
        )));
    }
    if handshake.relive_version() != HOST_RELIVE {
        return Err(mismatch(format!(
            "against relive {}, but this host is relive {HOST_RELIVE}",
            handshake.relive_version()
        )));
    }
    if handshake.panics_abort() {
        return Err(LoadError::PanicAbort {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

fn host_architecture() -> object::Architecture {
    use object::Architecture as A;
    match std::env::consts::ARCH {
        "x86_64" => A::X86_64,
        "aarch64" => A::Aarch64,
        "x86" => A::I386,
        "arm" => A::Arm,
        "riscv64" => A::Riscv64,
        _ => A::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_shared_object() {
        let path = Path::new("lib.so");
        let err = inspect(path, b"just some text").expect_err("text is refused");
        assert!(matches!(err, LoadError::NotSharedObject { .. }), "{err}");
        let err = inspect(path, &[]).expect_err("empty is refused");
        assert!(matches!(err, LoadError::NotSharedObject { .. }), "{err}");
    }

    /// The C library this test runs with, found in its own mappings.
    fn libc_bytes() -> Vec<u8> {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("own mappings");
        let path = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| {
                Path::new(p)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
            })
            .expect("this test process maps a libc.so");
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    #[test]
    fn refuses_a_library_without_handshake_and_a_truncated_one() {
        // The C library is a shared object for this machine without a handshake.
        let bytes = libc_bytes();
        let err = inspect(Path::new("libc.so.6"), &bytes).expect_err("no handshake");
        assert!(matches!(err, LoadError::NoHandshake { .. }), "{err}");
        let err = inspect(Path::new("libc.so.6"), &bytes[..bytes.len() / 2]).expect_err("cut");
        assert!(matches!(err, LoadError::NotSharedObject { .. }), "{err}");
    }

    fn ours() -> Handshake {
        Handshake::new(HOST_RUSTC, HOST_RELIVE, "app::All", 0)
    }

    #[test]
    fn accepts_a_handshake_of_this_host() {
        check(Path::new("app.so"), &ours()).expect("a matching handshake");
    }

    #[test]
    fn refuses_a_library_of_another_relive_version() {
        let other = Handshake::new(HOST_RUSTC, "0.0.1-other", "app::All", 0);
        let err = check(Path::new("app.so"), &other).expect_err("another relive");
        assert!(matches!(err, LoadError::Mismatch { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("relive 0.0.1-other"), "{text}");
        assert!(
            text.contains(&format!("host is relive {HOST_RELIVE}")),
            "{text}"
        );
    }

    #[test]
    fn refuses_a_library_built_with_panic_abort() {
        let abort = Handshake {
            flags: relive_abi::FLAG_PANIC_ABORT,
            ..ours()
        };
        let err = check(Path::new("app.so"), &abort).expect_err("panic = abort");
        assert!(matches!(err, LoadError::PanicAbort { .. }), "{err}");
        assert!(err.to_string().contains("panic = \"unwind\""), "{err}");
    }
}
