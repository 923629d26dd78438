//! Watches files with the OS file watcher and reports which paths changed;
//! the mechanism only, with no policy about when to act on a change.

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// A running file watch; dropping it stops watching.
pub struct Watch {
    _watcher: RecommendedWatcher,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

/// The command that raises the inotify limits.
const LIMITS_HINT: &str = "if the inotify limits are too low, raise them with \
    `sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512`";

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The OS file watcher could not be created.
    #[error("could not start the file watcher: {}; {}", describe(.cause), LIMITS_HINT)]
    Start {
        /// What the watcher reported.
        cause: notify::Error,
    },
    /// A directory could not be added to the watch.
    #[error("could not watch {path}: {}; {}", describe(.cause), hint(.cause))]
    Watch {
        /// The directory that could not be watched.
        path: PathBuf,
        /// What the watcher reported.
        cause: notify::Error,
    },
    /// The directory of a file to watch did not exist and could not be created.
    #[error(
        "could not create {dir} to watch for {file} in it: {cause}; check the permissions of its parent"
    )]
    CreateDir {
        /// The directory that could not be created.
        dir: PathBuf,
        /// The file that was to be watched.
        file: PathBuf,
        /// Why creating it failed.
        cause: io::Error,
    },
    /// The path to watch has no file name.
    #[error("{path} does not name a file; pass the path of the file to watch")]
    NoFileName {
        /// The path that was given.
        path: PathBuf,
    },
}

/// A watcher error as a lowercase fragment.
fn describe(err: &notify::Error) -> String {
    match &err.kind {
        notify::ErrorKind::PathNotFound => "it does not exist".into(),
        notify::ErrorKind::MaxFilesWatch => "the inotify watch limit is reached".into(),
        notify::ErrorKind::Io(io) => io.to_string(),
        notify::ErrorKind::Generic(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

/// What to do about a failed watch.
fn hint(err: &notify::Error) -> &'static str {
    let not_found = match &err.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => io.kind() == io::ErrorKind::NotFound,
        _ => false,
    };
    if not_found {
        "check that the directory exists"
    } else {
        LIMITS_HINT
    }
}

/// Watches `dirs` recursively, ignoring anything under `ignore` (the target dir), hidden
/// files/dirs, editor temp files (`*~`, `*.swp`, `*.swx`, `4913`, `.#*`, `*.tmp`), and
/// Access events; calls `on_change(path)` for each create/modify/remove/rename of a
/// remaining file.
///
/// Ignored and hidden directories that exist when watching starts are not watched at
/// all, so they cost no inotify watches; as a result, a new directory created later
/// next to one of them (directly in a directory that contains an ignored or hidden
/// one) is not watched either. A kernel queue overflow is reported as a change of the
/// first directory in `dirs`.
pub fn watch_sources(
    dirs: &[PathBuf],
    ignore: &[PathBuf],
    on_change: impl Fn(PathBuf) + Send + 'static,
) -> Result<Watch, WatchError> {
    let ignore: Vec<PathBuf> = ignore.iter().map(|p| normalize(p)).collect();
    let mut roots = Vec::new();
    for dir in dirs {
        let root = dir.canonicalize().map_err(|e| WatchError::Watch {
            path: dir.clone(),
            cause: notify::Error::io(e),
        })?;
        if !roots.iter().any(|r: &PathBuf| root.starts_with(r)) {
            roots.retain(|r| !r.starts_with(&root));
            roots.push(root);
        }
    }

    let filter_roots = roots.clone();
    let filter_ignore = ignore.clone();
    let handler = move |event: notify::Result<Event>| {
        let Ok(event) = event else { return };
        if event.need_rescan() {
            if let Some(first) = filter_roots.first() {
                on_change(first.clone());
            }
            return;
        }
        if !matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
        ) {
            return;
        }
        for path in event.paths {
            if is_relevant(&path, &filter_roots, &filter_ignore) {
                on_change(path);
            }
        }
    };
    let mut watcher =
        notify::recommended_watcher(handler).map_err(|cause| WatchError::Start { cause })?;

    for root in &roots {
        if ignore.iter().any(|i| root.starts_with(i)) {
            continue;
        }
        add_tree(&mut watcher, root, &ignore, true)?;
    }
    Ok(Watch { _watcher: watcher })
}

