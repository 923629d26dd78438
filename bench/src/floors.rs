//! Floors measured in the same run, to tell how far each step of a reload is
//! from what the machine can do: copying 1 MiB (into warm memory, and into
//! freshly mapped pages that fault on first touch), reading and copying the
//! app's library file, `dlopen` + `dlclose` of a copy, waking a thread
//! parked on a channel (what relive's handover does), and writing 1 MiB to a
//! file (what a checkpoint of the state does).

use std::ffi::CString;
use std::hint::black_box;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::clock::now_ns;
use crate::stats::Summary;

/// The floors, in µs.
#[derive(Clone, Debug)]
pub struct Floors {
    /// `copy_from_slice` of 1 MiB into memory already touched.
    pub memcpy_us: Summary,
    /// Copy of 1 MiB into freshly mapped pages (256 minor faults).
    pub fresh_copy_us: Summary,
    /// `std::fs::read` of the library.
    pub read_us: Summary,
    /// `std::fs::copy` of the library to a new file.
    pub copy_us: Summary,
    /// `dlopen(RTLD_NOW | RTLD_LOCAL)` of a fresh copy, then `dlclose`.
    pub dlopen_us: Summary,
    /// From sending on a `sync_channel` to the receiver running, after it
    /// was parked for 50 ms.
    pub wake_us: Summary,
    /// Writing 1 MiB to a new file in the system temp folder and renaming
    /// it over the previous one (an atomic checkpoint of the raw bytes).
    pub checkpoint_us: Summary,
    /// One positioned write (`pwrite`) of 1 MiB into an existing file of that
    /// size in the system temp folder.
    pub pwrite_us: Summary,
}

const MIB: usize = 1 << 20;
/// How long the receiver waits before each wake-up.
const WAKE_IDLE: Duration = Duration::from_millis(50);

fn us(from: u64) -> f64 {
    (now_ns() - from) as f64 / 1e3
}

fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).with_context(|| format!("no samples of {what}"))
}

/// Copies 1 MiB into pages mapped just before (so every page faults).
fn fresh_copy(src: &[u8]) -> anyhow::Result<f64> {
    // SAFETY: an anonymous private mapping of MIB bytes with no address hint
    // has no preconditions; the result is checked for MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            MIB,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        bail!("mmap of 1 MiB failed: {}", std::io::Error::last_os_error());
    }
    let t = now_ns();
    // SAFETY: `ptr` is a fresh, writable mapping of MIB bytes that nothing
    // else refers to, and `src` holds MIB bytes; the regions cannot overlap.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.cast::<u8>(), MIB) };
    let elapsed = us(t);
    // SAFETY: `ptr` was mapped above with this length and is not used after.
    unsafe { libc::munmap(ptr, MIB) };
    Ok(elapsed)
}

/// `dlopen` + `dlclose` of `path`.
fn dlopen_once(path: &Path) -> anyhow::Result<f64> {
    let c_path = CString::new(path.as_os_str().as_bytes()).context("a path with a NUL byte")?;
    let t = now_ns();
    // SAFETY: `c_path` is a valid C string. The library is one of
    // relive-bench's own apps, whose initialisers are only Rust std's;
    // nothing of it is called, and it is closed at once.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        bail!("dlopen of {} failed", path.display());
    }
    // SAFETY: `handle` came from the successful dlopen above and is closed once.
    unsafe { libc::dlclose(handle) };
    Ok(us(t))
}

/// The floors of loading one library file, µs.
#[derive(Clone, Debug)]
pub struct FileFloors {
    /// Size of the file.
    pub bytes: u64,
    /// `std::fs::read`.
    pub read_us: Summary,
    /// `std::fs::copy` to a new file.
    pub copy_us: Summary,
    /// `dlopen` + `dlclose` of the copy.
    pub dlopen_us: Summary,
}

