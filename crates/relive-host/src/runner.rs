//! Runs the app: one frame thread per generation, and an orchestrator
//! thread that owns the generations, decides swaps and reports what happens.
//!
//! A swap: the orchestrator plans the state's move against the running
//! generation's layout, starts the new generation's thread (it waits), and
//! posts the request; the phases that follow are in `swap.rs`. The
//! orchestrator gives the old thread the trial's verdict: commit (the old
//! library is closed) or roll back.
//!
//! With a [`CheckpointSink`], the running program is checkpointed at frame
//! boundaries every 500 ms by a forked child (`background.rs`), never in
//! the swap pause.
//!
//! Every live frame is recorded for loop live editing (`record.rs`,
//! `replay.rs`): [`Runner::replay`] loops the last seconds, goes live
//! again, or rewinds.

mod background;
mod baton;
mod clock;
mod control;
mod disposal;
mod events;
mod frames;
mod pins;
mod record;
mod replay;
mod swap;

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::generation::{Generation, Loaded};
use crate::plan::{Plan, plan};

use control::{Control, Request, Verdict};
pub use events::{RunEvent, Stages};
use frames::Start;
pub use record::{DEFAULT_MILLIS, MAX_MARKS, ReplayCommand};

/// Where a runner writes the state's checkpoints while the program runs
/// (see [`crate::checkpoint`]).
pub type CheckpointSink = Arc<crate::checkpoint::CheckpointWriter>;

/// How the first generation gets its state.
#[derive(Debug)]
pub enum Begin {
    /// `Default`, then `App::init`.
    Fresh,
    /// Loaded by name from the first of these checkpoints (newest first)
    /// that fits (falls back to fresh if none does), then `App::reloaded`.
    Resume(Vec<crate::checkpoint::Saved>),
}

/// Messages to the orchestrator, from the owner and from frame threads.
enum Msg {
    Offer(Box<Generation>),
    Stop,
    Started {
        generation: u64,
        resumed: bool,
        note: String,
        taken_ns: Option<u64>,
    },
    NoCheckpoint {
        generation: u64,
        reason: String,
    },
    TrialPassed {
        generation: u64,
        pause_us: u64,
        stages: Stages,
        /// The old generations the state points into.
        kept: Vec<u64>,
    },
    TrialFailed {
        generation: u64,
        stage: &'static str,
        message: String,
        panicked: bool,
    },
    Halted {
        generation: u64,
        message: String,
        fresh: bool,
    },
    Postponed {
        generation: u64,
        threads: String,
    },
    SwapAborted {
        target: u64,
        message: String,
    },
    Ended {
        generation: u64,
        by_app: bool,
    },
    /// An event a frame thread reports as it is.
    Report(RunEvent),
}

/// A running app. Dropping it does not stop the app; call [`Runner::stop`]
/// and wait for [`RunEvent::Exited`].
#[derive(Debug)]
pub struct Runner {
    tx: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    recorder: Arc<record::Recorder>,
    background: Option<Arc<background::Background>>,
}

impl Runner {
    /// Starts `first` (fresh, or from a checkpoint) and runs its frames.
    /// With `checkpoint`, the state is saved portably while the program
    /// runs, at frame boundaries, at least every second (for recovery after
    /// a crash), and a swap's rollback restores it.
    /// `on_event` is called on the orchestrator thread.
    pub fn start(
        first: Generation,
        begin: Begin,
        checkpoint: Option<CheckpointSink>,
        on_event: impl FnMut(RunEvent) + Send + 'static,
    ) -> std::io::Result<Runner> {
        disposal::start();
        let (tx, rx) = mpsc::channel();
        let recorder = Arc::new(record::Recorder::new());
        let mut orchestrator = Orchestrator {
            recorder: recorder.clone(),
            tx: tx.clone(),
            checkpoint: checkpoint.map(|writer| Arc::new(background::Background::new(writer))),
            on_event: Box::new(on_event),
            active: None,
            trial: None,
            queued: None,
            pinned: Vec::new(),
            fresh: true,
            stopping: false,
        };
        let start = match begin {
            Begin::Fresh => Start::Fresh,
            Begin::Resume(saved) => Start::Resume(saved),
        };
        orchestrator.active = Some(orchestrator.spawn(first, start)?);
        let background = orchestrator.checkpoint.clone();
        let thread = std::thread::Builder::new()
            .name("relive-orchestrator".into())
            .spawn(move || orchestrator.run(rx))?;
        Ok(Runner {
            tx,
            thread: Some(thread),
            recorder,
            background,
        })
    }

