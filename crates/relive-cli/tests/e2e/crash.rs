//! Crashes in new code (segfault, abort, stack overflow, a crash in a worker
//! thread) end only relive's runner process: the program comes back on the
//! last good generation with the state checkpointed at the swap, and the
//! next good edit reloads as usual.

use crate::harness::*;

/// Edits `counter` so that its next frame crashes with `crash`, waits for
/// the recovery, and checks that the counter continues from the state at the
/// swap: exactly, or, when the new code's frames ran before the crash (a
/// worker crashing later), repeating at most `rerun` frames.
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
    let mark = relive.mark();
    app.edit(crash, "");
    app.edit("let version = \"v1\";", "let version = \"v3\";");
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 3);
    relive.wait_line("a v3 frame", SHORT_DEADLINE, |l| l.contains(" v3 gen 3 "));
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
        0,
    );
}

#[test]
fn an_abort_in_new_code_comes_back_with_the_state() {
    crash_and_recover(
        "abort",
        "if self.counter > 0 { std::process::abort(); }",
        "SIGABRT",
        0,
    );
}

#[test]
fn a_stack_overflow_in_new_code_comes_back_with_the_state() {
    crash_and_recover(
        "overflow",
        "fn deep(n: u64) -> u64 { let pad = [n; 512]; std::hint::black_box(&pad); deep(n + 1) + pad[3] }\n        if self.counter > 0 { std::hint::black_box(deep(0)); }",
        "SIGABRT",
        0,
    );
}

#[test]
fn a_crash_in_a_worker_thread_comes_back_with_the_state() {
    crash_and_recover(
        "worker_crash",
        "ctx.spawn(\"crasher\", |_| unsafe { std::ptr::null_mut::<u64>().write_volatile(7) });",
        "SIGSEGV",
        3,
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
