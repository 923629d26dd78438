//! `relive new PATH`: creates a ready app package at PATH (a `cdylib` that
//! depends on relive, with a state struct, an `App` impl and `export!`) that
//! `relive run PATH` runs at once.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::NewArgs;

/// Why the app could not be created.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The path has no usable last component to name the package after.
    #[error(
        "cannot name a package after {path}; pass a folder path that ends in a name, like `my-app`"
    )]
    NoName {
        /// The path that was given.
        path: PathBuf,
    },
    /// The name is not a valid cargo package name.
    #[error(
        "`{name}` cannot be a package name: {why}; \
         choose a name of ASCII letters, digits, `-` and `_` that starts with a letter"
    )]
    BadName {
        /// The name taken from the path.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The folder holds files already.
    #[error(
        "{path} already exists and is not empty; choose another path, or empty the folder first"
    )]
    NotEmpty {
        /// The path that was given.
        path: PathBuf,
    },
    /// Something other than a folder is at the path.
    #[error("{path} already exists and is not a folder; choose another path")]
    NotAFolder {
        /// The path that was given.
        path: PathBuf,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}; check that the folder is writable")]
    Write {
        /// The file or folder being written.
        path: PathBuf,
        /// The error from the file system.
        source: std::io::Error,
    },
}

/// Names cargo or Rust would refuse, or that would clash with relive itself.
const RESERVED: &[&str] = &[
    "relive",
    "test",
    "core",
    "std",
    "alloc",
    "proc_macro",
    "proc-macro",
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "gen",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
];

/// Runs `relive new`.
pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    let name = package_name(&args.path)?;
    let dependency = relive_dependency();
    create(&args.path, &name, &dependency)?;
    let shown = args.path.display().to_string();
    // Quoted for a shell when it needs to be.
    let quoted = if shown
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c))
    {
        shown.clone()
    } else {
        format!("'{}'", shown.replace('\'', "'\\''"))
    };
    println!("created the relive app `{name}` in {shown}");
    println!("run it with `relive run {quoted}`, then edit {shown}/src/lib.rs while it runs");
    Ok(ExitCode::SUCCESS)
}

/// The package name for an app created at `path`: its last component.
pub fn package_name(path: &Path) -> Result<String, NewError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| NewError::NoName {
            path: path.to_path_buf(),
        })?;
    let bad = |why| NewError::BadName {
        name: name.to_string(),
        why,
    };
    let first = name.chars().next().ok_or_else(|| bad("it is empty"))?;
    if !first.is_ascii_alphabetic() {
        return Err(bad("it must start with an ASCII letter"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad("it may only hold ASCII letters, digits, `-` and `_`"));
    }
    if RESERVED.contains(&name) {
        return Err(bad("it is reserved by Rust, cargo or relive"));
    }
    Ok(name.to_string())
}

/// The `relive = ...` line of the new app's `[dependencies]`: the relive
/// crate of this checkout when the `relive` binary was built from one that
/// is still there, else the published version.
pub fn relive_dependency() -> String {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("relive");
    let is_relive = std::fs::read_to_string(here.join("Cargo.toml"))
        .is_ok_and(|manifest| manifest.lines().any(|l| l.trim() == "name = \"relive\""));
    match here.canonicalize() {
        Ok(path) if is_relive => {
            format!(
                "relive = {{ path = {} }}",
                toml_string(&path.to_string_lossy())
            )
        }
        _ => format!("relive = \"{}\"", env!("CARGO_PKG_VERSION")),
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the app's files into `dir`, which must be missing or empty.
pub fn create(dir: &Path, name: &str, dependency: &str) -> Result<(), NewError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(NewError::NotEmpty {
                    path: dir.to_path_buf(),
                });
            }
        }
        Err(_) if dir.exists() => {
            return Err(NewError::NotAFolder {
                path: dir.to_path_buf(),
            });
        }
        Err(_) => {}
    }
    let write = |path: PathBuf, text: String| {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| NewError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| NewError::Write { path, source })
    };
    write(dir.join("Cargo.toml"), manifest(name, dependency))?;
    write(dir.join("src").join("lib.rs"), lib_rs(name))?;
    write(dir.join(".gitignore"), "/target\n".to_string())?;
    Ok(())
}