/// Reads `lib`, copies it into `dir` and opens the copy, `reps` times.
pub fn files(lib: &Path, dir: &Path, reps: usize) -> anyhow::Result<FileFloors> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut read = Vec::new();
    let mut copy = Vec::new();
    let mut open = Vec::new();
    for i in 0..reps {
        let t = now_ns();
        black_box(std::fs::read(lib).with_context(|| format!("cannot read {}", lib.display()))?);
        read.push(us(t));
        let to = dir.join(format!("floor{i}.so"));
        let _ = std::fs::remove_file(&to);
        let t = now_ns();
        std::fs::copy(lib, &to).with_context(|| format!("cannot copy to {}", to.display()))?;
        copy.push(us(t));
        open.push(dlopen_once(&to)?);
        std::fs::remove_file(&to).with_context(|| format!("cannot remove {}", to.display()))?;
    }
    Ok(FileFloors {
        bytes: std::fs::metadata(lib)?.len(),
        read_us: summary(&read, "read")?,
        copy_us: summary(&copy, "copy")?,
        dlopen_us: summary(&open, "dlopen")?,
    })
}

/// Measures every floor `reps` times; `lib` is the app's library, `dir` a
/// folder for copies.
pub fn run(lib: &Path, dir: &Path, reps: usize) -> anyhow::Result<Floors> {
    let src: Vec<u8> = (0..MIB).map(|i| i as u8).collect();
    let mut dst = vec![0u8; MIB];
    let mut memcpy = Vec::new();
    let mut fresh = Vec::new();
    for _ in 0..reps {
        let t = now_ns();
        dst.copy_from_slice(black_box(&src));
        black_box(&mut dst);
        memcpy.push(us(t));
        fresh.push(fresh_copy(&src)?);
    }

    let files = files(lib, dir, reps)?;

    let (tx, rx) = mpsc::sync_channel::<u64>(1);
    let (back_tx, back_rx) = mpsc::channel::<f64>();
    let waker = std::thread::spawn(move || {
        for sent in rx {
            if back_tx.send(us(sent)).is_err() {
                break;
            }
        }
    });
    let mut wake = Vec::new();
    for _ in 0..reps.min(30) {
        // As long as relive's new frame thread waits before a swap, so that
        // the receiver (and its CPU) is as idle as that one.
        std::thread::sleep(WAKE_IDLE);
        tx.send(now_ns()).context("the receiving thread ended")?;
        wake.push(back_rx.recv().context("the receiving thread ended early")?);
    }
    drop(tx);
    let _ = waker.join();

    let dir = tempdir_in_temp()?;
    let (tmp, file) = (dir.join("checkpoint.tmp"), dir.join("checkpoint.bin"));
    let mut checkpoint = Vec::new();
    for _ in 0..reps {
        let t = now_ns();
        std::fs::write(&tmp, black_box(&src))
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &file).with_context(|| format!("cannot rename {}", tmp.display()))?;
        checkpoint.push(us(t));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&file)
        .with_context(|| format!("cannot open {}", file.display()))?;
    let mut pwrite = Vec::new();
    for _ in 0..reps {
        let t = now_ns();
        file.write_all_at(black_box(&src), 0)
            .context("cannot write the checkpoint file")?;
        pwrite.push(us(t));
    }
    drop(file);
    let _ = std::fs::remove_dir_all(&dir);

    Ok(Floors {
        memcpy_us: summary(&memcpy, "memcpy")?,
        fresh_copy_us: summary(&fresh, "fresh copy")?,
        read_us: files.read_us,
        copy_us: files.copy_us,
        dlopen_us: files.dlopen_us,
        wake_us: summary(&wake, "wake-up")?,
        checkpoint_us: summary(&checkpoint, "checkpoint write")?,
        pwrite_us: summary(&pwrite, "positioned write")?,
    })
}

/// A new folder in the system temp folder (where relive keeps its files).
fn tempdir_in_temp() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("relive-bench-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
