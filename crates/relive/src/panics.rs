//! What happens to a panic in the app's code.
//!
//! A panic that reaches relive's boundary (an entry point the host called,
//! or the body of a relive worker) is recorded instead of printed: the host
//! reports it (a frame's panic), or the worker wrapper prints it. Every other
//! panic is printed as Rust's default hook prints it: one on a thread the app
//! started itself at once, and one that the app catches itself with
//! `catch_unwind` inside a boundary as soon as relive knows it was caught
//! (when the boundary returns normally, or when the same thread panics
//! again). A library built with `panic = "abort"` never unwinds to a
//! boundary, so there every panic is printed at once.

use std::any::Any;
use std::cell::Cell;
use std::panic::{PanicHookInfo, UnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::thread::ThreadId;

/// A panic recorded at a boundary, until the boundary takes it.
struct Recorded {
    thread: ThreadId,
    name: String,
    location: String,
    message: String,
    backtrace: Option<String>,
}

impl Recorded {
    /// "location\nmessage", then "\nstack backtrace:\n..." when captured.
    fn report(&self) -> String {
        let mut text = format!("{}\n{}", self.location, self.message);
        if let Some(backtrace) = &self.backtrace {
            text.push_str(&format!("\nstack backtrace:\n{backtrace}"));
        }
        text
    }

    /// As Rust's default hook prints it.
    fn print(&self) {
        let mut text = format!(
            "\nthread '{}' panicked at {}:\n{}\n",
            self.name, self.location, self.message
        );
        match &self.backtrace {
            Some(backtrace) => text.push_str(&format!("stack backtrace:\n{backtrace}\n")),
            None => text.push_str(
                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
            ),
        }
        eprint!("{text}");
    }
}

static RECORDED: Mutex<Vec<Recorded>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

thread_local! {
    /// Set while this thread runs inside a relive boundary. A plain `Cell`
    /// needs no thread-local destructor, which would keep the library mapped.
    static AT_BOUNDARY: Cell<bool> = const { Cell::new(false) };
}

/// The state has left this library (handed to a newer generation, or
/// dropped): code of it that still runs outside a boundary was called
/// through a value the state carried over (pinned old code).
static RETIRED: AtomicBool = AtomicBool::new(false);

/// Marks whether the state has left this library.
pub(crate) fn retired(yes: bool) {
    RETIRED.store(yes, Ordering::Release);
}

/// A panic in this library's code that was called from another library
/// (a trait object or `fn` pointer carried over from this generation, called
/// by newer code): the caller's std cannot catch it, and unwinding into it
/// would abort without a word. Says so precisely and ends the process with
/// [`relive_abi::EXIT_OLD_CODE_PANICKED`], so that relive brings the program
/// back through its crash path, on the running generation.
fn panicked_in_pinned_code(info: &PanicHookInfo<'_>) -> ! {
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "unknown location".into());
    eprintln!(
        "relive: old code panicked at {location}: {}\n\
         relive: this code belongs to an older generation, kept mapped because a value in the state (a trait object or fn pointer) was made by it; \
         the newer code that called it cannot catch its panic (each generation has its own std), so the program's process ends and relive brings it back on the last good generation. \
         Make such values again from the new code (in `reloaded`), or restart, to run the new code's version",
        payload_text(info.payload())
    );
    // SAFETY: ends the process at once, without running exit handlers or
    // destructors in a process whose old code is mid-panic.
    unsafe { libc::_exit(relive_abi::EXIT_OLD_CODE_PANICKED) }
}

/// Runs `body` as relive's boundary on this thread: a panic that escapes it
/// is recorded for [`take_message`]; one that `body` caught itself is
/// printed when it returns.
pub(crate) fn boundary<R>(body: impl FnOnce() -> R + UnwindSafe) -> std::thread::Result<R> {
    install_hook();
    let outer = AT_BOUNDARY.replace(true);
    let result = catch_unwind(body);
    AT_BOUNDARY.set(outer);
    if result.is_ok()
        && let Some(caught) = take(std::thread::current().id())
    {
        caught.print();
    }
    result
}

