//! Worker threads of one generation: started by name, asked to stop
//! cooperatively, and joined with a deadline before a swap.
//!
//! The registry is a static of this crate, and this crate is linked into each
//! app library, so every generation has its own registry and its threads run
//! only its own code.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ctx::Worker;

/// Stop request and completion of one worker.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    stop: AtomicBool,
    finished: Mutex<bool>,
    changed: Condvar,
}

impl Signal {
    pub(crate) fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut guard = lock(&self.finished);
        while !self.is_stopping() {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            guard = self
                .changed
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    fn request_stop(&self) {
        let _guard = lock(&self.finished);
        self.stop.store(true, Ordering::Relaxed);
        self.changed.notify_all();
    }

    fn has_finished(&self) -> bool {
        *lock(&self.finished)
    }

    fn finish(&self) {
        *lock(&self.finished) = true;
        self.changed.notify_all();
    }

    /// Waits until the worker finished or `deadline` passed.
    fn wait_finished(&self, deadline: Instant) -> bool {
        let mut finished = lock(&self.finished);
        while !*finished {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            finished = self
                .changed
                .wait_timeout(finished, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

struct Entry {
    name: Arc<str>,
    signal: Arc<Signal>,
    handle: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Registry {
    entries: Vec<Entry>,
    /// Set while a stop is in progress: no new workers start until the code
    /// runs again (`resume`).
    stopping: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    stopping: false,
});

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn spawn<F>(name: &str, body: F) -> bool
where
    F: FnOnce(&Worker) + Send + 'static,
{
    let mut registry = lock(&REGISTRY);
    // A worker that has returned no longer holds its name.
    registry.entries.retain_mut(|e| {
        if !e.signal.has_finished() {
            return true;
        }
        if let Some(handle) = e.handle.take() {
            // The body's panic was caught inside the thread.
            let _ = handle.join();
        }
        false
    });
    if registry.stopping || registry.entries.iter().any(|e| &*e.name == name) {
        return false;
    }
    let name: Arc<str> = Arc::from(name);
    let signal = Arc::new(Signal::default());
    let worker = Worker {
        name: name.clone(),
        signal: signal.clone(),
    };
    let spawned = std::thread::Builder::new()
        .name(format!("relive-worker-{name}"))
        .spawn(move || {
            let result = crate::panics::boundary(AssertUnwindSafe(|| body(&worker)));
            if result.is_err() {
                eprintln!(
                    "relive: worker thread '{}' panicked: {}",
                    worker.name,
                    crate::panics::take_message()
                );
            }
            worker.signal.finish();
        });
    match spawned {
        Ok(handle) => {
            registry.entries.push(Entry {
                name,
                signal,
                handle: Some(handle),
            });
            true
        }
        Err(err) => {
            eprintln!("relive: could not start worker thread '{name}': {err}");
            false
        }
    }
}

/// Asks every worker to stop and joins them. On time-out returns the names of
/// those still running; they stay registered and a later call waits again.
pub(crate) fn stop_all(timeout: Duration) -> Result<(), Vec<String>> {
    let deadline = Instant::now() + timeout;
    let mut registry = lock(&REGISTRY);
    registry.stopping = true;
    for entry in &registry.entries {
        entry.signal.request_stop();
    }
    let mut late = Vec::new();
    for entry in &mut registry.entries {
        if entry.signal.wait_finished(deadline) {
            if let Some(handle) = entry.handle.take() {
                // The body's panic was caught inside the thread.
                let _ = handle.join();
            }
        } else {
            late.push(entry.name.to_string());
        }
    }
    registry.entries.retain(|e| e.handle.is_some());
    if late.is_empty() { Ok(()) } else { Err(late) }
}

/// Lets workers start again (the generation runs frames again).
pub(crate) fn resume() {
    lock(&REGISTRY).stopping = false;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn workers_stop_on_request_and_restart_by_name() {
        let (tx, rx) = mpsc::channel();
        assert!(spawn("t1", move |w| {
            tx.send(()).expect("test alive");
            while w.sleep(Duration::from_secs(10)) {}
        }));
        rx.recv_timeout(Duration::from_secs(5))
            .expect("worker started");
        assert!(!spawn("t1", |_| {}), "same name does not start twice");
        assert_eq!(stop_all(Duration::from_secs(5)), Ok(()));
        assert!(!spawn("t1", |_| {}), "no start while stopped");
        resume();
        let (done_tx, done_rx) = mpsc::channel();
        assert!(spawn("t1", move |_| done_tx.send(()).expect("test alive")));
        done_rx.recv_timeout(Duration::from_secs(5)).expect("ran");
        // Once it has returned, the name is free again.
        let until = Instant::now() + Duration::from_secs(5);
        while !spawn("t1", |_| {}) {
            assert!(Instant::now() < until, "a finished worker frees its name");
            std::thread::yield_now();
        }
        assert_eq!(stop_all(Duration::from_secs(5)), Ok(()));
        resume();
    }
}
