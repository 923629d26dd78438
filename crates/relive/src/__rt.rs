//! The runtime behind `relive::export!`: the state's storage in the app
//! library and the bodies of the `extern "C"` entry points.
//!
//! Every entry point catches panics, so none crosses the C ABI; the message
//! and location of a caught panic are kept for `relive_last_message`
//! (see [`crate::panics`]). The
//! host makes at most one call into a library at a time, which is what makes
//! the unsynchronised access to [`Slot`] sound.

use std::cell::UnsafeCell;
use std::io::Write;
use std::mem::MaybeUninit;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

pub use crate::via_serde::{SnapshotProbe, ViaClone, ViaSerde, load_field as load_serde_field};
pub use relive_abi as abi;
use relive_abi::{Adopt, Bytes, FrameInfo, StateRef, Status};

use crate::state::{Carry, LayoutBuilder, Load, Root, Skipped, State};
use crate::{App, Ctx, Flow, allocator, panics, workers};

/// `rustc -V` of the compiler that built this crate (and so the app).
pub const RUSTC_VERSION: &str = env!("RELIVE_RUSTC_VERSION");
/// Version of this crate.
pub const RELIVE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A field read during a migration: present in the saved state or not.
#[derive(Debug, Default)]
pub enum Missing<T> {
    /// The saved state had no such field (or, for a reset field, a value of
    /// another type): it keeps its default.
    #[default]
    Absent,
    /// The saved value.
    Present(T),
}

impl<'de, T: State> serde::Deserialize<'de> for Missing<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::load(deserializer).map(Missing::Present)
    }
}

impl<T> Missing<T> {
    /// The value, or `default` (the type's `Default`, when it has one), or a
    /// missing-field error.
    pub fn or_default<E: serde::de::Error>(
        self,
        default: Option<T>,
        field: &'static str,
    ) -> Result<T, E> {
        match (self, default) {
            (Missing::Present(value), _) | (Missing::Absent, Some(value)) => Ok(value),
            (Missing::Absent, None) => Err(E::missing_field(field)),
        }
    }
}

impl<T> Missing<crate::Serde<T>> {
    /// A loaded `#[relive(serde)]` field as its own type.
    pub fn unwrap_serde(self) -> Missing<T> {
        match self {
            Missing::Absent => Missing::Absent,
            Missing::Present(value) => Missing::Present(value.0),
        }
    }
}

/// `deserialize_with` for `#[relive(reset)]` fields: a saved value that does
/// not load as the field's new type leaves the field at its default.
pub fn lenient<'de, D: serde::Deserializer<'de>, T: State>(
    deserializer: D,
) -> Result<Missing<T>, D::Error> {
    use serde::Deserialize;
    let value = serde_value::Value::deserialize(deserializer)?;
    Ok(T::load(value).map_or(Missing::Absent, Missing::Present))
}

/// Visits both words of a reference to a trait object (its data and its
/// vtable, in whichever order the compiler keeps them) as opaque
/// addresses: the vtable is in the library whose code made the object.
pub fn visit_wide_pointer<T: ?Sized>(object: &T, visit: &mut dyn FnMut(usize, bool)) {
    const { assert!(size_of::<&T>() == 2 * size_of::<usize>()) };
    // SAFETY: a reference to a trait object is two pointer-sized words
    // (checked above); reading them as integers has no other effect.
    let words: [usize; 2] = unsafe { std::mem::transmute_copy(&object) };
    visit(words[0], true);
    visit(words[1], true);
}

/// Finds a type's `Default` where it has one, without requiring it:
/// `(&&Probe::<T>::new()).make_default()` is `Some` exactly when `T: Default`.
#[derive(Debug)]
pub struct Probe<T>(std::marker::PhantomData<T>);

impl<T> Probe<T> {
    /// A probe for `T`.
    pub const fn new() -> Self {
        Probe(std::marker::PhantomData)
    }
}

impl<T> Default for Probe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The `Default` arm of [`Probe`].
pub trait ViaDefault<T> {
    /// `Some(T::default())`.
    fn make_default(&self) -> Option<T>;
}

impl<T: Default> ViaDefault<T> for &Probe<T> {
    fn make_default(&self) -> Option<T> {
        Some(T::default())
    }
}

