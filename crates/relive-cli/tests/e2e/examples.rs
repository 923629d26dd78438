//! The examples users run first, under the real `relive run`, edited the way
//! their "try changing this" comments invite (the window example has its
//! own module, `window`).

use crate::harness::*;
use crate::standalone::Example;

/// Output lines that start with `prefix`, in order.
fn lines_with(relive: &Relive, prefix: &str) -> Vec<String> {
    relive
        .output()
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// The value of `key=value` (or `key value`) in a line of example output.
fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        if let Some(value) = word.strip_prefix(&format!("{key}=")) {
            return value.parse().ok();
        }
        if word == key {
            return words.next()?.parse().ok();
        }
    }
    None
}

#[test]
fn workers_stop_before_the_swap_and_start_again_on_the_new_code() {
    let app = Example::copy("workers", "workers");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    for band in 0..4 {
        let started = format!("worker band-{band} started (generation 1)");
        relive.wait_line(&started, SHORT_DEADLINE, |l| l == started);
    }
    let before = relive.wait_line("a line from generation 1", SHORT_DEADLINE, |l| {
        l.starts_with("heat step ") && l.contains(" generation 1 workers 4 ")
    });
    let steps_before: u64 = field(&before, "step").expect("step count");

    let mark = relive.mark();
    app.edit("const WORKERS: usize = 4;", "const WORKERS: usize = 6;");
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    assert!(reloaded["stages"]["stop_workers_us"].is_u64(), "{reloaded}");
    for band in 0..6 {
        let started = format!("worker band-{band} started (generation 2)");
        relive.wait_line(&started, SHORT_DEADLINE, |l| l == started);
    }
    let after = relive.wait_line("a line from generation 2", SHORT_DEADLINE, |l| {
        l.starts_with("heat step ") && l.contains(" generation 2 workers 6 ")
    });
    let steps_after: u64 = field(&after, "step").expect("step count");
    assert!(
        steps_after > steps_before,
        "the simulation went on from its state: step {steps_before} then {steps_after}"
    );

    // Every worker of generation 1 stopped, and did so before any worker of
    // generation 2 started.
    let workers = lines_with(&relive, "worker ");
    let first_new = workers
        .iter()
        .position(|l| l.ends_with("(generation 2)"))
        .expect("generation 2 workers");
    let mut stopped: Vec<&str> = workers[..first_new]
        .iter()
        .filter(|l| l.ends_with("stopped (generation 1)"))
        .map(String::as_str)
        .collect();
    stopped.sort_unstable();
    let expected: Vec<String> = (0..4)
        .map(|b| format!("worker band-{b} stopped (generation 1)"))
        .collect();
    assert_eq!(stopped, expected, "worker lines: {workers:#?}");
    assert!(
        workers[first_new..]
            .iter()
            .all(|l| l.ends_with("(generation 2)")),
        "no generation 1 worker runs after the swap: {workers:#?}"
    );
}

#[test]
fn migration_keeps_the_values_when_fields_are_inserted_and_reordered() {
    let app = Example::copy("migration", "migration");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_line("two seconds of generation 1", SHORT_DEADLINE, |l| {
        field::<u64>(l, "seconds").is_some_and(|s| s >= 2)
    });

    let mark = relive.mark();
    // Insert a field in the middle, move another to the end, print the new one.
    app.edit(
        "    pub ticks: u64,\n    pub visitors: u32,\n",
        "    pub visitors: u32,\n    pub mood: String,\n",
    );
    app.edit(
        "    pub recent: Vec<u32>,\n}",
        "    pub recent: Vec<u32>,\n    pub ticks: u64,\n}",
    );
    app.edit("motto={:?} best", "motto={:?} mood={:?} best");
    app.edit(
        "                self.motto,\n",
        "                self.motto,\n                self.mood,\n",
    );
    let migrated = relive.wait_event_after("migrated", mark, BUILD_DEADLINE);
    // Named by field, or by path from the state struct ("Journal.mood").
    let added: Vec<String> =
        serde_json::from_value(migrated["added"].clone()).expect("a list of fields");
    assert!(
        added.len() == 1 && (added[0] == "mood" || added[0].ends_with(".mood")),
        "only mood is new: {migrated}"
    );
    assert_eq!(migrated["removed"], serde_json::json!([]), "{migrated}");
    let reloaded = relive.wait_event_after("reloaded", mark, SHORT_DEADLINE);
    assert_eq!(reloaded["generation"], 2);

    let new = relive.wait_line("a line from generation 2", SHORT_DEADLINE, |l| {
        l.ends_with("generation=2")
    });
    let out = relive.output();
    let at = out
        .iter()
        .position(|l| *l == new)
        .expect("the line is there");
    let old = out[..at]
        .iter()
        .rev()
        .find(|l| l.ends_with("generation=1"))
        .expect("a line from generation 1 before it");
    let seconds = |l: &str| field::<u64>(l, "seconds").expect("seconds");
    let visitors = |l: &str| field::<u32>(l, "visitors").expect("visitors");
    assert_eq!(
        seconds(&new),
        seconds(old) + 1,
        "ticks survived the move to the end:\n{old}\n{new}"
    );
    assert!(
        visitors(&new) > visitors(old),
        "visitors survived:\n{old}\n{new}"
    );
    assert!(
        new.contains("motto=\"hello, relive\" mood=\"\" best="),
        "motto kept, mood from Default: {new}"
    );
    let best = |l: &str| {
        l.split_whitespace()
            .find(|w| w.starts_with("best="))
            .map(str::to_string)
    };
    assert!(
        best(&new).is_some_and(|b| b != "best=0@0"),
        "best kept: {new}"
    );
}
