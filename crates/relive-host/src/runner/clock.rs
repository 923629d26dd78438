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

    /// The info for a replayed frame: its recorded number, `dt` and pause.
    pub fn replay(&mut self, generation: u64, frame: u64, dt_ns: u64, pause_ns: u64) -> FrameInfo {
        self.frames = frame;
        self.last_start = Some(Instant::now());
        FrameInfo {
            frame,
            dt_ns,
            generation,
            last_pause_ns: pause_ns,
            ..FrameInfo::default()
        }
    }

    /// The state from the boundary before `frame` was restored.
    pub fn rewind_to(&mut self, frame: u64) {
        self.frames = frame;
        self.last_start = Some(Instant::now());
    }

    /// The number of the next frame.
    pub fn next_frame(&self) -> u64 {
        self.frames
    }

    /// A frame completed.
    pub fn done(&mut self) {
        self.frames += 1;
    }
}
