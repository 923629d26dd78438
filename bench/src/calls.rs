//! Call overhead (item 4): a direct call against a call through a function
//! pointer, in this process, and hot-lib-reloader's wrapper against a direct
//! call and a `dlsym`ed `extern "C"` pointer in the `hotlib` app (built with
//! hot-lib-reloader as its README sets it up). Every figure is nanoseconds of
//! the calling thread's CPU time per call, the median over repetitions.

use std::hint::black_box;
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::clock::thread_cpu_ns;
use crate::relive::Marker;
use crate::stats::Summary;
use crate::workspace::{Workspace, run_cargo};

/// The callee: a few integer operations, never inlined.
#[inline(never)]
fn callee(x: u64) -> u64 {
    x.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        >> 1
}

/// The same with the C ABI, as relive's entry points are.
#[inline(never)]
extern "C" fn callee_c(x: u64) -> u64 {
    x.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        >> 1
}

/// Nanoseconds of CPU time per call of `f`.
fn per_call(calls: u64, f: impl Fn(u64) -> u64) -> f64 {
    let t = thread_cpu_ns();
    let mut acc = 0u64;
    for i in 0..calls {
        acc = acc.wrapping_add(f(black_box(i)));
    }
    black_box(acc);
    (thread_cpu_ns() - t) as f64 / calls as f64
}

/// hot-lib-reloader's figures, ns per call.
#[derive(Clone, Debug, Default)]
pub struct PeerResults {
    /// (name, threads, ns): `direct`, `extern_c_pointer`, `hot_lib_reloader`.
    pub rows: Vec<(String, u64, f64)>,
}

impl PeerResults {
    /// The figure for `name` with `threads` threads.
    pub fn get(&self, name: &str, threads: u64) -> Option<f64> {
        self.rows
            .iter()
            .find(|(n, t, _)| n == name && *t == threads)
            .map(|r| r.2)
    }
}

/// What was measured.
#[derive(Clone, Debug)]
pub struct CallResults {
    /// Direct call, ns.
    pub direct: Summary,
    /// Through an `extern "C" fn` pointer, ns.
    pub pointer: Summary,
    /// hot-lib-reloader, or why it could not be measured.
    pub peer: Result<PeerResults, String>,
}

/// Measures `calls` calls per repetition, `reps` repetitions.
pub fn run(ws: &Workspace, calls: u64, reps: usize) -> anyhow::Result<CallResults> {
    per_call(calls / 10, callee);
    let pointer: extern "C" fn(u64) -> u64 = black_box(callee_c);
    per_call(calls / 10, |x| pointer(x));
    let mut direct = Vec::new();
    let mut through = Vec::new();
    for _ in 0..reps {
        direct.push(per_call(calls, callee));
        through.push(per_call(calls, |x| pointer(x)));
    }
    Ok(CallResults {
        direct: Summary::of(&direct).context("no samples")?,
        pointer: Summary::of(&through).context("no samples")?,
        peer: peer(ws, calls, reps).map_err(|e| format!("{e:#}")),
    })
}

/// Builds and runs the hot-lib-reloader app.
fn peer(ws: &Workspace, calls: u64, reps: usize) -> anyhow::Result<PeerResults> {
    let app = ws.app("hotlib");
    let mut cmd = ws.cargo_for(&app);
    cmd.arg("--release").arg("--workspace");
    run_cargo(cmd, "build the hot-lib-reloader app (bench/apps/hotlib)")?;
    let exe = ws.bench_target.join("release").join("hotlib-bench");
    let out = Command::new(&exe)
        .arg(calls.to_string())
        .arg((calls / 50).max(1).to_string())
        .arg(reps.to_string())
        .current_dir(&app)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "{} failed ({}): {}",
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(m) = Marker::parse(line)
            && m.kind == "call"
        {
            rows.push((m.text("name")?.to_string(), m.u64("threads")?, m.f64("ns")?));
        }
    }
    Ok(PeerResults { rows })
}
