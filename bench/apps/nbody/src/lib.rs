//! Bench app for native speed: every frame runs the n-body kernel (the same
//! source that relive-bench runs in its own static binary), times it (the
//! frame thread's CPU time, which time spent preempted by other processes
//! does not count, and wall time) and reports the times. It exits after the number of frames given in
//! `RELIVE_BENCH_FRAMES` (default 60).

#[path = "../../common/probe.rs"]
mod probe;

mod kernel;

use std::hint::black_box;

#[derive(Default, relive::State)]
pub struct All {
    pub frames_left: u64,
}

impl relive::App for All {
    fn init(&mut self, _ctx: &mut relive::Ctx) {
        self.frames_left = std::env::var("RELIVE_BENCH_FRAMES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
    }

    fn frame(&mut self, _ctx: &mut relive::Ctx) -> relive::Flow {
        let (wall, cpu) = (probe::now_ns(), probe::thread_cpu_ns());
        let energy = kernel::frame_work(black_box(kernel::STEPS));
        let cpu_ns = probe::thread_cpu_ns() - cpu;
        let wall_ns = probe::now_ns() - wall;
        probe::report(
            "kernel",
            format_args!(
                "cpu_ns={cpu_ns} wall_ns={wall_ns} energy={}",
                black_box(energy)
            ),
        );
        self.frames_left = self.frames_left.saturating_sub(1);
        if self.frames_left == 0 {
            relive::Flow::Exit
        } else {
            relive::Flow::Continue
        }
    }
}

relive::export!(All);
