//! Decides when to start a build from the times of source changes and builds:
//! a pure policy with no threads, sleeps or clock of its own.
//!
//! A burst of saves makes one build once the files stay quiet (but never later
//! than a maximum wait after the burst began); saves during a build make exactly
//! one more build of the latest sources after the running one finishes. Saves
//! that keep coming while a build runs are a storm (an editor's auto-save, a
//! generator, a `git checkout`): from then until the next build starts, the
//! quiet time and the maximum wait are the longer storm ones, so a storm of
//! any length makes at most two builds, and a single save still builds after
//! the short quiet time.

use std::time::{Duration, Instant};

/// Build scheduling state, driven by the caller's clock.
#[derive(Debug, Clone)]
pub struct Debounce {
    /// How long the files must stay unchanged before a build.
    quiet: Duration,
    /// The longest a burst of changes can hold a build back.
    max_wait: Duration,
    /// Quiet time and maximum wait during a storm.
    storm_quiet: Duration,
    storm_max_wait: Duration,
    /// A change arrived while a build ran, and no build has started since.
    storm: bool,
    /// Changes not yet covered by a started build.
    pending: Option<Burst>,
    /// A build is running.
    building: bool,
}

/// A run of changes that no started build has seen yet.
#[derive(Debug, Clone, Copy)]
struct Burst {
    /// When the burst began (or, for changes made during a build, when that build ended).
    first: Instant,
    /// The latest change.
    last: Instant,
}

/// What the caller should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing to do until a file changes or the running build ends.
    Idle,
    /// A build will be due at this time unless more changes push it back.
    WaitUntil(Instant),
    /// Start a build now (then call [`Debounce::build_started`]).
    Build,
}

impl Debounce {
    /// Builds after `quiet` without changes, and at most `max_wait` after a
    /// burst began; during a storm, after `storm_quiet` and at most
    /// `storm_max_wait`.
    pub fn new(
        quiet: Duration,
        max_wait: Duration,
        storm_quiet: Duration,
        storm_max_wait: Duration,
    ) -> Self {
        Self {
            quiet,
            max_wait,
            storm_quiet,
            storm_max_wait,
            storm: false,
            pending: None,
            building: false,
        }
    }

    /// Records that a relevant file changed at `now`.
    pub fn changed(&mut self, now: Instant) {
        if self.building {
            self.storm = true;
        }
        self.pending = Some(match self.pending {
            Some(burst) => Burst {
                first: burst.first,
                last: burst.last.max(now),
            },
            None => Burst {
                first: now,
                last: now,
            },
        });
    }

    /// Records that the caller started a build; it covers every change so far.
    pub fn build_started(&mut self) {
        self.pending = None;
        self.building = true;
        self.storm = false;
    }

    /// Records that the running build ended at `now`, whether it succeeded or not.
    pub fn build_finished(&mut self, now: Instant) {
        self.building = false;
        // Changes made during the build start their maximum wait now, so the
        // next build still waits for them to go quiet.
        if let Some(burst) = &mut self.pending {
            burst.first = burst.first.max(now);
        }
    }

