//! Checkpoints written while the program runs: at a frame boundary the
//! frame thread `fork()`s, and the child, which holds a copy-on-write image
//! of the process as it was at that boundary, saves the state by field name
//! into the checkpoint file and exits, while the parent runs on at once.
//! The frame pays for the `fork` (page tables, no data) and for the pages
//! it writes while the child still shares them; the by-name work runs in the
//! child, on the other core.
//!
//! Only the frame thread touches the state, and only between frames, so
//! the image is consistent whatever the workers are doing: they keep
//! running in the parent, and do not exist in the child. The child calls
//! nothing that a worker could hold a lock on except the allocator (glibc
//! makes it usable after `fork`); a child that hangs all the same is killed
//! by its alarm, and the checkpoint is skipped.
//!
//! One child at a time, shared by every generation's frame thread (a
//! swap's old and new thread): [`Background`] is the runner's only writer.
//!
//! For the recording (`record.rs`), the child also copies the saved state
//! into a memory file of its own (a mark) and reports its hash, so that
//! nothing is copied on the frame thread.
//!
//! A swap's rollback checkpoint is held: its child waits, holding its
//! copy-on-write image and using no CPU, until the swap is over and the old
//! library closed (or the checkpoint is needed, or the next one is due), so
//! that it takes no CPU from the handover and the new code's first frames;
//! see [`Background::start_now`].
//!
//! A reaper thread waits for each child and takes its outcome and mark
//! (reaping a child and reading its report cost tens of microseconds,
//! which no frame boundary should pay). It does all of that under the lock
//! the frame thread forks under, so a child never inherits a lock the
//! reaper held.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use relive_abi::{FrameInfo, Status};

use crate::checkpoint::{CheckpointWriter, Filled, now_ns};
use crate::generation::Generation;

use super::record::MarkState;

/// How often the running program is checkpointed (while frames run): a
/// crash loses at most this, plus the time a child takes to write.
pub(super) const EVERY: Duration = Duration::from_millis(500);
/// After a failed checkpoint (a state that cannot be saved by name), how
/// long until the next attempt.
const AFTER_FAILURE: Duration = Duration::from_secs(5);
/// A child that has not finished by then is stuck (a lock held at the
/// fork): it is killed by its alarm, seconds.
const CHILD_ALARM_S: u32 = 10;
/// How long a rollback waits for the child that saved the state it needs.
const ROLLBACK_WAIT: Duration = Duration::from_secs(15);

/// What a finished child did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The checkpoint is complete.
    Written,
    /// It could not be written; why.
    Failed(String),
}

struct InFlight {
    pid: libc::pid_t,
    /// The frame that runs next from the state it saves, and its generation.
    taken_at: (u64, u64),
    /// Where it copies the state for the recording.
    mark: Option<std::fs::File>,
    /// The child's report of a failure.
    pipe: std::fs::File,
    /// A held child waits for this to close before it writes.
    hold: Option<OwnedFd>,
}

struct Inner {
    in_flight: Option<InFlight>,
    last_start: Option<Instant>,
    /// The last finished child's outcome.
    last: Option<Outcome>,
    /// A failure was reported already (report once per failing streak).
    reported: bool,
    /// A failure of `start_now` to report at the next tick.
    pending: Option<Failure>,
    /// Children started so far: the number of the newest one.
    started: u64,
    /// The number of the child whose outcome `last` is.
    finished: u64,
    /// The newest mark written and not yet taken by
    /// [`Background::take_written`].
    written: Option<Written>,
    /// The reaper thread runs: nothing else reaps without waiting.
    reaper: bool,
    /// The runner's writer is gone: the reaper ends.
    closed: bool,
}

/// A mark a child wrote: the state at the boundary before `frame`.
pub(super) struct Written {
    pub frame: u64,
    pub generation: u64,
    pub hash: u64,
    pub state: MarkState,
}

/// What the frame threads and the reaper share.
struct Shared {
    writer: Arc<CheckpointWriter>,
    inner: Mutex<Inner>,
    /// A child started or was taken, or the writer closed (for the reaper
    /// and `Background::wait`).
    changed: Condvar,
}

/// The runner's checkpoint writer, behind one lock for all frame threads.
pub(super) struct Background {
    shared: Arc<Shared>,
    /// Children also write marks for the recording.
    marks: AtomicBool,
}

