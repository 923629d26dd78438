//! The results of a run: a table for the terminal, and the generated part of
//! BENCHMARKS.md (between `<!-- bench:begin -->` and `<!-- bench:end -->`;
//! text outside the markers is kept as it is).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::calls::CallResults;
use crate::edit::EditResults;
use crate::fps::FpsResults;
use crate::hotedit::PeerEdit;
use crate::machine::Machine;
use crate::native::NativeResults;
use crate::shapes::ShapeResults;
use crate::stats::Summary;
use crate::swap::SwapResults;

/// Start of the generated part of BENCHMARKS.md.
pub const BEGIN: &str = "<!-- bench:begin -->";
/// End of the generated part.
pub const END: &str = "<!-- bench:end -->";

/// A section's outcome: its results, an error, or not run.
pub type Outcome<T> = Option<Result<T, String>>;

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Results {
    pub machine: Machine,
    pub quick: bool,
    pub command: String,
    pub seconds: f64,
    pub calls: Outcome<CallResults>,
    pub native: Outcome<NativeResults>,
    pub swap: Outcome<SwapResults>,
    /// Whether relive has `--mlock`.
    pub mlock_supported: bool,
    /// The swaps again under `relive run --mlock`.
    pub swap_mlock: Outcome<SwapResults>,
    /// The pause by state shape and size, checkpoint stalls, crashes.
    pub shapes: Outcome<ShapeResults>,
    pub edit: Outcome<EditResults>,
    /// The same with busy loops competing.
    pub edit_loaded: Outcome<EditResults>,
    pub fps: Outcome<FpsResults>,
}

/// One line of the summary table.
struct Row {
    item: &'static str,
    measure: String,
    median: String,
    p99: String,
    target: String,
    result: String,
}

fn us(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1} µs")
    } else {
        format!("{x:.0} µs")
    }
}

fn ms(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2} ms")
    } else {
        format!("{x:.0} ms")
    }
}

fn ns(x: f64) -> String {
    format!("{x:.2} ns")
}

fn verdict(met: bool) -> String {
    if met { "met" } else { "MISSED" }.to_string()
}

fn failed(item: &'static str, measure: &str, error: &str) -> Row {
    let first = error.lines().next().unwrap_or("");
    Row {
        item,
        measure: measure.to_string(),
        median: "—".into(),
        p99: "—".into(),
        target: "—".into(),
        result: format!("FAILED: {first}"),
    }
}

/// Adds the rows of one section's outcome: `ok`'s for its results, a
/// failed row for its error, none when it did not run.
fn push_rows<T>(
    rows: &mut Vec<Row>,
    outcome: &Outcome<T>,
    item: &'static str,
    measure: &str,
    ok: impl FnOnce(&T) -> Vec<Row>,
) {
    match outcome {
        Some(Ok(x)) => rows.extend(ok(x)),
        Some(Err(e)) => rows.push(failed(item, measure, e)),
        None => {}
    }
}

