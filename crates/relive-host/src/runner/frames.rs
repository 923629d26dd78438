//! The frame thread of one generation: it starts the generation (fresh, or
//! by adopting the previous generation's state), runs frames, and at a frame
//! boundary hands the state to the next generation's thread.
//!
//! All calls into a generation's library happen on its own frame thread,
//! which ends when the generation is replaced, so thread-local destructors
//! that the library registered run then and do not keep it mapped.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use relive_abi::{Bytes, Status};

use crate::checkpoint::Saved;
use crate::generation::Generation;
use crate::input::FrameInput;
use crate::plan::Plan;

use super::Msg;
use super::background::Background;
use super::baton::Catch;
use super::clock::Clock;
use super::control::{Control, Request};
use super::record::Recorder;
use super::swap::SwapRequest;

/// How long the first attempt to stop workers may block the frame loop.
pub(super) const STOP_WAIT: Duration = Duration::from_millis(50);
/// After this long without all workers stopped, the swap is reported as
/// postponed.
pub(super) const STOP_REPORT_AFTER: Duration = Duration::from_secs(1);
/// How long workers get to stop when the program ends.
pub(super) const EXIT_STOP_WAIT_MS: u64 = 2000;

/// How a frame thread begins.
pub(super) enum Start {
    /// `Default` + `init`.
    Fresh,
    /// Load the state from the first checkpoint that fits (newest first),
    /// then `reloaded`.
    Resume(Vec<Saved>),
    /// Take the state over from the previous generation's thread.
    Adopt { handover: Catch, plan: Arc<Plan> },
}

pub(super) fn micros(d: Duration) -> u64 {
    d.as_micros() as u64
}

pub(super) struct Thread {
    pub(super) generation: Generation,
    pub(super) control: Arc<Control>,
    report: Sender<Msg>,
    pub(super) clock: Clock,
    pub(super) last_frame_end: Instant,
    /// From the end of the frame before the last one to the end of the last.
    pub(super) period: Duration,
    pub(super) halted: bool,
    /// Since when workers are being asked to stop for a pending swap.
    pub(super) stopping_since: Option<Instant>,
    pub(super) postponed_reported: bool,
    /// The runner's checkpoint writer, if it has one.
    pub(super) background: Option<Arc<Background>>,
    /// Frame boundaries this thread has passed.
    pub(super) boundaries: u64,
    /// The boundary at which the last checkpoint for a swap's rollback
    /// started and the number of its child (see `Background::written`);
    /// `rollback_fork_us`: how long its `fork` took.
    pub(super) rollback_frame: Option<(u64, u64)>,
    pub(super) rollback_fork_us: u64,
    /// The bytes the last frame got: a rollback to the boundary before it
    /// gives them back.
    pub(super) last_input: Option<FrameInput>,
    /// The runner's recording (loop live editing, see `replay`).
    pub(super) recorder: Arc<Recorder>,
}

/// The body of a frame thread: the only thread that calls `generation`,
/// which it hands back when it ends.
pub(super) fn run(
    generation: Generation,
    control: Arc<Control>,
    start: Start,
    report: Sender<Msg>,
    background: Option<Arc<Background>>,
    recorder: Arc<Recorder>,
) -> Generation {
    let mut thread = Thread {
        generation,
        control,
        report,
        clock: Clock::default(),
        last_frame_end: Instant::now(),
        period: Duration::ZERO,
        halted: false,
        stopping_since: None,
        postponed_reported: false,
        background,
        boundaries: 0,
        rollback_frame: None,
        rollback_fork_us: 0,
        last_input: None,
        recorder,
    };
    begin(&mut thread, start);
    thread.generation
}

