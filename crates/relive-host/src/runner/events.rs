//! What a [`Runner`](super::Runner) reports: the events of the running
//! program and the timings of a swap. They cross from the runner process to
//! its supervisor, so they are serialisable.

use crate::plan::Plan;

/// Timings of the swap pause, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stages {
    /// From the end of the last frame of the old code to the start of
    /// stopping its workers: taking the request at the frame boundary.
    pub boundary_us: u64,
    /// Stopping and joining the old generation's workers.
    pub stop_workers_us: u64,
    /// Not in the pause: the `fork` that started the checkpoint a rollback
    /// would restore, at the frame boundary before the pause.
    pub checkpoint_us: u64,
    /// `App::unloading` on the old code and finding the old generations the
    /// state points into.
    pub unloading_us: u64,
    /// The deep copy kept for a rollback.
    pub snapshot_us: u64,
    /// A migration: the old code saving the state by name.
    pub save_us: u64,
    /// From the old thread's handover to the new thread's receipt.
    pub handover_us: u64,
    /// The new generation taking the state over (moving bytes, or loading
    /// the saved state for a migration).
    pub adopt_us: u64,
    /// `App::reloaded`.
    pub reloaded_us: u64,
}

/// What happened to the running program.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RunEvent {
    /// A generation started without a previous one: fresh (`init`
    /// returned) or resumed from a checkpoint after a crash.
    Loaded {
        /// Its number.
        generation: u64,
        /// Whether the state came from a checkpoint.
        resumed: bool,
        /// Why a checkpoint could not be used, if one was given.
        note: String,
        /// When the restored state was taken (`CLOCK_MONOTONIC`, ns; see
        /// [`crate::checkpoint::now_ns`]).
        taken_ns: Option<u64>,
    },
    /// The state could not be checkpointed for crash recovery.
    NoCheckpoint {
        /// The generation whose state was saved.
        generation: u64,
        /// Why.
        reason: String,
    },
    /// A new generation runs, with the state.
    Reloaded {
        /// Its number.
        generation: u64,
        /// From the end of the last old frame to the start of the first new one.
        pause_us: u64,
        /// Where the pause went.
        stages: Stages,
        /// How the state moved.
        plan: Box<Plan>,
        /// The older generations kept mapped because values in the state
        /// point into them, oldest first.
        kept_mapped: Vec<u64>,
    },
    /// A library was not swapped in; the running code goes on.
    Refused {
        /// The refused generation's number.
        generation: u64,
        /// Why, naming the field or check.
        reason: String,
    },
    /// The new code panicked during its trial; the previous code runs again
    /// with the state from before the reload.
    RolledBack {
        /// The generation that failed.
        from: u64,
        /// The generation that runs again.
        to: u64,
        /// What failed: `adopt`, `reloaded` or `frame`.
        stage: String,
        /// The panic's message.
        message: String,
        /// Where it panicked (`file:line:column`).
        location: String,
        /// The backtrace, when `RUST_BACKTRACE` asked for one.
        backtrace: String,
    },
    /// The running code panicked with no previous code to return to; the
    /// program is paused with its state until new code arrives.
    Panicked {
        /// The generation that panicked.
        generation: u64,
        /// The panic's message.
        message: String,
        /// Where it panicked.
        location: String,
        /// The backtrace, when `RUST_BACKTRACE` asked for one.
        backtrace: String,
    },
    /// A swap waits for worker threads that do not stop.
    Postponed {
        /// The generation whose workers do not stop.
        generation: u64,
        /// Their names.
        threads: String,
    },
    /// A generation's code left something in the process when its library
    /// was closed (see [`crate::hazards`]).
    Hazard {
        /// `"signal_handler"`, `"thread"` or `"fd"`.
        kind: String,
        /// The generation that left it.
        generation: u64,
        /// The signal, the thread's name or the file's path.
        detail: String,
        /// `"restored"`, `"kept mapped"` or `"reported"`.
        action: String,
    },
    /// A loop began: the recorded frames from `from_frame` to `to_frame`
    /// (excluded) replay over and over.
    LoopStarted {
        /// The time asked for, in milliseconds.
        millis: u64,
        /// The first replayed frame (the state before it is restored).
        from_frame: u64,
        /// The frame that was next live when the loop began.
        to_frame: u64,
    },
    /// A pass of the loop began (1 for the first), with this generation's code.
    LoopPass {
        /// Its number.
        pass: u64,
        /// The generation that runs it.
        generation: u64,
    },
    /// A replayed frame's state differs from the one the same code made
    /// live: the app reads something relive does not record.
    LoopDiverged {
        /// The frame boundary where the saved states differ.
        frame: u64,
    },
    /// The loop ended; the program goes on live from `frame`.
    LoopEnded {
        /// The next frame to run.
        frame: u64,
        /// Why, when it was not `relive live` (a state that no longer loads).
        reason: String,
    },
    /// The program went back in time and goes on live from `to_frame`.
    Rewound {
        /// The time asked for, in milliseconds.
        millis: u64,
        /// The next frame to run.
        to_frame: u64,
    },
    /// A loop, live or rewind request that cannot be served.
    ReplayRefused {
        /// Why.
        reason: String,
    },
    /// The program ended.
    Exited {
        /// Whether the app asked for it (`Flow::Exit`) rather than a stop request.
        by_app: bool,
    },
}

impl RunEvent {
    /// The event for a hazard found when a generation was closed.
    pub fn hazard(h: crate::hazards::Hazard) -> RunEvent {
        RunEvent::Hazard {
            kind: h.kind.to_string(),
            generation: h.generation,
            detail: h.detail,
            action: h.action.to_string(),
        }
    }
}
