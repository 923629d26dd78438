//! The runner process's life: starting it, and bringing the program back
//! when it ends unexpectedly (a crash of new or running code), or ending
//! relive when the program asked to.

use std::process::ExitCode;

use serde_json::json;

use relive_host::checkpoint::now_ns;

use super::policy::AfterCrash;
use super::{Msg, Session};
use crate::child::{Child, signal_name};
use crate::status::Outcome;
use crate::terminal::Tone;
use crate::wire::Library;

/// How long a restart waits for a checkpoint still being written.
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

impl Session {
    /// A generation that was offered did not become the running one.
    pub(super) fn undo_offer(&mut self, generation: u64) {
        if self.current == Some(generation) {
            self.current = self.last_good;
        }
    }

    /// Whether a complete crash checkpoint is there.
    pub(super) fn has_checkpoint(&self) -> bool {
        self.checkpoints.has_latest()
    }

    /// Starts a runner process on `library`, from the checkpoint if `resume`.
    pub(super) fn spawn_runner(&mut self, library: Library, resume: bool) {
        if resume {
            // A checkpoint the crashed runner's child is still writing is
            // the newest state: let it finish (it takes milliseconds).
            self.checkpoints.wait_for_writers(WRITER_WAIT);
        }
        let spawned = Child::spawn(
            self.staging.path(),
            &self.persistent.preload,
            &self.checkpoints,
            self.args.mlock,
            self.args.record_ms(),
            self.tx.clone(),
            Msg::Child,
        );
        match spawned {
            Ok(mut child) => {
                child.start(library, resume);
                self.child = Some(child);
            }
            Err(err) => self.terminal.say(
                Tone::Bad,
                &format!("cannot start the runner process: {err}"),
                "check that the relive binary is still in place",
            ),
        }
    }

    /// The runner process ended. Unless the program was ending, it crashed:
    /// the crash policy (`policy.rs`) says which generation runs next.
    pub(super) fn child_ended(&mut self, status: std::process::ExitStatus) -> Option<ExitCode> {
        let crash_ns = now_ns();
        self.child = None;
        self.postponed = None;
        self.replay_lost();
        // A restart that crashed before it reported anything.
        self.report_crash(None, "the restart crashed before it ran");
        if self.ending {
            self.events.emit("exited", json!({"code": 0}));
            return Some(ExitCode::SUCCESS);
        }
        if let Some(library) = self.restart_with.take() {
            let resume = self.has_checkpoint();
            self.spawn_runner(library, resume);
            return None;
        }
        let old_code = status.code() == Some(relive_host::EXIT_OLD_CODE_PANICKED);
        // Old code kept mapped panicked under the running generation: the
        // crash is not the running generation's, which starts again.
        let failed = if old_code {
            0
        } else {
            self.current.unwrap_or(0)
        };
        // The established code called `std::process::exit`: the program
        // ended as it asked. So did code that exited before any generation
        // ran (an example with no display to open): there is no earlier code
        // to go back to. (New code that exits during its trial after a
        // reload is treated as a crash instead, so its bug does not end the
        // session.)
        if let (Some(code), true, false) = (
            status.code(),
            self.policy.is_established(self.current) || self.policy.none_ran(),
            old_code,
        ) {
            self.events
                .emit("exited", json!({"code": code, "by_app": true}));
            self.terminal.say(
                Tone::Info,
                &format!("the program exited with code {code}"),
                "",
            );
            return Some(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
        let signal = match signal_name(&status) {
            Some(name) => name,
            None if old_code => "a panic in old code",
            None => "an unexpected exit",
        };
        let message = match status.code() {
            Some(code) => format!("the program's process exited with code {code}"),
            None => format!("the program's process was killed by {signal}"),
        };
        let staged = &self.staged;
        let next = self.policy.crashed(failed, |g| staged.contains_key(&g));
        // Copies of generations that crashed are of no more use.
        let stale: Vec<u64> = self
            .staged
            .keys()
            .copied()
            .filter(|&n| self.policy.has_crashed(n))
            .collect();
        for number in stale {
            self.forget_staged(number);
        }
        self.terminal.set_outcome(Outcome::RolledBack(format!(
            "generation {failed} crashed ({signal})"
        )));
        let crash = Crash {
            signal,
            message: message.clone(),
            failed,
            generation: None,
            crash_ns,
        };
        let library = match next {
            AfterCrash::BackTo(n) => self.staged.get(&n).map(Library::from_staged),
            AfterCrash::WaitForCode => None,
        };
        let Some(library) = library else {
            self.current = None;
            self.last_good = None;
            self.pending_crash = Some(crash);
            self.report_crash(None, "");
            self.terminal.say(
                Tone::Bad,
                &format!(
                    "generation {failed} crashed ({signal}); fix the code and save to start again"
                ),
                &message,
            );
            return None;
        };
        self.terminal.say(
            Tone::Bad,
            &format!(
                "generation {failed} crashed ({signal}); back on generation {} with the newest checkpoint",
                library.number
            ),
            &message,
        );
        self.pending_crash = Some(Crash {
            generation: Some(library.number),
            ..crash
        });
        self.current = Some(library.number);
        if !library.copy.exists() {
            let _ = std::fs::hard_link(kept(&library.copy), &library.copy);
        }
        let resume = self.has_checkpoint();
        self.spawn_runner(library, resume);
        None
    }

    /// Emits the `rolled_back` event of the crash waiting to be reported:
    /// once the generation gone back to runs (`taken_ns`: when its state was
    /// checkpointed), or at once when there is none.
    pub(super) fn report_crash(&mut self, taken_ns: Option<u64>, note: &str) {
        let Some(crash) = self.pending_crash.take() else {
            return;
        };
        let state_age_ms = taken_ns.map(|t| crash.crash_ns.saturating_sub(t) / 1_000_000);
        self.events.emit(
            "rolled_back",
            json!({
                "cause": "crash",
                "signal": crash.signal,
                "message": crash.message,
                "generation": crash.generation,
                "failed_generation": crash.failed,
                "state_age_ms": state_age_ms,
                // Why the newest checkpoint was not used, if it was not.
                "checkpoint": note,
            }),
        );
    }
}

/// The second name of a staged copy, kept while a crash may need it.
pub(super) fn kept(copy: &std::path::Path) -> std::path::PathBuf {
    copy.with_extension("keep")
}

impl Session {
    /// Removes a staged generation's copy (both names).
    pub(super) fn forget_staged(&mut self, number: u64) {
        if let Some(staged) = self.staged.remove(&number) {
            let _ = std::fs::remove_file(&staged.copy);
            let _ = std::fs::remove_file(kept(&staged.copy));
        }
    }

    /// `generation` runs: copies that no crash can go back to any more
    /// (older than it, other than the one a crash of it goes back to) go.
    pub(super) fn forget_unreachable(&mut self, generation: u64) {
        let previous = self.policy.previous(generation);
        let old: Vec<u64> = self
            .staged
            .keys()
            .copied()
            .filter(|&n| n < generation && Some(n) != previous)
            .collect();
        for number in old {
            self.forget_staged(number);
        }
    }
}

/// A crash whose `rolled_back` event waits for the restart.
#[derive(Debug)]
pub(super) struct Crash {
    signal: &'static str,
    message: String,
    failed: u64,
    /// The generation gone back to, if any.
    generation: Option<u64>,
    /// When the runner's end was seen.
    crash_ns: u64,
}
