//! `relive loop`, `relive live` and `relive rewind`: the control path from
//! another terminal to the running `relive run` of a package.
//!
//! `relive run` listens on a Unix socket in the user's private runtime
//! folder (`$XDG_RUNTIME_DIR/relive`, else `/tmp/relive-control-UID`; mode 0700,
//! owner checked, the socket 0600), named after a hash of the package's
//! canonical manifest path, so the commands find it from the package
//! folder (or `--package PATH`). A client sends one JSON line (the
//! [`ReplayCommand`]) and reads one JSON line back: what the program did
//! (`loop_started`, `loop_ended`, `rewound`) or why it could not
//! (`error`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use relive_host::ReplayCommand;

/// How long a client waits for the program's answer (it comes at the next
/// frame boundary).
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Arguments of `relive loop` and `relive rewind`.
#[derive(Debug, clap::Args)]
pub struct SecondsArgs {
    /// How many seconds back.
    pub seconds: f64,
    /// The package whose `relive run` to talk to (default: the current folder's).
    #[arg(long, value_name = "PATH")]
    pub package: Option<PathBuf>,
}

/// Arguments of `relive live`.
#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// The package whose `relive run` to talk to (default: the current folder's).
    #[arg(long, value_name = "PATH")]
    pub package: Option<PathBuf>,
}

/// The private folder for the control sockets, made (0700) if missing;
/// refused if another user owns it or others can enter it.
fn runtime_dir() -> anyhow::Result<PathBuf> {
    // SAFETY: getuid has no failure mode and no memory effects.
    let uid = unsafe { libc::getuid() };
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(base) if !base.is_empty() => PathBuf::from(base).join("relive"),
        // Not `relive-<number>`: that is a staging folder's name (`Staging`).
        _ => std::env::temp_dir().join(format!("relive-control-{uid}")),
    };
    match std::fs::create_dir(&dir) {
        Ok(()) => {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot make {} private", dir.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        bail!(
            "{} is not a private folder of this user (owner {}, mode {:o}); remove it and try again",
            dir.display(),
            meta.uid(),
            meta.mode() & 0o7777
        );
    }
    Ok(dir)
}

/// The control socket of the package whose manifest is `manifest`.
pub fn socket_path(manifest: &Path) -> anyhow::Result<PathBuf> {
    let canonical = manifest
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", manifest.display()))?;
    let mut h = DefaultHasher::new();
    canonical.hash(&mut h);
    Ok(runtime_dir()?.join(format!("{:016x}.sock", h.finish())))
}

/// The manifest of the package at `path`, or of the nearest folder at or
/// above the current one that has a `Cargo.toml`.
fn manifest_of(path: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = path {
        let manifest = if path.is_dir() {
            path.join("Cargo.toml")
        } else {
            path.to_path_buf()
        };
        if !manifest.is_file() {
            bail!("no Cargo.toml at {}", path.display());
        }
        return Ok(manifest);
    }
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    cwd.ancestors()
        .map(|dir| dir.join("Cargo.toml"))
        .find(|m| m.is_file())
        .with_context(|| {
            format!(
                "no Cargo.toml in {} or above it; run this in the package folder of a `relive run`, or pass --package PATH",
                cwd.display()
            )
        })
}

/// A request from a client, with the stream its answer goes to.
pub struct Request {
    /// What it asks for.
    pub command: ReplayCommand,
    /// Where the answer goes.
    pub reply: UnixStream,
}

/// Writes one answer line to a client (which may have left).
pub fn answer(mut reply: UnixStream, answer: &serde_json::Value) {
    let mut line = answer.to_string();
    line.push('\n');
    let _ = reply.write_all(line.as_bytes());
}

/// The listening side, owned by `relive run`; removes its socket on drop.
pub struct Listener {
    path: PathBuf,
}

