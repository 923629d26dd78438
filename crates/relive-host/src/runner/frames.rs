//! The frame thread of one generation: it starts the generation (fresh, or
//! by adopting the previous generation's state), runs frames, and at a frame
//! boundary hands the state to the next generation's thread.
//!
//! All calls into a generation's library happen on its own frame thread,
//! which ends when the generation is replaced, so thread-local destructors
//! that the library registered run then and do not keep it mapped.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use relive_abi::{Adopt, Bytes, Status};

use crate::generation::Generation;
use crate::input::FrameInput;
use crate::plan::{Mode, Plan};

use super::clock::Clock;
use super::control::{Control, Handover, Request, Verdict};
use super::{CheckpointSink, Msg, Stages};
use crate::checkpoint::Filled;

/// How long the first attempt to stop workers may block the frame loop.
const STOP_WAIT: Duration = Duration::from_millis(50);
/// After this long without all workers stopped, the swap is reported as
/// postponed.
const STOP_REPORT_AFTER: Duration = Duration::from_secs(1);
/// How long workers get to stop when the program ends.
const EXIT_STOP_WAIT_MS: u64 = 2000;

/// How a frame thread begins.
pub(super) enum Start {
    /// `Default` + `init`.
    Fresh,
    /// Load the state from a checkpoint, then `reloaded`.
    Resume(Vec<u8>),
    /// Take the state over from the previous generation's thread.
    Adopt {
        handover: Receiver<Handover>,
        plan: Arc<Plan>,
    },
}

fn micros(d: Duration) -> u64 {
    d.as_micros() as u64
}

struct Thread {
    generation: Generation,
    control: Arc<Control>,
    report: Sender<Msg>,
    clock: Clock,
    last_frame_end: Instant,
    halted: bool,
    /// Since when workers are being asked to stop for a pending swap.
    stopping_since: Option<Instant>,
    postponed_reported: bool,
    checkpoint: Option<CheckpointSink>,
    checkpoint_reported: bool,
}

/// The body of a frame thread: the only thread that calls `generation`,
/// which it hands back when it ends.
pub(super) fn run(
    generation: Generation,
    control: Arc<Control>,
    start: Start,
    report: Sender<Msg>,
    checkpoint: Option<CheckpointSink>,
) -> Generation {
    let mut thread = Thread {
        generation,
        control,
        report,
        clock: Clock::default(),
        last_frame_end: Instant::now(),
        halted: false,
        stopping_since: None,
        postponed_reported: false,
        checkpoint,
        checkpoint_reported: false,
    };
    begin(&mut thread, start);
    thread.generation
}

/// Starts the generation as `start` says, then runs its frames.
fn begin(thread: &mut Thread, start: Start) {
    let number = thread.generation.number();
    let fresh = match start {
        Start::Fresh => {
            thread.fresh_start(String::new());
            true
        }
        Start::Resume(saved) => {
            let bytes = Bytes {
                ptr: saved.as_ptr(),
                len: saved.len(),
            };
            // SAFETY: `saved` lives until the end of this call.
            let status = unsafe { thread.generation.load_saved(bytes) };
            match thread.check(status) {
                Ok(_) => {
                    let info = thread.clock.peek(number);
                    match thread.check(thread.generation.reloaded(&info)) {
                        Ok(_) => thread.send(Msg::Started {
                            generation: number,
                            resumed: true,
                            note: String::new(),
                        }),
                        Err(message) => thread.halt(message, false),
                    }
                    false
                }
                Err(message) => {
                    let note = message
                        .split_once('\n')
                        .map_or(message.clone(), |(_, m)| m.to_string());
                    thread.fresh_start(format!(
                        "the checkpoint did not load ({note}); started fresh"
                    ));
                    true
                }
            }
        }
        Start::Adopt { handover, plan } => {
            if !thread.trial(handover, &plan) {
                return;
            }
            false
        }
    };
    thread.frames(fresh);
}

impl Thread {
    fn send(&self, msg: Msg) {
        // The orchestrator outlives every frame thread; a closed channel only
        // happens while the whole runner is being torn down.
        let _ = self.report.send(msg);
    }

    /// Ok for success and exit, Err(message) for a panic or misuse.
    fn check(&self, status: Status) -> Result<Status, String> {
        if status == Status::OK || status == Status::EXIT {
            Ok(status)
        } else {
            Err(self.generation.last_message())
        }
    }

