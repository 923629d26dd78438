//! Frame numbering and frame time, carried from one generation's thread to
//! the next so that neither resets at a reload.

use std::time::Instant;

use relive_abi::FrameInfo;

/// Frames run so far and when the last one started.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Clock {
    frames: u64,
    last_start: Option<Instant>,
    last_pause_ns: u64,
}

impl Clock {
    /// The info for a frame starting now.
    pub fn begin(&mut self, generation: u64) -> FrameInfo {
        let now = Instant::now();
        let dt_ns = self
            .last_start
            .map(|last| now.duration_since(last).as_nanos() as u64)
            .unwrap_or(0);
        self.last_start = Some(now);
        FrameInfo {
            frame: self.frames,
            dt_ns,
            generation,
            last_pause_ns: self.last_pause_ns,
            ..FrameInfo::default()
        }
    }

    /// The info for a call that is not a frame (init, reloaded).
    pub fn peek(&self, generation: u64) -> FrameInfo {
        FrameInfo {
            frame: self.frames,
            dt_ns: 0,
            generation,
            last_pause_ns: self.last_pause_ns,
            ..FrameInfo::default()
        }
    }

    /// Records the pause of the swap that is ending.
    pub fn set_pause(&mut self, pause_ns: u64) {
        self.last_pause_ns = pause_ns;
    }

    /// A frame completed.
    pub fn done(&mut self) {
        self.frames += 1;
    }
}
