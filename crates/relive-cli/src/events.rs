//! The `--events FILE` log: one JSON object per line, each with `"event"`
//! and `"t_ms"` (milliseconds since relive started), flushed as it happens so
//! that editors and tests can follow the run.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

use serde_json::{Map, Value, json};

/// Where events go (nowhere without `--events`).
#[derive(Debug)]
pub struct EventLog {
    start: Instant,
    file: Option<BufWriter<File>>,
}

impl EventLog {
    /// Creates (truncates) the log at `path`, or a log that drops events.
    pub fn create(path: Option<&Path>, start: Instant) -> anyhow::Result<EventLog> {
        let file = match path {
            Some(path) => Some(BufWriter::new(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    // The user's umask applies on top; never world-writable.
                    .mode(0o644)
                    .open(path)
                    .map_err(|e| {
                        anyhow::anyhow!("cannot create the events file {}: {e}", path.display())
                    })?,
            )),
            None => None,
        };
        Ok(EventLog { start, file })
    }

    /// Writes one event; `fields` must be a JSON object.
    pub fn emit(&mut self, event: &str, fields: Value) {
        let Some(file) = &mut self.file else { return };
        let mut object = Map::new();
        object.insert("event".into(), json!(event));
        object.insert(
            "t_ms".into(),
            json!(self.start.elapsed().as_millis() as u64),
        );
        if let Value::Object(fields) = fields {
            object.extend(fields);
        }
        // A full disk must not stop the program; the terminal still reports.
        let _ = writeln!(file, "{}", Value::Object(object));
        let _ = file.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_json_lines_with_name_and_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.jsonl");
        let mut log = EventLog::create(Some(&path), Instant::now()).expect("log");
        log.emit("build_started", json!({}));
        log.emit("reloaded", json!({"generation": 2, "pause_us": 40}));
        let text = std::fs::read_to_string(&path).expect("written");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "build_started");
        assert!(lines[0]["t_ms"].is_u64());
        use std::os::unix::fs::MetadataExt;
        let mode = std::fs::metadata(&path).expect("events file").mode();
        assert_eq!(mode & 0o002, 0, "never world-writable");
        assert_eq!(lines[1]["generation"], 2);
    }
}
