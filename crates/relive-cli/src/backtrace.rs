//! Folds a panic's backtrace for the terminal: the first frames in the app's
//! own code (its package folder), not the dozens of frames of std, relive
//! and the runner around them. The events file keeps the whole backtrace.

use std::path::Path;

/// Frames in the app's code shown on the terminal.
const SHOWN: usize = 3;

/// One frame of a std backtrace: "  N: function" and its "at file:line"
/// lines.
struct Frame<'a> {
    lines: Vec<&'a str>,
}

impl Frame<'_> {
    /// Whether one of the frame's source locations is under `root`; std
    /// shows files under the current folder `cwd` as `./file`.
    fn is_in(&self, root: &Path, cwd: Option<&Path>) -> bool {
        self.lines.iter().any(|l| {
            l.trim_start().strip_prefix("at ").is_some_and(|file| {
                let file = Path::new(file);
                match (file.is_relative(), cwd) {
                    (true, Some(cwd)) => cwd.join(file).starts_with(root),
                    (true, None) => false,
                    (false, _) => file.starts_with(root),
                }
            })
        })
    }
}

/// Splits std's backtrace text into frames (a frame starts with "N: ").
fn frames(backtrace: &str) -> Vec<Frame<'_>> {
    let mut frames: Vec<Frame<'_>> = Vec::new();
    for line in backtrace.lines() {
        let trimmed = line.trim_start();
        let starts_frame = trimmed
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        match frames.last_mut() {
            Some(frame) if !starts_frame => frame.lines.push(line),
            _ if starts_frame => frames.push(Frame { lines: vec![line] }),
            _ => {}
        }
    }
    frames
}

/// The backtrace cut to its first frames under `app_root` (files shown
/// relative to `cwd`, the runner's current folder, count too), with a line
/// that says where the rest is (`full_in`: the events file, if there is
/// one). A backtrace with no frame in the app's code keeps its first frames.
pub fn fold(
    backtrace: &str,
    app_root: &Path,
    cwd: Option<&Path>,
    full_in: Option<&Path>,
) -> String {
    let all = frames(backtrace);
    if all.is_empty() {
        return backtrace.trim_end().to_string();
    }
    // `./` in a relative path is a component `Path::starts_with` skips.
    let mut shown: Vec<&Frame<'_>> = all
        .iter()
        .filter(|f| f.is_in(app_root, cwd))
        .take(SHOWN)
        .collect();
    let whose = if shown.is_empty() {
        shown = all.iter().take(SHOWN).collect();
        "first"
    } else {
        "app's"
    };
    let mut out: Vec<String> = vec![format!("backtrace (the {whose} frames):")];
    for frame in &shown {
        out.extend(frame.lines.iter().map(|l| l.to_string()));
    }
    if all.len() > shown.len() {
        let rest = all.len() - shown.len();
        out.push(match full_in {
            Some(events) => format!(
                "  ({rest} more frames; the whole backtrace is in {})",
                events.display()
            ),
            None => format!("  ({rest} more frames; --events FILE keeps the whole backtrace)"),
        });
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKTRACE: &str = "stack backtrace:
   0: std::backtrace::Backtrace::capture
             at /rustc/abc/library/std/src/backtrace.rs:296:9
   1: relive::__rt::install_panic_hook::{{closure}}
             at /src/relive/crates/relive/src/__rt.rs:211:29
   2: core::panicking::panic_fmt
             at /rustc/abc/library/core/src/panicking.rs:75:14
   3: my_app::All::step
             at /home/me/my-app/src/physics.rs:12:9
   4: <my_app::All as relive::App>::frame
             at /home/me/my-app/src/lib.rs:40:5
   5: relive::__rt::frame
             at /src/relive/crates/relive/src/__rt.rs:90:5
   6: my_app::__relive_frame
             at /home/me/my-app/src/lib.rs:60:1
   7: my_app::helper
             at /home/me/my-app/src/lib.rs:70:1
   8: std::thread::spawn
";

    #[test]
    fn only_the_first_frames_in_the_app_are_shown() {
        let folded = fold(
            BACKTRACE,
            Path::new("/home/me/my-app"),
            None,
            Some(Path::new("events.jsonl")),
        );
        assert_eq!(
            folded,
            "backtrace (the app's frames):
   3: my_app::All::step
             at /home/me/my-app/src/physics.rs:12:9
   4: <my_app::All as relive::App>::frame
             at /home/me/my-app/src/lib.rs:40:5
   6: my_app::__relive_frame
             at /home/me/my-app/src/lib.rs:60:1
  (6 more frames; the whole backtrace is in events.jsonl)"
        );
    }

    #[test]
    fn without_app_frames_the_first_ones_are_kept() {
        let folded = fold(BACKTRACE, Path::new("/elsewhere"), None, None);
        assert!(
            folded.starts_with("backtrace (the first frames):\n   0: std::"),
            "{folded}"
        );
        assert!(folded.contains("   2: core::panicking"), "{folded}");
        assert!(!folded.contains("   3: "), "{folded}");
        assert!(
            folded.ends_with("--events FILE keeps the whole backtrace)"),
            "{folded}"
        );
    }

    #[test]
    fn a_prefix_of_the_root_is_not_the_app() {
        let folded = fold(BACKTRACE, Path::new("/home/me/my"), None, None);
        assert!(
            folded.starts_with("backtrace (the first frames)"),
            "{folded}"
        );
    }

    #[test]
    fn files_relative_to_the_current_folder_count() {
        let relative = BACKTRACE.replace("/home/me/my-app/", "./my-app/");
        let folded = fold(
            &relative,
            Path::new("/home/me/my-app"),
            Some(Path::new("/home/me")),
            None,
        );
        assert!(
            folded.starts_with("backtrace (the app's frames):\n   3: my_app"),
            "{folded}"
        );
    }

    #[test]
    fn text_that_is_not_a_backtrace_is_kept() {
        assert_eq!(
            fold("no frames here\n", Path::new("/a"), None, None),
            "no frames here"
        );
    }
}
