//! The mailbox between the orchestrator and one generation's frame thread:
//! a flag the frame loop checks at every frame boundary (one relaxed atomic
//! load, no lock), the request behind it, and the verdict the old generation
//! waits for after it handed its state over.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::plan::Plan;

use super::Stages;
use super::baton::Pass;
use super::clock::Clock;

/// What the orchestrator wants from a frame thread.
pub(super) enum Request {
    /// Hand the state to the next generation's thread.
    Swap {
        handover: Pass,
        plan: Arc<Plan>,
        /// The generation that takes over.
        target: u64,
        /// The older generations kept mapped, with their address ranges.
        kept: Arc<Vec<(u64, (u64, u64))>>,
    },
    /// Drop the state and end.
    Stop,
}

/// The outcome of the new generation's trial, for the old generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Commit,
    Rollback,
}

/// The old generation's state, given to the new generation's thread.
pub(super) struct Handover {
    pub state: *const u8,
    pub size: usize,
    /// For a migration: the state saved by name, in the old library's
    /// buffer.
    pub saved: relive_abi::Bytes,
    /// The old side's stages of the pause.
    pub stages: Stages,
    pub clock: Clock,
    pub last_frame_end: Instant,
    pub sent: Instant,
    /// The old generations that the state's values point into (by number):
    /// they stay mapped.
    pub kept: Vec<u64>,
}

// SAFETY: `state` and `saved` point into the old generation's library, which
// stays mapped (and makes no other call) until the trial's verdict; only the
// receiving thread reads them.
unsafe impl Send for Handover {}

#[derive(Default)]
struct Inner {
    request: Option<Request>,
    verdict: Option<Verdict>,
    /// The frame thread has handed its state over and waits for the verdict:
    /// no other request can be served until then.
    handing_over: bool,
}

/// Shared between the orchestrator and one frame thread.
#[derive(Default)]
pub(super) struct Control {
    pending: AtomicBool,
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a request waits (the per-frame check).
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// Posts a request, replacing (and returning) one not yet served. While
    /// a handover waits for its verdict the request is given back instead.
    pub fn post(&self, request: Request) -> Result<Option<Request>, Request> {
        let mut inner = self.lock();
        if inner.handing_over {
            return Err(request);
        }
        let previous = inner.request.replace(request);
        self.pending.store(true, Ordering::Release);
        self.changed.notify_all();
        Ok(previous)
    }

    /// Returns a taken request that could not be served yet, unless a newer
    /// one arrived meanwhile (then the taken one is dropped).
    pub fn put_back(&self, request: Request) {
        let mut inner = self.lock();
        if inner.request.is_none() {
            inner.request = Some(request);
        }
        self.pending.store(true, Ordering::Release);
        self.changed.notify_all();
    }

    /// The frame thread is about to hand its state over for the request it
    /// took. Refused (false) when a newer request arrived meanwhile: the taken
    /// one is stale and must be dropped.
    pub fn begin_handover(&self) -> bool {
        let mut inner = self.lock();
        if inner.request.is_some() {
            return false;
        }
        inner.handing_over = true;
        true
    }

    /// The handover did not happen after all (the receiver was gone).
    pub fn end_handover(&self) {
        self.lock().handing_over = false;
    }

    /// The waiting request, if any, without blocking.
    pub fn take(&self) -> Option<Request> {
        let mut inner = self.lock();
        self.pending.store(false, Ordering::Release);
        inner.request.take()
    }

    /// Blocks until a request arrives (a halted generation).
    pub fn wait_request(&self) -> Request {
        let mut inner = self.lock();
        loop {
            if let Some(request) = inner.request.take() {
                self.pending.store(false, Ordering::Release);
                return request;
            }
            inner = self
                .changed
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Gives the trial's outcome to the old generation.
    pub fn decide(&self, verdict: Verdict) {
        self.lock().verdict = Some(verdict);
        self.changed.notify_all();
    }

    /// Blocks until the trial's outcome is known.
    pub fn wait_verdict(&self) -> Verdict {
        let mut inner = self.lock();
        loop {
            if let Some(verdict) = inner.verdict.take() {
                inner.handing_over = false;
                return verdict;
            }
            inner = self
                .changed
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}
