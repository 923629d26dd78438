//! [`Ctx`]: what a frame knows about the run (frame number, time since the
//! previous frame, reload generation) and the door to worker threads that
//! relive stops before a swap and that the new code starts again.

use std::sync::Arc;
use std::time::Duration;

use relive_abi::FrameInfo;

use crate::workers::{self, Signal};

/// The context of one call into the app.
#[derive(Debug)]
pub struct Ctx {
    info: FrameInfo,
}

impl Ctx {
    pub(crate) fn new(info: FrameInfo) -> Ctx {
        Ctx { info }
    }

    /// Number of frames run before this one, across all reloads.
    pub fn frame(&self) -> u64 {
        self.info.frame
    }

    /// Time since the start of the previous frame (zero for the first).
    pub fn dt(&self) -> Duration {
        Duration::from_nanos(self.info.dt_ns)
    }

    /// The reload generation of the code that is running: 1 for the first
    /// load, one more for each reload.
    pub fn generation(&self) -> u64 {
        self.info.generation
    }

    /// How long the program was paused for the last swap of code (`None`
    /// before the first reload).
    pub fn last_swap_pause(&self) -> Option<Duration> {
        (self.info.last_pause_ns > 0).then(|| Duration::from_nanos(self.info.last_pause_ns))
    }

    /// The bytes that arrived since the previous frame, as they came:
    /// typed keys with their escape sequences on a terminal, or what was
    /// piped or redirected into `relive run` otherwise. relive reads them
    /// itself, so none is lost or seen twice at a swap, and a frame that a
    /// rollback undoes gets its bytes again on the code it returns to.
    /// Empty outside frames (`init`, `reloaded`).
    pub fn input(&self) -> &[u8] {
        if self.info.input.is_null() || self.info.input_len == 0 {
            return &[];
        }
        // SAFETY: the host passes `input_len` bytes at `input` that stay
        // valid until the call that created this Ctx returns, and a Ctx
        // never outlives that call (the app only gets `&mut Ctx`).
        unsafe { std::slice::from_raw_parts(self.info.input, self.info.input_len) }
    }

    /// Starts a worker thread named `name` unless one by that name is already
    /// running in this generation; returns whether it started one.
    ///
    /// Before a swap relive asks every worker to stop ([`Worker::should_stop`]
    /// turns true and [`Worker::sleep`] wakes up) and joins it; the thread's
    /// code belongs to the old generation and ends with it. Because a second
    /// call with the same name does nothing, calling `spawn` from `frame` (or
    /// from both `init` and `reloaded`) starts the workers again on the new
    /// code after each reload. A panic in a worker ends that worker only.
    ///
    /// ```no_run
    /// # fn demo(ctx: &mut relive::Ctx) {
    /// ctx.spawn("ticker", |worker| {
    ///     while worker.sleep(std::time::Duration::from_millis(100)) {
    ///         // periodic work on the current code
    ///     }
    /// });
    /// # }
    /// ```
    pub fn spawn<F>(&mut self, name: &str, body: F) -> bool
    where
        F: FnOnce(&Worker) + Send + 'static,
    {
        workers::spawn(name, body)
    }
}

/// Handle a worker thread gets: tells it when to stop.
#[derive(Debug)]
pub struct Worker {
    pub(crate) name: Arc<str>,
    pub(crate) signal: Arc<Signal>,
}

impl Worker {
    /// The name given to [`Ctx::spawn`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True once relive wants this thread to finish (a swap or exit is
    /// waiting on it). Cheap enough to check in a tight loop.
    pub fn should_stop(&self) -> bool {
        self.signal.is_stopping()
    }

    /// Sleeps for `duration`, waking early when the worker should stop.
    /// Returns `false` if it should stop.
    pub fn sleep(&self, duration: Duration) -> bool {
        self.signal.sleep(duration)
    }
}
