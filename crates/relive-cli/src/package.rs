//! Finds the package that `relive` should run: reads its cargo metadata, checks
//! that it is a `cdylib` (or, in persistent mode, a `dylib` on top of `dylib`
//! crates of its workspace) that depends on `relive`, and lists the
//! directories whose sources make up its build.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use cargo_metadata::{CrateType, DependencyKind, Metadata, MetadataCommand, PackageId};

/// The package to build, load and watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The package name, as given to `cargo build -p`.
    pub name: String,
    /// The crate name of the package's `cdylib` lib target (e.g. `my_app`).
    pub lib_name: String,
    /// The package's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// The package directory.
    pub root: PathBuf,
    /// The package directory and the directories of every local package it
    /// depends on (transitively), with no directory listed twice or inside
    /// another listed one.
    pub watch_dirs: Vec<PathBuf>,
    /// Where cargo puts build output (respects `CARGO_TARGET_DIR`).
    pub target_dir: PathBuf,
    /// Files that change what cargo builds besides the sources cargo lists
    /// after a build (see [`build_files`]).
    pub build_files: Vec<PathBuf>,
    /// Persistent mode: the package is a `dylib` whose dependencies include
    /// these `dylib` crates of the workspace; they and std's shared library
    /// stay loaded, only the app library reloads. Empty for a `cdylib`.
    pub persistent: Vec<String>,
}

/// Why the package to run could not be found.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The given path does not exist.
    #[error("{path} does not exist; pass the directory of a cargo package or its Cargo.toml")]
    NotFound {
        /// The path that was given.
        path: PathBuf,
    },
    /// The given directory has no `Cargo.toml`.
    #[error("no Cargo.toml in {dir}; pass the directory of a cargo package or its Cargo.toml")]
    NoManifest {
        /// The directory that was given.
        dir: PathBuf,
    },
    /// The given path is a file other than a `Cargo.toml`.
    #[error("{path} is not a Cargo.toml; pass the directory of a cargo package or its Cargo.toml")]
    NotAManifest {
        /// The file that was given.
        path: PathBuf,
    },
    /// The manifest is a virtual workspace, so there is no single package to run.
    #[error(
        "{manifest} is a virtual workspace, not a package; pass the path of the member to run: {}",
        members.join(", ")
    )]
    VirtualWorkspace {
        /// The workspace manifest.
        manifest: PathBuf,
        /// The workspace members, as `name (directory)`.
        members: Vec<String>,
    },
    /// The package has no lib target built as a `cdylib`.
    #[error(
        "package `{package}` ({manifest}) has no library with crate-type `cdylib`; \
         add `[lib] crate-type = [\"cdylib\"]` to its Cargo.toml"
    )]
    NotCdylib {
        /// The package name.
        package: String,
        /// The package manifest.
        manifest: PathBuf,
    },
    /// The package is a `dylib` without persistent `dylib` dependencies.
    #[error(
        "package `{package}` ({manifest}) is a `dylib` but depends on no `dylib` crate of its workspace; \
         use `crate-type = [\"cdylib\"]` (everything reloads), or move the crates that must stay loaded \
         (windowing, GPU, audio) into a `dylib` crate of the workspace that the app depends on \
         (persistent mode; `relive new --persistent NAME` makes such a workspace)"
    )]
    DylibWithoutPersistent {
        /// The package name.
        package: String,
        /// The package manifest.
        manifest: PathBuf,
    },
    /// The package does not depend on `relive`.
    #[error(
        "package `{package}` ({manifest}) does not depend on `relive`; \
         add `relive = ...` to [dependencies] in its Cargo.toml"
    )]
    NoRelive {
        /// The package name.
        package: String,
        /// The package manifest.
        manifest: PathBuf,
    },
    /// `cargo metadata` could not be run or reported an error.
    #[error(
        "`cargo metadata` failed for {manifest}; fix the error it reports and try again: {message}"
    )]
    Metadata {
        /// The manifest given to `cargo metadata`.
        manifest: PathBuf,
        /// What cargo said (or why it could not be run).
        message: String,
    },
}

