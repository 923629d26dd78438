//! Drives the real `relive` binary on a copy of a fixture app (or of an
//! example, made standalone by the `standalone` module), as a user would:
//! start `relive run`, edit the source, and wait (with deadlines) for events
//! and for the app's output.
//!
//! Every test gets its own copy of the app under a unique package name,
//! so the copies can share one target folder (`target/e2e`, built once per
//! run) and tests can run in parallel. Set `RELIVE_KEEP_TMP=1` to keep the
//! folders of failed tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Deadline for anything that includes a cargo build.
pub const BUILD_DEADLINE: Duration = Duration::from_secs(240);
/// Deadline for things that need no build.
pub const SHORT_DEADLINE: Duration = Duration::from_secs(20);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/relive-cli is two levels below the workspace root")
        .to_path_buf()
}

/// The target folder shared by every fixture copy.
pub fn shared_target() -> PathBuf {
    std::env::var_os("RELIVE_E2E_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join("e2e"))
}

/// A private copy of a fixture package, or of an example (made standalone
/// by [`App::copy_example`]).
pub struct App {
    dir: Option<tempfile::TempDir>,
    pub name: String,
}

impl Drop for App {
    fn drop(&mut self) {
        if std::thread::panicking()
            && std::env::var_os("RELIVE_KEEP_TMP").is_some()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl App {
    /// Copies `fixtures/<fixture>` under the name `<fixture>_<test>_<n>`.
    pub fn copy(fixture: &str, test: &str) -> App {
        App::copy_fixture(fixture, test, "relive-e2e-")
    }

    /// Copies `fixtures/<fixture>` like [`App::copy`], into a hidden folder
    /// (one whose name starts with a dot).
    pub fn copy_hidden(fixture: &str, test: &str) -> App {
        App::copy_fixture(fixture, test, ".relive-e2e-")
    }

    fn copy_fixture(fixture: &str, test: &str, prefix: &str) -> App {
        let src = workspace_root().join("fixtures").join(fixture);
        App::copy_package_with_prefix(&src, fixture, test, prefix, |manifest, name| {
            let relive = workspace_root().join("crates").join("relive");
            manifest
                .replacen(
                    &format!("name = \"{fixture}\""),
                    &format!("name = \"{name}\""),
                    1,
                )
                .replace("../../crates/relive", &relive.to_string_lossy())
        })
    }

    /// Copies the package at `src` into a temp folder under the name
    /// `<base>_<test>_<n>`, with its manifest rewritten by
    /// `rewrite(manifest, name)` and the workspace's `Cargo.lock`.
    pub fn copy_package(
        src: &Path,
        base: &str,
        test: &str,
        rewrite: impl FnOnce(&str, &str) -> String,
    ) -> App {
        App::copy_package_with_prefix(src, base, test, "relive-e2e-", rewrite)
    }

    /// [`App::copy_package`] into a temp folder named `<prefix><test>-...`.
    fn copy_package_with_prefix(
        src: &Path,
        base: &str,
        test: &str,
        prefix: &str,
        rewrite: impl FnOnce(&str, &str) -> String,
    ) -> App {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}{test}-"))
            .tempdir()
            .expect("temp dir");
        copy_dir(src, dir.path());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{base}_{test}_{n}");
        let manifest = dir.path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("cannot read the manifest of {}: {e}", src.display()));
        std::fs::write(&manifest, rewrite(&text, &name)).expect("write manifest");
        // Same dependency versions as the workspace, already downloaded.
        std::fs::copy(
            workspace_root().join("Cargo.lock"),
            dir.path().join("Cargo.lock"),
        )
        .expect("copy Cargo.lock");
        App {
            dir: Some(dir),
            name,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until drop").path()
    }

    pub fn lib_rs(&self) -> PathBuf {
        self.path().join("src").join("lib.rs")
    }

    /// Replaces `from` by `to` in `src/lib.rs`; `from` must be there.
    pub fn edit(&self, from: &str, to: &str) {
        let path = self.lib_rs();
        let text = std::fs::read_to_string(&path).expect("read lib.rs");
        assert!(text.contains(from), "{from:?} is not in {}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write lib.rs");
    }

    /// The library cargo builds for this copy.
    pub fn artifact(&self) -> PathBuf {
        shared_target()
            .join("debug")
            .join(format!("lib{}.so", self.name))
    }

    /// Builds the copy with cargo, as a user's terminal or editor would.
    pub fn cargo_build(&self) {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--lib", "--quiet", "--manifest-path"])
            .arg(self.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", shared_target())
            .status()
            .expect("start cargo");
        assert!(status.success(), "cargo build of {} failed", self.name);
    }

    /// Starts `relive run` on this copy with an events log.
    pub fn run(&self, extra: &[&str]) -> Relive {
        Relive::start(self.path(), extra)
    }

    /// Starts `relive run` on this copy like [`App::run`], with its standard
    /// input a pipe that [`Relive::send`] writes to.
    pub fn run_piped(&self, extra: &[&str]) -> Relive {
        Relive::start_with(self.path(), extra, &[], None, true)
    }

    /// Starts `relive run` on this copy like [`App::run`], with extra
    /// environment variables for relive and the app (a window app's
    /// `DISPLAY`).
    pub fn run_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Relive {
        Relive::start_with_env(self.path(), extra, env)
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create dir");
    for entry in std::fs::read_dir(src).expect("read package") {
        let entry = entry.expect("dir entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&entry.path(), &to);
            }
        } else {
            std::fs::copy(entry.path(), &to).expect("copy file");
        }
    }
}

/// A running `relive run`.
pub struct Relive {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    events_path: PathBuf,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Everything written to the pseudo-terminal, for [`Relive::start_in_pty`].
    terminal: Option<Arc<Mutex<Vec<u8>>>>,
    _events_dir: tempfile::TempDir,
}

/// A new pseudo-terminal of `rows` x `cols`: (controlling side, terminal side).
pub fn open_pty(rows: u16, cols: u16) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut controller, mut terminal) = (-1, -1);
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the ints we pass and reads
    // the winsize; the name and termios pointers may be null.
    let ok = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    } == 0;
    assert!(ok, "openpty failed: {}", std::io::Error::last_os_error());
    for fd in [controller, terminal] {
        // Not inherited by the programs tests start (they run in parallel):
        // a relive holding another test's controlling side, or its own,
        // would never see its terminal hang up when that test ends.
        // SAFETY: fcntl on descriptors openpty just made has no memory effects.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: openpty succeeded, so both are open descriptors that nothing
    // else owns.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(controller),
            std::os::fd::OwnedFd::from_raw_fd(terminal),
        )
    }
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("lines").push(line);
        }
    });
    lines
}

