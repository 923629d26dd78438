//! State that survives edits of its types: migration by field name inside
//! nested types, refusals that name the field, and values that point into
//! the old library (`&'static str`, `fn` pointers, trait objects) across many
//! reloads.

use std::collections::HashMap;

use crate::harness::*;

/// One summary line of the menagerie fixture, as `key=value` pairs plus
/// `frame`, `version` and `gen`.
fn summary(line: &str) -> Option<HashMap<String, String>> {
    let mut words = line.split_whitespace();
    if words.next()? != "frame" {
        return None;
    }
    let mut map = HashMap::new();
    map.insert("frame".to_string(), words.next()?.to_string());
    map.insert("version".to_string(), words.next()?.to_string());
    words.next()?;
    map.insert("gen".to_string(), words.next()?.to_string());
    let rest: Vec<&str> = words.collect();
    let rest = rest.join(" ");
    // Values may hold spaces (the mood, the motto): split on ` key=`.
    let mut key = String::new();
    let mut value = String::new();
    for word in rest.split(' ') {
        match word.split_once('=') {
            Some((k, v)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase()) => {
                if !key.is_empty() {
                    map.insert(std::mem::take(&mut key), std::mem::take(&mut value));
                }
                key = k.to_string();
                value = v.to_string();
            }
            _ => {
                value.push(' ');
                value.push_str(word);
            }
        }
    }
    if !key.is_empty() {
        map.insert(key, value);
    }
    Some(map)
}

fn summaries(relive: &Relive) -> Vec<HashMap<String, String>> {
    relive.output().iter().filter_map(|l| summary(l)).collect()
}

fn started(relive: &Relive) {
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_for("three frames", SHORT_DEADLINE, |r| {
        (summaries(r).len() >= 3).then_some(())
    });
}

#[test]
fn inserting_a_field_in_a_nested_type_and_reordering_the_state_keeps_every_value() {
    let app = App::copy("menagerie", "migrate");
    let relive = app.run(&[]);
    started(&relive);
    // A field in the middle of the element type, the state's fields
    // reordered, a field removed, and a u32 widened to u64 in a map.
    app.edit(
        "pub x: i64,\n    pub tag: u32,",
        "pub x: i64,\n    pub mass: u16,\n    pub tag: u32,",
    );
    app.edit(
        "    pub frames: u64,\n    pub particles: Vec<Particle>,\n    pub name: String,",
        "    pub name: String,\n    pub added: Vec<u8>,\n    pub particles: Vec<Particle>,\n    pub frames: u64,",
    );
    app.edit(
        "pub scores: HashMap<String, u32>,",
        "pub scores: HashMap<String, u64>,",
    );
    app.edit(".map(|&v| u64::from(v)).sum();", ".sum();");
    app.edit(
        "(format!(\"k{i}\"), i * i)",
        "(format!(\"k{i}\"), (i * i) as u64)",
    );
    app.edit(
        "Particle { x: i * 7 - 300, tag",
        "Particle { x: i * 7 - 300, mass: 1, tag",
    );
    app.edit(
        "Particle { x: -5, tag: 99 }",
        "Particle { x: -5, mass: 2, tag: 99 }",
    );
    app.edit("let version = \"v1\";", "let version = \"v2\";");

    let migrated = relive.wait_event("migrated", BUILD_DEADLINE);
    assert_eq!(migrated["mode"], "by_name", "{migrated}");
    let added: Vec<String> = serde_json::from_value(migrated["added"].clone()).expect("list");
    assert!(
        added.contains(&"All.particles[].mass".to_string()),
        "{migrated}"
    );
    assert!(added.contains(&"All.added".to_string()), "{migrated}");
    let widened = migrated["widened"].to_string();
    assert!(widened.contains("All.scores[]: u32 -> u64"), "{migrated}");
    let reset = migrated["reset"].to_string();
    assert!(
        reset.contains("All.step"),
        "a fn pointer never crosses a migration by name: {migrated}"
    );
    relive.wait_event("reloaded", SHORT_DEADLINE);
    relive.wait_line("a v2 frame", SHORT_DEADLINE, |l| l.contains(" v2 gen 2 "));

    let all = summaries(&relive);
    let first_new = all
        .iter()
        .position(|s| s["version"] == "v2")
        .expect("v2 ran");
    let (old, new) = (&all[first_new - 1], &all[first_new]);
    let frame = |s: &HashMap<String, String>| s["frame"].parse::<u64>().expect("frame number");
    assert_eq!(
        frame(new),
        frame(old) + 1,
        "the frame counter continues exactly"
    );
    for key in [
        "xs", "tags", "n", "name", "best", "scores", "mood", "motto", "step",
    ] {
        if key == "step" {
            continue; // depends on the frame number
        }
        assert_eq!(old[key], new[key], "{key} survived the migration");
    }
    assert_eq!(
        new["xs"],
        (1..=100).map(|i| i * 7 - 300).sum::<i64>().to_string()
    );
    assert_eq!(
        new["scores"],
        (0..10).map(|i| i * i).sum::<u64>().to_string()
    );
    assert_eq!(new["mood"], "Busy { level: 4 }");
    assert_eq!(
        new["step"],
        (frame(new) * 3).to_string(),
        "the fn pointer, reset by the migration, was set again by `reloaded`"
    );
}

