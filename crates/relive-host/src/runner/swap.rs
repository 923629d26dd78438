//! The swap, in one place, as the sequence of phases it goes through.
//!
//! The orchestrator (`runner.rs`) plans the move and starts the new
//! generation's thread, which waits; then it posts the request to the old
//! generation's frame thread. From there:
//!
//! Old thread, at frame boundaries ([`Phase`], driven by [`Thread::swap_out`]):
//! 0. `Announce`: once the new thread has started and waits, run one more
//!    frame first (starting the rollback checkpoint of phase 1), and tell
//!    the new thread when the next boundary is expected, so that it is
//!    awake and spinning then instead of being woken in the pause (see
//!    `baton`). Every boundary that puts the swap off (`Later`) announces
//!    the next one.
//! 1. `RollbackPoint`: make sure a state that a rollback can restore exists
//!    from the previous frame boundary: a checkpoint (forked, written while
//!    frames go on; see `background`). If there is none, start one now and
//!    run one more frame. Without checkpoints, the rollback is a deep
//!    snapshot taken in the pause; for a migration the old state itself,
//!    which is never moved.
//! 2. `StopWorkers`: ask the generation's workers to stop and join them (a
//!    worker that does not stop postpones the swap to the next boundary).
//!    The pause starts at the end of the last frame before this phase.
//! 3. `Prepare`: `App::unloading` on the old code; find the old
//!    generations the state's values point into (they stay mapped); a
//!    migration saves the state by name; a swap without checkpoints takes
//!    the snapshot.
//! 4. `HandOver`: give the state's address to the new thread.
//! 5. `AwaitVerdict`: block until the new thread's trial has passed or
//!    failed, then drop the fields the new code did not take (only now: the
//!    new thread has adopted the moved ones).
//! 6. `Commit` (this thread ends, the library closes) or `RollBack` (the
//!    state from the rollback point comes back, the old code runs on).
//!
//! New thread ([`Thread::trial`]): receive the handover, adopt the state
//! (move bytes, or load the saved state for a migration), `reloaded`, the
//! first frame (the pause ends when it starts). Passing or failing is
//! reported to the orchestrator, which gives the old thread its verdict.

use std::sync::Arc;
use std::time::{Duration, Instant};

use relive_abi::{Adopt, Bytes, Status};

use crate::plan::{Mode, Plan};

use super::Msg;
use super::Stages;
use super::baton::{Catch, Pass};
use super::control::{Handover, Request, Verdict};
use super::frames::{STOP_REPORT_AFTER, STOP_WAIT, Thread, micros};

/// What a rollback restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rollback {
    /// The checkpoint started at the previous frame boundary (loaded by
    /// name by the same code: exact, one frame older than the swap).
    Checkpoint,
    /// A deep copy taken in the pause.
    Snapshot,
    /// A migration: the old state stays where it is until the verdict.
    Untouched,
}

/// How late the next frame boundary may come, beyond one frame's time,
/// while the new thread spins for it, at least and at most.
const LATE: (Duration, Duration) = (Duration::from_micros(500), Duration::from_millis(10));

/// How soon a halted generation tries a swap again.
const HALTED_RETRY: Duration = Duration::from_millis(5);

/// One step of the old generation's side of a swap.
enum Phase {
    Announce,
    RollbackPoint,
    StopWorkers {
        rollback: Rollback,
    },
    Prepare {
        rollback: Rollback,
        stages: Stages,
    },
    HandOver {
        rollback: Rollback,
        saved: Bytes,
        stages: Stages,
        /// The old generations the state points into.
        kept: Vec<u64>,
    },
    AwaitVerdict {
        rollback: Rollback,
    },
    RollBack {
        rollback: Rollback,
    },
    /// Not at this boundary: the request is kept, a frame runs first.
    Later,
    /// The swap did not happen: the old code runs on.
    Resume,
    /// The new generation runs: this thread ends.
    Retired,
}

/// A swap request as the old thread serves it.
pub(super) struct SwapRequest {
    pub handover: Pass,
    pub plan: Arc<Plan>,
    pub target: u64,
    /// The older generations kept mapped, with their address ranges.
    pub kept: Arc<Vec<(u64, (u64, u64))>>,
}

