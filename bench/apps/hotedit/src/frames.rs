//! The frame loop both binaries share: the executable of hot-lib-reloader's
//! README, which keeps the state and calls the hot function in a loop (here
//! every millisecond, like bench/apps/edit under relive). It ends when its
//! stdin closes, so that it never outlives relive-bench.

use std::io::Read;
use std::time::Duration;

use hotedit_lib::State;

/// Calls `frame` about every millisecond until stdin reaches its end.
pub fn run(frame: fn(&mut State)) {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
    let mut state = State::default();
    loop {
        frame(&mut state);
        std::thread::sleep(Duration::from_millis(1));
    }
}
