//! Foreign crates' types in the state under the real `relive run`: the
//! `foreign` fixture (glam, rand_pcg and indexmap values through
//! `#[relive(serde)]`, a rustc-hash map directly) and the `boids` example
//! (glam feature, a seeded stream through serde, a hecs world rebuilt by
//! `unloading`/`reloaded`) keep every value and their random streams across
//! code edits and a field added to a nested struct.

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;

use crate::harness::*;

/// The value of `key=value` in a line.
fn value<T: std::str::FromStr>(line: &str, key: &str) -> T {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// The `n`th number (from 1) of the stream seeded with `seed`.
fn nth_draw(seed: u64, n: u64) -> u64 {
    let mut rng = Pcg64::seed_from_u64(seed);
    (1..n).for_each(|_| {
        rng.next_u64();
    });
    rng.next_u64()
}

/// The first line of generation `generation` (or later) that `accept`s.
fn line_of(
    relive: &Relive,
    prefix: &str,
    generation: u64,
    accept: impl Fn(&str) -> bool,
) -> String {
    relive.wait_line("a line from the new code", BUILD_DEADLINE, |l| {
        l.starts_with(prefix) && value::<u64>(l, "generation") >= generation && accept(l)
    })
}

/// Every value of a `foreign` line is a function of its frame number.
fn check_foreign(line: &str) {
    let frame: u64 = value(line, "frame");
    assert_eq!(value::<f32>(line, "x"), 1.5 + 0.5 * frame as f32, "{line}");
    assert_eq!(
        value::<f32>(line, "y"),
        -2.5 + 0.25 * frame as f32,
        "{line}"
    );
    assert_eq!(value::<u32>(line, "id"), 7, "{line}");
    assert_eq!(
        value::<String>(line, "names"),
        format!("zeta:1,alpha:{}", 2 + frame),
        "the IndexMap kept its order and values: {line}"
    );
    assert_eq!(value::<u64>(line, "counted"), frame, "{line}");
    assert_eq!(value::<u64>(line, "draws"), frame, "{line}");
    assert_eq!(
        value::<u64>(line, "last"),
        nth_draw(11, frame),
        "the random stream carried on: {line}"
    );
}

#[test]
fn foreign_types_keep_values_and_random_streams_across_edits() {
    let app = App::copy("foreign", "foreign");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let first = relive.wait_line("a few frames", SHORT_DEADLINE, |l| {
        l.starts_with("foreign ") && value::<u64>(l, "frame") >= 3
    });
    check_foreign(&first);

    // A code edit.
    let mark = relive.mark();
    app.edit("tag=one", "tag=two");
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    let generation = reloaded["generation"].as_u64().expect("generation");
    let after = line_of(&relive, "foreign ", generation, |l| l.contains("tag=two"));
    check_foreign(&after);
    assert!(value::<u64>(&after, "frame") > value::<u64>(&first, "frame"));

    // A field added to the nested struct.
    let mark = relive.mark();
    app.edit(
        "    pub id: u32,\n}",
        "    pub id: u32,\n    pub mass: f32,\n}",
    );
    app.edit(
        "            id: 7,\n",
        "            id: 7,\n            mass: 0.0,\n",
    );
    app.edit("tag=two", "tag=three mass={}");
    app.edit(
        "            self.last,\n",
        "            self.last,\n            self.body.mass,\n",
    );
    let migrated = relive.wait_event_after("migrated", mark, BUILD_DEADLINE);
    assert_eq!(
        migrated["added"],
        serde_json::json!(["All.body.mass"]),
        "{migrated}"
    );
    let reloaded = relive.wait_event_after("reloaded", mark, SHORT_DEADLINE);
    let generation = reloaded["generation"].as_u64().expect("generation");
    let migrated_line = line_of(&relive, "foreign ", generation, |l| l.contains("tag=three"));
    check_foreign(&migrated_line);
    assert_eq!(value::<f32>(&migrated_line, "mass"), 0.0);
    assert!(value::<u64>(&migrated_line, "frame") > value::<u64>(&after, "frame"));
}

/// The distance between two points of the boids' wrapping world of side 100.
fn wrapped_distance(a: (f32, f32), b: (f32, f32)) -> f32 {
    let d = |p: f32, q: f32| {
        let d = (p - q).rem_euclid(100.0);
        d.min(100.0 - d)
    };
    d(a.0, b.0).hypot(d(a.1, b.1))
}

fn first_boid(line: &str) -> (f32, f32) {
    let text: String = value(line, "first");
    let (x, y) = text.split_once(',').expect("x,y");
    (x.parse().expect("x"), y.parse().expect("y"))
}

#[test]
fn boids_keep_flying_and_drawing_from_the_same_stream_after_an_edit() {
    let app = App::copy_example("boids", "boids");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let stream_ok = |line: &str| {
        assert_eq!(
            value::<u64>(line, "last"),
            nth_draw(7, value(line, "draws")),
            "the seeded stream: {line}"
        );
    };
    let before = relive.wait_line("a few lines", SHORT_DEADLINE, |l| {
        l.starts_with("flock ") && value::<u64>(l, "frame") >= 10
    });
    stream_ok(&before);

    let mark = relive.mark();
    app.edit(
        "pub const COHESION: f32 = 0.01;",
        "pub const COHESION: f32 = 0.02;",
    );
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    let generation = reloaded["generation"].as_u64().expect("generation");
    let after = line_of(&relive, "flock ", generation, |l| {
        l.contains("cohesion=0.02")
    });
    stream_ok(&after);
    // The last line of the old code just before, for continuity.
    let out = relive.output();
    let at = out
        .iter()
        .position(|l| *l == after)
        .expect("the line is there");
    let old = out[..at]
        .iter()
        .rev()
        .find(|l| l.starts_with("flock ") && value::<u64>(l, "generation") < generation)
        .expect("a line of the old code")
        .clone();
    let frames = value::<u64>(&after, "frame") - value::<u64>(&old, "frame");
    assert!(
        frames > 0 && frames <= 10,
        "frames carried on:\n{old}\n{after}"
    );
    let moved = wrapped_distance(first_boid(&old), first_boid(&after));
    assert!(
        moved <= 1.5 * frames as f32 + 0.01,
        "the first boid flew on from where it was ({moved} in {frames} frames):\n{old}\n{after}"
    );
    let draws = value::<u64>(&after, "draws") - value::<u64>(&old, "draws");
    assert_eq!(
        draws,
        2 * frames,
        "two draws a frame, none lost or repeated:\n{old}\n{after}"
    );
}
