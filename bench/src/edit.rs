//! Edit-to-running (item 2): from `std::fs::write` of a one-line edit to the
//! first frame of the new code under `relive run` (debug profile), next to a
//! bare `cargo build` of the same kind of edit measured in the same run
//! (half of the bare builds before relive runs, half after), and
//! hot-lib-reloader's edit-to-running in its documented setup after them
//! ([`crate::hotedit`]).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::clock::now_ns;
use crate::floors::{self, FileFloors};
use crate::hotedit::{self, PeerEdit};
use crate::relive::{Relive, event_name};
use crate::stats::{Summary, summary};
use crate::workspace::{Profile, Workspace, edit_line, run_cargo};

/// The marked line of the edit app.
pub const TAG: &str = "// bench: edit";
/// Quiet time between edits, so that each edit is its own build.
pub const SETTLE: Duration = Duration::from_millis(300);

/// What the edit rounds measured.
#[derive(Clone, Debug)]
pub struct EditResults {
    /// Edits per side.
    pub edits: usize,
    /// Bare `cargo build` from the write to cargo's exit, ms (half of them
    /// before relive runs, half after).
    pub bare_build_ms: Summary,
    /// From the write to the first frame of the new code, ms.
    pub edit_to_running_ms: Summary,
    /// relive's own cargo build (`build_finished.ms`).
    pub relive_build_ms: Summary,
    /// Edit-to-running minus relive's build time, ms.
    pub relive_part_ms: Summary,
    /// From the write to `build_started`, ms (clocks matched through the
    /// `reloaded` event; about ±1 ms).
    pub to_build_start_ms: Summary,
    /// From `build_finished` to the first new frame, ms (same matching).
    pub after_build_ms: Summary,
    /// Loading steps, µs (sum of `reloaded.prepare`).
    pub prepare_us: Summary,
    /// The swap pause, µs.
    pub pause_us: Summary,
    /// Median edit-to-running over median bare build.
    pub ratio: f64,
    /// Builds that relive started, over the edits (1.0 when every edit
    /// started exactly one build).
    pub builds_per_edit: f64,
    /// Reading, copying and opening the debug library, measured by the bench.
    pub floors: FileFloors,
    /// Busy loops competing with the builds (0: an idle machine).
    pub busy_loops: usize,
    /// hot-lib-reloader's edit-to-running per debounce, or why it could not
    /// be measured (`None`: not measured, under load).
    pub peer: Option<Result<Vec<PeerEdit>, String>>,
}

/// The same cargo command relive runs for a build of the app.
fn bare_build(ws: &Workspace, app: &Path) -> anyhow::Result<()> {
    let mut cmd = ws.cargo_for(app);
    cmd.arg("-p")
        .arg("bench-edit")
        .arg("--lib")
        .arg("--message-format=json-diagnostic-rendered-ansi")
        .arg("--color=always");
    run_cargo(cmd, "build the edit app")
}

/// The last event named `name` at or before `t_ms` (the reload's).
pub fn last_before<'a>(events: &'a [Value], name: &str, t_ms: u64) -> anyhow::Result<&'a Value> {
    events
        .iter()
        .rfind(|e| event_name(e) == name && e["t_ms"].as_u64().is_some_and(|t| t <= t_ms))
        .with_context(|| format!("no {name} before the reload"))
}

/// Writes edit number `edit` into the marked line of the app source `src`;
/// returns the `CLOCK_MONOTONIC` time of the write.
pub fn write_edit(src: &Path, edit: u64) -> anyhow::Result<u64> {
    edit_line(src, TAG, &format!("const EDIT: u64 = {edit};"))
}

/// One edit under `relive run`, from the write to relive's `reloaded` event.
#[derive(Debug)]
pub struct Reload {
    /// The write, `CLOCK_MONOTONIC` ns.
    pub saved: u64,
    /// The start of the first frame of the new code, `CLOCK_MONOTONIC` ns.
    pub first_frame: u64,
    /// relive's `reloaded` event of the new generation.
    pub reloaded: Value,
    /// Its `t_ms` (ms since relive started).
    pub reloaded_ms: u64,
}

/// Writes edit number `edit` into `src` and waits (up to `timeout`) for the
/// first frame of the edited code, then for its `reloaded` event.
pub fn edit_and_reload(
    r: &mut Relive,
    src: &Path,
    edit: u64,
    timeout: Duration,
) -> anyhow::Result<Reload> {
    let saved = write_edit(src, edit)?;
    let marker = r.wait_marker(timeout, "the edited code", |m| {
        m.kind == "gen" && m.u64("edit").ok() == Some(edit)
    })?;
    let generation = marker.u64("gen")?;
    let first_frame = marker.u64("t_ns")?;
    let reloaded = r.wait_event(Duration::from_secs(60), "`reloaded`", |e| {
        event_name(e) == "reloaded" && e["generation"].as_u64() == Some(generation)
    })?;
    let reloaded_ms = reloaded["t_ms"].as_u64().context("event without t_ms")?;
    Ok(Reload {
        saved,
        first_frame,
        reloaded,
        reloaded_ms,
    })
}

