//! The frame thread's side of loop live editing (the recording and the
//! modes are in `record.rs`): at each frame boundary it serves a loop, live
//! or rewind command; it gives each frame what it got live when replaying
//! (recorded frame number, `dt`, pause and input, at the recorded pace for a
//! loop, at once for a rewind), and records live frames otherwise.
//!
//! A pass restores the window's mark by name through the running
//! generation (so an edit made during a loop runs from the same start at
//! the next pass), then replays up to the frame that was next live when
//! the loop began. At a mark that the same generation made live, the
//! replayed state is saved by name and its hash compared: a difference is
//! `loop_diverged` (the app reads something relive does not record).

use std::time::{Duration, Instant};

use relive_abi::{Bytes, FrameInfo, Status};

use crate::input::FrameInput;

use super::Msg;
use super::RunEvent;
use super::frames::{EXIT_STOP_WAIT_MS, Thread};
use super::record::{self, Mark, Mode, Recorded, ReplayCommand};

/// The longest a replayed frame waits for its recorded start (a long
/// stall recorded live is not waited out again).
const MAX_PACE_WAIT: Duration = Duration::from_secs(1);

/// What a failed call's message says after its location line.
fn reason(message: &str) -> String {
    message
        .split_once('\n')
        .map_or(message, |(_, m)| m)
        .to_string()
}

impl Thread {
    fn report(&self, event: RunEvent) {
        self.send(Msg::Report(event));
    }

    /// At a frame boundary: serves a waiting loop, live or rewind command.
    pub(super) fn serve_replay(&mut self) {
        if !self.recorder.pending() {
            return;
        }
        let Some(command) = self.recorder.take_command() else {
            return;
        };
        let recorder = self.recorder.clone();
        let mut inner = recorder.lock();
        let millis = match command {
            ReplayCommand::Live => {
                if *inner.mode() != Mode::Live {
                    let frame = self.clock.next_frame();
                    inner.ring.truncate(frame);
                    recorder.set_mode(&mut inner, Mode::Live);
                    drop(inner);
                    self.discard_replayed_checkpoint();
                    self.report(RunEvent::LoopEnded {
                        frame,
                        reason: String::new(),
                    });
                }
                return;
            }
            ReplayCommand::Loop(ms) | ReplayCommand::Rewind(ms) => ms,
        };
        let window = match inner.ring.window(millis) {
            Ok(window) => window,
            Err(reason) => {
                drop(inner);
                self.report(RunEvent::ReplayRefused { reason });
                return;
            }
        };
        let mode = if let ReplayCommand::Loop(_) = command {
            Mode::Loop {
                millis,
                window,
                pass: 0,
                diverged: false,
            }
        } else {
            Mode::Rewind { millis, window }
        };
        recorder.set_mode(&mut inner, mode);
        drop(inner);
        if let ReplayCommand::Loop(_) = command {
            self.report(RunEvent::LoopStarted {
                millis,
                from_frame: window.from,
                to_frame: window.to,
            });
        }
        self.begin_pass();
    }

    /// Restores the window's mark: the start of a loop's pass, or of a
    /// rewind's replay.
    fn begin_pass(&mut self) {
        let number = self.generation.number();
        let recorder = self.recorder.clone();
        let mut inner = recorder.lock();
        let (window, pass) = match inner.mode_mut() {
            Mode::Live => return,
            Mode::Loop { window, pass, .. } => {
                *pass += 1;
                (*window, Some(*pass))
            }
            Mode::Rewind { window, .. } => (*window, None),
        };
        let Some(mark) = inner.ring.mark_at(window.from).cloned() else {
            drop(inner);
            self.go_live("the recording of the window is gone".into());
            return;
        };
        inner.replayed_at = None;
        drop(inner);
        if let Err(reason) = self.restore(&mark) {
            self.go_live(format!(
                "the state recorded at frame {} does not load into generation {number}: {reason}",
                mark.frame
            ));
            return;
        }
        if let Some(pass) = pass {
            self.report(RunEvent::LoopPass {
                pass,
                generation: number,
            });
        }
        if window.target <= window.from {
            self.rewound();
        }
    }

    /// Ends replaying where the program is, for `reason`.
    fn go_live(&mut self, reason: String) {
        let frame = self.clock.next_frame();
        let recorder = self.recorder.clone();
        let mut inner = recorder.lock();
        inner.ring.truncate(frame);
        recorder.set_mode(&mut inner, Mode::Live);
        drop(inner);
        self.report(RunEvent::LoopEnded { frame, reason });
    }

    /// A rewind reached its target: the program goes on live from here.
    fn rewound(&mut self) {
        let frame = self.clock.next_frame();
        let recorder = self.recorder.clone();
        let mut inner = recorder.lock();
        let Mode::Rewind { millis, .. } = *inner.mode() else {
            return;
        };
        inner.ring.truncate(frame);
        recorder.set_mode(&mut inner, Mode::Live);
        drop(inner);
        self.discard_replayed_checkpoint();
        self.report(RunEvent::Rewound {
            millis,
            to_frame: frame,
        });
    }

    /// A checkpoint written while replaying is no mark of the live program.
    fn discard_replayed_checkpoint(&self) {
        if let Some(background) = &self.background {
            let _ = background.take_written();
        }
    }

