//! `relive __runner`: the process that loads and runs the app's code, so
//! that a crash in it (a segfault, an abort, a stack overflow) ends only this
//! process. Its supervisor (`relive run`) stages libraries, tells it which to
//! load over the socket on fd 3, and starts a new runner from the last good
//! library and the checkpoint file when this one dies.

use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use relive_host::checkpoint::Checkpoints;
use relive_host::{Begin, CheckpointSink, Generation, RunEvent, Runner};

use crate::wire::{self, Command, Library, Report};

/// The socket's file descriptor in the runner.
pub const SOCKET_FD: i32 = 3;
/// The checkpoint files' descriptors in the runner.
pub const CHECKPOINT_FDS: [i32; 2] = [4, 5];

/// Arguments of the hidden `__runner` subcommand.
#[derive(Debug, clap::Args)]
pub struct RunnerArgs {
    /// The supervisor's private folder; only libraries inside it are loaded.
    #[arg(long)]
    pub staging: PathBuf,
    /// Lock all current and future memory.
    #[arg(long)]
    pub mlock: bool,
    /// How many milliseconds of frames to record for `relive loop` (0: none).
    #[arg(long, default_value_t = relive_host::DEFAULT_MILLIS)]
    pub record_ms: u64,
    /// Persistent mode: a library to load once, before the first
    /// generation, and keep for the life of the process (std's shared
    /// library first, then the persistent crates); copies in `--staging`.
    #[arg(long)]
    pub preload: Vec<PathBuf>,
}

/// Whether `file` is inside the private folder `staging`.
fn in_staging(file: &Path, staging: &Path) -> bool {
    file.parent()
        .and_then(|dir| dir.canonicalize().ok())
        .zip(staging.canonicalize().ok())
        .is_some_and(|(dir, staging)| dir.starts_with(staging))
}

/// Loads the persistent libraries (persistent mode) for the life of the
/// process.
fn preload(libraries: &[PathBuf], staging: &Path) -> anyhow::Result<()> {
    if let Some(outside) = libraries.iter().find(|l| !in_staging(l, staging)) {
        anyhow::bail!(
            "refusing to load {}: it is not in relive's private folder",
            outside.display()
        );
    }
    // SAFETY: the supervisor copied these from the toolchain's std and the
    // app's own persistent crates, built for this machine by the compiler
    // that built the app.
    unsafe { relive_host::preload::load_for_ever(libraries) }?;
    Ok(())
}

fn open(library: &Library, staging: &Path) -> Result<Generation, String> {
    if !in_staging(&library.copy, staging) {
        return Err(format!(
            "refusing to load {}: it is not in relive's private folder",
            library.copy.display()
        ));
    }
    Generation::open(&library.staged()).map_err(|e| e.to_string())
}