fn rows(r: &Results) -> Vec<Row> {
    let mut rows = Vec::new();
    push_rows(&mut rows, &r.shapes, "1", "swap pause by shape", |s| {
        let mut rows = Vec::new();
        for c in s.cases.iter().filter(|c| c.bytes == 1 << 20) {
            let plain = !c.shape.contains("String");
            let (target, ok) = if plain {
                (
                    "< 100 µs, p99 < 1 ms",
                    c.app_pause_us.median < 100.0 && c.app_pause_us.p99 < 1000.0,
                )
            } else {
                ("< 1 ms", c.app_pause_us.median < 1000.0)
            };
            rows.push(Row {
                item: "1",
                measure: format!("swap pause (app's clock), 1 MiB `{}`", c.shape),
                median: us(c.app_pause_us.median),
                p99: us(c.app_pause_us.p99),
                target: target.into(),
                result: verdict(ok),
            });
            rows.push(Row {
                item: "1",
                measure: format!(
                    "largest gap between frames per second with checkpoints, 1 MiB `{}`",
                    c.shape
                ),
                median: us(c.gap_us.median),
                p99: us(c.gap_us.max),
                target: "< 1 ms".into(),
                result: verdict(c.gap_us.max < 1000.0),
            });
            rows.push(Row {
                item: "1",
                measure: format!(
                    "largest gap between frames in the second of the last swap, 1 MiB `{}`",
                    c.shape
                ),
                median: us(c.swap_second_gap_us),
                p99: "—".into(),
                target: "—".into(),
                result: "reported".into(),
            });
            if let Some(k) = c.crash {
                rows.push(Row {
                    item: "1",
                    measure: format!("crash to running / state age, 1 MiB `{}`", c.shape),
                    median: ms(k.to_running_ms),
                    p99: ms(k.state_age_ms),
                    target: "< 1 s, age < 1 s".into(),
                    result: verdict(k.to_running_ms < 1000.0 && k.state_age_ms < 1000.0),
                });
            }
        }
        rows
    });
    push_rows(&mut rows, &r.swap, "1", "swap pause", |s| {
        vec![Row {
            item: "1",
            measure: format!(
                "swap pause, {} KiB `Vec<u8>`, relive's pause_us",
                s.state_bytes / 1024
            ),
            median: us(s.pause_us.median),
            p99: us(s.pause_us.p99),
            target: "< 100 µs, p99 < 1 ms".into(),
            result: verdict(s.pause_us.median < 100.0 && s.pause_us.p99 < 1000.0),
        }]
    });
    push_rows(&mut rows, &r.edit, "2", "edit-to-running", |e| {
        let mut rows = edit_rows(e);
        match &e.peer {
            None => {}
            Some(Ok(peers)) => {
                for p in peers {
                    rows.push(Row {
                        item: "2",
                        measure: format!(
                            "  hot-lib-reloader edit-to-running, {}",
                            debounce_label(p)
                        ),
                        median: ms(p.edit_to_running_ms.median),
                        p99: ms(p.edit_to_running_ms.p99),
                        target: format!("relive {}", ms(e.edit_to_running_ms.median)),
                        result: format!(
                            "{:.2}x relive's; minus the build {} vs {}",
                            p.edit_to_running_ms.median / e.edit_to_running_ms.median,
                            ms(p.after_build_ms.median),
                            ms(e.relive_part_ms.median)
                        ),
                    });
                }
            }
            Some(Err(err)) => rows.push(failed("2", "hot-lib-reloader edit-to-running", err)),
        }
        rows
    });
    push_rows(
        &mut rows,
        &r.edit_loaded,
        "2",
        "edit-to-running under load",
        edit_rows,
    );
    push_rows(&mut rows, &r.swap, "3", "library ready to running", |s| {
        vec![Row {
            item: "3",
            measure: "library ready to new code running".into(),
            median: ms(s.ready_ms.median),
            p99: ms(s.ready_ms.p99),
            target: "< 5 ms".into(),
            result: verdict(s.ready_ms.median < 5.0),
        }]
    });
    push_rows(&mut rows, &r.calls, "4", "call overhead", |c| {
        let mut rows = vec![Row {
            item: "4",
            measure: "call via fn pointer minus direct call".into(),
            median: ns(c.pointer.median - c.direct.median),
            p99: "—".into(),
            target: "floor 1.5 ns".into(),
            result: format!("{} vs {}", ns(c.pointer.median), ns(c.direct.median)),
        }];
        match &c.peer {
            Ok(p) => {
                for (threads, label) in [(1, "1 thread"), (2, "2 threads")] {
                    if let (Some(hot), Some(direct)) =
                        (p.get("hot_lib_reloader", threads), p.get("direct", threads))
                    {
                        rows.push(Row {
                            item: "4",
                            measure: format!("hot-lib-reloader call, {label}"),
                            median: ns(hot),
                            p99: "—".into(),
                            target: "—".into(),
                            result: format!("+{} over direct", ns(hot - direct)),
                        });
                    }
                }
            }
            Err(e) => rows.push(failed("4", "hot-lib-reloader", e)),
        }
        rows
    });
    push_rows(&mut rows, &r.native, "5", "native speed", |n| {
        vec![Row {
            item: "5",
            measure: "n-body kernel, relive app vs static".into(),
            median: format!("{} vs {}", ms(n.relive_ms.median), ms(n.static_ms.median)),
            p99: "—".into(),
            target: ">= 0.98x".into(),
            result: format!("{:.3}x, {}", n.ratio, verdict(n.ratio >= 0.98)),
        }]
    });
    push_rows(&mut rows, &r.swap, "6", "page faults", |s| {
        vec![Row {
            item: "6",
            measure: "minor faults, first frame after swap".into(),
            median: format!("{:.0}", s.first_frame_faults.median),
            p99: format!("{:.0}", s.first_frame_faults.p99),
            target: if r.mlock_supported {
                "report"
            } else {
                "report (no --mlock)"
            }
            .into(),
            result: format!(
                "steady frame {:.0}; pause {:.0}",
                s.steady_faults.median, s.pause_faults.median
            ),
        }]
    });
    push_rows(
        &mut rows,
        &r.swap_mlock,
        "6",
        "page faults with --mlock",
        |m| {
            vec![Row {
                item: "6",
                measure: "  the same with --mlock".into(),
                median: format!("{:.0}", m.first_frame_faults.median),
                p99: format!("{:.0}", m.first_frame_faults.p99),
                target: "report".into(),
                result: format!(
                    "pause {:.0} faults, {}",
                    m.pause_faults.median,
                    us(m.pause_us.median)
                ),
            }]
        },
    );
    push_rows(&mut rows, &r.fps, "7", "frame rate during a build", |f| {
        vec![Row {
            item: "7",
            measure: "frame rate during a build vs idle".into(),
            median: format!("{:.0} vs {:.0} fps", f.build_fps, f.idle_fps),
            p99: "—".into(),
            target: ">= 90%".into(),
            result: format!("{:.1}%, {}", f.ratio * 100.0, verdict(f.ratio >= 0.9)),
        }]
    });
    rows
}

