//! The handover of the state from the old generation's frame thread to the
//! new one's, without a wake-up inside the swap pause.
//!
//! Waking a thread parked on a futex costs 25–60 µs on a small virtual
//! machine (its CPU has to leave a halt), which is most of a swap pause. So
//! the old thread announces, one frame boundary ahead, when it expects to
//! hand over ([`Pass::announce`]); the new thread sleeps on a timer until
//! shortly before then, spins on an atomic flag until the handover arrives
//! ([`Pass::give`]) or the announced window closes, and parks again.
//! It spins only in that window: a thread of the process spinning on
//! another CPU makes every copy-on-write fault after a checkpoint's `fork`
//! wait for a TLB shootdown on that CPU. Dropping the [`Pass`] withdraws
//! the swap: the receiver's [`Catch::take`] returns `None`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::control::Handover;

/// How long before the announced time the receiver starts spinning: its
/// timer's slack (50 µs) and wake-up, with room to spare.
const LEAD: Duration = Duration::from_micros(300);

/// The swap was announced at least once.
const ANNOUNCED: u8 = 1;
/// The handover is in the slot.
const GIVEN: u8 = 2;
/// The sender is gone without giving it.
const WITHDRAWN: u8 = 4;
/// The receiver is gone.
const DROPPED: u8 = 8;
/// The receiver waits for the handover (it has nothing else left to do).
const WAITING: u8 = 16;

/// When the receiver spins.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    until: Instant,
}

#[derive(Default)]
struct Slot {
    handover: Option<Handover>,
    window: Option<Window>,
}

#[derive(Default)]
struct Shared {
    flags: AtomicU8,
    slot: Mutex<Slot>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn has(&self, flag: u8) -> bool {
        self.flags.load(Ordering::Acquire) & flag != 0
    }
}

/// The old generation's end.
pub(super) struct Pass(Arc<Shared>);

/// The new generation's end.
pub(super) struct Catch(Arc<Shared>);

pub(super) fn baton() -> (Pass, Catch) {
    let shared = Arc::new(Shared::default());
    (Pass(shared.clone()), Catch(shared))
}

impl Pass {
    /// Tells the receiver that the handover is expected at `at`, give or
    /// take `within` after it: it spins from just before `at` to
    /// `at + within`. A later call replaces the window.
    pub fn announce(&self, at: Instant, within: Duration) {
        let mut slot = self.0.lock();
        slot.window = Some(Window {
            from: at.checked_sub(LEAD).unwrap_or(at),
            until: at + within,
        });
        self.0.flags.fetch_or(ANNOUNCED, Ordering::AcqRel);
        drop(slot);
        self.0.changed.notify_one();
    }

    /// Whether [`announce`](Self::announce) was called.
    pub fn announced(&self) -> bool {
        self.0.has(ANNOUNCED)
    }

    /// Whether the receiver is in [`Catch::take`]: a handover now is not
    /// kept waiting for whatever it did first.
    pub fn receiver_waits(&self) -> bool {
        self.0.has(WAITING)
    }

    /// Gives the handover to the receiver. False when the receiver is gone
    /// (the handover is dropped).
    pub fn give(&self, handover: Handover) -> bool {
        let mut slot = self.0.lock();
        if self.0.has(DROPPED) {
            return false;
        }
        slot.handover = Some(handover);
        self.0.flags.fetch_or(GIVEN, Ordering::Release);
        drop(slot);
        self.0.changed.notify_one();
        true
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let slot = self.0.lock();
        self.0.flags.fetch_or(WITHDRAWN, Ordering::Release);
        drop(slot);
        self.0.changed.notify_one();
    }
}

