//! Loop live editing in the supervisor: requests from `relive loop`,
//! `live` and `rewind` go to the runner, and what it does comes back as
//! events, for the `--events` log, the terminal and the status line, and
//! as the answer the waiting client prints.

use std::collections::VecDeque;
use std::os::unix::net::UnixStream;

use relive_host::RunEvent;
use serde_json::{Value, json};

use super::Session;
use crate::looping::{Request, answer};
use crate::terminal::Tone;
use crate::wire::Command;

/// The loop under way and the clients waiting for an answer.
#[derive(Default)]
pub(super) struct Replay {
    /// Seconds and pass of the loop under way.
    looping: Option<(f64, u64)>,
    /// Clients in the order their requests went to the runner, which
    /// answers each at a frame boundary, in that order.
    waiting: VecDeque<UnixStream>,
}

fn seconds(millis: u64) -> f64 {
    millis as f64 / 1000.0
}

impl Session {
    /// A request from a client: on to the runner.
    pub(super) fn control(&mut self, request: Request) {
        let Some(child) = &mut self.child else {
            answer(
                request.reply,
                &json!({"event": "error", "reason": "the program is not running now (it is starting or restarting); try again"}),
            );
            return;
        };
        child.send(&Command::Replay {
            command: request.command,
        });
        self.replay.waiting.push_back(request.reply);
    }

    /// Gives the oldest waiting client its answer.
    fn answer_next(&mut self, value: &Value) {
        if let Some(reply) = self.replay.waiting.pop_front() {
            answer(reply, value);
        }
    }

    fn set_loop(&mut self, looping: Option<(f64, u64)>) {
        self.replay.looping = looping;
        self.terminal.set_loop(looping);
    }

    /// Reports a loop's event.
    pub(super) fn replay_event(&mut self, event: RunEvent) {
        match event {
            RunEvent::LoopStarted {
                millis,
                from_frame,
                to_frame,
            } => {
                let fields = json!({"seconds": seconds(millis), "from_frame": from_frame, "to_frame": to_frame});
                self.events.emit("loop_started", fields.clone());
                let mut value = fields;
                value["event"] = "loop_started".into();
                self.answer_next(&value);
                self.set_loop(Some((seconds(millis), 0)));
                self.terminal.say(
                    Tone::Info,
                    &format!(
                        "looping the last {:.1} s (frames {from_frame} to {to_frame}); `relive live` to go on",
                        seconds(millis)
                    ),
                    "",
                );
            }
            RunEvent::LoopPass { pass, generation } => {
                self.events
                    .emit("loop_pass", json!({"pass": pass, "generation": generation}));
                if let Some((s, _)) = self.replay.looping {
                    self.set_loop(Some((s, pass)));
                }
            }
            RunEvent::LoopDiverged { frame } => {
                self.events.emit("loop_diverged", json!({"frame": frame}));
                self.terminal.say(
                    Tone::Warn,
                    &format!("the replay differs from what the same code did live at frame {frame}"),
                    "the app reads something relive does not record: take time from ctx.dt(), input from ctx.input(), and randomness from a seeded RNG in the state",
                );
            }
            RunEvent::LoopEnded { frame, reason } => {
                self.events
                    .emit("loop_ended", json!({"frame": frame, "reason": reason}));
                if reason.is_empty() {
                    self.answer_next(&json!({"event": "loop_ended", "frame": frame}));
                    self.terminal
                        .say(Tone::Info, &format!("live again from frame {frame}"), "");
                } else {
                    self.terminal.say(
                        Tone::Warn,
                        &format!("the loop ended at frame {frame}"),
                        &reason,
                    );
                }
                self.set_loop(None);
            }
            RunEvent::Rewound { millis, to_frame } => {
                let fields = json!({"seconds": seconds(millis), "to_frame": to_frame});
                self.events.emit("rewound", fields.clone());
                let mut value = fields;
                value["event"] = "rewound".into();
                self.answer_next(&value);
                self.set_loop(None);
                self.terminal.say(
                    Tone::Info,
                    &format!(
                        "went back {:.1} s to frame {to_frame}; live from there",
                        seconds(millis)
                    ),
                    "",
                );
            }
            RunEvent::ReplayRefused { reason } => {
                self.events
                    .emit("replay_refused", json!({"reason": reason}));
                self.answer_next(&json!({"event": "error", "reason": reason}));
            }
            _ => {}
        }
    }

    /// The runner ended: its recording, and a loop under way, are gone.
    pub(super) fn replay_lost(&mut self) {
        for reply in self.replay.waiting.drain(..) {
            answer(
                reply,
                &json!({"event": "error", "reason": "the program ended (or crashed) before it could do that"}),
            );
        }
        if self.replay.looping.is_some() {
            self.events.emit(
                "loop_ended",
                json!({"frame": null, "reason": "the program crashed; it goes on live from its last checkpoint"}),
            );
            self.set_loop(None);
        }
    }
}
