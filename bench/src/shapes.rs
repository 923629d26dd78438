//! The swap pause on the app's own clock for the three state shapes of
//! issue 10 (`Vec<u64>`, a `Vec` of four-`f32` structs, `Vec<String>` plus
//! `HashMap<u64, String>`) at three sizes, the largest stall per second
//! while relive checkpoints the running program, and a crash 400 frames
//! after a swap: how long until the previous generation runs again, and how
//! old its restored state is (`state_age_ms`).
//!
//! Black-box, like `swap`: three release builds of the `shapes` app that
//! differ in one constant (the third crashes) are renamed into place under
//! `relive run --release --no-build`; the shape and size are chosen by
//! environment variables, so one pair of builds serves every case.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::relive::{Relive, event_name};
use crate::stats::{Summary, summary};
use crate::swap::place;
use crate::workspace::Workspace;

/// The shapes, as the app names them, and as the report does.
pub const SHAPES: &[(&str, &str)] = &[
    ("u64", "Vec<u64>"),
    ("points", "Vec<P>, P = four f32"),
    ("heap", "Vec<String> + HashMap<u64, String>"),
];
/// The sizes, bytes.
pub const SIZES: &[usize] = &[64 << 10, 1 << 20, 16 << 20];

/// One shape at one size.
#[derive(Clone, Debug)]
pub struct Case {
    /// The shape's name in the report.
    pub shape: &'static str,
    /// Bytes of state.
    pub bytes: usize,
    /// The pause on the app's clock, µs.
    pub app_pause_us: Summary,
    /// The pause relive reported (`reloaded.pause_us`).
    pub pause_us: Summary,
    /// Per second while the program runs (checkpoints included), from the
    /// second second after the last swap: the largest gap between two
    /// frames, µs.
    pub gap_us: Summary,
    /// The largest gap between two frames in the second in which the last
    /// swap happened (its rollback checkpoint, the old library closing), µs.
    pub swap_second_gap_us: f64,
    /// Per second: the longest frame (copy-on-write faults after a
    /// checkpoint's fork show here), µs.
    pub frame_us: Summary,
    /// A crash 400 frames after a swap (1 MiB only).
    pub crash: Option<Crash>,
}

/// A crash and the way back.
#[derive(Clone, Copy, Debug)]
pub struct Crash {
    /// From the crash (the app's clock) to the first frame of the
    /// generation that runs again, ms.
    pub to_running_ms: f64,
    /// `rolled_back.state_age_ms`.
    pub state_age_ms: f64,
}

/// Every case.
#[derive(Clone, Debug)]
pub struct ShapeResults {
    /// Swaps per case.
    pub swaps: usize,
    /// The cases, by shape then size.
    pub cases: Vec<Case>,
}

/// Builds the three variants and runs every case.
pub fn run(ws: &Workspace, relive: &Path, swaps: usize) -> anyhow::Result<ShapeResults> {
    let app = ws.app("shapes");
    let (artifact, libs) = ws.build_variants("shapes", "bench_shapes", &[1, 2, 3])?;
    let mut cases = Vec::new();
    for &(shape, label) in SHAPES {
        for &bytes in SIZES {
            eprintln!("relive-bench: shapes: {label}, {} KiB", bytes >> 10);
            let crash = bytes == 1 << 20;
            cases.push(
                one(
                    ws, relive, &app, &artifact, &libs, shape, bytes, swaps, crash,
                )
                .map(|mut case| {
                    case.shape = label;
                    case
                })
                .with_context(|| format!("{label}, {} KiB", bytes >> 10))?,
            );
        }
    }
    Ok(ShapeResults { swaps, cases })
}

