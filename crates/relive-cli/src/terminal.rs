//! What relive tells the person at the terminal (on stderr, so the app's own
//! stdout stays the app's). On a TTY the bottom row is a status line
//! (generation, build state and time, last swap pause, and the last failure
//! until the next success; its text is [`crate::status`]'s) kept out of the
//! app's way with a scroll region, and messages are coloured; off a TTY every
//! message is a plain line starting with `relive:`. `--quiet` hides progress
//! and success, never a failure: that is still one line.

use std::io::{IsTerminal, Write};

use crate::cargo_build::strip_ansi;
use crate::status::{self, Outcome, Status};

/// Severity of a message, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Progress.
    Info,
    /// Something worked (a reload).
    Good,
    /// Worth knowing, not a failure (build warnings); hidden by `--quiet`.
    Note,
    /// Refused, postponed: new code did not take effect.
    Warn,
    /// A build failed or the app panicked.
    Bad,
}

/// Output to the person running relive.
#[derive(Debug)]
pub struct Terminal {
    tty: bool,
    quiet: bool,
    rows: u16,
    status: Status,
    /// Messages kept while the app is full-screen (see [`crate::pty`]),
    /// written to the scrollback once it leaves the alternate screen.
    held: Vec<u8>,
}

/// `\n` as `\r\n`.
fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    for &b in text {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn terminal_cols() -> Option<u16> {
    terminal_size().map(|s| s.ws_col).filter(|&c| c > 2)
}

fn terminal_rows() -> Option<u16> {
    terminal_size().map(|s| s.ws_row).filter(|&r| r > 2)
}

fn terminal_size() -> Option<libc::winsize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    ok.then_some(size)
}

impl Terminal {
    /// Output for this process's stderr; `quiet` shows only failures.
    pub fn new(quiet: bool) -> Terminal {
        let tty = std::io::stderr().is_terminal();
        let rows = if tty && !quiet {
            terminal_rows().unwrap_or(0)
        } else {
            0
        };
        let terminal = Terminal {
            tty,
            quiet,
            rows,
            status: Status::default(),
            held: Vec::new(),
        };
        if terminal.rows > 0 {
            // Keep the last row for the status line.
            eprint!("\x1b[1;{}r\x1b[{};1H", terminal.rows - 1, terminal.rows - 1);
        }
        terminal
    }

    /// One message line, with optional details (compiler output, a panic's
    /// backtrace) below it. With `--quiet` only failures (`Warn`, `Bad`) are
    /// shown, as their one line.
    pub fn say(&mut self, tone: Tone, line: &str, details: &str) {
        let details = if self.quiet {
            if !matches!(tone, Tone::Warn | Tone::Bad) {
                return;
            }
            ""
        } else {
            details
        };
        let mut err = std::io::stderr().lock();
        if self.tty {
            let colour = match tone {
                Tone::Info => "2",
                Tone::Good => "32",
                Tone::Note | Tone::Warn => "33",
                Tone::Bad => "31;1",
            };
            let mut text = Vec::new();
            let _ = writeln!(text, "\x1b[{colour}mrelive:\x1b[0m {line}");
            if !details.is_empty() {
                let _ = writeln!(text, "{}", details.trim_end());
            }
            if crate::pty::rows().is_some() {
                // The real terminal is raw under a pty: lines need their CR.
                text = crlf(&text);
            }
            if crate::pty::full_screen() {
                // Never into the app's rows: the status row shows the line.
                self.held.extend_from_slice(&text);
                self.status.held_line = strip_ansi(line);
                drop(err);
                self.draw_status();
                return;
            }
            let mut all = std::mem::take(&mut self.held);
            all.extend_from_slice(&text);
            if crate::pty::rows().is_some() {
                drop(err);
                crate::pty::write_between_lines(&all);
                self.draw_status();
                return;
            }
            let _ = err.write_all(&all);
        } else {
            let _ = writeln!(err, "relive: {line}");
            if !details.is_empty() {
                let _ = writeln!(err, "{}", strip_ansi(details).trim_end());
            }
        }
        drop(err);
        self.draw_status();
    }

    /// Whether the status line is shown (and needs redrawing now and then,
    /// in case the app cleared the screen).
    pub fn has_status_line(&self) -> bool {
        self.rows > 0
    }

    /// Draws the status line again (and writes the messages kept while
    /// the app was full-screen, once it no longer is).
    pub fn redraw(&mut self) {
        if !self.held.is_empty() && !crate::pty::full_screen() {
            crate::pty::write_between_lines(&std::mem::take(&mut self.held));
            self.status.held_line.clear();
        }
        self.draw_status();
    }

    /// Updates the status line's generation.
    pub fn set_generation(&mut self, generation: u64) {
        self.status.generation = generation;
        self.draw_status();
    }

    /// Updates the status line's build part (and ends a running build's
    /// spinner).
    pub fn set_build(&mut self, build: String) {
        self.status.build = build;
        self.status.building_since = None;
        self.draw_status();
    }

    /// A build started: the status line shows a spinner and the time since.
    pub fn start_build(&mut self) {
        self.status.building_since = Some(std::time::Instant::now());
        self.draw_status();
    }

    /// Whether a build's spinner is showing (it wants frequent redraws).
    pub fn spinning(&self) -> bool {
        self.rows > 0 && self.status.building_since.is_some()
    }

    /// Shows the loop under way (seconds, pass) on the status line, or none.
    pub fn set_loop(&mut self, looping: Option<(f64, u64)>) {
        self.status.looping = looping;
        self.draw_status();
    }

    /// Updates the status line's last swap pause.
    pub fn set_pause(&mut self, pause_us: u64) {
        self.status.pause_us = Some(pause_us);
        self.draw_status();
    }

    /// Updates the status line's last outcome (shown until the next
    /// success).
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.status.outcome = outcome;
        self.draw_status();
    }

    /// The last outcome shown.
    pub fn outcome(&self) -> &Outcome {
        &self.status.outcome
    }

    fn draw_status(&self) {
        if self.rows == 0 {
            return;
        }
        // The real terminal's last row, which follows a resize under a pty.
        let row = crate::pty::rows().unwrap_or(self.rows);
        // One row, never wrapped: a wrap on the last row scrolls the screen.
        let width = usize::from(terminal_cols().unwrap_or(80)).saturating_sub(2);
        let (text, colour) = status::render(&self.status, std::time::Instant::now(), width);
        let sgr = colour.sgr();
        eprint!("\x1b7\x1b[{row};1H\x1b[2K\x1b[{sgr}m {text} \x1b[0m\x1b8");
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if !self.held.is_empty() {
            // Kept messages go to the scrollback, off the app's screen.
            let leave = if crate::pty::alternate() {
                "\x1b[?1049l"
            } else {
                ""
            };
            eprint!("{leave}");
            let _ = std::io::stderr().write_all(&std::mem::take(&mut self.held));
        }
        if self.rows > 0 {
            // Give the whole screen back.
            eprint!("\x1b[r\x1b[{};1H\x1b[2K", self.rows);
        }
    }
}
