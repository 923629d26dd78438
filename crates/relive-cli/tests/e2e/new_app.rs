//! `relive new`: the app it creates runs under `relive run` at once and
//! reloads when edited; it says the command that starts it; a `relive` whose
//! checkout was moved says how to point the app at one; occupied folders
//! and bad names are refused.

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

/// `PATH` with `dir` in front.
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("join PATH")
}

/// Copies the checkout at `src` to `dst`, without build output or VCS data.
fn copy_checkout(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create dir");
    for entry in std::fs::read_dir(src).expect("read checkout") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let to = dst.join(&name);
        if entry.file_type().expect("file type").is_dir() {
            copy_checkout(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy file");
        }
    }
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
    // relive on PATH, as after `cargo install`.
    let exe = Path::new(env!("CARGO_BIN_EXE_relive"));
    let out = Command::new(exe)
        .arg("new")
        .arg(&app)
        .env("PATH", path_with(exe.parent().expect("bin dir")))
        .output()
        .expect("start relive new");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "relive new failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("run it with `relive run {}`", app.display())),
        "says what to do next: {stdout}"
    );
    assert!(!stdout.contains("note:"), "outside the checkout: {stdout}");
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

#[test]
fn a_relive_whose_checkout_moved_says_how_to_point_at_one() {
    // A `relive` built from a checkout that then moved, as after
    // `cargo install --path` from a clone that was later renamed.
    let dir = tempfile::tempdir().expect("temp dir");
    let built = dir.path().join("relive-clone");
    copy_checkout(&workspace_root(), &built);
    let target = workspace_root().join("target").join("e2e-checkout");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "relive-cli",
            "--manifest-path",
        ])
        .arg(built.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("start cargo");
    assert!(
        status.success(),
        "cargo build of the copied checkout failed"
    );
    let exe = dir.path().join("relive");
    std::fs::copy(target.join("debug").join("relive"), &exe).expect("copy relive");
    let moved = dir.path().join("moved-clone");
    std::fs::rename(&built, &moved).expect("move the checkout");
    let elsewhere = dir.path().join("projects");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    let new = |args: &[&str]| {
        Command::new(&exe)
            .arg("new")
            .args(args)
            .current_dir(&elsewhere)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .expect("start relive new")
    };

    let out = new(&["my-app"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("checkout this `relive` was built from is gone"),
        "{err}"
    );
    assert!(
        err.contains("--relive <checkout>"),
        "says what to do: {err}"
    );
    assert!(!elsewhere.join("my-app").exists(), "nothing created");

    let out = new(&["my-app", "--relive", &moved.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // relive is not on PATH: the command names this binary.
    assert!(
        stdout.contains(&format!("run it with `{} run my-app`", exe.display())),
        "{stdout}"
    );
    assert!(stdout.contains("cargo install --path"), "{stdout}");
    let app = elsewhere.join("my-app");
    let manifest = std::fs::read_to_string(app.join("Cargo.toml")).expect("Cargo.toml");
    let relive = moved.join("crates/relive").canonicalize().expect("moved");
    assert!(
        manifest.contains(&format!("relive = {{ path = \"{}\" }}", relive.display())),
        "{manifest}"
    );
    std::fs::copy(workspace_root().join("Cargo.lock"), app.join("Cargo.lock"))
        .expect("copy Cargo.lock");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(app.join("Cargo.toml"))
        .output()
        .expect("start cargo metadata");
    assert!(
        out.status.success(),
        "the dependency resolves: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An app made inside the checkout: said, with a folder outside offered.
    let out = new(&[
        &moved.join("my-app").to_string_lossy(),
        "--relive",
        &moved.to_string_lossy(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("is inside the relive checkout") && stdout.contains("relive new ../my-app"),
        "{stdout}"
    );
}
