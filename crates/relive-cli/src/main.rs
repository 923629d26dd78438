//! The `relive` command: run a Rust app and swap in new code as it is saved,
//! or create a new app to run.
//!
//! A thin layer over `relive-host`: it parses the arguments, finds the
//! package, drives cargo and the file watchers, and reports what happens on
//! the terminal and in the `--events` log.

mod backtrace;
mod cargo_build;
mod child;
mod debounce;
mod depinfo;
mod events;
mod inputs;
mod looping;
mod new;
mod new_persistent;
mod package;
mod persistent;
mod pty;
mod runner_process;
mod session;
mod status;
mod terminal;
mod watch;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Run-time recompile for Rust: edit the code of a running program.
#[derive(Debug, Parser)]
#[command(name = "relive", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the app at PATH, run it, and reload it whenever its code changes.
    Run(RunArgs),
    /// Create a new app at PATH that `relive run PATH` runs at once.
    New(NewArgs),
    /// Replay the last SECONDS of the running `relive run` over and over,
    /// with the newest code, until `relive live`.
    Loop(looping::SecondsArgs),
    /// Leave the loop: the program goes on live from the replayed frame.
    Live(looping::LiveArgs),
    /// Go back SECONDS in the running `relive run` and go on live from there.
    Rewind(looping::SecondsArgs),
    /// The process that runs the app's code for `relive run` (internal).
    #[command(name = "__runner", hide = true)]
    Runner(runner_process::RunnerArgs),
}

/// Arguments of `relive run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The app's package directory (a cdylib crate that depends on relive).
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Build with the release profile.
    #[arg(long)]
    pub release: bool,
    /// Do not build or watch sources; reload when the built library changes
    /// (for builds started elsewhere).
    #[arg(long)]
    pub no_build: bool,
    /// Write events as JSON Lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Lock the program's memory (and pre-fault it), as games do, so that
    /// no page fault stalls the first frame after a swap.
    #[arg(long)]
    pub mlock: bool,
    /// Show only the app's own output and failures (a refusal, a rollback,
    /// a crash, a failed build: one line each).
    #[arg(long, short)]
    pub quiet: bool,
    /// Keep the last SECONDS of frames for `relive loop` and `relive
    /// rewind` (0: record nothing).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub record: f64,
}

impl RunArgs {
    /// The recorded time in milliseconds.
    pub fn record_ms(&self) -> u64 {
        if self.record.is_finite() && self.record > 0.0 {
            (self.record * 1000.0) as u64
        } else {
            0
        }
    }
}

/// Arguments of `relive new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The folder to create (missing or empty); its name is the package name.
    pub path: PathBuf,
    /// The relive checkout the app depends on (default: the one this
    /// `relive` was built from).
    #[arg(long, value_name = "CHECKOUT")]
    pub relive: Option<PathBuf>,
    /// Make a persistent-mode workspace: a `dylib` app on a `deps` `dylib`
    /// (minifb) that stays loaded, with a window kept across reloads.
    #[arg(long)]
    pub persistent: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => session::run(args),
        Command::New(args) => new::run(args),
        Command::Loop(args) => looping::run_loop(args),
        Command::Live(args) => looping::run_live(args),
        Command::Rewind(args) => looping::run_rewind(args),
        Command::Runner(args) => runner_process::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("relive: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