/// The fallback arm of [`Probe`].
pub trait NoDefault<T> {
    /// `None`.
    fn make_default(&self) -> Option<T>;
}

impl<T> NoDefault<T> for Probe<T> {
    fn make_default(&self) -> Option<T> {
        None
    }
}

/// Storage for the app's state inside its library.
pub struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    live: AtomicBool,
    snapshot: UnsafeCell<Option<Box<T>>>,
    layout: OnceLock<String>,
    skipped: OnceLock<Skipped>,
    saved: UnsafeCell<Vec<u8>>,
}

// SAFETY: the host calls into one library from one thread at a time (see the
// module docs), so the cells are never accessed concurrently.
unsafe impl<T> Sync for Slot<T> {}

impl<T> std::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slot<T> {
    /// An empty slot.
    pub const fn new() -> Self {
        Slot {
            value: UnsafeCell::new(MaybeUninit::uninit()),
            live: AtomicBool::new(false),
            snapshot: UnsafeCell::new(None),
            layout: OnceLock::new(),
            skipped: OnceLock::new(),
            saved: UnsafeCell::new(Vec::new()),
        }
    }

    fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn put(&self, value: T) {
        self.clear();
        // SAFETY: calls are serialised (module docs) and the slot is empty.
        unsafe { (*self.value.get()).write(value) };
        self.live.store(true, Ordering::Release);
        panics::retired(false);
    }

    #[expect(
        clippy::mut_from_ref,
        reason = "the host serialises calls into the library, see the module docs"
    )]
    fn get_mut(&self) -> Result<&mut T, String> {
        if !self.is_live() {
            return Err("the library holds no state (it was moved out or never made)".into());
        }
        // SAFETY: live means initialised; calls are serialised, so this is
        // the only reference for the duration of the call.
        Ok(unsafe { (*self.value.get()).assume_init_mut() })
    }

    /// Drops the value if there is one.
    fn clear(&self) {
        if self.live.swap(false, Ordering::AcqRel) {
            // SAFETY: it was live, and is now marked empty so it is dropped once.
            unsafe { (*self.value.get()).assume_init_drop() };
        }
    }

    #[expect(
        clippy::mut_from_ref,
        reason = "the host serialises calls into the library, see the module docs"
    )]
    fn snapshot_cell(&self) -> &mut Option<Box<T>> {
        // SAFETY: calls are serialised (module docs).
        unsafe { &mut *self.snapshot.get() }
    }
}

static LAST_MESSAGE: Mutex<String> = Mutex::new(String::new());

fn set_last_message(text: String) {
    *LAST_MESSAGE.lock().unwrap_or_else(PoisonError::into_inner) = text;
}

/// Runs an entry point's body: no panic leaves it, a misuse is reported.
fn guard(body: impl FnOnce() -> Result<Status, String>) -> Status {
    match panics::boundary(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => status,
        Ok(Err(misuse)) => {
            set_last_message(format!("relive runtime\n{misuse}"));
            Status::MISUSE
        }
        Err(_) => {
            set_last_message(panics::take_message());
            Status::PANICKED
        }
    }
}

fn read_info(info: *const FrameInfo) -> Result<FrameInfo, String> {
    if info.is_null() {
        return Err("frame info is null".into());
    }
    // SAFETY: the host passes a pointer to a live FrameInfo for the call.
    Ok(unsafe { *info })
}

fn bytes(text: &str) -> Bytes {
    Bytes {
        ptr: text.as_ptr(),
        len: text.len(),
    }
}

/// `relive_layout`.
pub fn layout<T: App + Root>(slot: &Slot<T>) -> Bytes {
    let mut out = Bytes {
        ptr: std::ptr::null(),
        len: 0,
    };
    guard(|| {
        let text = slot.layout.get_or_init(|| {
            let layout = LayoutBuilder::layout_of::<T>();
            // Worked out here, before any swap, rather than in its pause.
            let _ = slot.skipped.set(Skipped::of(&layout));
            let _ = MAY_PIN.set(pinning_types(&layout));
            layout.to_json()
        });
        out = bytes(text);
        Ok(Status::OK)
    });
    out
}

/// The state's types that hide a `#[relive(skip)]` field.
fn skipped_types<T: State>(slot: &Slot<T>) -> &Skipped {
    slot.skipped
        .get_or_init(|| Skipped::of(&LayoutBuilder::layout_of::<T>()))
}

