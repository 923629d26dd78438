//! Bench app for the swap pause and checkpoint stalls across state shapes
//! (issue 10): `Vec<u64>`, a `Vec` of plain structs, and a heap-rich state
//! (`Vec<String>` plus `HashMap<u64, String>`), of a size chosen at start.
//! relive-bench builds it three times, differing only in `VARIANT` (3 is a
//! variant that crashes after `CRASH_AFTER` frames), and swaps the builds.
//!
//! The app keeps its own clock: every frame stores its end time in the
//! state, so the first frame of a new generation reports the pause as the
//! app saw it (end of the last old frame to the start of the first new
//! one), independently of what relive says. Every second it reports the
//! largest gap between two frames and the longest frame, which is where a
//! checkpoint's stall shows.
//!
//! Chosen by environment variables at `init`: `RELIVE_BENCH_SHAPE`
//! (`u64`, `points`, `heap`) and `RELIVE_BENCH_BYTES` (the state's size).

#[path = "../../common/probe.rs"]
mod probe;

use std::collections::HashMap;
use std::time::Duration;

/// The one line that differs between the builds.
const VARIANT: u32 = 1; // bench: variant

/// Frames of the crashing variant before it crashes.
const CRASH_AFTER: u64 = 400;

/// A plain struct: four `f32`.
#[derive(Clone, Copy, Default, Debug, PartialEq, relive::State)]
pub struct P {
    pub x: f32,
    pub y: f32,
    pub z: f32,
    pub w: f32,
}

#[derive(Default, relive::State)]
pub struct All {
    pub words: Vec<u64>,
    pub points: Vec<P>,
    pub names: Vec<String>,
    pub map: HashMap<u64, String>,
    pub generation: u64,
    /// The process that ran the last frame (a new one after a crash).
    pub pid: u32,
    pub frames_in_generation: u64,
    pub checksum: u64,
    /// `CLOCK_MONOTONIC` at the end of the previous frame.
    pub last_end_ns: u64,
    /// Start of the current one-second window, its largest gap between
    /// frames and its longest frame.
    pub window_start_ns: u64,
    pub window_gap_ns: u64,
    pub window_frame_ns: u64,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// A string of 32 bytes.
fn name(i: u64) -> String {
    format!("name-{i:027}")
}

impl All {
    fn fill(&mut self, shape: &str, bytes: usize) {
        let scale = |per_mib: usize| (per_mib * bytes / (1 << 20)).max(1);
        match shape {
            "points" => {
                self.points = (0..scale(65_536))
                    .map(|i| {
                        let f = i as f32;
                        P {
                            x: f,
                            y: f + 0.5,
                            z: -f,
                            w: 1.0,
                        }
                    })
                    .collect();
            }
            "heap" => {
                self.names = (0..scale(16_384) as u64).map(name).collect();
                self.map = (0..scale(4_096) as u64).map(|i| (i, name(i))).collect();
            }
            _ => self.words = (0..scale(131_072) as u64).collect(),
        }
    }

    /// The frame's work: touch a stride of the state and change a little of it.
    fn work(&mut self, frame: u64) {
        let i = frame.wrapping_mul(4093) as usize;
        let mut sum = 0u64;
        if !self.words.is_empty() {
            let n = self.words.len();
            for k in (0..n).step_by(64) {
                sum = sum.wrapping_add(self.words[k]);
            }
            self.words[i % n] = self.words[i % n].wrapping_add(1);
        }
        if !self.points.is_empty() {
            let n = self.points.len();
            for k in (0..n).step_by(64) {
                sum = sum.wrapping_add(self.points[k].x as u64);
            }
            self.points[i % n].w += 1.0;
        }
        if !self.names.is_empty() {
            let n = self.names.len();
            for k in (0..n).step_by(64) {
                sum = sum.wrapping_add(self.names[k].len() as u64);
            }
            let key = (i % self.map.len().max(1)) as u64;
            if let Some(value) = self.map.get_mut(&key) {
                value.replace_range(..4, "NAME");
            }
        }
        self.checksum = self.checksum.wrapping_add(sum);
    }
}

impl relive::App for All {
    fn init(&mut self, _ctx: &mut relive::Ctx) {
        let shape = env_or("RELIVE_BENCH_SHAPE", "u64");
        let bytes = env_or("RELIVE_BENCH_BYTES", "1048576")
            .parse()
            .unwrap_or(1 << 20);
        self.fill(&shape, bytes);
    }

    fn frame(&mut self, ctx: &mut relive::Ctx) -> relive::Flow {
        let start = probe::now_ns();
        let gap = start.saturating_sub(self.last_end_ns);
        if ctx.generation() != self.generation || std::process::id() != self.pid {
            self.generation = ctx.generation();
            self.pid = std::process::id();
            self.frames_in_generation = 0;
            let relive_ns = ctx.last_swap_pause().map_or(0, |d| d.as_nanos() as u64);
            probe::report(
                "gen",
                format_args!(
                    "gen={} variant={VARIANT} t_ns={start} app_pause_ns={gap} pause_ns={relive_ns} \
                     words={} points={} names={} map={} checksum={} pid={}",
                    self.generation,
                    self.words.len(),
                    self.points.len(),
                    self.names.len(),
                    self.map.len(),
                    self.checksum,
                    std::process::id()
                ),
            );
        } else {
            self.frames_in_generation += 1;
            self.window_gap_ns = self.window_gap_ns.max(gap);
        }
        if VARIANT == 3 && self.frames_in_generation == CRASH_AFTER {
            probe::report("crash", format_args!("t_ns={}", probe::now_ns()));
            // SAFETY: none; this variant crashes on purpose.
            unsafe { std::ptr::null_mut::<u64>().write_volatile(7) };
        }
        self.work(ctx.frame());
        let end = probe::now_ns();
        self.window_frame_ns = self.window_frame_ns.max(end - start);
        if end.saturating_sub(self.window_start_ns) >= 1_000_000_000 {
            if self.window_start_ns != 0 {
                probe::report(
                    "second",
                    format_args!(
                        "gen={} gap_ns={} frame_ns={}",
                        self.generation, self.window_gap_ns, self.window_frame_ns
                    ),
                );
            }
            self.window_start_ns = end;
            self.window_gap_ns = 0;
            self.window_frame_ns = 0;
        }
        std::thread::sleep(Duration::from_millis(1));
        self.last_end_ns = probe::now_ns();
        relive::Flow::Continue
    }
}

relive::export!(All);
