//! State migration: edit the state struct of a running program and watch
//! its values survive.
//!
//! Run it with `relive run examples/migration`. It
//! prints the state once a second. Then change [`Journal`] while it runs:
//!
//! - **Insert a field in the middle**: add `pub mood: String,` under
//!   `pub visitors: u32,` and print it (add `mood={:?}` to the line in
//!   `frame` with `self.mood` as its argument). relive matches the fields by
//!   name: every other field keeps its value, the new one starts from its
//!   `Default` (`mood=""`), and the events log says `migrated` with
//!   `added: ["Journal.mood"]`. Only the state struct's own fields changed,
//!   so each kept field's bytes simply move (`mode: "fields"`).
//! - **Reorder fields**: move `pub ticks: u64,` below `pub recent`. Nothing
//!   is lost: fields move by name, not by position.
//! - **Remove a field**: delete `motto` (and its uses). Its value is dropped
//!   (`removed: ["Journal.motto"]`); the rest is kept.
//! - **Change a type inside the state**: add `pub note: u8,` to [`Record`]
//!   (and `note: 0` where `frame` builds one). The old code saves the state
//!   by field name and the new code loads it (`mode: "by_name"`, `added:
//!   ["Journal.best.note"]`): `best` keeps its value.
//! - **Widen a field** (`visitors: u32` to `u64`): the value is kept
//!   (`widened: ["Journal.visitors: u32 -> u64"]`).
//! - **Change a field to a type that cannot hold its value** (`motto:
//!   String` to `u32`): relive refuses the reload and names the field
//!   (`Journal.motto: String -> u32`); the old code keeps running. Add a new
//!   field instead, or restart.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::io::Write as _;
use std::time::Duration;

use relive::{Ctx, Flow};

/// Frames per second.
const FPS: u64 = 10;

/// Try changing this: how many of the last arrivals `recent` keeps.
const RECENT: usize = 5;

/// The best second so far: a type nested in the state. Its fields can
/// change too; they migrate by name.
#[derive(Clone, Debug, Default, relive::State)]
pub struct Record {
    pub visitors: u32,
    pub second: u64,
}

/// Everything that survives a reload. Try inserting, removing and
/// reordering its fields (see the crate docs above).
#[derive(Debug, Default, relive::State)]
pub struct Journal {
    pub ticks: u64,
    pub visitors: u32,
    pub motto: String,
    pub best: Record,
    pub recent: Vec<u32>,
}

impl Journal {
    fn seconds(&self) -> u64 {
        self.ticks / FPS
    }

    /// One second: a few visitors arrive (a fixed pattern, so runs repeat).
    fn second_passed(&mut self) {
        // Try changing this: how many visitors arrive each second.
        let arrived = (self.seconds() * 7 % 5) as u32 + 1;
        self.visitors += arrived;
        self.recent.push(arrived);
        let extra = self.recent.len().saturating_sub(RECENT);
        self.recent.drain(..extra);
        if arrived > self.best.visitors {
            self.best = Record {
                visitors: arrived,
                second: self.seconds(),
            };
        }
    }
}

impl relive::App for Journal {
    fn init(&mut self, _ctx: &mut Ctx) {
        // Try changing this (then restart: init runs on a fresh start only).
        self.motto = "hello, relive".into();
    }

    fn frame(&mut self, ctx: &mut Ctx) -> Flow {
        self.ticks += 1;
        if self.ticks.is_multiple_of(FPS) {
            self.second_passed();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "seconds={} visitors={} motto={:?} best={}@{} recent={:?} generation={}",
                self.seconds(),
                self.visitors,
                self.motto,
                self.best.visitors,
                self.best.second,
                self.recent,
                ctx.generation()
            );
            let _ = out.flush();
        }
        std::thread::sleep(Duration::from_millis(1000 / FPS));
        Flow::Continue
    }
}

relive::export!(Journal);
