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

use std::path::Path;

use crate::harness::{App, workspace_root};

impl App {
    /// Copies `examples/<example>` under the name `<example>_<test>_<n>`,
    /// as a standalone package (see the module docs).
    pub fn copy_example(example: &str, test: &str) -> App {
        let src = workspace_root().join("examples").join(example);
        App::copy_package(&src, example, test, |manifest, name| {
            let root = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
                .expect("read the workspace manifest");
            let relive = workspace_root().join("crates").join("relive");
            standalone_manifest(manifest, &root, name, &relive)
        })
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
            "[dependencies]" if key == "relive" => {
                let path = format!("path = {:?}", relive.display().to_string());
                match trimmed.find("features") {
                    // `features = [...]` kept as written.
                    Some(at) => format!(
                        "relive = {{ {path}, {} }}",
                        trimmed[at..].trim_end_matches('}').trim()
                    ),
                    None => format!("relive = {{ {path} }}"),
                }
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
    let with_features = standalone_manifest(
        "[dependencies]\nrelive = { path = \"../../crates/relive\", features = [\"glam\"] }\n",
        "",
        "demo_t_1",
        Path::new("/r/crates/relive"),
    );
    assert!(
        with_features.starts_with(
            "[dependencies]\nrelive = { path = \"/r/crates/relive\", features = [\"glam\"] }\n"
        ),
        "{with_features}"
    );
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
