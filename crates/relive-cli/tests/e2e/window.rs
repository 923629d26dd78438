//! The window example under a private X server (Xvfb): the window stays the
//! same across a reload while the new code draws in it, checked on pixels
//! read back from the server with `xwd`; after a crash the restored state
//! opens a new window.
//!
//! Needs `Xvfb` and `xwd` (Debian: `apt-get install xvfb x11-apps`). Without
//! them the tests that draw print "skipped: ..." and pass, so that
//! `cargo test --workspace` passes on a machine with only the Rust
//! toolchain; `.ci/run` installs them and sets `RELIVE_REQUIRE_XVFB=1`,
//! which turns a missing tool into a failure.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::harness::*;

/// The variable that makes a missing `Xvfb` or `xwd` fail the tests instead
/// of skipping them (`.ci/run` sets it).
const REQUIRE: &str = "RELIVE_REQUIRE_XVFB";

/// Finds `program` on `PATH`.
fn find(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// The X tools the tests need, found on `PATH`.
pub(crate) struct Tools {
    xvfb: PathBuf,
    xwd: PathBuf,
}

/// The X tools, or `None` after printing why the test is skipped; fails the
/// test instead when [`REQUIRE`] is set.
pub(crate) fn tools_or_skip() -> Option<Tools> {
    let xvfb = find("Xvfb");
    let xwd = find("xwd");
    if let (Some(xvfb), Some(xwd)) = (&xvfb, &xwd) {
        return Some(Tools {
            xvfb: xvfb.clone(),
            xwd: xwd.clone(),
        });
    }
    let missing = if xvfb.is_none() { "Xvfb" } else { "xwd" };
    let message = format!("{missing} is not installed (apt-get install xvfb x11-apps)");
    let required = std::env::var_os(REQUIRE).is_some_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "{message}, and {REQUIRE} is set: the window tests must run here"
    );
    eprintln!("skipped: {message}");
    None
}

/// A private X server, ended on drop.
pub(crate) struct Xvfb {
    child: Child,
    pub(crate) display: String,
}

impl Xvfb {
    /// Starts `Xvfb` on a free display number, which it reports itself.
    pub(crate) fn start(tools: &Tools) -> Xvfb {
        let program = &tools.xvfb;
        // Its warnings go to a file: a pipe nobody reads could fill and block it.
        let mut log = tempfile::tempfile().expect("a file for Xvfb's stderr");
        let mut child = Command::new(program)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "640x480x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().expect("clone the log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let number = rx.recv_timeout(SHORT_DEADLINE).unwrap_or_default();
        let number = number.trim();
        if number.parse::<u32>().is_err() {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            let _ = log.seek(SeekFrom::Start(0));
            let _ = log.read_to_string(&mut err);
            panic!(
                "{} did not report a display number within {SHORT_DEADLINE:?}; its stderr:\n{err}",
                program.display()
            );
        }
        Xvfb {
            display: format!(":{number}"),
            child,
        }
    }
}

impl Drop for Xvfb {
    /// Asks the server to end (so it removes its lock file and socket), and
    /// kills it if it has not within a few seconds.
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; the pid is our child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A screenshot of one window, as 0xRRGGBB pixels.
pub(crate) struct Shot {
    width: usize,
    height: usize,
    pixels: Vec<u32>,
}

impl Shot {
    /// Checks that pixel (`x`, `y`) is `rgb` (0xRRGGBB).
    pub(crate) fn expect(&self, x: usize, y: usize, rgb: u32, what: &str) {
        let got = self.at(x, y);
        assert!(
            got == rgb,
            "{what}: pixel ({x}, {y}) is 0x{got:06x}, expected 0x{rgb:06x}"
        );
    }

