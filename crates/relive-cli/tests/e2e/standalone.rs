//! Copies an app from `examples/` out of the workspace into a temp folder as
//! a standalone package, so a test can run it under `relive run` and edit it
//! without touching the original.
//!
//! Examples inherit from the workspace (`version.workspace = true`,
//! `relive.workspace = true`, `[lints] workspace = true`), which means
//! nothing outside it; the copy's manifest gets the workspace's values
//! written out, a path dependency on `crates/relive`, no lints, an empty
//! `[workspace]` table and a unique package name (the copies share one
//! target folder).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::harness::{Relive, workspace_root};

/// A private, standalone copy of an example.
pub struct Example {
    dir: Option<tempfile::TempDir>,
}

impl Drop for Example {
    fn drop(&mut self) {
        if std::thread::panicking()
            && std::env::var_os("RELIVE_KEEP_TMP").is_some()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Example {
    /// Copies `examples/<example>` under the name `<example>_<test>_<n>`.
    pub fn copy(example: &str, test: &str) -> Example {
        let src = workspace_root().join("examples").join(example);
        let dir = tempfile::Builder::new()
            .prefix(&format!("relive-e2e-{test}-"))
            .tempdir()
            .expect("temp dir");
        copy_sources(&src, dir.path());
        let name = format!(
            "{example}_{test}_{}",
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let manifest = std::fs::read_to_string(src.join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("cannot read the manifest of examples/{example}: {e}"));
        let root = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
            .expect("read the workspace manifest");
        let relive = workspace_root().join("crates").join("relive");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            standalone_manifest(&manifest, &root, &name, &relive),
        )
        .expect("write manifest");
        // Same dependency versions as the workspace, already downloaded.
        std::fs::copy(
            workspace_root().join("Cargo.lock"),
            dir.path().join("Cargo.lock"),
        )
        .expect("copy Cargo.lock");
        Example { dir: Some(dir) }
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until drop").path()
    }

    pub fn lib_rs(&self) -> PathBuf {
        self.path().join("src").join("lib.rs")
    }

    /// Replaces `from` by `to` in `src/lib.rs`; `from` must be there.
    pub fn edit(&self, from: &str, to: &str) {
        let path = self.lib_rs();
        let text = std::fs::read_to_string(&path).expect("read lib.rs");
        assert!(text.contains(from), "{from:?} is not in {}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write lib.rs");
    }

    /// Starts `relive run` on this copy with an events log.
    pub fn run(&self, env: &[(&str, &str)]) -> Relive {
        Relive::start_with_env(self.path(), &[], env)
    }
}

/// Copies `src` into `dst`, except build output and the manifest (which is
/// written separately).
fn copy_sources(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create dir");
    for entry in std::fs::read_dir(src).expect("read example") {
        let entry = entry.expect("dir entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            if entry.file_name() != "target" {
                copy_sources(&entry.path(), &to);
            }
        } else if entry.file_name() != "Cargo.toml" {
            std::fs::copy(entry.path(), &to).expect("copy file");
        }
    }
}

/// The values of `[workspace.package]` in the workspace manifest `root`.
fn workspace_package(root: &str) -> Vec<(String, String)> {
    let mut in_section = false;
    let mut values = Vec::new();
    for line in root.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
        } else if in_section && let Some((key, value)) = line.split_once('=') {
            values.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    values
}

/// An example's manifest made standalone (see the module docs).
pub fn standalone_manifest(manifest: &str, root: &str, name: &str, relive: &Path) -> String {
    let inherited = workspace_package(root);
    let mut section = String::new();
    let mut out = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
            if section != "[lints]" {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        let key = trimmed.split(['=', '.', ' ']).next().unwrap_or_default();
        let inherits = trimmed.replace(' ', "").ends_with(".workspace=true");
        let line = match section.as_str() {
            "[lints]" => continue,
            "[package]" if key == "name" => format!("name = \"{name}\""),
            "[package]" if inherits => match inherited.iter().find(|(k, _)| k == key) {
                Some((key, value)) => format!("{key} = {value}"),
                None => panic!(
                    "{key} is not in [workspace.package]: cannot make {trimmed:?} standalone"
                ),
            },
            "[dependencies]" if inherits && key == "relive" => {
                format!("relive = {{ path = {:?} }}", relive.display().to_string())
            }
            _ if inherits => {
                panic!("cannot make {trimmed:?} standalone: extend standalone_manifest for it")
            }
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("\n# Standalone: a copy made by the end-to-end tests.\n[workspace]\n");
    out
}

#[test]
fn example_manifests_become_standalone() {
    let manifest = "[package]\nname = \"demo\"\nversion.workspace = true\nedition.workspace = true\n\
                    publish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n\
                    relive.workspace = true\nx11-dl = \"2\"\n\n[lints]\nworkspace = true\n";
    let root = "[workspace]\nmembers = []\n\n[workspace.package]\nversion = \"9.1.0\"\n\
                edition = \"2024\"\n\n[workspace.dependencies]\nrelive = { path = \"x\" }\n";
    let out = standalone_manifest(manifest, root, "demo_t_0", Path::new("/r/crates/relive"));
    assert_eq!(
        out,
        "[package]\nname = \"demo_t_0\"\nversion = \"9.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nrelive = { path = \"/r/crates/relive\" }\n\
         x11-dl = \"2\"\n\n\n# Standalone: a copy made by the end-to-end tests.\n[workspace]\n"
    );
}
