//! Watches files with the OS file watcher and reports which paths changed;
//! the mechanism only, with no policy about when to act on a change.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::inputs::{WatchDir, is_hidden};

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
    if is_not_found(err) {
        "check that the directory exists"
    } else {
        LIMITS_HINT
    }
}

/// What the source watch saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A file or directory was created, written, removed or renamed.
    Path(PathBuf),
    /// The kernel's event queue overflowed: anything may have changed.
    Overflow,
}

/// A watch over a set of directories that can be changed while it runs;
/// dropping it stops watching.
pub struct SourceWatch {
    watcher: RecommendedWatcher,
    /// The directories watched now, and how.
    watched: Vec<(PathBuf, RecursiveMode)>,
}

impl fmt::Debug for SourceWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceWatch")
            .field("watched", &self.watched)
            .finish_non_exhaustive()
    }
}

/// Starts a watch that watches nothing yet and calls `on_change` for each
/// create, modify, remove or rename (not for reads) in the directories it is
/// then told to watch. It reports every path: which ones matter is the
/// caller's policy.
pub fn watch_sources(
    on_change: impl Fn(Change) + Send + 'static,
) -> Result<SourceWatch, WatchError> {
    let handler = move |event: notify::Result<Event>| {
        let Ok(event) = event else { return };
        if event.need_rescan() {
            on_change(Change::Overflow);
            return;
        }
        if matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
        ) {
            for path in event.paths {
                on_change(Change::Path(path));
            }
        }
    };
    let watcher =
        notify::recommended_watcher(handler).map_err(|cause| WatchError::Start { cause })?;
    Ok(SourceWatch {
        watcher,
        watched: Vec::new(),
    })
}

impl SourceWatch {
    /// Watches the folders `dirs` with everything below them except what is
    /// under `ignore` (the target folder) and hidden directories, instead of
    /// what was watched before. Returns how many directories are watched.
    ///
    /// Ignored and hidden directories that exist now are not watched at all,
    /// so they cost no inotify watches; as a result, a new directory created
    /// later next to one of them (directly in a directory that contains an
    /// ignored or hidden one) is not watched either.
    pub fn watch_folders(
        &mut self,
        dirs: &[PathBuf],
        ignore: &[PathBuf],
    ) -> Result<usize, WatchError> {
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
        let mut wanted = Vec::new();
        for root in &roots {
            if !ignore.iter().any(|i| root.starts_with(i)) {
                plan_tree(root, &ignore, true, &mut wanted)?;
            }
        }
        self.apply(wanted)
    }

    /// Watches `dirs` (the directories that hold the build's inputs) instead
    /// of what was watched before; a directory that does not exist is
    /// skipped. Returns how many directories are watched. On an error (the
    /// inotify limit), the directories added before it stay watched.
    pub fn watch_dirs(&mut self, dirs: &[WatchDir]) -> Result<usize, WatchError> {
        let wanted = dirs
            .iter()
            .map(|d| {
                let mode = if d.recursive {
                    RecursiveMode::Recursive
                } else {
                    RecursiveMode::NonRecursive
                };
                (d.path.clone(), mode)
            })
            .collect();
        self.apply(wanted)
    }

    /// Stops the watches not in `wanted` and starts the new ones, skipping
    /// directories that do not exist (any more).
    fn apply(&mut self, wanted: Vec<(PathBuf, RecursiveMode)>) -> Result<usize, WatchError> {
        for (dir, mode) in std::mem::take(&mut self.watched) {
            if wanted.contains(&(dir.clone(), mode)) {
                self.watched.push((dir, mode));
            } else {
                // A directory that is gone has lost its watch already.
                let _ = self.watcher.unwatch(&dir);
            }
        }
        for (dir, mode) in wanted {
            if self.watched.contains(&(dir.clone(), mode)) {
                continue;
            }
            match self.watcher.watch(&dir, mode) {
                Ok(()) => self.watched.push((dir, mode)),
                Err(e) if is_not_found(&e) => {}
                Err(cause) => return Err(WatchError::Watch { path: dir, cause }),
            }
        }
        Ok(self
            .watched
            .iter()
            .map(|(dir, mode)| match mode {
                RecursiveMode::Recursive => count_dirs(dir),
                RecursiveMode::NonRecursive => 1,
            })
            .sum())
    }
}

fn is_not_found(err: &notify::Error) -> bool {
    match &err.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => io.kind() == io::ErrorKind::NotFound,
        _ => false,
    }
}

