//! The hot-reloadable library of the hot-lib-reloader edit-to-running
//! comparison, the twin of bench/apps/edit: relive-bench edits the marked
//! line, rebuilds this library with `cargo build -p hotedit_lib`, and the
//! first call of `frame` in the new code reports its start time on the
//! system-wide monotonic clock and the value of `EDIT`.

#[path = "../../../common/probe.rs"]
mod probe;

/// The line relive-bench edits.
const EDIT: u64 = 0; // bench: edit

/// The state the executable keeps across reloads.
#[derive(Debug)]
pub struct State {
    /// The `EDIT` of the code that ran the last frame.
    pub edit: u64,
    /// Frames so far.
    pub frames: u64,
}

impl Default for State {
    fn default() -> State {
        State {
            edit: u64::MAX,
            frames: 0,
        }
    }
}

/// One frame: the first frame of new code reports itself.
#[unsafe(no_mangle)]
pub fn frame(state: &mut State) {
    let start = probe::now_ns();
    state.frames += 1;
    if state.edit != EDIT {
        state.edit = EDIT;
        probe::report(
            "gen",
            format_args!("edit={EDIT} frames={} t_ns={start}", state.frames),
        );
    }
}