    /// `Default` and `init`.
    fn fresh_start(&mut self, note: String) {
        let number = self.generation.number();
        let info = self.clock.peek(number);
        match self.check(self.generation.init(&info)) {
            Ok(_) => self.send(Msg::Started {
                generation: number,
                resumed: false,
                note,
            }),
            Err(message) => self.halt(message, true),
        }
    }

    /// Saves the state where a crash can find it, before new code runs.
    /// Returns how long it took and, when it worked, the saved bytes (owned
    /// by the library, valid until its next save), which also serve a
    /// rollback.
    fn write_checkpoint(&mut self) -> (u64, Option<Bytes>) {
        let Some(sink) = self.checkpoint.clone() else {
            return (0, None);
        };
        let t = Instant::now();
        let number = self.generation.number();
        let generation = &self.generation;
        let mut status = Status::OK;
        // The state is serialised straight into the checkpoint file when it
        // fits there, else copied in from the library's buffer.
        let written = sink
            .write_with(|space| {
                let space_ptr = space.as_ptr();
                let (saved, bytes) = generation.save(true, Some(space));
                status = saved;
                if saved != Status::OK {
                    Filled::Nothing
                } else if std::ptr::eq(bytes.ptr, space_ptr) {
                    Filled::InPlace(bytes.len)
                } else {
                    // SAFETY: the library returned `len` bytes it owns, valid
                    // until the next call into it (after this copy).
                    Filled::Elsewhere(unsafe { std::slice::from_raw_parts(bytes.ptr, bytes.len) })
                }
            })
            .map_err(|e| format!("cannot write the checkpoint: {e}"))
            .and_then(|bytes| self.check(status).map(|_| bytes));
        let kept = written.as_ref().ok().copied();
        if let Err(reason) = written
            && !self.checkpoint_reported
        {
            self.checkpoint_reported = true;
            let reason = reason
                .split_once('\n')
                .map_or(reason.clone(), |(_, m)| m.to_string());
            self.send(Msg::NoCheckpoint {
                generation: number,
                reason,
            });
        }
        (micros(t.elapsed()), kept)
    }

    /// The trial failed: stop the workers the new code started and drop its
    /// state, so that nothing of it keeps running (or keeps its library
    /// mapped).
    fn abandon(&mut self) {
        self.generation.stop_workers(EXIT_STOP_WAIT_MS);
        self.generation.drop_state();
    }

    fn halt(&mut self, message: String, fresh: bool) {
        self.halted = true;
        self.send(Msg::Halted {
            generation: self.generation.number(),
            message,
            fresh,
        });
    }