/// A failure to report, from [`Background::tick`].
pub(super) struct Failure(pub String);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reaps a finished child (or, with `kill`, the one in flight).
    fn collect(&self, inner: &mut Inner, kill: bool) -> Option<Failure> {
        let flight = inner.in_flight.as_mut()?;
        if kill {
            // SAFETY: kill has no memory effects; `pid` is our unreaped child.
            unsafe { libc::kill(flight.pid, libc::SIGKILL) };
        }
        let mut status = 0;
        let flags = if kill { 0 } else { libc::WNOHANG };
        // SAFETY: waits for our own child; `status` is a valid int.
        let reaped = unsafe { libc::waitpid(flight.pid, &mut status, flags) };
        if reaped == 0 {
            return None; // still writing
        }
        let mut message = String::new();
        let _ = flight.pipe.read_to_string(&mut message);
        let taken_at = flight.taken_at;
        let mark = flight.mark.take();
        inner.in_flight = None;
        inner.finished = inner.started;
        let worked = reaped > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        if worked {
            self.writer.advance();
            // The child reports "HASH LEN" of the mark it wrote, if any.
            let mut report = message.split(' ').map(|w| u64::from_str_radix(w, 16));
            if let (Some(file), Some(Ok(hash)), Some(Ok(len))) =
                (mark, report.next(), report.next())
            {
                inner.written = Some(Written {
                    frame: taken_at.0,
                    generation: taken_at.1,
                    hash,
                    state: MarkState::new(file, len as usize),
                });
            }
            inner.last = Some(Outcome::Written);
            inner.reported = false;
            return None;
        }
        if message.is_empty() {
            message = if libc::WIFSIGNALED(status) {
                format!(
                    "the process writing it ended by signal {} (stuck for {CHILD_ALARM_S} s, or killed)",
                    libc::WTERMSIG(status)
                )
            } else {
                "the process writing it failed".into()
            };
        }
        failed(inner, message)
    }

    /// The reaper thread: waits for each child to end without reaping it,
    /// then reaps it and takes its outcome under the lock.
    fn reap(&self) {
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return;
            }
            let Some(pid) = inner.in_flight.as_ref().map(|f| f.pid) else {
                inner = self
                    .changed
                    .wait(inner)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            drop(inner);
            loop {
                // SAFETY: `info` is a valid out-parameter; with `WNOWAIT` the
                // child stays a zombie, so `pid` cannot be reused before the
                // reap below, which is done under the lock.
                let ended = unsafe {
                    let mut info: libc::siginfo_t = std::mem::zeroed();
                    libc::waitid(
                        libc::P_PID,
                        pid as libc::id_t,
                        &mut info,
                        libc::WEXITED | libc::WNOWAIT,
                    )
                };
                if ended == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR)
                {
                    break;
                }
            }
            inner = self.lock();
            if inner.in_flight.as_ref().is_some_and(|f| f.pid == pid) {
                let failure = self.collect(&mut inner, false);
                inner.pending = inner.pending.take().or(failure);
                // For `Background::wait`.
                self.changed.notify_all();
            }
        }
    }
}

/// Lets a held child in flight write.
fn release(inner: &mut Inner) {
    if let Some(flight) = inner.in_flight.as_mut() {
        flight.hold = None;
    }
}