    /// Says what to do at `now`; never [`Next::Build`] while a build runs.
    pub fn next(&self, now: Instant) -> Next {
        if self.building {
            return Next::Idle;
        }
        let Some(burst) = self.pending else {
            return Next::Idle;
        };
        let (quiet, max_wait) = if self.storm {
            (self.storm_quiet, self.storm_max_wait)
        } else {
            (self.quiet, self.max_wait)
        };
        // A deadline too far away to represent never comes.
        let due = match (
            burst.last.checked_add(quiet),
            burst.first.checked_add(max_wait),
        ) {
            (Some(a), Some(b)) => a.min(b),
            (Some(due), None) | (None, Some(due)) => due,
            (None, None) => return Next::Idle,
        };
        if now >= due {
            Next::Build
        } else {
            Next::WaitUntil(due)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: u64 = 50;
    const MAX_WAIT: u64 = 500;
    const STORM_QUIET: u64 = 300;
    const STORM_MAX_WAIT: u64 = 10_000;
    const BUILD_MS: u64 = 200;
    const HORIZON: u64 = 8_000;

    fn policy() -> Debounce {
        Debounce::new(
            Duration::from_millis(QUIET),
            Duration::from_millis(MAX_WAIT),
            Duration::from_millis(STORM_QUIET),
            Duration::from_millis(STORM_MAX_WAIT),
        )
    }

    /// Runs a fake clock in 1 ms steps: applies the changes at their offsets,
    /// ends each build `BUILD_MS` after it starts, and starts a build whenever
    /// `next` says so. Returns the offsets at which builds started.
    fn simulate(changes: &[u64]) -> Vec<u64> {
        let base = Instant::now();
        let at = |ms: u64| base + Duration::from_millis(ms);
        let mut debounce = policy();
        let mut builds = Vec::new();
        let mut build_ends = None;
        for t in 0..HORIZON {
            if build_ends == Some(t) {
                debounce.build_finished(at(t));
                build_ends = None;
            }
            for _ in changes.iter().filter(|&&c| c == t) {
                debounce.changed(at(t));
            }
            match debounce.next(at(t)) {
                Next::Build => {
                    assert!(build_ends.is_none(), "build due at {t} while building");
                    debounce.build_started();
                    builds.push(t);
                    build_ends = Some(t + BUILD_MS);
                }
                Next::WaitUntil(due) => assert!(due > at(t), "wait until the past at {t}"),
                Next::Idle => {}
            }
        }
        builds
    }

    fn every(step: u64, from: u64, count: u64) -> Vec<u64> {
        (0..count).map(|i| from + i * step).collect()
    }

    #[test]
    fn builds_follow_the_policy() {
        let cases: Vec<(&str, Vec<u64>, Vec<u64>)> = vec![
            ("no change", vec![], vec![]),
            ("single change", vec![0], vec![QUIET]),
            // 50 changes 5 ms apart: the last is at 245.
            ("burst of 50", every(5, 0, 50), vec![245 + QUIET]),
            // Changes every 10 ms for 1 s: the first build is forced at max_wait;
            // the rest, partly made during that build, make one more build
            // once the storm has been quiet for the storm quiet time.
            (
                "burst longer than max_wait",
                every(10, 0, 101),
                vec![MAX_WAIT, 1_000 + STORM_QUIET],
            ),
            // A change during the build: one more build, a storm quiet time
            // after that change.
            (
                "change during build",
                vec![0, 100],
                vec![QUIET, 100 + STORM_QUIET],
            ),
            (
                "late change during build",
                vec![0, 245],
                vec![QUIET, 245 + STORM_QUIET],
            ),
            (
                "many changes during build",
                [vec![0], every(10, 60, 19)].concat(),
                vec![QUIET, 240 + STORM_QUIET],
            ),
            // 40 saves a second for 3 s with builds shorter than the gaps'
            // sum: still two builds, the last one of the final sources.
            (
                "save storm",
                every(25, 0, 120),
                vec![MAX_WAIT, 2_975 + STORM_QUIET],
            ),
            // After the storm's build, a single save is quick again.
            (
                "single save after a storm",
                [every(25, 0, 40), vec![4_000]].concat(),
                vec![MAX_WAIT, 975 + STORM_QUIET, 4_000 + QUIET],
            ),
            ("simultaneous changes", vec![7, 7, 7], vec![7 + QUIET]),
            (
                "two separate bursts",
                vec![0, 1_000],
                vec![QUIET, 1_000 + QUIET],
            ),
        ];
        for (name, changes, want) in cases {
            assert_eq!(simulate(&changes), want, "case: {name}");
        }
    }

    #[test]
    fn next_reports_the_deadline() {
        let base = Instant::now();
        let ms = |n: u64| base + Duration::from_millis(n);
        let mut d = policy();
        assert_eq!(d.next(ms(0)), Next::Idle);
        d.changed(ms(0));
        assert_eq!(d.next(ms(10)), Next::WaitUntil(ms(QUIET)));
        d.changed(ms(30));
        assert_eq!(d.next(ms(40)), Next::WaitUntil(ms(30 + QUIET)));
        assert_eq!(d.next(ms(30 + QUIET)), Next::Build);
        d.build_started();
        assert_eq!(d.next(ms(100)), Next::Idle);
        d.changed(ms(100));
        assert_eq!(d.next(ms(10_000)), Next::Idle, "never build while building");
        d.build_finished(ms(120));
        assert_eq!(d.next(ms(120)), Next::WaitUntil(ms(100 + STORM_QUIET)));
        assert_eq!(d.next(ms(100 + STORM_QUIET)), Next::Build);
        d.build_started();
        d.build_finished(ms(400));
        assert_eq!(
            d.next(ms(1_000_000)),
            Next::Idle,
            "idle forever without changes"
        );
    }
}
