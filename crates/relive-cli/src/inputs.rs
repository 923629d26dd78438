//! Decides which changed paths are inputs of the build, and which directories
//! must be watched to see them: a pure policy with no file system access.
//!
//! Before the first build there is no list of inputs, and the whole package
//! folders count ([`WatchSet::Folders`]), minus the target folder, hidden
//! files and editor temp files. After a build, cargo's dep-info and the build
//! files around it are the inputs ([`WatchSet::Inputs`]): a change to any other
//! file never starts a build, so an app that writes a log or a save file next
//! to its `Cargo.toml` does not rebuild itself. Two kinds of files that are not
//! listed yet still count, because the next build may read them: a new `.rs`
//! file in a directory of sources or a new directory below one (a new
//! module), and anything under a directory that a build script named in
//! `rerun-if-changed`.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// A directory to watch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchDir {
    /// The directory.
    pub path: PathBuf,
    /// Watch its subdirectories too.
    pub recursive: bool,
}

/// What counts as an input now.
#[derive(Debug, Clone)]
pub enum WatchSet {
    /// Everything under the package folders (before the first build).
    Folders {
        /// The watched folders.
        roots: Vec<PathBuf>,
        /// Paths whose changes never count (the target folder, the events log).
        ignore: Vec<PathBuf>,
    },
    /// The files cargo's last build read.
    Inputs(Inputs),
}

impl WatchSet {
    /// Whether a change of `path` may change what cargo builds.
    pub fn is_input(&self, path: &Path) -> bool {
        match self {
            WatchSet::Folders { roots, ignore } => in_folders(path, roots, ignore),
            WatchSet::Inputs(inputs) => inputs.is_input(path),
        }
    }
}

/// The inputs of the last build and the directories that hold them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// Files the build read, or that would change it if they changed or appeared.
    files: HashSet<PathBuf>,
    /// Directories named as inputs: everything under them counts.
    trees: Vec<PathBuf>,
    /// Directories of sources watched with their subdirectories: a new `.rs`
    /// file anywhere under them counts.
    source_trees: Vec<PathBuf>,
    /// Directories holding a `.rs` input watched alone: a new `.rs` file
    /// directly in them counts.
    source_dirs: HashSet<PathBuf>,
    /// Paths whose changes never count.
    ignore: Vec<PathBuf>,
    /// The directories to watch, sorted.
    plan: Vec<WatchDir>,
}

impl Inputs {
    /// The inputs made of `files` (cargo's dep-info and the manifests, lock
    /// files, build scripts and cargo configuration around the package) and
    /// `trees` (listed paths that are directories), minus anything under
    /// `ignore` (the target folder: what a build writes is not an input).
    ///
    /// A directory holding a `.rs` input is watched with its subdirectories
    /// (so a new module directory is seen), unless it holds a `Cargo.toml`
    /// input (a package folder, where apps write their files) or contains a
    /// package folder or an ignored path; then it is watched alone, like the
    /// directory of every other input.
    pub fn new(files: Vec<PathBuf>, trees: Vec<PathBuf>, ignore: Vec<PathBuf>) -> Inputs {
        let under_ignored = |p: &Path| ignore.iter().any(|i| p.starts_with(i));
        let files: HashSet<PathBuf> = files.into_iter().filter(|f| !under_ignored(f)).collect();
        let trees = outermost(trees.into_iter().filter(|t| !under_ignored(t)).collect());
        let package_dirs: Vec<&Path> = files
            .iter()
            .filter(|f| f.file_name() == Some(OsStr::new("Cargo.toml")))
            .filter_map(|f| f.parent())
            .collect();
        let mut source_dirs = HashSet::new();
        let mut source_trees = Vec::new();
        let mut single = HashSet::new();
        for file in &files {
            let Some(dir) = file.parent() else { continue };
            if !is_rust(file) {
                single.insert(dir.to_path_buf());
                continue;
            }
            let holds_package = package_dirs.iter().any(|p| p.starts_with(dir));
            let holds_ignored = ignore.iter().any(|i| i.starts_with(dir));
            if holds_package || holds_ignored {
                single.insert(dir.to_path_buf());
                source_dirs.insert(dir.to_path_buf());
            } else {
                source_trees.push(dir.to_path_buf());
            }
        }
        let source_trees = outermost(source_trees);
        let recursive = outermost(trees.iter().chain(&source_trees).cloned().collect());
        let covered = |dir: &Path| recursive.iter().any(|r| dir.starts_with(r));
        let mut plan: Vec<WatchDir> = recursive
            .iter()
            .map(|path| WatchDir {
                path: path.clone(),
                recursive: true,
            })
            .chain(
                single
                    .into_iter()
                    .filter(|d| !covered(d))
                    .map(|path| WatchDir {
                        path,
                        recursive: false,
                    }),
            )
            .collect();
        plan.sort();
        plan.dedup();
        Inputs {
            files,
            trees,
            source_trees,
            source_dirs,
            ignore,
            plan,
        }
    }

