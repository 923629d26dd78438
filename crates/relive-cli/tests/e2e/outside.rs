//! `--no-build`: builds started elsewhere, and libraries relive must refuse.

use crate::harness::*;

#[test]
fn an_outside_build_reloads_the_running_program() {
    let app = App::copy("counter", "outside");
    app.cargo_build();
    let relive = app.run(&["--no-build"]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    relive.wait_line("a v1 frame", SHORT_DEADLINE, |l| l.contains(" v1 gen 1 "));

    app.edit("let version = \"v1\";", "let version = \"v2\";");
    app.cargo_build();
    let reloaded = relive.wait_event("reloaded", SHORT_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    relive.wait_line("a v2 frame", SHORT_DEADLINE, |l| l.contains(" v2 gen 2 "));
    assert!(
        relive
            .events()
            .iter()
            .all(|e| e["event"] != "build_started"),
        "--no-build never runs cargo"
    );
}

#[test]
fn a_bad_library_is_refused_and_the_program_keeps_running() {
    let app = App::copy("counter", "badlib");
    app.cargo_build();
    let relive = app.run(&["--no-build"]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    relive.wait_line("a v1 frame", SHORT_DEADLINE, |l| l.contains(" v1 gen 1 "));
    let good = std::fs::read(app.artifact()).expect("built library");

    // Not a shared object at all, then a truncated one: written to a
    // temporary name and renamed into place, as a linker does.
    let cases: [(&str, Vec<u8>); 2] = [
        (
            "not a complete shared object",
            b"this is not an ELF file".to_vec(),
        ),
        ("truncated", good[..good.len() / 2].to_vec()),
    ];
    for (expected, bytes) in cases {
        let mark = relive.mark();
        let tmp = app.artifact().with_extension("tmp");
        std::fs::write(&tmp, &bytes).expect("write");
        std::fs::rename(&tmp, app.artifact()).expect("rename");
        let refused = relive.wait_event_after("refused", mark, SHORT_DEADLINE);
        let reason = refused["reason"].as_str().expect("reason");
        assert!(reason.contains(expected), "{reason}");
    }
    let before = ticks(&relive).last().expect("ticks").counter;
    relive.wait_for("generation 1 running on", SHORT_DEADLINE, |r| {
        ticks(r)
            .last()
            .filter(|t| t.counter > before + 3 && t.generation == 1)
            .map(|_| ())
    });
}
