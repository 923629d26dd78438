//! The declared minimum Rust (`rust-version` in the workspace manifest) is
//! true: no dependency in `Cargo.lock` needs a newer one, and the sources
//! (the examples, and the app that `relive new` writes) use no language or
//! library feature newer than it.

use std::path::{Path, PathBuf};

use crate::harness::workspace_root;

/// A Rust version as (major, minor, patch).
type Version = (u64, u64, u64);

fn parse(text: &str) -> Version {
    let mut parts = text.split('.').map(|p| {
        p.parse::<u64>()
            .unwrap_or_else(|_| panic!("{text:?} is not a Rust version"))
    });
    let major = parts.next().unwrap_or(0);
    (major, parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Source patterns and the Rust version that made them stable.
const FEATURES: &[(&str, &str, &str)] = &[
    (".is_multiple_of(", "1.87", "unsigned `is_multiple_of`"),
    ("&& let ", "1.88", "`let` chains"),
    ("Cell::update(", "1.88", "`Cell::update`"),
    (".as_chunks(", "1.88", "slice `as_chunks`"),
    ("File::lock(", "1.89", "file locks"),
    ("Duration::from_mins(", "1.91", "`Duration::from_mins`"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn declared() -> (String, Version) {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
        .expect("read the workspace manifest");
    let line = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .expect("the workspace manifest declares rust-version");
    let text = line.trim_matches('"').to_string();
    let version = parse(&text);
    (text, version)
}

#[test]
fn no_dependency_needs_a_newer_rust_than_declared() {
    let (text, version) = declared();
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(workspace_root().join("Cargo.toml"))
        .other_options(vec!["--locked".to_string()])
        .exec()
        .expect("cargo metadata on the workspace");
    let mut newer: Vec<String> = metadata
        .packages
        .iter()
        .filter_map(|p| {
            let needs = p.rust_version.as_ref()?;
            let needs = (needs.major, needs.minor, needs.patch);
            (needs > version).then(|| {
                format!(
                    "{} {} needs Rust {}.{}.{}",
                    p.name, p.version, needs.0, needs.1, needs.2
                )
            })
        })
        .collect();
    newer.sort();
    assert!(
        newer.is_empty(),
        "rust-version = \"{text}\" in Cargo.toml is too old; raise it:\n{}",
        newer.join("\n")
    );
    for p in metadata.workspace_packages() {
        if let Some(v) = &p.rust_version {
            assert_eq!(
                (v.major, v.minor, v.patch),
                version,
                "{} declares another rust-version than the workspace",
                p.name
            );
        }
    }
}

#[test]
fn the_sources_use_no_feature_newer_than_declared() {
    let (text, version) = declared();
    let mut files = Vec::new();
    for dir in ["crates", "examples", "bench", "fixtures"] {
        rust_files(&workspace_root().join(dir), &mut files);
    }
    assert!(files.len() > 10, "found the sources: {files:?}");
    let this = Path::new(file!()).file_name().expect("file name");
    let mut newer = Vec::new();
    for file in files.iter().filter(|f| f.file_name() != Some(this)) {
        let source = std::fs::read_to_string(file).expect("read a source file");
        for (pattern, since, what) in FEATURES {
            if parse(since) > version
                && let Some(at) = source.lines().position(|l| l.contains(pattern))
            {
                newer.push(format!(
                    "{}:{}: {what} needs Rust {since}",
                    file.display(),
                    at + 1
                ));
            }
        }
    }
    assert!(
        newer.is_empty(),
        "rust-version = \"{text}\" in Cargo.toml is too old; raise it:\n{}",
        newer.join("\n")
    );
}
