//! What relive tells the person at the terminal: the status line, read
//! from a pseudo-terminal, shows the last outcome (rolled back, refused,
//! build failed, paused) until the next success; the swap pause after a
//! paused program is the swap's, not the pause's; `--quiet` still says
//! every failure in one line.

use crate::harness::*;

/// Writes `src/lib.rs` with all `edits` at once (one build, not one per
/// edit).
fn rewrite(app: &App, edits: &[(&str, &str)]) {
    let path = app.lib_rs();
    let mut text = std::fs::read_to_string(&path).expect("read lib.rs");
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is not in {}", path.display());
        text = text.replacen(from, to, 1);
    }
    std::fs::write(&path, text).expect("write lib.rs");
}

/// SGR colours of the status line (see `status::Colour`).
const PLAIN: &str = "7";
const WARN: &str = "30;43";
const BAD: &str = "97;41;1";

/// Waits until the status line reads `colour` and contains `part`.
fn wait_status(relive: &Relive, colour: &str, part: &str) -> String {
    relive.wait_for(
        &format!("a status line with {part:?} in colour {colour}"),
        SHORT_DEADLINE,
        |r| {
            r.status_line()
                .filter(|(sgr, text)| sgr == colour && text.contains(part))
                .map(|(_, text)| text)
        },
    )
}

/// The counter made a `u32`: a type change that cannot migrate.
const TO_U32: &[(&str, &str)] = &[
    ("pub counter: u64,", "pub counter: u32,"),
    (
        "self.counter >= EXIT_AFTER",
        "u64::from(self.counter) >= EXIT_AFTER",
    ),
];

/// Makes `edit`, waits for the event `event`, then for a status line in
/// `colour` that contains `part`.
fn after_edit(relive: &Relive, edit: impl FnOnce(), (event, colour): (&str, &str), part: &str) {
    let mark = relive.mark();
    edit();
    relive.wait_event_after(event, mark, BUILD_DEADLINE);
    wait_status(relive, colour, part);
}

const PANIC_NOW: &str = "if self.counter > 0 { panic!(\"boom in v2\"); }";
const PANIC_LATER: &str = "static FRAMES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0); \
    if FRAMES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 10 { panic!(\"late\"); }";

#[test]
fn the_status_line_shows_the_last_failure_until_the_next_success() {
    let app = App::copy("counter", "status_line");
    let relive = Relive::start_in_pty(app.path(), &[], 24, 120);
    relive.wait_event("loaded", BUILD_DEADLINE);
    wait_status(&relive, PLAIN, "relive · generation 1 · built in ");

    // New code that panics in its first frame is rolled back.
    after_edit(
        &relive,
        || app.edit("// PANIC-HERE", PANIC_NOW),
        ("rolled_back", BAD),
        "relive · generation 1 · rolled back: generation 2 panicked in frame; fix and save",
    );
    // A type change that cannot migrate is refused.
    after_edit(
        &relive,
        || rewrite(&app, &[(PANIC_NOW, "// PANIC-HERE"), TO_U32[0], TO_U32[1]]),
        ("refused", WARN),
        "relive · generation 1 · refused: All.counter: u64 -> u32",
    );
    // A build that fails.
    after_edit(
        &relive,
        || app.edit("let version = \"v1\";", "let version: u32 = \"v2\";"),
        ("build_failed", BAD),
        "relive · generation 1 · build failed: 1 error",
    );

    // Good code again, which panics a few frames later: the program pauses.
    let mark = relive.mark();
    rewrite(
        &app,
        &[
            ("let version: u32 = \"v2\";", "let version = \"v3\";"),
            (TO_U32[0].1, TO_U32[0].0),
            (TO_U32[1].1, TO_U32[1].0),
            ("// PANIC-HERE", PANIC_LATER),
        ],
    );
    relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    let panicked = relive.wait_event_after("panicked", mark, SHORT_DEADLINE);
    wait_status(&relive, BAD, "paused after a panic: fix and save");

    // The fix continues the program; the swap pause is the swap's.
    let mark = relive.mark();
    app.edit(PANIC_LATER, "// PANIC-HERE");
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    let generation = reloaded["generation"].as_u64().expect("generation");
    let text = wait_status(
        &relive,
        PLAIN,
        &format!("relive · generation {generation} · built in "),
    );
    assert!(text.contains(" · swap "), "{text}");
    let paused_ms =
        reloaded["t_ms"].as_u64().expect("t_ms") - panicked["t_ms"].as_u64().expect("t_ms");
    let pause_us = reloaded["pause_us"].as_u64().expect("pause_us");
    assert!(
        pause_us / 1000 < paused_ms / 2,
        "the swap pause ({pause_us} µs) is not the time the program was paused ({paused_ms} ms)"
    );
}

#[test]
fn quiet_still_says_every_failure_in_one_line() {
    let app = App::copy("counter", "quiet");
    let relive = app.run(&["--quiet"]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let mark = relive.mark();
    rewrite(&app, TO_U32);
    relive.wait_event_after("refused", mark, BUILD_DEADLINE);
    let mark = relive.mark();
    app.edit("let version = \"v1\";", "let version: u32 = \"v2\";");
    relive.wait_event_after("build_failed", mark, BUILD_DEADLINE);
    let lines = relive.wait_for("two lines on stderr", SHORT_DEADLINE, |r| {
        let lines = r.stderr_lines();
        (lines.len() >= 2).then_some(lines)
    });
    assert_eq!(
        lines.len(),
        2,
        "one line per failure, nothing else: {lines:#?}"
    );
    assert!(
        lines[0].starts_with("relive: refused the new code")
            && lines[0].contains("All.counter: u64 -> u32"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("relive: build failed (error: mismatched types)"),
        "{lines:#?}"
    );
}