impl Relive {
    pub fn start(path: &Path, extra: &[&str]) -> Relive {
        Relive::start_with_env(path, extra, &[])
    }

    /// Starts `relive run` like [`Relive::start`], with extra environment
    /// variables for relive and the app (a window app's `DISPLAY`).
    pub fn start_with_env(path: &Path, extra: &[&str], env: &[(&str, &str)]) -> Relive {
        Relive::start_logging_to(path, extra, env, None)
    }

    /// Starts `relive run` with its events log at `events` (default: a file
    /// in a temp folder of its own).
    pub fn start_logging_to(
        path: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        events: Option<PathBuf>,
    ) -> Relive {
        Relive::start_with(path, extra, env, events, false)
    }

    /// Starts `relive run`; with `piped`, its standard input is a pipe.
    pub fn start_with(
        path: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        events: Option<PathBuf>,
        piped: bool,
    ) -> Relive {
        Relive::spawn(path, extra, env, events, piped, None)
    }

    /// Starts `relive run` with its stderr on a pseudo-terminal of `rows` x
    /// `cols` (so it draws its status line; see [`Relive::status_line`]);
    /// the app's stdout is a pipe, as for [`Relive::start`].
    pub fn start_in_pty(path: &Path, extra: &[&str], rows: u16, cols: u16) -> Relive {
        Relive::spawn(path, extra, &[], None, false, Some((rows, cols)))
    }