/// Ctrl-C reaches the supervisor too, which stops this process over the
/// socket, so this process must not die of it. An ignored signal stays
/// ignored across `exec`, and so in every program the app starts; a handler
/// is reset to the default there. So SIGINT gets a handler that does nothing.
fn ignore_sigint_here_only() {
    extern "C" fn nothing(_: libc::c_int) {}
    // SAFETY: `action` is fully initialised before use; the handler is an
    // async-signal-safe function that does nothing; SA_RESTART keeps
    // interrupted system calls from failing with EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = nothing as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// Runs the runner until the program ends or the supervisor goes away.
pub fn run(args: RunnerArgs) -> anyhow::Result<ExitCode> {
    ignore_sigint_here_only();
    // The supervisor's descriptors must not leak into programs the app
    // starts: one still holding the socket would hide this process's end
    // (and so a crash) from the supervisor.
    for fd in [SOCKET_FD, CHECKPOINT_FDS[0], CHECKPOINT_FDS[1]] {
        // SAFETY: fcntl on a descriptor number has no memory effects.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: the supervisor passes the socket as fd 3, and nothing else in
    // this process owns that descriptor.
    let socket = unsafe { UnixStream::from_raw_fd(SOCKET_FD) };
    // Large allocations come from the heap and freed memory stays mapped, so
    // the snapshot a swap takes reuses pages that are already there instead
    // of faulting fresh ones in during the pause.
    // SAFETY: mallopt only tunes glibc's allocator; called before any other
    // thread of this process allocates.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
    if args.mlock {
        // SAFETY: mlockall only changes how the kernel backs this process's
        // pages.
        if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
            eprintln!(
                "relive: --mlock failed ({}); raise the limit with `ulimit -l unlimited` or run without --mlock",
                std::io::Error::last_os_error()
            );
        }
    }
    preload(&args.preload, &args.staging)?;
    // What arrives on relive's standard input reaches `ctx.input()`.
    relive_host::input::read_from(std::io::stdin())
        .context("cannot start the thread that reads the standard input")?;
    let reader = socket
        .try_clone()
        .context("cannot use the supervisor's socket")?;
    let writer = Arc::new(Mutex::new(socket));
    let report = {
        let writer = writer.clone();
        move |message: Report| {
            if let Ok(mut stream) = writer.lock() {
                // The supervisor gone means this process will be killed.
                let _ = wire::send(&mut stream, &message);
            }
        }
    };

    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let mut runner: Option<Runner> = None;
    // SAFETY: the supervisor passes the two checkpoint files as fds 4 and 5,
    // owned by nothing else here.
    let checkpoints = unsafe { Checkpoints::from_fds(CHECKPOINT_FDS[0], CHECKPOINT_FDS[1]) };
    let writer = checkpoints
        .writer()
        .context("cannot map the checkpoint files")?;
    let sink: CheckpointSink = Arc::new(writer);
    let staging = args.staging.clone();
    let commands = std::thread::spawn(move || {
        let mut handle = |command: Command| {
            let (library, resume) = match command {
                Command::Stop => {
                    match &runner {
                        Some(runner) => runner.stop(),
                        None => {
                            let _ = done_tx.send(());
                        }
                    }
                    return;
                }
                Command::Replay { command } => {
                    let result = match &runner {
                        Some(runner) => runner.replay(command),
                        None => Err("the program has not started yet".into()),
                    };
                    if let Err(reason) = result {
                        report(Report::Run(RunEvent::ReplayRefused { reason }));
                    }
                    return;
                }
                Command::Offer { library } if runner.is_some() => {
                    match open(&library, &staging) {
                        Ok(generation) => {
                            if let Some(runner) = &runner {
                                runner.offer(generation);
                            }
                        }
                        Err(reason) => report(Report::Refused {
                            generation: library.number,
                            reason,
                        }),
                    }
                    return;
                }
                // Until a generation has started (the first one could not be
                // opened), an offer starts one, from the checkpoint if any.
                Command::Offer { library } => (library, true),
                Command::Start { library, resume } => (library, resume),
            };
            let generation = match open(&library, &staging) {
                Ok(generation) => generation,
                Err(reason) => {
                    report(Report::Refused {
                        generation: library.number,
                        reason,
                    });
                    return;
                }
            };
            let saved = if resume {
                checkpoints.read_all()
            } else {
                Vec::new()
            };
            let begin = if saved.is_empty() {
                Begin::Fresh
            } else {
                Begin::Resume(saved)
            };
            if matches!(begin, Begin::Resume(_)) {
                let kept = relive_host::keep::kept_fields(generation.layout());
                if !kept.is_empty() {
                    report(Report::KeptReset {
                        generation: library.number,
                        fields: kept.into_iter().map(|k| k.path).collect(),
                    });
                }
            }
            let events = report.clone();
            let done = done_tx.clone();
            let started = Runner::start(generation, begin, Some(sink.clone()), move |event| {
                let exited = matches!(event, RunEvent::Exited { .. });
                events(Report::Run(event));
                if exited {
                    let _ = done.send(());
                }
            });
            match started {
                Ok(started) => {
                    started.record(args.record_ms);
                    runner = Some(started);
                }
                Err(err) => report(Report::Refused {
                    generation: library.number,
                    reason: format!("cannot start the program's threads: {err}"),
                }),
            }
        };
        let result = wire::receive::<Command>(reader, &mut handle);
        // The supervisor closed the socket: end, cleanly if possible.
        if let Some(runner) = &runner {
            runner.stop();
        } else {
            let _ = done_tx.send(());
        }
        result
    });
    let _ = done_rx.recv();
    drop(commands);
    Ok(ExitCode::SUCCESS)
}