/// `relive_init`: a fresh state from `Default`, then `App::init`.
pub fn init<T: App + Root>(slot: &Slot<T>, info: *const FrameInfo) -> Status {
    guard(|| {
        let mut ctx = Ctx::new(read_info(info)?);
        slot.put(T::default());
        workers::resume();
        slot.get_mut()?.init(&mut ctx);
        Ok(Status::OK)
    })
}

/// `relive_frame`.
pub fn frame<T: App + Root>(slot: &Slot<T>, info: *const FrameInfo) -> Status {
    guard(|| {
        let mut ctx = Ctx::new(read_info(info)?);
        Ok(match slot.get_mut()?.frame(&mut ctx) {
            Flow::Continue => Status::OK,
            Flow::Exit => Status::EXIT,
        })
    })
}

/// `relive_reloaded`.
pub fn reloaded<T: App + Root>(slot: &Slot<T>, info: *const FrameInfo) -> Status {
    guard(|| {
        let mut ctx = Ctx::new(read_info(info)?);
        workers::resume();
        slot.get_mut()?.reloaded(&mut ctx);
        Ok(Status::OK)
    })
}

/// `relive_unloading`: `App::unloading`, before the state leaves.
pub fn unloading<T: App + Root>(slot: &Slot<T>, info: *const FrameInfo) -> Status {
    guard(|| {
        let mut ctx = Ctx::new(read_info(info)?);
        slot.get_mut()?.unloading(&mut ctx);
        Ok(Status::OK)
    })
}

/// `relive_state`.
pub fn state_ref<T>(slot: &Slot<T>) -> StateRef {
    StateRef {
        ptr: if slot.is_live() {
            slot.value.get().cast()
        } else {
            std::ptr::null_mut()
        },
        size: size_of::<T>(),
    }
}

/// `relive_adopt`: takes the previous generation's state over.
///
/// # Safety
/// `plan` must be null or point to a valid [`Adopt`] whose `src` holds a
/// live value matching the plan (see `relive_abi::Adopt`).
pub unsafe fn adopt<T: App + Root>(slot: &Slot<T>, plan: *const Adopt) -> Status {
    guard(|| {
        if plan.is_null() {
            return Err("adopt plan is null".into());
        }
        // SAFETY: the host passes a pointer to a live Adopt for the call.
        let plan = unsafe { *plan };
        if plan.src.is_null() {
            return Err("adopt source is null".into());
        }
        let value = if plan.identical != 0 {
            if plan.src_size != size_of::<T>() {
                return Err(format!(
                    "identical layouts differ in size: {} != {}",
                    plan.src_size,
                    size_of::<T>()
                ));
            }
            // SAFETY: the host checked that the old value has exactly this
            // type's layout and gives its bytes up; the old static is aligned
            // for the same alignment.
            let mut value = unsafe { std::ptr::read(plan.src.cast::<T>()) };
            // Skipped fields are never carried. The host moves their bytes
            // only when their types are the same (by name, and named only
            // from std, whose definitions the compiler fixes), so this code's
            // drop fits the old values; whatever they point into in the old
            // library stays mapped until the swap's verdict.
            let skipped = skipped_types(slot);
            if skipped.inside::<T>() {
                value.reset_skipped(skipped);
            }
            value
        } else {
            let sources = if plan.sources_len == 0 {
                &[][..]
            } else {
                // SAFETY: the host passes `sources_len` entries.
                unsafe { std::slice::from_raw_parts(plan.sources, plan.sources_len) }
            };
            // SAFETY: the host matched every non-negative source to a field
            // of identical layout in the old value and gives those bytes up.
            unsafe { T::assemble(T::default(), plan.src, sources, skipped_types(slot)) }
        };
        slot.put(value);
        Ok(Status::OK)
    })
}

/// Writes out what the app printed without a newline: a generation's
/// `stdout` buffer belongs to its own copy of std, which nothing flushes
/// once the library is closed.
fn flush_output() {
    let _ = std::io::stdout().flush();
}

/// `relive_check_allocator`: whether the global allocator is the process's
/// `malloc`, which every generation shares.
pub fn check_allocator() -> Status {
    guard(|| {
        if allocator::is_malloc() {
            Ok(Status::OK)
        } else {
            Err(allocator::REFUSAL.into())
        }
    })
}