/// How many directories a recursive watch of `dir` covers (one inotify
/// watch each).
fn count_dirs(dir: &Path) -> usize {
    let subdirs: usize = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| count_dirs(&e.path()))
        .sum();
    1 + subdirs
}

/// Plans a recursive watch of `dir` if nothing under it must be skipped;
/// otherwise a watch of it alone and of each of its subdirectories that is
/// neither hidden nor ignored, planned the same way.
fn plan_tree(
    dir: &Path,
    ignore: &[PathBuf],
    top: bool,
    wanted: &mut Vec<(PathBuf, RecursiveMode)>,
) -> Result<(), WatchError> {
    let mut subdirs = Vec::new();
    let mut split = ignore.iter().any(|i| i != dir && i.starts_with(dir));
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // A subdirectory that vanished while we walked is simply not watched.
        Err(e) if !top && e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(WatchError::Watch {
                path: dir.to_path_buf(),
                cause: notify::Error::io(e),
            });
        }
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
    wanted.push((dir.to_path_buf(), mode));
    if split {
        for sub in subdirs {
            plan_tree(&sub, ignore, false, wanted)?;
        }
    }
    Ok(())
}

/// Makes `path` absolute with symlinks resolved as far as it exists, so it compares
/// equal to the paths the watcher reports even if it does not exist yet.
pub fn normalize(path: &Path) -> PathBuf {
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

    /// A source watch whose changes go to a channel.
    fn watch_into_channel() -> (SourceWatch, mpsc::Receiver<Change>) {
        let (tx, rx) = mpsc::channel();
        let watch = watch_sources(move |change| {
            let _ = tx.send(change);
        })
        .expect("watch");
        (watch, rx)
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
        let (mut watch, rx) = watch_into_channel();
        let dirs = watch
            .watch_folders(&[tmp.path().to_path_buf()], &[])
            .expect("watch folders");
        assert_eq!(dirs, 2, "the folder and src");
        fs::write(tmp.path().join("src/lib.rs"), "fn main() {}").expect("write");
        let got = rx.recv_timeout(DEADLINE).expect("an event within 5 s");
        assert_eq!(got, Change::Path(canon(tmp.path()).join("src/lib.rs")));
    }

    #[test]
    fn ignored_and_hidden_folders_are_not_watched() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for dir in ["src", "target/debug", ".git"] {
            fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        let (mut watch, rx) = watch_into_channel();
        let dirs = watch
            .watch_folders(&[root.to_path_buf()], &[root.join("target")])
            .expect("watch folders");
        assert_eq!(dirs, 2, "the folder and src");
        fs::write(root.join("target/debug/libapp.so"), "x").expect("write ignored");
        fs::create_dir_all(root.join("target/debug/deps")).expect("mkdir ignored");
        fs::write(root.join(".git/index"), "x").expect("write hidden");
        fs::write(root.join("src/real.rs"), "x").expect("write real");
        let got = rx.recv_timeout(DEADLINE).expect("an event within 5 s");
        assert_eq!(got, Change::Path(canon(root).join("src/real.rs")));
    }

    #[test]
    fn watching_other_dirs_replaces_the_folders() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = canon(tmp.path());
        for dir in ["src", "saves", "data"] {
            fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        let (mut watch, rx) = watch_into_channel();
        watch
            .watch_folders(std::slice::from_ref(&root), &[])
            .expect("watch folders");
        let dirs = watch
            .watch_dirs(&[
                WatchDir {
                    path: root.join("src"),
                    recursive: true,
                },
                WatchDir {
                    path: root.clone(),
                    recursive: false,
                },
                WatchDir {
                    path: root.join("gone"),
                    recursive: false,
                },
            ])
            .expect("watch dirs");
        assert_eq!(
            dirs, 2,
            "src and the folder; a missing directory is skipped"
        );
        fs::write(root.join("saves/slot.json"), "x").expect("write unwatched");
        fs::write(root.join("data/v.txt"), "x").expect("write unwatched");
        fs::create_dir(root.join("src/extra")).expect("mkdir in a recursive watch");
        assert_eq!(
            rx.recv_timeout(DEADLINE).expect("an event within 5 s"),
            Change::Path(root.join("src/extra"))
        );
        fs::write(root.join("src/extra/mod.rs"), "x").expect("write in the new dir");
        assert_eq!(
            rx.recv_timeout(DEADLINE).expect("an event within 5 s"),
            Change::Path(root.join("src/extra/mod.rs"))
        );
    }

    #[test]
    fn missing_dir_is_an_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("nope");
        let (mut watch, _rx) = watch_into_channel();
        let err = watch.watch_folders(&[missing], &[]).expect_err("must fail");
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