    /// The directories to watch to see every change that counts.
    pub fn plan(&self) -> &[WatchDir] {
        &self.plan
    }

    /// How many files are listed as inputs.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether a change of `path` may change what cargo builds.
    pub fn is_input(&self, path: &Path) -> bool {
        if self.ignore.iter().any(|i| path.starts_with(i)) {
            return false;
        }
        if self.files.contains(path) {
            return true;
        }
        let visible_under = |dir: &Path| match path.strip_prefix(dir) {
            Ok(rest) => !has_hidden_or_temp(rest),
            Err(_) => false,
        };
        if self.trees.iter().any(|t| visible_under(t)) {
            return true;
        }
        // A new module: a `.rs` file next to the sources, or below them; and
        // below them a new directory (a name without extension), which may
        // hold one that was written before its directory was watched.
        let next_to_sources = path
            .parent()
            .is_some_and(|dir| self.source_dirs.contains(dir) && visible_under(dir));
        let in_source_tree = self.source_trees.iter().any(|t| visible_under(t));
        (is_rust(path) && (next_to_sources || in_source_tree))
            || (in_source_tree && path.extension().is_none())
    }
}

/// Keeps the paths that are not inside another one, sorted, each once.
fn outermost(mut paths: Vec<PathBuf>) -> Vec<PathBuf> {
    paths.sort();
    paths.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for path in paths {
        // Sorted: a path's ancestors come before it.
        if !kept.iter().any(|k| path.starts_with(k)) {
            kept.push(path);
        }
    }
    kept
}

fn is_rust(path: &Path) -> bool {
    path.extension() == Some(OsStr::new("rs"))
}

/// Whether a changed `path` under the package folders counts: not under
/// `ignore`, not hidden below its watched folder (which may itself be
/// hidden), and not an editor's temp file.
fn in_folders(path: &Path, roots: &[PathBuf], ignore: &[PathBuf]) -> bool {
    if ignore.iter().any(|i| path.starts_with(i)) {
        return false;
    }
    let relative = roots
        .iter()
        .filter_map(|r| path.strip_prefix(r).ok())
        .min_by_key(|rel| rel.components().count());
    let checked = relative.unwrap_or_else(|| Path::new(path.file_name().unwrap_or_default()));
    !has_hidden_or_temp(checked)
}

/// Whether a relative path has a hidden component or names an editor temp file.
fn has_hidden_or_temp(relative: &Path) -> bool {
    let hidden = relative
        .components()
        .any(|c| matches!(c, Component::Normal(name) if is_hidden(name)));
    hidden
        || relative
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_editor_temp)
}

