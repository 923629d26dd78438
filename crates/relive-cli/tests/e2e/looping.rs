//! Loop live editing: `relive loop`, `relive live` and `relive rewind` from
//! another process, on the deterministic `replay` fixture (driven only by
//! `ctx.dt()` and `ctx.input()`): replayed frames print exactly what they
//! printed live, across reloads of unchanged code too; an edit shows inside
//! the looped window; a crash during a loop comes back live; an app that
//! reads the wall clock is reported as diverging.

use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::harness::*;

/// One `step FRAME STEPS X TYPED RNG NOISE VERSION` line.
struct Step {
    frame: u64,
    /// The line without its version.
    state: String,
    version: String,
}

fn step(line: &str) -> Option<Step> {
    let rest = line.strip_prefix("step ")?;
    let (state, version) = rest.rsplit_once(' ')?;
    Some(Step {
        frame: state.split(' ').next()?.parse().ok()?,
        state: state.to_string(),
        version: version.to_string(),
    })
}

fn steps(lines: &[String]) -> Vec<Step> {
    lines.iter().filter_map(|l| step(l)).collect()
}

/// Runs `relive ARGS` in the app's folder (as a user in another terminal).
fn relive_cmd(app: &App, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relive"))
        .args(args)
        .current_dir(app.path())
        .output()
        .expect("run relive")
}

