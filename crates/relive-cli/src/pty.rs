//! The pseudo-terminal between the app and the real terminal, when relive
//! runs on one.
//!
//! The runner (and so the app) gets the pty's slave side as its standard
//! input, output and error and as its controlling terminal (`/dev/tty`),
//! one row shorter than the real terminal: the last real row is relive's
//! status line. Whatever mode the app puts its terminal in (raw mode, the
//! alternate screen) is the pty's, never the real terminal's, which relive
//! puts in raw mode itself (so every key reaches the app as typed) and
//! gives back in the mode it found when the [`Pty`] is dropped.
//!
//! Three threads: keys from the real terminal go to the pty (a Ctrl-C
//! while the app's terminal turns it into a signal, ISIG, is relive's
//! interrupt instead); the app's output goes to the real terminal, whole
//! escape sequences at a time, while watching for the alternate screen or
//! a screen drawn by cursor position ([`full_screen`]) and keeping the
//! app's unfinished last line (so that relive's messages go between the
//! app's lines, [`write_between_lines`]); and a resize of the real
//! terminal is passed on, one row shorter.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

mod screen;

use screen::Scanner;

/// Whether the app shows the alternate screen (relive then writes nothing
/// into its rows).
static FULL_SCREEN: AtomicBool = AtomicBool::new(false);
/// When the app last drew by cursor position, in milliseconds since
/// [`EPOCH`] plus one (0: never).
static ADDRESSED_MS: AtomicU64 = AtomicU64::new(0);
/// When the app last printed lines without drawing, as [`ADDRESSED_MS`].
static LINES_MS: AtomicU64 = AtomicU64::new(0);
static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
/// The app's output since its last newline (its unfinished line), locked
/// while output is written so relive's messages go between the app's.
static LINE: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// The most of an unfinished line that is kept.
const LINE_MAX: usize = 4096;
/// How long an app that drew by cursor position must print plain lines
/// before it counts as printing lines again.
const DRAWING: Duration = Duration::from_secs(1);
/// The real terminal's rows (0 without a pty).
static ROWS: AtomicU16 = AtomicU16::new(0);
/// The slave side's descriptor, for the runner (-1 without a pty).
static SLAVE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// How often the real terminal's size is looked at.
const RESIZE_POLL: Duration = Duration::from_millis(50);

fn now_ms() -> u64 {
    EPOCH.elapsed().as_millis() as u64 + 1
}

/// Whether the app owns its screen: it is on the alternate screen, or it
/// draws by cursor position (the aquarium; see [`drawing`]). relive then
/// writes nothing into the app's rows.
pub fn full_screen() -> bool {
    FULL_SCREEN.load(Ordering::Relaxed)
        || drawing(
            ADDRESSED_MS.load(Ordering::Relaxed),
            LINES_MS.load(Ordering::Relaxed),
        )
}

/// Whether an app that last drew by cursor position at `addressed` and
/// last printed plain lines at `lines` (milliseconds, 0: never) draws its
/// screen: it drew, and has not printed only lines for [`DRAWING`] since.
/// An app that stopped writing (paused after a panic) still does.
fn drawing(addressed: u64, lines: u64) -> bool {
    addressed > 0 && lines.saturating_sub(addressed) < DRAWING.as_millis() as u64
}

/// Whether the app is on the alternate screen.
pub fn alternate() -> bool {
    FULL_SCREEN.load(Ordering::Relaxed)
}

/// Writes relive's `text` (whole lines) between the app's lines: an
/// unfinished line of the app's is taken off the screen first and written
/// again after `text`, where the app goes on with it.
pub fn write_between_lines(text: &[u8]) {
    let line = LINE.lock().unwrap_or_else(PoisonError::into_inner);
    let mut err = std::io::stderr().lock();
    if line.is_empty() {
        let _ = err.write_all(text);
    } else {
        let _ = err.write_all(b"\r\x1b[2K");
        let _ = err.write_all(text);
        let _ = err.write_all(&line);
    }
    let _ = err.flush();
}

/// Follows the app's unfinished line through `output`.
fn follow_line(line: &mut Vec<u8>, output: &[u8]) {
    match output.iter().rposition(|&b| b == b'\n') {
        Some(at) => {
            line.clear();
            line.extend_from_slice(&output[at + 1..]);
        }
        None => line.extend_from_slice(output),
    }
    if line.len() > LINE_MAX {
        // A line redrawn in place (a progress bar): from its last return.
        let from = line.iter().rposition(|&b| b == b'\r').unwrap_or(line.len());
        line.drain(..from);
    }
}

