//! The recording behind loop live editing: the last seconds of what the app
//! got from relive (each frame's number, `dt`, last swap pause and input
//! bytes) and the state saved by name at the periodic checkpoints in that
//! time ("marks", with a hash of their bytes), in a bounded ring; and the
//! replay mode (live, looping, rewinding) with the command that changes it.
//!
//! Recording a frame is a push onto a ring under an uncontended lock: no
//! system call, and one copy of the frame's input bytes (usually none). A
//! mark is written by the forked child that writes the periodic
//! checkpoint: it also copies the saved state into a memory file of its own
//! and reports its hash, so the frame loop pays one `memfd_create` per
//! checkpoint, and reads a mark back only when a replay restores it.
//!
//! Memory bound: frames cover at most the recorded seconds (32 bytes plus
//! the input bytes each), and marks at most that span plus one checkpoint
//! interval (two per second), never more than [`MAX_MARK_BYTES`] together.
//!
//! One recorder per runner, shared by every generation's frame thread, so a
//! swap keeps both the recording and a loop under way.

use std::collections::VecDeque;
use std::fs::File;
use std::hash::Hasher;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How many milliseconds are recorded unless the owner says otherwise.
pub const DEFAULT_MILLIS: u64 = 30_000;
/// The most memory the saved states of the marks may take together.
pub const MAX_MARK_BYTES: usize = 512 << 20;
/// The least recorded time between two kept marks (periodic checkpoints
/// are 500 ms apart), so that the marks' memory files stay about two per
/// recorded second.
const MIN_MARK_SPACING_NS: u64 = 400_000_000;
/// The most marks (and so memory-file descriptors) the default recording
/// keeps: one per `MIN_MARK_SPACING_NS` of its 30 s, and one more.
pub const MAX_MARKS: u64 = DEFAULT_MILLIS * 1_000_000 / MIN_MARK_SPACING_NS + 1;

/// One frame as the app got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Recorded {
    pub frame: u64,
    pub dt_ns: u64,
    pub pause_ns: u64,
    pub input: Box<[u8]>,
}

/// A saved state in a memory file of its own. The marks of the recorded
/// seconds hold one descriptor each: with `MIN_MARK_SPACING_NS` at most
/// [`MAX_MARKS`] at once. The file is closed on the disposal thread (see
/// `disposal`).
#[derive(Debug)]
pub(super) struct MarkState {
    /// `None` only while it is dropped.
    file: Option<File>,
    len: usize,
}

impl Drop for MarkState {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            super::disposal::later(file);
        }
    }
}

impl MarkState {
    /// An empty memory file for a child to write a mark into.
    pub fn file() -> std::io::Result<File> {
        crate::checkpoint::memfd(c"relive-mark")
    }

    /// The `len` bytes a child wrote into `file`.
    pub fn new(file: File, len: usize) -> MarkState {
        MarkState {
            file: Some(file),
            len,
        }
    }

    #[cfg(test)]
    fn from_bytes(bytes: &[u8]) -> MarkState {
        let file = MarkState::file().expect("memfd");
        file.write_all_at(bytes, 0).expect("write mark");
        MarkState::new(file, bytes.len())
    }

    /// The saved state.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        let mut bytes = vec![0; self.len];
        if let Some(file) = &self.file {
            file.read_exact_at(&mut bytes, 0)?;
        }
        Ok(bytes)
    }
}

/// The state at a frame boundary, saved by name.
#[derive(Clone, Debug)]
pub(super) struct Mark {
    /// The frame that runs next from this state.
    pub frame: u64,
    /// The generation whose code saved it.
    pub generation: u64,
    pub hash: u64,
    pub state: Arc<MarkState>,
    /// The ring's recorded time when it was made.
    start_ns: u64,
}

/// A cheap, deterministic hash of saved state bytes.
pub(super) fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

/// The bounded recording.
#[derive(Debug, Default)]
pub(super) struct Ring {
    keep_ns: u64,
    frames: VecDeque<Recorded>,
    marks: VecDeque<Mark>,
    mark_bytes: usize,
    /// The sum of the recorded frames' `dt` (frames dropped at the front
    /// included, those undone or truncated not).
    total_ns: u64,
}

/// The part of the recording a loop or a rewind replays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Window {
    /// The mark the replay starts from (its frame).
    pub from: u64,
    /// The first frame at or after "now − seconds".
    pub target: u64,
    /// The frame that runs next live ("now").
    pub to: u64,
}

impl Ring {
    fn new(keep_ns: u64) -> Ring {
        Ring {
            keep_ns,
            ..Ring::default()
        }
    }

    fn enabled(&self) -> bool {
        self.keep_ns > 0
    }