/// Watches `dir` recursively if nothing under it must be skipped; otherwise watches it
/// alone and each of its subdirectories that is neither hidden nor ignored the same way.
fn add_tree(
    watcher: &mut RecommendedWatcher,
    dir: &Path,
    ignore: &[PathBuf],
    top: bool,
) -> Result<(), WatchError> {
    let fail = |cause| WatchError::Watch {
        path: dir.to_path_buf(),
        cause,
    };
    let mut subdirs = Vec::new();
    let mut split = ignore.iter().any(|i| i != dir && i.starts_with(dir));
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // A subdirectory that vanished while we walked is simply not watched.
        Err(e) if !top && e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(notify::Error::io(e))),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if is_hidden(&entry.file_name()) || ignore.iter().any(|i| path.starts_with(i)) {
            split = true;
        } else {
            subdirs.push(path);
        }
    }
    let mode = if split {
        RecursiveMode::NonRecursive
    } else {
        RecursiveMode::Recursive
    };
    match watcher.watch(dir, mode) {
        Ok(()) => {}
        Err(e) if !top && matches!(e.kind, notify::ErrorKind::PathNotFound) => return Ok(()),
        Err(e) => return Err(fail(e)),
    }
    if split {
        for sub in subdirs {
            add_tree(watcher, &sub, ignore, false)?;
        }
    }
    Ok(())
}

