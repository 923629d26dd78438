//! A call through a `relive::imports!` table (a function pointer resolved
//! once with `dlsym`) against the same C function called as a normal
//! `extern "C"` import, in one run.
//!
//! `cargo bench -p relive --bench imports`. Prints a Markdown table row.

use std::hint::black_box;
use std::time::Instant;

relive::imports! {
    /// The C maths library.
    struct Libm from "libm.so.6" {
        fn cbrt(x: f64) -> f64;
    }
}

unsafe extern "C" {
    fn cbrt(x: f64) -> f64;
}

const CALLS: u32 = 20_000_000;

fn per_call(mut f: impl FnMut(f64) -> f64) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let mut acc = 0.0;
        for i in 0..CALLS {
            acc += f(black_box(f64::from(i)));
        }
        black_box(acc);
        samples.push(t.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS));
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let Ok(table) = Libm::load() else {
        eprintln!("libm.so.6 is not there: nothing to measure");
        return;
    };
    // SAFETY: cbrt has exactly this C signature in both declarations.
    let direct = per_call(|x| unsafe { cbrt(x) });
    // SAFETY: as above.
    let through_table = per_call(|x| unsafe { (black_box(table.cbrt))(x) });
    println!("| call | ns per call (median of 7 × {CALLS}) |");
    println!("|---|---:|");
    println!("| `cbrt` as a normal `extern \"C\"` import | {direct:.2} |");
    println!("| `cbrt` through a `relive::imports!` table | {through_table:.2} |");
    println!("| difference | {:+.2} |", through_table - direct);
}