/// Finds the package at `path`, a package directory or its `Cargo.toml`.
pub fn locate(path: &Path) -> Result<Package, PackageError> {
    let manifest = manifest_for(path)?;
    let metadata = MetadataCommand::new()
        .manifest_path(&manifest)
        .exec()
        .map_err(|err| PackageError::Metadata {
            manifest: manifest.clone(),
            message: metadata_message(err),
        })?;
    from_metadata(&metadata, &manifest)
}

/// Resolves `path` to a `Cargo.toml` that exists.
fn manifest_for(path: &Path) -> Result<PathBuf, PackageError> {
    if !path.exists() {
        return Err(PackageError::NotFound {
            path: path.to_path_buf(),
        });
    }
    if path.is_dir() {
        let manifest = path.join("Cargo.toml");
        if manifest.is_file() {
            Ok(manifest)
        } else {
            Err(PackageError::NoManifest {
                dir: path.to_path_buf(),
            })
        }
    } else if path.file_name().is_some_and(|name| name == "Cargo.toml") {
        Ok(path.to_path_buf())
    } else {
        Err(PackageError::NotAManifest {
            path: path.to_path_buf(),
        })
    }
}

/// Turns a `cargo metadata` failure into cargo's own words, on as few lines as it allows.
fn metadata_message(err: cargo_metadata::Error) -> String {
    match err {
        cargo_metadata::Error::CargoMetadata { stderr } => {
            let text = stderr.trim();
            text.strip_prefix("error: ").unwrap_or(text).to_string()
        }
        other => other.to_string(),
    }
}

/// Picks the package for `manifest` out of `metadata` and checks it.
fn from_metadata(metadata: &Metadata, manifest: &Path) -> Result<Package, PackageError> {
    let by_id: HashMap<&PackageId, &cargo_metadata::Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let wanted = manifest.canonicalize().ok();
    let root_pkg = metadata
        .resolve
        .as_ref()
        .and_then(|r| r.root.as_ref())
        .and_then(|id| by_id.get(id).copied())
        .or_else(|| {
            metadata.packages.iter().find(|p| {
                wanted.is_some() && p.manifest_path.as_std_path().canonicalize().ok() == wanted
            })
        });
    let Some(pkg) = root_pkg else {
        let members = metadata
            .workspace_members
            .iter()
            .filter_map(|id| by_id.get(id))
            .map(|p| format!("{} ({})", p.name, package_dir(p).display()))
            .collect();
        return Err(PackageError::VirtualWorkspace {
            manifest: manifest.to_path_buf(),
            members,
        });
    };
    let manifest_path = pkg.manifest_path.clone().into_std_path_buf();
    let name = pkg.name.to_string();

    let lib = pkg
        .targets
        .iter()
        .find(|t| t.crate_types.contains(&CrateType::CDyLib));
    let dylib = pkg
        .targets
        .iter()
        .find(|t| t.crate_types.contains(&CrateType::DyLib));
    let persistent = match (lib, dylib) {
        (None, Some(_)) => {
            let found = crate::persistent::dylib_dependencies(metadata, &by_id, pkg);
            if found.is_empty() {
                return Err(PackageError::DylibWithoutPersistent {
                    package: name,
                    manifest: manifest_path,
                });
            }
            found
        }
        _ => Vec::new(),
    };
    let Some(lib) = lib.or(dylib) else {
        return Err(PackageError::NotCdylib {
            package: name,
            manifest: manifest_path,
        });
    };
    let has_relive = pkg
        .dependencies
        .iter()
        .any(|d| d.name == "relive" && d.kind == DependencyKind::Normal);
    if !has_relive {
        return Err(PackageError::NoRelive {
            package: name,
            manifest: manifest_path,
        });
    }

    let dirs = local_dirs(metadata, &by_id, pkg);
    Ok(Package {
        lib_name: lib.name.clone(),
        root: package_dir(pkg),
        build_files: build_files(&dirs, metadata.workspace_root.as_std_path()),
        watch_dirs: dedup_dirs(dirs),
        target_dir: metadata.target_directory.clone().into_std_path_buf(),
        persistent,
        manifest_path,
        name,
    })
}