/// The summary table as aligned text, for the terminal.
pub fn table(r: &Results) -> String {
    let rows = rows(r);
    let header = ["#", "measure", "median", "p99", "target", "result"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.item.to_string(),
                row.measure.clone(),
                row.median.clone(),
                row.p99.clone(),
                row.target.clone(),
                row.result.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = line(&header.map(String::from));
    out.push('\n');
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

fn summary_row(name: &str, s: &Summary, unit: fn(f64) -> String) -> String {
    format!(
        "| {name} | {} | {} | {} | {} |\n",
        unit(s.median),
        unit(s.p99),
        unit(s.min),
        unit(s.max)
    )
}

const SUMMARY_HEADER: &str = "| | median | p99 | min | max |\n|---|---|---|---|---|\n";

fn section_error(out: &mut String, error: &str) {
    let _ = writeln!(out, "The measurement failed:\n\n```text\n{error}\n```\n");
}

/// One section's part of the markdown: `write`'s for its results, `heading`
/// and the error for a failure, nothing when it did not run.
fn section<T>(out: &mut String, outcome: &Outcome<T>, heading: &str, write: fn(&mut String, &T)) {
    match outcome {
        Some(Ok(x)) => write(out, x),
        Some(Err(e)) => {
            out.push_str(heading);
            section_error(out, e);
        }
        None => {}
    }
}

fn pause_section(out: &mut String, s: &SwapResults) {
    let _ = writeln!(
        out,
        "## 1. Swap pause\n\n\
         From the end of the last frame of the old code to the start of the first frame \
         of the new code (`reloaded.pause_us`), for a state of {} KiB (a `Vec<u8>`) that \
         every frame reads in full. {} swaps of two release builds differing in one \
         constant (library {:.1} MiB), each renamed into place under `relive run --release \
         --no-build` after the previous swap was reported.\n",
        s.state_bytes / 1024,
        s.swaps,
        s.lib_bytes as f64 / (1024.0 * 1024.0)
    );
    out.push_str(SUMMARY_HEADER);
    out.push_str(&summary_row("pause (relive's `pause_us`)", &s.pause_us, us));
    out.push_str(&summary_row(
        "pause as the app saw it (`Ctx::last_swap_pause`)",
        &s.app_pause_us,
        us,
    ));
    for (name, st) in &s.stages {
        out.push_str(&summary_row(&format!("stage `{name}`"), st, us));
    }
    let stage = |name: &str, group: &[(String, Summary)]| {
        group
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| "—".to_string(), |(_, st)| us(st.median))
    };
    let f = &s.floors;
    let _ = writeln!(
        out,
        "\nThe same steps at the floor of this machine, measured by the bench in the same \
         run (medians; p99 in brackets):\n\n\
         | step | relive | floor |\n|---|---|---|\n\
         | `snapshot_us`: deep copy of the 1 MiB state for a rollback | {} | memcpy of 1 MiB into touched memory {} ({}); into freshly mapped pages (256 faults) {} ({}) |\n\
         | `handover_us`: waking the new frame thread | {} | waking a thread parked on a `sync_channel` for 50 ms {} ({}) |\n\
         | `read_us`: reading the library | {} | `std::fs::read` {} ({}) |\n\
         | `copy_us`: the private copy | {} | `std::fs::copy` {} ({}) |\n\
         | `open_us`: `dlopen` and symbol lookup | {} | `dlopen` + `dlclose` {} ({}) |\n\
         | `checkpoint_us`: saving the state for crash recovery | {} | the 1 MiB as raw bytes in the temp folder: one `pwrite` into an existing file {} ({}); a new file, renamed into place {} ({}) |",
        stage("snapshot_us", &s.stages),
        us(f.memcpy_us.median),
        us(f.memcpy_us.p99),
        us(f.fresh_copy_us.median),
        us(f.fresh_copy_us.p99),
        stage("handover_us", &s.stages),
        us(f.wake_us.median),
        us(f.wake_us.p99),
        stage("read_us", &s.prepare),
        us(f.read_us.median),
        us(f.read_us.p99),
        stage("copy_us", &s.prepare),
        us(f.copy_us.median),
        us(f.copy_us.p99),
        stage("open_us", &s.prepare),
        us(f.dlopen_us.median),
        us(f.dlopen_us.p99),
        stage("checkpoint_us", &s.stages),
        us(f.pwrite_us.median),
        us(f.pwrite_us.p99),
        us(f.checkpoint_us.median),
        us(f.checkpoint_us.p99),
    );
    let stage_sum: f64 = s.stages.iter().map(|(_, st)| st.median).sum();
    let _ = writeln!(
        out,
        "\nTarget: median under 100 µs and p99 under 1 ms: **{}** (median {}, p99 {}).",
        verdict(s.pause_us.median < 100.0 && s.pause_us.p99 < 1000.0),
        us(s.pause_us.median),
        us(s.pause_us.p99)
    );
    let (top, top_st) = s
        .stages
        .iter()
        .max_by(|a, b| a.1.median.total_cmp(&b.1.median))
        .map(|(n, st)| (n.as_str(), *st))
        .unwrap_or(("none", Summary::default()));
    let _ = writeln!(
        out,
        "The stage medians add up to {}; the largest is `{top}` ({}); the rest of the \
         pause ({}) is outside the named stages (taking the request at the frame \
         boundary, waking the new frame thread).\n",
        us(stage_sum),
        us(top_st.median),
        us((s.pause_us.median - stage_sum).max(0.0))
    );

    let _ = writeln!(
        out,
        "After the last of the {} swaps the process that runs the app had {} cop{} of the \
         app's library mapped, and its resident memory went from {:.1} MiB after the first \
         frame to {:.1} MiB ({:+.0} KiB per swap).\n",
        s.swaps,
        s.mapped_copies,
        if s.mapped_copies == 1 { "y" } else { "ies" },
        s.rss_kib.0 as f64 / 1024.0,
        s.rss_kib.1 as f64 / 1024.0,
        (s.rss_kib.1 as f64 - s.rss_kib.0 as f64) / s.swaps.max(1) as f64
    );
}

fn ready_section(out: &mut String, s: &SwapResults) {
    let _ = writeln!(
        out,
        "## 3. Library ready to new code running\n\n\
         From the `rename` of a complete library onto the artifact path to the start of \
         the first frame of its code (the app stamps that frame with `CLOCK_MONOTONIC`), \
         same runs as item 1. Loading happens before the pause, while the old code runs \
         (`reloaded.prepare`):\n"
    );
    out.push_str(SUMMARY_HEADER);
    out.push_str(&summary_row("rename to first new frame", &s.ready_ms, ms));
    for (name, st) in &s.prepare {
        out.push_str(&summary_row(&format!("prepare `{name}`"), st, us));
    }
    out.push_str(&summary_row("prepare, all steps", &s.prepare_total_us, us));
    let waiting = s.ready_ms.median - s.prepare_total_us.median / 1e3 - s.pause_us.median / 1e3;
    let _ = writeln!(
        out,
        "\nTarget: median under 5 ms: **{}** (median {}). Of the median, loading takes {} \
         and the pause {}; the remaining {} is relive noticing the file and waiting \
         for it to stay quiet before it starts loading, plus the wait for the next frame \
         boundary (the app's frames last about 1 ms).\n",
        verdict(s.ready_ms.median < 5.0),
        ms(s.ready_ms.median),
        ms(s.prepare_total_us.median / 1e3),
        us(s.pause_us.median),
        ms(waiting.max(0.0))
    );
}

fn faults_section(out: &mut String, s: &SwapResults, mlock: Option<&Outcome<SwapResults>>) {
    let _ = writeln!(
        out,
        "## 6. Page faults after a swap\n\n\
         Minor page faults (`getrusage`, `ru_minflt`) of the new frame thread, and of the \
         whole process during the pause, same runs as item 1 (without `--mlock`).{}\n",
        if mlock.is_some() {
            ""
        } else {
            " This relive has no `--mlock` (or pre-faulting) option, so nothing is done to \
             keep the new library's pages resident before its first frame."
        }
    );
    let count = |x: f64| format!("{x:.0}");
    out.push_str(SUMMARY_HEADER);
    out.push_str(&summary_row(
        "faults during the first frame after a swap",
        &s.first_frame_faults,
        count,
    ));
    out.push_str(&summary_row(
        "faults on the new frame thread up to the end of its first frame",
        &s.thread_faults,
        count,
    ));
    out.push_str(&summary_row(
        "faults of the whole process during the pause",
        &s.pause_faults,
        count,
    ));
    out.push_str(&summary_row(
        "faults during the tenth frame of a generation",
        &s.steady_faults,
        count,
    ));
    out.push('\n');
    match mlock {
        Some(Some(Ok(m))) => {
            let _ = writeln!(
                out,
                "The same under `relive run --release --no-build --mlock` ({} swaps; the runner \
                 locks and pre-faults its memory with `mlockall`):\n",
                m.swaps
            );
            out.push_str(SUMMARY_HEADER);
            out.push_str(&summary_row(
                "faults during the first frame after a swap",
                &m.first_frame_faults,
                count,
            ));
            out.push_str(&summary_row(
                "faults of the whole process during the pause",
                &m.pause_faults,
                count,
            ));
            out.push_str(&summary_row("pause (`pause_us`)", &m.pause_us, us));
            for (name, st) in &m.stages {
                if st.median >= 1.0 {
                    out.push_str(&summary_row(&format!("stage `{name}`"), st, us));
                }
            }
            out.push('\n');
        }
        Some(Some(Err(e))) => {
            out.push_str("Under `relive run --mlock`:\n\n");
            section_error(out, e);
        }
        _ => {}
    }
}

/// The most edit-to-running may take, as a multiple of a bare build.
const EDIT_RATIO_TARGET: f64 = 1.25;

/// The summary's rows of one edit-to-running run.
fn edit_rows(e: &EditResults) -> Vec<Row> {
    let load = match e.busy_loops {
        0 => String::new(),
        n => format!(", {n} busy loops competing"),
    };
    vec![
        Row {
            item: "2",
            measure: format!("edit-to-running (debug){load}"),
            median: ms(e.edit_to_running_ms.median),
            p99: ms(e.edit_to_running_ms.p99),
            target: format!(
                "<= {EDIT_RATIO_TARGET}x bare cargo build ({})",
                ms(e.bare_build_ms.median)
            ),
            result: format!(
                "{:.2}x the bare build, {}",
                e.ratio,
                verdict(e.ratio <= EDIT_RATIO_TARGET)
            ),
        },
        Row {
            item: "2",
            measure: format!("  relive's part (minus its build){load}"),
            median: ms(e.relive_part_ms.median),
            p99: ms(e.relive_part_ms.p99),
            target: "—".into(),
            result: "reported".into(),
        },
    ]
}

fn edit_section(out: &mut String, e: &EditResults) {
    if e.busy_loops > 0 {
        let _ = writeln!(
            out,
            "## 2b. Edit-to-running under load\n\n\
             The same as item 2 while {} busy loops at normal priority (threads of the \
             bench) compete for the CPU from the first bare build to the last, as a second \
             cargo or rust-analyzer would.\n",
            e.busy_loops
        );
    }
    let _ = writeln!(
        out,
        "{}From `std::fs::write` of a one-line edit (a constant) to the first frame of the \
         new code, which prints a `CLOCK_MONOTONIC` stamp on relive's stdout; a small app \
         under `relive run` in the debug profile, {} edits. The bare build is the same \
         cargo command relive runs, timed from the write to cargo's exit, for {} edits of \
         the same line in the same run (half before relive starts, half after it ends).\n",
        if e.busy_loops > 0 {
            ""
        } else {
            "## 2. Edit-to-running\n\n"
        },
        e.edits,
        e.edits
    );
    out.push_str(SUMMARY_HEADER);
    out.push_str(&summary_row("edit to running", &e.edit_to_running_ms, ms));
    out.push_str(&summary_row("bare `cargo build`", &e.bare_build_ms, ms));
    out.push_str(&summary_row(
        "relive's build (`build_finished.ms`, at relive's low CPU priority)",
        &e.relive_build_ms,
        ms,
    ));
    out.push_str(&summary_row(
        "relive's part (edit to running minus its build)",
        &e.relive_part_ms,
        ms,
    ));
    out.push_str(&summary_row(
        "  write to `build_started`",
        &e.to_build_start_ms,
        ms,
    ));
    out.push_str(&summary_row(
        "  `build_finished` to the first new frame",
        &e.after_build_ms,
        ms,
    ));
    out.push_str(&summary_row(
        "  loading (`prepare`, all steps)",
        &e.prepare_us,
        us,
    ));
    out.push_str(&summary_row("  swap pause", &e.pause_us, us));
    let fl = &e.floors;
    let _ = writeln!(
        out,
        "\nThe debug library is {:.1} MiB; the bench reads it in {}, copies it in {} and \
         `dlopen`s + `dlclose`s the copy in {} (medians of {} in the same run).",
        fl.bytes as f64 / (1024.0 * 1024.0),
        us(fl.read_us.median),
        us(fl.copy_us.median),
        us(fl.dlopen_us.median),
        fl.read_us.n
    );
    let _ = writeln!(
        out,
        "\nEdit-to-running is **{:.2}x** a bare cargo build of the same edit (medians {} and \
         {}); relive's own part is {} (median). Builds started per edit: {:.2}.\n",
        e.ratio,
        ms(e.edit_to_running_ms.median),
        ms(e.bare_build_ms.median),
        ms(e.relive_part_ms.median),
        e.builds_per_edit
    );
    match &e.peer {
        None => {}
        Some(Ok(peers)) => peer_edit_section(out, e, peers),
        Some(Err(err)) => {
            out.push_str("hot-lib-reloader's edit-to-running could not be measured:\n\n");
            section_error(out, err);
        }
    }
}

/// "500 ms debounce (its default)" and the like.
fn debounce_label(p: &PeerEdit) -> String {
    format!(
        "{} ms debounce{}",
        p.debounce_ms,
        if p.default_debounce {
            " (its default)"
        } else {
            ""
        }
    )
}

/// hot-lib-reloader's edit-to-running beside relive's.
fn peer_edit_section(out: &mut String, e: &EditResults, peers: &[PeerEdit]) {
    let Some(first) = peers.first() else {
        return;
    };
    let _ = writeln!(
        out,
        "hot-lib-reloader 0.8 side by side, in the same run after the bare builds: its \
         documented setup (bench/apps/hotedit), an executable whose `#[hot_module(dylib = \
         \"hotedit_lib\", lib_dir = ...)]` watches the built library and calls its `frame` \
         every millisecond, the library a Rust `dylib` member ({:.1} MiB) rebuilt by a \
         separate `cargo build -p hotedit_lib`, both in the debug profile as its README runs \
         them. The bench edits the same kind of line and runs that cargo build itself right \
         after the write, as `cargo watch -x 'build -p lib'` would but without cargo watch's \
         own delay (0.5 s by default); the time runs from the write to the first frame of \
         the new code, which the new library stamps with `CLOCK_MONOTONIC`. {} edits per \
         debounce of the library file.\n",
        first.lib_bytes as f64 / (1024.0 * 1024.0),
        first.edits
    );
    let mut header = String::from("| | relive");
    let mut rule = String::from("|---|---");
    for p in peers {
        let _ = write!(header, " | hot-lib-reloader, {}", debounce_label(p));
        rule.push_str("|---");
    }
    let _ = writeln!(out, "{header} |\n{rule}|");
    let line =
        |out: &mut String, name: &str, relive: String, peer: &dyn Fn(&PeerEdit) -> String| {
            let mut row = format!("| {name} | {relive}");
            for p in peers {
                let _ = write!(row, " | {}", peer(p));
            }
            let _ = writeln!(out, "{row} |");
        };
    let e2r = &e.edit_to_running_ms;
    line(out, "edit to running, median", ms(e2r.median), &|p| {
        format!("**{}**", ms(p.edit_to_running_ms.median))
    });
    line(out, "edit to running, p99", ms(e2r.p99), &|p| {
        ms(p.edit_to_running_ms.p99)
    });
    line(
        out,
        "edit to running, min to max",
        format!("{} to {}", ms(e2r.min), ms(e2r.max)),
        &|p| {
            format!(
                "{} to {}",
                ms(p.edit_to_running_ms.min),
                ms(p.edit_to_running_ms.max)
            )
        },
    );
    line(
        out,
        "the build, median (relive's `build_finished.ms`; `cargo build -p hotedit_lib` from \
         the write to cargo's exit)",
        ms(e.relive_build_ms.median),
        &|p| ms(p.build_ms.median),
    );
    line(
        out,
        "the rest (edit to running minus the build), median",
        ms(e.relive_part_ms.median),
        &|p| ms(p.after_build_ms.median),
    );
    line(out, "the rest, p99", ms(e.relive_part_ms.p99), &|p| {
        ms(p.after_build_ms.p99)
    });
    let rests: Vec<String> = peers
        .iter()
        .map(|p| {
            format!(
                "{} with a {}",
                ms(p.after_build_ms.median),
                debounce_label(p)
            )
        })
        .collect();
    let beyond: Vec<String> = peers
        .iter()
        .map(|p| ms(p.after_build_ms.median - p.debounce_ms as f64))
        .collect();
    let ratios: Vec<String> = peers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "**{:.2}x**{} with a {} ms debounce",
                p.edit_to_running_ms.median / e2r.median,
                if i == 0 { " relive's time" } else { "" },
                p.debounce_ms
            )
        })
        .collect();
    let builds: Vec<String> = peers.iter().map(|p| ms(p.build_ms.median)).collect();
    let _ = writeln!(
        out,
        "\nWith the builds taken out, relive's own part is {} (median); hot-lib-reloader's is \
         {}, that is {} beyond the debounce itself. End to end hot-lib-reloader takes {}; the \
         two libraries differ (relive's app is a `cdylib` linking the `relive` crate, \
         hot-lib-reloader's a `dylib` carrying its own copy of std), and so do their builds \
         (medians: relive {}, hot-lib-reloader {}).\n",
        ms(e.relive_part_ms.median),
        rests.join(" and "),
        beyond.join(" and "),
        ratios.join(" and "),
        ms(e.relive_build_ms.median),
        builds.join(" and ")
    );
}

