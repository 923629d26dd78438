//! One loaded generation of the app: its library, the table of entry points
//! looked up once at load, and its state's layout.
//!
//! [`Generation::load`] reads the built library once, refuses it from its
//! bytes if it is not a matching relive app ([`crate::inspect`]), writes
//! exactly those bytes to a private copy, loads the copy with
//! `RTLD_NOW | RTLD_LOCAL` and resolves every entry point. The function
//! pointers live inside the `Generation` and are only reachable through its
//! methods, so none can outlive the library.
//!
//! The app's runtime assumes one caller at a time (its state has no lock),
//! so a `Generation` is `Send` but not `Sync`: it can move to the thread that
//! calls it, and only that thread can call it. What other threads need (its
//! number and layout, and keeping it mapped) is a [`Loaded`], shared through
//! an `Arc`. The library is closed and the copy removed when the
//! `Generation` and every `Arc<Loaded>` are gone.
//!
//! ```
//! fn send<T: Send>() {}
//! fn sync<T: Send + Sync>() {}
//! send::<relive_host::Generation>();
//! sync::<relive_host::Loaded>();
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<relive_host::Generation>();
//! ```

use std::cell::Cell;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use relive_abi::layout::Layout;
use relive_abi::{Adopt, Bytes, FrameInfo, Handshake, StateRef, Status, symbols};

use crate::error::LoadError;
use crate::hazards;
use crate::inspect::inspect;
use crate::staging::Staging;

type InfoFn = extern "C" fn(*const FrameInfo) -> Status;
type BytesFn = extern "C" fn() -> Bytes;
type StatusFn = extern "C" fn() -> Status;

/// The entry points of one library.
#[derive(Clone, Copy)]
struct Entries {
    layout: BytesFn,
    init: InfoFn,
    frame: InfoFn,
    reloaded: InfoFn,
    unloading: InfoFn,
    state: extern "C" fn() -> StateRef,
    adopt: extern "C" fn(*const Adopt) -> Status,
    release: extern "C" fn(*const u8, usize) -> Status,
    snapshot: StatusFn,
    restore: StatusFn,
    discard_snapshot: StatusFn,
    drop_state: StatusFn,
    stop_workers: extern "C" fn(u64) -> Status,
    save: extern "C" fn(u32, *mut u8, usize, *mut Bytes) -> Status,
    load: extern "C" fn(Bytes) -> Status,
    check_allocator: StatusFn,
    points_into: extern "C" fn(*const u64, usize, *mut u8) -> Status,
    last_message: BytesFn,
}

/// How long the steps of [`Generation::load`] took, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadTimings {
    /// Reading the built file.
    pub read_us: u64,
    /// Checking ELF headers and handshake.
    pub check_us: u64,
    /// Writing the private copy.
    pub copy_us: u64,
    /// `dlopen` and symbol lookup.
    pub open_us: u64,
    /// Fetching and parsing the layout.
    pub layout_us: u64,
}

/// A loaded app library, callable from the one thread that owns it.
pub struct Generation {
    entries: Entries,
    loaded: Arc<Loaded>,
    /// `!Sync`: the library's runtime takes one call at a time.
    one_caller: PhantomData<Cell<()>>,
}

/// A loaded library and what is known about it, without its entry points:
/// it can be shared between threads, and keeps the library mapped while it
/// lives (for values that point into it).
pub struct Loaded {
    number: u64,
    layout: Layout,
    handshake: Handshake,
    artifact: PathBuf,
    copy: PathBuf,
    timings: LoadTimings,
    /// The addresses the library is mapped at (start, end).
    mapped: (u64, u64),
    /// Its id in the record of process-wide hazards.
    hazard_id: u64,
    // Dropped after everything above: closes the library.
    library: Option<Library>,
}

impl std::fmt::Debug for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.loaded.fmt(f)
    }
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generation")
            .field("number", &self.number)
            .field("artifact", &self.artifact)
            .field("copy", &self.copy)
            .finish_non_exhaustive()
    }
}

