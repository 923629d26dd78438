//! Persistent mode in the session: before a library is staged, find the
//! persistent libraries it needs; the first time, copy them for the runner
//! to load; when their bytes changed since, they cannot be swapped in, so
//! the session says so and restarts the runner on the new build with the
//! checkpointed state (the crash-recovery path).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::Session;
use crate::persistent;
use crate::terminal::Tone;

/// What the session knows of the persistent libraries.
#[derive(Debug, Default)]
pub(super) struct Persistent {
    /// The copies the runner loads, std first (empty for a `cdylib` app).
    pub preload: Vec<PathBuf>,
    /// The fingerprint of the libraries the copies were made from.
    fingerprint: Option<u64>,
    /// The identity of their files when the fingerprint was last taken.
    identity: Option<u64>,
    /// How many sets of copies were made.
    epoch: u64,
    /// The next staged generation must start a new runner, not be offered.
    pub restart: bool,
}

impl Session {
    /// A generation resumed from a checkpoint: its `#[relive(keep)]` fields
    /// were not in it.
    pub(super) fn kept_reset(&mut self, generation: u64, fields: &[String]) {
        self.events.emit(
            "kept_reset",
            json!({"generation": generation, "fields": fields, "reason": "kept values are not checkpointed"}),
        );
        self.terminal.say(
            Tone::Warn,
            &format!("{} started from Default", fields.join(", ")),
            "`#[relive(keep)]` values are not checkpointed; `init` or `reloaded` make them again",
        );
    }

    /// Whether the package runs in persistent mode.
    pub(super) fn is_persistent(&self) -> bool {
        !self.package.persistent.is_empty()
    }

    /// Checks the persistent libraries that `artifact` needs before it is
    /// staged. Returns false when it must not be loaded (they cannot be
    /// found or copied; the reason is reported).
    pub(super) fn check_persistent(&mut self, artifact: &Path) -> bool {
        if !self.is_persistent() {
            return true;
        }
        let found = persistent::std_library().and_then(|std| persistent::libraries(artifact, &std));
        let libraries = match found {
            Ok(libraries) => libraries,
            Err(reason) => {
                self.refused(self.next_number, &reason);
                return false;
            }
        };
        let identity = persistent::identity(&libraries);
        if self.persistent.identity.replace(identity) == Some(identity) {
            return true;
        }
        let fingerprint = persistent::fingerprint(&libraries);
        if self.persistent.fingerprint == Some(fingerprint) {
            return true;
        }
        let names: Vec<String> = libraries
            .iter()
            .skip(1)
            .filter_map(|l| l.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let epoch = self.persistent.epoch + 1;
        match persistent::stage(self.staging.path(), epoch, &libraries) {
            Ok(copies) => self.persistent.preload = copies,
            Err(err) => {
                self.refused(
                    self.next_number,
                    &format!(
                        "cannot copy the persistent libraries to relive's private folder: {err}"
                    ),
                );
                return false;
            }
        }
        self.persistent.epoch = epoch;
        let first = self.persistent.fingerprint.replace(fingerprint).is_none();
        if first {
            self.events.emit("persistent", json!({"libraries": names}));
        } else if self.child.is_some() {
            self.persistent.restart = true;
            self.events.emit(
                "persistent_changed",
                json!({"libraries": names, "action": "restart"}),
            );
            self.terminal.say(
                Tone::Warn,
                "a persistent crate changed: restarting the program on the new build",
                "persistent crates stay loaded and cannot be swapped; the state is carried by name from the last checkpoint, `#[relive(keep)]` fields start from Default",
            );
        }
        true
    }
}