    /// Records a frame that completed live.
    pub fn push(&mut self, frame: Recorded) {
        // Frames before the first mark cannot be replayed.
        if !self.enabled() || self.marks.is_empty() {
            return;
        }
        self.total_ns += frame.dt_ns;
        self.frames.push_back(frame);
        self.trim();
    }

    /// Records the state at the boundary before `frame` (it may arrive
    /// after frames that followed it were recorded).
    pub fn mark(&mut self, frame: u64, generation: u64, hash: u64, state: MarkState) {
        if !self.enabled() {
            return;
        }
        // A mark must follow the recorded frames without a gap.
        if self.frames.back().is_some_and(|f| f.frame + 1 < frame) {
            self.clear();
        }
        if self.marks.back().is_some_and(|m| m.frame >= frame)
            || self.frames.front().is_some_and(|f| f.frame > frame)
        {
            return;
        }
        let after: u64 = self
            .frames
            .iter()
            .rev()
            .take_while(|f| f.frame >= frame)
            .map(|f| f.dt_ns)
            .sum();
        let start_ns = self.total_ns - after;
        // Marks closer than `MIN_MARK_SPACING_NS` (a swap's checkpoint next
        // to a periodic one, a storm of swaps) would each hold a memory file
        // for the whole recorded time: the newer one replaces the older.
        if self.marks.len() >= 2
            && self
                .marks
                .back()
                .is_some_and(|m| start_ns - m.start_ns < MIN_MARK_SPACING_NS)
            && let Some(replaced) = self.marks.pop_back()
        {
            self.mark_bytes -= replaced.state.len;
        }
        self.mark_bytes += state.len;
        self.marks.push_back(Mark {
            frame,
            generation,
            hash,
            state: Arc::new(state),
            start_ns,
        });
        self.trim();
    }

    fn clear(&mut self) {
        self.frames.clear();
        self.marks.clear();
        self.mark_bytes = 0;
    }

    /// Nanoseconds recorded since the `i`th mark.
    fn span_from(&self, i: usize) -> u64 {
        self.total_ns - self.marks[i].start_ns
    }

    fn pop_frame(&mut self) {
        if let Some(f) = self.frames.pop_back() {
            self.total_ns -= f.dt_ns;
        }
    }

    /// Drops what the recorded seconds (and the memory bound) no longer need.
    fn trim(&mut self) {
        while self.marks.len() >= 2
            && (self.span_from(1) >= self.keep_ns || self.mark_bytes > MAX_MARK_BYTES)
        {
            self.pop_mark();
        }
        let first = self.marks.front().map_or(u64::MAX, |m| m.frame);
        while self.frames.front().is_some_and(|f| f.frame < first) {
            self.frames.pop_front();
        }
    }

    fn pop_mark(&mut self) {
        if let Some(mark) = self.marks.pop_front() {
            self.mark_bytes -= mark.state.len;
        }
    }

    /// The live frame was undone (a rollback): it leaves the recording.
    pub fn undo(&mut self) {
        self.pop_frame();
        while self
            .marks
            .back()
            .is_some_and(|m| self.frames.back().is_none_or(|f| m.frame > f.frame + 1))
        {
            let Some(mark) = self.marks.pop_back() else {
                break;
            };
            self.mark_bytes -= mark.state.len;
        }
    }

    /// Forgets everything from `frame` on: the program goes on live from
    /// the boundary before it.
    pub fn truncate(&mut self, frame: u64) {
        while self.frames.back().is_some_and(|f| f.frame >= frame) {
            self.pop_frame();
        }
        while self.marks.back().is_some_and(|m| m.frame > frame) {
            let Some(mark) = self.marks.pop_back() else {
                break;
            };
            self.mark_bytes -= mark.state.len;
        }
    }

    /// The window that replays the last `seconds`.
    pub fn window(&self, millis: u64) -> Result<Window, String> {
        if !self.enabled() {
            return Err("recording is off (`relive run --record 0`)".into());
        }
        let (Some(first), Some(last)) = (self.marks.front(), self.frames.back()) else {
            return Err("nothing is recorded yet (the first checkpoint comes after 0.5 s of frames; a state that cannot be saved by name is not recorded)".into());
        };
        let want = millis.saturating_mul(1_000_000);
        let mut span = 0;
        let mut target = last.frame + 1;
        for f in self.frames.iter().rev() {
            if span >= want {
                break;
            }
            span += f.dt_ns;
            target = f.frame;
        }
        let from = self
            .marks
            .iter()
            .rev()
            .find(|m| m.frame <= target)
            .unwrap_or(first)
            .frame;
        Ok(Window {
            from,
            target: target.max(from),
            to: last.frame + 1,
        })
    }

