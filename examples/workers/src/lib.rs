//! Heat spreading over a metal plate, computed in parallel by worker threads
//! that relive stops before every swap and starts again on the new code.
//!
//! Run it with `relive run examples/workers` and edit
//! this file: the number of workers, how fast heat spreads, where the
//! heaters are, the colours ("try changing this" below). Each worker says
//! when it starts and when it stops, with the generation of the code it
//! runs: after a save, the old generation's workers stop (relive asks them
//! and joins them before the swap), the plate's temperatures move to the new
//! code, and the new generation's workers start.
//!
//! # The pattern
//!
//! - The state ([`Plate`]) holds plain data only: temperatures and counters.
//!   That is what survives a reload.
//! - Threads and the channels to them are not state: a thread runs the code
//!   of the generation that started it, and that code goes away at the swap.
//!   They live in statics of this library (`POOL`); each generation is a
//!   library of its own with its own statics, so each builds its own pool.
//! - `frame` calls [`relive::Ctx::spawn`] for every worker. It does nothing
//!   for a worker that is running, so after a swap (or after relive stopped
//!   them for one that was then rolled back) it is what starts them again.
//! - Workers check [`relive::Worker::should_stop`] every 2 ms while they
//!   wait for work: the swap pause includes the time they take to notice.
//! - A frame never waits for ever on a worker: when a band's result is late
//!   (its worker is stopping, or panicked), the frame computes it itself.
//! - Statics are never dropped, so the workers empty `POOL` when they stop:
//!   an unloaded generation leaves no channels behind.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::ops::Range;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use relive::{Ctx, Flow, Worker};

/// Size of the plate in cells.
const WIDTH: usize = 60;
const HEIGHT: usize = 18;

/// Try changing this: how many worker threads share the plate (each one
/// computes a band of rows).
const WORKERS: usize = 4;

/// Try changing this: how fast heat spreads (stable up to 0.25).
const RATE: f32 = 0.2;

/// Try changing this: the share of heat each cell loses per step.
const COOLING: f32 = 0.001;

/// Try changing this: the heaters, as (column, row, temperature).
const HEATERS: [(usize, usize, f32); 2] = [(12, 6, 100.0), (45, 12, 80.0)];

/// Try changing this: simulation steps per frame.
const STEPS_PER_FRAME: usize = 4;

/// Try changing this: the colours from cold to hot (ANSI 256-colour codes).
const PALETTE: [u8; 8] = [17, 18, 54, 90, 126, 160, 202, 226];

/// Frames per second.
const FPS: u64 = 20;

/// How long a frame waits for the workers' bands before computing the
/// missing ones itself.
const BAND_WAIT: Duration = Duration::from_millis(50);

/// Everything that survives a reload: plain data, no threads or channels.
#[derive(Debug, Default, relive::State)]
pub struct Plate {
    /// Temperature of each cell, row by row.
    pub temperature: Vec<f32>,
    /// Simulation steps so far.
    pub steps: u64,
    /// Frames so far.
    pub frames: u64,
    /// Workers' last messages, shown under the plate on a terminal.
    pub log: Vec<String>,
}

/// Work for one worker: compute `rows` of the next step from `plate`.
struct Job {
    step: u64,
    rows: Range<usize>,
    plate: Arc<Vec<f32>>,
}

/// A worker's answer.
struct Done {
    step: u64,
    rows: Range<usize>,
    next: Vec<f32>,
}

/// This generation's channels to its workers.
struct Pool {
    /// One job channel per worker (by index), set when the worker starts.
    lanes: Vec<Option<Sender<Job>>>,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
}

/// The pool of the generation this copy of the code belongs to.
static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Worker messages waiting for the next frame to show them (on a terminal).
static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn on_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// A worker's message: a plain line off a terminal, the plate's log on one.
fn say(message: String) {
    if on_terminal() {
        lock(&MESSAGES).push(message);
    } else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{message}");
        let _ = out.flush();
    }
}

