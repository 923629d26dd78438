//! The swap pause of 100,000 `glam::Vec2` in the state, carried through
//! `#[relive(serde)]` (always by name: the old code saves, the new code
//! loads) versus through relive's `glam` feature (an unchanged layout: the
//! bytes move, plus the rollback snapshot, one `memcpy`). In one run.
//!
//! `cargo bench -p relive --features glam --bench foreign` (add
//! `-- --quick` for a short run). Prints a Markdown table for BENCHMARKS.md.

use std::time::{Duration, Instant};

use glam::Vec2;
use relive::__rt::{self, Slot, abi};

const N: usize = 100_000;

#[derive(Debug, Default, relive::State)]
pub struct ViaFeature {
    pub points: Vec<Vec2>,
}

#[derive(Debug, Default, relive::State)]
pub struct ViaSerde {
    #[relive(serde)]
    pub points: Vec<Vec2>,
}

macro_rules! app {
    ($($t:ty),*) => {$(
        impl relive::App for $t {
            fn frame(&mut self, _ctx: &mut relive::Ctx) -> relive::Flow {
                relive::Flow::Continue
            }
        }
    )*};
}
app!(ViaFeature, ViaSerde);

fn points() -> Vec<Vec2> {
    (0..N).map(|i| Vec2::new(i as f32, 0.5)).collect()
}

/// Puts `value` in `slot` through the byte-move path.
fn fill<T: relive::App + relive::state::Root>(slot: &Slot<T>, value: T) {
    let adopt = abi::Adopt {
        src: (&value as *const T).cast(),
        src_size: size_of::<T>(),
        identical: 1,
        sources: std::ptr::null(),
        sources_len: 0,
    };
    // SAFETY: `value` is a live T given up here (forgotten below).
    unsafe { __rt::adopt(slot, &adopt) };
    std::mem::forget(value);
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    median((0..runs).map(|_| f()).collect())
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 5 } else { 21 };

    let (a, b) = (Slot::<ViaFeature>::new(), Slot::<ViaFeature>::new());
    fill(&a, ViaFeature { points: points() });
    // An unchanged layout: the new code adopts the bytes, the old forgets
    // them, and the rollback snapshot is taken in the same pause.
    let feature = time(runs, || {
        let t = Instant::now();
        __rt::snapshot(&a);
        let state = __rt::state_ref(&a);
        let plan = abi::Adopt {
            src: state.ptr,
            src_size: state.size,
            identical: 1,
            sources: std::ptr::null(),
            sources_len: 0,
        };
        // SAFETY: `a` holds a live value; `release` below forgets it.
        unsafe { __rt::adopt(&b, &plan) };
        // SAFETY: an empty mask: nothing is dropped, everything was moved.
        unsafe { __rt::release(&a, std::ptr::null(), 0) };
        let took = t.elapsed();
        __rt::discard_snapshot(&a);
        let back = __rt::state_ref(&b);
        // SAFETY: as above, in the other direction.
        unsafe {
            __rt::adopt(
                &a,
                &abi::Adopt {
                    src: back.ptr,
                    ..plan
                },
            )
        };
        // SAFETY: as above.
        unsafe { __rt::release(&b, std::ptr::null(), 0) };
        took
    });
    __rt::drop_state(&a);

    let (c, d) = (Slot::<ViaSerde>::new(), Slot::<ViaSerde>::new());
    fill(&c, ViaSerde { points: points() });
    // Always by name: the old code saves, the new code loads.
    let serde = time(runs, || {
        let t = Instant::now();
        let mut bytes = abi::Bytes {
            ptr: std::ptr::null(),
            len: 0,
        };
        // SAFETY: `bytes` is writable.
        unsafe { __rt::save(&c, false, std::ptr::null_mut(), 0, &mut bytes) };
        // SAFETY: `bytes` stays valid until the next call into `c`.
        unsafe { __rt::load(&d, bytes) };
        let took = t.elapsed();
        __rt::drop_state(&d);
        took
    });
    __rt::drop_state(&c);

    println!("| 100,000 `glam::Vec2` carried | swap pause work (µs) |");
    println!("|---|---:|");
    println!(
        "| `glam` feature (bytes move, rollback snapshot) | {} |",
        us(feature)
    );
    println!(
        "| `#[relive(serde)]` (save + load by name) | {} |",
        us(serde)
    );
    println!("median of {runs} runs each");
}
