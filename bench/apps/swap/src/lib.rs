//! Bench app for the swap pause: a state of 1 MiB (`Vec<u8>`) that every
//! frame reads in full and changes a little. relive-bench builds it twice,
//! differing only in `VARIANT`, and swaps the two libraries back and forth.
//!
//! In the first frame of each generation it reports the start time of that
//! frame, the minor page faults taken during the frame, on its thread so far
//! and in the whole process since the end of the previous frame (the swap
//! pause), and the pause relive measured; in the tenth frame it reports that
//! frame's page faults, for comparison.

#[path = "../../common/probe.rs"]
mod probe;

use std::time::Duration;

/// The one line that differs between the two builds.
const VARIANT: u32 = 1; // bench: variant

/// Size of the state's buffer.
const STATE_BYTES: usize = 1 << 20;

/// The frame (counted within a generation) whose faults are reported as the steady case.
const STEADY_FRAME: u64 = 10;

#[derive(Default, relive::State)]
pub struct All {
    pub data: Vec<u8>,
    pub generation: u64,
    pub frames_in_generation: u64,
    pub checksum: u64,
    /// Minor faults of the process at the end of the previous frame.
    pub process_faults: u64,
}

impl relive::App for All {
    fn init(&mut self, _ctx: &mut relive::Ctx) {
        self.data = (0..STATE_BYTES).map(|i| i as u8).collect();
    }

    fn frame(&mut self, ctx: &mut relive::Ctx) -> relive::Flow {
        let start = probe::now_ns();
        let process_faults = probe::process_minflt();
        let faults_before = probe::thread_minflt();

        // The frame's work: read the whole state, change one byte of it.
        let sum: u64 = self.data.iter().map(|&b| u64::from(b)).sum();
        let i = (ctx.frame() as usize).wrapping_mul(4093) % self.data.len().max(1);
        if let Some(byte) = self.data.get_mut(i) {
            *byte = byte.wrapping_add(1);
        }
        self.checksum = self.checksum.wrapping_add(sum);

        let thread_faults = probe::thread_minflt();
        let frame_faults = thread_faults - faults_before;
        if ctx.generation() != self.generation {
            self.generation = ctx.generation();
            self.frames_in_generation = 0;
            let pause_ns = ctx.last_swap_pause().map_or(0, |d| d.as_nanos() as u64);
            let pause_faults = process_faults - self.process_faults.min(process_faults);
            probe::report(
                "gen",
                format_args!(
                    "gen={} variant={VARIANT} t_ns={start} frame_faults={frame_faults} \
                     thread_faults={thread_faults} pause_faults={pause_faults} \
                     pause_ns={pause_ns} state_bytes={} pid={}",
                    self.generation,
                    self.data.len(),
                    std::process::id()
                ),
            );
        } else {
            self.frames_in_generation += 1;
            if self.frames_in_generation == STEADY_FRAME {
                probe::report(
                    "steady",
                    format_args!("gen={} frame_faults={frame_faults}", self.generation),
                );
            }
        }
        std::thread::sleep(Duration::from_millis(1));
        self.process_faults = probe::process_minflt();
        relive::Flow::Continue
    }
}

relive::export!(All);
