//! Competing load for the edit-to-running bench: busy loops at normal
//! priority, as a second cargo or rust-analyzer checking on save would be,
//! until dropped. Each loop is a process in a session of its own (`setsid`),
//! as such a job started from an editor or another terminal is: with the
//! kernel's autogroup scheduling, each session shares the CPU as a group,
//! so the load competes with relive's session as a whole, not with each of
//! its threads.

use std::process::{Child, Command, Stdio};

/// Busy loops running until this is dropped.
pub struct Busy {
    loops: Vec<Child>,
}

impl Busy {
    /// Starts `n` busy loops.
    pub fn start(n: usize) -> Busy {
        let loops = (0..n)
            .filter_map(|_| {
                Command::new("setsid")
                    .args(["sh", "-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| eprintln!("bench: cannot start a busy loop with setsid: {e}"))
                    .ok()
            })
            .collect();
        Busy { loops }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for child in &mut self.loops {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
