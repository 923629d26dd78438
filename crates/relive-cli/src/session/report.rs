//! What the running program did, told twice: as `--events` lines and on the
//! terminal.

use std::process::ExitCode;

use relive_host::RunEvent;
use relive_host::plan::Mode;
use serde_json::json;

use super::Session;
use crate::status::Outcome;
use crate::terminal::Tone;

impl Session {
    /// Reports what the running program did; returns the exit code when it
    /// ended.
    pub(super) fn run_event(&mut self, event: RunEvent) -> Option<ExitCode> {
        match event {
            RunEvent::Loaded {
                generation,
                resumed,
                note,
                taken_ns,
            } => {
                self.last_good = Some(generation);
                self.current = Some(generation);
                self.policy.ran(generation);
                self.report_crash(taken_ns, &note);
                if !resumed {
                    self.terminal.set_outcome(Outcome::Running);
                }
                self.events.emit(
                    "loaded",
                    json!({"generation": generation, "resumed": resumed, "note": note}),
                );
                self.terminal.set_generation(generation);
                let how = if resumed {
                    " (state restored after a crash)"
                } else {
                    ""
                };
                self.terminal.say(
                    Tone::Good,
                    &format!("running generation {generation}{how}"),
                    &note,
                );
            }
            RunEvent::NoCheckpoint { generation, reason } => {
                self.events.emit(
                    "no_checkpoint",
                    json!({"generation": generation, "reason": reason}),
                );
                self.terminal.say(
                    Tone::Warn,
                    "the state cannot be kept across a crash of the program",
                    &reason,
                );
            }
            RunEvent::Reloaded {
                generation,
                pause_us,
                stages,
                plan,
                kept_mapped,
            } => {
                self.last_good = Some(generation);
                self.policy.ran(generation);
                self.forget_unreachable(generation);
                self.postponed = None;
                let prepare = self.timings.remove(&generation).unwrap_or_default();
                if plan.mode != Mode::Identical {
                    self.events.emit(
                        "migrated",
                        json!({
                            "generation": generation,
                            "mode": plan.mode.name(),
                            "added": plan.added,
                            "removed": plan.removed,
                            "widened": plan.widened,
                            "reset": plan.reset,
                            "us": stages.save_us + stages.adopt_us,
                        }),
                    );
                }
                if !plan.pinned.is_empty() {
                    self.events.emit(
                        "pinned",
                        json!({
                            "generation": generation,
                            "fields": plan.pinned,
                            "kept_mapped": kept_mapped,
                        }),
                    );
                }
                self.events.emit(
                    "reloaded",
                    json!({
                        "generation": generation,
                        "pause_us": pause_us,
                        "mode": plan.mode.name(),
                        "stages": {
                            "boundary_us": stages.boundary_us,
                            "stop_workers_us": stages.stop_workers_us,
                            "unloading_us": stages.unloading_us,
                            "checkpoint_us": stages.checkpoint_us,
                            "snapshot_us": stages.snapshot_us,
                            "save_us": stages.save_us,
                            "handover_us": stages.handover_us,
                            "adopt_us": stages.adopt_us,
                            "reloaded_us": stages.reloaded_us,
                        },
                        "prepare": {
                            "read_us": prepare.read_us,
                            "check_us": prepare.check_us,
                            "copy_us": prepare.copy_us,
                        },
                    }),
                );
                self.terminal.set_generation(generation);
                self.terminal.set_pause(pause_us);
                self.terminal.set_outcome(Outcome::Running);
                let mut line = format!("reloaded generation {generation} (swap {pause_us} µs)");
                let mut details = Vec::new();
                let (variants, fields): (Vec<String>, Vec<String>) =
                    plan.added.iter().cloned().partition(|p| is_variant(p));
                for (label, items) in [
                    ("new fields from Default", &fields),
                    ("new variants", &variants),
                    ("dropped", &plan.removed),
                    ("widened", &plan.widened),
                    ("reset", &plan.reset),
                    ("pointing into old code", &plan.pinned),
                ] {
                    if !items.is_empty() {
                        details.push(format!("{label}: {}", items.join(", ")));
                    }
                }
                if plan.mode == Mode::Migrate {
                    line.push_str("; state migrated by field name");
                }
                self.terminal.say(Tone::Good, &line, &details.join("\n"));
            }
            RunEvent::Refused { generation, reason } => {
                self.report_refusal(generation, "code", &reason);
            }
            RunEvent::RolledBack {
                from,
                to,
                stage,
                message,
                location,
                backtrace,
            } => {
                self.current = Some(to);
                self.events.emit(
                    "rolled_back",
                    json!({
                        "cause": "panic",
                        "message": message,
                        "location": location,
                        "stage": stage,
                        "failed_generation": from,
                        "generation": to,
                        "backtrace": backtrace,
                    }),
                );
                self.terminal.set_generation(to);
                self.terminal.set_outcome(Outcome::RolledBack(format!(
                    "generation {from} panicked in {stage}"
                )));
                self.terminal.say(
                    Tone::Bad,
                    &format!(
                        "generation {from} panicked in {stage} at {location}; rolled back to generation {to} with the state from before the reload"
                    ),
                    &self.panic_details(&message, &backtrace),
                );
            }
            RunEvent::Panicked {
                generation,
                message,
                location,
                backtrace,
            } => {
                self.events.emit(
                    "panicked",
                    json!({
                        "generation": generation,
                        "message": message,
                        "location": location,
                        "backtrace": backtrace,
                    }),
                );
                self.terminal.set_outcome(Outcome::Paused);
                self.terminal.say(
                    Tone::Bad,
                    &format!(
                        "generation {generation} panicked at {location}; the program is paused with its state: fix the code and save"
                    ),
                    &self.panic_details(&message, &backtrace),
                );
            }
            RunEvent::Postponed {
                generation,
                threads,
            } => {
                self.postponed = Some(threads.clone());
                self.events.emit(
                    "postponed",
                    json!({"generation": generation, "threads": threads}),
                );
                self.terminal.say(
                    Tone::Warn,
                    &format!("the swap waits for worker threads that do not stop: {threads}"),
                    "a worker must return when Worker::should_stop() is true",
                );
            }
            RunEvent::Hazard {
                kind,
                generation,
                detail,
                action,
            } => {
                self.events.emit(
                    "hazard",
                    json!({"kind": kind, "generation": generation, "detail": detail, "action": action}),
                );
                let (what, hint) = match kind.as_str() {
                    "signal_handler" => (
                        format!("a {detail} handler"),
                        "a handler in closed code would crash the program: relive put back the one it found at start, or keeps that code mapped",
                    ),
                    "thread" => (
                        format!("thread {detail:?}"),
                        "its code stays mapped while it runs; start threads with ctx.spawn, which relive stops before a swap and starts again after it",
                    ),
                    _ => (
                        format!("{detail} still open"),
                        "nothing to do if the state keeps it on purpose (a connection, a file); otherwise close it where it was opened",
                    ),
                };
                self.terminal.say(
                    Tone::Warn,
                    &format!("generation {generation} left {what} in the process: {action}"),
                    hint,
                );
            }
            RunEvent::LoopStarted { .. }
            | RunEvent::LoopPass { .. }
            | RunEvent::LoopDiverged { .. }
            | RunEvent::LoopEnded { .. }
            | RunEvent::Rewound { .. }
            | RunEvent::ReplayRefused { .. } => self.replay_event(event),
            RunEvent::Exited { by_app } => {
                if !by_app && self.restart_with.is_some() {
                    // Stopped to restart on a new build: `child_ended` does.
                    return None;
                }
                self.ending = true;
                self.events
                    .emit("exited", json!({"code": 0, "by_app": by_app}));
                return Some(ExitCode::SUCCESS);
            }
        }
        None
    }

    /// A panic's message and its backtrace folded to the app's own frames
    /// (the events file has the whole one).
    fn panic_details(&self, message: &str, backtrace: &str) -> String {
        if backtrace.trim().is_empty() {
            return message.to_string();
        }
        let cwd = std::env::current_dir().ok();
        let folded = crate::backtrace::fold(
            backtrace,
            &self.package.root,
            cwd.as_deref(),
            self.args.events.as_deref(),
        );
        format!("{message}\n{folded}")
    }
}

/// Whether a path of `Plan::added` names an enum variant (`All.mode::Fast`)
/// rather than a field (`All.speed`, `All.mode::Fast.x`).
fn is_variant(path: &str) -> bool {
    match (path.rfind("::"), path.rfind('.')) {
        (Some(colons), Some(dot)) => colons > dot,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_variant;

    #[test]
    fn added_variants_are_told_from_added_fields() {
        for (path, variant) in [
            ("All.mode::Fast", true),
            ("All.mode::Fast.x", false),
            ("All.speed", false),
            ("All.shapes[]::Circle", true),
            ("All.shapes[]::Circle.0", false),
        ] {
            assert_eq!(is_variant(path), variant, "{path}");
        }
    }
}