    /// The mark made at the boundary before `frame`.
    pub fn mark_at(&self, frame: u64) -> Option<&Mark> {
        let i = self.marks.partition_point(|m| m.frame < frame);
        self.marks.get(i).filter(|m| m.frame == frame)
    }

    /// The recorded frame that runs after `frame`'s boundary, if any
    /// (frame numbers can skip one where a rollback undid a frame).
    pub fn after(&self, frame: u64) -> Option<&Recorded> {
        let i = self.frames.partition_point(|f| f.frame < frame);
        self.frames.get(i)
    }
}

/// What the owner asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayCommand {
    /// Replay the last milliseconds over and over.
    Loop(u64),
    /// Leave the loop: go on live from the replayed frame.
    Live,
    /// Go back this many milliseconds and go on live from there.
    Rewind(u64),
}

/// What the frame threads do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Live,
    Loop {
        millis: u64,
        window: Window,
        pass: u64,
        /// Divergence was reported in this loop already.
        diverged: bool,
    },
    Rewind {
        millis: u64,
        window: Window,
    },
}

#[derive(Debug)]
pub(super) struct Inner {
    pub ring: Ring,
    mode: Mode,
    pub command: Option<ReplayCommand>,
    /// When the last replayed frame started (replay keeps the recorded pace).
    pub replayed_at: Option<std::time::Instant>,
}

impl Inner {
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn mode_mut(&mut self) -> &mut Mode {
        &mut self.mode
    }
}

