//! `relive run` in a real pseudo-terminal (opened by the test, its screen
//! read with the `vt100` emulator): the app sees one row fewer, typed keys
//! reach `ctx.input()` exactly once across reloads and a resize, a SIGWINCH
//! handler and raw mode left by the first generation do no harm, and after
//! `Flow::Exit` the terminal is in the mode it was in before relive.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// The test's side of a pty, and the screen it shows.
struct Screen {
    master: OwnedFd,
    slave: OwnedFd,
    parser: Arc<Mutex<vt100::Parser>>,
}

fn winsize(rows: u16, cols: u16) -> libc::winsize {
    libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Screen {
    fn open(rows: u16, cols: u16) -> Screen {
        let (master, slave) = open_pty(rows, cols);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let reader = master.try_clone().expect("dup master");
        let sink = parser.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                // SAFETY: reads into a live buffer.
                let n =
                    unsafe { libc::read(reader.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    return;
                }
                sink.lock().expect("parser").process(&buf[..n as usize]);
            }
        });
        Screen {
            master,
            slave,
            parser,
        }
    }

    fn contents(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    fn mode(&self) -> Vec<u64> {
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes one termios into `t`.
        let got = unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) };
        assert_eq!(got, 0);
        let mut mode = vec![
            u64::from(t.c_iflag),
            u64::from(t.c_oflag),
            u64::from(t.c_cflag),
            u64::from(t.c_lflag),
        ];
        mode.extend(t.c_cc.iter().map(|&c| u64::from(c)));
        mode
    }

    fn type_in(&self, bytes: &[u8]) {
        // SAFETY: writes from a live buffer.
        let n = unsafe { libc::write(self.master.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(n, bytes.len() as isize);
    }

    fn resize(&self, rows: u16, cols: u16) {
        self.parser.lock().expect("parser").set_size(rows, cols);
        let size = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads one winsize.
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    }
}

fn wait(
    what: &str,
    screen: &Screen,
    events: &std::path::Path,
    mut ok: impl FnMut(&str, &[Value]) -> bool,
) {
    let until = Instant::now() + BUILD_DEADLINE;
    loop {
        let text = screen.contents();
        let list: Vec<Value> = std::fs::read_to_string(events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if ok(&text, &list) {
            return;
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}\nscreen:\n{text}\nevents:\n{list:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(events: &[Value], name: &str) -> usize {
    events.iter().filter(|e| e["event"] == name).count()
}

#[test]
fn a_raw_mode_sigwinch_app_in_a_real_terminal_keeps_every_key_and_the_shell() {
    let app = App::copy("tty", "terminal");
    let screen = Screen::open(30, 80);
    let before = screen.mode();
    let dir = tempfile::tempdir().expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let typed_out = dir.path().join("typed");
    let stdio = || Stdio::from(screen.slave.try_clone().expect("dup slave"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_relive"));
    command
        .arg("run")
        .arg(app.path())
        .arg("--events")
        .arg(&events)
        .env("CARGO_TARGET_DIR", shared_target())
        .env("TYPED_OUT", &typed_out)
        .env("TERM", "xterm-256color")
        .stdin(stdio())
        .stdout(stdio())
        .stderr(stdio());
    // SAFETY: setsid and ioctl are async-signal-safe; the pty becomes the
    // controlling terminal of relive, as a shell's would be.
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = command.spawn().expect("start relive");

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
    for (swap, version) in [(1, "v2"), (2, "v3")] {
        let from = format!("let version = \"v{swap}\";");
        app.edit(&from, &format!("let version = \"{version}\";"));
        let until = Instant::now() + BUILD_DEADLINE;
        loop {
            burst(&screen, &mut sent);
            let list: Vec<Value> = std::fs::read_to_string(&events)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if count(&list, "reloaded") >= swap {
                break;
            }
            assert!(Instant::now() < until, "no reload {swap}: {list:?}");
            std::thread::sleep(Duration::from_millis(15));
        }
    }
    screen.resize(30, 100);
    for _ in 0..5 {
        burst(&screen, &mut sent);
    }
    wait("the new size", &screen, &events, |s, _| {
        s.contains("size 29 100")
    });
    wait(
        "the status line on the last row",
        &screen,
        &events,
        |_, _| {
            let parser = screen.parser.lock().expect("parser");
            let last = parser.screen().rows(0, 100).nth(29).unwrap_or_default();
            last.contains("relive · generation 3")
        },
    );
    screen.type_in(b".");
    sent.push(b'.');
    let until = Instant::now() + SHORT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < until,
            "relive did not exit:\n{}",
            screen.contents()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}\n{}", screen.contents());
    let list: Vec<Value> = std::fs::read_to_string(&events)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(count(&list, "rolled_back"), 0, "no crash: {list:?}");
    let got = std::fs::read(&typed_out).expect("the app wrote what it got");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&sent)
    );
    assert_eq!(screen.mode(), before, "the terminal's mode is given back");
}
