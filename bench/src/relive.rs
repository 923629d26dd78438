//! Runs `relive run` as a user would and follows it: the app's `@bench` lines
//! on relive's stdout (read on a thread, each carrying its own timestamps, so
//! reading late changes no figure) and relive's `--events` JSON Lines.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use crate::workspace::Workspace;

/// How often the events file is read while waiting for an event.
const EVENT_POLL: Duration = Duration::from_millis(2);

/// Events that end a wait with an error unless the wait is for them.
const FAILURES: &[&str] = &[
    "refused",
    "rolled_back",
    "panicked",
    "build_failed",
    "exited",
];

/// One `@bench KIND key=value ...` line of an app.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// The word after `@bench`.
    pub kind: String,
    fields: HashMap<String, String>,
}

impl Marker {
    /// Parses a line; `None` for lines that are not `@bench` lines.
    pub fn parse(line: &str) -> Option<Marker> {
        let rest = line.trim_end().strip_prefix("@bench ")?;
        let mut words = rest.split_whitespace();
        let kind = words.next()?.to_string();
        let fields = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Marker { kind, fields })
    }

    /// The text of field `key`.
    pub fn text(&self, key: &str) -> anyhow::Result<&str> {
        self.fields
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| anyhow!("`@bench {}` line without `{key}=`", self.kind))
    }

    /// Field `key` as an integer.
    pub fn u64(&self, key: &str) -> anyhow::Result<u64> {
        let text = self.text(key)?;
        text.parse()
            .with_context(|| format!("`{key}={text}` of `@bench {}`", self.kind))
    }

    /// Field `key` as a number.
    pub fn f64(&self, key: &str) -> anyhow::Result<f64> {
        let text = self.text(key)?;
        text.parse()
            .with_context(|| format!("`{key}={text}` of `@bench {}`", self.kind))
    }
}

/// Reads the `@bench` lines of a child's stdout on a thread (each line
/// carries its own timestamps, so reading late changes no figure); other
/// lines are dropped.
pub fn read_markers(stdout: impl Read + Send + 'static) -> Receiver<Marker> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(marker) = Marker::parse(&line)
                && tx.send(marker).is_err()
            {
                break;
            }
        }
    });
    rx
}

/// The last 30 lines of the stderr log at `path`, for an error message.
pub fn stderr_tail(path: &Path) -> String {
    let stderr = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    tail.join("\n")
}

/// Reads a JSON Lines file as it grows.
#[derive(Debug)]
struct EventTail {
    path: PathBuf,
    file: Option<File>,
    partial: String,
    pending: VecDeque<Value>,
    all: Vec<Value>,
}

impl EventTail {
    fn new(path: PathBuf) -> EventTail {
        EventTail {
            path,
            file: None,
            partial: String::new(),
            pending: VecDeque::new(),
            all: Vec::new(),
        }
    }

    /// Reads what was appended since the last call.
    fn poll(&mut self) -> anyhow::Result<()> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(file) => self.file = Some(file),
                Err(_) => return Ok(()), // not created yet
            }
        }
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        self.partial.push_str(&text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            let value: Value = serde_json::from_str(line.trim())
                .with_context(|| format!("not a JSON line in the events: {line}"))?;
            self.pending.push_back(value.clone());
            self.all.push(value);
        }
        Ok(())
    }
}

/// The name of an event.
pub fn event_name(event: &Value) -> &str {
    event["event"].as_str().unwrap_or("")
}

/// A running `relive run`.
#[derive(Debug)]
pub struct Relive {
    child: Option<Child>,
    markers: Receiver<Marker>,
    backlog: VecDeque<Marker>,
    events: EventTail,
    stderr_path: PathBuf,
    what: String,
}

impl Relive {
    /// Starts `relive run APP --quiet --events FILE ARGS...` with the bench's
    /// target folder; `tag` names its log files in the work folder.
    pub fn start(
        relive: &Path,
        ws: &Workspace,
        app: &Path,
        args: &[&str],
        env: &[(&str, String)],
        tag: &str,
    ) -> anyhow::Result<Relive> {
        std::fs::create_dir_all(&ws.work)
            .with_context(|| format!("cannot create {}", ws.work.display()))?;
        let events_path = ws.work.join(format!("{tag}.events.jsonl"));
        let stderr_path = ws.work.join(format!("{tag}.stderr.txt"));
        let _ = std::fs::remove_file(&events_path);
        let stderr = File::create(&stderr_path)
            .with_context(|| format!("cannot create {}", stderr_path.display()))?;
        let mut cmd = Command::new(relive);
        cmd.arg("run")
            .arg(app)
            .arg("--quiet")
            .arg("--events")
            .arg(&events_path)
            .args(args)
            .env("CARGO_TARGET_DIR", &ws.bench_target)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        for (key, value) in env {
            cmd.env(key, value);
        }
        let what = format!("relive run {} {}", app.display(), args.join(" "));
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", relive.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("relive's stdout is not piped")?;
        Ok(Relive {
            child: Some(child),
            markers: read_markers(stdout),
            backlog: VecDeque::new(),
            events: EventTail::new(events_path),
            stderr_path,
            what,
        })
    }

    /// The end of relive's stderr and its last events, for an error message.
    fn diagnose(&mut self) -> String {
        let _ = self.events.poll();
        let events: Vec<String> = self
            .events
            .all
            .iter()
            .rev()
            .take(5)
            .map(|e| {
                let text = e.to_string();
                text.chars().take(600).collect()
            })
            .collect();
        format!(
            "{}\nlast events (newest first):\n{}\nrelive's stderr ({}):\n{}",
            self.what,
            events.join("\n"),
            self.stderr_path.display(),
            stderr_tail(&self.stderr_path)
        )
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = &mut self.child
            && let Ok(Some(status)) = child.try_wait()
        {
            // Reaped: its pid may be reused, so it must not be signalled again.
            self.child = None;
            let detail = self.diagnose();
            bail!("relive ended early ({status})\n{detail}");
        }
        Ok(())
    }