    fn spawn(
        path: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        events: Option<PathBuf>,
        piped: bool,
        pty: Option<(u16, u16)>,
    ) -> Relive {
        let events_dir = tempfile::tempdir().expect("events dir");
        let events_path = events.unwrap_or_else(|| events_dir.path().join("events.jsonl"));
        let (stderr_to, controller) = match pty {
            Some((rows, cols)) => {
                let (controller, terminal) = open_pty(rows, cols);
                (Stdio::from(terminal), Some(std::fs::File::from(controller)))
            }
            None => (Stdio::piped(), None),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_relive"))
            .arg("run")
            .arg(path)
            .arg("--events")
            .arg(&events_path)
            .args(extra)
            .env("CARGO_TARGET_DIR", shared_target())
            .env_remove("RUST_BACKTRACE")
            .envs(env.iter().copied())
            .stdin(if piped { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(stderr_to)
            .spawn()
            .expect("start relive");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = match child.stderr.take() {
            Some(stderr) => collect(stderr),
            None => Arc::new(Mutex::new(Vec::new())),
        };
        let terminal = controller.map(|mut controller| {
            let bytes = Arc::new(Mutex::new(Vec::new()));
            let sink = bytes.clone();
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                // Ends with an error (EIO) once relive has closed its side.
                while let Ok(n @ 1..) = std::io::Read::read(&mut controller, &mut buf) {
                    sink.lock().expect("terminal").extend_from_slice(&buf[..n]);
                }
            });
            bytes
        });
        Relive {
            stdin: child.stdin.take(),
            child,
            events_path,
            stdout,
            stderr,
            terminal,
            _events_dir: events_dir,
        }
    }

    /// What relive wrote to its pseudo-terminal, as text.
    pub fn terminal_text(&self) -> String {
        let bytes = self.terminal.as_ref().expect("started in a pty");
        String::from_utf8_lossy(&bytes.lock().expect("terminal")).into_owned()
    }

    /// The last status line drawn on the pseudo-terminal: its SGR colour
    /// parameters and its text.
    pub fn status_line(&self) -> Option<(String, String)> {
        let text = self.terminal_text();
        let (_, last) = text.rsplit_once("\x1b[2K\x1b[")?;
        let (sgr, rest) = last.split_once('m')?;
        let (line, _) = rest.split_once("\x1b[0m")?;
        Some((sgr.to_string(), line.trim().to_string()))
    }

    /// relive's stderr lines (not in a pty).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("stderr").clone()
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.events_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// relive's and the app's stderr lines so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("stderr").clone()
    }

    /// The app's output lines so far.
    pub fn output(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout").clone()
    }

