//! Freeing, off the frame thread, what takes long to free: closing a
//! memory file gives all its pages back (tens of microseconds per MiB),
//! which a frame boundary, let alone a swap pause, should not wait for.
//! One thread for the process drops what it is given; if it cannot be
//! started, values are dropped where they are given up.

use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender};

type Garbage = Box<dyn Send>;

static DISPOSAL: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();

fn sender() -> Option<&'static Sender<Garbage>> {
    DISPOSAL
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Garbage>();
            std::thread::Builder::new()
                .name("relive-disposal".into())
                .spawn(move || {
                    crate::hazards::known_thread();
                    rx.into_iter().for_each(drop);
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Starts the disposal thread, before any generation opens (a thread that
/// appears while one runs would be taken for the app's).
pub(super) fn start() {
    let _ = sender();
}

/// Drops `value` on the disposal thread.
pub(super) fn later<T: Send + 'static>(value: T) {
    let garbage: Garbage = Box::new(value);
    if let Some(tx) = sender()
        && let Err(mpsc::SendError(garbage)) = tx.send(garbage)
    {
        drop(garbage);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    struct Tells(mpsc::Sender<std::thread::ThreadId>);

    impl Drop for Tells {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::current().id());
        }
    }

    #[test]
    fn values_are_dropped_on_another_thread() {
        let (tx, rx) = mpsc::channel();
        super::later(Tells(tx));
        let dropped_on = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("dropped");
        assert_ne!(dropped_on, std::thread::current().id());
    }
}