fn ok(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "relive failed: {}\n{text}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

fn failed(output: &Output) -> String {
    assert!(!output.status.success(), "relive succeeded: {output:?}");
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// Waits until the app has printed frame `frame`.
fn wait_frame(relive: &Relive, frame: u64) {
    relive.wait_for(&format!("frame {frame}"), BUILD_DEADLINE, |r| {
        steps(&r.output())
            .iter()
            .any(|s| s.frame >= frame)
            .then_some(())
    });
}

fn events_named(relive: &Relive, name: &str) -> Vec<Value> {
    relive
        .events()
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

/// How often the frame number goes down in `steps`.
fn backs(steps: &[Step]) -> usize {
    steps.windows(2).filter(|w| w[1].frame < w[0].frame).count()
}

/// Starts a loop of `seconds` after frame `after`; returns its window and
/// the live lines by frame, and the number of output lines before the loop.
fn start_loop(app: &App, relive: &Relive, seconds: &str) -> (u64, u64, HashMap<u64, String>) {
    let said = ok(&relive_cmd(app, &["loop", seconds]));
    assert!(said.contains("looping the last"), "{said}");
    let started = relive.wait_event("loop_started", SHORT_DEADLINE);
    let from = started["from_frame"].as_u64().expect("from_frame");
    let to = started["to_frame"].as_u64().expect("to_frame");
    assert!(from < to, "{started}");
    let live: HashMap<u64, String> = steps(&relive.output())
        .into_iter()
        .take_while(|s| s.frame < to)
        .map(|s| (s.frame, s.state))
        .collect();
    assert!(
        (from..to).all(|f| live.contains_key(&f)),
        "a frame of the window was not printed live"
    );
    (from, to, live)
}

/// Every line printed in the window after the live run matches the live one.
fn check_replayed(relive: &Relive, to: u64, live: &HashMap<u64, String>) -> Vec<Step> {
    let all = steps(&relive.output());
    let first_back = all
        .windows(2)
        .position(|w| w[1].frame < w[0].frame)
        .expect("the frame counter went back");
    let replayed: Vec<Step> = all.into_iter().skip(first_back + 1).collect();
    for s in replayed.iter().filter(|s| s.frame < to) {
        assert_eq!(
            Some(&s.state),
            live.get(&s.frame),
            "replayed frame {} differs from live",
            s.frame
        );
    }
    replayed
}

#[test]
fn a_loop_replays_exactly_shows_an_edit_and_live_goes_on_past_the_window() {
    let app = App::copy("replay", "loop");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    wait_frame(&relive, 250);
    let (from, to, live) = start_loop(&app, &relive, "2");
    relive.wait_for("three passes", Duration::from_secs(30), |r| {
        (events_named(r, "loop_pass").len() >= 3).then_some(())
    });
    let replayed = check_replayed(&relive, to, &live);
    assert!(
        backs(&steps(&relive.output())) >= 2,
        "the counter went back only once"
    );
    assert!(replayed.iter().all(|s| s.frame >= from && s.frame < to + 1));

    // An edit during the loop shows inside the window.
    app.edit("let version = \"v1\";", "let version = \"v2\";");
    relive.wait_event("reloaded", BUILD_DEADLINE);
    relive.wait_for("a pass of generation 2", Duration::from_secs(30), |r| {
        events_named(r, "loop_pass")
            .iter()
            .any(|e| e["generation"] == 2)
            .then_some(())
    });
    relive.wait_for(
        "a v2 line inside the window",
        Duration::from_secs(30),
        |r| {
            steps(&r.output())
                .iter()
                .any(|s| s.version == "v2" && s.frame >= from && s.frame < to)
                .then_some(())
        },
    );
    // The edit changed only the label: the state replays the same.
    check_replayed(&relive, to, &live);
    assert!(events_named(&relive, "loop_diverged").is_empty());

    let said = ok(&relive_cmd(&app, &["live"]));
    assert!(said.contains("live again"), "{said}");
    let ended = relive.wait_event("loop_ended", SHORT_DEADLINE);
    let at = ended["frame"].as_u64().expect("frame");
    assert!(at >= from && at <= to, "{ended}");
    wait_frame(&relive, to + 100);
    let last = steps(&relive.output()).pop().expect("a line");
    assert_eq!(last.version, "v2");
    // Live again: a second `live` says there is no loop.
    let err = failed(&relive_cmd(&app, &["live"]));
    assert!(err.contains("not looping"), "{err}");
}

#[test]
fn reloads_of_unchanged_code_during_a_loop_replay_the_same_states() {
    let app = App::copy("replay", "loop_reload");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    wait_frame(&relive, 150);
    let (_, to, live) = start_loop(&app, &relive, "1");
    // Code that does the same, at whatever frame boundary the build lands.
    for n in 2..5u64 {
        app.edit("// NOISE-HERE", &format!("// NOISE-HERE {n}"));
        relive.wait_for(&format!("generation {n}"), BUILD_DEADLINE, |r| {
            events_named(r, "reloaded")
                .iter()
                .any(|e| e["generation"] == n)
                .then_some(())
        });
        app.edit(&format!("// NOISE-HERE {n}"), "// NOISE-HERE");
    }
    relive.wait_for("a pass after the reloads", Duration::from_secs(30), |r| {
        let passes = events_named(r, "loop_pass");
        passes
            .iter()
            .filter(|e| e["generation"].as_u64() >= Some(4))
            .count()
            .ge(&1)
            .then_some(())
    });
    check_replayed(&relive, to, &live);
}

#[test]
fn rewind_goes_back_and_goes_on_live_and_mistakes_are_explained() {
    let app = App::copy("replay", "rewind");
    let err = failed(&relive_cmd(&app, &["live"]));
    assert!(err.contains("no `relive run` is running"), "{err}");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    wait_frame(&relive, 200);
    let err = failed(&relive_cmd(&app, &["live"]));
    assert!(err.contains("not looping"), "{err}");
    let err = failed(&relive_cmd(&app, &["loop", "0"]));
    assert!(err.contains("above 0"), "{err}");
    let before = steps(&relive.output()).last().expect("a line").frame;
    let said = ok(&relive_cmd(&app, &["rewind", "1"]));
    assert!(said.contains("went back"), "{said}");
    let rewound = relive.wait_event("rewound", SHORT_DEADLINE);
    let to = rewound["to_frame"].as_u64().expect("to_frame");
    assert!(
        to < before && to + 200 > before,
        "{rewound} (was at {before})"
    );
    wait_frame(&relive, before + 100);
    let all = steps(&relive.output());
    assert!(backs(&all) >= 1);
    // From the rewound frame on, the frames run live once each.
    let after: Vec<u64> = all
        .iter()
        .skip_while(|s| s.frame != to)
        .skip(1)
        .skip_while(|s| s.frame != to)
        .map(|s| s.frame)
        .collect();
    assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "{after:?}");
    assert!(events_named(&relive, "loop_started").is_empty());
}

#[test]
fn nothing_is_recorded_with_record_0() {
    let app = App::copy("replay", "record0");
    let relive = app.run(&["--record", "0"]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    wait_frame(&relive, 100);
    let err = failed(&relive_cmd(&app, &["loop", "1"]));
    assert!(err.contains("recording is off"), "{err}");
}

#[test]
fn a_crash_during_a_loop_comes_back_live() {
    let app = App::copy("replay", "loop_crash");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    wait_frame(&relive, 150);
    let (_, to, _) = start_loop(&app, &relive, "1");
    relive.wait_event("loop_pass", SHORT_DEADLINE);
    app.edit("// CRASH-HERE", "std::process::abort();");
    let rolled = relive.wait_event("rolled_back", BUILD_DEADLINE);
    assert_eq!(rolled["cause"], "crash", "{rolled}");
    let ended = relive.wait_event("loop_ended", SHORT_DEADLINE);
    assert!(
        ended["reason"]
            .as_str()
            .is_some_and(|r| r.contains("crash")),
        "{ended}"
    );
    // Live on the last good code, past the window.
    wait_frame(&relive, to + 100);
    let err = failed(&relive_cmd(&app, &["live"]));
    assert!(err.contains("not looping"), "{err}");
}

#[test]
fn an_app_that_reads_the_wall_clock_is_reported_as_diverging() {
    let app = App::copy("replay", "loop_diverge");
    app.edit(
        "// NOISE-HERE",
        "self.noise = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);",
    );
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    wait_frame(&relive, 250);
    start_loop(&app, &relive, "2");
    let diverged = relive.wait_event("loop_diverged", Duration::from_secs(30));
    assert!(diverged["frame"].as_u64().is_some(), "{diverged}");
}

#[test]
fn the_aquarium_loops_exactly() {
    let app = App::copy_example("aquarium", "loop_aquarium");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_line("the third second", SHORT_DEADLINE, |l| {
        l.starts_with("aquarium frame 90 ")
    });
    ok(&relive_cmd(&app, &["loop", "2"]));
    relive.wait_for("three passes", Duration::from_secs(30), |r| {
        (events_named(r, "loop_pass").len() >= 3).then_some(())
    });
    assert!(events_named(&relive, "loop_diverged").is_empty());
    // Its once-a-second frame count went back.
    let counts: Vec<u64> = relive
        .output()
        .iter()
        .filter_map(|l| {
            l.strip_prefix("aquarium frame ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(counts.windows(2).any(|w| w[1] <= w[0]), "{counts:?}");
}