// Fails to compile if `Generation` ever becomes `Sync`: two impls of
// `AmbiguousIfSync` then apply, and `_ = <Generation as ...>::ok` is ambiguous.
trait AmbiguousIfSync<A> {
    fn ok() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
const _: fn() = || {
    let _ = <Generation as AmbiguousIfSync<_>>::ok;
};

fn micros(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

/// A checked private copy of a built library, ready to be opened (possibly
/// by another process: the crash-safe runner opens what its supervisor
/// staged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staged {
    /// The generation number it will have.
    pub number: u64,
    /// The built library it was copied from.
    pub artifact: PathBuf,
    /// The private copy.
    pub copy: PathBuf,
    /// How long reading, checking and copying took.
    pub timings: LoadTimings,
}

/// Reads the library at `artifact`, refuses it from its bytes if it is not
/// a matching relive app, and writes exactly those bytes to a private copy
/// in `staging` for generation `number`.
pub fn stage(artifact: &Path, number: u64, staging: &Staging) -> Result<Staged, LoadError> {
    let mut timings = LoadTimings::default();
    let t = Instant::now();
    let bytes = std::fs::read(artifact).map_err(|source| LoadError::Read {
        path: artifact.to_path_buf(),
        source,
    })?;
    timings.read_us = micros(t);

    let t = Instant::now();
    inspect(artifact, &bytes)?;
    timings.check_us = micros(t);

    let t = Instant::now();
    let copy = staging
        .stage(artifact, number, &bytes)
        .map_err(|source| LoadError::Stage {
            path: artifact.to_path_buf(),
            dir: staging.path().to_path_buf(),
            source,
        })?;
    timings.copy_us = micros(t);
    Ok(Staged {
        number,
        artifact: artifact.to_path_buf(),
        copy,
        timings,
    })
}

impl Generation {
    /// Loads the library at `artifact` as generation `number`, through a
    /// private copy in `staging` ([`stage`] then [`Generation::open`]).
    pub fn load(artifact: &Path, number: u64, staging: &Staging) -> Result<Generation, LoadError> {
        Generation::open(&stage(artifact, number, staging)?)
    }

    /// Opens a staged copy. Its bytes are checked again (handshake, ABI,
    /// compiler) before `dlopen` runs the library's initialisers. The copy
    /// is removed when the generation is dropped, or now if opening fails.
    pub fn open(staged: &Staged) -> Result<Generation, LoadError> {
        let mut timings = staged.timings;
        let copy = staged.copy.clone();
        let t = Instant::now();
        let checked = std::fs::read(&copy)
            .map_err(|source| LoadError::Read {
                path: copy.clone(),
                source,
            })
            .and_then(|bytes| inspect(&staged.artifact, &bytes));
        let handshake = match checked {
            Ok(handshake) => handshake,
            Err(err) => {
                let _ = std::fs::remove_file(&copy);
                return Err(err);
            }
        };
        let hazard_id = hazards::before_open(staged.number);
        let (library, entries) = match open(&copy, &staged.artifact) {
            Ok(pair) => pair,
            Err(err) => {
                let _ = std::fs::remove_file(&copy);
                return Err(err);
            }
        };
        hazards::opened(hazard_id, &copy);
        timings.open_us = micros(t);

        let mut loaded = Loaded {
            number: staged.number,
            layout: Layout::default(),
            handshake,
            artifact: staged.artifact.clone(),
            copy,
            timings,
            mapped: mapped_range(entries.layout as usize as u64),
            hazard_id,
            library: Some(library),
        };
        let t = Instant::now();
        let text = read_bytes((entries.layout)());
        loaded.layout = Layout::from_json(&text)
            .ok()
            .filter(|l| l.root_def().is_some())
            .ok_or_else(|| LoadError::Layout {
                path: staged.artifact.clone(),
                detail: format!("not a layout: {:.200}", String::from_utf8_lossy(&text)),
            })?;
        crate::keep::check(&loaded.layout).map_err(|detail| LoadError::Kept {
            path: staged.artifact.clone(),
            detail,
        })?;
        loaded.timings.layout_us = micros(t);
        let generation = Generation {
            entries,
            loaded: Arc::new(loaded),
            one_caller: PhantomData,
        };
        if generation.check_allocator() != Status::OK {
            let message = generation.last_message();
            let detail = message.split_once('\n').map_or(&*message, |(_, m)| m);
            return Err(LoadError::Allocator {
                path: staged.artifact.clone(),
                detail: detail.to_string(),
            });
        }
        Ok(generation)
    }

    /// What other threads may know of this generation; it keeps the
    /// library mapped.
    pub fn loaded(&self) -> &Arc<Loaded> {
        &self.loaded
    }

    /// The generation number.
    pub fn number(&self) -> u64 {
        self.loaded.number
    }

    /// The state layout this generation was built with.
    pub fn layout(&self) -> &Layout {
        &self.loaded.layout
    }

    /// The handshake read from the file.
    pub fn handshake(&self) -> &Handshake {
        &self.loaded.handshake
    }

    /// The built library this generation was copied from.
    pub fn artifact(&self) -> &Path {
        &self.loaded.artifact
    }

