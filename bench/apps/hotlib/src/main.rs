//! hot-lib-reloader's per-call overhead, next to a direct call and a plain
//! `extern "C"` function pointer from `dlsym` (relive's way), in the same
//! process. Usage: `hotlib-bench FAST_CALLS HOT_CALLS REPS`; prints one
//! `@bench call name=... threads=... ns=...` line per measurement (the median
//! over REPS repetitions, in nanoseconds of the calling thread's CPU time per
//! call, so that other processes on the machine do not count).

use std::error::Error;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Barrier;

/// The folder of this executable, where cargo put the `dylib` too.
fn lib_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

#[hot_lib_reloader::hot_module(dylib = "hot_lib", lib_dir = super::lib_dir())]
mod hot {
    hot_functions_from_file!("lib/src/lib.rs");
}

/// CPU time of the calling thread, in nanoseconds: unlike wall time it does
/// not count the time the thread was preempted by other processes.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// Nanoseconds of this thread's CPU time per call of `f` over `calls` calls.
fn per_call(calls: u64, f: &(impl Fn(u64) -> u64 + Sync)) -> f64 {
    let t = thread_cpu_ns();
    let mut acc = 0u64;
    for i in 0..calls {
        acc = acc.wrapping_add(f(black_box(i)));
    }
    black_box(acc);
    (thread_cpu_ns() - t) as f64 / calls as f64
}

/// Nanoseconds per call, with `threads` threads calling at once (the mean
/// over the threads).
fn per_call_threads(threads: usize, calls: u64, f: &(impl Fn(u64) -> u64 + Sync)) -> f64 {
    if threads == 1 {
        return per_call(calls, f);
    }
    let barrier = Barrier::new(threads);
    let results: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    per_call(calls, f)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    results.iter().sum::<f64>() / results.len().max(1) as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn measure(name: &str, threads: usize, calls: u64, reps: usize, f: &(impl Fn(u64) -> u64 + Sync)) {
    per_call_threads(threads, calls / 10, f); // warm up
    let ns = median(
        (0..reps)
            .map(|_| per_call_threads(threads, calls, f))
            .collect(),
    );
    println!("@bench call name={name} threads={threads} ns={ns:.3}");
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>())
        .collect::<Result<_, _>>()?;
    let fast = args.first().copied().unwrap_or(100_000_000);
    let slow = args.get(1).copied().unwrap_or(2_000_000);
    let reps = args.get(2).copied().unwrap_or(5) as usize;

    let path = lib_dir().join(format!(
        "{}hot_lib{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    // SAFETY: the library is this package's own `hot_lib` member, whose only
    // initialisers are those of Rust's std.
    let lib = unsafe { libloading::Library::new(&path) }
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    // SAFETY: `step_c` is declared in lib/src/c_abi.rs with exactly this signature.
    let step_c: extern "C" fn(u64) -> u64 = *unsafe { lib.get(b"step_c\0") }?;
    let step_c = black_box(step_c);

    for threads in [1, 2] {
        measure("direct", threads, fast, reps, &hot_lib::step);
        measure("extern_c_pointer", threads, fast, reps, &|x| step_c(x));
        measure("hot_lib_reloader", threads, slow, reps, &hot::step);
    }
    Ok(())
}