    fn at(&self, x: usize, y: usize) -> u32 {
        assert!(
            x < self.width && y < self.height,
            "({x}, {y}) is outside the {}x{} window",
            self.width,
            self.height
        );
        self.pixels[y * self.width + x]
    }
}

/// Reads window `id` back from the X server with `xwd`.
pub(crate) fn screenshot(tools: &Tools, display: &str, id: &str) -> Shot {
    let xwd = &tools.xwd;
    let out = Command::new(xwd)
        .args(["-silent", "-display", display, "-id", id])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", xwd.display()));
    assert!(
        out.status.success(),
        "xwd -display {display} -id {id} failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_xwd(&out.stdout).unwrap_or_else(|e| panic!("cannot read xwd's output: {e}"))
}

/// Parses an XWD file (X11 window dump, version 7) of a true-colour image
/// with 32 bits per pixel, as Xvfb at depth 24 makes.
fn parse_xwd(data: &[u8]) -> Result<Shot, String> {
    // The header is 25 big-endian 32-bit fields, then the window name.
    let field = |i: usize| -> Result<usize, String> {
        let bytes = data
            .get(i * 4..i * 4 + 4)
            .ok_or("the file ends inside the header")?;
        Ok(u32::from_be_bytes(bytes.try_into().expect("4 bytes")) as usize)
    };
    let (header_size, version) = (field(0)?, field(1)?);
    if version != 7 {
        return Err(format!("XWD version {version}, expected 7"));
    }
    let (format, width, height) = (field(2)?, field(4)?, field(5)?);
    let (byte_order, bits_per_pixel, bytes_per_line) = (field(7)?, field(11)?, field(12)?);
    let (red, green, blue) = (field(14)?, field(15)?, field(16)?);
    let colours = field(19)?;
    if format != 2 || bits_per_pixel != 32 {
        return Err(format!(
            "format {format} with {bits_per_pixel} bits per pixel; expected ZPixmap (2) with 32"
        ));
    }
    let start = header_size + colours * 12;
    let end = start + bytes_per_line * height;
    let image = data
        .get(start..end)
        .ok_or(format!("the file ends before its {end} bytes of pixels"))?;
    let channel = |value: usize, mask: usize| (value & mask) >> mask.trailing_zeros();
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let at = y * bytes_per_line + x * 4;
            let bytes: [u8; 4] = image[at..at + 4].try_into().expect("4 bytes");
            let value = if byte_order == 0 {
                u32::from_le_bytes(bytes)
            } else {
                u32::from_be_bytes(bytes)
            } as usize;
            let rgb = channel(value, red) << 16 | channel(value, green) << 8 | channel(value, blue);
            pixels.push(rgb as u32);
        }
    }
    Ok(Shot {
        width,
        height,
        pixels,
    })
}

/// The window id in the first "window 0x... generation G frame F sky 0x..."
/// line that `accept` takes: printed once that frame is on the screen.
pub(crate) fn window_line(relive: &Relive, what: &str, accept: impl Fn(&str) -> bool) -> String {
    let line = relive.wait_line(what, SHORT_DEADLINE, |l| {
        l.starts_with("window ") && accept(l)
    });
    line.split_whitespace()
        .nth(1)
        .expect("window id")
        .to_string()
}

#[test]
fn the_window_stays_open_while_the_new_code_draws_another_colour() {
    let Some(tools) = tools_or_skip() else {
        return;
    };
    let xvfb = Xvfb::start(&tools);
    let app = App::copy_example("window", "window");
    let relive = app.run_with_env(&[], &[("DISPLAY", &xvfb.display)]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let id = window_line(&relive, "a frame of generation 1 on the screen", |l| {
        l.contains(" generation 1 ")
    });
    // The top left corner is sky: the sun and the ball stay away from it.
    let before = screenshot(&tools, &xvfb.display, &id);
    assert_eq!((before.width, before.height), (320, 240));
    before.expect(8, 8, 0x4080c0, "the sky of generation 1");
    before.expect(8, 184, 0x3c7a2a, "the grass");

    let mark = relive.mark();
    app.edit("const SKY: u32 = 0x4080c0;", "const SKY: u32 = 0xd05020;");
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    assert_eq!(reloaded["generation"], 2);
    // Generation 2, or a later one if something else was rebuilt meanwhile.
    let new_id = window_line(&relive, "a frame of the new code on the screen", |l| {
        l.ends_with(" sky 0xd05020")
    });
    assert_eq!(new_id, id, "the new code draws in the same window");
    let after = screenshot(&tools, &xvfb.display, &id);
    after.expect(8, 8, 0xd05020, "the sky of generation 2");
    after.expect(8, 184, 0x3c7a2a, "the grass did not change");

    let opened: Vec<String> = relive
        .output()
        .into_iter()
        .filter(|l| l.starts_with("opened window"))
        .collect();
    assert_eq!(opened, vec![format!("opened window {id}")], "opened once");
    let kept = format!("generation 2 draws in window {id}");
    assert!(relive.output().contains(&kept), "{kept:?} was printed");
}

#[test]
fn xwd_files_are_parsed() {
    // A 2x1 image: header (25 fields + "w\0"), two colour entries, pixels in
    // LSB-first order with 4 bytes of row padding.
    let mut file = Vec::new();
    let header: [u32; 25] = [
        102, 7, 2, 24, 2, 1, 0, 0, 32, 0, 32, 32, 12, 4, 0xff0000, 0xff00, 0xff, 8, 2, 2, 2, 1, 0,
        0, 0,
    ];
    for value in header {
        file.extend_from_slice(&value.to_be_bytes());
    }
    file.extend_from_slice(b"w\0");
    file.extend_from_slice(&[0; 24]);
    file.extend_from_slice(&0x0012_3456u32.to_le_bytes());
    file.extend_from_slice(&0x00ab_cdefu32.to_le_bytes());
    file.extend_from_slice(&[0; 4]);
    let shot = parse_xwd(&file).expect("parses");
    assert_eq!(shot.pixels, vec![0x123456, 0xabcdef]);
    assert!(parse_xwd(&file[..50]).is_err());
}

/// The number after `key` in a line of the window example.
pub(crate) fn number_after(line: &str, key: &str) -> u64 {
    let mut words = line.split_whitespace();
    words.find(|w| *w == key);
    words
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key:?} in {line:?}"))
}

