//! The runner process's life: starting it, and bringing the program back
//! when it ends unexpectedly (a crash of new or running code), or ending
//! relive when the program asked to.

use std::process::ExitCode;

use serde_json::json;

use super::{Msg, Session};
use crate::child::{Child, signal_name};
use crate::terminal::Tone;
use crate::wire::Library;

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
        let spawned = Child::spawn(
            self.staging.path(),
            &self.checkpoints,
            self.args.mlock,
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
    /// bring the last good generation back with the checkpointed state.
    pub(super) fn child_ended(&mut self, status: std::process::ExitStatus) -> Option<ExitCode> {
        self.child = None;
        self.postponed = None;
        if self.ending {
            self.events.emit("exited", json!({"code": 0}));
            return Some(ExitCode::SUCCESS);
        }
        if let Some(library) = self.restart_with.take() {
            self.spawn_runner(library, self.has_checkpoint());
            return None;
        }
        let failed = self.current.unwrap_or(0);
        let good = self.last_good;
        // The running code called `std::process::exit`: the program ended as
        // it asked. (New code that exits during its first frames is treated
        // as a crash instead, so its bug does not end the session.)
        if let (Some(code), true) = (status.code(), good == self.current && good.is_some()) {
            self.events
                .emit("exited", json!({"code": code, "by_app": true}));
            self.terminal.say(
                Tone::Info,
                &format!("the program exited with code {code}"),
                "",
            );
            return Some(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
        let signal = signal_name(&status).unwrap_or("an unexpected exit");
        let message = match status.code() {
            Some(code) => format!("the program's process exited with code {code}"),
            None => format!("the program's process was killed by {signal}"),
        };
        self.events.emit(
            "rolled_back",
            json!({
                "cause": "crash",
                "signal": signal,
                "message": message,
                "generation": good,
                "failed_generation": failed,
            }),
        );
        // Copies of generations newer than the good one are of no more use.
        if let Some(good) = good {
            let stale: Vec<u64> = self.staged.keys().copied().filter(|&n| n > good).collect();
            for number in stale {
                if let Some(staged) = self.staged.remove(&number) {
                    let _ = std::fs::remove_file(&staged.copy);
                }
            }
        }
        if good.is_some() {
            self.crashes += 1;
        }
        let Some(library) = good
            .and_then(|n| self.staged.get(&n))
            .map(Library::from_staged)
        else {
            self.terminal.say(
                Tone::Bad,
                &format!(
                    "generation {failed} crashed ({signal}); fix the code and save to start again"
                ),
                &message,
            );
            return None;
        };
        if self.crashes > 2 {
            self.terminal.say(
                Tone::Bad,
                &format!(
                    "generation {} keeps crashing ({signal}); fix the code and save: the state from the last good reload is kept",
                    library.number
                ),
                &message,
            );
            return None;
        }
        let resume = self.has_checkpoint();
        let from = if resume {
            "with the state from the last good reload"
        } else {
            "from a fresh start (no checkpoint yet)"
        };
        self.terminal.say(
            Tone::Bad,
            &format!(
                "generation {failed} crashed ({signal}); back on generation {} {from}",
                library.number
            ),
            &message,
        );
        self.current = Some(library.number);
        self.spawn_runner(library, resume);
        None
    }
}