    /// Records the last `millis` of frames from now on (0: none; the
    /// default is [`DEFAULT_MILLIS`]). Recording needs a checkpoint sink.
    pub fn record(&self, millis: u64) {
        self.recorder.set_millis(millis);
        if let Some(background) = &self.background {
            background.write_marks(millis > 0);
        }
    }

    /// Asks for a loop, live or rewind at the next frame boundary; says why
    /// it cannot be done (nothing recorded, not looping). What happens is
    /// reported as events.
    pub fn replay(&self, command: ReplayCommand) -> Result<(), String> {
        self.recorder.command(command)
    }

    /// Offers a loaded generation; it replaces the running one at the next
    /// frame boundary if its state layout allows, else it is refused.
    pub fn offer(&self, next: Generation) {
        let _ = self.tx.send(Msg::Offer(Box::new(next)));
    }

    /// Asks the program to end at the next frame boundary.
    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }

    /// Waits for the orchestrator to finish (after [`RunEvent::Exited`]).
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A generation with its frame thread, which owns the [`Generation`] (the
/// only thread that calls it) and hands it back when it ends.
struct Running {
    generation: Arc<Loaded>,
    control: Arc<Control>,
    thread: Option<JoinHandle<Generation>>,
}

impl Running {
    fn number(&self) -> u64 {
        self.generation.number()
    }

    /// Waits for the frame thread to end and takes its generation back; the
    /// library closes when it and the last `Arc<Loaded>` are gone.
    fn retire(mut self) -> Option<Generation> {
        self.thread.take().and_then(|thread| thread.join().ok())
    }
}

struct Trial {
    running: Running,
    plan: Arc<Plan>,
}

struct Orchestrator {
    tx: Sender<Msg>,
    recorder: Arc<record::Recorder>,
    checkpoint: Option<Arc<background::Background>>,
    on_event: Box<dyn FnMut(RunEvent) + Send>,
    active: Option<Running>,
    trial: Option<Trial>,
    queued: Option<Generation>,
    /// Generations kept mapped because values in the state point into them
    /// (see [`pins`]), oldest first.
    pinned: Vec<Arc<Loaded>>,
    /// The active state never completed `init` and a first frame.
    fresh: bool,
    stopping: bool,
}

/// A panic as the app reports it, in parts.
struct PanicReport {
    message: String,
    location: String,
    backtrace: String,
}

/// Splits "location\nmessage[\nstack backtrace:\n...]".
fn split_panic(text: &str) -> PanicReport {
    let (head, backtrace) = match text.split_once("\nstack backtrace:\n") {
        Some((head, backtrace)) => (head, backtrace.to_string()),
        None => (text, String::new()),
    };
    let (location, message) = head.split_once('\n').unwrap_or(("", head));
    PanicReport {
        message: message.to_string(),
        location: location.to_string(),
        backtrace,
    }
}

impl Orchestrator {
    fn emit(&mut self, event: RunEvent) {
        (self.on_event)(event);
    }

    fn spawn(&self, generation: Generation, start: Start) -> std::io::Result<Running> {
        let control = Arc::new(Control::default());
        let loaded = generation.loaded().clone();
        let (c, tx) = (control.clone(), self.tx.clone());
        let sink = self.checkpoint.clone();
        let recorder = self.recorder.clone();
        let thread = std::thread::Builder::new()
            .name(format!("relive-gen{}", generation.number()))
            .spawn(move || frames::run(generation, c, start, tx, sink, recorder))?;
        Ok(Running {
            generation: loaded,
            control,
            thread: Some(thread),
        })
    }

    /// Reports what closed generations left in the process.
    fn report_hazards(&mut self) {
        for h in crate::hazards::take() {
            self.emit(RunEvent::hazard(h));
        }
    }

    fn run(mut self, rx: Receiver<Msg>) {
        crate::hazards::known_thread();
        loop {
            // After what the last message did (a generation closed).
            self.report_hazards();
            let Ok(msg) = rx.recv() else { return };
            match msg {
                Msg::Offer(next) => self.offer(*next),
                Msg::Stop => {
                    self.stopping = true;
                    self.stop_if_idle();
                }
                Msg::Started {
                    generation,
                    resumed,
                    note,
                    taken_ns,
                } => {
                    self.fresh = false;
                    self.emit(RunEvent::Loaded {
                        generation,
                        resumed,
                        note,
                        taken_ns,
                    });
                }
                Msg::Report(event) => self.emit(event),
                Msg::NoCheckpoint { generation, reason } => {
                    self.emit(RunEvent::NoCheckpoint { generation, reason });
                }
                Msg::TrialPassed {
                    generation,
                    pause_us,
                    stages,
                    kept,
                } => self.passed(generation, pause_us, stages, &kept),
                Msg::TrialFailed {
                    generation,
                    stage,
                    message,
                    panicked,
                } => self.failed(generation, stage, message, panicked),
                Msg::Halted {
                    generation,
                    message,
                    fresh,
                } => {
                    self.fresh = fresh;
                    let report = split_panic(&message);
                    self.emit(RunEvent::Panicked {
                        generation,
                        message: report.message,
                        location: report.location,
                        backtrace: report.backtrace,
                    });
                }
                Msg::Postponed {
                    generation,
                    threads,
                } => {
                    self.emit(RunEvent::Postponed {
                        generation,
                        threads,
                    });
                }
                Msg::SwapAborted { target, message } => {
                    // Only the trial the aborted request was for; a newer
                    // one replaced it otherwise, and goes on.
                    if self.trial.as_ref().map(|t| t.running.number()) == Some(target)
                        && let Some(trial) = self.trial.take()
                    {
                        trial.running.retire();
                        self.emit(RunEvent::Refused {
                            generation: target,
                            reason: message,
                        });
                        self.offer_queued();
                    }
                }
                Msg::Ended { generation, by_app } => {
                    if self.active.as_ref().map(Running::number) != Some(generation) {
                        continue; // a generation replaced by a fresh start
                    }
                    if let Some(active) = self.active.take() {
                        active.retire();
                    }
                    if let Some(trial) = self.trial.take() {
                        trial.running.retire();
                    }
                    self.report_hazards();
                    self.emit(RunEvent::Exited { by_app });
                    return;
                }
            }
        }
    }

    fn offer(&mut self, next: Generation) {
        if self.stopping {
            return;
        }
        let Some(active) = &self.active else { return };
        if self.fresh {
            if self.trial.is_some() {
                // A swap is under way: decide after its verdict.
                self.queued = Some(next);
                return;
            }
            // The running state never got through `init`: start over.
            if active.control.post(Request::Stop).is_err() {
                self.queued = Some(next);
                return;
            }
            self.replace_fresh(next);
            return;
        }
        let plan = match plan(active.generation.layout(), next.layout()) {
            Ok(plan) => Arc::new(plan),
            Err(refusal) => {
                let generation = next.number();
                drop(next);
                self.emit(RunEvent::Refused {
                    generation,
                    reason: refusal.0,
                });
                return;
            }
        };
        let (handover_tx, handover_rx) = baton::baton();
        let start = Start::Adopt {
            handover: handover_rx,
            plan: plan.clone(),
        };
        let target = next.number();
        let running = match self.spawn(next, start) {
            Ok(running) => running,
            Err(err) => {
                self.emit(RunEvent::Refused {
                    generation: target,
                    reason: format!("cannot start a frame thread: {err}"),
                });
                return;
            }
        };
        let kept = self
            .pinned
            .iter()
            .map(|g| (g.number(), g.mapped()))
            .collect();
        let request = Request::Swap {
            handover: handover_tx,
            plan: plan.clone(),
            target,
            kept: Arc::new(kept),
        };
        match active.control.post(request) {
            Ok(previous) => {
                // A swap not yet served is replaced: its thread ends once
                // its request is dropped.
                drop(previous);
                if let Some(old) = self.trial.replace(Trial { running, plan }) {
                    old.running.retire();
                }
            }
            Err(request) => {
                // A handover is waiting for its verdict: offer again after it
                // (the thread ends without calling the library once the
                // request is dropped, and hands the generation back).
                drop(request);
                self.queued = running.retire();
            }
        }
    }

    /// Replaces a generation that never started properly with a fresh one.
    fn replace_fresh(&mut self, next: Generation) {
        if let Some(old) = self.active.take() {
            old.retire();
        }
        match self.spawn(next, Start::Fresh) {
            Ok(running) => self.active = Some(running),
            Err(err) => self.emit(RunEvent::Refused {
                generation: 0,
                reason: format!("cannot start a frame thread: {err}"),
            }),
        }
    }

    fn passed(&mut self, generation: u64, pause_us: u64, stages: Stages, kept: &[u64]) {
        let Some(trial) = self.trial.take() else {
            return;
        };
        if let Some(old) = self.active.take() {
            old.control.decide(Verdict::Commit);
            let library = old.generation.clone();
            old.retire();
            // Values in the state point into these: they stay mapped; the
            // others close now (their copies are removed).
            self.pinned.push(library);
            self.pinned.retain(|g| kept.contains(&g.number()));
        }
        // The old library is closed: the rollback checkpoint writes now.
        if let Some(checkpoint) = &self.checkpoint {
            checkpoint.release();
        }
        self.active = Some(trial.running);
        self.fresh = false;
        self.emit(RunEvent::Reloaded {
            generation,
            pause_us,
            stages,
            plan: Box::new((*trial.plan).clone()),
            kept_mapped: self.pinned.iter().map(|g| g.number()).collect(),
        });
        self.offer_queued();
        self.stop_if_idle();
    }

    fn failed(&mut self, generation: u64, stage: &'static str, message: String, panicked: bool) {
        let Some(trial) = self.trial.take() else {
            return;
        };
        trial.running.retire();
        let to = match &self.active {
            Some(active) => {
                active.control.decide(Verdict::Rollback);
                active.number()
            }
            None => 0,
        };
        if !panicked {
            // The state did not fit the new types: nothing of the new code ran.
            let reason = message
                .split_once('\n')
                .map_or(message.as_str(), |(_, m)| m);
            self.emit(RunEvent::Refused {
                generation,
                reason: reason.to_string(),
            });
            self.offer_queued();
            self.stop_if_idle();
            return;
        }
        let report = split_panic(&message);
        self.emit(RunEvent::RolledBack {
            from: generation,
            to,
            stage: stage.to_string(),
            message: report.message,
            location: report.location,
            backtrace: report.backtrace,
        });
        self.offer_queued();
        self.stop_if_idle();
    }

    fn offer_queued(&mut self) {
        if let Some(next) = self.queued.take() {
            self.offer(next);
        }
    }

    fn stop_if_idle(&mut self) {
        if !self.stopping {
            return;
        }
        self.queued = None;
        let Some(active) = &self.active else { return };
        // While a handover waits for its verdict, the stop comes after it.
        if let Ok(previous) = active.control.post(Request::Stop) {
            drop(previous);
            if let Some(trial) = self.trial.take() {
                trial.running.retire();
            }
        }
    }
}