fn calls_section(out: &mut String, c: &CallResults) {
    let _ = writeln!(
        out,
        "## 4. Call overhead\n\n\
         relive calls the app's `frame` through a plain `extern \"C\" fn` pointer looked up \
         once per generation. Nanoseconds of the calling thread's CPU time per call of an \
         `#[inline(never)]` function doing a few integer operations (median over \
         repetitions):\n\n\
         | call | ns per call |\n|---|---|\n\
         | direct | {} |\n\
         | through an `extern \"C\" fn` pointer | {} |\n\
         | difference | {} |\n",
        ns(c.direct.median),
        ns(c.pointer.median),
        ns(c.pointer.median - c.direct.median)
    );
    match &c.peer {
        Ok(p) => {
            let _ = writeln!(
                out,
                "hot-lib-reloader 0.8 (`#[hot_module]` with `hot_functions_from_file!`, as its \
                 README sets it up; bench/apps/hotlib), in its own process, against a direct \
                 call and a `dlsym`ed `extern \"C\"` pointer into the same library:\n\n\
                 | call | 1 thread | 2 threads |\n|---|---|---|"
            );
            for (name, label) in [
                ("direct", "direct (library linked in)"),
                (
                    "extern_c_pointer",
                    "`extern \"C\"` pointer from `dlsym` (relive's way)",
                ),
                ("hot_lib_reloader", "hot-lib-reloader wrapper"),
            ] {
                let cell = |t| p.get(name, t).map(ns).unwrap_or_else(|| "—".into());
                let _ = writeln!(out, "| {label} | {} | {} |", cell(1), cell(2));
            }
            out.push_str(
                "\nEach hot-lib-reloader call takes a read lock on the reloader, clones an \
                 `Arc` and looks the symbol up with `dlsym`; with two threads the lock and \
                 the reference count bounce between the cores.\n\n",
            );
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "hot-lib-reloader could not be measured:\n\n```text\n{e}\n```\n"
            );
        }
    }
}

