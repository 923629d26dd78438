//! Native speed (item 5): the n-body kernel timed per frame inside the
//! `nbody` app under `relive run --release`, and the identical source (a
//! `#[path]` module) timed in this statically linked binary, in alternating
//! rounds of the same run. The figures are the timing thread's CPU time, so
//! that other processes on the (shared) machine do not count; wall times are
//! kept beside them.

#[path = "../apps/nbody/src/kernel.rs"]
mod kernel;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::clock::{now_ns, thread_cpu_ns};
use crate::relive::Relive;
use crate::stats::Summary;
use crate::workspace::{Profile, Workspace};

/// Frames left out at the start of each round.
const WARMUP: usize = 3;

/// What the rounds measured.
#[derive(Clone, Debug)]
pub struct NativeResults {
    /// Rounds per side.
    pub rounds: usize,
    /// Timed kernel calls per round and side.
    pub frames: usize,
    /// Kernel steps per call.
    pub steps: usize,
    /// One kernel call in this static binary, ms of CPU time.
    pub static_ms: Summary,
    /// One kernel call in the relive app, ms of CPU time.
    pub relive_ms: Summary,
    /// The same in wall time, ms.
    pub static_wall_ms: Summary,
    pub relive_wall_ms: Summary,
    /// Speed under relive relative to the static binary (static median time
    /// over relive median time; 1.0 is the same speed).
    pub ratio: f64,
}

/// Runs `rounds` rounds of `frames` timed calls on each side.
pub fn run(
    ws: &Workspace,
    relive: &Path,
    rounds: usize,
    frames: usize,
) -> anyhow::Result<NativeResults> {
    let app = ws.app("nbody");
    ws.build_app(&app, Profile::Release)?;
    let (mut static_ns, mut static_wall) = (Vec::new(), Vec::new());
    let (mut relive_ns, mut relive_wall) = (Vec::new(), Vec::new());
    let mut energy = None;
    for round in 0..rounds {
        for i in 0..WARMUP + frames {
            let (wall, cpu) = (now_ns(), thread_cpu_ns());
            let e = black_box(kernel::frame_work(black_box(kernel::STEPS)));
            let cpu_ns = (thread_cpu_ns() - cpu) as f64;
            let wall_ns = (now_ns() - wall) as f64;
            energy = Some(e);
            if i >= WARMUP {
                static_ns.push(cpu_ns);
                static_wall.push(wall_ns);
            }
        }

        let mut r = Relive::start(
            relive,
            ws,
            &app,
            &["--release", "--no-build"],
            &[("RELIVE_BENCH_FRAMES", (WARMUP + frames).to_string())],
            &format!("nbody{round}"),
        )?;
        r.wait_exit(Duration::from_secs(300))?;
        let markers = r.take_markers_to_end("kernel");
        if markers.len() != WARMUP + frames {
            bail!(
                "the nbody app reported {} frames instead of {}",
                markers.len(),
                WARMUP + frames
            );
        }
        for m in markers.iter().skip(WARMUP) {
            relive_ns.push(m.f64("cpu_ns")?);
            relive_wall.push(m.f64("wall_ns")?);
            let e = m.f64("energy")?;
            if let Some(expected) = energy
                && e.to_bits() != expected.to_bits()
            {
                bail!("the app's kernel computed energy {e}, the static one {expected}");
            }
        }
    }
    let static_ms = Summary::of(&static_ns)
        .context("no static samples")?
        .scaled(1e-6);
    let relive_ms = Summary::of(&relive_ns)
        .context("no relive samples")?
        .scaled(1e-6);
    let ms = |v: &[f64]| Summary::of(v).map(|s| s.scaled(1e-6));
    Ok(NativeResults {
        static_wall_ms: ms(&static_wall).context("no static samples")?,
        relive_wall_ms: ms(&relive_wall).context("no relive samples")?,
        rounds,
        frames,
        steps: kernel::STEPS,
        ratio: static_ms.median / relive_ms.median,
        static_ms,
        relive_ms,
    })
}
