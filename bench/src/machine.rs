//! What the figures were measured on: cores (`nproc`), CPU model, memory,
//! load, toolchain and the date.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The machine and the moment of a run.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    /// `nproc`.
    pub cores: String,
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// `MemTotal` from /proc/meminfo, in GiB.
    pub memory: String,
    /// /proc/loadavg when the run started.
    pub load_start: String,
    /// /proc/loadavg when the run ended.
    pub load_end: String,
    /// `rustc -V`.
    pub rustc: String,
    /// `uname -sr`.
    pub kernel: String,
    /// The date (UTC), YYYY-MM-DD.
    pub date: String,
    /// The repository's commit, and whether the work tree had changes.
    pub commit: String,
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The load averages (1, 5, 15 minutes) from /proc/loadavg.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

impl Machine {
    /// Reads what can be read; unknown parts say so. `root` is the
    /// repository, for its commit.
    pub fn detect(root: &std::path::Path) -> Machine {
        let cores = command_line("nproc", &[]).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "unknown".into())
        });
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
            })
            .unwrap_or_else(|| "unknown".into());
        let cargo = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        Machine {
            cores,
            cpu,
            memory,
            load_start: load(),
            load_end: String::new(),
            rustc: command_line(&cargo, &["-V"]).unwrap_or_else(|| "unknown".into()),
            kernel: command_line("uname", &["-sr"]).unwrap_or_else(|| "unknown".into()),
            date: today(),
            commit: commit(root),
        }
    }
}

/// `git rev-parse --short HEAD`, with a note when the work tree has changes.
fn commit(root: &std::path::Path) -> String {
    let dir = root.to_string_lossy();
    let Some(head) = command_line("git", &["-C", &dir, "rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    match command_line("git", &["-C", &dir, "status", "--porcelain"]) {
        Some(changes) if !changes.is_empty() => format!("{head} with uncommitted changes"),
        Some(_) => head,
        None => format!("{head} (work tree state unknown)"),
    }
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_to_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
