//! A real pseudo-terminal opened by a test, its screen read with the
//! `vt100` emulator, and `relive run` started in it as a shell would start
//! it (its controlling terminal, a session of its own).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// The test's side of a pty, and the screen it shows.
pub struct Screen {
    master: OwnedFd,
    slave: OwnedFd,
    pub parser: Arc<Mutex<vt100::Parser>>,
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
    pub fn open(rows: u16, cols: u16) -> Screen {
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

    pub fn contents(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    pub fn mode(&self) -> Vec<u64> {
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

    pub fn type_in(&self, bytes: &[u8]) {
        // SAFETY: writes from a live buffer.
        let n = unsafe { libc::write(self.master.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(n, bytes.len() as isize);
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        self.parser.lock().expect("parser").set_size(rows, cols);
        let size = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads one winsize.
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    }
}

pub fn wait(
    what: &str,
    screen: &Screen,
    events: &Path,
    mut ok: impl FnMut(&str, &[Value]) -> bool,
) {
    let until = Instant::now() + BUILD_DEADLINE;
    loop {
        let text = screen.contents();
        let list = read_events(events);
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

/// The events written so far to the events file `events`.
pub fn read_events(events: &Path) -> Vec<Value> {
    std::fs::read_to_string(events)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

impl Screen {
    /// `relive run APP --events EVENTS` on this terminal, with `env` set.
    pub fn run_relive(&self, app: &App, events: &Path, env: &[(&str, &Path)]) -> Child {
        let stdio = || Stdio::from(self.slave.try_clone().expect("dup slave"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_relive"));
        command
            .arg("run")
            .arg(app.path())
            .arg("--events")
            .arg(events)
            .env("CARGO_TARGET_DIR", shared_target())
            .env("TERM", "xterm-256color")
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio());
        for (key, value) in env {
            command.env(key, value);
        }
        // SAFETY: setsid and ioctl are async-signal-safe; the pty becomes
        // the controlling terminal of relive, as a shell's would be.
        unsafe {
            command.pre_exec(move || {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        command.spawn().expect("start relive")
    }

    /// Waits for `child` to exit; fails with the screen after `deadline`.
    pub fn wait_exit(&self, child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < until,
                "relive did not exit:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
