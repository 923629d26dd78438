//! The supervisor's side of the runner process: starts `relive __runner`
//! with the socket on fd 3 and the app's stdout and stderr passed through,
//! sends it commands, and turns its reports and its end (an exit or a crash
//! signal) into messages for the session loop.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};

use relive_host::checkpoint::Checkpoints;

use crate::runner_process::{CHECKPOINT_FDS, SOCKET_FD};
use crate::wire::{self, Command, Library, Report};

/// What the runner process says or does.
#[derive(Debug)]
pub enum FromChild {
    /// A report.
    Report(Report),
    /// The process ended.
    Ended(ExitStatus),
}

/// A running runner process.
#[derive(Debug)]
pub struct Child {
    socket: UnixStream,
    process: Reaper,
}

/// A child process that one thread waits for while others may kill it.
///
/// The pid of a reaped process can be given to a new one at once, so a
/// signal must never be sent after the reap. The waiting thread first waits
/// without reaping (`WNOWAIT`: the process stays a zombie and keeps its
/// pid), then reaps under the lock that [`Reaper::kill`] takes.
#[derive(Clone, Debug)]
pub struct Reaper {
    process: Arc<Mutex<Option<std::process::Child>>>,
}

impl Reaper {
    /// Takes `process` over.
    pub fn new(process: std::process::Child) -> Reaper {
        Reaper {
            process: Arc::new(Mutex::new(Some(process))),
        }
    }

    /// Waits for the process to end and reaps it.
    pub fn wait(&self) -> ExitStatus {
        let pid = self
            .process
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(std::process::Child::id);
        if let Some(pid) = pid {
            wait_without_reaping(pid);
        }
        let taken = self
            .process
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        taken
            .and_then(|mut process| process.wait().ok())
            .unwrap_or_else(|| ExitStatus::from_raw(0))
    }

    /// Sends SIGKILL unless the process was already reaped. Returns whether
    /// it was sent.
    pub fn kill(&self) -> bool {
        let mut process = self.process.lock().unwrap_or_else(PoisonError::into_inner);
        // Not yet reaped (the lock keeps it so): the pid is still this
        // process, alive or a zombie.
        process.as_mut().is_some_and(|p| p.kill().is_ok())
    }
}

/// Blocks until the child `pid` has ended, leaving it to be reaped.
fn wait_without_reaping(pid: libc::id_t) {
    loop {
        // SAFETY: `info` is a valid siginfo_t for waitid to fill in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on our own child, writing into `info`.
        let done =
            unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if done == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

impl Child {
    /// Starts a runner whose private folder is `staging` and which writes
    /// its checkpoints to `checkpoints`, after loading the persistent
    /// libraries `preload` (copies in `staging`); its reports go to
    /// `to_session`.
    pub fn spawn<M: Send + 'static>(
        staging: &Path,
        preload: &[std::path::PathBuf],
        checkpoints: &Checkpoints,
        mlock: bool,
        record_ms: u64,
        to_session: Sender<M>,
        wrap: fn(FromChild) -> M,
    ) -> std::io::Result<Child> {
        let (ours, theirs) = UnixStream::pair()?;
        let their_fd = theirs.as_raw_fd();
        let [cp_a, cp_b] = checkpoints.fds();
        // This very binary, even if the file was replaced since it started
        // (a rebuild of relive): supervisor and runner always speak the same
        // protocol.
        let mut command = std::process::Command::new("/proc/self/exe");
        command
            .arg("__runner")
            .arg("--staging")
            .arg(staging)
            .args(mlock.then_some("--mlock"))
            .arg(format!("--record-ms={record_ms}"))
            .args(
                preload
                    .iter()
                    .flat_map(|p| [std::ffi::OsStr::new("--preload"), p.as_os_str()]),
            )
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        // On a terminal the app's is relive's pseudo-terminal.
        let tty = crate::pty::slave();
        if let Some(fd) = tty {
            let stream = |fd: i32| -> std::io::Result<Stdio> {
                // SAFETY: `fd` is the pty's slave, open while relive runs.
                let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
                Ok(Stdio::from(borrowed.try_clone_to_owned()?))
            };
            command
                .stdin(stream(fd)?)
                .stdout(stream(fd)?)
                .stderr(stream(fd)?);
        }
        // SAFETY: between fork and exec only async-signal-safe calls are made
        // (fcntl, dup2, prctl, setsid, ioctl), on descriptors this process owns.
        unsafe {
            command.pre_exec(move || {
                // First above every target, so that no dup2 below overwrites
                // a source that a later one still needs; dup2 then clears
                // close-on-exec on the targets.
                let sources = [their_fd, cp_a, cp_b];
                let targets = [SOCKET_FD, CHECKPOINT_FDS[0], CHECKPOINT_FDS[1]];
                let mut high = [0; 3];
                for (slot, from) in high.iter_mut().zip(sources) {
                    *slot = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 10);
                    if *slot < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (from, to) in high.into_iter().zip(targets) {
                    if libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // The runner dies with its supervisor.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if tty.is_some() {
                    // The pty is its controlling terminal (`/dev/tty`), so
                    // the app's terminal modes and signals are the pty's.
                    libc::setsid();
                    libc::ioctl(0, libc::TIOCSCTTY, 0);
                }
                Ok(())
            });
        }
        let process = Reaper::new(command.spawn()?);
        drop(theirs);
        let waiter = process.clone();
        let reader = ours.try_clone()?;
        std::thread::Builder::new()
            .name("relive-runner-reports".into())
            .spawn(move || {
                let _ = wire::receive::<Report>(reader, |report| {
                    let _ = to_session.send(wrap(FromChild::Report(report)));
                });
                // The socket closed: the runner ended (or is about to).
                let status = waiter.wait();
                let _ = to_session.send(wrap(FromChild::Ended(status)));
            })?;
        Ok(Child {
            socket: ours,
            process,
        })
    }

    /// Sends a command; a runner that is gone is reported by `Ended`.
    pub fn send(&mut self, command: &Command) {
        let _ = wire::send(&mut self.socket, command);
    }

    /// Starts the first generation.
    pub fn start(&mut self, library: Library, resume: bool) {
        self.send(&Command::Start { library, resume });
    }

    /// Offers a new generation.
    pub fn offer(&mut self, library: Library) {
        self.send(&Command::Offer { library });
    }

    /// Ends the runner at once (its end is then reported as `Ended`).
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Asks the program to end.
    pub fn stop(&mut self) {
        self.send(&Command::Stop);
    }
}

/// The name of the signal that ended a process, if one did.
pub fn signal_name(status: &ExitStatus) -> Option<&'static str> {
    let signal = status.signal()?;
    Some(match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        _ => "a signal",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaped_child_is_never_signalled() {
        let process = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .expect("sh starts");
        let reaper = Reaper::new(process);
        let waiter = reaper.clone();
        let status = std::thread::spawn(move || waiter.wait())
            .join()
            .expect("waiter");
        assert_eq!(status.code(), Some(7));
        // Its pid may belong to another process now: nothing is sent.
        assert!(!reaper.kill(), "a reaped child is not signalled");
    }

    #[test]
    fn a_live_child_is_killed_and_reaped_once() {
        let process = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep starts");
        let reaper = Reaper::new(process);
        let waiter = reaper.clone();
        let waiting = std::thread::spawn(move || waiter.wait());
        assert!(reaper.kill(), "a live child is signalled");
        let status = waiting.join().expect("waiter");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(!reaper.kill());
    }
}
