//! Bench app for the frame rate during a background build: every frame does
//! the same fixed amount of work and the app runs as fast as it can. It
//! reports the frames completed in each window of about 100 ms, with the
//! window's start and end on the system-wide monotonic clock and the CPU
//! time its frame thread got in it, and the first frame of each new
//! generation (with the value of the edited line).

#[path = "../../common/probe.rs"]
mod probe;

/// The line relive-bench edits to start a build.
const EDIT: u64 = 0; // bench: edit

/// Iterations of the fixed workload per frame.
const WORK: u64 = 600_000;

/// Length of a reporting window.
const WINDOW_NS: u64 = 100_000_000;

#[derive(Default, relive::State)]
pub struct All {
    pub generation: u64,
    pub window_start: u64,
    pub window_frames: u64,
    pub window_cpu: u64,
    pub acc: u64,
}

/// The fixed workload: a chain of dependent integer operations.
#[inline(never)]
fn work(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..WORK {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

impl relive::App for All {
    fn frame(&mut self, ctx: &mut relive::Ctx) -> relive::Flow {
        let start = probe::now_ns();
        if ctx.generation() != self.generation {
            self.generation = ctx.generation();
            probe::report(
                "gen",
                format_args!("gen={} edit={EDIT} t_ns={start}", self.generation),
            );
            // A new frame thread (its CPU clock starts again): a new window.
            self.window_start = start;
            self.window_frames = 0;
            self.window_cpu = probe::thread_cpu_ns();
        }
        self.acc = self.acc.wrapping_add(work(std::hint::black_box(self.acc)));
        self.window_frames += 1;
        let end = probe::now_ns();
        if end - self.window_start >= WINDOW_NS {
            let cpu = probe::thread_cpu_ns();
            let cpu_ns = cpu.saturating_sub(self.window_cpu);
            probe::report(
                "fps",
                format_args!(
                    "t0={} t1={end} frames={} cpu_ns={cpu_ns} gen={}",
                    self.window_start, self.window_frames, self.generation
                ),
            );
            self.window_start = end;
            self.window_frames = 0;
            self.window_cpu = cpu;
        }
        relive::Flow::Continue
    }
}

relive::export!(All);