impl Thread {
    /// Serves a swap request at a frame boundary. Returns true when this
    /// generation is retired (its thread must end).
    pub(super) fn swap_out(&mut self, request: SwapRequest) -> bool {
        if self.halted {
            // A program paused after a panic has not run since its last
            // frame; its swap pause begins with this swap, not at that frame.
            self.last_frame_end = Instant::now();
        }
        let mut phase = Phase::Announce;
        loop {
            phase = match phase {
                Phase::Announce => self.announce(&request),
                Phase::RollbackPoint => self.rollback_point(&request),
                Phase::StopWorkers { rollback } => self.stop_for_swap(rollback),
                Phase::Prepare { rollback, stages } => self.prepare(&request, rollback, stages),
                Phase::HandOver {
                    rollback,
                    saved,
                    stages,
                    kept,
                } => self.hand_over(&request, rollback, saved, stages, kept),
                Phase::AwaitVerdict { rollback } => {
                    let verdict = self.control.wait_verdict();
                    if rollback != Rollback::Untouched {
                        // The moved fields belong to the next generation,
                        // which has adopted them by now; drop the rest. Not
                        // before the verdict: the two threads would drop
                        // values (a skipped `Rc` shared inside the state) at
                        // the same time.
                        self.generation.release(&request.plan.drop_mask);
                    }
                    match verdict {
                        Verdict::Commit => {
                            self.drop_kept(rollback, true);
                            Phase::Retired
                        }
                        Verdict::Rollback => Phase::RollBack { rollback },
                    }
                }
                Phase::RollBack { rollback } => self.roll_back(rollback),
                Phase::Later => {
                    // The new thread waits for the next boundary (see `baton`).
                    let frame = if self.halted {
                        HALTED_RETRY
                    } else {
                        self.period
                    };
                    request
                        .handover
                        .announce(Instant::now() + frame, (frame / 2).clamp(LATE.0, LATE.1));
                    let SwapRequest {
                        handover,
                        plan,
                        target,
                        kept,
                    } = request;
                    // Unless a newer one replaced it meanwhile.
                    self.control.put_back(Request::Swap {
                        handover,
                        plan,
                        target,
                        kept,
                    });
                    if self.halted {
                        std::thread::sleep(HALTED_RETRY);
                    }
                    return false;
                }
                Phase::Resume => {
                    self.resume();
                    return false;
                }
                Phase::Retired => return true,
            };
        }
    }

    /// Phase 0.
    fn announce(&mut self, request: &SwapRequest) -> Phase {
        let waits = request.handover.receiver_waits();
        if waits && request.handover.announced() {
            return Phase::RollbackPoint;
        }
        if waits {
            // The boundary a frame from now is the first that may hand
            // over: the rollback checkpoint that needs is started now.
            self.rollback_point(request);
        }
        // Not while the new thread is still starting (its first call into
        // its library can take milliseconds): the pause would include it.
        Phase::Later
    }

    /// Phase 1.
    fn rollback_point(&mut self, request: &SwapRequest) -> Phase {
        if request.plan.mode == Mode::Migrate {
            return Phase::StopWorkers {
                rollback: Rollback::Untouched,
            };
        }
        let Some(background) = self.background.clone() else {
            return Phase::StopWorkers {
                rollback: Rollback::Snapshot,
            };
        };
        if background.last_worked() == Some(false) {
            // The state cannot be checkpointed: keep a copy in the pause.
            return Phase::StopWorkers {
                rollback: Rollback::Snapshot,
            };
        }
        if let Some((at, child)) = self.rollback_frame
            && at + 1 >= self.boundaries
        {
            // The checkpoint started at the previous boundary is the
            // rollback while it is being written or was written, and nothing
            // newer started (a load finds the newest); one that failed or was
            // overtaken is replaced by a copy in the pause. A rollback waits
            // for it and checks that it was written (`load_checkpoint`).
            let rollback = match background.written(child) {
                Some(true) | None => Rollback::Checkpoint,
                Some(false) => Rollback::Snapshot,
            };
            return Phase::StopWorkers { rollback };
        }
        let t = Instant::now();
        // Held until the swap is over (see `background`): the child would
        // take the CPU the handover and the first frames need.
        let info = self.clock.peek(self.generation.number());
        if background.start_now(&self.generation, &info, true) {
            self.rollback_frame = Some((self.boundaries, background.newest()));
            self.rollback_fork_us = micros(t.elapsed());
        }
        // Started, or another checkpoint is still being written: a frame
        // runs, and the next boundary tries again.
        Phase::Later
    }