/// Whether this library's global allocator is the process's `malloc`.
pub fn global_allocator_is_malloc() -> bool {
    allocator::is_malloc()
}

/// `relive_release`: the state's bytes now belong to the next generation;
/// drop the fields it did not take.
///
/// # Safety
/// `mask` must be null or point to `len` readable bytes.
pub unsafe fn release<T: App + Root>(slot: &Slot<T>, mask: *const u8, len: usize) -> Status {
    guard(|| {
        if !slot.live.swap(false, Ordering::AcqRel) {
            return Err("release without a state".into());
        }
        panics::retired(true);
        if len > 0 && !mask.is_null() {
            // SAFETY: the host passes `len` mask bytes.
            let mask = unsafe { std::slice::from_raw_parts(mask, len) };
            // SAFETY: the value was live; it is marked empty, so nothing
            // drops it again, and the moved fields are not in the mask.
            unsafe { T::drop_fields((*slot.value.get()).as_mut_ptr(), mask) };
        }
        flush_output();
        Ok(Status::OK)
    })
}

/// `relive_snapshot`: keeps a deep copy for a rollback.
pub fn snapshot<T: App + Root>(slot: &Slot<T>) -> Status {
    guard(|| {
        let copy = slot.get_mut()?.snapshot();
        *slot.snapshot_cell() = Some(Box::new(copy));
        Ok(Status::OK)
    })
}

/// `relive_restore`: the kept copy becomes the state again.
pub fn restore<T: App + Root>(slot: &Slot<T>) -> Status {
    guard(|| {
        let copy = slot
            .snapshot_cell()
            .take()
            .ok_or("restore without a snapshot")?;
        slot.put(*copy);
        Ok(Status::OK)
    })
}

/// `relive_discard_snapshot`: drops the kept copy and the saved bytes.
pub fn discard_snapshot<T: App + Root>(slot: &Slot<T>) -> Status {
    guard(|| {
        slot.snapshot_cell().take();
        // The saved bytes (a checkpoint) are not needed once the next
        // generation runs; a closed library's statics are never dropped.
        forget_saved(slot);
        flush_output();
        Ok(Status::OK)
    })
}

/// `relive_drop_state`: drops the state and any kept copy.
pub fn drop_state<T: App + Root>(slot: &Slot<T>) -> Status {
    guard(|| {
        slot.snapshot_cell().take();
        forget_saved(slot);
        slot.clear();
        flush_output();
        panics::retired(true);
        Ok(Status::OK)
    })
}

/// Set while the state is saved for another process (a crash checkpoint).
static PORTABLE: AtomicBool = AtomicBool::new(false);

/// Whether the value being saved must be loadable by another process.
pub fn saving_portably() -> bool {
    PORTABLE.load(Ordering::Relaxed)
}

/// `relive_save`: writes the state by field name, into `buf` when it fits
/// (no copy at all), else into the library's own buffer, whose bytes stay
/// valid until the next call into this library.
///
/// # Safety
/// `buf` must be null or point to `cap` writable bytes; `out` must be null
/// or point to a writable [`Bytes`].
pub unsafe fn save<T: App + Root>(
    slot: &Slot<T>,
    portable: bool,
    buf: *mut u8,
    cap: usize,
    out: *mut Bytes,
) -> Status {
    guard(|| {
        if out.is_null() {
            return Err("save output is null".into());
        }
        let state = slot.get_mut()?;
        PORTABLE.store(portable, Ordering::Relaxed);
        let written = (|| -> Result<Bytes, String> {
            if !buf.is_null() && cap > 0 {
                // SAFETY: the host passes `cap` writable bytes.
                let space = unsafe { std::slice::from_raw_parts_mut(buf, cap) };
                let mut cursor = std::io::Cursor::new(space);
                if rmp_serde::encode::write_named(&mut cursor, &Carry(&*state)).is_ok() {
                    return Ok(Bytes {
                        ptr: buf,
                        len: cursor.position() as usize,
                    });
                }
                // Too small (or failed): the library's own buffer below says which.
            }
            // SAFETY: calls are serialised (module docs).
            let saved = unsafe { &mut *slot.saved.get() };
            saved.clear();
            rmp_serde::encode::write_named(saved, &Carry(&*state))
                .map_err(|e| format!("cannot save the state: {e}"))?;
            Ok(Bytes {
                ptr: saved.as_ptr(),
                len: saved.len(),
            })
        })();
        PORTABLE.store(false, Ordering::Relaxed);
        // SAFETY: the host passes a writable Bytes.
        unsafe { *out = written? };
        Ok(Status::OK)
    })
}

