//! `relive run` in a real pseudo-terminal (opened by the test, its screen
//! read with the `vt100` emulator): the app sees one row fewer, typed keys
//! reach `ctx.input()` exactly once across six reloads and a resize, a SIGWINCH
//! handler and raw mode left by the first generation do no harm, and after
//! `Flow::Exit` the terminal is in the mode it was in before relive.

use std::time::{Duration, Instant};

use crate::harness::*;
use crate::screen::*;

#[test]
fn a_raw_mode_sigwinch_app_in_a_real_terminal_keeps_every_key_and_the_shell() {
    let app = App::copy("tty", "terminal");
    let screen = Screen::open(30, 80);
    let before = screen.mode();
    let dir = tempfile::tempdir().expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let typed_out = dir.path().join("typed");
    let mut child = screen.run_relive(&app, &events, &[("TYPED_OUT", &typed_out)]);

    wait("the app's size, one row fewer", &screen, &events, |s, _| {
        s.contains("size 29 80")
    });
    let mut sent = Vec::new();
    let burst = |screen: &Screen, sent: &mut Vec<u8>| {
        let words = sent.iter().filter(|&&b| b == b' ').count();
        let text: String = (words..words + 4).map(|n| format!("k{n} ")).collect();
        screen.type_in(text.as_bytes());
        sent.extend_from_slice(text.as_bytes());
    };
    // Six swaps with keys typed in bursts, and a resize after the third.
    for swap in 1..=6 {
        let from = format!("let version = \"v{swap}\";");
        app.edit(&from, &format!("let version = \"v{}\";", swap + 1));
        let until = Instant::now() + BUILD_DEADLINE;
        loop {
            burst(&screen, &mut sent);
            let list = read_events(&events);
            if count(&list, "reloaded") >= swap {
                break;
            }
            assert!(Instant::now() < until, "no reload {swap}: {list:?}");
            std::thread::sleep(Duration::from_millis(15));
        }
        if swap == 3 {
            screen.resize(30, 100);
            for _ in 0..5 {
                burst(&screen, &mut sent);
            }
            wait("the new size", &screen, &events, |s, _| {
                s.contains("size 29 100")
            });
        }
    }
    wait(
        "the status line on the last row",
        &screen,
        &events,
        |_, _| {
            let parser = screen.parser.lock().expect("parser");
            let last = parser.screen().rows(0, 100).nth(29).unwrap_or_default();
            last.contains("relive · generation 7")
        },
    );
    // The app draws its screen by cursor position: relive's messages (the
    // reloads, the SIGWINCH handler the first generation left) are kept
    // out of its rows.
    let text = screen.contents();
    let rows: Vec<&str> = text.lines().take(29).collect();
    assert!(
        !rows
            .iter()
            .any(|r| r.contains("reloaded generation") || r.contains("registers")),
        "relive wrote into the app's rows:\n{text}"
    );
    screen.type_in(b".");
    sent.push(b'.');
    let status = screen.wait_exit(&mut child, SHORT_DEADLINE);
    assert!(status.success(), "{status}\n{}", screen.contents());
    let list = read_events(&events);
    assert_eq!(count(&list, "rolled_back"), 0, "no crash: {list:?}");
    let got = std::fs::read(&typed_out).expect("the app wrote what it got");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&sent)
    );
    assert_eq!(screen.mode(), before, "the terminal's mode is given back");
}
