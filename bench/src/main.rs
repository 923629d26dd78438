//! `relive-bench`: measures what users of relive feel and what it promises
//! (issue 5): the swap pause, edit-to-running (with hot-lib-reloader's beside
//! it), library-ready-to-running, call overhead (with hot-lib-reloader beside
//! it), native speed, page faults after a swap, and the frame rate during a
//! background build.
//!
//! One command builds what it needs (`relive` itself with `cargo build
//! --release -p relive-cli`, the bench apps in `bench/apps` in their own
//! target folder `target/bench`), runs everything black-box through the real
//! `relive run`, prints a table and writes the figures to BENCHMARKS.md:
//!
//! ```text
//! cargo run --release -p relive-bench              # full
//! cargo run --release -p relive-bench -- --quick   # under two minutes
//! ```

mod calls;
mod clock;
mod edit;
mod floors;
mod fps;
mod hotedit;
mod load;
mod machine;
mod native;
mod relive;
mod report;
mod shapes;
mod stats;
mod swap;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::machine::Machine;
use crate::report::Results;
use crate::workspace::Workspace;

const USAGE: &str = "\
usage: cargo run --release -p relive-bench [-- OPTIONS]

Measures relive and writes BENCHMARKS.md at the repository root.

options:
  --quick        fewer samples (under two minutes once the apps are built)
  --only LIST    run only these sections, comma-separated:
                 calls,native,swap,shapes,edit,fps
  --no-write     print the table but leave BENCHMARKS.md alone
  --out FILE     write the figures to FILE instead of BENCHMARKS.md
  -h, --help     this text";

const SECTIONS: &[&str] = &["calls", "native", "swap", "shapes", "edit", "fps"];

/// Command-line options.
#[derive(Debug)]
struct Options {
    quick: bool,
    write: bool,
    out: Option<PathBuf>,
    only: Option<Vec<String>>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Option<Options>> {
        let mut options = Options {
            quick: false,
            write: true,
            out: None,
            only: None,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--no-write" => options.write = false,
                "--out" => {
                    let Some(path) = args.next() else {
                        bail!("--out needs a file\n\n{USAGE}");
                    };
                    options.out = Some(PathBuf::from(path));
                }
                "--only" => {
                    let Some(list) = args.next() else {
                        bail!("--only needs a list of sections\n\n{USAGE}");
                    };
                    let list: Vec<String> = list.split(',').map(|s| s.trim().into()).collect();
                    if let Some(bad) = list.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                        bail!("unknown section `{bad}`\n\n{USAGE}");
                    }
                    options.only = Some(list);
                }
                "-h" | "--help" => return Ok(None),
                other => bail!("unknown argument `{other}`\n\n{USAGE}"),
            }
        }
        Ok(Some(options))
    }

    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == section))
    }
}

/// How many samples of everything.
/// Normal-priority busy loops competing with the builds in the loaded
/// edit-to-running run (issue 10: a second cargo, rust-analyzer).
const BUSY_LOOPS: usize = 2;

#[derive(Debug)]
struct Config {
    swaps: usize,
    edits: usize,
    fps_rounds: usize,
    fps_idle: Duration,
    native_rounds: usize,
    native_frames: usize,
    calls: u64,
    call_reps: usize,
}

impl Config {
    fn new(quick: bool) -> Config {
        if quick {
            Config {
                swaps: 30,
                edits: 5,
                fps_rounds: 1,
                fps_idle: Duration::from_millis(1500),
                native_rounds: 3,
                native_frames: 15,
                calls: 20_000_000,
                call_reps: 3,
            }
        } else {
            Config {
                swaps: 200,
                edits: 20,
                fps_rounds: 4,
                fps_idle: Duration::from_secs(2),
                native_rounds: 6,
                native_frames: 40,
                calls: 100_000_000,
                call_reps: 7,
            }
        }
    }
}