    /// Makes the mark's state the state, by name, through this generation;
    /// on failure the state from before stays (when a copy could be kept).
    fn restore(&mut self, mark: &Mark) -> Result<(), String> {
        let state = mark
            .state
            .read()
            .map_err(|e| format!("cannot read the recorded state: {e}"))?;
        self.generation.stop_workers(EXIT_STOP_WAIT_MS);
        let kept = self.generation.snapshot() == Status::OK;
        let bytes = Bytes {
            ptr: state.as_ptr(),
            len: state.len(),
        };
        // SAFETY: `state` lives until the end of this function.
        let loaded = self.check(unsafe { self.generation.load_saved(bytes) });
        let result = match loaded {
            Ok(_) => {
                if kept {
                    self.generation.discard_snapshot();
                }
                self.clock.rewind_to(mark.frame);
                Ok(())
            }
            Err(message) if kept => {
                self.generation.restore();
                Err(reason(&message))
            }
            Err(message) => {
                // No state left to run: wait for code that loads it.
                self.halt(message.clone(), false);
                return Err(reason(&message));
            }
        };
        let info = self.clock.peek(self.generation.number());
        if let Err(message) = self.check(self.generation.reloaded(&info)) {
            self.halt(message, false);
        }
        result
    }

    /// The next frame's input and info: what was recorded while replaying,
    /// else what arrived and the clock's.
    pub(super) fn next_frame(&mut self) -> (FrameInput, FrameInfo) {
        let number = self.generation.number();
        if self.recorder.replaying()
            && let Some((recorded, wait)) = self.next_recorded()
        {
            if let Some(wait) = wait {
                std::thread::sleep(wait);
            }
            let input = FrameInput::recorded(&recorded.input);
            let info = self
                .clock
                .replay(number, recorded.frame, recorded.dt_ns, recorded.pause_ns);
            let info = input.attach(info);
            return (input, info);
        }
        let input = FrameInput::take();
        let info = input.attach(self.clock.begin(number));
        (input, info)
    }

    /// The recorded frame to replay next, and how long to wait for its
    /// recorded start (loops only).
    fn next_recorded(&mut self) -> Option<(Recorded, Option<Duration>)> {
        let mut inner = self.recorder.lock();
        let recorded = inner.ring.after(self.clock.next_frame())?.clone();
        let paced = matches!(inner.mode(), Mode::Loop { .. });
        let now = Instant::now();
        let wait = inner
            .replayed_at
            .filter(|_| paced)
            .map(|last| last + Duration::from_nanos(recorded.dt_ns).min(MAX_PACE_WAIT))
            .and_then(|due| due.checked_duration_since(now));
        inner.replayed_at = Some(now + wait.unwrap_or_default());
        Some((recorded, wait))
    }

    /// After a frame that completed: records it when live; when replaying,
    /// checks the state at marks and ends the pass (or the rewind) at the
    /// end of the window.
    pub(super) fn frame_done(&mut self, info: &FrameInfo, input: &FrameInput) {
        if !self.recorder.replaying() {
            let written = self.background.as_ref().and_then(|b| b.take_written());
            let mut inner = self.recorder.lock();
            inner.ring.push(Recorded {
                frame: info.frame,
                dt_ns: info.dt_ns,
                pause_ns: info.last_pause_ns,
                input: input.bytes().into(),
            });
            if let Some(w) = written {
                inner.ring.mark(w.frame, w.generation, w.hash, w.state);
            }
            return;
        }
        self.discard_replayed_checkpoint();
        let next = info.frame + 1;
        let inner = self.recorder.lock();
        let (expected, end) = match *inner.mode() {
            Mode::Loop {
                window, diverged, ..
            } => {
                let expected = inner
                    .ring
                    .mark_at(next)
                    .filter(|m| !diverged && m.generation == self.generation.number())
                    .map(|m| m.hash);
                (expected, next >= window.to)
            }
            Mode::Rewind { window, .. } => (None, next >= window.target),
            Mode::Live => (None, false),
        };
        let looping = matches!(inner.mode(), Mode::Loop { .. });
        drop(inner);
        if let Some(expected) = expected
            && self.replayed_hash().is_some_and(|h| h != expected)
        {
            if let Mode::Loop { diverged, .. } = self.recorder.lock().mode_mut() {
                *diverged = true;
            }
            self.report(RunEvent::LoopDiverged { frame: next });
        }
        if end && looping {
            self.begin_pass();
        } else if end {
            self.rewound();
        }
    }

    /// The hash of the state saved by name now, as a checkpoint saves it
    /// (after `unloading`, as live).
    fn replayed_hash(&self) -> Option<u64> {
        let info = self.clock.peek(self.generation.number());
        if self.generation.unloading(&info) != Status::OK {
            return None;
        }
        let (status, bytes) = self.generation.save(true, None);
        if status != Status::OK || bytes.ptr.is_null() {
            return None;
        }
        // SAFETY: the library returned `len` bytes it owns, valid until the
        // next call into it (after this hash).
        let saved = unsafe { std::slice::from_raw_parts(bytes.ptr, bytes.len) };
        Some(record::hash(saved))
    }

    /// The last frame was undone (a swap's rollback to the boundary before
    /// it): live, its input goes back in front and it leaves the recording;
    /// replayed, it is replayed again.
    pub(super) fn undo_frame(&mut self, input: FrameInput) {
        if self.recorder.replaying() {
            let frame = self.clock.next_frame().saturating_sub(1);
            self.clock.rewind_to(frame);
            return;
        }
        self.recorder.lock().ring.undo();
        input.unread();
    }
}