#[test]
fn after_a_crash_the_restored_state_opens_a_new_window() {
    let Some(tools) = tools_or_skip() else {
        return;
    };
    let xvfb = Xvfb::start(&tools);
    let app = App::copy_example("window", "window_crash");
    let relive = app.run_with_env(&[], &[("DISPLAY", &xvfb.display)]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    window_line(&relive, "a frame of generation 1 on the screen", |l| {
        l.contains(" generation 1 ")
    });

    // The new code aborts in its first frame: relive's runner process dies,
    // and relive brings generation 1 back in a new one with the newest
    // checkpoint. The window handle in that state names the dead process's
    // connection; the example must open a new window, not use it.
    app.edit(
        "        self.frames += 1;\n",
        "        self.frames += 1;\n        std::process::abort();\n",
    );
    let rolled = relive.wait_event("rolled_back", BUILD_DEADLINE);
    assert_eq!(rolled["cause"], "crash", "{rolled}");
    // The last frame before the crash and the first one after it.
    let (before, line) = relive.wait_for("a frame in a new window", SHORT_DEADLINE, |r| {
        let out = r.output();
        let reopened = out
            .iter()
            .enumerate()
            .filter(|(_, l)| l.starts_with("opened window"))
            .nth(1)?
            .0;
        let before = out[..reopened]
            .iter()
            .rev()
            .find(|l| l.starts_with("window "))?;
        let after = out[reopened..].iter().find(|l| l.starts_with("window "))?;
        Some((before.clone(), after.clone()))
    });
    // The checkpoint may be up to a second older than the crash, so the
    // first line may repeat the last frame printed before it; a fresh
    // start would count from zero and print a lower frame.
    assert!(
        number_after(&line, "frame") >= number_after(&before, "frame"),
        "the state did not come back:\n{before}\n{line}"
    );
    let id = line.split_whitespace().nth(1).expect("window id");
    screenshot(&tools, &xvfb.display, id).expect(8, 8, 0x4080c0, "the restored program draws");
}

#[test]
fn without_a_display_the_example_ends_with_a_failure_saying_why() {
    // No X server is needed: the display named does not exist.
    let app = App::copy_example("window", "window_no_display");
    let mut relive = app.run_with_env(&[], &[("DISPLAY", ":4242")]);
    let status = relive.wait_exit(BUILD_DEADLINE);
    assert_eq!(status.code(), Some(1), "the example's own exit code");
    let exited = relive.wait_event("exited", SHORT_DEADLINE);
    assert_eq!(exited["code"], 1, "{exited}");
    // The app's and relive's lines share one stderr pipe, so a line of one
    // may be cut into by the other: look for the message, not a whole line.
    relive.wait_for("the example's message", SHORT_DEADLINE, |r| {
        let text = r.stderr_lines().join("\n");
        (text.contains("window example: cannot open the X display \":4242\"")
            || text.contains("window example: cannot load libX11"))
        .then_some(())
    });
}
