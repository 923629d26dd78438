//! The swap pause (item 1), library-ready-to-new-code (item 3) and page
//! faults after a swap (item 6), driven black-box: two release builds of the
//! `swap` app (1 MiB of state) that differ in one constant are renamed into
//! place in turn under `relive run --release --no-build`, each after the
//! previous swap was reported.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::clock::now_ns;
use crate::floors::{self, Floors};
use crate::relive::{Relive, event_name};
use crate::stats::{Summary, summary};
use crate::workspace::Workspace;

/// The stages of the pause that relive reported (`reloaded.stages`) when
/// this was written, in their order; others it reports come after them.
const STAGES: &[&str] = &[
    "boundary_us",
    "stop_workers_us",
    "unloading_us",
    "snapshot_us",
    "save_us",
    "handover_us",
    "adopt_us",
    "reloaded_us",
];
/// The steps of loading (`reloaded.prepare`), in the same way.
const PREPARE: &[&str] = &["read_us", "check_us", "copy_us", "open_us", "layout_us"];

/// Samples of the numeric fields of one object of the `reloaded` events
/// (`stages` or `prepare`), keyed by name, in the order of `known` and then
/// by name.
#[derive(Debug, Default)]
pub struct Breakdown {
    samples: Vec<(String, Vec<f64>)>,
}

impl Breakdown {
    /// Adds the fields of `event[group]`; returns their sum.
    pub fn add(&mut self, event: &Value, group: &str) -> anyhow::Result<f64> {
        let fields = event[group]
            .as_object()
            .with_context(|| format!("`reloaded` event without `{group}`: {event}"))?;
        let mut total = 0.0;
        for (name, value) in fields {
            let Some(x) = value.as_f64() else { continue };
            total += x;
            match self.samples.iter_mut().find(|(n, _)| n == name) {
                Some((_, v)) => v.push(x),
                None => self.samples.push((name.clone(), vec![x])),
            }
        }
        Ok(total)
    }

    /// A summary per field, known names first in their order.
    pub fn summaries(&self, known: &[&str]) -> Vec<(String, Summary)> {
        let rank = |name: &str| known.iter().position(|k| *k == name).unwrap_or(known.len());
        let mut out: Vec<(String, Summary)> = self
            .samples
            .iter()
            .filter_map(|(n, v)| Summary::of(v).map(|s| (n.clone(), s)))
            .collect();
        out.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
        out
    }
}

/// What one run of swaps measured.
#[derive(Clone, Debug)]
pub struct SwapResults {
    /// Swaps measured.
    pub swaps: usize,
    /// Bytes in the state's buffer.
    pub state_bytes: u64,
    /// Size of the library file.
    pub lib_bytes: u64,
    /// `reloaded.pause_us`.
    pub pause_us: Summary,
    /// The pause the app saw (`Ctx::last_swap_pause`), in µs.
    pub app_pause_us: Summary,
    /// Each stage of the pause, µs.
    pub stages: Vec<(String, Summary)>,
    /// Each step of loading, µs (before the pause, while the old code runs).
    pub prepare: Vec<(String, Summary)>,
    /// The sum of the loading steps, µs.
    pub prepare_total_us: Summary,
    /// From the rename of the library into place to the start of the first
    /// frame of the new code, ms.
    pub ready_ms: Summary,
    /// Minor faults during the first frame after a swap.
    pub first_frame_faults: Summary,
    /// Minor faults on the new frame thread up to the end of its first frame
    /// (thread start, adopt, `reloaded`, first frame).
    pub thread_faults: Summary,
    /// Minor faults of the whole process from the end of the last old frame
    /// to the start of the first new one (the pause).
    pub pause_faults: Summary,
    /// Minor faults in the tenth frame of a generation.
    pub steady_faults: Summary,
    /// What the machine can do, measured in the same run.
    pub floors: Floors,
    /// Resident memory of the process that runs the app (relive, or the
    /// runner process it starts) after the first frame and after the last
    /// swap, KiB.
    pub rss_kib: (u64, u64),
    /// Copies of the app's library mapped in that process after the last swap.
    pub mapped_copies: usize,
}

/// `VmRSS` of process `pid`, KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// How many different files named like `stem*` process `pid` has mapped.
fn mapped_files(pid: u32, stem: &str) -> anyhow::Result<usize> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .with_context(|| format!("cannot read /proc/{pid}/maps"))?;
    let mut files: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| {
            Path::new(path)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(stem))
        })
        .collect();
    files.sort_unstable();
    files.dedup();
    Ok(files.len())
}

/// Copies `from` next to `to` under a temporary name, then renames it onto
/// `to`; returns the `CLOCK_MONOTONIC` time just before the rename.
pub fn place(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let name = to
        .file_name()
        .context("the library path has no file name")?
        .to_string_lossy()
        .into_owned();
    let tmp = to.with_file_name(format!(".{name}.bench-tmp"));
    std::fs::copy(from, &tmp)
        .with_context(|| format!("cannot copy {} to {}", from.display(), tmp.display()))?;
    let t = now_ns();
    std::fs::rename(&tmp, to)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), to.display()))?;
    Ok(t)
}

