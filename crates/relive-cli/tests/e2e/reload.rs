//! Editing the code of a running app.

use crate::harness::*;

/// Waits for generation 1 to print a few frames; returns the last counter.
fn started(relive: &Relive) -> u64 {
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_for("three v1 frames", SHORT_DEADLINE, |r| {
        let ticks = ticks(r);
        (ticks.len() >= 3).then(|| ticks[ticks.len() - 1].counter)
    })
}

/// The last `v1` tick and the first tick of `version`.
fn switch_point(relive: &Relive, version: &str) -> (Tick, Tick) {
    let all = ticks(relive);
    let first_new = all
        .iter()
        .position(|t| t.version == version)
        .expect("new version ran");
    assert!(first_new > 0, "old code ran before the new code");
    let mut all = all;
    let new = all.swap_remove(first_new);
    let old = all.swap_remove(first_new - 1);
    (old, new)
}

#[test]
fn appended_field_keeps_the_state_and_the_counter_continues() {
    let app = App::copy("counter", "append");
    let relive = app.run(&[]);
    started(&relive);
    app.edit(
        "pub label: String,",
        "pub label: String,\n    pub extra: u32,",
    );
    app.edit(
        "let version = \"v1\";",
        "self.extra += 7;\n        let version = \"v2\";",
    );

    let reloaded = relive.wait_event("reloaded", BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    assert!(reloaded["pause_us"].as_u64().is_some(), "{reloaded}");
    let migrated = relive.wait_event("migrated", SHORT_DEADLINE);
    assert_eq!(migrated["added"], serde_json::json!(["All.extra"]));
    assert_eq!(migrated["mode"], "fields");
    relive.wait_line("a v2 frame", SHORT_DEADLINE, |l| l.contains(" v2 gen 2 "));

    let (old, new) = switch_point(&relive, "v2");
    assert_eq!(
        new.counter,
        old.counter + 1,
        "the counter continues exactly"
    );
    assert_eq!(new.generation, 2);
    assert_eq!(
        new.label, "fresh",
        "init does not run again; the label survived"
    );
}

#[test]
fn identical_layout_moves_the_state() {
    let app = App::copy("counter", "identical");
    let relive = app.run(&[]);
    started(&relive);
    app.edit("let version = \"v1\";", "let version = \"v2\";");
    let reloaded = relive.wait_event("reloaded", BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    assert!(reloaded["stages"]["adopt_us"].is_u64(), "{reloaded}");
    relive.wait_line("a v2 frame", SHORT_DEADLINE, |l| l.contains(" v2 gen 2 "));
    let (old, new) = switch_point(&relive, "v2");
    assert_eq!(new.counter, old.counter + 1);
    assert!(
        relive.events().iter().all(|e| e["event"] != "migrated"),
        "an identical layout is not a migration"
    );
}

#[test]
fn compile_error_keeps_the_old_code_running_until_fixed() {
    let app = App::copy("counter", "compile_error");
    let relive = app.run(&[]);
    started(&relive);
    let mark = relive.mark();
    app.edit("let version = \"v1\";", "let version: u32 = \"v2\";");
    let failed = relive.wait_event_after("build_failed", mark, BUILD_DEADLINE);
    let diagnostics = failed["diagnostics"].as_str().expect("diagnostics text");
    assert!(diagnostics.contains("error[E0308]"), "{diagnostics}");
    assert!(!diagnostics.contains('\u{1b}'), "no colour codes in events");

    let before = ticks(&relive).last().expect("ticks").counter;
    relive.wait_for(
        "more v1 frames after the failed build",
        SHORT_DEADLINE,
        |r| {
            ticks(r)
                .last()
                .filter(|t| t.counter > before + 3 && t.version == "v1" && t.generation == 1)
                .map(|_| ())
        },
    );

    app.edit("let version: u32 = \"v2\";", "let version = \"v2\";");
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    relive.wait_line("a v2 frame", SHORT_DEADLINE, |l| l.contains(" v2 gen 2 "));
    let (old, new) = switch_point(&relive, "v2");
    assert_eq!(new.counter, old.counter + 1);
}

#[test]
fn panic_in_new_code_rolls_back_with_the_state_from_before_the_reload() {
    let app = App::copy("counter", "panic");
    let relive = app.run(&[]);
    started(&relive);
    app.edit(
        "// PANIC-HERE",
        "if self.counter > 0 { panic!(\"boom in v2\"); }",
    );
    let rolled = relive.wait_event("rolled_back", BUILD_DEADLINE);
    assert_eq!(rolled["cause"], "panic");
    assert_eq!(rolled["message"], "boom in v2");
    assert!(
        rolled["location"]
            .as_str()
            .is_some_and(|l| l.contains("src/lib.rs")),
        "{rolled}"
    );
    assert_eq!(rolled["generation"], 1, "generation 1 runs again");

    // The panicking frame had already counted; the rollback restores the
    // checkpoint started at the frame boundary before the swap, so the old
    // code continues with no gap and at most that one frame repeated.
    let last = ticks(&relive).last().expect("ticks").counter;
    relive.wait_for("old code running on", SHORT_DEADLINE, |r| {
        (ticks(r).last().expect("ticks").counter > last + 3).then_some(())
    });
    let all = ticks(&relive);
    let mut repeated = 0;
    for pair in all.windows(2) {
        if pair[1].counter == pair[0].counter {
            repeated += 1;
        } else {
            assert_eq!(pair[1].counter, pair[0].counter + 1, "no frame lost");
        }
        assert!(repeated <= 1, "more than one frame repeated");
        assert_eq!(pair[1].generation, 1);
    }

    // The next good edit reloads as usual.
    let mark = relive.mark();
    app.edit("if self.counter > 0 { panic!(\"boom in v2\"); }", "");
    app.edit("let version = \"v1\";", "let version = \"v3\";");
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 3);
    relive.wait_line("a v3 frame", SHORT_DEADLINE, |l| l.contains(" v3 gen 3 "));
}

#[test]
fn incompatible_type_change_is_refused_naming_the_field() {
    let app = App::copy("counter", "refused");
    let relive = app.run(&[]);
    started(&relive);
    app.edit("pub counter: u64,", "pub counter: u32,");
    app.edit(
        "self.counter >= EXIT_AFTER",
        "u64::from(self.counter) >= EXIT_AFTER",
    );
    app.edit("let version = \"v1\";", "let version = \"v2\";");
    let refused = relive.wait_event("refused", BUILD_DEADLINE);
    let reason = refused["reason"].as_str().expect("reason");
    assert!(reason.contains("All.counter: u64 -> u32"), "{reason}");
    let before = ticks(&relive).last().expect("ticks").counter;
    relive.wait_for("old code running on", SHORT_DEADLINE, |r| {
        ticks(r)
            .last()
            .filter(|t| t.counter > before + 3 && t.version == "v1")
            .map(|_| ())
    });
}

#[test]
fn flow_exit_ends_relive_with_code_zero() {
    let app = App::copy("counter", "exit");
    app.edit("const EXIT_AFTER: u64 = 0;", "const EXIT_AFTER: u64 = 5;");
    let mut relive = app.run(&[]);
    let status = relive.wait_exit(BUILD_DEADLINE);
    assert_eq!(status.code(), Some(0));
    let exited = relive.wait_event("exited", SHORT_DEADLINE);
    assert_eq!(exited["code"], 0);
    let counters: Vec<u64> = ticks(&relive).iter().map(|t| t.counter).collect();
    assert_eq!(counters, vec![1, 2, 3, 4, 5]);
}

#[test]
fn process_exit_in_running_code_ends_relive_with_its_code() {
    let app = App::copy("counter", "process_exit");
    app.edit(
        "// PANIC-HERE",
        "if self.counter >= 5 { std::process::exit(3); }",
    );
    let mut relive = app.run(&[]);
    let status = relive.wait_exit(BUILD_DEADLINE);
    assert_eq!(status.code(), Some(3));
    let exited = relive.wait_event("exited", SHORT_DEADLINE);
    assert_eq!(exited["code"], 3);
    assert!(
        relive.events().iter().all(|e| e["event"] != "rolled_back"),
        "an exit the running code asked for is not a crash"
    );
}

#[test]
fn an_events_log_inside_the_package_does_not_trigger_builds() {
    let app = App::copy("counter", "events_inside");
    let log = app.path().join("events.jsonl");
    let relive = Relive::start_logging_to(app.path(), &[], &[], Some(log));
    relive.wait_event("loaded", BUILD_DEADLINE);
    // Plenty of frames, and so of time for a build the log could trigger.
    relive.wait_for("60 frames", SHORT_DEADLINE, |r| {
        (ticks(r).len() >= 60).then_some(())
    });
    let builds = relive.count("build_started");
    assert_eq!(
        builds, 1,
        "only the first build: relive's own log is not an edit"
    );
    assert_eq!(ticks(&relive).last().map(|t| t.generation), Some(1));
}

#[test]
fn a_fresh_start_builds_once_when_the_target_folder_is_made_by_the_build() {
    // As for a new app: the target folder is inside the package and does
    // not exist yet. cargo makes it under a temporary name and renames it,
    // which must not look like an edit. (The build folder is the shared
    // one, so dependencies are not built again.)
    let app = App::copy("counter", "fresh_target");
    let target = app.path().join("target");
    let target_arg = target.to_string_lossy().into_owned();
    let shared = shared_target().to_string_lossy().into_owned();
    let relive = app.run_with_env(
        &[],
        &[
            ("CARGO_TARGET_DIR", &target_arg),
            ("CARGO_BUILD_BUILD_DIR", &shared),
        ],
    );
    relive.wait_event("loaded", BUILD_DEADLINE);
    // Plenty of frames, and so of time for a second build to start.
    relive.wait_for("60 frames", SHORT_DEADLINE, |r| {
        (ticks(r).len() >= 60).then_some(())
    });
    let builds = relive.count("build_started");
    assert_eq!(builds, 1, "one build on a fresh start");
    assert!(target.is_dir(), "the build used {}", target.display());
}

#[test]
fn a_library_without_export_is_refused_saying_what_relive_waits_for() {
    let app = App::copy("counter", "no_export");
    app.edit("relive::export!(All);", "");
    let relive = app.run(&[]);
    let refused = relive.wait_event("refused", BUILD_DEADLINE);
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("RELIVE_HANDSHAKE")),
        "{refused}"
    );
    relive.wait_for("the refusal's line", SHORT_DEADLINE, |r| {
        r.stderr_lines().into_iter().find(|l| {
            l.starts_with("relive: refused the new library")
                && l.ends_with(
                    "fix the code and save: the program starts with the next build that loads",
                )
        })
    });
}