#[test]
fn an_incompatible_nested_type_change_is_refused_naming_the_path_and_types() {
    let app = App::copy("menagerie", "nested_refused");
    let relive = app.run(&[]);
    started(&relive);
    app.edit("pub tag: u32,", "pub tag: String,");
    app.edit("tag: i as u32 % 13 }", "tag: String::new() }");
    app.edit("tag: 99 }", "tag: String::new() }");
    app.edit("u64::from(p.tag)", "p.tag.len() as u64");
    app.edit("let version = \"v1\";", "let version = \"v2\";");
    let refused = relive.wait_event("refused", BUILD_DEADLINE);
    let reason = refused["reason"].as_str().expect("reason");
    assert!(
        reason.contains("All.particles[].tag: u32 -> String"),
        "{reason}"
    );
    let before = summaries(&relive).len();
    relive.wait_for("the old code running on", SHORT_DEADLINE, |r| {
        let all = summaries(r);
        (all.len() > before + 3 && all.iter().all(|s| s["version"] == "v1")).then_some(())
    });
}

#[test]
fn static_strings_fn_pointers_and_trait_objects_survive_fifty_reloads() {
    let app = App::copy("pinned", "pins");
    app.cargo_build();
    let variant_a = app.path().join("variant_a.so");
    std::fs::copy(app.artifact(), &variant_a).expect("keep variant a");
    app.edit("let version = \"v1\";", "let version = \"v2\";");
    app.cargo_build();
    let variant_b = app.path().join("variant_b.so");
    std::fs::copy(app.artifact(), &variant_b).expect("keep variant b");

    let mut relive = app.run(&["--no-build"]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    let pinned = {
        let mark = relive.mark();
        for i in 0..50 {
            let mark = relive.mark();
            swap_in(&app, if i % 2 == 0 { &variant_a } else { &variant_b });
            let reloaded = relive.wait_event_after("reloaded", mark, SHORT_DEADLINE);
            assert_eq!(reloaded["generation"], i + 2);
        }
        relive.wait_event_after("pinned", mark, SHORT_DEADLINE)
    };
    let fields = pinned["fields"].to_string();
    assert!(
        fields.contains("All.motto (&'static str, pinned)"),
        "{pinned}"
    );
    assert!(fields.contains("All.step"), "{pinned}");
    assert!(fields.contains("All.pet"), "{pinned}");

    relive.wait_line("generation 51 running", SHORT_DEADLINE, |l| {
        l.contains(" gen 51 ")
    });
    let last = summaries(&relive).pop().expect("frames");
    assert_eq!(last["motto"], "static words");
    let frame: u64 = last["frame"].parse().expect("frame");
    assert_eq!(last["step"], (frame * 3).to_string());
    assert_eq!(last["legs"], "8", "the trait object still dispatches");
    assert_eq!(
        relive
            .events()
            .iter()
            .filter(|e| e["event"] == "rolled_back")
            .count(),
        0
    );

    // Pinned by value: every carried value points into generation 1, so
    // only it stays mapped besides the running one.
    assert_eq!(pinned["kept_mapped"], serde_json::json!([1]), "{pinned}");
    let copies = mapped_copies(relive.runner_pid(), &format!("lib{}.gen", app.name));
    assert!(
        copies.len() <= 3,
        "only the generations values point into stay mapped: {copies:?}"
    );
    let staging = copies
        .iter()
        .find_map(|c| c.parent().map(std::path::Path::to_path_buf))
        .expect("a mapped copy");
    relive.signal(libc::SIGINT);
    relive.wait_exit(SHORT_DEADLINE);
    assert!(
        !staging.exists(),
        "the copies (of pinned generations too) are removed when relive exits: {}",
        staging.display()
    );
}

/// Puts a kept build in place of the app's library, as a linker would.
fn swap_in(app: &App, build: &std::path::Path) {
    let tmp = app.artifact().with_extension("tmp");
    std::fs::copy(build, &tmp).expect("stage variant");
    std::fs::rename(&tmp, app.artifact()).expect("swap variant in");
}

/// The private copies of the app library mapped in process `pid`.
fn mapped_copies(pid: u32, prefix: &str) -> std::collections::BTreeSet<std::path::PathBuf> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .map(std::path::PathBuf::from)
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect()
}