fn native_section(out: &mut String, n: &NativeResults) {
    let _ = writeln!(
        out,
        "## 5. Native speed\n\n\
         The n-body kernel (five bodies, {} steps per call; bench/apps/nbody/src/kernel.rs) \
         called once per frame in a relive app under `relive run --release --no-build`, and \
         the identical source compiled into this statically linked bench binary; {} \
         alternating rounds of {} timed calls each. Times are the timing thread's CPU time \
         (`CLOCK_THREAD_CPUTIME_ID`), so that time spent preempted by other processes on this \
         shared machine does not count; wall times beside them. The two compute the same \
         energy, bit for bit.\n",
        n.steps, n.rounds, n.frames
    );
    out.push_str(SUMMARY_HEADER);
    out.push_str(&summary_row("relive app, CPU time", &n.relive_ms, ms));
    out.push_str(&summary_row("static binary, CPU time", &n.static_ms, ms));
    out.push_str(&summary_row("relive app, wall time", &n.relive_wall_ms, ms));
    out.push_str(&summary_row(
        "static binary, wall time",
        &n.static_wall_ms,
        ms,
    ));
    let _ = writeln!(
        out,
        "\nSpeed under relive: **{:.3}x** the static binary (target at least 0.98x: **{}**).\n",
        n.ratio,
        verdict(n.ratio >= 0.98)
    );
}

