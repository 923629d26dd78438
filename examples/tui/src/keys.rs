//! The keys in the bytes of `ctx.input()`: what the terminal sends, as it
//! sends it (UTF-8 text, control bytes, escape sequences for arrows and
//! function keys). A key split across two frames (a UTF-8 character, an
//! escape sequence) waits in the state for the rest of its bytes.

/// One key the app acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// A character to type.
    Char(char),
    /// Enter.
    Enter,
    /// Backspace.
    Backspace,
    /// Ctrl-C or Ctrl-D: the terminal is in raw mode, so they arrive as
    /// bytes instead of signals.
    Quit,
}

/// The length of the escape sequence at the start of `bytes` (which starts
/// with ESC), or `None` while it is unfinished.
fn escape_len(bytes: &[u8]) -> Option<usize> {
    match bytes.get(1)? {
        // CSI: parameters, then one final byte.
        b'[' => bytes[2..]
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map(|at| at + 3),
        // SS3 (F1-F4 and arrows in application mode): one more byte.
        b'O' => bytes.get(2).map(|_| 3),
        // Alt and a key.
        _ => Some(2),
    }
}

/// The length of the UTF-8 character whose first byte is `lead`.
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

/// Splits `pending` (the rest of the previous frame) and `input` into keys;
/// an unfinished key is left in `pending`. Escape sequences (arrows, other
/// function keys) and other control bytes are skipped.
pub fn decode(pending: &mut Vec<u8>, input: &[u8]) -> Vec<Key> {
    let mut bytes = std::mem::take(pending);
    bytes.extend_from_slice(input);
    let mut keys = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let len = match rest[0] {
            0x03 | 0x04 => {
                keys.push(Key::Quit);
                1
            }
            b'\r' | b'\n' => {
                keys.push(Key::Enter);
                1
            }
            0x7f | 0x08 => {
                keys.push(Key::Backspace);
                1
            }
            0x1b => match escape_len(rest) {
                Some(len) => len,
                None => break,
            },
            0x00..=0x1f => 1,
            lead => {
                let len = utf8_len(lead);
                if rest.len() < len {
                    break;
                }
                if let Some(c) = std::str::from_utf8(&rest[..len])
                    .ok()
                    .and_then(|s| s.chars().next())
                {
                    keys.push(Key::Char(c));
                }
                len
            }
        };
        at += len;
    }
    pending.extend_from_slice(&bytes[at..]);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_across_frames_wait_for_their_bytes() {
        let mut pending = Vec::new();
        assert_eq!(decode(&mut pending, b"a\x1b["), [Key::Char('a')]);
        assert_eq!(decode(&mut pending, b"Ab\xc3"), [Key::Char('b')]);
        assert_eq!(
            decode(&mut pending, b"\xa9\r\x7f\x03"),
            [Key::Char('é'), Key::Enter, Key::Backspace, Key::Quit]
        );
        assert!(pending.is_empty());
    }
}