/// Whether a changed `path` should be reported.
fn is_relevant(path: &Path, roots: &[PathBuf], ignore: &[PathBuf]) -> bool {
    if ignore.iter().any(|i| path.starts_with(i)) {
        return false;
    }
    // Hidden-ness counts only below the watched directory, which may itself be hidden.
    let relative = roots
        .iter()
        .filter_map(|r| path.strip_prefix(r).ok())
        .min_by_key(|rel| rel.components().count());
    let checked = relative.unwrap_or_else(|| Path::new(path.file_name().unwrap_or_default()));
    let hidden = checked
        .components()
        .any(|c| matches!(c, Component::Normal(name) if is_hidden(name)));
    if hidden {
        return false;
    }
    match path.file_name().and_then(|n| n.to_str()) {
        Some(name) => !is_editor_temp(name),
        None => true,
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Files that editors write while saving, which are not sources.
fn is_editor_temp(name: &str) -> bool {
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name.starts_with(".#")
        || name == "4913"
}

/// Makes `path` absolute with symlinks resolved as far as it exists, so it compares
/// equal to the paths the watcher reports even if it does not exist yet.
fn normalize(path: &Path) -> PathBuf {
    if let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while let Some(parent) = existing.parent() {
        if let Some(name) = existing.file_name() {
            rest.push(name.to_os_string());
        }
        existing = parent;
        if let Ok(mut canonical) = existing.canonicalize() {
            canonical.extend(rest.iter().rev());
            return canonical;
        }
    }
    absolute
}

/// Watches one file that may not exist yet and is replaced by rename or hard link (cargo
/// and linkers do that): watches its parent directory non-recursively (creating it if
/// missing) and calls `on_change(settled)` for any event whose path has that file name,
/// except reads (loading the file must not look like a change), and on a kernel queue
/// overflow. `settled` is true when the event says the file is complete: it was renamed
/// or linked into place, or a writer closed it.
pub fn watch_file(
    path: &Path,
    on_change: impl Fn(bool) + Send + 'static,
) -> Result<Watch, WatchError> {
    let Some(name) = path.file_name().map(|n| n.to_os_string()) else {
        return Err(WatchError::NoFileName {
            path: path.to_path_buf(),
        });
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|cause| WatchError::CreateDir {
        dir: dir.clone(),
        file: path.to_path_buf(),
        cause,
    })?;
    let handler = move |event: notify::Result<Event>| {
        let Ok(event) = event else { return };
        let closed_after_write = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
        );
        let settled = closed_after_write
            || matches!(
                event.kind,
                EventKind::Create(_)
                    | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
            );
        let ours = event.need_rescan()
            || ((closed_after_write || !matches!(event.kind, EventKind::Access(_)))
                && event
                    .paths
                    .iter()
                    .any(|p| p.file_name() == Some(name.as_os_str())));
        if ours {
            on_change(settled);
        }
    };
    let mut watcher =
        notify::recommended_watcher(handler).map_err(|cause| WatchError::Start { cause })?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|cause| WatchError::Watch { path: dir, cause })?;
    Ok(Watch { _watcher: watcher })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::mpsc;
    use std::time::Duration;

    const DEADLINE: Duration = Duration::from_secs(5);

    fn canon(p: &Path) -> PathBuf {
        p.canonicalize().expect("canonicalize")
    }

    #[test]
    fn relevance_filter() {
        let roots = [
            PathBuf::from("/w/.hidden-root/app"),
            PathBuf::from("/w/dep"),
        ];
        let ignore = [PathBuf::from("/w/.hidden-root/app/target")];
        let cases = [
            ("/w/.hidden-root/app/src/lib.rs", true),
            ("/w/.hidden-root/app/Cargo.toml", true),
            ("/w/dep/src/x.rs", true),
            ("/w/.hidden-root/app/target/debug/libapp.so", false),
            ("/w/.hidden-root/app/target", false),
            ("/w/.hidden-root/app/.git/index", false),
            ("/w/dep/src/.lib.rs.swp", false),
            ("/w/dep/src/lib.rs.swp", false),
            ("/w/dep/src/lib.rs.swx", false),
            ("/w/dep/src/lib.rs~", false),
            ("/w/dep/src/4913", false),
            ("/w/dep/src/.#lib.rs", false),
            ("/w/dep/src/lib.rs.tmp", false),
            ("/w/dep/src/targets.rs", true),
            ("/elsewhere/file.rs", true),
            ("/elsewhere/.file.rs", false),
        ];
        for (path, want) in cases {
            assert_eq!(
                is_relevant(Path::new(path), &roots, &ignore),
                want,
                "{path}"
            );
        }
    }

    #[test]
    fn normalize_keeps_missing_tails() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("target/debug");
        assert_eq!(normalize(&missing), canon(tmp.path()).join("target/debug"));
    }

    #[test]
    fn written_source_reaches_the_callback() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(tmp.path().join("src")).expect("mkdir");
        let (tx, rx) = mpsc::channel();
        let _watch = watch_sources(&[tmp.path().to_path_buf()], &[], move |p| {
            let _ = tx.send(p);
        })
        .expect("watch");
        fs::write(tmp.path().join("src/lib.rs"), "fn main() {}").expect("write");
        let got = rx.recv_timeout(DEADLINE).expect("an event within 5 s");
        assert_eq!(got, canon(tmp.path()).join("src/lib.rs"));
    }

    #[test]
    fn ignored_hidden_and_temp_files_are_skipped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for dir in ["src", "target/debug", ".git"] {
            fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        let (tx, rx) = mpsc::channel();
        let _watch = watch_sources(&[root.to_path_buf()], &[root.join("target")], move |p| {
            let _ = tx.send(p);
        })
        .expect("watch");
        fs::write(root.join("target/debug/libapp.so"), "x").expect("write ignored");
        fs::create_dir_all(root.join("target/debug/deps")).expect("mkdir ignored");
        fs::write(root.join(".git/index"), "x").expect("write hidden");
        fs::write(root.join("src/.lib.rs.swp"), "x").expect("write swap");
        fs::write(root.join("src/lib.rs~"), "x").expect("write backup");
        fs::write(root.join("src/real.rs"), "x").expect("write real");
        let got = rx.recv_timeout(DEADLINE).expect("an event within 5 s");
        assert_eq!(got, canon(root).join("src/real.rs"));
    }

    #[test]
    fn target_created_after_start_is_ignored() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        let (tx, rx) = mpsc::channel();
        let _watch = watch_sources(&[root.to_path_buf()], &[root.join("target")], move |p| {
            let _ = tx.send(p);
        })
        .expect("watch");
        fs::create_dir_all(root.join("target/debug")).expect("mkdir target");
        fs::write(root.join("target/debug/out"), "x").expect("write ignored");
        fs::write(root.join("build.rs"), "x").expect("write real");
        let got = rx.recv_timeout(DEADLINE).expect("an event within 5 s");
        assert_eq!(got, canon(root).join("build.rs"));
    }

    #[test]
    fn missing_dir_is_an_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("nope");
        let err = watch_sources(&[missing], &[], |_| {}).expect_err("must fail");
        assert!(
            err.to_string().contains("check that the directory exists"),
            "{err}"
        );
    }

    #[test]
    fn watched_file_seen_when_renamed_or_linked_into_place() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out/debug");
        let lib = out.join("libapp.so");
        let (tx, rx) = mpsc::channel();
        let _watch = watch_file(&lib, move |settled| {
            let _ = tx.send(settled);
        })
        .expect("watch");
        assert!(out.is_dir(), "the parent directory is created");

        let staged = tmp.path().join("staged.so");
        fs::write(&staged, "v1").expect("write staged");
        fs::rename(&staged, &lib).expect("rename into place");
        assert!(
            rx.recv_timeout(DEADLINE).expect("rename seen within 5 s"),
            "a rename into place settles the file"
        );

        while rx.try_recv().is_ok() {}
        fs::remove_file(&lib).expect("remove");
        rx.recv_timeout(DEADLINE).expect("removal seen within 5 s");

        while rx.try_recv().is_ok() {}
        fs::write(&staged, "v2").expect("write staged");
        fs::hard_link(&staged, &lib).expect("link into place");
        rx.recv_timeout(DEADLINE)
            .expect("hard link seen within 5 s");
    }
}