fn manifest(name: &str, dependency: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# relive loads the app as a shared library.
[lib]
crate-type = ["cdylib"]

[dependencies]
{dependency}

# A package of its own; remove this table to make the app a member of an
# enclosing workspace.
[workspace]
"#
    )
}

fn lib_rs(name: &str) -> String {
    format!(
        r#"//! {name}: an app that relive runs and reloads.
//!
//! Run it with `relive run` in this folder and edit this file while it runs:
//! each save rebuilds it and swaps the new code in at a frame boundary, and
//! the state in [`All`] carries over. Look for "try changing this".

use std::io::Write as _;
use std::time::Duration;

use relive::{{Ctx, Flow}};

/// Try changing this: the message printed every second.
const MESSAGE: &str = "hello from {name}";

/// Frames per second.
const FPS: u64 = 10;

/// Everything that survives a reload. Add, remove or reorder its fields
/// while the app runs: the fields that keep their name and type keep their
/// values, new ones start from `Default`.
#[derive(Debug, Default, relive::State)]
pub struct All {{
    /// Frames run so far.
    pub frames: u64,
}}

impl relive::App for All {{
    fn init(&mut self, _ctx: &mut Ctx) {{
        // Runs once, on a fresh start (not after a reload).
    }}

    fn frame(&mut self, ctx: &mut Ctx) -> Flow {{
        self.frames += 1;
        if self.frames.is_multiple_of(FPS) {{
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{{MESSAGE}} · second {{}} · generation {{}}",
                self.frames / FPS,
                ctx.generation()
            );
            let _ = out.flush();
        }}
        std::thread::sleep(Duration::from_millis(1000 / FPS));
        Flow::Continue // or Flow::Exit to end the program
    }}

    fn reloaded(&mut self, _ctx: &mut Ctx) {{
        // Runs on the new code after each reload, before its first frame.
    }}
}}

relive::export!(All);
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_are_checked() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("my-app", Ok("my-app")),
            ("some/dir/game_2", Ok("game_2")),
            ("1st", Err("start with an ASCII letter")),
            ("_x", Err("start with an ASCII letter")),
            ("a b", Err("only hold")),
            ("café", Err("only hold")),
            ("relive", Err("reserved")),
            ("fn", Err("reserved")),
            ("..", Err("cannot name a package")),
            ("/", Err("cannot name a package")),
        ];
        for (path, expected) in cases {
            let got = package_name(Path::new(path)).map_err(|e| e.to_string());
            match (expected, &got) {
                (Ok(name), Ok(got)) => assert_eq!(got, name, "{path}"),
                (Err(part), Err(message)) => assert!(message.contains(part), "{path}: {message}"),
                _ => panic!("{path}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string("/a/b"), "\"/a/b\"");
        assert_eq!(toml_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(toml_string("a\nb"), "\"a\\u000ab\"");
    }

    #[test]
    fn this_checkout_provides_the_relive_dependency() {
        let line = relive_dependency();
        let relive = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../relive")
            .canonicalize()
            .expect("crates/relive exists in this checkout");
        assert_eq!(
            line,
            format!("relive = {{ path = \"{}\" }}", relive.display())
        );
    }

    #[test]
    fn occupied_paths_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
        let err = create(dir.path(), "app", "relive = \"0\"").expect_err("not empty");
        assert!(err.to_string().contains("is not empty"), "{err}");
        let file = dir.path().join("keep.txt");
        let err = create(&file, "app", "relive = \"0\"").expect_err("a file");
        assert!(err.to_string().contains("is not a folder"), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            1,
            "nothing was added"
        );
    }

    #[test]
    fn an_empty_folder_is_filled() {
        let dir = tempfile::tempdir().expect("temp dir");
        create(dir.path(), "app", "relive = \"0.1.0\"").expect("created");
        let manifest = std::fs::read_to_string(dir.path().join("Cargo.toml")).expect("manifest");
        assert!(manifest.contains("name = \"app\""), "{manifest}");
        assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");
        assert!(manifest.contains("relive = \"0.1.0\""), "{manifest}");
        let lib = std::fs::read_to_string(dir.path().join("src/lib.rs")).expect("lib.rs");
        assert!(lib.contains("relive::export!(All);"), "{lib}");
        assert!(
            lib.contains("const MESSAGE: &str = \"hello from app\";"),
            "{lib}"
        );
    }
}