/// Starts the generation as `start` says, then runs its frames.
fn begin(thread: &mut Thread, start: Start) {
    let fresh = match start {
        Start::Fresh => {
            thread.fresh_start(String::new());
            true
        }
        Start::Resume(saved) => thread.resume_from(saved),
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
    /// Starts from the first checkpoint that loads (they are newest
    /// first), or fresh. Returns whether the start was fresh.
    fn resume_from(&mut self, saved: Vec<Saved>) -> bool {
        let number = self.generation.number();
        let mut notes = Vec::new();
        for (i, checkpoint) in saved.iter().enumerate() {
            let bytes = Bytes {
                ptr: checkpoint.state.as_ptr(),
                len: checkpoint.state.len(),
            };
            // SAFETY: `checkpoint` lives until the end of this call.
            let status = unsafe { self.generation.load_saved(bytes) };
            match self.check(status) {
                Ok(_) => {
                    if i > 0 {
                        notes.push("restored an older checkpoint".to_string());
                    }
                    let info = self.clock.peek(number);
                    match self.check(self.generation.reloaded(&info)) {
                        Ok(_) => self.send(Msg::Started {
                            generation: number,
                            resumed: true,
                            note: notes.join("; "),
                            taken_ns: Some(checkpoint.taken_ns),
                        }),
                        Err(message) => self.halt(message, false),
                    }
                    return false;
                }
                Err(message) => {
                    let note = message
                        .split_once('\n')
                        .map_or(message.clone(), |(_, m)| m.to_string());
                    let which = if i == 0 { "the newest" } else { "an older" };
                    notes.push(format!("{which} checkpoint did not load ({note})"));
                }
            }
        }
        notes.push("started fresh".into());
        self.fresh_start(notes.join("; "));
        true
    }

    pub(super) fn send(&self, msg: Msg) {
        // The orchestrator outlives every frame thread; a closed channel only
        // happens while the whole runner is being torn down.
        let _ = self.report.send(msg);
    }

    /// Ok for success and exit, Err(message) for a panic or misuse.
    pub(super) fn check(&self, status: Status) -> Result<Status, String> {
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
                taken_ns: None,
            }),
            Err(message) => self.halt(message, true),
        }
    }

    /// The trial failed: stop the workers the new code started and drop its
    /// state, so that nothing of it keeps running (or keeps its library
    /// mapped).
    pub(super) fn abandon(&mut self) {
        self.generation.stop_workers(EXIT_STOP_WAIT_MS);
        self.generation.drop_state();
    }

    pub(super) fn halt(&mut self, message: String, fresh: bool) {
        self.halted = true;
        self.send(Msg::Halted {
            generation: self.generation.number(),
            message,
            fresh,
        });
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
                        let request = SwapRequest {
                            handover,
                            plan,
                            target,
                            kept,
                        };
                        if self.swap_out(request) {
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
            self.serve_replay();
            if self.halted {
                continue;
            }
            let (input, info) = self.next_frame();
            let status = self.generation.frame(&info);
            let end = Instant::now();
            self.period = end.duration_since(self.last_frame_end);
            self.last_frame_end = end;
            match self.check(status) {
                Ok(Status::EXIT) => {
                    self.clock.done();
                    self.exit(true);
                    return;
                }
                Ok(_) => {
                    self.clock.done();
                    self.boundaries += 1;
                    fresh = false;
                    // Not with a swap waiting: it starts the checkpoint it
                    // needs itself, and a periodic one now would take the
                    // CPU from its handover.
                    if !self.recorder.replaying() && !self.control.pending() {
                        self.checkpoint_if_due();
                    }
                    self.frame_done(&info, &input);
                }
                Err(message) => self.halt(message, fresh),
            }
            self.last_input = Some(input);
        }
    }

    /// A checkpoint of the running program, when one is due (see
    /// `background`); its failure is reported once.
    fn checkpoint_if_due(&mut self) {
        let Some(background) = &self.background else {
            return;
        };
        let info = self.clock.peek(self.generation.number());
        if let Some(failure) = background.tick(&self.generation, &info) {
            self.send(Msg::NoCheckpoint {
                generation: self.generation.number(),
                reason: failure.0,
            });
        }
    }

    pub(super) fn exit(&mut self, by_app: bool) {
        self.generation.stop_workers(EXIT_STOP_WAIT_MS);
        if !by_app && let Some(background) = &self.background {
            // Stopped from outside: a supervisor that restarts the program
            // (on a new persistent crate) resumes from this very state.
            background.wait();
            let info = self.clock.peek(self.generation.number());
            if background.start_now(&self.generation, &info, false) {
                background.wait();
            }
        }
        self.generation.drop_state();
        self.send(Msg::Ended {
            generation: self.generation.number(),
            by_app,
        });
    }

    /// The old generations (this one and those kept mapped before) that the
    /// state's values point into, which must stay mapped after the swap. A
    /// migration carries no such value (it re-links `&'static str`s to
    /// copies and resets the rest), so nothing is kept then.
    pub(super) fn still_pointed_into(
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
    pub(super) fn resume(&mut self) {
        let info = self.clock.peek(self.generation.number());
        if let Err(message) = self.check(self.generation.reloaded(&info)) {
            self.halt(message, false);
        }
    }
}
