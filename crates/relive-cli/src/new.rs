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
    /// The relive checkout this binary was built from is gone.
    #[error(
        "the relive checkout this `relive` was built from is gone ({built_from} does not hold \
         the relive crate), and relive is not on a registry; point the app at a relive \
         checkout with `relive new PATH --relive <checkout>`, or reinstall relive from one \
         (`cargo install --path <checkout>/crates/relive-cli --locked`)"
    )]
    CheckoutGone {
        /// Where the relive crate was when this binary was built.
        built_from: PathBuf,
    },
    /// `--relive` does not name a relive checkout.
    #[error(
        "{path} is not a relive checkout: neither it nor {path}/crates/relive holds the relive \
         crate's Cargo.toml; pass the folder of a relive clone"
    )]
    NotRelive {
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
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("relive");
    let relive = relive_crate(args.relive.as_deref(), &built_from)?;
    let dependency = dependency_line(&relive);
    if args.persistent {
        crate::new_persistent::create_persistent(&args.path, &name, &dependency)?;
    } else {
        create(&args.path, &name, &dependency)?;
    }
    let shown = args.path.display().to_string();
    println!("created the relive app `{name}` in {shown}");
    let exe = std::env::current_exe().ok();
    let command = relive_command(exe.as_deref(), find_on_path("relive").as_deref());
    println!(
        "run it with `{command} run {}`, then edit {shown}/src/lib.rs while it runs",
        shell_quote(&shown)
    );
    if command != "relive" {
        println!(
            "(to type just `relive`, put it on your PATH: `cargo install --path {} --locked`)",
            shell_quote(&relive.with_file_name("relive-cli").display().to_string())
        );
    }
    // `relive` is `<checkout>/crates/relive`.
    if let Some(checkout) = relive.parent().and_then(Path::parent)
        && std::path::absolute(&args.path).is_ok_and(|app| inside(&app, checkout))
    {
        println!(
            "note: {shown} is inside the relive checkout {}; it is a package of its own \
             (its Cargo.toml has a [workspace] table), but a folder outside the checkout, \
             like `relive new ../{name}`, keeps the two apart",
            checkout.display()
        );
    }
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

/// `text` quoted for a POSIX shell when it needs to be.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Whether `path` (absolute) is `dir` or below it, comparing the parts of
/// them that exist with symlinks resolved.
fn inside(path: &Path, dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    // The app folder may not exist yet: resolve its nearest existing parent.
    let mut rest = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(real) = existing.canonicalize() {
            let full: PathBuf = real.join(rest.iter().rev().collect::<PathBuf>());
            return full.starts_with(&dir);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return false,
        }
    }
}

/// Finds `program` on `PATH`.
fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// The command that starts this `relive` again: `relive` when that name on
/// `PATH` is this binary, else this binary's full path (a binary run with
/// `cargo run` or from a target folder is not on `PATH`).
pub fn relive_command(exe: Option<&Path>, on_path: Option<&Path>) -> String {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    match (exe, on_path) {
        (Some(exe), Some(found)) if same(exe, found) => "relive".to_string(),
        (Some(exe), _) => shell_quote(&exe.display().to_string()),
        (None, _) => "relive".to_string(),
    }
}

/// Whether `dir` holds the `relive` crate's manifest.
fn is_relive_crate(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|manifest| manifest.lines().any(|l| l.trim() == "name = \"relive\""))
}

/// The folder of the `relive` crate the new app depends on: `explicit`
/// (`--relive`, a relive checkout or its `crates/relive`) when given, else
/// the crate this binary was built from (`built_from`) if it is still there.
/// relive is not on a registry, so without either the app could not build.
pub fn relive_crate(explicit: Option<&Path>, built_from: &Path) -> Result<PathBuf, NewError> {
    if let Some(dir) = explicit {
        let found = [dir.to_path_buf(), dir.join("crates").join("relive")]
            .into_iter()
            .find(|d| is_relive_crate(d));
        return found
            .and_then(|d| d.canonicalize().ok())
            .ok_or_else(|| NewError::NotRelive {
                path: dir.to_path_buf(),
            });
    }
    match built_from.canonicalize() {
        Ok(path) if is_relive_crate(&path) => Ok(path),
        _ => Err(NewError::CheckoutGone {
            built_from: built_from.to_path_buf(),
        }),
    }
}

/// The `relive = ...` line of the new app's `[dependencies]`.
pub fn dependency_line(relive: &Path) -> String {
    format!(
        "relive = {{ path = {} }}",
        toml_string(&relive.to_string_lossy())
    )
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
    let write = write_file;
    write(dir.join("Cargo.toml"), manifest(name, dependency))?;
    write(dir.join("src").join("lib.rs"), lib_rs(name))?;
    write(dir.join(".gitignore"), "/target\n".to_string())?;
    Ok(())
}

/// Writes `text` to `path`, creating its folder.
pub(crate) fn write_file(path: PathBuf, text: String) -> Result<(), NewError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| NewError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(&path, text).map_err(|source| NewError::Write { path, source })
}

/// The `[package]` table every generated manifest starts with.
pub(crate) fn package_table(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false
"#
    )
}

fn manifest(name: &str, dependency: &str) -> String {
    let package = package_table(name);
    format!(
        r#"{package}
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
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../relive");
        let relive = built_from
            .canonicalize()
            .expect("crates/relive exists in this checkout");
        let found = relive_crate(None, &built_from).expect("found");
        assert_eq!(found, relive);
        assert_eq!(
            dependency_line(&found),
            format!("relive = {{ path = \"{}\" }}", relive.display())
        );
        let checkout = relive.join("../..");
        for explicit in [&checkout, &relive] {
            let gone = Path::new("/nonexistent/relive");
            assert_eq!(
                relive_crate(Some(explicit), gone).expect("explicit"),
                relive
            );
        }
    }

    #[test]
    fn a_gone_checkout_says_how_to_point_at_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = relive_crate(None, &dir.path().join("crates/relive")).expect_err("gone");
        let text = err.to_string();
        assert!(text.contains("--relive <checkout>"), "{text}");
        let err = relive_crate(Some(dir.path()), dir.path()).expect_err("not relive");
        assert!(
            err.to_string().contains("is not a relive checkout"),
            "{err}"
        );
    }

    #[test]
    fn the_run_command_is_the_one_that_works() {
        let dir = tempfile::tempdir().expect("temp dir");
        let exe = dir.path().join("relive");
        std::fs::write(&exe, "").expect("write");
        let other = dir.path().join("other");
        std::fs::create_dir(&other).expect("mkdir");
        std::fs::write(other.join("relive"), "").expect("write");
        assert_eq!(relive_command(Some(&exe), Some(&exe)), "relive");
        let full = exe.display().to_string();
        assert_eq!(relive_command(Some(&exe), None), full);
        assert_eq!(
            relive_command(Some(&exe), Some(&other.join("relive"))),
            full
        );
        assert_eq!(shell_quote("/a b/relive"), "'/a b/relive'");
    }

    #[test]
    fn paths_inside_a_folder_are_found_before_they_exist() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(inside(&dir.path().join("new/app"), dir.path()));
        assert!(inside(dir.path(), dir.path()));
        assert!(!inside(Path::new("/"), dir.path()));
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
