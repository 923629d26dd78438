//! A state of every shape (`Vec<u64>`, a `Vec` of a plain struct, nested
//! plain structs, `Vec<String>` with a `HashMap<u64, String>`) carried
//! unchanged across 300 swaps of two prebuilt libraries under
//! `relive run --no-build`: the `shapes` fixture prints a hash of all its
//! values in the first frame of every generation.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::harness::*;

const V1: &str = "let version = \"v1\";";
const V2: &str = "let version = \"v2\";";

/// One `shapes VERSION gen G seed S hash H` line.
#[derive(Debug, PartialEq)]
struct Line {
    version: String,
    generation: u64,
    seed: u64,
    hash: String,
}

fn parse(line: &str) -> Option<Line> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["shapes", version, "gen", g, "seed", s, "hash", h] => Some(Line {
            version: version.to_string(),
            generation: g.parse().ok()?,
            seed: s.parse().ok()?,
            hash: h.to_string(),
        }),
        _ => None,
    }
}

/// The lines printed so far, by generation.
fn lines(relive: &Relive) -> BTreeMap<u64, Line> {
    relive
        .output()
        .iter()
        .filter_map(|l| parse(l))
        .map(|l| (l.generation, l))
        .collect()
}

#[test]
fn a_state_of_every_shape_survives_300_swaps_unchanged() {
    let swaps: u64 = 300;
    let app = App::copy("shapes", "shapes");
    let (v1, v2) = two_builds(&app, V1, V2);
    replace_file(&app.artifact(), &v1);
    let relive = app.run(&["--no-build"]);
    let first = relive.wait_for("the first generation's line", SHORT_DEADLINE, |r| {
        lines(r).remove(&1)
    });
    assert_eq!(first.version, "v1");

    let start = Instant::now();
    for i in 1..=swaps {
        let (bytes, version) = if i % 2 == 1 { (&v2, "v2") } else { (&v1, "v1") };
        replace_file(&app.artifact(), bytes);
        let generation = i + 1;
        // The next library is put in place once this generation has run.
        relive.wait_for(
            &format!("swap {i}: the line of generation {generation} ({version})"),
            SHORT_DEADLINE,
            |r| {
                assert_no_failure(&r.events(), &format!("swap {i}"));
                lines(r).remove(&generation)
            },
        );
    }
    eprintln!("shapes: {swaps} swaps in {:.1?}", start.elapsed());

    // The event of the last swap may follow its generation's first line.
    relive.wait_for("a reloaded event per swap", SHORT_DEADLINE, |r| {
        (count(&r.events(), "reloaded") as u64 >= swaps).then_some(())
    });
    assert_eq!(
        count(&relive.events(), "reloaded") as u64,
        swaps,
        "one reload per swap"
    );
    let all = lines(&relive);
    for generation in 1..=swaps + 1 {
        let line = all
            .get(&generation)
            .unwrap_or_else(|| panic!("no line from generation {generation}"));
        let version = if generation % 2 == 1 { "v1" } else { "v2" };
        assert_eq!(
            line.version, version,
            "generation {generation} runs {version}"
        );
        assert_eq!(
            (line.seed, &line.hash),
            (first.seed, &first.hash),
            "generation {generation} has the state generation 1 filled"
        );
    }
}