fn fps_section(out: &mut String, f: &FpsResults) {
    let _ = writeln!(
        out,
        "## 7. Frame rate during a background build\n\n\
         An app that does a fixed amount of work per frame (about {:.2} ms) as fast as it can \
         under `relive run --release`; it reports its frames per window of about 100 ms. \
         Windows while relive only watches are compared with windows inside relive's cargo \
         build (which relive runs at a low CPU priority) of a one-line edit, {} rounds ({:.1} s idle and {:.1} s of build \
         windows counted).\n\n\
         | | value |\n|---|---|\n\
         | idle | {:.0} frames/s |\n\
         | during the build | {:.0} frames/s |\n\
         | ratio | **{:.1}%** (per round: median {:.1}%, min {:.1}%) |\n\
         | relive's release build | {} (median) |\n\
         | frame thread on a CPU, idle / during the build | {:.1}% / {:.1}% of the time |\n\
         | CPU time per frame, idle / during the build | {:.3} ms / {:.3} ms |\n\n\
         Target at least 90%: **{}**.\n",
        f.frame_ms,
        f.rounds,
        f.idle_s,
        f.build_s,
        f.idle_fps,
        f.build_fps,
        f.ratio * 100.0,
        f.round_ratios.median * 100.0,
        f.round_ratios.min * 100.0,
        ms(f.build_ms.median),
        f.idle_cpu_share * 100.0,
        f.build_cpu_share * 100.0,
        f.idle_cpu_per_frame_ms,
        f.build_cpu_per_frame_ms,
        verdict(f.ratio >= 0.9)
    );
    if f.ratio < 0.9 {
        let preempted = f.build_cpu_share < f.idle_cpu_share * 0.95;
        let slower = f.build_cpu_per_frame_ms > f.idle_cpu_per_frame_ms * 1.05;
        let cause = match (preempted, slower) {
            (true, true) => {
                "the frame thread was both kept off the CPU more often and slower \
                             per frame on it (caches and memory shared with the compiler)"
            }
            (true, false) => {
                "the frame thread was kept off the CPU: the compiler's threads \
                              still get a share of the app's core"
            }
            (false, true) => {
                "each frame took more CPU time: the compiler competes for caches \
                              and memory bandwidth"
            }
            (false, false) => {
                "neither the CPU share nor the CPU time per frame explains it \
                               alone"
            }
        };
        let _ = writeln!(out, "Where the frames went: {cause}.\n");
    }
    if f.idle_cpu_share < 0.95 {
        let _ = writeln!(
            out,
            "Caution: even while relive was idle the frame thread was on a CPU only {:.1}% of \
             the time, so other processes on the machine took CPU time from the app during \
             this run; the ratio mixes their load with the build's.\n",
            f.idle_cpu_share * 100.0
        );
    }
}