/// The body of worker thread `band-N`: computes the jobs it is sent until
/// relive asks it to stop.
fn work(worker: &Worker, generation: u64, jobs: Receiver<Job>, done: Sender<Done>) {
    say(format!(
        "worker {} started (generation {generation})",
        worker.name()
    ));
    while !worker.should_stop() {
        match jobs.recv_timeout(Duration::from_millis(2)) {
            Ok(job) => {
                let next = diffuse(&job.plate, job.rows.clone());
                let _ = done.send(Done {
                    step: job.step,
                    rows: job.rows,
                    next,
                });
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // A static is never dropped, and this generation's code may be unloaded
    // once its workers stopped: free the channels now. The next frame of
    // this generation (after a rollback) makes new ones.
    drop(lock(&POOL).take());
    say(format!(
        "worker {} stopped (generation {generation})",
        worker.name()
    ));
}

/// Rows `rows` of the plate one step later.
fn diffuse(plate: &[f32], rows: Range<usize>) -> Vec<f32> {
    // Try changing this: the edges are a cold frame at temperature 0.
    let at = |x: isize, y: isize| -> f32 {
        if x < 0 || y < 0 || x >= WIDTH as isize || y >= HEIGHT as isize {
            0.0
        } else {
            plate[y as usize * WIDTH + x as usize]
        }
    };
    let mut next = Vec::with_capacity(rows.len() * WIDTH);
    for y in rows {
        for x in 0..WIDTH {
            let (x, y) = (x as isize, y as isize);
            let t = at(x, y);
            let spread = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * t;
            next.push((t + RATE * spread) * (1.0 - COOLING));
        }
    }
    next
}

/// The rows each worker computes.
fn bands() -> Vec<Range<usize>> {
    let workers = WORKERS.clamp(1, HEIGHT);
    (0..workers)
        .map(|i| i * HEIGHT / workers..(i + 1) * HEIGHT / workers)
        .collect()
}

impl Plate {
    /// Starts every worker that is not running in this generation.
    fn start_workers(&self, ctx: &mut Ctx) {
        let mut pool = lock(&POOL);
        let pool = pool.get_or_insert_with(|| {
            let (done_tx, done_rx) = mpsc::channel();
            Pool {
                lanes: Vec::new(),
                done_tx,
                done_rx,
            }
        });
        let generation = ctx.generation();
        pool.lanes.resize_with(bands().len(), || None);
        for (i, lane) in pool.lanes.iter_mut().enumerate() {
            let (tx, rx) = mpsc::channel();
            let done = pool.done_tx.clone();
            let body = move |worker: &Worker| work(worker, generation, rx, done);
            if ctx.spawn(&format!("band-{i}"), body) {
                *lane = Some(tx);
            }
        }
    }

    /// One simulation step, its bands computed by the workers.
    fn step(&mut self) {
        let plate = Arc::new(self.temperature.clone());
        let mut next = vec![0.0; WIDTH * HEIGHT];
        let mut waiting = Vec::new();
        let mut missing = Vec::new();
        let pool = lock(&POOL);
        for (i, rows) in bands().into_iter().enumerate() {
            let lane = pool
                .as_ref()
                .and_then(|p| p.lanes.get(i))
                .and_then(Option::as_ref);
            let job = Job {
                step: self.steps,
                rows: rows.clone(),
                plate: plate.clone(),
            };
            match lane.map(|tx| tx.send(job)) {
                Some(Ok(())) => waiting.push(rows),
                _ => missing.push(rows),
            }
        }
        let deadline = Instant::now() + BAND_WAIT;
        while let Some(pool) = pool.as_ref()
            && !waiting.is_empty()
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(done) = pool.done_rx.recv_timeout(left) else {
                break;
            };
            // A late answer to an earlier step is dropped.
            if done.step != self.steps {
                continue;
            }
            if let Some(i) = waiting.iter().position(|r| *r == done.rows) {
                waiting.swap_remove(i);
                next[done.rows.start * WIDTH..done.rows.end * WIDTH].copy_from_slice(&done.next);
            }
        }
        drop(pool);
        for rows in waiting.into_iter().chain(missing) {
            let part = diffuse(&plate, rows.clone());
            next[rows.start * WIDTH..rows.end * WIDTH].copy_from_slice(&part);
        }
        for (x, y, heat) in HEATERS {
            if x < WIDTH && y < HEIGHT {
                next[y * WIDTH + x] = heat;
            }
        }
        self.temperature = next;
        self.steps += 1;
    }

    fn hottest(&self) -> f32 {
        self.temperature.iter().copied().fold(0.0, f32::max)
    }

    fn mean(&self) -> f32 {
        self.temperature.iter().sum::<f32>() / self.temperature.len().max(1) as f32
    }

    fn draw(&self, ctx: &Ctx) -> String {
        let mut out = String::from("\x1b[H");
        let hottest = HEATERS.iter().map(|h| h.2).fold(1.0, f32::max);
        for row in self.temperature.chunks(WIDTH) {
            for &t in row {
                let level = ((t / hottest).clamp(0.0, 1.0) * (PALETTE.len() - 1) as f32).round();
                let _ = write!(out, "\x1b[48;5;{}m  ", PALETTE[level as usize]);
            }
            out.push_str("\x1b[0m\x1b[K\n");
        }
        let _ = writeln!(
            out,
            "step {} · generation {} · {} workers · hottest {:.1} · mean {:.2}\x1b[K",
            self.steps,
            ctx.generation(),
            bands().len(),
            self.hottest(),
            self.mean()
        );
        for line in &self.log {
            let _ = writeln!(out, "{line}\x1b[K");
        }
        out
    }
}

impl relive::App for Plate {
    fn init(&mut self, _ctx: &mut Ctx) {
        if on_terminal() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"\x1b[2J");
            let _ = out.flush();
        }
    }

    fn frame(&mut self, ctx: &mut Ctx) -> Flow {
        if self.temperature.len() != WIDTH * HEIGHT {
            // A fresh start, or the new code has another plate size.
            self.temperature = vec![0.0; WIDTH * HEIGHT];
        }
        self.start_workers(ctx);
        for _ in 0..STEPS_PER_FRAME {
            self.step();
        }
        self.frames += 1;
        let mut out = std::io::stdout().lock();
        if on_terminal() {
            self.log.append(&mut lock(&MESSAGES));
            let keep = self.log.len().saturating_sub(8);
            self.log.drain(..keep);
            let _ = out.write_all(self.draw(ctx).as_bytes());
        } else if self.frames.is_multiple_of(FPS) {
            // Off a terminal (piped, in a test), one line a second.
            let _ = writeln!(
                out,
                "heat step {} generation {} workers {} hottest {:.1} mean {:.2}",
                self.steps,
                ctx.generation(),
                bands().len(),
                self.hottest(),
                self.mean()
            );
        }
        let _ = out.flush();
        std::thread::sleep(Duration::from_millis(1000 / FPS));
        Flow::Continue
    }

    fn reloaded(&mut self, ctx: &mut Ctx) {
        if on_terminal() {
            // The old workers' "stopped" lines went to the old generation's
            // log, which ended with it.
            self.log.push(format!(
                "generation {}: the previous workers were stopped and joined before the swap",
                ctx.generation()
            ));
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"\x1b[2J");
            let _ = out.flush();
        }
    }
}

relive::export!(Plate);
