//! Crash checkpoints: the state saved by field name while the program runs
//! (by a forked child, see the runner's `background` module), so that a new
//! process can start from it after a crash.
//!
//! A crash halfway
//! through a write must never leave an unreadable checkpoint. So there are
//! two files, written in turn, each with a header (magic, sequence number,
//! length): the writer clears the magic first, writes the state, then the
//! header, magic last, so a write cut short leaves a file without magic, and
//! a reader takes the newer of the two that has one.
//! The files are anonymous memory files (`memfd`) that the supervisor makes
//! and hands to each runner: nothing on disk, nothing another user can open,
//! and, mapped shared in the runner, a checkpoint is a `memcpy` with no
//! system call and no page fault once the pages exist. It survives the
//! runner's crash because the pages belong to the files, which the
//! supervisor holds.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use relive_abi::Bytes;

const MAGIC: [u8; 8] = *b"relivecp";
/// Magic, sequence number, length, when the state was taken
/// (`CLOCK_MONOTONIC`, ns).
const HEADER: usize = 8 + 8 + 8 + 8;

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process, so the
/// supervisor can tell how old a runner's checkpoint is.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// How `/proc/self/fd` shows relive's own memory files: their names start
/// with `relive-` (so that they are not taken for the app's).
pub(crate) const OWN_MEMFD: &str = "/memfd:relive-";

/// A new anonymous memory file (close-on-exec); `name` starts with
/// `relive-` (see [`OWN_MEMFD`]).
pub(crate) fn memfd(name: &std::ffi::CStr) -> std::io::Result<File> {
    debug_assert!(name.to_bytes().starts_with(b"relive-"));
    // SAFETY: a valid C string; memfd_create returns a new descriptor that
    // the File then owns, or -1.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// A complete checkpoint read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    /// The state, by field name.
    pub state: Vec<u8>,
    /// When it was taken ([`now_ns`]).
    pub taken_ns: u64,
}

/// One checkpoint file, mapped shared into this process.
#[derive(Debug)]
struct Mapped {
    file: File,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned by this value and only written through
// `&mut self` (the writer serialises writes with a mutex).
unsafe impl Send for Mapped {}

impl Mapped {
    fn new(file: File) -> Mapped {
        Mapped {
            file,
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }

    /// Makes the file and its mapping at least `need` bytes long.
    fn reserve(&mut self, need: usize) -> std::io::Result<()> {
        if need <= self.len {
            return Ok(());
        }
        // Never shorter than the file is: it may hold an earlier runner's
        // checkpoint.
        let current = usize::try_from(self.file.metadata()?.len()).unwrap_or(usize::MAX);
        let len = need.next_power_of_two().max(64 * 1024).max(current);
        self.unmap();
        self.file.set_len(len as u64)?;
        // SAFETY: maps `len` bytes of a file this value owns, which was just
        // made that long; the mapping is released in `unmap`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                // Fault every page in now, not during the next swap.
                libc::MAP_SHARED | libc::MAP_POPULATE,
                std::os::fd::AsRawFd::as_raw_fd(&self.file),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        self.ptr = ptr.cast();
        self.len = len;
        Ok(())
    }

    fn unmap(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: `ptr` and `len` describe a live mapping made in `reserve`.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
            self.ptr = std::ptr::null_mut();
            self.len = 0;
        }
    }

    fn bytes(&mut self) -> &mut [u8] {
        if self.ptr.is_null() {
            return &mut [];
        }
        // SAFETY: a live mapping of `len` bytes, borrowed mutably through
        // `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        self.unmap();
    }
}

/// The writer's side: two mapped files written in turn.
#[derive(Debug)]
pub struct CheckpointWriter {
    state: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    files: [Mapped; 2],
    slot: usize,
    seq: u64,
    lock: WriteLock,
}

/// An exclusive `flock` on a checkpoint file, through an open file
/// description of its own (a runner, its forked writers and the supervisor
/// share the file's other descriptions, and so would share their locks).
/// Held while a checkpoint is written; released when the writer ends, even
/// by a crash.
#[derive(Debug)]
struct WriteLock(File);

impl WriteLock {
    fn open(file: &File) -> std::io::Result<WriteLock> {
        File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).map(WriteLock)
    }

