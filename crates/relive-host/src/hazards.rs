//! Process-wide things a generation's code leaves behind when its library
//! is closed: signal handlers, threads it started itself, descriptors.
//!
//! A generation's library is mapped into the whole process, and what its
//! code registers with the process outlives the library: a signal handler
//! whose code is unmapped crashes the program at the next signal (a resize
//! after a reload kills a crossterm app). So relive takes snapshots of the
//! process (signal dispositions, `/proc/self/task`, `/proc/self/fd`) before
//! each generation is opened, and checks again when one is closed:
//! - a signal handler inside the closing generation's mapping is restored
//!   to what relive found before the first generation ran; where a newer
//!   handler replaced one of the closing generation's (and may chain to it,
//!   as signal-hook does), the generation is kept mapped instead;
//! - a thread the generation started itself (not a `ctx.spawn` worker, not
//!   a thread of relive's) that still runs keeps the generation mapped: its
//!   code is in there;
//! - descriptors it opened and that are still open after it is closed are
//!   reported (the state may hold them, so relive does not close them).
//!
//! Each finding is queued once per kind and thing as a [`Hazard`]; the
//! runner turns the queue into events ([`take`]). The process-wide record
//! is a static: what it describes is process-wide too.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

mod decide;
mod process;

pub(crate) use decide::{SignalVerdict, judge_signal};
use process::{Disposition, Snapshot};

/// One thing a generation left in the process, and what relive did about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hazard {
    /// `"signal_handler"`, `"thread"` or `"fd"`.
    pub kind: &'static str,
    /// The generation that left it.
    pub generation: u64,
    /// The signal (`"SIGWINCH"`), the thread's name or the file's path.
    pub detail: String,
    /// `"restored"`, `"kept mapped"` or `"reported"`.
    pub action: &'static str,
}

/// What is known of one opened generation.
#[derive(Default)]
struct Record {
    /// Its generation number.
    number: u64,
    /// Where its library is mapped.
    ranges: Vec<Range<usize>>,
    /// Signals for which one of its handlers was ever seen installed.
    installed: BTreeSet<i32>,
    /// Threads and descriptors before it was opened.
    before: Snapshot,
}

#[derive(Default)]
struct Registry {
    /// Every signal's disposition before the first generation was opened.
    baseline: Option<BTreeMap<i32, Disposition>>,
    /// Opened generations, by the order they were opened in (numbers can
    /// repeat: several runners in one process).
    generations: BTreeMap<u64, Record>,
    opened: u64,
    /// Threads of relive's own (orchestrator, frame threads).
    known_threads: HashSet<i32>,
    reported: HashSet<(&'static str, String)>,
    pending: Vec<Hazard>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn registry() -> MutexGuard<'static, Option<Registry>> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    f(registry().get_or_insert_with(Registry::default))
}

impl Registry {
    /// Notes, for each signal, which generation's handler is installed.
    fn observe(&mut self, dispositions: &BTreeMap<i32, Disposition>) {
        for (&signal, disposition) in dispositions {
            if let Some(id) = self.owner(disposition.handler)
                && let Some(record) = self.generations.get_mut(&id)
            {
                record.installed.insert(signal);
            }
        }
    }

    /// The opened generation whose mapping holds `address`.
    fn owner(&self, address: usize) -> Option<u64> {
        self.generations
            .iter()
            .find(|(_, r)| r.ranges.iter().any(|range| range.contains(&address)))
            .map(|(&id, _)| id)
    }

    fn report(
        &mut self,
        kind: &'static str,
        generation: u64,
        detail: String,
        action: &'static str,
    ) {
        if self.reported.insert((kind, detail.clone())) {
            self.pending.push(Hazard {
                kind,
                generation,
                detail,
                action,
            });
        }
    }

