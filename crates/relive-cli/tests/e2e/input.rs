//! `ctx.input()`: bytes piped into `relive run` reach the app exactly once,
//! across a reload and a rollback after a panic in new code.

use std::time::{Duration, Instant};

use crate::harness::*;

/// Sends numbered words in bursts, adding them to `sent`, until `done`.
fn type_until(relive: &mut Relive, sent: &mut String, mut done: impl FnMut(&Relive) -> bool) {
    let until = Instant::now() + BUILD_DEADLINE;
    while !done(relive) {
        assert!(Instant::now() < until, "timed out typing");
        let words = sent.matches(' ').count();
        let burst: String = (words..words + 5).map(|n| format!("w{n} ")).collect();
        relive.send(burst.as_bytes());
        sent.push_str(&burst);
        std::thread::sleep(Duration::from_millis(3));
    }
}

fn has_event(relive: &Relive, name: &str) -> bool {
    relive.events().iter().any(|e| e["event"] == name)
}

#[test]
fn piped_bytes_reach_the_app_exactly_once_across_a_reload_and_a_rollback() {
    let app = App::copy("typing", "input");
    let mut relive = app.run_piped(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let mut sent = String::new();
    type_until(&mut relive, &mut sent, |r| {
        r.output()
            .iter()
            .any(|l| l.starts_with("typed") && !l.starts_with("typed 0 "))
    });
    app.edit("let version = \"v1\";", "let version = \"v2\";");
    type_until(&mut relive, &mut sent, |r| has_event(r, "reloaded"));
    app.edit("// PANIC-HERE", "panic!(\"boom\");");
    type_until(&mut relive, &mut sent, |r| has_event(r, "rolled_back"));
    // The old code runs on, and gets what the undone frame had.
    type_until(&mut relive, &mut sent, |r| {
        r.output().last().is_some_and(|l| l.contains(" v2 gen 2"))
    });
    relive.send(b".");
    sent.push('.');
    relive.wait_exit(SHORT_DEADLINE);
    let all = relive.wait_line("the app's bytes", SHORT_DEADLINE, |l| l.starts_with("all "));
    assert_eq!(all.strip_prefix("all ").expect("prefix"), sent);
}