/// Whether this `relive run` has the `--mlock` option.
pub fn has_mlock(relive: &Path) -> bool {
    std::process::Command::new(relive)
        .args(["run", "--help"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("--mlock"))
}

/// Builds the two variants and runs `swaps` swaps (with `relive run
/// --mlock` when `mlock`).
pub fn run(
    ws: &Workspace,
    relive: &Path,
    swaps: usize,
    mlock: bool,
) -> anyhow::Result<SwapResults> {
    let app = ws.app("swap");
    let (artifact, libs) = ws.build_variants("swap", "bench_swap", &[1, 2])?;
    let lib_bytes = std::fs::metadata(&libs[0])?.len();
    let floors = floors::run(&libs[0], &ws.work.join("floors"), swaps.clamp(30, 100))?;
    place(&libs[0], &artifact)?;

    let mut args = vec!["--release", "--no-build"];
    if mlock {
        args.push("--mlock");
    }
    let tag = if mlock { "swap-mlock" } else { "swap" };
    let mut r = Relive::start(relive, ws, &app, &args, &[], tag)?;
    let first = r.wait_first_frame(Duration::from_secs(60))?;
    let state_bytes = first.u64("state_bytes")?;
    // The process the app runs in, as the app itself reports it.
    let pid = u32::try_from(first.u64("pid")?).context("the app's pid")?;
    let rss_start = rss_kib(pid)?;

    let mut pause = Vec::new();
    let mut app_pause = Vec::new();
    let mut stages = Breakdown::default();
    let mut prepare = Breakdown::default();
    let mut prepare_total = Vec::new();
    let mut ready = Vec::new();
    let mut first_faults = Vec::new();
    let mut thread_faults = Vec::new();
    let mut pause_faults = Vec::new();
    let mut steady_faults = Vec::new();
    for i in 0..swaps {
        let generation = i as u64 + 2;
        let variant: u32 = if generation.is_multiple_of(2) { 2 } else { 1 };
        // Let the previous generation run its tenth frame (the steady sample).
        r.wait_marker(Duration::from_secs(30), "a steady frame", |m| {
            m.kind == "steady" && m.u64("gen").ok() == Some(generation - 1)
        })
        .and_then(|m| m.f64("frame_faults"))
        .map(|f| steady_faults.push(f))?;
        let renamed = place(&libs[variant as usize - 1], &artifact)?;
        let event = r.wait_event(Duration::from_secs(30), "`reloaded`", |e| {
            event_name(e) == "reloaded" && e["generation"].as_u64() == Some(generation)
        })?;
        let marker = r.wait_marker(Duration::from_secs(30), "the new generation", |m| {
            m.kind == "gen" && m.u64("gen").ok() == Some(generation)
        })?;
        if marker.u64("variant")? != u64::from(variant) {
            bail!(
                "generation {generation} runs variant {} instead of {variant}",
                marker.u64("variant")?
            );
        }
        pause.push(
            event["pause_us"]
                .as_u64()
                .with_context(|| format!("`reloaded` without pause_us: {event}"))?
                as f64,
        );
        app_pause.push(marker.f64("pause_ns")? / 1e3);
        stages.add(&event, "stages")?;
        prepare_total.push(prepare.add(&event, "prepare")?);
        if let Some(mode) = event["mode"].as_str()
            && mode != "identical"
        {
            bail!("generation {generation} moved its state as `{mode}`, not as identical bytes");
        }
        ready.push(marker.u64("t_ns")?.saturating_sub(renamed) as f64 / 1e6);
        first_faults.push(marker.f64("frame_faults")?);
        thread_faults.push(marker.f64("thread_faults")?);
        pause_faults.push(marker.f64("pause_faults")?);
    }
    // Let the last generation's predecessor be retired and closed.
    r.wait_marker(Duration::from_secs(30), "a steady frame", |m| {
        m.kind == "steady" && m.u64("gen").ok() == Some(swaps as u64 + 1)
    })?;
    let rss_end = rss_kib(pid)?;
    let mapped_copies = mapped_files(pid, "libbench_swap")?;
    r.stop()?;

    Ok(SwapResults {
        swaps,
        state_bytes,
        lib_bytes,
        pause_us: summary(&pause, "pause_us")?,
        app_pause_us: summary(&app_pause, "the app's pause")?,
        stages: stages.summaries(STAGES),
        prepare: prepare.summaries(PREPARE),
        prepare_total_us: summary(&prepare_total, "prepare")?,
        ready_ms: summary(&ready, "library ready to running")?,
        first_frame_faults: summary(&first_faults, "first-frame faults")?,
        thread_faults: summary(&thread_faults, "thread faults")?,
        pause_faults: summary(&pause_faults, "pause faults")?,
        steady_faults: summary(&steady_faults, "steady faults")?,
        floors,
        rss_kib: (rss_start, rss_end),
        mapped_copies,
    })
}
