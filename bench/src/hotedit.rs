//! hot-lib-reloader's edit-to-running, side by side with relive's (item 2):
//! its documented setup in bench/apps/hotedit (an executable whose
//! `#[hot_module]` watches the built `dylib` of a workspace member; the
//! library rebuilt by a separate `cargo build -p hotedit_lib`, which the
//! README runs with `cargo watch -x 'build -p lib'`), in the debug profile.
//! The bench writes the edit, runs that cargo build itself at once (without
//! cargo watch's own delay), and waits for the first frame of the new code,
//! which the new library stamps with `CLOCK_MONOTONIC`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::clock::now_ns;
use crate::edit::{SETTLE, write_edit};
use crate::relive::{Marker, read_markers, stderr_tail};
use crate::stats::{Summary, summary};
use crate::workspace::{Workspace, run_cargo};

/// The library's package and file name.
const LIB: &str = "hotedit_lib";

/// The executables: (binary, its debounce of the library file in ms, whether
/// that is hot-lib-reloader's default).
pub const VARIANTS: &[(&str, u64, bool)] = &[
    ("hotedit-bench", 500, true),
    ("hotedit-bench-50ms", 50, false),
];

/// How long one edit may take before the bench gives up.
const EDIT_TIMEOUT: Duration = Duration::from_secs(60);

/// One executable's edits.
#[derive(Clone, Debug)]
pub struct PeerEdit {
    /// The debounce of the library file, ms.
    pub debounce_ms: u64,
    /// Whether that is hot-lib-reloader's default.
    pub default_debounce: bool,
    /// Edits measured.
    pub edits: usize,
    /// From the write to the first frame of the new code, ms.
    pub edit_to_running_ms: Summary,
    /// `cargo build -p hotedit_lib`, from the write to cargo's exit, ms.
    pub build_ms: Summary,
    /// From cargo's exit to the first frame of the new code, ms: the
    /// debounce, the watcher and the reload.
    pub after_build_ms: Summary,
    /// The debug library's size in bytes.
    pub lib_bytes: u64,
}

/// The running executable of one variant.
#[derive(Debug)]
struct Peer {
    child: Option<Child>,
    /// Its stdin; the executable ends when this closes.
    stdin: Option<ChildStdin>,
    markers: Receiver<Marker>,
    stderr_path: PathBuf,
    what: String,
}

impl Peer {
    fn start(exe: &Path, app: &Path, work: &Path) -> anyhow::Result<Peer> {
        let name = exe
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "hotedit".into());
        let stderr_path = work.join(format!("{name}.stderr.txt"));
        let stderr = File::create(&stderr_path)
            .with_context(|| format!("cannot create {}", stderr_path.display()))?;
        let mut child = Command::new(exe)
            .current_dir(app)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .context("the app's stdout is not piped")?;
        Ok(Peer {
            child: Some(child),
            stdin,
            markers: read_markers(stdout),
            stderr_path,
            what: exe.display().to_string(),
        })
    }

    /// The end of the executable's stderr, for an error message.
    fn diagnose(&self) -> String {
        format!(
            "{}\nits stderr ({}):\n{}",
            self.what,
            self.stderr_path.display(),
            stderr_tail(&self.stderr_path)
        )
    }

    /// Waits for the first app line for which `pred` holds; earlier lines
    /// are dropped.
    fn wait_marker(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Marker) -> bool,
    ) -> anyhow::Result<Marker> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("no `{what}` within {timeout:?}\n{}", self.diagnose());
            }
            match self
                .markers
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(marker) if pred(&marker) => return Ok(marker),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(child) = &mut self.child
                        && let Ok(Some(status)) = child.try_wait()
                    {
                        self.child = None;
                        bail!("the app ended early ({status})\n{}", self.diagnose());
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    bail!(
                        "the app's stdout closed while waiting for `{what}`\n{}",
                        self.diagnose()
                    );
                }
            }
        }
    }

    /// Closes its stdin (it then exits) and waits up to 5 s; kills it after.
    fn stop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `cargo build -p hotedit_lib`: what `cargo watch -x 'build -p lib'` runs.
fn build_lib(ws: &Workspace, app: &Path) -> anyhow::Result<()> {
    let mut cmd = ws.cargo_for(app);
    cmd.arg("-p").arg(LIB);
    run_cargo(
        cmd,
        "build the hot-lib-reloader library (cargo build -p hotedit_lib)",
    )
}

/// Removes the copies hot-lib-reloader loads (`libhotedit_lib-hot-N.so`),
/// which it leaves behind when its process is stopped.
fn remove_loaded_copies(dir: &Path) {
    let prefix = format!("{}{LIB}-hot-", std::env::consts::DLL_PREFIX);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Builds the app (debug) and measures `edits` edits under each variant in
/// turn.
pub fn run(ws: &Workspace, edits: usize) -> anyhow::Result<Vec<PeerEdit>> {
    let app = ws.app("hotedit");
    let src = app.join("lib").join("src").join("lib.rs");
    let out_dir = ws.bench_target.join("debug");
    let mut cmd = ws.cargo_for(&app);
    cmd.arg("--workspace");
    run_cargo(
        cmd,
        "build the hot-lib-reloader app (bench/apps/hotedit, debug)",
    )?;
    // The library alone once, so that the first measured build is an edit's.
    build_lib(ws, &app)?;
    let lib_bytes = std::fs::metadata(ws.artifact(LIB, crate::workspace::Profile::Debug))
        .map(|m| m.len())
        .unwrap_or(0);

    let mut counter = 0u64;
    let mut results = Vec::new();
    for &(bin, debounce_ms, default_debounce) in VARIANTS {
        remove_loaded_copies(&out_dir);
        let mut peer = Peer::start(&out_dir.join(bin), &app, &ws.work)?;
        peer.wait_marker(Duration::from_secs(60), "the first frame", |m| {
            m.kind == "gen"
        })?;
        let mut e2r = Vec::new();
        let mut build = Vec::new();
        let mut after = Vec::new();
        for _ in 0..edits {
            std::thread::sleep(SETTLE);
            counter += 1;
            let saved = write_edit(&src, counter)?;
            build_lib(ws, &app)?;
            let built = now_ns();
            let marker = peer.wait_marker(EDIT_TIMEOUT, "the edited code", |m| {
                m.kind == "gen" && m.u64("edit").ok() == Some(counter)
            })?;
            let first_frame = marker.u64("t_ns")?;
            e2r.push((first_frame as f64 - saved as f64) / 1e6);
            build.push((built - saved) as f64 / 1e6);
            after.push((first_frame as f64 - built as f64) / 1e6);
        }
        peer.stop();
        remove_loaded_copies(&out_dir);
        results.push(PeerEdit {
            debounce_ms,
            default_debounce,
            edits,
            edit_to_running_ms: summary(&e2r, "hot-lib-reloader's edit-to-running")?,
            build_ms: summary(&build, "hot-lib-reloader's builds")?,
            after_build_ms: summary(&after, "hot-lib-reloader's build end to running")?,
            lib_bytes,
        });
    }
    Ok(results)
}
