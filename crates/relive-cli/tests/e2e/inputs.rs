//! Rebuilding when what cargo builds from changes, and nothing else: the
//! `scribbler` fixture, copied into a hidden folder, writes a log and a save
//! file in its own package folder every few milliseconds. That starts no
//! build, and edits of a file it pulls in with `include_str!`, new modules and
//! editors' rename saves still reload with a single build each; a file that a
//! build starts to include, in a folder not watched before, joins the watch.
//!
//! The times from an edit to the new code's first frame are printed (run
//! with `--nocapture`), not asserted: the machine is shared.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// The fixture's version line.
const INCLUDED: &str = "let version = include_str!(\"../data/version.txt\").trim();";
/// Where a test adds `mod` lines.
const MODULES: &str = "// MODULES-HERE";

/// A hidden copy of `scribbler` running v1 and writing its files, with relive
/// watching cargo's inputs; returns the `watching` event too.
fn scribbling(test: &str) -> (App, Relive, Value) {
    let app = App::copy_hidden("scribbler", test);
    let relive = app.run(&[]);
    let watching = relive.wait_for("watching cargo's inputs", BUILD_DEADLINE, |r| {
        r.events()
            .into_iter()
            .find(|e| e["event"] == "watching" && e["mode"] == "inputs")
    });
    relive.wait_line("a v1 frame", BUILD_DEADLINE, |l| l.contains(" v1 gen 1 "));
    relive.wait_for("the app's log and save file", SHORT_DEADLINE, |_| {
        let home = app.path();
        (home.join("app.log").is_file() && home.join("saves/slot.json").is_file()).then_some(())
    });
    (app, relive, watching)
}

fn builds_after(relive: &Relive, mark: usize) -> Vec<Value> {
    relive
        .events()
        .into_iter()
        .skip(mark)
        .filter(|e| e["event"] == "build_started")
        .collect()
}

/// Waits for the first frame of `version`; returns the time since `since`.
fn runs_version(relive: &Relive, version: &str, since: Instant) -> Duration {
    relive.wait_line(&format!("a {version} frame"), BUILD_DEADLINE, |l| {
        tick(l).is_some_and(|t| t.version == version)
    });
    since.elapsed()
}