/// The generated part of BENCHMARKS.md (without the markers).
pub fn markdown(r: &Results) -> String {
    let m = &r.machine;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Generated by `{}` on {} ({} mode, {:.0} s), relive at commit {}. Machine: {} cores \
         (`nproc`), {}, {} of memory, {}, {}. Load average (1/5/15 min) at the start {} and \
         at the end {}: the machine is shared, so figures that depend on CPU time of other \
         processes move between runs.\n",
        r.command,
        m.date,
        if r.quick { "quick" } else { "full" },
        r.seconds,
        m.commit,
        m.cores,
        m.cpu,
        m.memory,
        m.kernel,
        m.rustc,
        m.load_start,
        m.load_end
    );
    out.push_str("## Summary\n\n| # | measure | median | p99 | target | result |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for row in rows(r) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.item,
            row.measure.trim(),
            row.median,
            row.p99,
            row.target,
            row.result
        );
    }
    out.push('\n');
    if let Some(Ok(s)) = &r.shapes {
        out.push_str(&crate::shapes::markdown(s));
        out.push('\n');
    }
    section(
        &mut out,
        &r.swap,
        "## 1. Swap pause (with 3 and 6)\n\n",
        pause_section,
    );
    section(&mut out, &r.edit, "## 2. Edit-to-running\n\n", edit_section);
    section(
        &mut out,
        &r.edit_loaded,
        "## 2b. Edit-to-running under load\n\n",
        edit_section,
    );
    if let Some(Ok(s)) = &r.swap {
        ready_section(&mut out, s);
    }
    section(&mut out, &r.calls, "## 4. Call overhead\n\n", calls_section);
    section(
        &mut out,
        &r.native,
        "## 5. Native speed\n\n",
        native_section,
    );
    if let Some(Ok(s)) = &r.swap {
        faults_section(&mut out, s, r.mlock_supported.then_some(&r.swap_mlock));
    }
    section(
        &mut out,
        &r.fps,
        "## 7. Frame rate during a background build\n\n",
        fps_section,
    );
    out
}

