//! Reads the dep-info file cargo writes next to a built artifact
//! (`<target>/<profile>/<artifact stem>.d`): the list of every file the build
//! read, in Makefile syntax. It names the sources of the crate and of its path
//! dependencies, the files pulled in by `include_str!`/`include_bytes!`, and
//! the `rerun-if-changed` paths of build scripts.

use std::io;
use std::path::{Path, PathBuf};

/// The dep-info file cargo writes for `artifact`.
pub fn path_for(artifact: &Path) -> PathBuf {
    artifact.with_extension("d")
}

/// Why the dep-info of a build could not be used.
#[derive(Debug, thiserror::Error)]
#[error("could not read cargo's list of inputs {path}: {cause}")]
pub struct DepInfoError {
    /// The dep-info file.
    pub path: PathBuf,
    /// Why reading it failed.
    pub cause: io::Error,
}

/// Reads the dep-info of `artifact` and returns the files it lists, relative
/// ones resolved against `base` (cargo writes them relative only when
/// `build.dep-info-basedir` is set).
pub fn read(artifact: &Path, base: &Path) -> Result<Vec<PathBuf>, DepInfoError> {
    let path = path_for(artifact);
    let text = std::fs::read_to_string(&path).map_err(|cause| DepInfoError {
        path: path.clone(),
        cause,
    })?;
    Ok(parse(&text)
        .into_iter()
        .map(|dep| {
            if dep.is_absolute() {
                dep
            } else {
                base.join(dep)
            }
        })
        .collect())
}

/// The prerequisites of every rule in a Makefile-syntax dep-info text
/// (`target: dep dep ...`, one rule a line, a backslash before a space, `#`
/// or backslash that belongs to a path, a backslash at the end of a line to
/// continue it), in order, each once.
pub fn parse(text: &str) -> Vec<PathBuf> {
    let mut deps: Vec<PathBuf> = Vec::new();
    for rule in logical_lines(text) {
        let words = words(&rule);
        // The targets end at the first word that ends with an unescaped ':'.
        let Some(colon) = words.iter().position(|w| w.ends_rule) else {
            continue;
        };
        for word in &words[colon + 1..] {
            let path = PathBuf::from(&word.text);
            if !word.text.is_empty() && !deps.contains(&path) {
                deps.push(path);
            }
        }
    }
    deps
}

/// Lines with backslash-newline continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trailing = line.len() - line.trim_end_matches('\\').len();
        // An odd number of trailing backslashes continues the line.
        if trailing % 2 == 1 {
            current.push_str(&line[..line.len() - 1]);
            current.push(' ');
        } else {
            current.push_str(line);
            lines.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// A word of a rule, unescaped.
struct Word {
    text: String,
    /// The word ended with an unescaped ':' (it is the last target).
    ends_rule: bool,
}

/// Ends the word in `text`, if any (a lone ':' is a word too).
fn finish(text: &mut String, ends_rule: bool, words: &mut Vec<Word>) {
    if !text.is_empty() || ends_rule {
        words.push(Word {
            text: std::mem::take(text),
            ends_rule,
        });
    }
}

/// Splits a rule at unescaped whitespace and unescapes `\ `, `\#`, `\\` and `\:`.
fn words(rule: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut text = String::new();
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next @ (' ' | '#' | '\\' | ':')) => {
                    text.push(next);
                    chars.next();
                }
                _ => text.push('\\'),
            },
            ':' if chars.peek().is_none_or(|n| n.is_whitespace()) => {
                finish(&mut text, true, &mut words);
            }
            c if c.is_whitespace() => finish(&mut text, false, &mut words),
            c => text.push(c),
        }
    }
    finish(&mut text, false, &mut words);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn parses_cargo_dep_info() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "cargo's one line",
                "/t/debug/libapp.so: /a/src/lib.rs /a/data/v.txt /r/src/lib.rs\n",
                &["/a/src/lib.rs", "/a/data/v.txt", "/r/src/lib.rs"],
            ),
            (
                "escaped spaces",
                "/t/my\\ app/libapp.so: /my\\ app/src/lib.rs /my\\ app/a\\ b.txt\n",
                &["/my app/src/lib.rs", "/my app/a b.txt"],
            ),
            (
                "escaped hash, backslash and colon",
                "/t/libapp.so: /a/\\#1.txt /a/back\\\\slash.rs /a/c\\:d.rs\n",
                &["/a/#1.txt", "/a/back\\slash.rs", "/a/c:d.rs"],
            ),
            (
                "continuation lines",
                "/t/libapp.so: /a/src/lib.rs \\\n  /a/src/m.rs\n",
                &["/a/src/lib.rs", "/a/src/m.rs"],
            ),
            (
                "rustc-style rules, each dep once",
                "/t/app.d: /a/src/lib.rs /a/src/m.rs\n\n/a/src/lib.rs:\n/a/src/m.rs:\n",
                &["/a/src/lib.rs", "/a/src/m.rs"],
            ),
            (
                "a colon inside a path",
                "/t/libapp.so: /a/src/x:y.rs\n",
                &["/a/src/x:y.rs"],
            ),
            (
                "relative paths stay relative",
                "libapp.so: src/lib.rs\n",
                &["src/lib.rs"],
            ),
            ("no rule", "garbage without colon\n", &[]),
            ("empty", "", &[]),
            ("no trailing newline", "/t/l.so: /a/b.rs", &["/a/b.rs"]),
        ];
        for (name, text, want) in cases {
            assert_eq!(parse(text), paths(want), "case: {name}");
        }
    }

    #[test]
    fn the_dep_info_sits_next_to_the_artifact() {
        assert_eq!(
            path_for(Path::new("/t/debug/libmy_app.so")),
            PathBuf::from("/t/debug/libmy_app.d")
        );
    }

    #[test]
    fn read_resolves_relative_paths_and_names_a_missing_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let artifact = tmp.path().join("libapp.so");
        std::fs::write(
            tmp.path().join("libapp.d"),
            "libapp.so: src/lib.rs /abs/x.rs\n",
        )
        .expect("write dep-info");
        assert_eq!(
            read(&artifact, Path::new("/pkg")).expect("read"),
            paths(&["/pkg/src/lib.rs", "/abs/x.rs"])
        );
        let err = read(&tmp.path().join("libnone.so"), Path::new("/pkg")).expect_err("missing");
        assert!(err.to_string().contains("libnone.d"), "{err}");
    }
}
