//! The bytes for `ctx.input()`: what arrives on the host's input (a
//! terminal, a pipe, a file) is queued here, by a reader thread of the
//! host's, and each frame takes what is queued. The queue belongs to the
//! host, not to a generation, so a swap loses nothing; a frame that a
//! rollback undoes puts its bytes back in front, and the code the program
//! returns to gets them again.
//!
//! The queue is a static: the input it carries is the process's.

use std::io::Read;
use std::sync::{Mutex, MutexGuard, PoisonError};

use relive_abi::FrameInfo;

static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<u8>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Queues `bytes` for the next frame.
pub fn feed(bytes: &[u8]) {
    pending().extend_from_slice(bytes);
}

/// Starts a thread named `relive-input` that queues everything read from
/// `source` until its end.
pub fn read_from(mut source: impl Read + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("relive-input".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match source.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => feed(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })
        .map(|_| ())
}

/// The bytes one frame gets, owned by the frame thread for the call.
#[derive(Debug, Default)]
pub(crate) struct FrameInput(Vec<u8>);

impl FrameInput {
    /// Takes everything queued.
    pub(crate) fn take() -> FrameInput {
        FrameInput(std::mem::take(&mut *pending()))
    }

    /// Bytes a recorded frame got.
    pub(crate) fn recorded(bytes: &[u8]) -> FrameInput {
        FrameInput(bytes.to_vec())
    }

    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `info` pointing at these bytes; valid while `self` lives.
    pub(crate) fn attach(&self, info: FrameInfo) -> FrameInfo {
        FrameInfo {
            input: if self.0.is_empty() {
                std::ptr::null()
            } else {
                self.0.as_ptr()
            },
            input_len: self.0.len(),
            ..info
        }
    }

    /// The frame was undone: its bytes go back in front of the queue.
    pub(crate) fn unread(self) {
        if self.0.is_empty() {
            return;
        }
        let mut queue = pending();
        let later = std::mem::replace(&mut *queue, self.0);
        queue.extend_from_slice(&later);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the queue is process-wide.
    #[test]
    fn frames_take_bytes_in_order_and_an_undone_frame_gives_them_back() {
        feed(b"ab");
        let first = FrameInput::take();
        let info = first.attach(FrameInfo::default());
        assert_eq!(info.input_len, 2);
        // SAFETY: `first` owns the bytes `info` points at.
        assert_eq!(unsafe { std::slice::from_raw_parts(info.input, 2) }, b"ab");
        feed(b"c");
        first.unread();
        feed(b"d");
        assert_eq!(FrameInput::take().0, b"abcd");
        let none = FrameInput::take();
        assert!(none.attach(FrameInfo::default()).input.is_null());

        use std::io::Write;
        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        read_from(rx).expect("reader thread");
        tx.write_all(b"xyz").expect("write");
        drop(tx);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut got = Vec::new();
        while got.len() < 3 && std::time::Instant::now() < until {
            got.extend(FrameInput::take().0);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(got, b"xyz");
    }
}