/// `relive_load`: makes the state from another generation's saved bytes.
/// A value that does not fit is a failure (`Status::MISUSE` with the
/// reason), and the slot stays empty.
///
/// # Safety
/// `bytes` must point to `len` readable bytes.
pub unsafe fn load<T: App + Root>(slot: &Slot<T>, bytes: Bytes) -> Status {
    guard(|| {
        if bytes.ptr.is_null() {
            return Err("load input is null".into());
        }
        // SAFETY: the host passes `len` readable bytes.
        let input = unsafe { std::slice::from_raw_parts(bytes.ptr, bytes.len) };
        let Load(value) = rmp_serde::from_slice::<Load<T>>(input)
            .map_err(|e| format!("the saved state does not fit the new types: {e}"))?;
        slot.put(value);
        Ok(Status::OK)
    })
}

/// For every type of the state, whether a pinned type is inside it.
static MAY_PIN: OnceLock<std::collections::HashMap<String, bool>> = OnceLock::new();

/// Whether values of `T` can hold a pinned value (from the state's layout;
/// true for a type the layout does not know).
pub fn may_pin<T: 'static>() -> bool {
    MAY_PIN
        .get()
        .and_then(|map| map.get(std::any::type_name::<T>()).copied())
        .unwrap_or(true)
}

/// For every type of `layout`, whether a pinned type is inside it.
fn pinning_types(layout: &abi::layout::Layout) -> std::collections::HashMap<String, bool> {
    let pins = crate::state::reaching(layout, |kind| {
        matches!(kind, abi::layout::Kind::Pinned { .. })
    });
    layout
        .types
        .keys()
        .map(|key| (key.clone(), pins.contains(key)))
        .collect()
}

/// `relive_points_into`: which of the given address ranges (libraries of
/// older generations) the state's values point into.
///
/// # Safety
/// `ranges` must point to `2 * count` readable words and `out` to `count`
/// writable bytes.
pub unsafe fn points_into<T: App + Root>(
    slot: &Slot<T>,
    ranges: *const u64,
    count: usize,
    out: *mut u8,
) -> Status {
    guard(|| {
        if count == 0 {
            return Ok(Status::OK);
        }
        if ranges.is_null() || out.is_null() {
            return Err("points_into ranges or output is null".into());
        }
        // SAFETY: the host passes `2 * count` words and `count` bytes.
        let (ranges, out) = unsafe {
            (
                std::slice::from_raw_parts(ranges, 2 * count),
                std::slice::from_raw_parts_mut(out, count),
            )
        };
        out.fill(0);
        let state = slot.get_mut()?;
        state.visit_pins(&mut |address, opaque| {
            let address = address as u64;
            for (i, range) in ranges.chunks_exact(2).enumerate() {
                if (range[0]..range[1]).contains(&address) {
                    out[i] = out[i].max(if opaque { 2 } else { 1 });
                }
            }
        });
        Ok(Status::OK)
    })
}

/// Drops the saved bytes.
pub fn forget_saved<T>(slot: &Slot<T>) {
    // SAFETY: calls are serialised (module docs).
    unsafe { *slot.saved.get() = Vec::new() };
}

/// `relive_stop_workers`: the first call of every swap and of the end, so
/// it also writes out what this generation printed so far, before any
/// newer code prints.
pub fn stop_workers(deadline_ms: u64) -> Status {
    guard(|| {
        let stopped = workers::stop_all(Duration::from_millis(deadline_ms));
        flush_output();
        match stopped {
            Ok(()) => Ok(Status::OK),
            Err(late) => {
                set_last_message(late.join(", "));
                Ok(Status::TIMED_OUT)
            }
        }
    })
}

/// `relive_last_message`: valid until the next call into this library.
pub fn last_message() -> Bytes {
    let text = LAST_MESSAGE.lock().unwrap_or_else(PoisonError::into_inner);
    bytes(&text)
}
