//! `relive new`: the app it creates runs under `relive run` at once and
//! reloads when edited; occupied folders and bad names are refused.

use std::path::Path;
use std::process::{Command, Output};

use crate::harness::*;

fn relive_new(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relive"))
        .arg("new")
        .arg(path)
        .output()
        .expect("start relive new")
}

/// The number in "... · second N · generation G".
fn second(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once(" · second ")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn a_new_app_runs_at_once_and_reloads_when_edited() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = dir.path().join("new_app_e2e");
    let out = relive_new(&app);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "relive new failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("relive run"),
        "says what to do next: {stdout}"
    );
    let manifest = std::fs::read_to_string(app.join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");
    let relive_dir = workspace_root()
        .join("crates/relive")
        .canonicalize()
        .expect("crates/relive");
    assert!(
        manifest.contains(&format!(
            "relive = {{ path = \"{}\" }}",
            relive_dir.display()
        )),
        "depends on this checkout's relive: {manifest}"
    );
    // Same dependency versions as the workspace, already downloaded.
    std::fs::copy(workspace_root().join("Cargo.lock"), app.join("Cargo.lock"))
        .expect("copy Cargo.lock");

    let relive = Relive::start(&app, &[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let first = relive.wait_line("the greeting of generation 1", SHORT_DEADLINE, |l| {
        l.starts_with("hello from new_app_e2e · second ") && l.ends_with("generation 1")
    });
    assert!(second(&first).is_some(), "{first}");

    let lib = app.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).expect("lib.rs");
    let from = "const MESSAGE: &str = \"hello from new_app_e2e\";";
    assert!(text.contains(from), "{text}");
    std::fs::write(
        &lib,
        text.replace(from, "const MESSAGE: &str = \"edited while running\";"),
    )
    .expect("write lib.rs");

    let reloaded = relive.wait_event("reloaded", BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    // The first line of the new code (generation 2, or a later one if
    // something else was rebuilt meanwhile).
    let new = relive.wait_line("the greeting of the new code", SHORT_DEADLINE, |l| {
        l.starts_with("edited while running · second ")
    });
    let out = relive.output();
    let at = out
        .iter()
        .position(|l| *l == new)
        .expect("the line is there");
    let old = &out[at - 1];
    assert_eq!(
        second(&new),
        second(old).map(|s| s + 1),
        "the frame count survived the reload:\n{old}\n{new}"
    );
}

#[test]
fn occupied_folders_and_bad_names_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let occupied = dir.path().join("taken");
    std::fs::create_dir(&occupied).expect("mkdir");
    std::fs::write(occupied.join("notes.txt"), "mine").expect("write");
    let out = relive_new(&occupied);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(
        std::fs::read_dir(&occupied).expect("list").count(),
        1,
        "nothing written into an occupied folder"
    );

    let out = relive_new(&dir.path().join("9lives"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`9lives` cannot be a package name"), "{err}");
    assert!(!dir.path().join("9lives").exists(), "nothing created");
}
