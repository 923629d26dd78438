//! Process-wide registrations of a generation that outlive its library: a
//! signal handler installed in `init` is restored before the library is
//! closed (a SIGWINCH after the reload does not crash the program), a
//! thread the app started itself keeps its code mapped, and descriptors it
//! left open are reported.

use crate::harness::*;
use serde_json::Value;

/// The `hazard` event of `kind` about `detail`, once it is there.
fn hazard(relive: &Relive, kind: &str, detail: &str) -> Value {
    relive.wait_for(
        &format!("a {kind} hazard about {detail}"),
        SHORT_DEADLINE,
        |r| {
            r.events()
                .into_iter()
                .find(|e| e["event"] == "hazard" && e["kind"] == kind && e["detail"] == detail)
        },
    )
}

/// Starts the fixture, waits for a few frames, reloads it once.
fn reloaded(app: &App) -> Relive {
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_for("three v1 frames", SHORT_DEADLINE, |r| {
        (ticks(r).len() >= 3).then_some(())
    });
    app.edit("let version = \"v1\";", "let version = \"v2\";");
    let reloaded = relive.wait_event("reloaded", BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 2, "{reloaded}");
    relive
}

/// Sends SIGWINCH to the runner and checks the program goes on in it.
fn survives_sigwinch(relive: &Relive) {
    let runner = relive.runner_pid();
    for _ in 0..3 {
        // SAFETY: kill has no memory effects; the pid is relive's runner.
        unsafe { libc::kill(runner as i32, libc::SIGWINCH) };
    }
    let before = ticks(relive).len();
    relive.wait_for("v2 frames after the SIGWINCH", SHORT_DEADLINE, |r| {
        (ticks(r).len() > before + 5).then_some(())
    });
    assert_eq!(relive.runner_pid(), runner, "the runner was restarted");
    let crashes: Vec<Value> = relive
        .events()
        .into_iter()
        .filter(|e| e["event"] == "rolled_back")
        .collect();
    assert!(crashes.is_empty(), "no crash: {crashes:?}");
    assert!(ticks(relive).last().is_some_and(|t| t.version == "v2"));
}

#[test]
fn a_signal_handler_of_old_code_is_restored_and_a_resize_does_not_crash() {
    let app = App::copy("hazards", "sigwinch");
    let relive = reloaded(&app);
    let signal = hazard(&relive, "signal_handler", "SIGWINCH");
    assert_eq!(signal["generation"], 1, "{signal}");
    assert_eq!(signal["action"], "restored", "{signal}");
    let fd = hazard(&relive, "fd", "/dev/null");
    assert_eq!(fd["generation"], 1, "{fd}");
    assert_eq!(fd["action"], "reported", "{fd}");
    survives_sigwinch(&relive);
    let once = relive
        .events()
        .into_iter()
        .filter(|e| e["event"] == "hazard" && e["detail"] == "SIGWINCH")
        .count();
    assert_eq!(once, 1, "reported once");
}

#[test]
fn a_thread_the_app_started_keeps_its_code_mapped() {
    let app = App::copy("hazards", "own_thread");
    app.edit(
        "const OWN_THREAD: bool = false;",
        "const OWN_THREAD: bool = true;",
    );
    let relive = reloaded(&app);
    let thread = hazard(&relive, "thread", "own-ticker");
    assert_eq!(thread["generation"], 1, "{thread}");
    assert_eq!(thread["action"], "kept mapped", "{thread}");
    // The thread's code is still there: it keeps running.
    survives_sigwinch(&relive);
}
