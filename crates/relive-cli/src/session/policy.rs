//! The supervisor's crash policy, in one place: which generations ran,
//! which crashed, and where the program goes back to after a crash.
//!
//! A crash (the runner process ended by a signal, or exited while new code
//! was on trial) is charged to the newest generation sent to the runner.
//! That generation is marked and never started again; new code gets a new
//! number, so it is the only way forward. The program comes back on the
//! newest generation that ran and has not crashed, with the newest
//! checkpoint; with none left, it waits for new code, keeping the
//! checkpoint. So a crash never loops: each restart has one generation
//! fewer to try.

use std::collections::BTreeSet;

/// Where to go after a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterCrash {
    /// Start this generation again, from the checkpoint.
    BackTo(u64),
    /// No generation is left to run: wait for new code.
    WaitForCode,
}

/// The generations' history as far as crashes are concerned.
#[derive(Debug, Default)]
pub struct CrashPolicy {
    /// Generations that ran (started, or passed their trial), oldest first.
    ran: Vec<u64>,
    /// Generations that crashed.
    crashed: BTreeSet<u64>,
}

impl CrashPolicy {
    /// `generation` runs (it started, or passed its trial).
    pub fn ran(&mut self, generation: u64) {
        self.ran.retain(|&g| g != generation);
        self.ran.push(generation);
    }

    /// Whether no generation has run yet.
    pub fn none_ran(&self) -> bool {
        self.ran.is_empty()
    }

    /// Whether `generation` is the established one: it ran and is the
    /// newest that did.
    pub fn is_established(&self, generation: Option<u64>) -> bool {
        generation.is_some() && self.ran.last().copied() == generation
    }

    /// The runner crashed while `failed` was the newest generation sent to
    /// it. `available` says whether a generation's library is still staged.
    pub fn crashed(&mut self, failed: u64, available: impl Fn(u64) -> bool) -> AfterCrash {
        self.crashed.insert(failed);
        self.ran
            .iter()
            .rev()
            .copied()
            .find(|g| !self.crashed.contains(g) && available(*g))
            .map_or(AfterCrash::WaitForCode, AfterCrash::BackTo)
    }

    /// The generation a crash of `generation` would go back to.
    pub fn previous(&self, generation: u64) -> Option<u64> {
        self.ran
            .iter()
            .rev()
            .copied()
            .find(|&g| g != generation && !self.crashed.contains(&g))
    }

    /// Whether `generation` crashed (and so must not start again).
    pub fn has_crashed(&self, generation: u64) -> bool {
        self.crashed.contains(&generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_goes_back_to_the_newest_generation_that_has_not_crashed() {
        let mut policy = CrashPolicy::default();
        policy.ran(1);
        // A crash on trial: generation 2 never ran.
        assert_eq!(policy.crashed(2, |_| true), AfterCrash::BackTo(1));
        policy.ran(3);
        // A crash long after a swap: 3 ran, and is charged with it.
        assert_eq!(policy.crashed(3, |_| true), AfterCrash::BackTo(1));
        // The generation gone back to crashes too: nothing is left, no loop.
        assert_eq!(policy.crashed(1, |_| true), AfterCrash::WaitForCode);
        assert!(policy.has_crashed(1) && policy.has_crashed(3) && !policy.has_crashed(4));
        // New code runs; a crash of it goes back to nothing crashed before.
        policy.ran(4);
        assert!(policy.is_established(Some(4)));
        assert_eq!(policy.previous(4), None);
        assert_eq!(policy.crashed(4, |_| true), AfterCrash::WaitForCode);
    }

    #[test]
    fn a_generation_whose_library_is_gone_is_skipped() {
        let mut policy = CrashPolicy::default();
        policy.ran(1);
        policy.ran(2);
        assert_eq!(policy.previous(2), Some(1));
        assert_eq!(policy.crashed(3, |g| g != 2), AfterCrash::BackTo(1));
    }
}