/// The runner's recording, shared by its frame threads.
#[derive(Debug)]
pub(super) struct Recorder {
    pending: AtomicBool,
    /// The mode is not [`Mode::Live`] (the per-frame check).
    replaying: AtomicBool,
    inner: Mutex<Inner>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            pending: AtomicBool::new(false),
            replaying: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                ring: Ring::new(DEFAULT_MILLIS * 1_000_000),
                mode: Mode::Live,
                command: None,
                replayed_at: None,
            }),
        }
    }

    /// Whether frames are replayed rather than live.
    pub fn replaying(&self) -> bool {
        self.replaying.load(Ordering::Relaxed)
    }

    /// Changes the mode (under the lock `inner` comes from).
    pub fn set_mode(&self, inner: &mut Inner, mode: Mode) {
        self.replaying.store(mode != Mode::Live, Ordering::Release);
        inner.replayed_at = None;
        inner.mode = mode;
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records this many milliseconds from now on (0: nothing).
    pub fn set_millis(&self, millis: u64) {
        let mut inner = self.lock();
        inner.ring = Ring::new(millis.saturating_mul(1_000_000));
    }

    /// Whether a command waits (the per-frame check: one relaxed load).
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// Checks a command against the recording and queues it for the next
    /// frame boundary; says why it cannot be done otherwise.
    pub fn command(&self, command: ReplayCommand) -> Result<(), String> {
        let mut inner = self.lock();
        match command {
            ReplayCommand::Loop(0) | ReplayCommand::Rewind(0) => {
                return Err("the time to go back must be above 0 s".into());
            }
            ReplayCommand::Loop(ms) | ReplayCommand::Rewind(ms) => {
                inner.ring.window(ms)?;
            }
            ReplayCommand::Live if inner.mode == Mode::Live => {
                return Err("the program is not looping: it runs live already".into());
            }
            ReplayCommand::Live => {}
        }
        inner.command = Some(command);
        self.pending.store(true, Ordering::Release);
        Ok(())
    }

    /// The queued command, if any.
    pub fn take_command(&self) -> Option<ReplayCommand> {
        self.pending.store(false, Ordering::Release);
        self.lock().command.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u64) -> Recorded {
        Recorded {
            frame: n,
            dt_ns: 100_000_000, // 0.1 s
            pause_ns: 0,
            input: Box::new([]),
        }
    }

    /// Frames 0..n at 0.1 s each, a mark every 5 frames.
    fn ring(keep_ms: u64, n: u64) -> Ring {
        let mut ring = Ring::new(keep_ms * 1_000_000);
        for i in 0..n {
            if i % 5 == 0 {
                ring.mark(i, 1, 0, MarkState::from_bytes(&[i as u8]));
            }
            ring.push(frame(i));
        }
        ring
    }

    #[test]
    fn the_window_starts_at_the_newest_mark_at_or_before_now_minus_seconds() {
        let ring = ring(30_000, 40);
        let w = ring.window(1000).expect("window");
        assert_eq!(
            w,
            Window {
                from: 30,
                target: 30,
                to: 40
            }
        );
        let w = ring.window(1200).expect("window");
        assert_eq!(
            w,
            Window {
                from: 25,
                target: 28,
                to: 40
            }
        );
        // More than is recorded: from the oldest mark.
        let w = ring.window(100_000).expect("window");
        assert_eq!(
            w,
            Window {
                from: 0,
                target: 0,
                to: 40
            }
        );
    }

    #[test]
    fn the_ring_keeps_only_the_recorded_seconds() {
        let ring = ring(2000, 200);
        assert!(
            ring.frames.len() <= 20 + 5,
            "{} frames kept",
            ring.frames.len()
        );
        assert!(ring.marks.len() <= 5, "{} marks kept", ring.marks.len());
        let first = ring.marks.front().expect("a mark").frame;
        assert_eq!(ring.frames.front().expect("a frame").frame, first);
        assert!(ring.span_from(0) >= 2_000_000_000);
        assert!(ring.span_from(1) < 2_000_000_000);
        assert_eq!(ring.window(2000).expect("window").target, 180);
    }

    #[test]
    fn frames_before_the_first_mark_and_a_disabled_ring_record_nothing() {
        let mut ring = Ring::new(0);
        ring.mark(0, 1, 0, MarkState::from_bytes(&[1]));
        ring.push(frame(0));
        assert!(ring.window(1000).is_err());
        let mut ring = Ring::new(1_000_000_000);
        ring.push(frame(0));
        assert!(ring.frames.is_empty());
        assert!(ring.window(1000).is_err());
    }

    #[test]
    fn truncate_and_undo_forget_the_frames_after_the_point() {
        let mut ring = ring(30_000, 20);
        ring.truncate(12);
        assert_eq!(ring.frames.back().map(|f| f.frame), Some(11));
        assert_eq!(ring.marks.back().map(|m| m.frame), Some(10));
        ring.undo();
        assert_eq!(ring.frames.back().map(|f| f.frame), Some(10));
        ring.undo();
        ring.undo();
        assert_eq!(ring.marks.back().map(|m| m.frame), Some(5));
        // A mark that arrives late, after frames that followed it.
        ring.mark(8, 1, 0, MarkState::from_bytes(&[8]));
        assert_eq!(
            ring.marks.back().map(|m| (m.frame, m.start_ns)),
            Some((8, ring.total_ns - 100_000_000))
        );
        // A mark after a gap starts the recording over.
        ring.mark(40, 1, 0, MarkState::from_bytes(&[0]));
        assert_eq!(ring.marks.len(), 1);
        assert!(ring.frames.is_empty());
    }

    /// What recording costs the frame loop (run with `--release --ignored
    /// --nocapture`): a frame pushed, a mark's file made; and off the frame
    /// loop, a 16 MiB mark read back and hashed.
    #[test]
    #[ignore = "a measurement"]
    fn measure_recording() {
        let mut ring = Ring::new(1_000_000 * 16_000_000);
        ring.mark(0, 1, 0, MarkState::from_bytes(&[0]));
        let n = 1_000_000u64;
        let t = std::time::Instant::now();
        for i in 0..n {
            ring.push(Recorded {
                frame: i,
                dt_ns: 16_000_000,
                pause_ns: 0,
                input: Box::new([]),
            });
        }
        let per_frame = t.elapsed().as_nanos() as f64 / n as f64;
        let state = vec![7u8; 16 << 20];
        let t = std::time::Instant::now();
        let file = MarkState::file().expect("memfd");
        let create_us = t.elapsed().as_micros();
        file.write_all_at(&state, 0).expect("write");
        let mark = MarkState::new(file, state.len());
        let t = std::time::Instant::now();
        let read = mark.read().expect("read");
        let read_us = t.elapsed().as_micros();
        let t = std::time::Instant::now();
        let h = hash(&read);
        let hash_us = t.elapsed().as_micros();
        eprintln!(
            "push {per_frame:.0} ns/frame; a mark's file: {create_us} µs on the frame thread; \
             off it, 16 MiB: read back {read_us} µs (at a pass), hash {hash_us} µs (in the child) ({h:x})"
        );
    }

    #[test]
    fn commands_are_checked_against_the_recording() {
        let recorder = Recorder::new();
        assert!(recorder.command(ReplayCommand::Loop(2000)).is_err());
        assert!(recorder.command(ReplayCommand::Live).is_err());
        recorder.lock().ring = ring(30_000, 40);
        assert!(recorder.command(ReplayCommand::Loop(0)).is_err());
        recorder.command(ReplayCommand::Loop(2000)).expect("loop");
        assert!(recorder.pending());
        assert_eq!(recorder.take_command(), Some(ReplayCommand::Loop(2000)));
        assert!(!recorder.pending());
    }
}
