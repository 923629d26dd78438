//! Crashes in new code (segfault, abort, stack overflow, a crash in a worker
//! thread), at once or long after the swap, end only relive's runner
//! process: the program comes back on the previous generation with the
//! newest checkpoint (at most a second old), the crashed generation is not
//! run again, and the next good edit reloads as usual.

use std::time::Duration;

use crate::harness::*;

/// Edits `counter` so that its next frame crashes with `crash`, waits for
/// the recovery, and checks that the counter continues from the newest
/// checkpoint, repeating at most `rerun` frames (a crash in the first frame:
/// the one frame between the rollback point and the swap).
fn crash_and_recover(test: &str, crash: &str, signal: &str, rerun: u64) {
    let app = App::copy("counter", test);
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_for("three v1 frames", SHORT_DEADLINE, |r| {
        (ticks(r).len() >= 3).then_some(())
    });
    app.edit("// PANIC-HERE", crash);
    let rolled = relive.wait_event("rolled_back", BUILD_DEADLINE);
    assert_eq!(rolled["cause"], "crash", "{rolled}");
    assert_eq!(rolled["signal"], signal, "{rolled}");
    assert_eq!(rolled["generation"], 1, "{rolled}");
    assert_eq!(rolled["failed_generation"], 2, "{rolled}");
    let resumed = relive.wait_for("generation 1 resumed", SHORT_DEADLINE, |r| {
        r.events()
            .into_iter()
            .filter(|e| e["event"] == "loaded")
            .nth(1)
    });
    assert_eq!(resumed["resumed"], true, "{resumed}");

    let before = ticks(&relive).len();
    relive.wait_for("the old code running again", SHORT_DEADLINE, |r| {
        (ticks(r).len() > before + 3).then_some(())
    });
    let all = ticks(&relive);
    let mut repeated = 0;
    for pair in all.windows(2) {
        if pair[1].counter != pair[0].counter + 1 {
            repeated += pair[0].counter + 1 - pair[1].counter;
            assert!(
                pair[1].counter <= pair[0].counter && repeated <= rerun,
                "the state continues from the swap ({} after {})",
                pair[1].counter,
                pair[0].counter
            );
        }
        assert_eq!(pair[1].version, "v1");
        assert_eq!(pair[1].label, "fresh", "init did not run again");
    }

    // The next good edit reloads as usual.
    next_good_edit_loads(&app, &relive, crash);
    let (old, new) = {
        let all = ticks(&relive);
        let i = all.iter().position(|t| t.version == "v3").expect("v3 ran");
        (all[i - 1].counter, all[i].counter)
    };
    assert_eq!(new, old + 1);
}

#[test]
fn a_segfault_in_new_code_comes_back_with_the_state() {
    crash_and_recover(
        "segfault",
        "if self.counter > 0 { unsafe { std::ptr::null_mut::<u64>().write_volatile(7) } }",
        "SIGSEGV",
        1,
    );
}

#[test]
fn an_abort_in_new_code_comes_back_with_the_state() {
    crash_and_recover(
        "abort",
        "if self.counter > 0 { std::process::abort(); }",
        "SIGABRT",
        1,
    );
}

#[test]
fn a_stack_overflow_in_new_code_comes_back_with_the_state() {
    crash_and_recover(
        "overflow",
        "fn deep(n: u64) -> u64 { let pad = [n; 512]; std::hint::black_box(&pad); deep(n + 1) + pad[3] }\n        if self.counter > 0 { std::hint::black_box(deep(0)); }",
        "SIGABRT",
        1,
    );
}

#[test]
fn a_crash_in_a_worker_thread_comes_back_with_the_state() {
    crash_and_recover(
        "worker_crash",
        "ctx.spawn(\"crasher\", |_| unsafe { std::ptr::null_mut::<u64>().write_volatile(7) });",
        "SIGSEGV",
        4,
    );
}

#[test]
fn a_crash_in_the_first_code_waits_for_a_fix() {
    let app = App::copy("counter", "init_crash");
    app.edit(
        "self.label = \"fresh\".into();",
        "self.label = \"fresh\".into();\n        std::process::abort();",
    );
    let relive = app.run(&[]);
    let rolled = relive.wait_event("rolled_back", BUILD_DEADLINE);
    assert_eq!(rolled["cause"], "crash");
    assert_eq!(rolled["signal"], "SIGABRT");
    app.edit("\n        std::process::abort();", "");
    let loaded = relive.wait_event("loaded", BUILD_DEADLINE);
    assert_eq!(loaded["resumed"], false);
    relive.wait_line("a frame of the fixed code", SHORT_DEADLINE, |l| {
        l.starts_with("tick 1 v1 gen 2")
    });
}

/// Removes `crash` and makes another edit: it loads as generation 3.
fn next_good_edit_loads(app: &App, relive: &Relive, crash: &str) {
    let mark = relive.mark();
    app.edit(crash, "");
    app.edit("let version = \"v1\";", "let version = \"v3\";");
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 3);
    relive.wait_line("a v3 frame", SHORT_DEADLINE, |l| l.contains(" v3 gen 3 "));
}

/// Edits `counter` so that `crash` runs in its 400th frame, long after the
/// swap; checks that it comes back on generation 1 with at most a second of
/// frames lost (`state_age_ms` and the counter agree), that generation 2 is
/// not run again, and that the next good edit loads.
fn crash_late(test: &str, crash: &str) {
    let app = App::copy("counter", test);
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    app.edit("// PANIC-HERE", crash);
    relive.wait_event("reloaded", BUILD_DEADLINE);
    let rolled = relive.wait_event("rolled_back", Duration::from_secs(60));
    assert_eq!(rolled["cause"], "crash", "{rolled}");
    assert_eq!(rolled["generation"], 1, "{rolled}");
    assert_eq!(rolled["failed_generation"], 2, "{rolled}");
    let age = rolled["state_age_ms"].as_u64().expect("state_age_ms");
    assert!(age <= 1000, "the state is {age} ms old: {rolled}");
    let last_before = relive.wait_for("generation 1 running again", SHORT_DEADLINE, |r| {
        let all = ticks(r);
        let i = all.iter().rposition(|t| t.generation == 2)?;
        all.get(i + 1).map(|next| (all[i].counter, next.counter))
    });
    let (crashed_at, resumed_at) = last_before;
    // 20 ms a frame: a second is about 45 frames.
    assert!(
        resumed_at + 55 >= crashed_at && resumed_at <= crashed_at + 1,
        "resumed at {resumed_at}, crashed after {crashed_at}"
    );
    assert!(
        crashed_at >= 400,
        "the crash came early, after {crashed_at}"
    );

    next_good_edit_loads(&app, &relive, crash);
    assert!(
        !ticks(&relive)
            .iter()
            .skip_while(|t| t.generation != 1 || t.counter < resumed_at)
            .any(|t| t.generation == 2),
        "the crashed generation ran again"
    );
}

#[test]
fn a_crash_in_the_400th_frame_of_new_code_loses_at_most_a_second() {
    crash_late(
        "late_segfault",
        "{ static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);\n          if N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 400 { unsafe { std::ptr::null_mut::<u64>().write_volatile(7) } } }",
    );
}

#[test]
fn a_worker_crash_late_after_a_swap_loses_at_most_a_second() {
    crash_late(
        "late_worker",
        "{ static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);\n          if N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 400 { ctx.spawn(\"crasher\", |_| unsafe { std::ptr::null_mut::<u64>().write_volatile(7) }); } }",
    );
}