/// A pipe whose ends are closed on `exec`.
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!(
            "cannot make a pipe for the checkpoint: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both descriptors are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Records a failed checkpoint; the failure to report, once per streak.
fn failed(inner: &mut Inner, message: String) -> Option<Failure> {
    inner.last = Some(Outcome::Failed(message.clone()));
    if std::mem::replace(&mut inner.reported, true) {
        None
    } else {
        Some(Failure(message))
    }
}

impl Background {
    pub fn new(writer: Arc<CheckpointWriter>) -> Background {
        let shared = Arc::new(Shared {
            writer,
            inner: Mutex::new(Inner {
                in_flight: None,
                last_start: None,
                last: None,
                reported: false,
                pending: None,
                started: 0,
                finished: 0,
                written: None,
                reaper: false,
                closed: false,
            }),
            changed: Condvar::new(),
        });
        let reaper = shared.clone();
        let started = std::thread::Builder::new()
            .name("relive-reaper".into())
            .spawn(move || {
                crate::hazards::known_thread();
                reaper.reap();
            })
            .is_ok();
        shared.lock().reaper = started;
        Background {
            shared,
            marks: AtomicBool::new(true),
        }
    }

    /// Whether children also write marks for the recording.
    pub fn write_marks(&self, on: bool) {
        self.marks.store(on, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.lock()
    }

    /// Reaps a finished child unless the reaper does.
    fn collect(&self, inner: &mut Inner) -> Option<Failure> {
        if inner.reaper {
            return None;
        }
        self.shared.collect(inner, false)
    }

    /// The number of the newest child started (see [`Background::written`]).
    pub fn newest(&self) -> u64 {
        self.lock().started
    }

    /// Whether child `child` wrote its checkpoint and is still the newest:
    /// `None` while it is writing, `Some(false)` if it failed or a newer one
    /// has started since (its checkpoint is not the one a load would find).
    pub fn written(&self, child: u64) -> Option<bool> {
        let mut inner = self.lock();
        let _ = self.collect(&mut inner);
        if inner.started != child {
            return Some(false);
        }
        if inner.in_flight.is_some() {
            return None;
        }
        Some(inner.finished == child && inner.last == Some(Outcome::Written))
    }

    /// Whether the last checkpoint that finished worked (`None`: none yet).
    pub fn last_worked(&self) -> Option<bool> {
        self.lock().last.as_ref().map(|o| *o == Outcome::Written)
    }

    /// At a frame boundary: collects a finished child, and starts a new one
    /// when one is due. Returns a failure to report, once per streak.
    pub fn tick(&self, generation: &Generation, info: &FrameInfo) -> Option<Failure> {
        let mut inner = self.lock();
        let failure = self.collect(&mut inner);
        let wait = match inner.last {
            Some(Outcome::Failed(_)) => AFTER_FAILURE,
            _ => EVERY,
        };
        let due = inner.last_start.is_none_or(|t| t.elapsed() >= wait);
        if due {
            release(&mut inner);
        }
        if due
            && inner.in_flight.is_none()
            && let Err(message) = self.start(&mut inner, generation, info, false)
        {
            return failure.or(failed(&mut inner, message));
        }
        failure.or(inner.pending.take())
    }

    /// Starts a checkpoint of the state at this frame boundary now, unless
    /// one is still being written. Returns whether it started. A `held`
    /// child writes only after [`release`](Self::release), a
    /// [`wait`](Self::wait), the next `start_now`, a [`tick`](Self::tick)
    /// when the next checkpoint is due, or the end of the runner.
    pub fn start_now(&self, generation: &Generation, info: &FrameInfo, held: bool) -> bool {
        let mut inner = self.lock();
        release(&mut inner);
        let _ = self.collect(&mut inner);
        if inner.in_flight.is_some() {
            return false;
        }
        match self.start(&mut inner, generation, info, held) {
            Ok(()) => true,
            Err(message) => {
                // Reported at the next tick.
                inner.pending = failed(&mut inner, message);
                false
            }
        }
    }

    /// Lets a held child write its checkpoint.
    pub fn release(&self) {
        release(&mut self.lock());
    }

    /// Waits for the child in flight, if any; returns the newest outcome.
    pub fn wait(&self) -> Option<Outcome> {
        let deadline = Instant::now() + ROLLBACK_WAIT;
        let mut inner = self.lock();
        release(&mut inner);
        loop {
            let failure = self.collect(&mut inner);
            inner.pending = inner.pending.take().or(failure);
            if inner.in_flight.is_none() {
                return inner.last.clone();
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                let failure = self.shared.collect(&mut inner, true);
                inner.pending = inner.pending.take().or(failure);
                return inner.last.clone();
            };
            // The reaper says when it took a child; without it, look again
            // every millisecond.
            let step = if inner.reaper {
                left
            } else {
                left.min(Duration::from_millis(1))
            };
            inner = self
                .shared
                .changed
                .wait_timeout(inner, step)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The newest complete checkpoint's bytes.
    pub fn read_latest(&self) -> Option<Vec<u8>> {
        // Under the lock: no fork happens while the writer's own lock is held.
        let _inner = self.lock();
        self.shared.writer.read_latest()
    }

    /// The mark written since the last call, if any.
    pub fn take_written(&self) -> Option<Written> {
        let mut inner = self.lock();
        let _ = self.collect(&mut inner);
        inner.written.take()
    }

    /// Forks a child that writes the checkpoint. Returns whether it started.
    /// Runs the app's `unloading` hook (what cannot be carried becomes
    /// data, as before a swap), then forks the child that writes the state.
    fn start(
        &self,
        inner: &mut Inner,
        generation: &Generation,
        info: &FrameInfo,
        held: bool,
    ) -> Result<(), String> {
        if generation.unloading(info) != Status::OK {
            inner.last_start = Some(Instant::now());
            return Err(format!(
                "the app's `unloading` failed before a checkpoint: {}",
                generation.last_message()
            ));
        }
        let (read, write) = pipe()?;
        let hold = if held { Some(pipe()?) } else { None };
        let taken_ns = now_ns();
        inner.last_start = Some(Instant::now());
        let mark = if self.marks.load(Ordering::Relaxed) {
            MarkState::file().ok()
        } else {
            None
        };
        // SAFETY: the child runs only `child_body`, which never returns (it
        // ends with `_exit`) and uses what is safe after a fork of a
        // threaded process, as the module docs explain.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            if let Some((wait, held)) = hold {
                // The parent's end closes when it releases the child or
                // ends; until then the image waits, using no CPU, with the
                // files locked (a supervisor after a crash waits for it).
                drop(held);
                self.shared.writer.lock_ahead();
                let mut byte = [0u8];
                let _ = std::fs::File::from(wait).read(&mut byte);
            }
            child_body(
                &self.shared.writer,
                generation,
                taken_ns,
                write,
                mark.as_ref(),
            );
        }
        if pid < 0 {
            return Err(format!(
                "cannot fork to write the checkpoint: {}",
                std::io::Error::last_os_error()
            ));
        }
        drop(write);
        let hold = hold.map(|(_, held)| held);
        inner.started += 1;
        inner.in_flight = Some(InFlight {
            pid,
            taken_at: (info.frame, generation.number()),
            mark,
            pipe: std::fs::File::from(read),
            hold,
        });
        self.shared.changed.notify_all();
        Ok(())
    }
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background").finish_non_exhaustive()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A child still writing finishes on its own: its checkpoint is the
        // newest state, and it holds the file's lock until it is complete.
        let mut inner = self.lock();
        inner.closed = true;
        release(&mut inner);
        if let Some(flight) = inner.in_flight.take() {
            let mut status = 0;
            // SAFETY: waits for our own child.
            unsafe { libc::waitpid(flight.pid, &mut status, 0) };
        }
        drop(inner);
        self.shared.changed.notify_all();
    }
}

/// The child: saves the state into the checkpoint file and exits.
fn child_body(
    writer: &CheckpointWriter,
    generation: &Generation,
    taken_ns: u64,
    report: OwnedFd,
    mark: Option<&std::fs::File>,
) -> ! {
    // SAFETY: plain system calls with no memory effects on this process's
    // data: an alarm that ends a child stuck on a lock, and a lower
    // priority so that the parent's frames come first.
    unsafe {
        libc::alarm(CHILD_ALARM_S);
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut status = Status::OK;
        let written = writer.write_taken(taken_ns, |space| {
            let space_ptr = space.as_ptr();
            let (saved, bytes) = generation.save(true, Some(space));
            status = saved;
            if saved != Status::OK {
                Filled::Nothing
            } else if std::ptr::eq(bytes.ptr, space_ptr) {
                Filled::InPlace(bytes.len)
            } else {
                // SAFETY: the library returned `len` bytes it owns, valid
                // until the next call into it (after this copy).
                Filled::Elsewhere(unsafe { std::slice::from_raw_parts(bytes.ptr, bytes.len) })
            }
        });
        match written {
            Err(e) => Err(format!("cannot write the checkpoint: {e}")),
            Ok(_) if status != Status::OK => {
                let message = generation.last_message();
                Err(message
                    .split_once('\n')
                    .map_or(message.clone(), |(_, m)| m.to_string()))
            }
            Ok(bytes) => Ok(bytes),
        }
    }));
    let code = match result {
        Ok(Ok(bytes)) => {
            if let Some(mark) = mark {
                // SAFETY: `bytes` is the state just written into the mapped
                // checkpoint file, which stays mapped in this process.
                let state = unsafe { std::slice::from_raw_parts(bytes.ptr, bytes.len) };
                if std::os::unix::fs::FileExt::write_all_at(mark, state, 0).is_ok() {
                    let line = format!("{:x} {:x}", super::record::hash(state), state.len());
                    let mut pipe = std::fs::File::from(report);
                    let _ = std::io::Write::write_all(&mut pipe, line.as_bytes());
                }
            }
            0
        }
        Ok(Err(message)) => {
            let mut pipe = std::fs::File::from(report);
            let _ = std::io::Write::write_all(&mut pipe, message.as_bytes());
            1
        }
        Err(_) => 1,
    };
    // SAFETY: ends the child at once, without running the parent's exit
    // handlers or destructors (which belong to the parent).
    unsafe { libc::_exit(code) }
}
