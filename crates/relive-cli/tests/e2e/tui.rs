//! The `tui` example (ratatui and crossterm) in a real pseudo-terminal:
//! typed text survives an edit of the drawing code, a resize and a panic
//! that rolls back, and Ctrl-C leaves the shell as it was.

use crate::harness::*;
use crate::screen::*;

#[test]
fn the_ratatui_example_keeps_what_was_typed_across_edits_a_resize_and_a_panic() {
    let app = App::copy_example("tui", "tui");
    let screen = Screen::open(30, 80);
    let before = screen.mode();
    let dir = tempfile::tempdir().expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let mut child = screen.run_relive(&app, &events, &[]);

    wait("the example's screen", &screen, &events, |s, _| {
        s.contains("relive · tui") && s.contains("80×29")
    });
    screen.type_in(b"hello relive\rsecond ");
    screen.type_in("line é".as_bytes());
    wait("the typed text", &screen, &events, |s, _| {
        s.contains("1. hello relive") && s.contains("second line é")
    });

    // Edit the drawing code: the title and how a kept line is shown.
    app.edit(
        "const TITLE: &str = \" relive · tui \";",
        "const TITLE: &str = \" edited live \";",
    );
    app.edit("\"{:>3}. {line}\"", "\"{:>3}) {line}\"");
    wait("the new drawing code", &screen, &events, |s, e| {
        count(e, "reloaded") == 1 && s.contains("edited live") && s.contains("1) hello relive")
    });
    let text = screen.contents();
    assert!(text.contains("second line é"), "typing survived:\n{text}");
    assert!(
        !text.contains("relive · tui"),
        "the old title is gone:\n{text}"
    );

    screen.resize(30, 100);
    screen.type_in(b" more");
    wait("the new size", &screen, &events, |s, _| {
        s.contains("100×29") && s.contains("second line é more")
    });

    // New drawing code that panics rolls back to the code that worked.
    app.edit(
        "        let area = frame.area();",
        "        let area = frame.area();\n        panic!(\"try a panic\");",
    );
    wait("the rollback", &screen, &events, |_, e| {
        count(e, "rolled_back") == 1
    });
    screen.type_in(b"!");
    wait("the old code drawing again", &screen, &events, |s, _| {
        s.contains("edited live") && s.contains("second line é more!")
    });
    assert!(
        screen
            .parser
            .lock()
            .expect("parser")
            .screen()
            .alternate_screen(),
        "the app is still full-screen"
    );

    screen.type_in(b"\x03");
    let status = screen.wait_exit(&mut child, SHORT_DEADLINE);
    assert!(status.success(), "{status}\n{}", screen.contents());
    let parser = screen.parser.lock().expect("parser");
    assert!(
        !parser.screen().alternate_screen(),
        "back on the main screen"
    );
    assert!(!parser.screen().hide_cursor(), "the cursor is shown");
    drop(parser);
    let list = read_events(&events);
    let exited = list.iter().find(|e| e["event"] == "exited");
    assert!(
        exited.is_some_and(|e| e["by_app"] == true),
        "the app quit at Ctrl-C: {list:?}"
    );
    assert_eq!(screen.mode(), before, "the terminal's mode is given back");
}