    /// The private copy that is loaded.
    pub fn copy_path(&self) -> &Path {
        &self.loaded.copy
    }

    /// How long loading took.
    pub fn timings(&self) -> LoadTimings {
        self.loaded.timings
    }

    fn read_bytes(&self, bytes: Bytes) -> Vec<u8> {
        read_bytes(bytes)
    }

    /// Whether the library allocates from the process's `malloc`, which
    /// every generation shares (its message says why not).
    fn check_allocator(&self) -> Status {
        (self.entries.check_allocator)()
    }

    /// The addresses the library is mapped at (start, end): its code, its
    /// read-only data and its vtables are in there.
    pub fn mapped(&self) -> (u64, u64) {
        self.loaded.mapped
    }

    /// For each of `ranges` (start, end): 0 when no value in the state
    /// points into it, 1 when one does, 2 when a trait object does.
    pub fn points_into(&self, ranges: &[(u64, u64)]) -> (Status, Vec<u8>) {
        let words: Vec<u64> = ranges.iter().flat_map(|&(a, b)| [a, b]).collect();
        let mut out = vec![0u8; ranges.len()];
        let status = (self.entries.points_into)(words.as_ptr(), ranges.len(), out.as_mut_ptr());
        (status, out)
    }

    /// The message of the last failed call ("location\nmessage" for a panic).
    pub fn last_message(&self) -> String {
        String::from_utf8_lossy(&self.read_bytes((self.entries.last_message)())).into_owned()
    }

    /// Fresh start: `Default`, then `App::init`.
    pub fn init(&self, info: &FrameInfo) -> Status {
        (self.entries.init)(info)
    }

    /// One frame.
    pub fn frame(&self, info: &FrameInfo) -> Status {
        (self.entries.frame)(info)
    }

    /// `App::reloaded`.
    pub fn reloaded(&self, info: &FrameInfo) -> Status {
        (self.entries.reloaded)(info)
    }

    /// Calls into the library once on this thread without effect (it
    /// returns the cached layout), so that the first call that matters, in a
    /// swap's pause, finds the library's thread-local storage for this
    /// thread allocated and its entry path faulted in.
    pub fn warm_up(&self) {
        let _ = (self.entries.layout)();
    }

    /// `App::unloading`: the old code's last look at its state before it
    /// leaves (is checkpointed and handed over).
    pub fn unloading(&self, info: &FrameInfo) -> Status {
        (self.entries.unloading)(info)
    }

    /// Where the state lives (null pointer when there is none).
    pub fn state(&self) -> StateRef {
        (self.entries.state)()
    }

    /// Takes the previous generation's state over.
    ///
    /// # Safety
    /// `plan.src` must point to the live state of a generation whose layout
    /// the plan was computed from, and the caller must treat every field the
    /// plan moves as given up by that generation.
    pub unsafe fn adopt(&self, plan: &Adopt) -> Status {
        (self.entries.adopt)(plan)
    }

    /// After the state's bytes were handed over: drops the fields flagged in
    /// `mask` and forgets the rest.
    pub fn release(&self, mask: &[u8]) -> Status {
        (self.entries.release)(mask.as_ptr(), mask.len())
    }

    /// Keeps a deep copy of the state for a rollback.
    pub fn snapshot(&self) -> Status {
        (self.entries.snapshot)()
    }

    /// Makes the kept copy the state again.
    pub fn restore(&self) -> Status {
        (self.entries.restore)()
    }

    /// Drops the kept copy.
    pub fn discard_snapshot(&self) -> Status {
        (self.entries.discard_snapshot)()
    }

    /// Drops the state.
    pub fn drop_state(&self) -> Status {
        (self.entries.drop_state)()
    }

    /// Saves the state by field name, into `into` when it fits (then the
    /// returned bytes point into it), else into a buffer of the library,
    /// valid until the next call into it. With `portable`, values that only
    /// mean something inside this process (`fn` pointers, trait objects)
    /// make it fail, so the bytes can restore the state in a new process.
    pub fn save(&self, portable: bool, into: Option<&mut [u8]>) -> (Status, Bytes) {
        let mut out = Bytes {
            ptr: std::ptr::null(),
            len: 0,
        };
        let (buf, cap) = match into {
            Some(space) => (space.as_mut_ptr(), space.len()),
            None => (std::ptr::null_mut(), 0),
        };
        let status = (self.entries.save)(u32::from(portable), buf, cap, &mut out);
        (status, out)
    }

    /// Makes the state from another generation's saved bytes.
    ///
    /// # Safety
    /// `bytes` must point to `len` readable bytes for the whole call.
    pub unsafe fn load_saved(&self, bytes: Bytes) -> Status {
        (self.entries.load)(bytes)
    }