/// The builds and reloads from index `mark` on, one line each, for the
/// printed times.
fn story(relive: &Relive, mark: usize) -> String {
    relive
        .events()
        .into_iter()
        .skip(mark)
        .filter(|e| {
            [
                "build_started",
                "build_finished",
                "build_failed",
                "reloaded",
            ]
            .iter()
            .any(|name| e["event"] == *name)
        })
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Replaces `from` by `to` in `src/lib.rs` in one write.
fn edit_all(app: &App, edits: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(app.lib_rs()).expect("read lib.rs");
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is not in lib.rs");
        text = text.replacen(from, to, 1);
    }
    std::fs::write(app.lib_rs(), text).expect("write lib.rs");
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[test]
fn an_app_writing_in_its_package_folder_starts_no_build() {
    const WRITING: Duration = Duration::from_secs(12);
    let (app, relive, watching) = scribbling("quiet");
    let folders = relive
        .events()
        .into_iter()
        .find(|e| e["event"] == "watching" && e["mode"] == "folders")
        .expect("a watching event for the folders before the first build");
    eprintln!("before the first build: {folders}\nafter it: {watching}");
    let dirs = watching["dirs"].as_u64().expect("dirs");
    assert!(dirs > 0, "{watching}");
    assert!(
        watching["inputs"].as_u64().is_some_and(|n| n > 0),
        "{watching}"
    );

    let mark = relive.mark();
    let frames = ticks(&relive).len();
    let log = file_len(&app.path().join("app.log"));
    let until = Instant::now() + WRITING;
    let outcome = relive.wait_for("12 s of the app writing its files", WRITING * 2, |r| {
        if let Some(build) = builds_after(r, mark).into_iter().next() {
            return Some(Err(build));
        }
        (Instant::now() >= until).then_some(Ok(()))
    });
    if let Err(build) = outcome {
        panic!("a build started while the app only wrote its own files: {build}");
    }
    let written = ticks(&relive).len() - frames;
    let grew = file_len(&app.path().join("app.log")) - log;
    eprintln!("the app ran {written} frames, writing {grew} bytes of log, in {WRITING:?}");
    assert!(
        written >= 100,
        "the app kept running and writing: {written} frames"
    );
    assert!(grew > 0, "the log grew");
}

#[test]
fn an_include_str_file_edit_reloads_with_one_build_while_the_app_writes() {
    let (app, relive, _) = scribbling("include");
    let mark = relive.mark();
    let since = Instant::now();
    std::fs::write(app.path().join("data/version.txt"), "i2\n").expect("edit version.txt");
    let took = runs_version(&relive, "i2", since);
    eprintln!(
        "include_str! edit: the new code ran {took:?} after the save\n{}",
        story(&relive, mark)
    );
    let builds = builds_after(&relive, mark);
    assert_eq!(builds.len(), 1, "one build for one edit: {builds:?}");
}

#[test]
fn a_new_module_file_reloads_while_the_app_writes() {
    let (app, relive, _) = scribbling("module");
    let mark = relive.mark();
    let since = Instant::now();
    std::fs::write(
        app.path().join("src/extra.rs"),
        "pub const VERSION: &str = \"m2\";\n",
    )
    .expect("write src/extra.rs");
    edit_all(
        &app,
        &[
            (MODULES, "mod extra;"),
            (INCLUDED, "let version = extra::VERSION;"),
        ],
    );
    let took = runs_version(&relive, "m2", since);
    eprintln!(
        "new module: the new code ran {took:?} after the saves\n{}",
        story(&relive, mark)
    );
    let builds = builds_after(&relive, mark);
    assert!(
        (1..=2).contains(&builds.len()),
        "a build for the new file and one for lib.rs at most: {builds:?}"
    );
}

#[test]
fn a_module_written_after_the_line_that_needs_it_reloads() {
    let (app, relive, _) = scribbling("later");
    let mark = relive.mark();
    edit_all(
        &app,
        &[
            (MODULES, "mod later;"),
            (INCLUDED, "let version = later::VERSION;"),
        ],
    );
    let failed = relive.wait_event_after("build_failed", mark, BUILD_DEADLINE);
    assert!(
        failed["diagnostics"]
            .as_str()
            .is_some_and(|d| d.contains("later")),
        "{failed}"
    );
    // A module in a directory of its own, which relive did not watch yet.
    let since = Instant::now();
    let dir = app.path().join("src/later");
    std::fs::create_dir(&dir).expect("create src/later");
    std::fs::write(dir.join("mod.rs"), "pub const VERSION: &str = \"l2\";\n")
        .expect("write src/later/mod.rs");
    let took = runs_version(&relive, "l2", since);
    eprintln!(
        "module written after its `mod` line: the new code ran {took:?} after the save\n{}",
        story(&relive, mark)
    );
}

#[test]
fn rename_saves_reload_while_the_app_writes() {
    let (app, relive, _) = scribbling("rename");
    let lib = app.lib_rs();
    let text = std::fs::read_to_string(&lib).expect("read lib.rs");
    assert!(text.contains(INCLUDED));

    // Written to a temp file next to it, then renamed over it.
    let mark = relive.mark();
    let since = Instant::now();
    let temp = app.path().join("src/.lib.rs.swp");
    std::fs::write(&temp, text.replacen(INCLUDED, "let version = \"r2\";", 1))
        .expect("write the temp file");
    std::fs::rename(&temp, &lib).expect("rename over lib.rs");
    let took = runs_version(&relive, "r2", since);
    eprintln!("temp file renamed over lib.rs: the new code ran {took:?} after the save");
    assert_eq!(
        builds_after(&relive, mark).len(),
        1,
        "one build for one save"
    );

    // The old file renamed away as a backup, then a new one written.
    let mark = relive.mark();
    let since = Instant::now();
    std::fs::rename(&lib, app.path().join("src/lib.rs~")).expect("rename lib.rs away");
    std::fs::write(&lib, text.replacen(INCLUDED, "let version = \"r3\";", 1))
        .expect("write the new lib.rs");
    let took = runs_version(&relive, "r3", since);
    eprintln!("lib.rs renamed to a backup and written anew: the new code ran {took:?}");
    let builds = builds_after(&relive, mark);
    assert!(
        (1..=2).contains(&builds.len()),
        "the rename and the write make one build, or two: {builds:?}"
    );
}

#[test]
fn a_file_a_build_starts_to_include_joins_the_watch() {
    let (app, relive, _) = scribbling("joins");
    let notes = app.path().join("notes");
    std::fs::create_dir(&notes).expect("create notes");
    std::fs::write(notes.join("version.txt"), "n2\n").expect("write notes/version.txt");
    let mark = relive.mark();
    edit_all(
        &app,
        &[(
            INCLUDED,
            "let version = include_str!(\"../notes/version.txt\").trim();",
        )],
    );
    runs_version(&relive, "n2", Instant::now());
    let watching = relive.wait_event_after("watching", mark, SHORT_DEADLINE);
    assert_eq!(watching["mode"], "inputs", "{watching}");

    // The folder was not watched before that build; now its file is an input.
    let mark = relive.mark();
    let since = Instant::now();
    std::fs::write(notes.join("version.txt"), "n3\n").expect("edit notes/version.txt");
    let took = runs_version(&relive, "n3", since);
    eprintln!(
        "newly included file edited: the new code ran {took:?} after the save\n{}",
        story(&relive, mark)
    );
    assert_eq!(
        builds_after(&relive, mark).len(),
        1,
        "one build for one edit"
    );
}