    /// Phase 2.
    fn stop_for_swap(&mut self, rollback: Rollback) -> Phase {
        let t = Instant::now();
        let boundary_us = micros(t.duration_since(self.last_frame_end));
        let first_attempt = self.stopping_since.is_none();
        let since = *self.stopping_since.get_or_insert(t);
        let wait_ms = if first_attempt {
            STOP_WAIT.as_millis() as u64
        } else {
            0
        };
        if self.generation.stop_workers(wait_ms) != Status::TIMED_OUT {
            self.stopping_since = None;
            self.postponed_reported = false;
            return Phase::Prepare {
                rollback,
                stages: Stages {
                    boundary_us,
                    stop_workers_us: micros(t.elapsed()),
                    ..Stages::default()
                },
            };
        }
        if !self.postponed_reported && since.elapsed() >= STOP_REPORT_AFTER {
            self.postponed_reported = true;
            // The state at this frame boundary is consistent: checkpoint
            // it, so that a forced restart (the supervisor's answer to a
            // second request) loses nothing older.
            if let Some(background) = &self.background {
                let info = self.clock.peek(self.generation.number());
                background.start_now(&self.generation, &info, false);
            }
            self.send(Msg::Postponed {
                generation: self.generation.number(),
                threads: self.generation.last_message(),
            });
        }
        Phase::Later
    }

    /// Phase 3.
    fn prepare(&mut self, request: &SwapRequest, rollback: Rollback, mut stages: Stages) -> Phase {
        if rollback == Rollback::Checkpoint {
            stages.checkpoint_us = self.rollback_fork_us;
        }
        let t = Instant::now();
        let migrate = rollback == Rollback::Untouched;
        // The app's last chance to turn what cannot be carried into data;
        // first, because what it writes into the state (a `&'static str`, a
        // `fn` pointer) decides which libraries must stay mapped.
        let info = self.clock.peek(self.generation.number());
        if let Err(message) = self.check(self.generation.unloading(&info)) {
            self.send(Msg::SwapAborted {
                target: request.target,
                message: format!("the old code's `unloading` failed: {message}"),
            });
            return Phase::Resume;
        }
        let kept = match self.still_pointed_into(&request.plan, &request.kept, migrate) {
            Ok(kept) => kept,
            Err(message) => {
                self.send(Msg::SwapAborted {
                    target: request.target,
                    message,
                });
                return Phase::Resume;
            }
        };
        stages.unloading_us = micros(t.elapsed());
        let mut saved = Bytes {
            ptr: std::ptr::null(),
            len: 0,
        };
        let t = Instant::now();
        let prepared = match rollback {
            Rollback::Untouched => {
                // The old state stays untouched (and is the rollback) until
                // the new code has loaded its copy and passed its first frame.
                let (status, bytes) = self.generation.save(false, None);
                saved = bytes;
                stages.save_us = micros(t.elapsed());
                self.check(status)
                    .map_err(|m| format!("the old code could not save the state: {m}"))
            }
            Rollback::Snapshot => {
                let status = self.generation.snapshot();
                stages.snapshot_us = micros(t.elapsed());
                self.check(status)
                    .map_err(|m| format!("the state's snapshot for a rollback failed: {m}"))
            }
            Rollback::Checkpoint => Ok(Status::OK),
        };
        match prepared {
            Ok(_) => Phase::HandOver {
                rollback,
                saved,
                stages,
                kept,
            },
            Err(message) => {
                self.send(Msg::SwapAborted {
                    target: request.target,
                    message,
                });
                Phase::Resume
            }
        }
    }

    /// Phase 4.
    fn hand_over(
        &mut self,
        request: &SwapRequest,
        rollback: Rollback,
        saved: Bytes,
        stages: Stages,
        kept: Vec<u64>,
    ) -> Phase {
        if !self.control.begin_handover() {
            // A newer request replaced this one: serve that instead.
            self.drop_kept(rollback, false);
            return Phase::Resume;
        }
        let state = self.generation.state();
        let h = Handover {
            state: state.ptr,
            size: state.size,
            saved,
            stages,
            clock: self.clock,
            last_frame_end: self.last_frame_end,
            sent: Instant::now(),
            kept,
        };
        if !request.handover.give(h) {
            // The next generation's thread is gone: keep running as before.
            self.control.end_handover();
            self.drop_kept(rollback, false);
            return Phase::Resume;
        }
        Phase::AwaitVerdict { rollback }
    }

