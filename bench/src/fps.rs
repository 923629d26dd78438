//! Frame rate during a background build (item 7): the `fps` app does a fixed
//! amount of work per frame as fast as it can under `relive run --release`
//! and reports its frames per window of about 100 ms; the bench compares
//! windows while relive is idle with windows inside relive's cargo build
//! (started by a one-line edit).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::edit::{Reload, edit_and_reload, last_before};
use crate::relive::{Marker, Relive};
use crate::stats::Summary;
use crate::workspace::{Profile, Workspace};

/// Time after a reload before the idle measurement starts.
const SETTLE: Duration = Duration::from_millis(500);
/// Windows closer than this to the build's start or end are left out (the
/// clocks are matched to about a millisecond).
const MARGIN_NS: u64 = 20_000_000;

/// What the rounds measured.
#[derive(Clone, Debug)]
pub struct FpsResults {
    /// Rounds (idle, then a build).
    pub rounds: usize,
    /// Frames per second while relive only watches.
    pub idle_fps: f64,
    /// Frames per second while relive's cargo build runs.
    pub build_fps: f64,
    /// `build_fps / idle_fps`.
    pub ratio: f64,
    /// Per-round ratios.
    pub round_ratios: Summary,
    /// Seconds of windows counted idle / during builds.
    pub idle_s: f64,
    pub build_s: f64,
    /// relive's release builds, ms.
    pub build_ms: Summary,
    /// Mean frame time while idle, ms.
    pub frame_ms: f64,
    /// Share of wall time the frame thread was on a CPU, idle / during builds.
    pub idle_cpu_share: f64,
    pub build_cpu_share: f64,
    /// CPU time per frame, ms, idle / during builds.
    pub idle_cpu_per_frame_ms: f64,
    pub build_cpu_per_frame_ms: f64,
}

/// A reporting window of the app.
struct Window {
    t0: u64,
    t1: u64,
    frames: u64,
    cpu_ns: u64,
}

fn window(m: &Marker) -> anyhow::Result<Window> {
    Ok(Window {
        t0: m.u64("t0")?,
        t1: m.u64("t1")?,
        frames: m.u64("frames")?,
        cpu_ns: m.u64("cpu_ns")?,
    })
}

/// Totals of a set of windows.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    frames: u64,
    seconds: f64,
    cpu_seconds: f64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.frames += other.frames;
        self.seconds += other.seconds;
        self.cpu_seconds += other.cpu_seconds;
    }

    fn fps(&self) -> f64 {
        self.frames as f64 / self.seconds
    }
}

/// Totals of the windows that lie within `[from, to]`.
fn within(windows: &[Window], from: u64, to: u64) -> Totals {
    let mut t = Totals::default();
    for w in windows.iter().filter(|w| w.t0 >= from && w.t1 <= to) {
        t.add(Totals {
            frames: w.frames,
            seconds: (w.t1 - w.t0) as f64 / 1e9,
            cpu_seconds: w.cpu_ns as f64 / 1e9,
        });
    }
    t
}

fn event_t_ms(e: &Value) -> anyhow::Result<u64> {
    e["t_ms"].as_u64().context("event without t_ms")
}

/// Runs `rounds` rounds with `idle` of idle time each.
pub fn run(
    ws: &Workspace,
    relive: &Path,
    rounds: usize,
    idle_time: Duration,
) -> anyhow::Result<FpsResults> {
    let app = ws.app("fps");
    let src = app.join("src").join("lib.rs");
    ws.build_app(&app, Profile::Release)?;
    let mut r = Relive::start(relive, ws, &app, &["--release"], &[], "fps")?;
    let first = r.wait_first_frame(Duration::from_secs(240))?;
    let mut idle_from = first.u64("t_ns")? + SETTLE.as_nanos() as u64;
    std::thread::sleep(SETTLE);

    let (mut idle, mut build) = (Totals::default(), Totals::default());
    let mut ratios = Vec::new();
    let mut builds = Vec::new();
    for round in 0..rounds {
        std::thread::sleep(idle_time);
        let edit = round as u64 + 1;
        let Reload {
            saved,
            first_frame,
            reloaded_ms,
            ..
        } = edit_and_reload(&mut r, &src, edit, Duration::from_secs(300))?;
        let offset_ns = first_frame as i128 - i128::from(reloaded_ms) * 1_000_000;
        let events = r.events()?;
        let started = last_before(events, "build_started", reloaded_ms)?;
        let finished = last_before(events, "build_finished", reloaded_ms)?;
        builds.push(finished["ms"].as_u64().unwrap_or(0) as f64);
        let at = |e: &Value| -> anyhow::Result<u64> {
            Ok((offset_ns + i128::from(event_t_ms(e)?) * 1_000_000).max(0) as u64)
        };
        let build_from = at(started)? + MARGIN_NS;
        let build_to = at(finished)?.saturating_sub(MARGIN_NS);

        // Collect the windows up to a little after the reload.
        std::thread::sleep(SETTLE);
        let windows: Vec<Window> = r
            .take_markers("fps")
            .iter()
            .map(window)
            .collect::<anyhow::Result<_>>()?;
        let i = within(&windows, idle_from, saved);
        let b = within(&windows, build_from, build_to);
        if i.seconds > 0.0 && b.seconds > 0.0 {
            ratios.push(b.fps() / i.fps());
        }
        idle.add(i);
        build.add(b);
        idle_from = first_frame + SETTLE.as_nanos() as u64;
    }
    r.stop()?;
    let (idle_fps, build_fps) = (idle.fps(), build.fps());
    Ok(FpsResults {
        rounds,
        idle_fps,
        build_fps,
        ratio: build_fps / idle_fps,
        round_ratios: Summary::of(&ratios).context(
            "no round had both idle windows and windows inside the build (builds too short?)",
        )?,
        idle_s: idle.seconds,
        build_s: build.seconds,
        build_ms: Summary::of(&builds).context("no builds")?,
        frame_ms: 1e3 / idle_fps,
        idle_cpu_share: idle.cpu_seconds / idle.seconds,
        build_cpu_share: build.cpu_seconds / build.seconds,
        idle_cpu_per_frame_ms: idle.cpu_seconds * 1e3 / idle.frames as f64,
        build_cpu_per_frame_ms: build.cpu_seconds * 1e3 / build.frames as f64,
    })
}