/// Puts `generated` between the markers of the file at `path`: replaces
/// what is between them, or creates the file with a title and the markers.
pub fn write(path: &Path, generated: &str) -> anyhow::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let text = splice(old.as_deref(), generated);
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The new text of BENCHMARKS.md.
fn splice(old: Option<&str>, generated: &str) -> String {
    let block = format!("{BEGIN}\n{}\n{END}", generated.trim_end());
    if let Some(old) = old
        && let (Some(b), Some(e)) = (old.find(BEGIN), old.find(END))
        && b < e
    {
        return format!("{}{block}{}", &old[..b], &old[e + END.len()..]);
    }
    let mut text = String::from(
        "# relive benchmarks\n\nThe part between the `bench:begin` and `bench:end` markers \
         is written by `cargo run --release -p relive-bench`; text outside them is kept.\n\n",
    );
    text.push_str(&block);
    text.push('\n');
    if let Some(old) = old {
        text.push('\n');
        text.push_str(old);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_generated_part() {
        let old = format!("# T\n\nintro\n\n{BEGIN}\nold figures\n{END}\n\n## Notes\nkept\n");
        let new = splice(Some(&old), "new figures\n");
        assert_eq!(
            new,
            format!("# T\n\nintro\n\n{BEGIN}\nnew figures\n{END}\n\n## Notes\nkept\n")
        );
        let fresh = splice(None, "figures");
        assert!(fresh.starts_with("# relive benchmarks"));
        assert!(fresh.contains(&format!("{BEGIN}\nfigures\n{END}\n")));
    }

    fn edit_results(peer: Result<Vec<PeerEdit>, String>) -> EditResults {
        let s = |x: f64| Summary::of(&[x]).expect("one sample");
        EditResults {
            edits: 1,
            bare_build_ms: s(180.0),
            edit_to_running_ms: s(200.0),
            relive_build_ms: s(185.0),
            relive_part_ms: s(15.0),
            to_build_start_ms: s(3.0),
            after_build_ms: s(12.0),
            prepare_us: s(6000.0),
            pause_us: s(50.0),
            ratio: 200.0 / 180.0,
            builds_per_edit: 1.0,
            floors: crate::floors::FileFloors {
                bytes: 1 << 20,
                read_us: s(1.0),
                copy_us: s(1.0),
                dlopen_us: s(1.0),
            },
            busy_loops: 0,
            peer: Some(peer),
        }
    }

    #[test]
    fn hot_lib_reloader_beside_relive() {
        let s = |x: f64| Summary::of(&[x]).expect("one sample");
        let peer = |debounce_ms: u64, e2r: f64| PeerEdit {
            debounce_ms,
            default_debounce: debounce_ms == 500,
            edits: 1,
            edit_to_running_ms: s(e2r),
            build_ms: s(170.0),
            after_build_ms: s(e2r - 170.0),
            lib_bytes: 5 << 20,
        };
        let r = Results {
            edit: Some(Ok(edit_results(Ok(vec![
                peer(500, 690.0),
                peer(50, 240.0),
            ])))),
            ..Results::default()
        };
        let md = markdown(&r);
        assert!(md.contains(
            "| 2 | hot-lib-reloader edit-to-running, 500 ms debounce (its default) | 690 ms | 690 ms \
             | relive 200 ms | 3.45x relive's; minus the build 520 ms vs 15 ms |"
        ));
        assert!(md.contains(
            "| | relive | hot-lib-reloader, 500 ms debounce (its default) | \
             hot-lib-reloader, 50 ms debounce |\n|---|---|---|---|\n"
        ));
        assert!(md.contains("| edit to running, median | 200 ms | **690 ms** | **240 ms** |"));
        assert!(md.contains("that is 20 ms and 20 ms beyond the debounce itself"));

        let r = Results {
            edit: Some(Ok(edit_results(Err("no cargo".into())))),
            ..Results::default()
        };
        let md = markdown(&r);
        assert!(md.contains("FAILED: no cargo"));
        assert!(md.contains("could not be measured"));
    }

    #[test]
    fn table_of_nothing_has_a_header() {
        let text = table(&Results::default());
        assert!(text.starts_with("#  measure"));
        assert_eq!(text.lines().count(), 2);
    }
}