    /// Adopts the state, runs `reloaded` and the first frame. Returns whether
    /// the generation passed (and keeps running).
    fn trial(&mut self, handover: Receiver<Handover>, plan: &Plan) -> bool {
        let number = self.generation.number();
        let Ok(h) = handover.recv() else {
            return false; // withdrawn before the swap began
        };
        let received = Instant::now();
        self.clock = h.clock;
        let failed = |this: &Self, stage: &'static str, message: String, panicked: bool| {
            this.send(Msg::TrialFailed {
                generation: number,
                stage,
                message,
                panicked,
            });
            false
        };
        let status = if plan.mode == Mode::Migrate {
            // SAFETY: `h.saved` holds the state saved by name, in the old
            // library's buffer or in the checkpoint file's mapping; neither is
            // written again while the old thread waits for the verdict.
            unsafe { self.generation.load_saved(h.saved) }
        } else {
            let adopt = Adopt {
                src: h.state,
                src_size: h.size,
                identical: u32::from(plan.mode == Mode::Identical),
                sources: plan.sources.as_ptr(),
                sources_len: plan.sources.len(),
            };
            // SAFETY: `h.state` is the previous generation's live state, whose
            // layout `plan` was computed from; that thread gives every moved
            // field up to us (it only drops the fields the plan does not move,
            // which adopt never reads) and stays mapped until the verdict.
            unsafe { self.generation.adopt(&adopt) }
        };
        if let Err(message) = self.check(status) {
            return failed(self, "adopt", message, status == Status::PANICKED);
        }
        let adopted = Instant::now();
        let info = self.clock.peek(number);
        if let Err(message) = self.check(self.generation.reloaded(&info)) {
            self.abandon();
            return failed(self, "reloaded", message, true);
        }
        let first_frame_start = Instant::now();
        self.clock.set_pause(
            first_frame_start
                .duration_since(h.last_frame_end)
                .as_nanos() as u64,
        );
        let input = FrameInput::take();
        let info = input.attach(self.clock.begin(number));
        let stages = Stages {
            stop_workers_us: h.stop_workers_us,
            checkpoint_us: h.checkpoint_us,
            snapshot_us: h.snapshot_us,
            save_us: h.save_us,
            handover_us: micros(received.duration_since(h.sent)),
            adopt_us: micros(adopted.duration_since(received)),
            reloaded_us: micros(first_frame_start.duration_since(adopted)),
        };
        let pause_us = micros(first_frame_start.duration_since(h.last_frame_end));
        let status = self.generation.frame(&info);
        self.last_frame_end = Instant::now();
        match self.check(status) {
            Err(message) => {
                // The old code returns to the state before these bytes.
                input.unread();
                self.abandon();
                failed(self, "frame", message, true)
            }
            Ok(status) => {
                self.clock.done();
                self.send(Msg::TrialPassed {
                    generation: number,
                    pause_us,
                    stages,
                    kept: h.kept,
                });
                if status == Status::EXIT {
                    self.exit(true);
                    return false;
                }
                true
            }
        }
    }

    fn frames(&mut self, mut fresh: bool) {
        loop {
            let request = if self.halted {
                Some(self.control.wait_request())
            } else if self.control.pending() {
                self.control.take()
            } else {
                None
            };
            if let Some(request) = request {
                match request {
                    Request::Stop => {
                        self.exit(false);
                        return;
                    }
                    Request::Swap {
                        handover,
                        plan,
                        target,
                        kept,
                    } => {
                        if self.swap_out(handover, plan, target, kept) {
                            return;
                        }
                    }
                }
                if self.halted {
                    continue;
                }
                // A swap that could not happen yet (workers still stopping)
                // is tried again at the next frame boundary, after a frame.
            }
            let input = FrameInput::take();
            let info = input.attach(self.clock.begin(self.generation.number()));
            let status = self.generation.frame(&info);
            drop(input);
            self.last_frame_end = Instant::now();
            match self.check(status) {
                Ok(Status::EXIT) => {
                    self.clock.done();
                    self.exit(true);
                    return;
                }
                Ok(_) => {
                    self.clock.done();
                    fresh = false;
                }
                Err(message) => self.halt(message, fresh),
            }
        }
    }

    fn exit(&mut self, by_app: bool) {
        self.generation.stop_workers(EXIT_STOP_WAIT_MS);
        self.generation.drop_state();
        self.send(Msg::Ended {
            generation: self.generation.number(),
            by_app,
        });
    }

    /// Hands the state to the next generation. Returns true when this
    /// generation is retired (its thread must end).
    fn swap_out(
        &mut self,
        handover: std::sync::mpsc::SyncSender<Handover>,
        plan: Arc<Plan>,
        target: u64,
        kept: Arc<Vec<(u64, (u64, u64))>>,
    ) -> bool {
        let number = self.generation.number();
        let t = Instant::now();
        let first_attempt = self.stopping_since.is_none();
        let since = *self.stopping_since.get_or_insert(t);
        let wait_ms = if first_attempt {
            STOP_WAIT.as_millis() as u64
        } else {
            0
        };
        let status = self.generation.stop_workers(wait_ms);
        if status == Status::TIMED_OUT {
            if !self.postponed_reported && since.elapsed() >= STOP_REPORT_AFTER {
                self.postponed_reported = true;
                // The state at this frame boundary is consistent: keep it, so
                // that a forced restart (the supervisor's answer to a second
                // request) loses nothing older.
                self.write_checkpoint();
                self.send(Msg::Postponed {
                    generation: number,
                    threads: self.generation.last_message(),
                });
            }
            // Keep the request (unless a newer one replaced it); the next
            // frame boundary tries again.
            self.control.put_back(Request::Swap {
                handover,
                plan,
                target,
                kept,
            });
            if self.halted {
                std::thread::sleep(Duration::from_millis(5));
            }
            return false;
        }
        self.stopping_since = None;
        self.postponed_reported = false;
        let stop_workers_us = micros(t.elapsed());
        let migrate = plan.mode == Mode::Migrate;
        let kept = match self.still_pointed_into(&plan, &kept, migrate) {
            Ok(kept) => kept,
            Err(message) => {
                self.resume();
                self.send(Msg::SwapAborted { target, message });
                return false;
            }
        };

        // The app's last chance to turn what cannot be carried into data.
        let info = self.clock.peek(number);
        if let Err(message) = self.check(self.generation.unloading(&info)) {
            self.resume();
            let message = format!("the old code's `unloading` failed: {message}");
            self.send(Msg::SwapAborted { target, message });
            return false;
        }
        let (checkpoint_us, checkpoint) = self.write_checkpoint();
        // A rollback restores the checkpoint when there is one (the same
        // types load it exactly), else a deep snapshot taken now.
        let snapshot = !migrate && checkpoint.is_none();
        let (mut snapshot_us, mut save_us) = (0, 0);
        let mut saved = Bytes {
            ptr: std::ptr::null(),
            len: 0,
        };
        let t = Instant::now();
        let prepared = if let (true, Some(bytes)) = (migrate, checkpoint) {
            // The checkpoint is the state saved by field name already: the
            // new code loads it, with no second save in the pause.
            saved = bytes;
            Ok(Status::OK)
        } else if migrate {
            // The old state stays untouched (and is the rollback) until the
            // new code has loaded its copy and passed its first frame.
            let (status, bytes) = self.generation.save(false, None);
            saved = bytes;
            save_us = micros(t.elapsed());
            self.check(status)
                .map_err(|m| format!("the old code could not save the state: {m}"))
        } else if snapshot {
            let status = self.generation.snapshot();
            snapshot_us = micros(t.elapsed());
            self.check(status)
                .map_err(|m| format!("the state's snapshot for a rollback failed: {m}"))
        } else {
            Ok(Status::OK)
        };
        if let Err(message) = prepared {
            self.resume();
            self.send(Msg::SwapAborted { target, message });
            return false;
        }
        if !self.control.begin_handover() {
            // A newer request replaced this one: serve that instead.
            if !migrate {
                self.generation.discard_snapshot();
            }
            self.resume();
            return false;
        }
        let state = self.generation.state();
        let sent = Instant::now();
        let h = Handover {
            state: state.ptr,
            size: state.size,
            saved,
            save_us,
            clock: self.clock,
            last_frame_end: self.last_frame_end,
            stop_workers_us,
            checkpoint_us,
            snapshot_us,
            sent,
            kept,
        };
        if handover.send(h).is_err() {
            // The next generation's thread is gone: keep running as before.
            self.control.end_handover();
            if !migrate {
                self.generation.discard_snapshot();
            }
            self.resume();
            return false;
        }
        if !migrate {
            // The moved fields now belong to the next generation; drop the rest.
            self.generation.release(&plan.drop_mask);
        }
        match self.control.wait_verdict() {
            Verdict::Commit => {
                if migrate {
                    self.generation.drop_state();
                } else {
                    self.generation.discard_snapshot();
                }
                true
            }
            Verdict::Rollback => {
                let restored = match (migrate, checkpoint) {
                    (true, _) => Status::OK, // the old state was never moved
                    // SAFETY: the checkpoint's bytes belong to this library and
                    // nothing was saved since.
                    (false, Some(bytes)) if !snapshot => unsafe {
                        self.generation.load_saved(bytes)
                    },
                    (false, _) => self.generation.restore(),
                };
                if let Err(message) = self.check(restored) {
                    self.halt(message, false);
                    return false;
                }
                self.halted = false;
                self.resume();
                false
            }
        }
    }

    /// The old generations (this one and those kept mapped before) that the
    /// state's values point into, which must stay mapped after the swap. A
    /// migration carries no such value (it re-links `&'static str`s to
    /// copies and resets the rest), so nothing is kept then.
    fn still_pointed_into(
        &self,
        plan: &Plan,
        kept: &[(u64, (u64, u64))],
        migrate: bool,
    ) -> Result<Vec<u64>, String> {
        if migrate || !plan.pins_old_generation() {
            return Ok(Vec::new());
        }
        let mut candidates = vec![(self.generation.number(), self.generation.mapped())];
        candidates.extend_from_slice(kept);
        let ranges: Vec<(u64, u64)> = candidates.iter().map(|(_, r)| *r).collect();
        let (status, seen) = self.generation.points_into(&ranges);
        self.check(status)
            .map_err(|m| format!("the old code could not tell what the state points into: {m}"))?;
        let seen: Vec<(u64, u8)> = candidates.iter().map(|(n, _)| *n).zip(seen).collect();
        super::pins::keep_mapped(&seen, &plan.pinned)
    }

    /// Lets the code run again after a swap that did not happen: `reloaded`
    /// restarts its workers.
    fn resume(&mut self) {
        let info = self.clock.peek(self.generation.number());
        if let Err(message) = self.check(self.generation.reloaded(&info)) {
            self.halt(message, false);
        }
    }
}