/// The directory holding a package's manifest.
fn package_dir(pkg: &cargo_metadata::Package) -> PathBuf {
    pkg.manifest_path
        .parent()
        .map(|dir| dir.as_std_path().to_path_buf())
        .unwrap_or_default()
}

/// Directories of `root` and of every local package reachable from it through
/// normal and build dependencies, `root` first.
fn local_dirs(
    metadata: &Metadata,
    by_id: &HashMap<&PackageId, &cargo_metadata::Package>,
    root: &cargo_metadata::Package,
) -> Vec<PathBuf> {
    let mut dirs = vec![package_dir(root)];
    let Some(resolve) = &metadata.resolve else {
        return dirs;
    };
    let nodes: HashMap<&PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let mut seen: HashSet<&PackageId> = HashSet::from([&root.id]);
    let mut queue = VecDeque::from([&root.id]);
    while let Some(id) = queue.pop_front() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            let dev_only = !dep.dep_kinds.is_empty()
                && dep
                    .dep_kinds
                    .iter()
                    .all(|k| k.kind == DependencyKind::Development);
            if dev_only || !seen.insert(&dep.pkg) {
                continue;
            }
            // Registry and git packages are walked too: a `[patch]` can make
            // their dependencies local.
            if let Some(pkg) = by_id.get(&dep.pkg).filter(|p| p.source.is_none()) {
                dirs.push(package_dir(pkg));
            }
            queue.push_back(&dep.pkg);
        }
    }
    dirs
}

/// Files besides the sources that change what cargo builds for the packages
/// in `package_dirs` of the workspace at `workspace_root`, each once:
/// - each package's `Cargo.toml` and `build.rs`, even if missing (adding a
///   build script changes the build);
/// - the workspace's `Cargo.lock`, even if the first build is yet to write it;
/// - the `Cargo.toml`, `Cargo.lock`, `.cargo/config.toml` and `.cargo/config`
///   files that exist in the package directories and their ancestors (the
///   manifests, lock files and cargo configuration of enclosing workspaces).
fn build_files(package_dirs: &[PathBuf], workspace_root: &Path) -> Vec<PathBuf> {
    const AROUND: [&str; 4] = [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        ".cargo/config",
    ];
    let mut files = Vec::new();
    let mut add = |file: PathBuf| {
        if !files.contains(&file) {
            files.push(file);
        }
    };
    add(workspace_root.join("Cargo.lock"));
    for dir in package_dirs {
        add(dir.join("Cargo.toml"));
        add(dir.join("build.rs"));
        for ancestor in dir.ancestors() {
            for name in AROUND {
                let file = ancestor.join(name);
                if file.is_file() {
                    add(file);
                }
            }
        }
    }
    files
}