/// Runs half of the `edits` bare builds, `edits` edits under relive, then the
/// other half of the bare builds, with `busy_loops` busy loops competing for
/// the CPU all along; hot-lib-reloader's side only on an idle machine.
pub fn run(
    ws: &Workspace,
    relive: &Path,
    edits: usize,
    busy_loops: usize,
) -> anyhow::Result<EditResults> {
    let app = ws.app("edit");
    let src = app.join("src").join("lib.rs");
    let mut counter = 0u64;
    ws.build_app(&app, Profile::Debug)?;
    let busy = (busy_loops > 0).then(|| crate::load::Busy::start(busy_loops));

    // Bare builds: half before relive runs, half after, so that a drift in
    // the machine's load during the run touches both sides alike.
    let mut bare = Vec::new();
    let mut bare_builds = |count: usize, counter: &mut u64| -> anyhow::Result<()> {
        for _ in 0..count {
            *counter += 1;
            let saved = write_edit(&src, *counter)?;
            bare_build(ws, &app)?;
            bare.push((now_ns() - saved) as f64 / 1e6);
        }
        Ok(())
    };
    bare_builds(edits / 2, &mut counter)?;

    let mut r = Relive::start(relive, ws, &app, &[], &[], "edit")?;
    r.wait_first_frame(Duration::from_secs(240))?;
    let mut e2r = Vec::new();
    let mut build = Vec::new();
    let mut part = Vec::new();
    let mut to_start = Vec::new();
    let mut after = Vec::new();
    let mut prepare = Vec::new();
    let mut pause = Vec::new();
    for _ in 0..edits {
        std::thread::sleep(SETTLE);
        counter += 1;
        let Reload {
            saved,
            first_frame,
            reloaded,
            reloaded_ms,
        } = edit_and_reload(&mut r, &src, counter, Duration::from_secs(240))?;
        let events = r.events()?;
        let finished = last_before(events, "build_finished", reloaded_ms)?;
        let started = last_before(events, "build_started", reloaded_ms)?;
        let build_ms = finished["ms"]
            .as_u64()
            .context("build_finished without ms")? as f64;
        let ms = (first_frame - saved) as f64 / 1e6;
        // relive's clock (ms since its start) in CLOCK_MONOTONIC terms, from
        // the first new frame and its `reloaded` event.
        let offset_ns = first_frame as f64 - reloaded_ms as f64 * 1e6;
        let at = |e: &Value| offset_ns + e["t_ms"].as_u64().unwrap_or(0) as f64 * 1e6;
        to_start.push((at(started) - saved as f64) / 1e6);
        after.push((first_frame as f64 - at(finished)) / 1e6);
        e2r.push(ms);
        build.push(build_ms);
        part.push(ms - build_ms);
        let total: f64 = reloaded["prepare"]
            .as_object()
            .map(|o| o.values().filter_map(Value::as_f64).sum())
            .unwrap_or(0.0);
        prepare.push(total);
        pause.push(reloaded["pause_us"].as_u64().unwrap_or(0) as f64);
    }
    let events = r.stop()?;
    bare_builds(edits - edits / 2, &mut counter)?;
    let builds = events
        .iter()
        .filter(|e| event_name(e) == "build_started")
        .count()
        .saturating_sub(1); // the first build at start

    drop(busy);
    let peer = (busy_loops == 0).then(|| hotedit::run(ws, edits).map_err(|e| format!("{e:#}")));

    let floors = floors::files(
        &ws.artifact("bench_edit", Profile::Debug),
        &ws.work.join("floors"),
        10,
    )?;
    let bare_build_ms = summary(&bare, "bare builds")?;
    let edit_to_running_ms = summary(&e2r, "edit-to-running")?;
    Ok(EditResults {
        edits,
        ratio: edit_to_running_ms.median / bare_build_ms.median,
        bare_build_ms,
        edit_to_running_ms,
        relive_build_ms: summary(&build, "relive builds")?,
        relive_part_ms: summary(&part, "relive's part")?,
        to_build_start_ms: summary(&to_start, "write to build start")?,
        after_build_ms: summary(&after, "build end to running")?,
        prepare_us: summary(&prepare, "prepare")?,
        pause_us: summary(&pause, "pause")?,
        builds_per_edit: builds as f64 / edits.max(1) as f64,
        floors,
        busy_loops,
        peer,
    })
}
