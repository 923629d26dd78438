//! Moving a state of many small structs to new code: the byte-move path
//! (identical layout: no per-element work), the rollback snapshot taken in
//! the same pause, and migration by field name (an element type gained a
//! field), against a plain serde round-trip of the same data, in one run.
//!
//! `cargo bench -p relive --bench migration` (add `-- --quick` for a short
//! run). Prints a Markdown table for BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use relive::__rt::{self, Slot, abi};

#[derive(Debug, Default, Clone, relive::State, serde::Serialize, serde::Deserialize)]
pub struct Small {
    pub x: f32,
    pub y: f32,
    pub tag: u32,
}

#[derive(Debug, Default, relive::State)]
pub struct All {
    pub frames: u64,
    pub items: Vec<Small>,
}

impl relive::App for All {
    fn frame(&mut self, _ctx: &mut relive::Ctx) -> relive::Flow {
        relive::Flow::Continue
    }
}

/// The next version: a field inserted in the middle of the element type.
mod next {
    #[derive(Debug, Default, relive::State)]
    pub struct Small {
        pub x: f32,
        pub mass: f32,
        pub y: f32,
        pub tag: u32,
    }

    #[derive(Debug, Default, relive::State)]
    pub struct All {
        pub frames: u64,
        pub items: Vec<Small>,
    }

    impl relive::App for All {
        fn frame(&mut self, _ctx: &mut relive::Ctx) -> relive::Flow {
            relive::Flow::Continue
        }
    }
}

/// The same data as plain serde types, for the reference round-trip.
#[derive(serde::Serialize, serde::Deserialize)]
struct PlainAll {
    frames: u64,
    items: Vec<Small>,
}

fn fill(slot: &Slot<All>, n: usize) {
    let items = (0..n)
        .map(|i| Small {
            x: i as f32,
            y: 0.5,
            tag: i as u32,
        })
        .collect();
    let adopt_value = All { frames: 1, items };
    // Hand the value in through the byte-move path itself.
    let adopt = abi::Adopt {
        src: (&adopt_value as *const All).cast(),
        src_size: size_of::<All>(),
        identical: 1,
        sources: std::ptr::null(),
        sources_len: 0,
    };
    // SAFETY: `adopt_value` is a live All given up here (forgotten below).
    unsafe { __rt::adopt(slot, &adopt) };
    std::mem::forget(adopt_value);
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    median((0..runs).map(|_| f()).collect())
}

struct Row {
    n: usize,
    byte_move: Duration,
    snapshot: Duration,
    by_name: Duration,
    serde: Duration,
}

fn measure(n: usize, runs: usize) -> Row {
    let a: Slot<All> = Slot::new();
    let b: Slot<All> = Slot::new();
    fill(&a, n);

    // Byte move: the new generation adopts the old state's bytes, the old
    // one forgets them. Back and forth between two slots.
    let byte_move = time(runs, || {
        let state = __rt::state_ref(&a);
        let plan = abi::Adopt {
            src: state.ptr,
            src_size: state.size,
            identical: 1,
            sources: std::ptr::null(),
            sources_len: 0,
        };
        let t = Instant::now();
        // SAFETY: `a` holds a live All; `release` below forgets it.
        unsafe { __rt::adopt(&b, &plan) };
        // SAFETY: an empty mask: nothing is dropped, everything was moved.
        unsafe { __rt::release(&a, std::ptr::null(), 0) };
        let took = t.elapsed();
        let back = __rt::state_ref(&b);
        let plan = abi::Adopt {
            src: back.ptr,
            ..plan
        };
        // SAFETY: as above, in the other direction.
        unsafe { __rt::adopt(&a, &plan) };
        // SAFETY: as above.
        unsafe { __rt::release(&b, std::ptr::null(), 0) };
        took
    });

    let snapshot = time(runs, || {
        let t = Instant::now();
        __rt::snapshot(&a);
        let took = t.elapsed();
        __rt::discard_snapshot(&a);
        took
    });

    // By name: the old code saves, the new code (another element type) loads.
    let c: Slot<next::All> = Slot::new();
    let by_name = time(runs, || {
        let t = Instant::now();
        let mut bytes = abi::Bytes {
            ptr: std::ptr::null(),
            len: 0,
        };
        // SAFETY: `bytes` is writable.
        unsafe { __rt::save(&a, false, std::ptr::null_mut(), 0, &mut bytes) };
        // SAFETY: `bytes` stays valid until the next call into `a`.
        unsafe { __rt::load(&c, bytes) };
        let took = t.elapsed();
        __rt::drop_state(&c);
        took
    });

    let plain = PlainAll {
        frames: 1,
        items: (0..n)
            .map(|i| Small {
                x: i as f32,
                y: 0.5,
                tag: i as u32,
            })
            .collect(),
    };
    let serde = time(runs, || {
        let t = Instant::now();
        let bytes = rmp_serde::to_vec_named(&plain).unwrap_or_default();
        let back: Option<PlainAll> = rmp_serde::from_slice(&bytes).ok();
        let took = t.elapsed();
        black_box(back);
        took
    });
    __rt::drop_state(&a);
    Row {
        n,
        byte_move,
        snapshot,
        by_name,
        serde,
    }
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 5 } else { 21 };
    println!(
        "| elements | byte move (µs) | rollback snapshot (µs) | by-name migration (µs) | plain serde round-trip (µs) | by-name / serde |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in [1_000, 1_000_000] {
        let r = measure(n, runs);
        println!(
            "| {} | {} | {} | {} | {} | {:.2} |",
            r.n,
            us(r.byte_move),
            us(r.snapshot),
            us(r.by_name),
            us(r.serde),
            r.by_name.as_secs_f64() / r.serde.as_secs_f64()
        );
    }
    println!("\nmedian of {runs} runs each");
}
