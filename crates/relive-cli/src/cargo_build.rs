//! Runs one `cargo build` of the app's library at low CPU priority and reads
//! cargo's JSON messages to find the built `cdylib` and the compiler's messages.

use std::ffi::OsString;
use std::io::{BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use cargo_metadata::diagnostic::DiagnosticLevel;
use cargo_metadata::{Message, TargetKind};

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// The `Cargo.toml` given to `--manifest-path`.
    pub manifest_path: PathBuf,
    /// The package given to `-p`.
    pub package: String,
    /// Build with `--release`.
    pub release: bool,
    /// Persistent mode: build a `dylib` with `-C prefer-dynamic` into a
    /// subfolder of this target folder ([`crate::persistent`]).
    pub persistent_target: Option<PathBuf>,
}

/// How a build that ran ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildOutcome {
    /// The build succeeded and produced the package's `cdylib`.
    Finished {
        /// The built shared library.
        artifact: PathBuf,
        /// How long the build took, in milliseconds.
        ms: u64,
        /// The compiler's warnings, rendered with ANSI colours (empty if none).
        warnings: String,
    },
    /// The build failed, or succeeded without producing a `cdylib`.
    Failed {
        /// What went wrong, rendered as the compiler prints it, without ANSI codes.
        diagnostics: String,
        /// The same text with ANSI colours.
        coloured: String,
        /// How many errors the compiler reported (0 when cargo itself failed).
        errors: usize,
        /// The first error's message, for a one-line summary.
        first_error: Option<String>,
        /// How long the build took, in milliseconds.
        ms: u64,
    },
}

/// Cargo could not be started at all.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Spawning the cargo process failed.
    #[error(
        "could not start `{cargo}` to build {manifest}: {cause}; \
         check that cargo is installed and on PATH, or set CARGO to its path"
    )]
    Spawn {
        /// The cargo program that was run.
        cargo: String,
        /// The manifest that was to be built.
        manifest: PathBuf,
        /// Why it could not start.
        cause: std::io::Error,
    },
}

/// The nice value of builds (see `build`).
const BUILD_NICE: libc::c_int = 10;

