//! The status line's text: what relive runs (generation, build, last swap
//! pause) and the last outcome, which stays shown until the next success so
//! that a rollback, a paused program, a refusal or a failed build is never
//! hidden behind an old "built in ..." in green. A pure function of the
//! state, so it is tested without a terminal.

use std::time::Instant;

/// The last thing that happened to new code, shown until the next success.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    /// The newest code runs (or nothing went wrong yet).
    #[default]
    Running,
    /// New code was rolled back; why, in a few words.
    RolledBack(String),
    /// The running code panicked; the program waits for a fix.
    Paused,
    /// New code was refused; the field (or the first line of the reason).
    Refused(String),
    /// The build failed with this many compiler errors (0: cargo failed).
    BuildFailed(usize),
}

/// Everything the status line shows.
#[derive(Debug, Default)]
pub struct Status {
    /// The running generation.
    pub generation: u64,
    /// The last build's result ("built in 0.37 s").
    pub build: String,
    /// The last swap pause, in microseconds.
    pub pause_us: Option<u64>,
    /// When the running build started (a spinner and its time are shown).
    pub building_since: Option<Instant>,
    /// The last outcome.
    pub outcome: Outcome,
    /// The last message, while the app is full-screen (see `crate::pty`).
    pub held_line: String,
    /// The loop under way (`relive loop`): seconds and pass.
    pub looping: Option<(f64, u64)>,
}

/// How the status line is coloured (SGR parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    /// Reverse video: all is well.
    Plain,
    /// Black on yellow: the new code did not take effect (refused).
    Warn,
    /// White on red: rolled back, paused, or the build failed.
    Bad,
}

impl Colour {
    /// The SGR parameters that draw it.
    pub fn sgr(self) -> &'static str {
        match self {
            Colour::Plain => "7",
            Colour::Warn => "30;43",
            Colour::Bad => "97;41;1",
        }
    }
}

/// Spinner frames, one per redraw.
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// The status line's text and colour at `now`, cut to `width` characters
/// (0: no limit).
pub fn render(status: &Status, now: Instant, width: usize) -> (String, Colour) {
    let mut parts = vec![match status.looping {
        Some((seconds, pass)) => format!(
            "relive · loop {seconds:.1} s · pass {pass} · generation {}",
            status.generation
        ),
        None => format!("relive · generation {}", status.generation),
    }];
    let colour = match &status.outcome {
        Outcome::Running => Colour::Plain,
        Outcome::RolledBack(why) => {
            parts.push(format!("rolled back: {why}; fix and save"));
            Colour::Bad
        }
        Outcome::Paused => {
            parts.push("paused after a panic: fix and save".into());
            Colour::Bad
        }
        Outcome::Refused(field) => {
            parts.push(format!("refused: {field}"));
            Colour::Warn
        }
        Outcome::BuildFailed(0) => {
            parts.push("build failed".into());
            Colour::Bad
        }
        Outcome::BuildFailed(n) => {
            let s = if *n == 1 { "" } else { "s" };
            parts.push(format!("build failed: {n} error{s}"));
            Colour::Bad
        }
    };
    if let Some(since) = status.building_since {
        let elapsed = now.saturating_duration_since(since);
        let frame = SPINNER[(elapsed.as_millis() / 100) as usize % SPINNER.len()];
        parts.push(format!("building {frame} {:.1} s", elapsed.as_secs_f64()));
    } else if status.outcome == Outcome::Running {
        if !status.build.is_empty() {
            parts.push(status.build.clone());
        }
        if let Some(us) = status.pause_us {
            parts.push(format!("swap {us} µs"));
        }
    }
    if !status.held_line.is_empty() {
        parts.push(status.held_line.clone());
    }
    let mut text = parts.join(" · ");
    if width > 0 && text.chars().count() > width {
        text = text.chars().take(width.saturating_sub(1)).collect();
        text.push('…');
    }
    (text, colour)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ms` before `now`, for a build's spinner.
    fn since(now: Instant, ms: u64) -> Option<Instant> {
        now.checked_sub(std::time::Duration::from_millis(ms))
    }

    #[test]
    fn a_loop_shows_its_seconds_pass_and_generation() {
        let status = Status {
            generation: 7,
            looping: Some((3.0, 4)),
            ..Status::default()
        };
        let (text, _) = render(&status, Instant::now(), 0);
        assert_eq!(text, "relive · loop 3.0 s · pass 4 · generation 7");
    }

    #[test]
    fn the_last_outcome_is_shown_until_the_next_success() {
        let now = Instant::now();
        let ok = || Status {
            generation: 3,
            build: "built in 0.37 s".into(),
            pause_us: Some(160),
            ..Status::default()
        };
        let with = |outcome| Status { outcome, ..ok() };
        let cases: Vec<(Status, &str, Colour)> = vec![
            (
                ok(),
                "relive · generation 3 · built in 0.37 s · swap 160 µs",
                Colour::Plain,
            ),
            (
                with(Outcome::RolledBack("generation 4 panicked in frame".into())),
                "relive · generation 3 · rolled back: generation 4 panicked in frame; fix and save",
                Colour::Bad,
            ),
            (
                with(Outcome::Paused),
                "relive · generation 3 · paused after a panic: fix and save",
                Colour::Bad,
            ),
            (
                with(Outcome::Refused("All.counter: u64 -> u32".into())),
                "relive · generation 3 · refused: All.counter: u64 -> u32",
                Colour::Warn,
            ),
            (
                with(Outcome::BuildFailed(2)),
                "relive · generation 3 · build failed: 2 errors",
                Colour::Bad,
            ),
            (
                with(Outcome::BuildFailed(1)),
                "relive · generation 3 · build failed: 1 error",
                Colour::Bad,
            ),
            (
                with(Outcome::BuildFailed(0)),
                "relive · generation 3 · build failed",
                Colour::Bad,
            ),
            (
                Status {
                    building_since: since(now, 1250),
                    ..with(Outcome::Paused)
                },
                "relive · generation 3 · paused after a panic: fix and save · building ⠹ 1.2 s",
                Colour::Bad,
            ),
            (
                Status {
                    building_since: since(now, 0),
                    ..ok()
                },
                "relive · generation 3 · building ⠋ 0.0 s",
                Colour::Plain,
            ),
            (Status::default(), "relive · generation 0", Colour::Plain),
        ];
        for (status, text, colour) in cases {
            assert_eq!(render(&status, now, 0), (text.to_string(), colour));
        }
    }

    #[test]
    fn a_long_line_is_cut_to_the_width() {
        let status = Status {
            generation: 12,
            outcome: Outcome::Refused("All.a.very.long.path[].of.fields: u32 -> String".into()),
            ..Status::default()
        };
        let (text, _) = render(&status, Instant::now(), 30);
        assert_eq!(text.chars().count(), 30);
        assert!(text.starts_with("relive · generation 12 · ref"), "{text}");
        assert!(text.ends_with('…'), "{text}");
    }
}