    /// Stops and joins worker threads within `deadline_ms`.
    pub fn stop_workers(&self, deadline_ms: u64) -> Status {
        (self.entries.stop_workers)(deadline_ms)
    }
}

impl Loaded {
    /// The generation number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The addresses the library is mapped at (start, end).
    pub fn mapped(&self) -> (u64, u64) {
        self.mapped
    }

    /// The state layout this generation was built with.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

/// Copies out bytes the library returned.
fn read_bytes(bytes: Bytes) -> Vec<u8> {
    if bytes.ptr.is_null() || bytes.len == 0 {
        return Vec::new();
    }
    // SAFETY: the library returns a pointer to `len` bytes it owns, valid
    // until the next call into it; they are copied out at once.
    unsafe { std::slice::from_raw_parts(bytes.ptr, bytes.len) }.to_vec()
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Some(library) = self.library.take() {
            // Signal handlers and threads of this code that the process
            // still has are restored, or keep the code mapped.
            let keep = hazards::before_close(self.hazard_id);
            if keep {
                std::mem::forget(library);
            } else {
                // A failure only means the mapping stays; nothing can be done about it.
                let _ = library.close();
            }
            hazards::after_close(self.hazard_id, keep);
        }
        let _ = std::fs::remove_file(&self.copy);
    }
}

/// The span of the loaded object whose segments hold `address` (from its
/// first to the end of its last `PT_LOAD` segment), or (0, 0).
fn mapped_range(address: u64) -> (u64, u64) {
    struct Search {
        address: u64,
        found: (u64, u64),
    }
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `Search` passed below, and the loader passes
        // a valid `info` whose `dlpi_phdr` has `dlpi_phnum` headers.
        let (search, info) = unsafe { (&mut *data.cast::<Search>(), &*info) };
        let headers = if info.dlpi_phdr.is_null() {
            &[][..]
        } else {
            // SAFETY: see above.
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) }
        };
        let (mut lo, mut hi) = (u64::MAX, 0);
        for h in headers.iter().filter(|h| h.p_type == libc::PT_LOAD) {
            let start = info.dlpi_addr.wrapping_add(h.p_vaddr);
            lo = lo.min(start);
            hi = hi.max(start.wrapping_add(h.p_memsz));
        }
        if (lo..hi).contains(&search.address) {
            search.found = (lo, hi);
            return 1;
        }
        0
    }
    let mut search = Search {
        address,
        found: (0, 0),
    };
    // SAFETY: `each` only reads what the loader passes and writes `search`,
    // which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut search).cast()) };
    search.found
}

/// `dlopen`s the copy and resolves every entry point.
fn open(copy: &Path, artifact: &Path) -> Result<(Library, Entries), LoadError> {
    // SAFETY: loading runs the library's initialisers. The file was checked
    // to be a relive app for this ABI and compiler, whose initialisers are
    // those of Rust's std and the app's own statics.
    let library = unsafe { Library::open(Some(copy), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
        LoadError::Open {
            path: copy.to_path_buf(),
            detail: e.to_string(),
        }
    })?;
    macro_rules! entry {
        ($name:expr) => {{
            // SAFETY: the handshake matched ABI_VERSION, under which the symbol
            // has exactly the signature of the field it is stored in.
            match unsafe { library.get($name) } {
                Ok(f) => *f,
                Err(_) => {
                    return Err(LoadError::MissingEntry {
                        path: artifact.to_path_buf(),
                        symbol: $name,
                    });
                }
            }
        }};
    }
    let entries = Entries {
        layout: entry!(symbols::LAYOUT),
        init: entry!(symbols::INIT),
        frame: entry!(symbols::FRAME),
        reloaded: entry!(symbols::RELOADED),
        unloading: entry!(symbols::UNLOADING),
        state: entry!(symbols::STATE),
        adopt: entry!(symbols::ADOPT),
        release: entry!(symbols::RELEASE),
        snapshot: entry!(symbols::SNAPSHOT),
        restore: entry!(symbols::RESTORE),
        discard_snapshot: entry!(symbols::DISCARD_SNAPSHOT),
        drop_state: entry!(symbols::DROP_STATE),
        stop_workers: entry!(symbols::STOP_WORKERS),
        save: entry!(symbols::SAVE),
        load: entry!(symbols::LOAD),
        check_allocator: entry!(symbols::CHECK_ALLOCATOR),
        points_into: entry!(symbols::POINTS_INTO),
        last_message: entry!(symbols::LAST_MESSAGE),
    };
    Ok((library, entries))
}