    /// Takes the lock if it is free.
    fn try_lock(&self) -> bool {
        // SAFETY: flock on a descriptor this value owns.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    fn lock(&self) {
        // SAFETY: flock on a descriptor this value owns.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_EX) };
    }

    fn unlock(&self) {
        // SAFETY: flock on a descriptor this value owns.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// The two checkpoint files.
#[derive(Debug)]
pub struct Checkpoints {
    files: [File; 2],
}

impl Checkpoints {
    /// Two new, empty memory files (close-on-exec; pass them to a runner
    /// with `dup2`).
    pub fn create() -> std::io::Result<Checkpoints> {
        Ok(Checkpoints {
            files: [memfd(c"relive-checkpoint")?, memfd(c"relive-checkpoint")?],
        })
    }

    /// The checkpoint files a supervisor passed as descriptors `a` and `b`.
    ///
    /// # Safety
    /// `a` and `b` must be open descriptors of checkpoint files that nothing
    /// else in this process owns.
    pub unsafe fn from_fds(a: RawFd, b: RawFd) -> Checkpoints {
        // SAFETY: the caller hands over ownership of both descriptors.
        let files = unsafe { [File::from_raw_fd(a), File::from_raw_fd(b)] };
        Checkpoints { files }
    }

    /// The descriptors, to pass to a runner.
    pub fn fds(&self) -> [RawFd; 2] {
        [self.files[0].as_raw_fd(), self.files[1].as_raw_fd()]
    }

    /// Whether a complete checkpoint is there (reads the headers only).
    pub fn has_latest(&self) -> bool {
        self.files.iter().any(|file| {
            let mut magic = [0u8; 8];
            file.read_exact_at(&mut magic, 0).is_ok() && magic == MAGIC
        })
    }

    /// The newest complete checkpoint, if any.
    pub fn read_latest(&self) -> Option<Vec<u8>> {
        self.read_all().into_iter().next().map(|saved| saved.state)
    }

    /// Every complete checkpoint, newest first.
    pub fn read_all(&self) -> Vec<Saved> {
        read_all(&self.files)
    }

    /// Waits (up to `timeout`) until no process is writing a checkpoint: a
    /// runner's child may still be finishing one after the runner crashed.
    /// Returns whether the files are quiet.
    pub fn wait_for_writers(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let Ok(lock) = WriteLock::open(&self.files[0]) else {
            return false;
        };
        loop {
            if lock.try_lock() {
                lock.unlock();
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// A writer that continues the sequence of what the files hold, so that
    /// a resumed runner's first checkpoint is the newest.
    pub fn writer(&self) -> std::io::Result<CheckpointWriter> {
        let (slot, seq) = self
            .files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| read_file(f).map(|(seq, _)| (i, seq)))
            .max_by_key(|&(_, seq)| seq)
            .map_or((0, 0), |(i, seq)| (1 - i, seq + 1));
        let [a, b] = [self.files[0].try_clone()?, self.files[1].try_clone()?];
        let mut files = [Mapped::new(a), Mapped::new(b)];
        // Map (and fault in) room for a small state now, before any swap,
        // so that the first swap's pause does not pay for it.
        let known = self.read_latest().map_or(0, |state| state.len());
        for file in &mut files {
            file.reserve(HEADER + known.max(64 * 1024))?;
        }
        let lock = WriteLock::open(&self.files[0])?;
        Ok(CheckpointWriter {
            state: Mutex::new(Writer {
                files,
                slot,
                seq,
                lock,
            }),
        })
    }
}

impl CheckpointWriter {
    /// Writes a checkpoint over the older file. `fill` gets the file's
    /// free space for the state and returns how many bytes it wrote there,
    /// or the state as bytes it could not fit (they are copied in, and the
    /// file grows for next time), or nothing. Returns where the state now
    /// is (empty for nothing), valid until the write after next.
    ///
    /// When `fill` makes nothing, or the write fails, no checkpoint is left
    /// at all ([`CheckpointWriter::invalidate`]): the older one holds a
    /// state that is no longer the program's, and a crash must not bring
    /// it back as if it were.
    pub fn write_with<'b>(
        &self,
        fill: impl FnOnce(&mut [u8]) -> Filled<'b>,
    ) -> std::io::Result<Bytes> {
        self.write_taken(now_ns(), fill)
    }

    /// [`CheckpointWriter::write_with`] for a state taken at `taken_ns`
    /// ([`now_ns`]), under the files' write lock.
    pub fn write_taken<'b>(
        &self,
        taken_ns: u64,
        fill: impl FnOnce(&mut [u8]) -> Filled<'b>,
    ) -> std::io::Result<Bytes> {
        let mut writer = self.writer();
        writer.lock.lock();
        let written = writer.write(taken_ns, fill);
        if !matches!(&written, Ok(bytes) if !bytes.ptr.is_null()) {
            writer.invalidate();
        }
        writer.lock.unlock();
        written
    }

    /// Takes the files' write lock ahead of [`write_taken`](Self::write_taken)
    /// (which keeps it and lets it go when done): a forked writer that waits
    /// before it writes takes it first, so that a reader after a crash of
    /// the runner waits for that checkpoint instead of taking an older one.
    pub fn lock_ahead(&self) {
        self.writer().lock.lock();
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes both files hold no checkpoint, so that a crash from now on
    /// starts fresh instead of from a state older than the running one.
    pub fn invalidate(&self) {
        self.writer().invalidate();
    }

    /// Moves on to the other file, as a write in another process (a forked
    /// child of this one) did in its copy of this writer.
    pub fn advance(&self) {
        let mut writer = self.writer();
        writer.slot = 1 - writer.slot;
        writer.seq += 1;
    }

    /// The newest complete checkpoint, read from the files.
    pub fn read_latest(&self) -> Option<Vec<u8>> {
        let writer = self.writer();
        let files = [&writer.files[0].file, &writer.files[1].file];
        read_all(files).into_iter().next().map(|saved| saved.state)
    }

    /// Writes `state` as a checkpoint.
    #[cfg(test)]
    fn write(&self, state: &[u8]) -> std::io::Result<()> {
        self.write_with(|_| Filled::Elsewhere(state)).map(|_| ())
    }
}

impl Writer {
    /// Writes a checkpoint over the older file (see
    /// [`CheckpointWriter::write_with`]).
    fn write<'b>(
        &mut self,
        taken_ns: u64,
        fill: impl FnOnce(&mut [u8]) -> Filled<'b>,
    ) -> std::io::Result<Bytes> {
        let (slot, seq) = (self.slot, self.seq);
        let file = &mut self.files[slot];
        file.reserve(HEADER + 4096)?;
        // Invalid until complete.
        file.bytes()[..8].fill(0);
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
        let len = match fill(&mut file.bytes()[HEADER..]) {
            // The older checkpoint was given up; the newer one stays.
            Filled::Nothing => {
                return Ok(Bytes {
                    ptr: std::ptr::null(),
                    len: 0,
                });
            }
            Filled::InPlace(len) => len,
            Filled::Elsewhere(state) => {
                file.reserve(HEADER + state.len())?;
                file.bytes()[HEADER..HEADER + state.len()].copy_from_slice(state);
                state.len()
            }
        };
        if len > 0 {
            // The next swap writes the other file: make it as large now, so
            // that it does not grow (and fault pages in) inside that pause.
            let other = &mut self.files[1 - slot];
            other.reserve(HEADER + len)?;
        }
        let out = self.files[slot].bytes();
        out[8..16].copy_from_slice(&seq.to_le_bytes());
        out[16..24].copy_from_slice(&(len as u64).to_le_bytes());
        out[24..32].copy_from_slice(&taken_ns.to_le_bytes());
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
        out[..8].copy_from_slice(&MAGIC);
        let state = Bytes {
            ptr: out[HEADER..].as_ptr(),
            len,
        };
        self.slot = 1 - slot;
        self.seq = seq + 1;
        Ok(state)
    }

    fn invalidate(&mut self) {
        for file in &mut self.files {
            // A file never mapped holds no checkpoint of this writer, but may
            // hold one an earlier runner wrote.
            if file.reserve(HEADER).is_ok() {
                file.bytes()[..8].fill(0);
            } else {
                let _ = file.file.write_all_at(&[0; 8], 0);
            }
        }
    }
}

/// What a checkpoint's `fill` did.
#[derive(Debug)]
pub enum Filled<'a> {
    /// Wrote this many bytes into the space it was given.
    InPlace(usize),
    /// Did not fit: here are the bytes.
    Elsewhere(&'a [u8]),
    /// Could not make the state: nothing is written.
    Nothing,
}

/// Every complete checkpoint of `files`, newest first.
fn read_all<'f>(files: impl IntoIterator<Item = &'f File>) -> Vec<Saved> {
    let mut all: Vec<(u64, Saved)> = files.into_iter().filter_map(read_file).collect();
    all.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    all.into_iter().map(|(_, saved)| saved).collect()
}

fn read_file(file: &File) -> Option<(u64, Saved)> {
    let mut header = [0u8; HEADER];
    file.read_exact_at(&mut header, 0).ok()?;
    let word = |i: usize| header[i..i + 8].try_into().ok().map(u64::from_le_bytes);
    if header[..8] != MAGIC {
        return None;
    }
    let (seq, len, taken_ns) = (word(8)?, word(16)?, word(24)?);
    let mut state = vec![0u8; usize::try_from(len).ok()?];
    file.read_exact_at(&mut state, HEADER as u64).ok()?;
    Some((seq, Saved { state, taken_ns }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_complete_checkpoint_wins_and_a_torn_one_is_skipped() {
        let files = Checkpoints::create().expect("memory files");
        assert_eq!(files.read_latest(), None);
        assert!(!files.has_latest());
        let writer = files.writer().expect("writer");
        writer.write(b"first").expect("write");
        assert!(files.has_latest());
        writer.write(b"second, longer").expect("write");
        assert_eq!(files.read_latest().as_deref(), Some(&b"second, longer"[..]));
        writer.write(b"third").expect("write");
        assert_eq!(files.read_latest().as_deref(), Some(&b"third"[..]));

        // A write cut short leaves its file without magic: the older is used.
        files.files[0].write_all_at(&[0; 8], 0).expect("tear");
        assert_eq!(files.read_latest().as_deref(), Some(&b"second, longer"[..]));

        // A state written in place, and one too large for the space given.
        let at = writer
            .write_with(|space| {
                space[..5].copy_from_slice(b"fifth");
                Filled::InPlace(5)
            })
            .expect("in place");
        assert_eq!(at.len, 5);
        assert_eq!(files.read_latest().as_deref(), Some(&b"fifth"[..]));
        let big = vec![9u8; 1 << 20];
        writer
            .write_with(|space| {
                assert!(space.len() < big.len());
                Filled::Elsewhere(&big)
            })
            .expect("grown");
        assert_eq!(files.read_latest().map(|s| s.len()), Some(1 << 20));

        // A new writer (a resumed runner) continues the sequence.
        let writer = files.writer().expect("second writer");
        writer.write(b"fourth").expect("write");
        assert_eq!(files.read_latest().as_deref(), Some(&b"fourth"[..]));
    }

    #[test]
    fn a_state_that_cannot_be_saved_leaves_no_checkpoint() {
        let files = Checkpoints::create().expect("memory files");
        let writer = files.writer().expect("writer");
        writer.write(b"first").expect("write");
        writer.write(b"second").expect("write");
        // The state stopped being checkpointable (a fn pointer was added):
        // neither older state may come back after a crash.
        let nothing = writer.write_with(|_| Filled::Nothing).expect("no write");
        assert_eq!(nothing.len, 0);
        assert!(!files.has_latest());
        assert_eq!(files.read_latest(), None);
        // Once it saves again, that state is the checkpoint.
        writer.write(b"third").expect("write");
        assert_eq!(files.read_latest().as_deref(), Some(&b"third"[..]));
        writer.invalidate();
        assert_eq!(files.read_latest(), None);
        // A resumed runner's writer starts afresh, too.
        let again = files.writer().expect("writer");
        again.write(b"fourth").expect("write");
        assert_eq!(files.read_latest().as_deref(), Some(&b"fourth"[..]));
    }
}