impl Catch {
    /// Blocks until the handover arrives (`None`: withdrawn), spinning in
    /// the announced window.
    pub fn take(&self) -> Option<Handover> {
        self.0.flags.fetch_or(WAITING, Ordering::Release);
        let mut slot = self.0.lock();
        loop {
            if let Some(handover) = slot.handover.take() {
                return Some(handover);
            }
            if self.0.has(WITHDRAWN) {
                return None;
            }
            let Some(window) = slot.window else {
                slot = self
                    .0
                    .changed
                    .wait(slot)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let now = Instant::now();
            if now >= window.until {
                slot.window = None;
            } else if now < window.from {
                slot = self
                    .0
                    .changed
                    .wait_timeout(slot, window.from - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            } else {
                drop(slot);
                self.spin(window.until);
                slot = self.0.lock();
            }
        }
    }

    /// Spins until the handover is given or withdrawn, or `until`.
    fn spin(&self, until: Instant) {
        loop {
            for _ in 0..256 {
                if self.0.has(GIVEN | WITHDRAWN) {
                    return;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= until {
                return;
            }
        }
    }
}

impl Drop for Catch {
    fn drop(&mut self) {
        self.0.flags.fetch_or(DROPPED, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Stages;
    use crate::runner::clock::Clock;

    fn handover(size: usize) -> Handover {
        Handover {
            state: std::ptr::null(),
            size,
            saved: relive_abi::Bytes {
                ptr: std::ptr::null(),
                len: 0,
            },
            stages: Stages::default(),
            clock: Clock::default(),
            last_frame_end: Instant::now(),
            sent: Instant::now(),
            kept: Vec::new(),
        }
    }

    /// Runs `take` on a thread of its own; its result comes on the channel.
    fn receive(catch: Catch) -> std::sync::mpsc::Receiver<Option<usize>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(catch.take().map(|h| h.size));
        });
        rx
    }

    /// What the receiver got, within a deadline (a hang fails the test).
    fn taken(rx: &std::sync::mpsc::Receiver<Option<usize>>) -> Option<usize> {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the receiver returned within 10 s")
    }

    /// Until the receiver is in `take`.
    fn until_waiting(pass: &Pass) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pass.receiver_waits() {
            assert!(Instant::now() < deadline, "the receiver never waited");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_handover_given_before_the_take_is_taken() {
        let (pass, catch) = baton();
        assert!(pass.give(handover(7)));
        assert_eq!(catch.take().map(|h| h.size), Some(7));
    }

    #[test]
    fn a_spinning_receiver_takes_the_handover() {
        let (pass, catch) = baton();
        let rx = receive(catch);
        until_waiting(&pass);
        assert!(!pass.announced());
        let at = Instant::now() + Duration::from_millis(10);
        pass.announce(at, Duration::from_secs(5));
        assert!(pass.announced());
        // Inside the window: the receiver spins.
        while Instant::now() < at {
            std::thread::yield_now();
        }
        assert!(pass.give(handover(3)));
        assert_eq!(taken(&rx), Some(3));
    }

    #[test]
    fn a_receiver_whose_spin_ran_out_parks_and_still_takes_it() {
        let (pass, catch) = baton();
        let rx = receive(catch);
        until_waiting(&pass);
        let until = Instant::now() + Duration::from_millis(1);
        pass.announce(Instant::now(), Duration::from_millis(1));
        while Instant::now() < until + Duration::from_millis(5) {
            std::thread::yield_now();
        }
        assert!(pass.give(handover(5)));
        assert_eq!(taken(&rx), Some(5));
    }

    #[test]
    fn a_withdrawn_swap_ends_a_spinning_or_parked_receiver() {
        // Parked, waiting for the window, in it.
        for (ahead, within) in [(0, 0), (5000, 5000), (0, 5000)] {
            let (pass, catch) = baton();
            let rx = receive(catch);
            until_waiting(&pass);
            pass.announce(
                Instant::now() + Duration::from_millis(ahead),
                Duration::from_millis(within),
            );
            drop(pass);
            assert_eq!(taken(&rx), None);
        }
    }

    #[test]
    fn a_give_to_a_dropped_receiver_is_refused() {
        let (pass, catch) = baton();
        drop(catch);
        assert!(!pass.give(handover(9)));
    }
}
