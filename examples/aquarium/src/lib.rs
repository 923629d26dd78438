//! A terminal aquarium: fish swim, bubbles rise, and the tank remembers
//! every fish across reloads.
//!
//! Run it with `relive run examples/aquarium`, keep it
//! visible, and edit this file. Each save rebuilds and swaps the new code in
//! within about a second; the fish stay where they were. Look for
//! "try changing this" below. The state is everything in [`Tank`]: add a
//! field at the end of it (say `pub food: u32`) and it starts from its
//! `Default` while everything else is kept.
#![deny(clippy::undocumented_unsafe_blocks)]

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::time::Duration;

use relive::{Ctx, Flow};

/// Size of the tank in characters.
const WIDTH: usize = 64;
const HEIGHT: usize = 16;

/// Try changing this: the fish's looks (one per kind, facing right / left).
const FISH: [(&str, &str); 3] = [("><>", "<><"), ("><(('>", "<'))><"), ("}-<>", "<>-{")];

/// Try changing this: how fast fish swim, in characters per second.
const SPEED: f32 = 6.0;

/// Try changing this: the water's colour (an ANSI 256-colour code).
const WATER: u8 = 24;

/// Frames per second.
const FPS: u64 = 30;

/// One fish.
#[derive(Clone, Debug, Default, relive::State)]
pub struct Fish {
    pub x: f32,
    pub y: f32,
    pub dx: f32,
    pub kind: u8,
}

impl Fish {
    /// How many characters it takes.
    fn width(&self) -> f32 {
        FISH[self.kind as usize % FISH.len()].0.len() as f32
    }
}

/// One bubble.
#[derive(Clone, Debug, Default, relive::State)]
pub struct Bubble {
    pub x: f32,
    pub y: f32,
}

/// Everything that survives a reload.
#[derive(Debug, Default, relive::State)]
pub struct Tank {
    pub fish: Vec<Fish>,
    pub bubbles: Vec<Bubble>,
    pub seed: u64,
    pub frames: u64,
}

impl Tank {
    /// A small xorshift generator, so the tank needs no dependencies.
    fn random(&mut self) -> f32 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed % 10_000) as f32 / 10_000.0
    }

    /// The new code's tank may be smaller (or its fish wider): keep every
    /// fish inside it, as `swim` does.
    fn keep_inside(&mut self) {
        for fish in &mut self.fish {
            fish.x = fish.x.clamp(0.0, WIDTH as f32 - fish.width());
        }
    }

    fn swim(&mut self, dt: f32) {
        for i in 0..self.fish.len() {
            let turn = self.random() < 0.004;
            let fish = &mut self.fish[i];
            fish.x += fish.dx * dt;
            let width = fish.width();
            if turn || fish.x < 0.0 || fish.x + width > WIDTH as f32 {
                fish.dx = -fish.dx;
                fish.x = fish.x.clamp(0.0, WIDTH as f32 - width);
            }
        }
        // Try changing this: how often bubbles appear.
        if self.random() < 0.08 {
            let x = self.random() * WIDTH as f32;
            self.bubbles.push(Bubble {
                x,
                y: HEIGHT as f32 - 1.0,
            });
        }
        for bubble in &mut self.bubbles {
            bubble.y -= 4.0 * dt;
        }
        self.bubbles.retain(|b| b.y >= 0.0);
    }

    fn draw(&self, ctx: &Ctx) -> String {
        let mut grid = vec![vec![' '; WIDTH]; HEIGHT];
        for bubble in &self.bubbles {
            let (x, y) = (bubble.x as usize, bubble.y as usize);
            if x < WIDTH && y < HEIGHT {
                grid[y][x] = 'o';
            }
        }
        for fish in &self.fish {
            let (right, left) = FISH[fish.kind as usize % FISH.len()];
            let glyph = if fish.dx >= 0.0 { right } else { left };
            let y = (fish.y as usize).min(HEIGHT - 1);
            for (i, c) in glyph.chars().enumerate() {
                if let Some(cell) = grid[y].get_mut(fish.x as usize + i) {
                    *cell = c;
                }
            }
        }
        let mut out = String::from("\x1b[H");
        for row in &grid {
            let line: String = row.iter().collect();
            let _ = writeln!(out, "\x1b[48;5;{WATER}m\x1b[97m{line}\x1b[0m\x1b[K");
        }
        let pause = ctx
            .last_swap_pause()
            .map(|p| format!("{} µs", p.as_micros()))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "frame {:>6} · generation {} · last swap pause {pause} · {} fish\x1b[K",
            self.frames,
            ctx.generation(),
            self.fish.len()
        );
        out
    }
}

impl relive::App for Tank {
    fn init(&mut self, _ctx: &mut Ctx) {
        self.seed = 0x2545_f491_4f6c_dd1d;
        // Try changing this: how many fish there are at the start. (A change
        // here needs a restart: init runs on a fresh start only.)
        for i in 0..7 {
            let x = self.random() * (WIDTH - 8) as f32;
            let direction = if self.random() < 0.5 { -1.0 } else { 1.0 };
            let dx = direction * SPEED * (0.5 + self.random());
            self.fish.push(Fish {
                x,
                y: 1.0 + (i * 2) as f32,
                dx,
                kind: (i % 3) as u8,
            });
        }
        if std::io::stdout().is_terminal() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"\x1b[2J");
            let _ = out.flush();
        }
    }

    fn frame(&mut self, ctx: &mut Ctx) -> Flow {
        let dt = ctx.dt().as_secs_f32().min(0.1);
        self.swim(dt);
        self.frames += 1;
        let mut out = std::io::stdout().lock();
        if out.is_terminal() {
            let _ = out.write_all(self.draw(ctx).as_bytes());
        } else if self.frames.is_multiple_of(FPS) {
            // Off a terminal (piped, in a test), one line a second.
            let _ = writeln!(
                out,
                "aquarium frame {} generation {} fish {}",
                self.frames,
                ctx.generation(),
                self.fish.len()
            );
        }
        let _ = out.flush();
        std::thread::sleep(Duration::from_millis(1000 / FPS));
        Flow::Continue
    }

    fn reloaded(&mut self, _ctx: &mut Ctx) {
        self.keep_inside();
    }
}

relive::export!(Tank);

#[cfg(test)]
mod tests {
    use super::*;

    /// `reloaded` also runs at the start of each pass of `relive loop`: it
    /// must leave a tank that the same code made as it is, or the replay
    /// would differ from what ran live.
    #[test]
    fn keeping_the_fish_inside_changes_nothing_swimming_made() {
        let mut tank = Tank {
            seed: 0x2545_f491_4f6c_dd1d,
            ..Tank::default()
        };
        for i in 0..7 {
            tank.fish.push(Fish {
                x: 1.0 + i as f32 * 7.0,
                y: 1.0 + (i * 2) as f32,
                dx: if i % 2 == 0 { SPEED } else { -SPEED },
                kind: (i % 3) as u8,
            });
        }
        for frame in 0..20_000 {
            tank.swim(1.0 / FPS as f32);
            let before: Vec<f32> = tank.fish.iter().map(|f| f.x).collect();
            tank.keep_inside();
            let after: Vec<f32> = tank.fish.iter().map(|f| f.x).collect();
            assert_eq!(before, after, "frame {frame}");
        }
    }
}