#[expect(clippy::too_many_arguments, reason = "one case of the matrix")]
fn one(
    ws: &Workspace,
    relive: &Path,
    app: &Path,
    artifact: &Path,
    libs: &[PathBuf],
    shape: &str,
    bytes: usize,
    swaps: usize,
    crash: bool,
) -> anyhow::Result<Case> {
    place(&libs[0], artifact)?;
    let env = [
        ("RELIVE_BENCH_SHAPE", shape.to_string()),
        ("RELIVE_BENCH_BYTES", bytes.to_string()),
    ];
    let tag = format!("shapes-{shape}-{}k", bytes >> 10);
    let mut r = Relive::start(relive, ws, app, &["--release", "--no-build"], &env, &tag)?;
    r.wait_first_frame(Duration::from_secs(60))?;
    let (mut app_pause, mut pause) = (Vec::new(), Vec::new());
    let mut checksum = None;
    for i in 0..swaps {
        let generation = i as u64 + 2;
        let variant = if generation.is_multiple_of(2) { 2 } else { 1 };
        place(&libs[variant - 1], artifact)?;
        let event = r.wait_event(Duration::from_secs(30), "`reloaded`", |e| {
            event_name(e) == "reloaded" && e["generation"].as_u64() == Some(generation)
        })?;
        let marker = r.wait_marker(Duration::from_secs(30), "the new generation", |m| {
            m.kind == "gen" && m.u64("gen").ok() == Some(generation)
        })?;
        if event["mode"].as_str() != Some("identical") {
            bail!(
                "generation {generation} moved its state as {}",
                event["mode"]
            );
        }
        let sum = marker.u64("checksum")?;
        if checksum.is_some_and(|c| sum < c) {
            bail!("generation {generation}: the state went back ({sum} after {checksum:?})");
        }
        checksum = Some(sum);
        app_pause.push(marker.f64("app_pause_ns")? / 1e3);
        pause.push(event["pause_us"].as_f64().unwrap_or(f64::NAN));
        // A few frames of the new code before the next swap.
        std::thread::sleep(Duration::from_millis(30));
    }
    // Stalls while the program runs: seconds of the last generation; the
    // first of them holds the last swap's own stalls, and is kept apart.
    let last = swaps as u64 + 1;
    let _ = r.take_markers("second");
    let mut seconds = Vec::new();
    for _ in 0..5 {
        seconds.push(
            r.wait_marker(Duration::from_secs(10), "a second of frames", |m| {
                m.kind == "second" && m.u64("gen").ok() == Some(last)
            })?,
        );
    }
    let (mut gaps, mut frames) = seconds_of(&seconds);
    let swap_second_gap_us = if gaps.is_empty() {
        f64::NAN
    } else {
        frames.remove(0);
        gaps.remove(0)
    };
    let crash = if crash {
        crash_once(&mut r, &libs[2], artifact, last)
            .inspect_err(|e| eprintln!("relive-bench: shapes: the crash case failed: {e:#}"))
            .ok()
    } else {
        None
    };
    r.stop()?;
    Ok(Case {
        shape: "",
        bytes,
        app_pause_us: summary(&app_pause, "the app's pause")?,
        pause_us: summary(&pause, "pause_us")?,
        gap_us: summary(&gaps, "gaps between frames").unwrap_or_default(),
        swap_second_gap_us,
        frame_us: summary(&frames, "frame times").unwrap_or_default(),
        crash,
    })
}

/// Gaps and frame times, µs.
fn seconds_of(seconds: &[crate::relive::Marker]) -> (Vec<f64>, Vec<f64>) {
    seconds
        .iter()
        .filter_map(|m| Some((m.f64("gap_ns").ok()? / 1e3, m.f64("frame_ns").ok()? / 1e3)))
        .unzip()
}

/// Places the crashing variant, waits for its crash and for the previous
/// generation to run again.
fn crash_once(r: &mut Relive, lib: &Path, artifact: &Path, last: u64) -> anyhow::Result<Crash> {
    let failed = last + 1;
    place(lib, artifact)?;
    r.wait_event(
        Duration::from_secs(30),
        "`reloaded` of the crashing code",
        |e| event_name(e) == "reloaded" && e["generation"].as_u64() == Some(failed),
    )?;
    let crashed = r.wait_marker(Duration::from_secs(60), "the crash", |m| m.kind == "crash")?;
    let back = r.wait_marker(
        Duration::from_secs(30),
        "the previous generation again",
        |m| m.kind == "gen" && m.u64("gen").ok() == Some(last),
    )?;
    let event = r.wait_event(Duration::from_secs(10), "`rolled_back`", |e| {
        event_name(e) == "rolled_back" && e["cause"] == "crash"
    })?;
    Ok(Crash {
        to_running_ms: back.u64("t_ns")?.saturating_sub(crashed.u64("t_ns")?) as f64 / 1e6,
        state_age_ms: event["state_age_ms"].as_f64().unwrap_or(f64::NAN),
    })
}

/// The report's section.
pub fn markdown(s: &ShapeResults) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Swap pause by state shape (app's clock), checkpoint stalls, crashes\n\n\
         {} swaps per case of two release builds of `bench/apps/shapes`; the pause is \
         measured by the app itself (end of the last old frame to the start of the \
         first new one). Stalls: per second of running (checkpoints every 500 ms), the \
         largest gap between two frames and the longest frame (1 ms of frame work \
         skipped: the app sleeps 1 ms per frame), over the four seconds after the one in \
         which the last swap happened; the largest gap of that second (the swap's \
         rollback checkpoint, the old library closing) is its own column.\n",
        s.swaps
    );
    let _ = writeln!(
        out,
        "| state | size | pause p50 (app) | pause p99 (app) | relive's pause_us p50 | \
         largest gap/s (median) | longest frame/s (median) | largest gap, second of the last swap | \
         crash to running | state_age_ms |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for c in &s.cases {
        let crash = c.crash.map_or(("".into(), "".into()), |k| {
            (
                format!("{:.0} ms", k.to_running_ms),
                format!("{:.0}", k.state_age_ms),
            )
        });
        let _ = writeln!(
            out,
            "| `{}` | {} KiB | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {} | {} |",
            c.shape,
            c.bytes >> 10,
            c.app_pause_us.median,
            c.app_pause_us.p99,
            c.pause_us.median,
            c.gap_us.median,
            c.frame_us.median,
            c.swap_second_gap_us,
            crash.0,
            crash.1
        );
    }
    out
}
