//! Reading the app's output stream just enough to pass it on in whole
//! escape sequences (so relive's status line is never drawn in the middle
//! of one), to know when the app is on the alternate screen, and to notice
//! when it draws by moving the cursor rather than printing lines.

/// Where in an escape sequence the stream is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Ground,
    /// After ESC.
    Escape,
    /// After ESC [.
    Csi,
    /// After ESC ] (up to BEL or ESC \).
    Osc,
    /// ESC inside an OSC.
    OscEscape,
}

/// Splits the output into whole sequences and follows the alternate screen.
#[derive(Debug, Default)]
pub(super) struct Scanner {
    state: State,
    /// The sequence being read (not yet passed on).
    held: Vec<u8>,
    alternate: bool,
    /// A sequence that places the cursor or clears the screen was seen.
    addressed: bool,
}

impl Scanner {
    /// Whether the app is on the alternate screen.
    pub(super) fn alternate(&self) -> bool {
        self.alternate
    }

    /// Whether the app moved the cursor to a place of its choosing (or
    /// cleared the screen) since the last call: it draws a screen, it does
    /// not print lines.
    pub(super) fn take_addressed(&mut self) -> bool {
        std::mem::take(&mut self.addressed)
    }

    /// Takes the next bytes; returns what can be passed on now (everything
    /// up to an unfinished escape sequence, which is kept for later).
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() + self.held.len());
        for &b in bytes {
            self.held.push(b);
            self.state = match (self.state, b) {
                (State::Ground, 0x1b) => State::Escape,
                (State::Ground, _) => State::Ground,
                (State::Escape, b'[') => State::Csi,
                (State::Escape, b']') => State::Osc,
                (State::Escape, _) => State::Ground,
                (State::Csi, 0x40..=0x7e) => {
                    self.csi_done();
                    State::Ground
                }
                (State::Csi, _) => State::Csi,
                (State::Osc, 0x07) => State::Ground,
                (State::Osc, 0x1b) => State::OscEscape,
                (State::Osc, _) => State::Osc,
                (State::OscEscape, _) => State::Ground,
            };
            if self.state == State::Ground {
                out.append(&mut self.held);
            }
        }
        out
    }

    /// A CSI sequence ended (it is in `held`): the private modes 1049,
    /// 1047 and 47 switch the alternate screen.
    fn csi_done(&mut self) {
        // Cursor position (CUP, HVP), row (VPA), up (CUU, CPL), erase
        // display (ED).
        if let [b'\x1b', b'[', body @ .., last] = self.held.as_slice()
            && body.iter().all(|b| b.is_ascii_digit() || *b == b';')
            && matches!(last, b'H' | b'f' | b'd' | b'A' | b'F' | b'J')
        {
            self.addressed = true;
        }
        let Some(body) = self.held.strip_prefix(b"\x1b[?") else {
            return;
        };
        let Some((&last, params)) = body.split_last() else {
            return;
        };
        let on = match last {
            b'h' => true,
            b'l' => false,
            _ => return,
        };
        let alternate = params
            .split(|&c| c == b';')
            .any(|p| p == b"1049" || p == b"1047" || p == b"47");
        if alternate {
            self.alternate = on;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_split_across_reads_are_passed_on_whole() {
        let mut s = Scanner::default();
        assert_eq!(s.feed(b"ab\x1b[3"), b"ab");
        assert_eq!(s.feed(b"1mcd\x1b]0;ti"), b"\x1b[31mcd");
        assert_eq!(s.feed(b"tle\x07e"), b"\x1b]0;title\x07e");
        assert_eq!(s.feed(b"\x1b"), b"");
        assert_eq!(s.feed(b"7x"), b"\x1b7x");
    }

    #[test]
    fn the_alternate_screen_is_followed() {
        let mut s = Scanner::default();
        s.feed(b"hello\x1b[?10");
        assert!(!s.alternate());
        s.feed(b"49h\x1b[2J");
        assert!(s.alternate());
        s.feed(b"\x1b[?25l\x1b[1;1H");
        assert!(s.alternate(), "other private modes change nothing");
        s.feed(b"\x1b[?1049l");
        assert!(!s.alternate());
        s.feed(b"\x1b[?1000;47h");
        assert!(s.alternate());
    }

    #[test]
    fn drawing_by_cursor_position_is_noticed() {
        let mut s = Scanner::default();
        s.feed(b"a line\r\n\x1b[31mred\x1b[0m\x1b[2K\r\n\x1b[?25l");
        assert!(!s.take_addressed(), "colours, erasing a line, CR LF");
        s.feed(b"\x1b[");
        s.feed(b"12;1Hx");
        assert!(s.take_addressed());
        assert!(!s.take_addressed(), "taken");
        s.feed(b"\x1b[H");
        assert!(s.take_addressed());
    }
}