    /// Drops what was kept for a rollback: after a commit (`committed`,
    /// when a migration's old state goes too, the new code has its own), or
    /// after a swap that did not happen.
    fn drop_kept(&mut self, rollback: Rollback, committed: bool) {
        match rollback {
            Rollback::Untouched if committed => {
                self.generation.drop_state();
            }
            Rollback::Untouched => {}
            Rollback::Snapshot | Rollback::Checkpoint => {
                self.generation.discard_snapshot();
            }
        }
    }

    /// Phase 6, failed trial: the state from the rollback point comes back.
    fn roll_back(&mut self, rollback: Rollback) -> Phase {
        let restored = match rollback {
            Rollback::Untouched => Ok(Status::OK), // the old state was never moved
            Rollback::Snapshot => self.check(self.generation.restore()),
            Rollback::Checkpoint => {
                let loaded = self.load_checkpoint();
                if loaded.is_ok()
                    && self
                        .rollback_frame
                        .is_some_and(|(at, _)| at < self.boundaries)
                    && let Some(input) = self.last_input.take()
                {
                    // The frame after the rollback point is undone too.
                    self.undo_frame(input);
                }
                loaded
            }
        };
        match restored {
            Ok(_) => {
                self.halted = false;
                Phase::Resume
            }
            Err(message) => {
                self.halt(message, false);
                // Halted with no state: wait for new code.
                Phase::Resume
            }
        }
    }

    /// Loads the newest checkpoint (the rollback point, once its writer
    /// finished; an older one if it failed) into the old code.
    fn load_checkpoint(&mut self) -> Result<Status, String> {
        let Some(background) = self.background.clone() else {
            return Err("relive runtime\nno checkpoint to roll back to".into());
        };
        background.wait();
        // Only the checkpoint of the rollback point is the state from before
        // the swap: a failed or overtaken one is not (an older checkpoint
        // would bring back older state without a word).
        let child = self.rollback_frame.map(|(_, child)| child);
        if child.is_none_or(|child| background.written(child) != Some(true)) {
            return Err("relive runtime\nthe checkpoint of the state before the swap could not be written, so there is no state to roll back to; the program is paused: fix the code and save".into());
        }
        let Some(state) = background.read_latest() else {
            return Err("relive runtime\nno checkpoint to roll back to".into());
        };
        let bytes = Bytes {
            ptr: state.as_ptr(),
            len: state.len(),
        };
        // SAFETY: `state` lives until the end of this function.
        self.check(unsafe { self.generation.load_saved(bytes) })
    }

    /// The new generation's side: adopts the state, runs `reloaded` and the
    /// first frame. Returns whether the generation passed (and keeps running).
    pub(super) fn trial(&mut self, handover: Catch, plan: &Plan) -> bool {
        let number = self.generation.number();
        // While the old code still runs: the pause then starts at adopt.
        self.generation.warm_up();
        let Some(h) = handover.take() else {
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
            // SAFETY: `h.saved` holds the state saved by name in the old
            // library's buffer, which is not written again while the old
            // thread waits for the verdict.
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
        let (input, info) = self.next_frame();
        let stages = Stages {
            handover_us: micros(received.duration_since(h.sent)),
            adopt_us: micros(adopted.duration_since(received)),
            reloaded_us: micros(first_frame_start.duration_since(adopted)),
            ..h.stages
        };
        let pause_us = micros(first_frame_start.duration_since(h.last_frame_end));
        let status = self.generation.frame(&info);
        self.last_frame_end = Instant::now();
        match self.check(status) {
            Err(message) => {
                // The old code returns to the state before these bytes
                // (a replayed frame's bytes are the recording's).
                if !self.recorder.replaying() {
                    input.unread();
                }
                self.abandon();
                failed(self, "frame", message, true)
            }
            Ok(status) => {
                self.clock.done();
                self.boundaries += 1;
                self.frame_done(&info, &input);
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
}