/// Drops every directory equal to or inside an earlier or later one, keeping order.
fn dedup_dirs(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if kept.iter().any(|k| dir.starts_with(k)) {
            continue;
        }
        kept.retain(|k| !k.starts_with(&dir));
        kept.push(dir);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Writes a package `name` at `dir` with the given extra manifest text.
    fn write_package(dir: &Path, name: &str, extra: &str) {
        fs::create_dir_all(dir.join("src")).expect("create src");
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n{extra}"
        );
        fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
        fs::write(dir.join("src/lib.rs"), "").expect("write lib.rs");
    }

    const CDYLIB: &str = "[lib]\ncrate-type = [\"cdylib\"]\n\n";

    fn canon(p: &Path) -> PathBuf {
        p.canonicalize().expect("canonicalize")
    }

    #[test]
    fn finds_a_cdylib_with_its_local_dependencies() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let app = tmp.path().join("app");
        let relive = tmp.path().join("relive");
        let helper = tmp.path().join("helper");
        write_package(
            &app,
            "my-app",
            &format!("{CDYLIB}[dependencies]\nrelive = {{ path = \"../relive\" }}\n"),
        );
        write_package(
            &relive,
            "relive",
            "[dependencies]\nhelper = { path = \"../helper\" }\n",
        );
        write_package(&helper, "helper", "");
        fs::create_dir_all(tmp.path().join(".cargo")).expect("create .cargo");
        fs::write(tmp.path().join(".cargo/config.toml"), "").expect("write config");

        let pkg = locate(&app).expect("locate app");
        assert_eq!(pkg.name, "my-app");
        assert_eq!(pkg.lib_name, "my_app");
        assert_eq!(canon(&pkg.root), canon(&app));
        assert_eq!(canon(&pkg.manifest_path), canon(&app.join("Cargo.toml")));
        let dirs: Vec<PathBuf> = pkg.watch_dirs.iter().map(|d| canon(d)).collect();
        assert_eq!(dirs, vec![canon(&app), canon(&relive), canon(&helper)]);
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            assert_eq!(pkg.target_dir, pkg.root.join("target"));
        }

        let files: Vec<PathBuf> = pkg
            .build_files
            .iter()
            .map(|f| canon(f.parent().expect("dir")).join(f.file_name().expect("name")))
            .collect();
        for file in [
            app.join("Cargo.toml"),
            app.join("Cargo.lock"),
            app.join("build.rs"),
            relive.join("Cargo.toml"),
            helper.join("build.rs"),
            tmp.path().join(".cargo/config.toml"),
        ] {
            let file = canon(file.parent().expect("dir")).join(file.file_name().expect("name"));
            assert!(files.contains(&file), "{} in {files:?}", file.display());
        }
        assert!(
            !files.contains(&canon(&app).join("src/lib.rs")),
            "sources come from cargo"
        );

        let by_manifest = locate(&app.join("Cargo.toml")).expect("locate via Cargo.toml");
        assert_eq!(by_manifest, pkg);
    }

    #[test]
    fn build_files_include_a_lock_file_yet_to_be_written() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let app = tmp.path().join("app");
        write_package(&app, "app", CDYLIB);
        fs::write(tmp.path().join("Cargo.toml"), "[workspace]\n").expect("write outer");
        let files = build_files(std::slice::from_ref(&app), &app);
        assert_eq!(
            files,
            vec![
                app.join("Cargo.lock"),
                app.join("Cargo.toml"),
                app.join("build.rs"),
                tmp.path().join("Cargo.toml"),
            ]
        );
    }

    #[test]
    fn missing_path_is_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let err = locate(&tmp.path().join("nope")).expect_err("must fail");
        assert!(matches!(err, PackageError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("does not exist"));
    }

    #[test]
    fn directory_without_manifest_is_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let err = locate(tmp.path()).expect_err("must fail");
        assert!(matches!(err, PackageError::NoManifest { .. }), "{err}");

        let file = tmp.path().join("main.rs");
        fs::write(&file, "").expect("write");
        let err = locate(&file).expect_err("must fail");
        assert!(matches!(err, PackageError::NotAManifest { .. }), "{err}");
    }

    #[test]
    fn virtual_workspace_lists_members() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(
            tmp.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"game\"]\nresolver = \"2\"\n",
        )
        .expect("write workspace");
        let game = tmp.path().join("game");
        fs::create_dir_all(game.join("src")).expect("create src");
        fs::write(
            game.join("Cargo.toml"),
            "[package]\nname = \"game\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .expect("write member");
        fs::write(game.join("src/lib.rs"), "").expect("write lib.rs");

        let err = locate(tmp.path()).expect_err("must fail");
        match &err {
            PackageError::VirtualWorkspace { members, .. } => {
                assert_eq!(members.len(), 1);
                assert!(members[0].starts_with("game ("), "{members:?}");
            }
            other => panic!("unexpected error: {other}"),
        }
        assert!(err.to_string().contains("pass the path of the member"));
    }

    #[test]
    fn package_without_cdylib_is_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        write_package(tmp.path(), "plain", "");
        let err = locate(tmp.path()).expect_err("must fail");
        assert!(matches!(err, PackageError::NotCdylib { .. }), "{err}");
        assert!(err.to_string().contains("crate-type = [\"cdylib\"]"));
    }

    #[test]
    fn a_dylib_on_dylib_crates_of_the_workspace_is_persistent() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let app = tmp.path().join("app");
        let dylib = "[lib]\ncrate-type = [\"dylib\"]\n\n";
        write_package(
            &app,
            "game",
            &format!(
                "{dylib}[dependencies]\nrelive = {{ path = \"../relive\" }}\n\
                 deps = {{ path = \"../deps\" }}\nplain = {{ path = \"../plain\" }}\n"
            ),
        );
        write_package(&tmp.path().join("relive"), "relive", "");
        write_package(&tmp.path().join("deps"), "deps", dylib);
        write_package(&tmp.path().join("plain"), "plain", "");
        let pkg = locate(&app).expect("locate app");
        assert_eq!(pkg.persistent, vec!["deps".to_string()]);
        assert_eq!(pkg.lib_name, "game");

        // Without a dylib dependency, a dylib app is refused, saying how to fix it.
        write_package(
            &app,
            "game",
            &format!("{dylib}[dependencies]\nrelive = {{ path = \"../relive\" }}\n"),
        );
        let err = locate(&app).expect_err("no persistent crate");
        assert!(
            matches!(err, PackageError::DylibWithoutPersistent { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("relive new --persistent"), "{err}");

        // A cdylib is never persistent.
        write_package(
            &app,
            "game",
            &format!(
                "{CDYLIB}[dependencies]\nrelive = {{ path = \"../relive\" }}\n\
                 deps = {{ path = \"../deps\" }}\n"
            ),
        );
        assert!(locate(&app).expect("locate").persistent.is_empty());
    }

    #[test]
    fn package_without_relive_is_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        write_package(tmp.path(), "lonely", CDYLIB);
        let err = locate(tmp.path()).expect_err("must fail");
        assert!(matches!(err, PackageError::NoRelive { .. }), "{err}");
        assert!(err.to_string().contains("add `relive = ...`"));
    }

    #[test]
    fn broken_manifest_shows_cargo_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(tmp.path().join("Cargo.toml"), "[package\nname = ").expect("write");
        let err = locate(tmp.path()).expect_err("must fail");
        match &err {
            PackageError::Metadata { message, .. } => {
                assert!(message.contains("Cargo.toml"), "{message}");
            }
            other => panic!("unexpected error: {other}"),
        }
    }

    #[test]
    fn dedup_drops_repeated_and_nested_dirs() {
        let dirs = vec![
            PathBuf::from("/a/app"),
            PathBuf::from("/a/app/crates/x"),
            PathBuf::from("/a/lib"),
            PathBuf::from("/a/lib"),
            PathBuf::from("/a/libx"),
        ];
        assert_eq!(
            dedup_dirs(dirs),
            vec![
                PathBuf::from("/a/app"),
                PathBuf::from("/a/lib"),
                PathBuf::from("/a/libx")
            ]
        );
        let outer_later = vec![PathBuf::from("/r/examples/app"), PathBuf::from("/r")];
        assert_eq!(dedup_dirs(outer_later), vec![PathBuf::from("/r")]);
    }
}
