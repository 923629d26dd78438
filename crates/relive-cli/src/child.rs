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
    pid: u32,
}

impl Child {
    /// Starts a runner whose private folder is `staging` and which writes
    /// its checkpoints to `checkpoints`; its reports go to `to_session`.
    pub fn spawn<M: Send + 'static>(
        staging: &Path,
        checkpoints: &Checkpoints,
        mlock: bool,
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
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        // SAFETY: between fork and exec only async-signal-safe calls are made
        // (fcntl, dup2, prctl), on descriptors this process owns.
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
                Ok(())
            });
        }
        let mut process = command.spawn()?;
        drop(theirs);
        let pid = process.id();
        let reader = ours.try_clone()?;
        std::thread::Builder::new()
            .name("relive-runner-reports".into())
            .spawn(move || {
                let _ = wire::receive::<Report>(reader, |report| {
                    let _ = to_session.send(wrap(FromChild::Report(report)));
                });
                // The socket closed: the runner ended (or is about to).
                let status = process.wait().unwrap_or_else(|_| ExitStatus::from_raw(0));
                let _ = to_session.send(wrap(FromChild::Ended(status)));
            })?;
        Ok(Child { socket: ours, pid })
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
        if let Ok(pid) = i32::try_from(self.pid) {
            // SAFETY: kill has no memory effects; the pid is our child,
            // which is not reaped before the reader thread sees it end.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
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