/// Whether a file or directory name is hidden (starts with a dot).
pub fn is_hidden(name: &OsStr) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn folder_relevance() {
        let set = WatchSet::Folders {
            roots: vec![p("/w/.hidden-root/app"), p("/w/dep")],
            ignore: vec![p("/w/.hidden-root/app/target")],
        };
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
            assert_eq!(set.is_input(Path::new(path)), want, "{path}");
        }
    }

    /// A hidden app with an `include_str!` file, a build script, a local
    /// dependency with a module directory, a `rerun-if-changed` directory and
    /// its target folder inside the package.
    fn hidden_app() -> Inputs {
        let files = [
            "/h/.app/Cargo.toml",
            "/h/.app/Cargo.lock",
            "/h/.app/build.rs",
            "/h/.app/src/lib.rs",
            "/h/.app/src/world/mod.rs",
            "/h/.app/data/version.txt",
            "/h/.app/target/debug/build/app-1/out/gen.rs",
            "/h/.app/.cargo/config.toml",
            "/r/Cargo.toml",
            "/r/crates/dep/Cargo.toml",
            "/r/crates/dep/src/lib.rs",
            "/r/crates/dep/src/inner/deep.rs",
            "/r/crates/dep/lib_at_root.rs",
        ];
        Inputs::new(
            files.iter().map(|f| p(f)).collect(),
            vec![p("/h/.app/shaders"), p("/h/.app/shaders/sub")],
            vec![p("/h/.app/target"), p("/h/.app/events.jsonl")],
        )
    }

    #[test]
    fn inputs_are_what_cargo_read_and_new_modules() {
        let inputs = hidden_app();
        let cases = [
            // Listed inputs, hidden or not.
            ("/h/.app/src/lib.rs", true),
            ("/h/.app/src/world/mod.rs", true),
            ("/h/.app/data/version.txt", true),
            ("/h/.app/Cargo.toml", true),
            ("/h/.app/Cargo.lock", true),
            ("/h/.app/build.rs", true),
            ("/h/.app/.cargo/config.toml", true),
            ("/r/crates/dep/src/lib.rs", true),
            // The app's own files next to its inputs.
            ("/h/.app/app.log", false),
            ("/h/.app/saves/slot.json", false),
            ("/h/.app/data/screenshot.png", false),
            ("/h/.app/src/notes.txt", false),
            ("/h/.app/events.jsonl", false),
            // Build output, even if a build read it.
            ("/h/.app/target/debug/build/app-1/out/gen.rs", false),
            ("/h/.app/target/debug/libapp.so", false),
            // New modules, in the source tree or a new directory of it.
            ("/h/.app/src/extra.rs", true),
            ("/h/.app/src/extra/mod.rs", true),
            ("/r/crates/dep/src/inner/new.rs", true),
            ("/h/.app/src/extra", true),
            ("/h/.app/src/.git", false),
            ("/h/.app/saves", false),
            ("/h/.app/NOTES", false),
            // A new `.rs` next to a source that sits in a package folder.
            ("/r/crates/dep/other.rs", true),
            ("/h/.app/other.rs", true),
            // Editors' temp files are not modules.
            ("/h/.app/src/.lib.rs.swp", false),
            ("/h/.app/src/lib.rs~", false),
            ("/h/.app/src/.hidden/x.rs", false),
            ("/h/.app/src/4913", false),
            // Anything in a `rerun-if-changed` directory.
            ("/h/.app/shaders/a.wgsl", true),
            ("/h/.app/shaders/sub/b.wgsl", true),
            ("/h/.app/shaders/.a.wgsl.swp", false),
            // Outside.
            ("/r/README.md", false),
            ("/r/crates/other/src/lib.rs", false),
            ("/elsewhere/lib.rs", false),
        ];
        for (path, want) in cases {
            assert_eq!(inputs.is_input(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn only_the_directories_holding_inputs_are_watched() {
        let dir = |path: &str, recursive| WatchDir {
            path: p(path),
            recursive,
        };
        assert_eq!(
            hidden_app().plan(),
            [
                dir("/h/.app", false),
                dir("/h/.app/.cargo", false),
                dir("/h/.app/data", false),
                dir("/h/.app/shaders", true),
                dir("/h/.app/src", true),
                dir("/r", false),
                dir("/r/crates/dep", false),
                dir("/r/crates/dep/src", true),
            ]
        );
    }

    #[test]
    fn a_source_directory_holding_the_target_folder_is_watched_alone() {
        // `[lib] path = "lib.rs"` in a folder without its own manifest input.
        let inputs = Inputs::new(vec![p("/a/lib.rs")], vec![], vec![p("/a/target")]);
        assert_eq!(
            inputs.plan(),
            [WatchDir {
                path: p("/a"),
                recursive: false
            }]
        );
        assert!(inputs.is_input(Path::new("/a/extra.rs")));
        assert!(!inputs.is_input(Path::new("/a/saves/extra.rs")));
        assert!(!inputs.is_input(Path::new("/a/target/x.rs")));
    }
}