/// The real terminal's rows, when relive runs the app in a pty.
pub fn rows() -> Option<u16> {
    Some(ROWS.load(Ordering::Relaxed)).filter(|&r| r > 0)
}

/// The slave side, for the runner's standard streams.
pub fn slave() -> Option<RawFd> {
    Some(SLAVE.load(Ordering::Relaxed)).filter(|&fd| fd >= 0)
}

fn size_of(fd: RawFd) -> Option<libc::winsize> {
    // SAFETY: winsize is plain data; all-zero is valid.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into `size`.
    let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_row > 2).then_some(size)
}

/// The app's size for a real terminal of `real`: one row less.
fn app_size(real: libc::winsize) -> libc::winsize {
    libc::winsize {
        ws_row: real.ws_row - 1,
        ..real
    }
}

/// The pty, and the real terminal's mode to give back.
pub struct Pty {
    master: OwnedFd,
    _slave: OwnedFd,
    saved: libc::termios,
}

impl std::fmt::Debug for Pty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pty")
            .field("master", &self.master)
            .finish_non_exhaustive()
    }
}

fn termios_of(fd: RawFd) -> Option<libc::termios> {
    // SAFETY: termios is plain data; all-zero is valid.
    let mut mode: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr writes one termios into `mode`.
    (unsafe { libc::tcgetattr(fd, &mut mode) } == 0).then_some(mode)
}

impl Pty {
    /// Opens the pty when relive's standard input and output are a
    /// terminal; `interrupt` is called for a Ctrl-C meant for relive.
    pub fn start(interrupt: impl Fn() + Send + 'static) -> std::io::Result<Option<Pty>> {
        let (input, output) = (libc::STDIN_FILENO, libc::STDOUT_FILENO);
        // SAFETY: isatty only looks at the descriptors.
        if unsafe { libc::isatty(input) == 0 || libc::isatty(output) == 0 } {
            return Ok(None);
        }
        let (Some(real), Some(saved)) = (size_of(output), termios_of(input)) else {
            return Ok(None);
        };
        let size = app_size(real);
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two descriptors; the name buffer is not
        // asked for, the mode is the default one and `size` is valid.
        let opened =
            unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), &saved, &size) };
        if opened != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: openpty returned two fresh descriptors owned by nothing else.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
            // SAFETY: fcntl on our own descriptors has no memory effects.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw edits the struct; tcsetattr applies it to the
        // real terminal, whose mode `saved` gives back on drop.
        unsafe {
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(input, libc::TCSANOW, &raw);
        }
        ROWS.store(real.ws_row, Ordering::Relaxed);
        SLAVE.store(slave.as_raw_fd(), Ordering::Relaxed);
        let pty = Pty {
            master,
            _slave: slave,
            saved,
        };
        pty.spawn_threads(interrupt)?;
        Ok(Some(pty))
    }

    fn spawn_threads(&self, interrupt: impl Fn() + Send + 'static) -> std::io::Result<()> {
        let (keys, output, resize) = (
            self.master.try_clone()?,
            self.master.try_clone()?,
            self.master.try_clone()?,
        );
        let slave = SLAVE.load(Ordering::Relaxed);
        std::thread::Builder::new()
            .name("relive-pty-keys".into())
            .spawn(move || forward_keys(keys, slave, interrupt))?;
        std::thread::Builder::new()
            .name("relive-pty-output".into())
            .spawn(move || forward_output(output))?;
        std::thread::Builder::new()
            .name("relive-pty-resize".into())
            .spawn(move || follow_size(resize))?;
        Ok(())
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        SLAVE.store(-1, Ordering::Relaxed);
        ROWS.store(0, Ordering::Relaxed);
        let mut err = std::io::stderr().lock();
        if FULL_SCREEN.swap(false, Ordering::Relaxed) {
            // The app left without leaving the alternate screen.
            let _ = err.write_all(b"\x1b[?1049l");
        }
        // The cursor and attributes as a shell expects them.
        let _ = err.write_all(b"\x1b[0m\x1b[?25h");
        let _ = err.flush();
        // SAFETY: gives the real terminal back the mode read at start.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, &self.saved) };
    }
}