    fn report(&self) -> String {
        let events: Vec<String> = self.events().iter().map(|e| e.to_string()).collect();
        let out = self.output();
        let tail = &out[out.len().saturating_sub(15)..];
        let terminal = match &self.terminal {
            Some(_) => {
                let text = self.terminal_text();
                let tail: String = text
                    .chars()
                    .rev()
                    .take(3000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("\nterminal (the end):\n{tail:?}")
            }
            None => String::new(),
        };
        format!(
            "events:\n{}\nlast output:\n{}\nstderr:\n{}{terminal}",
            events.join("\n"),
            tail.join("\n"),
            self.stderr.lock().expect("stderr").join("\n")
        )
    }

    /// Waits until `check` finds something, or panics with the whole story.
    pub fn wait_for<T>(
        &self,
        what: &str,
        deadline: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let until = Instant::now() + deadline;
        loop {
            if let Some(found) = check(self) {
                return found;
            }
            if Instant::now() > until {
                panic!(
                    "timed out after {deadline:?} waiting for {what}\n{}",
                    self.report()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the `n`-th (from 1) event named `name` after skipping `after` events.
    pub fn wait_event(&self, name: &str, deadline: Duration) -> Value {
        self.wait_event_after(name, 0, deadline)
    }

    /// Waits for an event named `name` among the events from index `after` on.
    pub fn wait_event_after(&self, name: &str, after: usize, deadline: Duration) -> Value {
        self.wait_for(&format!("event {name}"), deadline, |r| {
            r.events()
                .into_iter()
                .skip(after)
                .find(|e| e["event"] == name)
        })
    }

    /// Number of events named `name` so far.
    pub fn count(&self, name: &str) -> usize {
        self.events().iter().filter(|e| e["event"] == name).count()
    }

    /// Number of events so far (a mark for `wait_event_after`).
    pub fn mark(&self) -> usize {
        self.events().len()
    }

    /// Waits for an output line that `check` accepts and returns it.
    pub fn wait_line(
        &self,
        what: &str,
        deadline: Duration,
        check: impl Fn(&str) -> bool,
    ) -> String {
        self.wait_for(what, deadline, |r| {
            r.output().into_iter().find(|l| check(l))
        })
    }

    /// Waits for the process to end.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > until {
                panic!("relive did not exit within {deadline:?}\n{}", self.report());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Writes `bytes` to relive's standard input (see [`App::run_piped`]).
    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("started with App::run_piped");
        stdin.write_all(bytes).expect("write to relive's stdin");
        stdin.flush().expect("flush relive's stdin");
    }

    /// Sends a signal to relive.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory preconditions; the pid is our child.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}

impl Drop for Relive {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.report());
        }
        // Ask for a clean exit first, so relive removes its private folder.
        // SAFETY: kill has no memory effects; the pid is our child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses "tick N VERSION gen G LABEL" lines of the counter fixture.
pub struct Tick {
    pub counter: u64,
    pub version: String,
    pub generation: u64,
    pub label: String,
}

pub fn tick(line: &str) -> Option<Tick> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    match parts.as_slice() {
        ["tick", n, v, "gen", g, label] => Some(Tick {
            counter: n.parse().ok()?,
            version: v.to_string(),
            generation: g.parse().ok()?,
            label: label.to_string(),
        }),
        _ => None,
    }
}

/// All ticks printed so far.
pub fn ticks(relive: &Relive) -> Vec<Tick> {
    relive.output().iter().filter_map(|l| tick(l)).collect()
}

impl Relive {
    /// The process id of `relive`, to read its `/proc/<pid>` files.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The runner process `relive run` started to run the app's code.
    pub fn runner_pid(&self) -> u32 {
        let pid = self.pid();
        self.wait_for("the runner process", SHORT_DEADLINE, |_| {
            let children =
                std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
                .find(|c| {
                    std::fs::read(format!("/proc/{c}/cmdline"))
                        .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains("__runner"))
                })
        })
    }

    /// Whether the `relive` process is still running (it has not exited or
    /// crashed).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

/// Puts `bytes` at `path` as a linker does: written to a temporary name in
/// the same folder, then renamed into place.
pub fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write the temporary file");
    std::fs::rename(&tmp, path).expect("rename into place");
}

/// Builds the copy as it is, then with `from` replaced by `to` in its
/// source; returns both libraries' bytes. The artifact on disk is the second.
pub fn two_builds(app: &App, from: &str, to: &str) -> (Vec<u8>, Vec<u8>) {
    app.cargo_build();
    let first = std::fs::read(app.artifact()).expect("first library");
    app.edit(from, to);
    app.cargo_build();
    let second = std::fs::read(app.artifact()).expect("second library");
    assert_ne!(first, second, "the two builds differ");
    (first, second)
}

/// How many of `events` are named `name`.
pub fn count(events: &[Value], name: &str) -> usize {
    events.iter().filter(|e| e["event"] == name).count()
}

/// Panics, naming `what`, if `events` has a refusal, rollback, panic or exit.
pub fn assert_no_failure(events: &[Value], what: &str) {
    let bad = events.iter().find(|e| {
        ["refused", "rolled_back", "panicked", "exited"]
            .iter()
            .any(|n| e["event"] == *n)
    });
    if let Some(bad) = bad {
        panic!("{what}: {bad}");
    }
}
