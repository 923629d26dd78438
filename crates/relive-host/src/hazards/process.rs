//! Reading the process: every signal's disposition, where a library is
//! mapped (`/proc/self/maps`), its threads (`/proc/self/task`) and its open
//! descriptors (`/proc/self/fd`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

/// One signal's disposition as `sigaction` reports it.
#[derive(Clone, Copy)]
pub(crate) struct Disposition {
    action: libc::sigaction,
    /// The handler's address (`SIG_DFL` and `SIG_IGN` are 0 and 1).
    pub(crate) handler: usize,
}

/// Signals relive looks at: all of them but the two that cannot be caught.
fn signals() -> impl Iterator<Item = i32> {
    (1..=libc::SIGRTMAX()).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP)
}

/// Every signal's disposition (signals the C library reserves are absent).
pub(crate) fn dispositions() -> BTreeMap<i32, Disposition> {
    let mut out = BTreeMap::new();
    for signal in signals() {
        // SAFETY: sigaction is plain data; all-zero is a valid value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the disposition into `action`.
        if unsafe { libc::sigaction(signal, std::ptr::null(), &mut action) } == 0 {
            out.insert(
                signal,
                Disposition {
                    action,
                    handler: action.sa_sigaction,
                },
            );
        }
    }
    out
}

/// Installs `disposition` for `signal`; returns whether it worked.
pub(crate) fn set_disposition(signal: i32, disposition: &Disposition) -> bool {
    // SAFETY: the action was read from this process by `dispositions`
    // before any generation ran, so its handler is code that stays mapped
    // (or SIG_DFL / SIG_IGN).
    unsafe { libc::sigaction(signal, &disposition.action, std::ptr::null_mut()) == 0 }
}

/// The conventional name of `signal` (`SIGWINCH`, `SIGRTMIN+3`).
pub(crate) fn signal_name(signal: i32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match usize::try_from(signal).ok().and_then(|s| NAMES.get(s)) {
        Some(name) if !name.is_empty() => (*name).to_string(),
        _ if signal >= libc::SIGRTMIN() => format!("SIGRTMIN+{}", signal - libc::SIGRTMIN()),
        _ => format!("signal {signal}"),
    }
}

/// The address ranges where the file at `path` is mapped.
pub(crate) fn mappings_of(path: &Path) -> Vec<Range<usize>> {
    let wanted = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    maps.lines()
        .filter_map(|line| parse_map(line, &wanted))
        .collect()
}

/// The range of one `/proc/self/maps` line if it maps `wanted`.
fn parse_map(line: &str, wanted: &Path) -> Option<Range<usize>> {
    // start-end perms offset dev inode path
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let name = fields.nth(4)?.trim_start();
    let name = name.strip_suffix(" (deleted)").unwrap_or(name);
    if Path::new(name) != wanted {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    Some(start..end)
}

/// The calling thread's id.
pub(crate) fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// The numbered entries of a `/proc/self` folder (`task`, `fd`).
fn numbered(dir: &str) -> Vec<(i32, std::path::PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect()
}

/// The process's threads: id and name.
pub(crate) fn threads() -> BTreeMap<i32, String> {
    numbered("/proc/self/task")
        .into_iter()
        .map(|(tid, path)| {
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            (tid, name.trim_end().to_string())
        })
        .collect()
}

/// The process's open descriptors and what each refers to (the listing's
/// own descriptor is gone by the time it is read).
pub(crate) fn descriptors() -> BTreeSet<(i32, String)> {
    numbered("/proc/self/fd")
        .into_iter()
        .filter_map(|(fd, path)| {
            let target = std::fs::read_link(path).ok()?;
            let target = target.to_string_lossy().into_owned();
            // relive's own memory files (checkpoint marks) are not the app's.
            (!target.starts_with(crate::checkpoint::OWN_MEMFD)).then_some((fd, target))
        })
        .collect()
}

/// Threads and descriptors at one moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) threads: BTreeSet<i32>,
    pub(crate) fds: BTreeSet<(i32, String)>,
    /// Stands for "now": contains everything.
    everything: bool,
}

impl Snapshot {
    pub(crate) fn take() -> Snapshot {
        Snapshot {
            threads: threads().into_keys().collect(),
            fds: descriptors(),
            everything: false,
        }
    }

    pub(crate) fn everything() -> Snapshot {
        Snapshot {
            everything: true,
            ..Snapshot::default()
        }
    }

    pub(crate) fn has_thread(&self, tid: i32) -> bool {
        self.everything || self.threads.contains(&tid)
    }

    pub(crate) fn has_fd(&self, fd: &(i32, String)) -> bool {
        self.everything || self.fds.contains(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_name_their_file() {
        let lib = Path::new("/tmp/relive-1-x/libapp.gen2.so");
        let line =
            "7f0000001000-7f0000003000 r-xp 00001000 fd:01 123   /tmp/relive-1-x/libapp.gen2.so";
        assert_eq!(parse_map(line, lib), Some(0x7f0000001000..0x7f0000003000));
        let deleted = "7f0000001000-7f0000002000 r--p 00000000 fd:01 123 /tmp/relive-1-x/libapp.gen2.so (deleted)";
        assert_eq!(
            parse_map(deleted, lib),
            Some(0x7f0000001000..0x7f0000002000)
        );
        let other =
            "7f0000001000-7f0000002000 r--p 00000000 fd:01 124 /tmp/relive-1-x/libapp.gen3.so";
        assert_eq!(parse_map(other, lib), None);
        assert_eq!(
            parse_map("7f0000001000-7f0000002000 rw-p 00000000 00:00 0", lib),
            None
        );
    }

    #[test]
    fn signals_have_their_names() {
        assert_eq!(signal_name(libc::SIGWINCH), "SIGWINCH");
        assert_eq!(signal_name(libc::SIGINT), "SIGINT");
        assert_eq!(signal_name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
    }

    #[test]
    fn this_process_has_threads_descriptors_and_dispositions() {
        assert!(threads().contains_key(&current_tid()));
        assert!(
            descriptors()
                .iter()
                .any(|(fd, _)| *fd == 0 || *fd == 1 || *fd == 2)
        );
        assert!(dispositions().contains_key(&libc::SIGWINCH));
    }
}