impl Listener {
    /// Listens for the package's commands; each request goes to `each`.
    /// A socket left by a `relive run` that is gone is replaced; one that
    /// answers means another `relive run` of this package is running, and
    /// this one does not listen (it says so).
    pub fn start(
        manifest: &Path,
        each: impl Fn(Request) + Send + 'static,
    ) -> anyhow::Result<Option<Listener>> {
        let path = socket_path(manifest)?;
        if UnixStream::connect(&path).is_ok() {
            return Ok(None);
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
        std::thread::Builder::new()
            .name("relive-control".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let _ = stream.set_read_timeout(Some(ANSWER_WAIT));
                    let Ok(reader) = stream.try_clone() else {
                        continue;
                    };
                    let mut line = String::new();
                    if BufReader::new(reader).read_line(&mut line).is_err() {
                        continue;
                    }
                    match serde_json::from_str::<ReplayCommand>(&line) {
                        Ok(command) => each(Request {
                            command,
                            reply: stream,
                        }),
                        Err(e) => answer(
                            stream,
                            &serde_json::json!({"event": "error", "reason": format!("malformed request: {e}")}),
                        ),
                    }
                }
            })
            .context("cannot start the thread that takes `relive loop` requests")?;
        Ok(Some(Listener { path }))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn millis(seconds: f64) -> anyhow::Result<u64> {
    if !(seconds > 0.0 && seconds.is_finite()) {
        bail!("{seconds} is not a number of seconds above 0");
    }
    Ok((seconds * 1000.0).round().max(1.0) as u64)
}

/// `relive loop SECONDS`.
pub fn run_loop(args: SecondsArgs) -> anyhow::Result<ExitCode> {
    let command = ReplayCommand::Loop(millis(args.seconds)?);
    send(args.package.as_deref(), command)
}

/// `relive rewind SECONDS`.
pub fn run_rewind(args: SecondsArgs) -> anyhow::Result<ExitCode> {
    let command = ReplayCommand::Rewind(millis(args.seconds)?);
    send(args.package.as_deref(), command)
}

/// `relive live`.
pub fn run_live(args: LiveArgs) -> anyhow::Result<ExitCode> {
    send(args.package.as_deref(), ReplayCommand::Live)
}

/// Sends `command` to the package's `relive run` and prints its answer.
fn send(package: Option<&Path>, command: ReplayCommand) -> anyhow::Result<ExitCode> {
    let manifest = manifest_of(package)?;
    let path = socket_path(&manifest)?;
    let mut stream = UnixStream::connect(&path).map_err(|_| {
        anyhow::anyhow!(
            "no `relive run` is running for {}; start one with `relive run` in that folder",
            manifest.display()
        )
    })?;
    let mut line = serde_json::to_string(&command)?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .context("cannot send the request to `relive run`")?;
    stream.set_read_timeout(Some(ANSWER_WAIT))?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .context("`relive run` did not answer in time (is the program stuck in a frame?)")?;
    let value: serde_json::Value = serde_json::from_str(&reply)
        .with_context(|| format!("`relive run` answered something unexpected: {reply:.200}"))?;
    let text = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let number = |key: &str| value.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
    match text("event").as_str() {
        "loop_started" => println!(
            "looping the last {:.1} s (frames {} to {}); `relive live` to go on",
            value.get("seconds").and_then(|v| v.as_f64()).unwrap_or(0.0),
            number("from_frame"),
            number("to_frame")
        ),
        "loop_ended" => println!("live again from frame {}", number("frame")),
        "rewound" => println!("went back to frame {}, live from there", number("to_frame")),
        _ => bail!("{}", text("reason")),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_package_one_private_socket() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a/Cargo.toml");
        let b = dir.path().join("b/Cargo.toml");
        for m in [&a, &b] {
            std::fs::create_dir_all(m.parent().expect("parent")).expect("mkdir");
            std::fs::write(m, "").expect("write");
        }
        let pa = socket_path(&a).expect("path");
        assert_eq!(
            pa,
            socket_path(&dir.path().join("a/../a/Cargo.toml")).expect("path")
        );
        assert_ne!(pa, socket_path(&b).expect("path"));
        let parent = pa.parent().expect("runtime dir");
        assert_eq!(
            std::fs::metadata(parent).expect("meta").mode() & 0o777,
            0o700
        );
        assert!(millis(0.0).is_err());
        assert!(millis(f64::NAN).is_err());
        assert_eq!(millis(2.5).expect("ms"), 2500);
    }
}