#[test]
fn a_panic_in_pinned_old_code_is_reported_and_recovered_through_the_crash_path() {
    let app = App::copy("pinned", "pinned_panic");
    app.cargo_build();
    let variant_a = app.path().join("variant_a.so");
    std::fs::copy(app.artifact(), &variant_a).expect("keep variant a");
    app.edit(
        "const BUILD: &str = \"spider v1\";",
        "const BUILD: &str = \"spider v2\";",
    );
    app.edit("let version = \"v1\";", "let version = \"v2\";");
    app.cargo_build();
    let variant_b = app.path().join("variant_b.so");
    std::fs::copy(app.artifact(), &variant_b).expect("keep variant b");
    swap_in(&app, &variant_a);

    let flag = app.path().join("old-spider-panics");
    let flag_text = flag.to_string_lossy().into_owned();
    let relive = app.run_with_env(&["--no-build"], &[("PINNED_PANIC_FLAG", &flag_text)]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    let mark = relive.mark();
    swap_in(&app, &variant_b);
    relive.wait_event_after("reloaded", mark, SHORT_DEADLINE);
    relive.wait_line("v2 runs, calling the v1 spider", SHORT_DEADLINE, |l| {
        l.contains(" v2 gen 2 ") && l.contains("legs=8")
    });
    // Generation 1's spider, still called by generation 2, now panics.
    std::fs::write(&flag, b"").expect("flag");
    let crash = relive.wait_event_after("rolled_back", mark, SHORT_DEADLINE);
    assert_eq!(crash["cause"], "crash", "{crash}");
    assert_eq!(crash["generation"], 2, "{crash}");
    let stderr = relive.stderr().join("\n");
    assert!(
        stderr.contains("relive: old code panicked at")
            && stderr.contains("the old spider lost a leg")
            && stderr.contains("older generation, kept mapped"),
        "the panic in old code is named: {stderr}"
    );
    // Back on generation 2 from a fresh start (a trait object cannot be
    // checkpointed): its own spider does not panic.
    relive.wait_line("generation 2 again", SHORT_DEADLINE, |l| {
        l.contains(" v2 gen 2 ") && l.contains("legs=8") && l.starts_with("frame 1 ")
    });
}