/// Writes all of `bytes` to `fd`; false once it cannot.
fn write_fd(fd: RawFd, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: writes from a live buffer of that length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: reads into a live buffer of that length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            return Some(n as usize);
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

/// Keys from the real terminal to the app.
fn forward_keys(master: OwnedFd, slave: RawFd, interrupt: impl Fn()) {
    let mut buf = [0u8; 4096];
    while let Some(n) = read_fd(libc::STDIN_FILENO, &mut buf) {
        let signals = termios_of(slave).is_some_and(|m| m.c_lflag & libc::ISIG != 0);
        if !route_keys(
            &buf[..n],
            signals,
            |k| write_fd(master.as_raw_fd(), k),
            &interrupt,
        ) {
            return;
        }
    }
}

/// Passes `keys` on with `write`, except that while the app's terminal
/// turns Ctrl-C into a signal (`signals`) each Ctrl-C is relive's
/// interrupt instead; the keys around it still reach the app, in order.
/// False once `write` fails.
fn route_keys(
    keys: &[u8],
    signals: bool,
    mut write: impl FnMut(&[u8]) -> bool,
    interrupt: &impl Fn(),
) -> bool {
    if !signals {
        return write(keys);
    }
    let mut parts = keys.split(|&b| b == 0x03);
    let mut ok = parts
        .next()
        .is_none_or(|first| first.is_empty() || write(first));
    for part in parts {
        interrupt();
        ok = ok && (part.is_empty() || write(part));
    }
    ok
}

/// The app's output to the real terminal.
fn forward_output(master: OwnedFd) {
    let mut buf = [0u8; 16384];
    let mut scanner = Scanner::default();
    while let Some(n) = read_fd(master.as_raw_fd(), &mut buf) {
        let whole = scanner.feed(&buf[..n]);
        let mut line = LINE.lock().unwrap_or_else(PoisonError::into_inner);
        follow_line(&mut line, &whole);
        FULL_SCREEN.store(scanner.alternate(), Ordering::Relaxed);
        if scanner.take_addressed() {
            ADDRESSED_MS.store(now_ms(), Ordering::Relaxed);
        } else if whole.contains(&b'\n') {
            LINES_MS.store(now_ms(), Ordering::Relaxed);
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&whole);
        let _ = err.flush();
    }
}

/// Passes resizes of the real terminal on, one row shorter.
fn follow_size(master: OwnedFd) {
    let mut last = size_of(libc::STDOUT_FILENO).map(|s| (s.ws_row, s.ws_col));
    loop {
        std::thread::sleep(RESIZE_POLL);
        let Some(real) = size_of(libc::STDOUT_FILENO) else {
            continue;
        };
        if Some((real.ws_row, real.ws_col)) == last {
            continue;
        }
        last = Some((real.ws_row, real.ws_col));
        ROWS.store(real.ws_row, Ordering::Relaxed);
        let size = app_size(real);
        // SAFETY: TIOCSWINSZ reads one winsize; the kernel tells the app
        // (SIGWINCH to the pty's foreground process group).
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        if !full_screen() {
            // Keep relive's row out of the app's scrolling.
            eprint!("\x1b7\x1b[1;{}r\x1b8", real.ws_row - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the app got, and how many interrupts relive took.
    fn routed(keys: &[u8], signals: bool) -> (Vec<u8>, usize) {
        let (mut app, interrupts) = (Vec::new(), std::cell::Cell::new(0));
        let ok = route_keys(
            keys,
            signals,
            |k| {
                app.extend_from_slice(k);
                true
            },
            &|| interrupts.set(interrupts.get() + 1),
        );
        assert!(ok);
        (app, interrupts.get())
    }

    #[test]
    fn an_app_that_drew_draws_until_it_prints_only_lines_for_a_while() {
        assert!(!drawing(0, 0), "nothing written yet");
        assert!(!drawing(0, 500), "lines only");
        assert!(drawing(500, 0), "drew");
        assert!(drawing(500, 400), "drew after its lines");
        assert!(drawing(500, 900), "lines for less than a second");
        assert!(!drawing(500, 1600), "then lines only for longer");
    }

    #[test]
    fn the_apps_unfinished_line_is_followed() {
        let mut line = Vec::new();
        follow_line(&mut line, b"one\r\ntwo");
        assert_eq!(line, b"two");
        follow_line(&mut line, b" three");
        assert_eq!(line, b"two three");
        follow_line(&mut line, b"\r\n");
        assert!(line.is_empty());
        follow_line(&mut line, &b"\r42%".repeat(LINE_MAX));
        assert_eq!(
            line, b"\r42%",
            "a line redrawn in place keeps its last form"
        );
    }

    #[test]
    fn a_ctrl_c_read_with_other_keys_keeps_them() {
        assert_eq!(routed(b"ab\x03cd", true), (b"abcd".to_vec(), 1));
        assert_eq!(routed(b"\x03x\x03", true), (b"x".to_vec(), 2));
        assert_eq!(routed(b"ab\x03cd", false), (b"ab\x03cd".to_vec(), 0));
    }
}
