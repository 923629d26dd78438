//! Persistent mode, the supervisor's side: an app built as a `dylib` on top
//! of `dylib` crates of its workspace (which re-export windowing, GPU or
//! audio crates). relive builds it with `-C prefer-dynamic` into its own
//! target subfolder (`target/relive-persistent`, so the user's own builds in
//! `target/` are never invalidated by other flags), finds the libraries that
//! must stay loaded (std's `libstd-*.so` and the persistent crates the app
//! library names in its `NEEDED` entries), copies them once per runner into
//! the private folder and tells the runner to load them before the first
//! generation. A change to one of them cannot be swapped in: the session
//! restarts the runner on the new build.

use std::collections::HashMap;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_metadata::{CrateType, DependencyKind, Metadata, PackageId};

/// The folder under the target directory that persistent builds use.
pub const TARGET_SUBDIR: &str = "relive-persistent";

/// The `dylib` crates of the workspace (local packages) that `pkg` depends
/// on directly with a normal dependency.
pub fn dylib_dependencies(
    metadata: &Metadata,
    by_id: &HashMap<&PackageId, &cargo_metadata::Package>,
    pkg: &cargo_metadata::Package,
) -> Vec<String> {
    let Some(node) = metadata
        .resolve
        .as_ref()
        .and_then(|r| r.nodes.iter().find(|n| n.id == pkg.id))
    else {
        return Vec::new();
    };
    node.deps
        .iter()
        .filter(|d| {
            d.dep_kinds.is_empty() || d.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal)
        })
        .filter_map(|d| by_id.get(&d.pkg))
        .filter(|p| p.source.is_none())
        .filter(|p| {
            p.targets
                .iter()
                .any(|t| t.crate_types.contains(&CrateType::DyLib))
        })
        .map(|p| p.name.to_string())
        .collect()
}

/// Adds what a persistent build needs to `cmd` (a `cargo build`): its own
/// target folder under `target_dir`, and `-C prefer-dynamic` on top of the
/// user's flags. With `RUSTFLAGS` set cargo reads no configured flags, so
/// the flag is appended to it; otherwise it is given as `--config
/// build.rustflags`, which cargo joins to the configured ones.
pub fn configure_build(cmd: &mut Command, target_dir: &Path) {
    cmd.arg("--target-dir").arg(target_dir.join(TARGET_SUBDIR));
    match std::env::var_os("RUSTFLAGS") {
        Some(flags) => {
            let mut flags: OsString = flags;
            flags.push(" -C prefer-dynamic");
            cmd.env("RUSTFLAGS", flags);
        }
        None => {
            cmd.arg("--config")
                .arg("build.rustflags=[\"-C\", \"prefer-dynamic\"]");
        }
    }
}

/// The shared library of std of the toolchain that cargo builds with.
pub fn std_library() -> Result<PathBuf, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let run = |args: &[&str]| -> Result<String, String> {
        let out = Command::new(&rustc).args(args).output().map_err(|e| {
            format!(
                "cannot run `{} {}`: {e}",
                rustc.to_string_lossy(),
                args.join(" ")
            )
        })?;
        if !out.status.success() {
            return Err(format!(
                "`{} {}` failed: {}",
                rustc.to_string_lossy(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let sysroot = run(&["--print", "sysroot"])?;
    let version = run(&["-vV"])?;
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or_else(|| format!("`rustc -vV` names no host: {version}"))?;
    let dir = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(host)
        .join("lib");
    let found = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("libstd-") && n.ends_with(std::env::consts::DLL_SUFFIX)
            })
        });
    found.ok_or_else(|| {
        format!(
            "the toolchain has no shared std in {}; persistent mode needs it (a rustup toolchain has it)",
            dir.display()
        )
    })
}

/// The libraries to keep loaded for the app library `artifact`, in load
/// order: `std` first, then each persistent crate after those it needs.
/// A `NEEDED` entry found next to the artifact (or in its `deps` folder) is
/// a persistent crate; others are system libraries the loader finds itself.
pub fn libraries(artifact: &Path, std: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = artifact.parent().unwrap_or(Path::new("."));
    let std_name = std.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut order = vec![std.to_path_buf()];
    let mut visiting = Vec::new();
    visit(
        artifact,
        dir,
        std_name.as_deref(),
        &mut order,
        &mut visiting,
    )?;
    // The artifact itself is last in `order`: it is the reloaded library.
    order.retain(|p| p != artifact);
    Ok(order)
}

fn visit(
    lib: &Path,
    dir: &Path,
    std_name: Option<&str>,
    order: &mut Vec<PathBuf>,
    visiting: &mut Vec<PathBuf>,
) -> Result<(), String> {
    if order.iter().any(|p| p == lib) || visiting.iter().any(|p| p == lib) {
        return Ok(());
    }
    visiting.push(lib.to_path_buf());
    let bytes = std::fs::read(lib).map_err(|e| format!("cannot read {}: {e}", lib.display()))?;
    let needed =
        relive_host::preload::needed(&bytes).map_err(|e| format!("{}: {e}", lib.display()))?;
    for name in needed {
        if Some(name.as_str()) == std_name {
            continue;
        }
        if name.starts_with("libstd-") {
            return Err(format!(
                "{} needs {name}, but the toolchain's std is {}; rebuild it with the same toolchain",
                lib.display(),
                std_name.unwrap_or("missing")
            ));
        }
        let local = [dir.join(&name), dir.join("deps").join(&name)]
            .into_iter()
            .find(|p| p.is_file());
        if let Some(local) = local {
            visit(&local, dir, std_name, order, visiting)?;
        }
    }
    visiting.pop();
    order.push(lib.to_path_buf());
    Ok(())
}

/// The identity of the persistent crates' files (std left out: the
/// handshake already pins the compiler): name, inode, size and time of
/// each. Cheap to take at every reload; when it differs, [`fingerprint`]
/// tells whether the bytes did.
pub fn identity(libraries: &[PathBuf]) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for lib in libraries.iter().skip(1) {
        lib.file_name().hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(lib) {
            (meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec()).hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// A fingerprint of the persistent crates' bytes (std left out), to tell
/// whether they changed: a crate relinked to the same bytes did not.
pub fn fingerprint(libraries: &[PathBuf]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for lib in libraries.iter().skip(1) {
        lib.file_name().hash(&mut hasher);
        std::fs::read(lib).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

/// Copies `libraries` into `persistent-<epoch>` in the private folder,
/// under their own file names (their sonames, which the app library's
/// `NEEDED` entries name), and returns the copies in the same order.
pub fn stage(staging: &Path, epoch: u64, libraries: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let dir = staging.join(format!("persistent-{epoch}"));
    std::fs::create_dir_all(&dir)?;
    libraries
        .iter()
        .map(|lib| {
            let copy = dir.join(lib.file_name().unwrap_or(lib.as_os_str()));
            std::fs::copy(lib, &copy)?;
            Ok(copy)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toolchain_has_a_shared_std() {
        let std = std_library().expect("a rustup toolchain");
        let name = std.file_name().expect("file name").to_string_lossy();
        assert!(
            name.starts_with("libstd-") && name.ends_with(".so"),
            "{name}"
        );
        assert!(std.is_file());
    }

    #[test]
    fn a_library_without_local_needs_preloads_only_std() {
        let std = std_library().expect("a rustup toolchain");
        let exe = std::env::current_exe().expect("own exe");
        let libs = libraries(&exe, &std).expect("readable");
        assert_eq!(libs, vec![std]);
    }
}
