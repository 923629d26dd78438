//! Persistent mode: the libraries that stay loaded for the life of the
//! process (the toolchain's `libstd-*.so` and the app's persistent `dylib`
//! crates, which re-export windowing, GPU or audio crates), loaded once
//! before the first generation and never closed.
//!
//! They are opened with `RTLD_NOW | RTLD_GLOBAL`: each app generation
//! (opened `RTLD_LOCAL` from a private copy in another folder) names them
//! in its `NEEDED` entries by soname (`libstd-<hash>.so`, `libdeps.so`), and
//! glibc satisfies a `NEEDED` name with an object already loaded under that
//! soname before it searches any folder, so the copy finds them without a
//! search path. Values they made (a window, a device) stay valid across
//! reloads because their code never goes away.

use std::path::{Path, PathBuf};

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};

/// A persistent library that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot load the persistent library {path}: {cause}; \
     check that it was built with `-C prefer-dynamic` by the toolchain relive was built with"
)]
pub struct PreloadError {
    /// The library file.
    pub path: PathBuf,
    /// What `dlopen` said.
    pub cause: String,
}

/// Loads `paths` in order (std's shared library first, then each persistent
/// crate after the ones it depends on) and keeps them loaded for the life
/// of the process.
///
/// # Safety
/// Loading a library runs its initialisers: each path must be a library
/// built for this process (std of the toolchain that built the app, or a
/// persistent crate of the app) whose initialisers are sound to run here.
pub unsafe fn load_for_ever(paths: &[PathBuf]) -> Result<(), PreloadError> {
    for path in paths {
        // SAFETY: the caller vouches for the library's initialisers.
        unsafe { load_one(path) }?;
    }
    Ok(())
}

/// # Safety
/// As [`load_for_ever`].
unsafe fn load_one(path: &Path) -> Result<(), PreloadError> {
    // SAFETY: the caller vouches for the library's initialisers; `RTLD_NOW`
    // resolves every symbol now, so no later call stalls or fails lazily.
    let library =
        unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }.map_err(|e| PreloadError {
            path: path.to_path_buf(),
            cause: e.to_string(),
        })?;
    // Never closed: values of every generation point into its code.
    let _handle = library.into_raw();
    Ok(())
}

/// The `NEEDED` entries of the shared object in `bytes` (the libraries it
/// names by soname, e.g. `libstd-<hash>.so`, `libdeps.so`, `libc.so.6`).
pub fn needed(bytes: &[u8]) -> Result<Vec<String>, String> {
    use object::read::elf::ElfFile64;
    let elf = ElfFile64::<object::Endianness>::parse(bytes)
        .map_err(|e| format!("not a 64-bit ELF shared object ({e})"))?;
    let table = elf
        .elf_section_table()
        .dynamic_table(elf.endian(), bytes)
        .map_err(|e| format!("unreadable dynamic section ({e})"))?;
    let mut out = Vec::new();
    for entry in table.iter().filter(|d| d.tag == object::elf::DT_NEEDED) {
        let name = table
            .string(entry)
            .map_err(|e| format!("unreadable NEEDED entry ({e})"))?;
        out.push(String::from_utf8_lossy(name).into_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_entries_are_read_from_the_dynamic_section() {
        let exe = std::fs::read("/proc/self/exe").expect("own executable");
        let names = needed(&exe).expect("an ELF file");
        assert!(names.iter().any(|n| n.starts_with("libc.so")), "{names:?}");
        assert!(needed(b"not elf").is_err());
    }

    #[test]
    fn a_missing_library_is_an_error_that_names_it() {
        let path = PathBuf::from("/nonexistent/libdeps.so");
        // SAFETY: the file does not exist, so no initialiser runs.
        let err = unsafe { load_for_ever(std::slice::from_ref(&path)) }.expect_err("missing");
        assert_eq!(err.path, path);
        assert!(err.to_string().contains("/nonexistent/libdeps.so"), "{err}");
    }
}
