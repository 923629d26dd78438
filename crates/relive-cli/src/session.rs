//! `relive run`: the supervisor loop that ties cargo, the watchers, the
//! loader and the runner together.
//!
//! Everything arrives as a message on one channel (a source changed, a build
//! ended, a library finished loading, the running app did something, Ctrl-C)
//! and is handled here on one thread; slow work (cargo, reading and loading a
//! library) runs on background threads, so the app keeps its frame rate.
//! The runner process's life is in `recovery`, the reporting of what the
//! program did in `report`.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use relive_host::checkpoint::Checkpoints;
use relive_host::{LoadError, LoadTimings, Staged, Staging};
use serde_json::json;

use crate::RunArgs;
use crate::cargo_build::{self, BuildError, BuildOutcome, BuildRequest};
use crate::child::{Child, FromChild};
use crate::debounce::{Debounce, Next};
use crate::events::EventLog;
use crate::package::{self, Package};
use crate::status::Outcome;
use crate::terminal::{Terminal, Tone};
use crate::watch::{self, Change, Watch};
use crate::wire::{Library, Report};

mod persistent;
mod policy;
mod recovery;
mod replay;
mod report;
mod sources;

/// Quiet time after a source change before a build starts.
const SOURCE_QUIET: Duration = Duration::from_millis(5);
/// Longest a burst of changes can delay a build.
const SOURCE_MAX_WAIT: Duration = Duration::from_millis(300);
/// Quiet time and longest delay once saves keep coming during a build.
const STORM_QUIET: Duration = Duration::from_millis(300);
const STORM_MAX_WAIT: Duration = Duration::from_secs(10);
/// Quiet time after the library changed on disk (a build started elsewhere)
/// before it is read.
const ARTIFACT_QUIET: Duration = Duration::from_millis(50);
/// How often the status line is drawn again on a TTY (in case the app
/// cleared the screen), and while a build's spinner turns.
const STATUS_REDRAW: Duration = Duration::from_secs(1);
const SPINNER_REDRAW: Duration = Duration::from_millis(100);

enum Msg {
    Source(Change),
    /// The built library changed; `settled` when it was renamed or linked
    /// into place or its writer closed it.
    ArtifactChanged {
        settled: bool,
    },
    Built(Result<BuildOutcome, BuildError>),
    Prepared {
        number: u64,
        result: Box<Result<Staged, LoadError>>,
    },
    Child(FromChild),
    /// `relive loop`, `live` or `rewind` from another terminal.
    Control(crate::looping::Request),
    Interrupt,
}

/// Identity of the library file, to tell a new build from the one loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

fn file_id(path: &Path) -> Option<FileId> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileId {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}

struct Session {
    args: RunArgs,
    package: Package,
    tx: Sender<Msg>,
    events: EventLog,
    terminal: Terminal,
    staging: Arc<Staging>,
    debounce: Debounce,
    /// What counts as a source change, and the watch that sees them.
    sources: sources::Sources,
    building: bool,
    artifact: Option<PathBuf>,
    artifact_watch: Option<Watch>,
    artifact_due: Option<Instant>,
    loading: bool,
    load_again: bool,
    loaded_id: Option<FileId>,
    next_number: u64,
    timings: HashMap<u64, LoadTimings>,
    staged: HashMap<u64, Staged>,
    child: Option<Child>,
    checkpoints: Checkpoints,
    /// The newest generation sent to the runner.
    current: Option<u64>,
    /// The newest generation that ran (loaded, or passed its first frame).
    last_good: Option<u64>,
    /// Which generations ran and crashed.
    policy: policy::CrashPolicy,
    /// A crash whose `rolled_back` event waits for the restart to run.
    pending_crash: Option<recovery::Crash>,
    /// The program is ending: the runner's end is not a crash.
    ending: bool,
    /// A swap waits for these worker threads of the running generation.
    postponed: Option<String>,
    /// The runner was ended on purpose to start this library instead.
    restart_with: Option<Library>,
    interrupted: bool,
    status_due: Instant,
    /// The control socket for `relive loop` and friends.
    _control: Option<crate::looping::Listener>,
    /// The loop under way (seconds, pass), and the clients waiting for an answer.
    replay: replay::Replay,
    persistent: persistent::Persistent,
}

