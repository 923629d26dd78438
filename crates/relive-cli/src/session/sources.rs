//! Which source changes start a build, and the watch that sees them: the
//! package folders until a build has listed its inputs, then the files in
//! cargo's dep-info and the build files around them, with only the
//! directories that hold them watched. Each change of what is watched is
//! reported (`watching` event, with the number of directories).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::Session;
use crate::depinfo;
use crate::inputs::{Inputs, WatchSet};
use crate::terminal::Tone;
use crate::watch::{self, Change, SourceWatch};

/// The source watch and what counts as a change.
#[derive(Debug, Default)]
pub(super) struct Sources {
    watch: Option<SourceWatch>,
    set: Option<WatchSet>,
    /// How many directories are watched, last reported.
    dirs: Option<usize>,
    /// A dep-info could not be read, and the person was told.
    warned: bool,
}

impl Sources {
    /// Whether `change` may change what cargo builds.
    pub(super) fn counts(&self, change: &Change) -> bool {
        match change {
            Change::Overflow => true,
            Change::Path(path) => self.set.as_ref().is_some_and(|set| set.is_input(path)),
        }
    }
}

impl Session {
    /// Paths whose changes never count: the target folder, and relive's own
    /// output (the events log).
    fn never_inputs(&self) -> Vec<PathBuf> {
        let mut ignore = vec![watch::normalize(&self.package.target_dir)];
        if let Some(events) = &self.args.events {
            ignore.push(watch::normalize(events));
        }
        ignore
    }

    /// Starts `watch` on the package folders (before the first build).
    pub(super) fn watch_folders(&mut self, mut watch: SourceWatch) -> anyhow::Result<()> {
        let roots: Vec<PathBuf> = self
            .package
            .watch_dirs
            .iter()
            .map(|d| watch::normalize(d))
            .collect();
        let ignore = self.never_inputs();
        let dirs = watch.watch_folders(&roots, &ignore)?;
        self.sources.watch = Some(watch);
        self.sources.set = Some(WatchSet::Folders { roots, ignore });
        self.report_watching("folders", dirs, None);
        Ok(())
    }

    /// After a build of `artifact`: watches what it read, as cargo's
    /// dep-info lists it, plus the build files; keeps the previous watch if
    /// the dep-info cannot be read.
    pub(super) fn watch_inputs(&mut self, artifact: &Path) {
        if self.sources.watch.is_none() {
            return;
        }
        let listed = match depinfo::read(artifact, &self.package.root) {
            Ok(listed) => listed,
            Err(err) => {
                if !std::mem::replace(&mut self.sources.warned, true) {
                    self.terminal.say(
                        Tone::Warn,
                        &format!("{err}"),
                        "relive keeps watching what it watched before",
                    );
                }
                return;
            }
        };
        let mut files = Vec::new();
        let mut trees = Vec::new();
        for path in listed.iter().chain(&self.package.build_files) {
            let path = watch::normalize(path);
            if path.is_dir() {
                trees.push(path);
            } else {
                files.push(path);
            }
        }
        let inputs = Inputs::new(files, trees, self.never_inputs());
        let unchanged =
            matches!(&self.sources.set, Some(WatchSet::Inputs(old)) if old.plan() == inputs.plan());
        let count = inputs.len();
        let plan = inputs.plan().to_vec();
        self.sources.set = Some(WatchSet::Inputs(inputs));
        if unchanged {
            return;
        }
        let Some(watch) = self.sources.watch.as_mut() else {
            return;
        };
        match watch.watch_dirs(&plan) {
            Ok(dirs) => self.report_watching("inputs", dirs, Some(count)),
            Err(err) => self.terminal.say(
                Tone::Warn,
                &format!("{err:#}"),
                "changes in the directories relive could not watch do not start builds",
            ),
        }
    }

    /// Tells how many directories are watched, when that changed.
    fn report_watching(&mut self, mode: &str, dirs: usize, inputs: Option<usize>) {
        self.events.emit(
            "watching",
            json!({"mode": mode, "dirs": dirs, "inputs": inputs}),
        );
        if self.sources.dirs.replace(dirs) == Some(dirs) {
            return;
        }
        let what = match inputs {
            Some(files) => {
                format!("watching {dirs} directories for the {files} files cargo builds from")
            }
            None => {
                format!("watching {dirs} directories of the package folders until the first build")
            }
        };
        self.terminal.say(Tone::Info, &what, "");
    }
}