    /// Waits for the first app line (kept ones first) for which `pred` holds;
    /// other lines are kept for later.
    pub fn wait_marker(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Marker) -> bool,
    ) -> anyhow::Result<Marker> {
        if let Some(i) = self.backlog.iter().position(&pred)
            && let Some(marker) = self.backlog.remove(i)
        {
            return Ok(marker);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let detail = self.diagnose();
                bail!("no `{what}` from the app within {timeout:?}\n{detail}");
            }
            match self
                .markers
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(marker) if pred(&marker) => return Ok(marker),
                Ok(marker) => self.backlog.push_back(marker),
                Err(RecvTimeoutError::Timeout) => self.check_alive()?,
                Err(RecvTimeoutError::Disconnected) => {
                    let detail = self.diagnose();
                    bail!("relive's stdout closed while waiting for `{what}`\n{detail}");
                }
            }
        }
    }

    /// Waits for the first frame of the first generation (`@bench gen
    /// gen=1`).
    pub fn wait_first_frame(&mut self, timeout: Duration) -> anyhow::Result<Marker> {
        self.wait_marker(timeout, "the first frame", |m| {
            m.kind == "gen" && m.text("gen").ok() == Some("1")
        })
    }

    /// Takes every app line of `kind` received so far.
    pub fn take_markers(&mut self, kind: &str) -> Vec<Marker> {
        while let Ok(marker) = self.markers.try_recv() {
            self.backlog.push_back(marker);
        }
        let (taken, kept): (Vec<Marker>, Vec<Marker>) =
            self.backlog.drain(..).partition(|m| m.kind == kind);
        self.backlog = kept.into();
        taken
    }

    /// Waits for the next event for which `pred` holds (events before it are
    /// passed over); a failure event (`refused`, `rolled_back`, `panicked`,
    /// `build_failed`, `exited`) that `pred` does not accept is an error.
    pub fn wait_event(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            self.events.poll()?;
            while let Some(event) = self.events.pending.pop_front() {
                if pred(&event) {
                    return Ok(event);
                }
                if FAILURES.contains(&event_name(&event)) {
                    let detail = self.diagnose();
                    bail!("relive reported `{event}` while the bench waited for {what}\n{detail}");
                }
            }
            if Instant::now() >= deadline {
                let detail = self.diagnose();
                bail!("no {what} from relive within {timeout:?}\n{detail}");
            }
            self.check_alive()?;
            std::thread::sleep(EVENT_POLL);
        }
    }

    /// Every event read so far.
    pub fn events(&mut self) -> anyhow::Result<&[Value]> {
        self.events.poll()?;
        Ok(&self.events.all)
    }

    /// Takes every app line of `kind`, reading relive's stdout to its end
    /// (after relive ended; gives up after 10 s).
    pub fn take_markers_to_end(&mut self, kind: &str) -> Vec<Marker> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.markers.recv_timeout(left) {
                Ok(marker) => self.backlog.push_back(marker),
                Err(_) => break,
            }
        }
        self.take_markers(kind)
    }

    /// Waits for relive to end by itself (the app returned `Flow::Exit`).
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<()> {
        if let Err(err) = self.wait_child(timeout) {
            let detail = self.diagnose();
            bail!("{err:#}\n{detail}");
        }
        Ok(())
    }

    /// Sends SIGINT (what Ctrl-C sends) to relive.
    fn interrupt(&self) -> anyhow::Result<()> {
        if let Some(child) = &self.child {
            let pid = libc::pid_t::try_from(child.id()).context("relive's pid")?;
            // SAFETY: `pid` is our own child, which has not been waited for,
            // so the id cannot have been reused; SIGINT asks it to end.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
        Ok(())
    }

    /// Stops relive as Ctrl-C does and waits for it to end (kills it after
    /// 20 s); returns every event.
    pub fn stop(mut self) -> anyhow::Result<Vec<Value>> {
        self.interrupt()?;
        if let Err(err) = self.wait_child(Duration::from_secs(20)) {
            let detail = self.diagnose();
            bail!("{err:#} after SIGINT\n{detail}");
        }
        self.events.poll()?;
        Ok(std::mem::take(&mut self.events.all))
    }

    /// Waits for the child to end; kills it when it does not within `timeout`.
    fn wait_child(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        if let Some(child) = &mut self.child {
            loop {
                if child
                    .try_wait()
                    .context("cannot wait for relive")?
                    .is_some()
                {
                    break;
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    self.child = None;
                    bail!("relive did not end within {timeout:?}");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.child = None;
        Ok(())
    }
}

impl Drop for Relive {
    /// Stops relive cleanly (so that it removes its private folder), or
    /// kills it after 5 s.
    fn drop(&mut self) {
        if self.child.is_some() && self.interrupt().is_ok() {
            let _ = self.wait_child(Duration::from_secs(5));
        }
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_parsed() {
        let m = Marker::parse("@bench gen gen=3 variant=2 t_ns=123\n").expect("a marker");
        assert_eq!(m.kind, "gen");
        assert_eq!(m.u64("gen").expect("gen"), 3);
        assert_eq!(m.u64("t_ns").expect("t_ns"), 123);
        assert!(m.u64("missing").is_err());
        assert_eq!(
            Marker::parse("@bench call name=direct ns=1.5")
                .expect("a marker")
                .f64("ns")
                .expect("ns"),
            1.5
        );
        assert_eq!(Marker::parse("tick 1 v1"), None);
        assert_eq!(Marker::parse("@bench"), None);
    }
}
