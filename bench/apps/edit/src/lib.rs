//! Bench app for edit-to-running: a small app (built in the debug profile)
//! whose one marked line relive-bench edits. The first frame of each new
//! generation reports its start time on the system-wide monotonic clock and
//! the value of `EDIT`, so the bench can tell that the new code runs.

#[path = "../../common/probe.rs"]
mod probe;

use std::time::Duration;

/// The line relive-bench edits.
const EDIT: u64 = 0; // bench: edit

#[derive(Default, relive::State)]
pub struct All {
    pub generation: u64,
    pub frames: u64,
}

impl relive::App for All {
    fn frame(&mut self, ctx: &mut relive::Ctx) -> relive::Flow {
        let start = probe::now_ns();
        self.frames += 1;
        if ctx.generation() != self.generation {
            self.generation = ctx.generation();
            probe::report(
                "gen",
                format_args!("gen={} edit={EDIT} t_ns={start}", self.generation),
            );
        }
        // A light app: a short frame, mostly asleep.
        std::thread::sleep(Duration::from_millis(1));
        relive::Flow::Continue
    }
}

relive::export!(All);
