//! Probes shared by the bench apps (included with `#[path]`): a system-wide
//! monotonic clock that the bench can compare with its own readings, the
//! calling thread's minor page faults, and one-line reports on stdout.
//!
//! Every report is one line that starts with `@bench ` followed by a kind and
//! `key=value` pairs; the bench reads them from relive's stdout.

// Each app uses a part of these.
#![allow(dead_code)]

use std::fmt::Arguments;
use std::io::Write;

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clocks used here
    // always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process, so a
/// time taken here compares with one taken by the bench.
pub fn now_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CPU time of the calling thread in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn minflt(who: libc::c_int) -> u64 {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_THREAD and
    // RUSAGE_SELF are supported on Linux.
    unsafe { libc::getrusage(who, &mut usage) };
    usage.ru_minflt as u64
}

/// Minor page faults of the calling thread so far.
pub fn thread_minflt() -> u64 {
    minflt(libc::RUSAGE_THREAD)
}

/// Minor page faults of the whole process so far.
pub fn process_minflt() -> u64 {
    minflt(libc::RUSAGE_SELF)
}

/// Prints one `@bench` line and flushes it at once.
pub fn report(kind: &str, fields: Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "@bench {kind} {fields}");
    let _ = out.flush();
}