/// Runs `relive run`; returns the process exit code.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let package = package::locate(&args.path)?;
    let events = EventLog::create(args.events.as_deref(), start)?;
    let staging = Staging::new().context("cannot create the private folder for library copies")?;
    let checkpoints = Checkpoints::create().context("cannot create the crash checkpoint files")?;
    let (tx, rx) = mpsc::channel();

    let interrupt = tx.clone();
    ctrlc::set_handler(move || {
        if interrupt.send(Msg::Interrupt).is_err() {
            std::process::exit(130);
        }
    })
    .context("cannot install the Ctrl-C handler")?;

    // Dropped last: the real terminal gets its mode back on every way out.
    let interrupt = Mutex::new(tx.clone());
    let _pty = crate::pty::Pty::start(move || {
        if let Ok(tx) = interrupt.lock() {
            let _ = tx.send(Msg::Interrupt);
        }
    })
    .context("cannot open a pseudo-terminal for the program")?;
    let terminal = Terminal::new(args.quiet);
    let control_tx = Mutex::new(tx.clone());
    let control = crate::looping::Listener::start(&package.manifest_path, move |request| {
        if let Ok(tx) = control_tx.lock() {
            let _ = tx.send(Msg::Control(request));
        }
    })?;
    let mut session = Session {
        package,
        tx,
        events,
        terminal,
        staging: Arc::new(staging),
        debounce: Debounce::new(SOURCE_QUIET, SOURCE_MAX_WAIT, STORM_QUIET, STORM_MAX_WAIT),
        sources: sources::Sources::default(),
        building: false,
        artifact: None,
        artifact_watch: None,
        artifact_due: None,
        loading: false,
        load_again: false,
        loaded_id: None,
        next_number: 1,
        timings: HashMap::new(),
        staged: HashMap::new(),
        child: None,
        checkpoints,
        current: None,
        last_good: None,
        policy: policy::CrashPolicy::default(),
        pending_crash: None,
        ending: false,
        postponed: None,
        restart_with: None,
        interrupted: false,
        status_due: start,
        _control: control,
        replay: replay::Replay::default(),
        persistent: persistent::Persistent::default(),
        args,
    };
    if session._control.is_none() {
        session.terminal.say(
            Tone::Warn,
            "another `relive run` of this package is running: `relive loop` talks to that one",
            "",
        );
    }
    session.start()?;
    session.main_loop(rx)
}

impl Session {
    /// The first build (or load), and the watchers.
    fn start(&mut self) -> anyhow::Result<()> {
        if self.args.no_build {
            let artifact = self.expected_artifact();
            self.terminal.say(
                Tone::Info,
                &format!("watching {} (--no-build)", artifact.display()),
                "",
            );
            self.watch_artifact(&artifact)?;
            if artifact.exists() {
                self.load(artifact);
            }
            return Ok(());
        }
        // cargo makes a missing target folder under a temporary name
        // (`targetXXXXXX`) and renames it into place; inside a watched
        // package that looked like an edit and built a new app twice. Made
        // here, it is there (and ignored) before watching starts. If it
        // cannot be made, cargo says why.
        let _ = std::fs::create_dir_all(&self.package.target_dir);
        let tx = self.tx.clone();
        let watch = watch::watch_sources(move |change| {
            let _ = tx.send(Msg::Source(change));
        })?;
        self.watch_folders(watch)?;
        self.start_build();
        Ok(())
    }

    /// Where a build started elsewhere puts the library (for `--no-build`,
    /// where there are no cargo messages to read it from).
    fn expected_artifact(&self) -> PathBuf {
        let profile = if self.args.release {
            "release"
        } else {
            "debug"
        };
        let target = if self.is_persistent() {
            self.package
                .target_dir
                .join(crate::persistent::TARGET_SUBDIR)
        } else {
            self.package.target_dir.clone()
        };
        target.join(profile).join(format!(
            "{}{}{}",
            std::env::consts::DLL_PREFIX,
            self.package.lib_name,
            std::env::consts::DLL_SUFFIX
        ))
    }

    fn watch_artifact(&mut self, artifact: &Path) -> anyhow::Result<()> {
        if self.artifact.as_deref() == Some(artifact) {
            return Ok(());
        }
        let tx = self.tx.clone();
        self.artifact_watch = Some(watch::watch_file(artifact, move |settled| {
            let _ = tx.send(Msg::ArtifactChanged { settled });
        })?);
        self.artifact = Some(artifact.to_path_buf());
        Ok(())
    }

