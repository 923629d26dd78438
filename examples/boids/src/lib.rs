//! Boids: a flock on [`glam`] vectors, stirred by a seeded random stream
//! ([`rand_pcg`]), living in a [`hecs`] world. Tune it while it flies.
//!
//! Run it with `cargo run -p relive-cli -- run examples/boids`. Four times a
//! second it prints the frame, the first boid's position, how many random
//! numbers were drawn and the last one. Then, while it runs:
//!
//! - **Try changing [`COHESION`], [`ALIGNMENT`] or [`SEPARATION`]**: the
//!   flock keeps flying from where it was, with the new rules.
//! - **Try changing [`MAX_SPEED`]** or the jitter in [`Flock::stir`]: the
//!   random stream carries on where it was (the `draws` and `last` values
//!   continue the same seeded sequence), so a run stays reproducible across
//!   reloads.
//! - **Try adding a field to [`Boid`]** (say `pub heading: f32,`, and
//!   `heading: 0.0` where [`Flock::init`] builds one): relive migrates the
//!   carried boids by name and the new field starts from zero.
//!
//! What is carried, and how (see "State rules" in the README):
//! - `boids: Vec<Boid>` of `glam::Vec2` (the `glam` feature of relive):
//!   plain data that moves as bytes when its layout is unchanged;
//! - `rng: Pcg64` with `#[relive(serde)]`: carried through its own serde
//!   impls at every reload, so nothing about its layout is trusted;
//! - `world: hecs::World` with `#[relive(skip)]`: never carried (it is not
//!   plain data). [`App::unloading`](relive::App::unloading) copies the
//!   boids out of it before the state leaves the old code, and
//!   [`App::reloaded`](relive::App::reloaded) spawns them into a new world.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::io::Write as _;
use std::time::Duration;

use glam::Vec2;
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;
use relive::{Ctx, Flow};

/// Frames per second.
const FPS: u64 = 20;
/// Frames between two printed lines.
const PRINT_EVERY: u64 = 5;
/// The seed of the random stream (a fresh start only).
const SEED: u64 = 7;
/// Boids in the flock.
const COUNT: usize = 24;
/// Side of the square world; it wraps around.
const SIZE: f32 = 100.0;
/// How far a boid sees.
const SIGHT: f32 = 15.0;

/// Try changing this: how strongly a boid steers to its neighbours' centre.
pub const COHESION: f32 = 0.01;
/// Try changing this: how strongly a boid matches its neighbours' velocity.
pub const ALIGNMENT: f32 = 0.05;
/// Try changing this: how strongly a boid keeps away from close neighbours.
pub const SEPARATION: f32 = 0.05;
/// Try changing this: the top speed, in units per frame.
pub const MAX_SPEED: f32 = 1.5;

/// One boid: a component of the hecs world, and the plain data carried for it.
#[derive(Clone, Copy, Debug, Default, relive::State)]
pub struct Boid {
    pub pos: Vec2,
    pub vel: Vec2,
}

/// Everything that survives a reload.
#[derive(relive::State)]
pub struct Flock {
    pub frames: u64,
    /// The boids as plain data: written by `unloading`, read by `reloaded`.
    pub boids: Vec<Boid>,
    /// The seeded random stream, carried through serde.
    #[relive(serde)]
    pub rng: Pcg64,
    pub draws: u64,
    pub last: u64,
    /// The live world: rebuilt after every reload from `boids`.
    #[relive(skip)]
    pub world: hecs::World,
}

impl Default for Flock {
    fn default() -> Self {
        Flock {
            frames: 0,
            boids: Vec::new(),
            rng: Pcg64::seed_from_u64(SEED),
            draws: 0,
            last: 0,
            world: hecs::World::new(),
        }
    }
}

/// The shortest way from `a` to `b` in the wrapping world.
fn wrapped(d: Vec2) -> Vec2 {
    (d + Vec2::splat(SIZE / 2.0)).rem_euclid(Vec2::splat(SIZE)) - Vec2::splat(SIZE / 2.0)
}

impl Flock {
    /// The next random number of the stream.
    fn draw(&mut self) -> u64 {
        self.draws += 1;
        self.last = self.rng.next_u64();
        self.last
    }

    /// A random number in `[-1, 1)`.
    fn unit(&mut self) -> f32 {
        (self.draw() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn init(&mut self) {
        for _ in 0..COUNT {
            let pos = Vec2::new(self.unit(), self.unit()) * SIZE / 2.0 + SIZE / 2.0;
            let vel = Vec2::new(self.unit(), self.unit());
            self.world.spawn((Boid { pos, vel },));
        }
    }

    /// Try changing this: one boid gets a random nudge each frame.
    fn stir(&mut self) {
        let nudge = Vec2::new(self.unit(), self.unit()) * 0.5;
        let pick = (self.last % COUNT as u64) as usize;
        if let Some((_, boid)) = self.world.query_mut::<&mut Boid>().into_iter().nth(pick) {
            boid.vel += nudge;
        }
    }

    /// One step of the classic rules: cohesion, alignment, separation.
    fn step(&mut self) {
        let all: Vec<Boid> = self
            .world
            .query_mut::<&Boid>()
            .into_iter()
            .map(|(_, b)| *b)
            .collect();
        for (_, boid) in self.world.query_mut::<&mut Boid>() {
            let (mut centre, mut heading, mut away, mut seen) =
                (Vec2::ZERO, Vec2::ZERO, Vec2::ZERO, 0.0);
            for other in &all {
                let d = wrapped(other.pos - boid.pos);
                let distance = d.length();
                if distance > 0.0 && distance < SIGHT {
                    centre += d;
                    heading += other.vel;
                    seen += 1.0;
                    if distance < SIGHT / 3.0 {
                        away -= d / distance;
                    }
                }
            }
            if seen > 0.0 {
                boid.vel += centre / seen * COHESION + (heading / seen - boid.vel) * ALIGNMENT;
            }
            boid.vel = (boid.vel + away * SEPARATION).clamp_length_max(MAX_SPEED);
            boid.pos = (boid.pos + boid.vel).rem_euclid(Vec2::splat(SIZE));
        }
    }

    fn first(&mut self) -> Vec2 {
        self.world
            .query_mut::<&Boid>()
            .into_iter()
            .next()
            .map_or(Vec2::ZERO, |(_, b)| b.pos)
    }
}

impl relive::App for Flock {
    fn init(&mut self, _ctx: &mut Ctx) {
        Flock::init(self);
    }

    fn frame(&mut self, ctx: &mut Ctx) -> Flow {
        self.frames += 1;
        self.stir();
        self.step();
        if self.frames.is_multiple_of(PRINT_EVERY) {
            let first = self.first();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "flock frame={} first={:.3},{:.3} draws={} last={} cohesion={} generation={}",
                self.frames,
                first.x,
                first.y,
                self.draws,
                self.last,
                COHESION,
                ctx.generation()
            );
            let _ = out.flush();
        }
        std::thread::sleep(Duration::from_millis(1000 / FPS));
        Flow::Continue
    }

    /// The world is not plain data: copy its boids out before the state leaves.
    fn unloading(&mut self, _ctx: &mut Ctx) {
        self.boids = self
            .world
            .query_mut::<&Boid>()
            .into_iter()
            .map(|(_, b)| *b)
            .collect();
    }

    /// A new world with the carried boids, in the same order.
    fn reloaded(&mut self, _ctx: &mut Ctx) {
        self.world = hecs::World::new();
        self.world.spawn_batch(self.boids.iter().map(|b| (*b,)));
    }
}

relive::export!(Flock);