/// The panic of the calling thread that reached its boundary
/// ("location\nmessage[\nstack backtrace:\n...]").
pub(crate) fn take_message() -> String {
    match take(std::thread::current().id()) {
        Some(recorded) => recorded.report(),
        None => "unknown location\npanic without a recorded message".into(),
    }
}

fn take(thread: ThreadId) -> Option<Recorded> {
    let mut log = RECORDED.lock().unwrap_or_else(PoisonError::into_inner);
    let at = log.iter().position(|r| r.thread == thread)?;
    Some(log.swap_remove(at))
}

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        // With std linked into this library, `previous` is that std's own
        // default hook. In persistent mode std is one shared library for
        // every generation, and `previous` is the hook of an older
        // generation, whose code goes away when it is closed: it is never
        // called (nor dropped, which would run its code), and panics that
        // do not reach a boundary are printed here as the default hook
        // prints them.
        let default = if std_is_shared() {
            std::mem::forget(previous);
            None
        } else {
            Some(previous)
        };
        std::panic::set_hook(Box::new(move |info| {
            if !AT_BOUNDARY.get() && RETIRED.load(Ordering::Acquire) {
                panicked_in_pinned_code(info);
            }
            if cfg!(panic = "abort") || !AT_BOUNDARY.get() {
                match &default {
                    Some(default) => default(info),
                    None => recorded(info).print(),
                }
            } else {
                record(info);
            }
        }));
    });
}

/// Whether std's code is in another shared object than this library's
/// (persistent mode: the app is built with `-C prefer-dynamic`).
fn std_is_shared() -> bool {
    fn object_of(address: *const ()) -> Option<usize> {
        // SAFETY: Dl_info is plain data (pointers), valid when zeroed.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: dladdr only reads the loader's tables and fills in `info`.
        let found = unsafe { libc::dladdr(address.cast(), &mut info) } != 0;
        found.then_some(info.dli_fbase as usize)
    }
    let ours = object_of(std_is_shared as fn() -> bool as *const ());
    let std = object_of(std::panic::take_hook as fn() -> _ as *const ());
    ours.is_some() && std.is_some() && ours != std
}

fn record(info: &PanicHookInfo<'_>) {
    let recorded = recorded(info);
    // A panic still recorded for this thread was caught by the app, since
    // the thread runs on: print it as it would have been.
    if let Some(caught) = take(recorded.thread) {
        caught.print();
    }
    RECORDED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(recorded);
}

fn recorded(info: &PanicHookInfo<'_>) -> Recorded {
    let thread = std::thread::current();
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "unknown location".into());
    let backtrace = std::backtrace::Backtrace::capture();
    Recorded {
        thread: thread.id(),
        name: thread.name().unwrap_or("<unnamed>").to_string(),
        location,
        message: payload_text(info.payload()),
        backtrace: (backtrace.status() == std::backtrace::BacktraceStatus::Captured)
            .then(|| backtrace.to_string()),
    }
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_that_reaches_the_boundary_is_recorded_one_caught_inside_is_not() {
        let result = boundary(|| -> u32 { panic!("escapes to relive") });
        assert!(result.is_err());
        let message = take_message();
        assert!(message.contains("escapes to relive"), "{message}");
        assert!(message.starts_with(file!()), "location first: {message}");

        // Caught by the app: nothing stays recorded for the host to report
        // (it was printed, as the default hook would).
        let result = boundary(|| std::panic::catch_unwind(|| panic!("caught by the app")));
        assert!(matches!(result, Ok(Err(_))));
        assert!(
            take(std::thread::current().id()).is_none(),
            "a caught panic is printed, not kept"
        );

        // Caught, then another escapes: the host gets the one that escaped.
        let result = boundary(|| {
            let _ = std::panic::catch_unwind(|| panic!("first, caught"));
            panic!("second, escapes");
        });
        assert!(result.is_err());
        let message = take_message();
        assert!(message.contains("second, escapes"), "{message}");

        // On a thread the app started itself: printed at once, not kept.
        install_hook();
        let thread = std::thread::spawn(|| panic!("on the app's own thread"));
        let id = thread.thread().id();
        assert!(thread.join().is_err());
        assert!(take(id).is_none(), "printed, not kept");
    }
}