    /// Threads and descriptors that appeared between the opening of the
    /// generation opened as `id` and the next opening (or now, when none
    /// came since).
    fn window(&self, id: u64) -> (Snapshot, Snapshot) {
        let before = self
            .generations
            .get(&id)
            .map(|r| r.before.clone())
            .unwrap_or_default();
        let next = self
            .generations
            .range(id + 1..)
            .next()
            .map(|(_, r)| r.before.clone());
        (before, next.unwrap_or_else(Snapshot::everything))
    }
}

/// Before generation `number` is opened: the first call keeps every
/// signal's disposition as the one to restore; every call snapshots the
/// threads and descriptors. Returns the id that the other calls about this
/// generation take.
pub(crate) fn before_open(number: u64) -> u64 {
    let dispositions = process::dispositions();
    let before = Snapshot::take();
    with(|r| {
        if r.baseline.is_none() {
            r.baseline = Some(dispositions.clone());
        }
        r.observe(&dispositions);
        r.opened += 1;
        r.generations.insert(
            r.opened,
            Record {
                number,
                before,
                ..Record::default()
            },
        );
        r.opened
    })
}

/// After the library at `copy` was opened for `id`: where it is mapped.
pub(crate) fn opened(id: u64, copy: &Path) {
    let ranges = process::mappings_of(copy);
    with(|r| {
        if let Some(record) = r.generations.get_mut(&id) {
            record.ranges = ranges;
        }
    });
}

/// A thread of relive's own, never reported as the app's.
pub(crate) fn known_thread() {
    let tid = process::current_tid();
    with(|r| r.known_threads.insert(tid));
}

/// Before the library opened as `id` is closed (no code of it runs any
/// more): restores or pins its signal handlers, looks for threads it
/// started. Returns whether the library must stay mapped.
pub(crate) fn before_close(id: u64) -> bool {
    let dispositions = process::dispositions();
    let threads = process::threads();
    with(|r| {
        r.observe(&dispositions);
        let Some(record) = r.generations.get(&id) else {
            return false;
        };
        let (number, installed) = (record.number, record.installed.clone());
        let mut keep = false;
        for (&signal, disposition) in &dispositions {
            let owner = r.owner(disposition.handler);
            let verdict = judge_signal(id, owner, installed.contains(&signal));
            let name = process::signal_name(signal);
            match verdict {
                SignalVerdict::Untouched => {}
                SignalVerdict::Restore => {
                    let restored = r
                        .baseline
                        .as_ref()
                        .and_then(|b| b.get(&signal))
                        .is_some_and(|old| process::set_disposition(signal, old));
                    if restored {
                        r.report("signal_handler", number, name, "restored");
                    } else {
                        keep = true;
                        r.report("signal_handler", number, name, "kept mapped");
                    }
                }
                SignalVerdict::KeepMapped => {
                    keep = true;
                    r.report("signal_handler", number, name, "kept mapped");
                }
            }
        }
        let (before, next) = r.window(id);
        for (tid, name) in threads {
            let theirs = !before.threads.contains(&tid)
                && next.has_thread(tid)
                && !r.known_threads.contains(&tid);
            if theirs {
                keep = true;
                r.report("thread", number, name, "kept mapped");
            }
        }
        keep
    })
}

/// After the library opened as `id` was closed, or `kept` mapped: reports
/// the descriptors it opened that are still open.
pub(crate) fn after_close(id: u64, kept: bool) {
    let now = process::descriptors();
    with(|r| {
        let number = r.generations.get(&id).map_or(0, |g| g.number);
        let (before, next) = r.window(id);
        for (fd, path) in now {
            let entry = (fd, path.clone());
            if !before.fds.contains(&entry) && next.has_fd(&entry) {
                r.report("fd", number, path, "reported");
            }
        }
        if !kept && let Some(record) = r.generations.get_mut(&id) {
            // The addresses it had may hold the next library loaded.
            record.ranges.clear();
        }
    });
}

/// The hazards found since the last call, oldest first.
pub fn take() -> Vec<Hazard> {
    with(|r| std::mem::take(&mut r.pending))
}
