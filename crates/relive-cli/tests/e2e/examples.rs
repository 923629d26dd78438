//! The examples users run first, under the real `relive run`, edited the way
//! their "try changing this" comments invite (the window example has its
//! own module, `window`).

use crate::harness::*;

/// A worker's line: "worker band-N started (generation G)" or "... stopped ...".
struct WorkerLine {
    band: String,
    started: bool,
    generation: u64,
}

fn worker_line(line: &str) -> Option<WorkerLine> {
    let rest = line.strip_prefix("worker ")?;
    let (band, rest) = rest.split_once(' ')?;
    let (action, rest) = rest.split_once(" (generation ")?;
    Some(WorkerLine {
        band: band.to_string(),
        started: match action {
            "started" => true,
            "stopped" => false,
            _ => return None,
        },
        generation: rest.strip_suffix(')')?.parse().ok()?,
    })
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

/// The generation of a line that names it, if it is at least `min`.
fn generation_at_least(line: &str, min: u64) -> Option<u64> {
    field::<u64>(line, "generation").filter(|g| *g >= min)
}

#[test]
fn workers_stop_before_the_swap_and_start_again_on_the_new_code() {
    let app = App::copy_example("workers", "workers");
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
    // Generation 2, or a later one if something else was rebuilt meanwhile.
    let after = relive.wait_line("a line from the new code", SHORT_DEADLINE, |l| {
        l.starts_with("heat step ")
            && generation_at_least(l, 2).is_some()
            && field::<u64>(l, "workers") == Some(6)
    });
    let generation = generation_at_least(&after, 2).expect("generation");
    for band in 0..6 {
        let started = format!("worker band-{band} started (generation {generation})");
        relive.wait_line(&started, SHORT_DEADLINE, |l| l == started);
    }
    let steps_after: u64 = field(&after, "step").expect("step count");
    assert!(
        steps_after > steps_before,
        "the simulation went on from its state: step {steps_before} then {steps_after}"
    );

    // Whenever a worker of a generation starts, every worker of the older
    // generations has stopped already: relive joined them before the swap.
    let output = relive.output();
    let lines: Vec<WorkerLine> = output.iter().filter_map(|l| worker_line(l)).collect();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| l.started) {
        for older in lines[..i]
            .iter()
            .filter(|o| o.started && o.generation < line.generation)
        {
            let stopped = lines[..i]
                .iter()
                .any(|s| !s.started && s.band == older.band && s.generation == older.generation);
            assert!(
                stopped,
                "worker {} of generation {} still ran when {} of generation {} started:\n{}",
                older.band,
                older.generation,
                line.band,
                line.generation,
                output.join("\n")
            );
        }
    }
}

/// The first output line of generation `generation` or later (a later one
/// when something else was rebuilt meanwhile), and the last line of an
/// earlier generation before it.
fn switch_lines(relive: &Relive, generation: u64) -> (String, String) {
    let new = relive.wait_line("a line from the new code", SHORT_DEADLINE, |l| {
        generation_at_least(l, generation).is_some()
    });
    let out = relive.output();
    let at = out
        .iter()
        .position(|l| *l == new)
        .expect("the line is there");
    let old = out[..at]
        .iter()
        .rev()
        .find(|l| field::<u64>(l, "generation").is_some_and(|g| g < generation))
        .expect("a line from the old code before it")
        .clone();
    (old, new)
}

/// The single path in a `migrated` event's list `key`, which must end with
/// `name` (paths start at the state struct: "Journal.mood").
fn only_path(migrated: &serde_json::Value, key: &str, name: &str) {
    let paths: Vec<String> =
        serde_json::from_value(migrated[key].clone()).expect("a list of fields");
    assert!(
        paths.len() == 1 && (paths[0] == name || paths[0].ends_with(&format!(".{name}"))),
        "{key} should name only {name}: {migrated}"
    );
}

#[test]
fn migration_keeps_the_values_when_fields_are_inserted_and_reordered() {
    let app = App::copy_example("migration", "migration");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_line("two seconds of generation 1", SHORT_DEADLINE, |l| {
        field::<u64>(l, "seconds").is_some_and(|s| s >= 2)
    });
    let seconds = |l: &str| field::<u64>(l, "seconds").expect("seconds");
    let visitors = |l: &str| field::<u32>(l, "visitors").expect("visitors");
    let best = |l: &str| {
        l.split_whitespace()
            .find(|w| w.starts_with("best="))
            .expect("best")
            .to_string()
    };

    // Insert a field in the middle, move another to the end, print the new one.
    let mark = relive.mark();
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
    only_path(&migrated, "added", "mood");
    assert_eq!(migrated["removed"], serde_json::json!([]), "{migrated}");
    let reloaded = relive.wait_event_after("reloaded", mark, SHORT_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    let (old, new) = switch_lines(&relive, 2);
    assert_eq!(
        seconds(&new),
        seconds(&old) + 1,
        "ticks survived the move to the end:\n{old}\n{new}"
    );
    assert!(
        visitors(&new) > visitors(&old),
        "visitors survived:\n{old}\n{new}"
    );
    assert!(
        new.contains("motto=\"hello, relive\" mood=\"\" best="),
        "motto kept, mood from Default: {new}"
    );
    assert_ne!(best(&new), "best=0@0", "best kept: {new}");

    // A field added to a type nested in the state migrates by name too.
    let mark = relive.mark();
    let generation = reloaded["generation"].as_u64().expect("generation");
    app.edit(
        "    pub second: u64,\n}",
        "    pub second: u64,\n    pub note: u8,\n}",
    );
    app.edit(
        "                second: self.seconds(),\n",
        "                second: self.seconds(),\n                note: 0,\n",
    );
    let migrated = relive.wait_event_after("migrated", mark, BUILD_DEADLINE);
    only_path(&migrated, "added", "best.note");
    let (old, new) = switch_lines(&relive, generation + 1);
    assert_eq!(seconds(&new), seconds(&old) + 1, "{old}\n{new}");
    assert_eq!(best(&new), best(&old), "the nested record kept its values");
}

#[test]
fn the_default_aquarium_reloads_an_edit_and_keeps_its_fish() {
    let app = App::copy_example("aquarium", "aquarium");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let before = relive.wait_line("an aquarium line", SHORT_DEADLINE, |l| {
        l.starts_with("aquarium frame") && l.ends_with("fish 7")
    });
    let frames_before: u64 = field(&before, "frame").expect("frame number");
    // Off a terminal the aquarium prints one line a second; change its words.
    app.edit(
        "\"aquarium frame {} generation {} fish {}\"",
        "\"aquarium frame {} generation {} fishes {}\"",
    );
    let reloaded = relive.wait_event("reloaded", BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    let after = relive.wait_line("the edited line", SHORT_DEADLINE, |l| {
        l.contains("generation 2 fishes")
    });
    let frames_after: u64 = field(&after, "frame").expect("frame number");
    assert!(
        frames_after > frames_before,
        "the frame count went on: {before} -> {after}"
    );
    assert!(after.ends_with("fishes 7"), "the same seven fish: {after}");
}