fn section<T>(
    name: &str,
    what: &str,
    run: impl FnOnce() -> anyhow::Result<T>,
) -> Option<Result<T, String>> {
    eprintln!("relive-bench: {name}: {what}");
    let t = Instant::now();
    let result = run().map_err(|e| format!("{e:#}"));
    match &result {
        Ok(_) => eprintln!(
            "relive-bench: {name}: done in {:.1} s",
            t.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!("relive-bench: {name}: FAILED: {e}"),
    }
    Some(result)
}

fn run() -> anyhow::Result<bool> {
    let Some(options) = Options::parse(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(true);
    };
    let config = Config::new(options.quick);
    let started = Instant::now();
    let ws = Workspace::locate()?;
    let machine = Machine::detect(&ws.root);
    eprintln!("relive-bench: building relive (cargo build --release -p relive-cli)");
    let relive = ws.build_relive()?;
    ws.prepare_apps()?;

    let mut results = Results {
        machine,
        quick: options.quick,
        command: if options.quick {
            "cargo run --release -p relive-bench -- --quick".into()
        } else {
            "cargo run --release -p relive-bench".into()
        },
        ..Results::default()
    };
    if options.wants("calls") {
        results.calls = section("calls", "call overhead (item 4)", || {
            calls::run(&ws, config.calls, config.call_reps)
        });
    }
    if options.wants("native") {
        results.native = section("native", "native speed (item 5)", || {
            native::run(&ws, &relive, config.native_rounds, config.native_frames)
        });
    }
    if options.wants("swap") {
        results.swap = section(
            "swap",
            &format!(
                "swap pause, ready-to-running, page faults (items 1, 3, 6): {} swaps",
                config.swaps
            ),
            || swap::run(&ws, &relive, config.swaps, false),
        );
        results.mlock_supported = swap::has_mlock(&relive);
        if results.mlock_supported {
            let swaps = (config.swaps / 4).max(10);
            results.swap_mlock = section(
                "swap --mlock",
                &format!("swap pause and page faults under `relive run --mlock`: {swaps} swaps"),
                || swap::run(&ws, &relive, swaps, true),
            );
        }
    }
    if options.wants("shapes") {
        let swaps = if options.quick { 20 } else { 60 };
        results.shapes = section(
            "shapes",
            &format!(
                "swap pause by state shape and size, checkpoint stalls, crashes: {swaps} swaps per case"
            ),
            || shapes::run(&ws, &relive, swaps),
        );
    }
    if options.wants("edit") {
        results.edit = section(
            "edit",
            &format!(
                "edit-to-running (item 2): {} edits under relive, then under hot-lib-reloader",
                config.edits
            ),
            || edit::run(&ws, &relive, config.edits, 0),
        );
        results.edit_loaded = section(
            "edit under load",
            &format!(
                "edit-to-running (item 2) with {BUSY_LOOPS} busy loops competing: {} edits",
                config.edits
            ),
            || edit::run(&ws, &relive, config.edits, BUSY_LOOPS),
        );
    }
    if options.wants("fps") {
        results.fps = section(
            "fps",
            &format!(
                "frame rate during a build (item 7): {} rounds",
                config.fps_rounds
            ),
            || fps::run(&ws, &relive, config.fps_rounds, config.fps_idle),
        );
    }
    results.machine.load_end = machine::load();
    results.seconds = started.elapsed().as_secs_f64();

    println!("\n{}", report::table(&results));
    if options.write {
        let path = options
            .out
            .clone()
            .unwrap_or_else(|| ws.root.join("BENCHMARKS.md"));
        report::write(&path, &report::markdown(&results))?;
        println!("wrote {}", path.display());
    }
    let all_ok = [
        results.calls.as_ref().map(Result::is_ok),
        results.native.as_ref().map(Result::is_ok),
        results.swap.as_ref().map(Result::is_ok),
        results.swap_mlock.as_ref().map(Result::is_ok),
        results.shapes.as_ref().map(Result::is_ok),
        results.edit.as_ref().map(Result::is_ok),
        results.edit_loaded.as_ref().map(Result::is_ok),
        results.fps.as_ref().map(Result::is_ok),
    ]
    .into_iter()
    .all(|ok| ok != Some(false));
    Ok(all_ok)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("relive-bench: some measurements failed (see above)");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("relive-bench: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Option<Options>> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options() {
        let o = parse(&[]).expect("ok").expect("options");
        assert!(!o.quick && o.write && o.wants("swap"));
        let o = parse(&["--quick", "--no-write", "--only", "swap,edit"])
            .expect("ok")
            .expect("options");
        assert!(o.quick && !o.write && o.wants("edit") && !o.wants("fps"));
        assert!(parse(&["--only", "nope"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--help"]).expect("ok").is_none());
    }
}