/// Runs `cargo build` for `req` and waits for it to end.
pub fn build(req: &BuildRequest) -> Result<BuildOutcome, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&req.manifest_path)
        .arg("-p")
        .arg(&req.package)
        .arg("--lib")
        .arg("--message-format=json-diagnostic-rendered-ansi")
        .arg("--color=always");
    if req.release {
        cmd.arg("--release");
    }
    if let Some(target) = &req.persistent_target {
        crate::persistent::configure_build(&mut cmd, target);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe functions may be called; it only makes the plain
    // syscalls `sched_setscheduler`, `setpriority` and `prctl`, which
    // neither allocate nor take locks. Their failure is ignored: the build
    // then merely runs as a normal process.
    unsafe {
        cmd.pre_exec(|| {
            // The batch class (never preempts the app's frame thread when it
            // wakes up) at nice 10: within relive's session cargo and rustc
            // yield most of a core to the running app, while against jobs of
            // other sessions (an editor's rust-analyzer, a second cargo) the
            // session competes as a group (the kernel's autogroups), so the
            // build still gets its share. The idle class got none while any
            // other job ran: builds took 3x as long.
            let param = libc::sched_param { sched_priority: 0 };
            libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
            libc::setpriority(libc::PRIO_PROCESS, 0, BUILD_NICE);
            // cargo ends with relive (the thread that waits for it), so an
            // interrupted relive leaves no build holding the target folder.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }

    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|cause| BuildError::Spawn {
        cargo: cargo.to_string_lossy().into_owned(),
        manifest: req.manifest_path.clone(),
        cause,
    })?;

    // Drain stderr on its own thread so a chatty cargo cannot block on a full pipe.
    let stderr_reader = child.stderr.take().map(|mut stderr| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    });

    let lib_target = req.package.replace('-', "_");
    let mut messages = String::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut artifact = None;
    let mut read_error = None;
    if let Some(stdout) = child.stdout.take() {
        for message in Message::parse_stream(BufReader::new(stdout)) {
            match message {
                Ok(Message::CompilerMessage(msg)) => {
                    if matches!(
                        msg.message.level,
                        DiagnosticLevel::Error | DiagnosticLevel::Ice
                    ) {
                        errors += 1;
                        first_error.get_or_insert_with(|| msg.message.message.clone());
                    }
                    if let Some(rendered) = &msg.message.rendered {
                        messages.push_str(rendered);
                    }
                }
                Ok(Message::CompilerArtifact(art)) => {
                    let kind = if req.persistent_target.is_some() {
                        TargetKind::DyLib
                    } else {
                        TargetKind::CDyLib
                    };
                    let is_ours = art.target.kind.contains(&kind)
                        && match package_name_of(&art.package_id.repr) {
                            Some(name) => name == req.package,
                            None => art.target.name == lib_target,
                        };
                    if is_ours {
                        let so = art
                            .filenames
                            .iter()
                            .find(|f| f.as_str().ends_with(std::env::consts::DLL_SUFFIX));
                        if let Some(so) = so {
                            artifact = Some(so.clone().into_std_path_buf());
                        }
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    read_error = Some(format!("could not read cargo's output: {err}\n"));
                    break;
                }
            }
        }
    }

    let status = child.wait();
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let stderr = stderr_reader
        .and_then(|handle| handle.join().ok())
        .unwrap_or_default();

    let succeeded = matches!(&status, Ok(s) if s.success()) && read_error.is_none();
    if let (true, Some(artifact)) = (succeeded, artifact) {
        return Ok(BuildOutcome::Finished {
            artifact,
            ms,
            warnings: messages,
        });
    }

    let mut coloured = messages;
    if succeeded {
        coloured.push_str(&format!(
            "package `{}` built but produced no cdylib; \
             add `[lib] crate-type = [\"cdylib\"]` to {}\n",
            req.package,
            req.manifest_path.display()
        ));
    } else if errors == 0 {
        // Without a compiler error, the reason is in cargo's own output (a broken
        // Cargo.toml, a failed build script, ...).
        coloured.push_str(&without_status_lines(&stderr));
    }
    if let Some(err) = read_error {
        coloured.push_str(&err);
    }
    if let Err(err) = &status {
        coloured.push_str(&format!("could not wait for cargo to end: {err}\n"));
    }
    Ok(BuildOutcome::Failed {
        diagnostics: strip_ansi(&coloured),
        coloured,
        errors,
        first_error,
        ms,
    })
}

/// Drops cargo's progress lines (`   Compiling x v0.1.0`, `    Finished ...`: a
/// capitalised verb right-aligned to column 12) from its stderr text.
fn without_status_lines(stderr: &str) -> String {
    let mut out = String::new();
    for line in stderr.lines() {
        let plain = strip_ansi(line);
        let head = plain.get(..12).unwrap_or("");
        let verb = head.trim_start();
        let is_status = plain.as_bytes().get(12) == Some(&b' ')
            && head.starts_with(' ')
            && verb.starts_with(|c: char| c.is_ascii_uppercase())
            && verb.chars().all(|c| c.is_ascii_alphabetic());
        if !is_status {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Gets the package name out of a cargo package ID spec such as
/// `path+file:///src/my-app#0.1.0` or `registry+https://...#serde@1.0.0`.
fn package_name_of(id: &str) -> Option<&str> {
    let (url, fragment) = id.rsplit_once('#')?;
    if let Some((name, _version)) = fragment.split_once('@') {
        return Some(name);
    }
    let path = url.split('?').next()?;
    path.trim_end_matches('/').rsplit('/').next()
}

/// Removes ANSI CSI escape sequences (`ESC [` parameters, intermediates, final byte) from `s`.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameter and intermediate bytes are 0x20..=0x3f; the final byte is 0x40..=0x7e.
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    #[test]
    fn strip_ansi_removes_csi_sequences() {
        let cases = [
            ("plain", "plain"),
            (
                "\u{1b}[0m\u{1b}[1m\u{1b}[38;5;9merror\u{1b}[0m: x",
                "error: x",
            ),
            ("a\u{1b}[Kb", "ab"),
            ("tail \u{1b}[", "tail "),
            ("lone \u{1b} escape", "lone \u{1b} escape"),
            ("ünïcode \u{1b}[31m✓\u{1b}[0m", "ünïcode ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(strip_ansi(input), want, "input {input:?}");
        }
    }

    #[test]
    fn cargo_status_lines_are_dropped() {
        let stderr = "   \u{1b}[1m\u{1b}[32mCompiling\u{1b}[0m a v0.1.0 (/x)\n\
                      \u{1b}[1m\u{1b}[31merror\u{1b}[0m: failed to run custom build command\n\
                      \n\
                      Caused by:\n  process didn't exit successfully\n\
                      \x20   Finished `dev` profile\n";
        assert_eq!(
            strip_ansi(&without_status_lines(stderr)),
            "error: failed to run custom build command\n\nCaused by:\n  \
             process didn't exit successfully\n"
        );
    }

    #[test]
    fn package_name_is_read_from_package_ids() {
        let cases = [
            ("path+file:///src/my-app#0.1.0", Some("my-app")),
            ("path+file:///src/dir#my-app@0.1.0", Some("my-app")),
            (
                "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
                Some("serde"),
            ),
            (
                "git+https://example.invalid/x/y?branch=main#y@0.2.0",
                Some("y"),
            ),
            (
                "git+https://example.invalid/x/yy?branch=main#0.2.0",
                Some("yy"),
            ),
            ("no fragment", None),
        ];
        for (id, want) in cases {
            assert_eq!(package_name_of(id), want, "id {id}");
        }
    }

    /// Writes a standalone cdylib package named `name` with `lib_rs` as its source.
    fn write_cdylib(dir: &Path, name: &str, lib_rs: &str) -> BuildRequest {
        fs::create_dir_all(dir.join("src")).expect("create src");
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [workspace]\n\n[lib]\ncrate-type = [\"cdylib\"]\n"
            ),
        )
        .expect("write Cargo.toml");
        fs::write(dir.join("src/lib.rs"), lib_rs).expect("write lib.rs");
        BuildRequest {
            manifest_path: dir.join("Cargo.toml"),
            package: name.to_string(),
            release: false,
            persistent_target: None,
        }
    }

    #[test]
    fn successful_build_finds_the_cdylib() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let req = write_cdylib(
            tmp.path(),
            "tiny-ok",
            "#[unsafe(no_mangle)]\npub extern \"C\" fn answer() -> u32 { let unused = 1; 42 }\n",
        );
        match build(&req).expect("cargo starts") {
            BuildOutcome::Finished {
                artifact, warnings, ..
            } => {
                assert!(artifact.is_file(), "{}", artifact.display());
                let name = artifact.file_name().expect("file name").to_string_lossy();
                assert!(name.ends_with(".so"), "{name}");
                assert!(name.contains("tiny_ok"), "{name}");
                assert!(strip_ansi(&warnings).contains("unused"), "{warnings}");
            }
            other => panic!("expected success, got {other:?}"),
        }
    }

    #[test]
    fn compile_error_is_rendered_without_ansi() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let req = write_cdylib(
            tmp.path(),
            "tiny-bad",
            "pub fn f() -> u32 { \"not a number\" }\n",
        );
        match build(&req).expect("cargo starts") {
            BuildOutcome::Failed {
                diagnostics,
                coloured,
                errors,
                first_error,
                ..
            } => {
                assert_eq!(errors, 1, "{diagnostics}");
                assert_eq!(first_error.as_deref(), Some("mismatched types"));
                assert!(diagnostics.contains("error"), "{diagnostics}");
                assert!(diagnostics.contains("E0308"), "{diagnostics}");
                assert!(!diagnostics.contains('\u{1b}'), "{diagnostics}");
                assert!(coloured.contains('\u{1b}'), "{coloured}");
            }
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[test]
    fn broken_manifest_reports_cargo_stderr() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut req = write_cdylib(tmp.path(), "tiny-broken", "");
        fs::write(&req.manifest_path, "[package\n").expect("break Cargo.toml");
        req.package = "tiny-broken".into();
        match build(&req).expect("cargo starts") {
            BuildOutcome::Failed { diagnostics, .. } => {
                assert!(diagnostics.contains("Cargo.toml"), "{diagnostics}");
                assert!(!diagnostics.contains('\u{1b}'), "{diagnostics}");
            }
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[test]
    fn failed_build_script_reports_cargo_stderr() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let req = write_cdylib(tmp.path(), "tiny-script", "pub fn f() {}\n");
        fs::write(
            tmp.path().join("build.rs"),
            "fn main() { panic!(\"boom from build script\") }\n",
        )
        .expect("write build.rs");
        match build(&req).expect("cargo starts") {
            BuildOutcome::Failed { diagnostics, .. } => {
                assert!(
                    diagnostics.contains("boom from build script"),
                    "{diagnostics}"
                );
                assert!(!diagnostics.contains("   Compiling"), "{diagnostics}");
            }
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[test]
    fn success_without_cdylib_is_a_failure() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let req = write_cdylib(tmp.path(), "tiny-rlib", "pub fn f() {}\n");
        let manifest = fs::read_to_string(&req.manifest_path).expect("read");
        fs::write(
            &req.manifest_path,
            manifest.replace("[\"cdylib\"]", "[\"rlib\"]"),
        )
        .expect("rewrite Cargo.toml");
        match build(&req).expect("cargo starts") {
            BuildOutcome::Failed { diagnostics, .. } => {
                assert!(diagnostics.contains("produced no cdylib"), "{diagnostics}");
            }
            other => panic!("expected failure, got {other:?}"),
        }
    }
}