    fn main_loop(mut self, rx: Receiver<Msg>) -> anyhow::Result<ExitCode> {
        loop {
            let now = Instant::now();
            let mut due = self.artifact_due;
            if self.terminal.has_status_line() {
                if now >= self.status_due {
                    self.terminal.redraw();
                    let every = if self.terminal.spinning() {
                        SPINNER_REDRAW
                    } else {
                        STATUS_REDRAW
                    };
                    self.status_due = now + every;
                }
                due = Some(due.map_or(self.status_due, |d| d.min(self.status_due)));
            }
            match self.debounce.next(now) {
                Next::Build if !self.building => self.start_build(),
                Next::WaitUntil(at) => due = Some(due.map_or(at, |d| d.min(at))),
                _ => {}
            }
            if let Some(at) = self.artifact_due
                && at <= now
            {
                self.artifact_due = None;
                self.artifact_settled();
                continue;
            }
            let msg = match due {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(now)) {
                    Ok(msg) => msg,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                },
            };
            match msg {
                Msg::Source(change) => {
                    if self.sources.counts(&change) {
                        self.debounce.changed(Instant::now());
                    }
                }
                Msg::ArtifactChanged { settled } => {
                    if !self.building {
                        // A file renamed or linked into place, or closed by
                        // its writer, is read at once; other writes first
                        // have to go quiet.
                        let wait = if settled {
                            Duration::ZERO
                        } else {
                            ARTIFACT_QUIET
                        };
                        self.artifact_due = Some(Instant::now() + wait);
                    }
                }
                Msg::Built(outcome) => self.built(outcome),
                Msg::Prepared { number, result } => self.prepared(number, *result),
                Msg::Child(FromChild::Report(Report::Run(event))) => {
                    if let Some(code) = self.run_event(event) {
                        return Ok(code);
                    }
                }
                Msg::Child(FromChild::Report(Report::Refused { generation, reason })) => {
                    self.refused(generation, &reason);
                }
                Msg::Child(FromChild::Report(Report::KeptReset { generation, fields })) => {
                    self.kept_reset(generation, &fields);
                }
                Msg::Child(FromChild::Ended(status)) => {
                    if let Some(code) = self.child_ended(status) {
                        return Ok(code);
                    }
                }
                Msg::Control(request) => self.control(request),
                Msg::Interrupt => {
                    if self.interrupted {
                        // A second Ctrl-C: the program did not stop in time
                        // (a frame that never returns). Leave now, cleanly:
                        // the runner dies with this process.
                        self.events
                            .emit("exited", json!({"code": 130, "forced": true}));
                        return Ok(ExitCode::from(130));
                    }
                    self.interrupted = true;
                    self.ending = true;
                    match &mut self.child {
                        Some(child) => child.stop(),
                        None => {
                            self.events.emit("exited", json!({"code": 0}));
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    fn start_build(&mut self) {
        self.building = true;
        self.debounce.build_started();
        self.events.emit("build_started", json!({}));
        self.terminal.start_build();
        self.status_due = Instant::now();
        let request = BuildRequest {
            manifest_path: self.package.manifest_path.clone(),
            package: self.package.name.clone(),
            release: self.args.release,
            persistent_target: self
                .is_persistent()
                .then(|| self.package.target_dir.clone()),
        };
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(Msg::Built(cargo_build::build(&request)));
        });
    }

    fn built(&mut self, outcome: Result<BuildOutcome, BuildError>) {
        self.building = false;
        self.debounce.build_finished(Instant::now());
        match outcome {
            Ok(BuildOutcome::Finished {
                artifact,
                ms,
                warnings,
            }) => {
                self.events.emit("build_finished", json!({"ms": ms}));
                self.terminal
                    .set_build(format!("built in {:.2} s", ms as f64 / 1000.0));
                if matches!(self.terminal.outcome(), Outcome::BuildFailed(_)) {
                    self.terminal.set_outcome(Outcome::Running);
                }
                if !warnings.trim().is_empty() {
                    self.terminal
                        .say(Tone::Note, "the build has warnings", &warnings);
                }
                if let Err(err) = self.watch_artifact(&artifact) {
                    self.terminal.say(
                        Tone::Warn,
                        &format!("{err:#}"),
                        "outside builds will not reload",
                    );
                }
                self.artifact = Some(artifact.clone());
                self.watch_inputs(&artifact);
                // A build that changed nothing (cargo found it fresh) is not
                // a new generation.
                if self.loaded_id.is_none() || file_id(&artifact) != self.loaded_id {
                    self.load(artifact);
                }
            }
            Ok(BuildOutcome::Failed {
                diagnostics,
                coloured,
                errors,
                first_error,
                ms,
            }) => {
                self.events.emit(
                    "build_failed",
                    json!({"ms": ms, "diagnostics": diagnostics, "errors": errors}),
                );
                self.terminal.set_build("build failed".into());
                self.terminal.set_outcome(Outcome::BuildFailed(errors));
                let keeps = if self.child.is_some() {
                    "the program keeps running the previous code"
                } else {
                    "fix the code and save to start the program"
                };
                let what = match (errors, first_error) {
                    (0, _) | (_, None) => String::new(),
                    (1, Some(first)) => format!(" (error: {first})"),
                    (n, Some(first)) => format!(" ({n} errors, the first: {first})"),
                };
                self.terminal.say(
                    Tone::Bad,
                    &format!("build failed{what}; {keeps}"),
                    &coloured,
                );
            }
            Err(err) => {
                self.events.emit(
                    "build_failed",
                    json!({"ms": 0, "diagnostics": format!("{err:#}"), "errors": 0}),
                );
                self.terminal.set_build("build failed".into());
                self.terminal.set_outcome(Outcome::BuildFailed(0));
                self.terminal.say(Tone::Bad, &format!("{err:#}"), "");
            }
        }
    }

    /// The library on disk changed and has been quiet: load it if it is not
    /// the one already loaded.
    fn artifact_settled(&mut self) {
        let Some(artifact) = self.artifact.clone() else {
            return;
        };
        if self.building || file_id(&artifact).is_none() || file_id(&artifact) == self.loaded_id {
            return;
        }
        self.load(artifact);
    }

    /// Reads, checks and stages the library on a background thread.
    fn load(&mut self, artifact: PathBuf) {
        if self.loading {
            self.load_again = true;
            return;
        }
        if !self.check_persistent(&artifact) {
            return;
        }
        self.loading = true;
        self.loaded_id = file_id(&artifact);
        let number = self.next_number;
        self.next_number += 1;
        let staging = self.staging.clone();
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let result = relive_host::stage(&artifact, number, &staging);
            let _ = tx.send(Msg::Prepared {
                number,
                result: Box::new(result),
            });
        });
    }

    fn prepared(&mut self, number: u64, result: Result<Staged, LoadError>) {
        self.loading = false;
        match result {
            Ok(staged) => {
                self.timings.insert(number, staged.timings);
                let library = Library::from_staged(&staged);
                // A second name for the copy: the runner removes the copy
                // when it retires the generation, and a crash may need it
                // again (see `recovery`).
                let _ = std::fs::hard_link(&staged.copy, recovery::kept(&staged.copy));
                self.staged.insert(number, staged);
                self.current = Some(number);
                match (&mut self.child, &self.postponed) {
                    (Some(child), Some(threads)) => {
                        // A second request while a swap waits for workers
                        // that do not stop: restart on the new code from the
                        // checkpoint written when the swap was postponed.
                        self.events.emit(
                            "restarted",
                            json!({"generation": number, "reason": format!("worker threads did not stop: {threads}")}),
                        );
                        self.terminal.say(
                            Tone::Warn,
                            &format!("restarting on generation {number}: worker threads did not stop ({threads})"),
                            "the state is the one saved when the swap was postponed",
                        );
                        self.restart_with = Some(library);
                        child.kill();
                    }
                    (Some(child), None) if std::mem::take(&mut self.persistent.restart) => {
                        // Stopped at a frame boundary, the runner writes a
                        // checkpoint that the new one resumes from.
                        self.restart_with = Some(library);
                        child.stop();
                    }
                    (Some(child), None) => child.offer(library),
                    (None, _) => self.spawn_runner(library, self.has_checkpoint()),
                }
            }
            Err(err) => self.refused(number, &err.to_string()),
        }
        if std::mem::take(&mut self.load_again)
            && let Some(artifact) = self.artifact.clone()
            && file_id(&artifact) != self.loaded_id
        {
            self.load(artifact);
        }
    }

    fn refused(&mut self, generation: u64, reason: &str) {
        self.report_refusal(generation, "library", reason);
    }

    /// Reports that the new `what` (code, library) was refused: an event,
    /// a line that names the reason, and the status line.
    fn report_refusal(&mut self, generation: u64, what: &str, reason: &str) {
        self.undo_offer(generation);
        self.events.emit(
            "refused",
            json!({"generation": generation, "reason": reason}),
        );
        let short = short_reason(reason);
        self.terminal
            .set_outcome(Outcome::Refused(short.to_string()));
        let next = if self.last_good.is_some() {
            "; the program keeps running the previous code".to_string()
        } else if self.args.no_build {
            let artifact = self
                .artifact
                .clone()
                .unwrap_or_else(|| self.expected_artifact());
            format!(
                "; waiting for a new {} to start the program",
                artifact.display()
            )
        } else {
            "; fix the code and save: the program starts with the next build that loads".to_string()
        };
        self.terminal.say(
            Tone::Warn,
            &format!("refused the new {what} ({short}){next}"),
            reason,
        );
    }
}

/// A refusal's reason in a few words: its first line up to the first `; `
/// (which names the field, when a field is the reason).
fn short_reason(reason: &str) -> &str {
    let first = reason.lines().next().unwrap_or("").trim();
    first.split("; ").next().unwrap_or(first)
}
