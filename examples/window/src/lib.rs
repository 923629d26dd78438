//! A window whose drawing code you edit while it stays open: a ball bounces
//! over a field under the sun, drawn pixel by pixel into a framebuffer.
//!
//! Run it with `relive run examples/window` in a desktop
//! session (X11, or Wayland with XWayland; without one: `Xvfb :1 &` and
//! `DISPLAY=:1`). Then edit this file: change a colour, the ball's size or
//! the gravity ("try changing this" below) and save. The new code draws into
//! the same window, at the same place, and the ball goes on from where it
//! was. The title shows the generation of the code that is drawing.
//!
//! # How the window survives a reload
//!
//! Each generation of this code is a different shared library with its own
//! statics; its frames run on a thread of its own that ends at the swap, and
//! its library is closed once the next generation runs. So nothing the old
//! code owns may be needed after the swap:
//!
//! - A window object made by a Rust windowing crate (`minifb`, `winit`)
//!   carries trait objects and callbacks whose code is in the library that
//!   made it. Handing it to the next generation leaves it pointing into a
//!   closed library, and it is not `relive::State` anyway.
//! - A long-lived thread started by the first generation to own the window
//!   would run the first generation's code for ever: relive could never
//!   close that library, and the drawing code in it could never change.
//! - Re-creating the window in every generation is sound but visible: the
//!   window closes and opens again, flickers, may move and loses focus.
//!
//! This example talks to the X server through Xlib instead. The window
//! belongs to the X server, the connection to it (`Display`) to libX11; both
//! outlive any generation because neither is code of one. The state keeps
//! only their handles, as integers ([`WindowHandle`]); each generation loads
//! libX11 (it is never unloaded) and draws through the same handles. Xlib is
//! never given a pointer into this library, relive runs one generation's
//! code at a time, and the handle has no `Drop` (relive keeps a copy of the
//! state for a rollback, and dropping the copy must not close the window).
//! The handle also records the process that opened it: after a crash relive
//! brings the state back in a new process, where the window is opened
//! again. `src/xwin.rs` holds the details. The price: only the pixels are
//! yours to draw, and the window needs an X server (XWayland counts).
#![deny(clippy::undocumented_unsafe_blocks)]

mod xwin;

use std::io::Write as _;
use std::time::Duration;

use relive::{Ctx, Flow};

pub use xwin::WindowHandle;

/// Try changing this: the window's size. The same window resizes.
const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

/// Try changing this: the sky's colour (0xRRGGBB).
const SKY: u32 = 0x4080c0;

/// Try changing this: the field's two colours.
const GRASS: u32 = 0x3c7a2a;
const GRASS_STRIPE: u32 = 0x346b24;

/// Try changing this: the sun's colour and size.
const SUN: u32 = 0xffd040;
const SUN_RADIUS: f32 = 22.0;

/// Try changing this: the ball's colour and size.
const BALL: u32 = 0xe04030;
const BALL_RADIUS: f32 = 14.0;

/// Try changing this: gravity in pixels per second², and the height of the
/// ball's highest point above the top of the window.
const GRAVITY: f32 = 500.0;
const TOP: f32 = 90.0;

/// Frames per second.
const FPS: u64 = 30;

/// Everything that survives a reload: the window's handles and the ball.
#[derive(Debug, Default, relive::State)]
pub struct Scene {
    pub window: WindowHandle,
    pub x: f32,
    pub y: f32,
    pub vx: f32,
    pub vy: f32,
    pub frames: u64,
}

impl Scene {
    /// Where the grass starts.
    fn horizon(&self) -> f32 {
        HEIGHT as f32 * 0.75
    }

    fn step(&mut self, dt: f32) {
        self.vy += GRAVITY * dt;
        self.x += self.vx * dt;
        self.y += self.vy * dt;
        let floor = self.horizon() - BALL_RADIUS;
        if self.y >= floor {
            // Bounce back to the same height, whatever the frame rate did.
            self.y = floor;
            self.vy = -(2.0 * GRAVITY * (floor - TOP).max(0.0)).sqrt();
        }
        if self.x < BALL_RADIUS || self.x > WIDTH as f32 - BALL_RADIUS {
            self.vx = -self.vx;
            self.x = self.x.clamp(BALL_RADIUS, WIDTH as f32 - BALL_RADIUS);
        }
    }

    fn draw(&self, pixels: &mut [u32]) {
        let horizon = self.horizon() as u32;
        let sun = (WIDTH as f32 - 50.0, 45.0);
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = |(cx, cy): (f32, f32), r: f32| {
                    (fx - cx) * (fx - cx) + (fy - cy) * (fy - cy) < r * r
                };
                let colour = if inside((self.x, self.y), BALL_RADIUS) {
                    BALL
                } else if y >= horizon {
                    if (x / 16 + (y - horizon) / 8).is_multiple_of(2) {
                        GRASS
                    } else {
                        GRASS_STRIPE
                    }
                } else if inside(sun, SUN_RADIUS) {
                    SUN
                } else {
                    SKY
                };
                pixels[(y * WIDTH + x) as usize] = colour;
            }
        }
    }

    fn title(ctx: &Ctx) -> String {
        format!("relive window · generation {}", ctx.generation())
    }
}

impl relive::App for Scene {
    fn init(&mut self, _ctx: &mut Ctx) {
        self.x = 60.0;
        self.y = TOP;
        self.vx = 90.0;
    }

    fn frame(&mut self, ctx: &mut Ctx) -> Flow {
        if !self.window.is_open() {
            match WindowHandle::open(&Scene::title(ctx), WIDTH, HEIGHT) {
                Ok(window) => {
                    self.window = window;
                    println!("opened window 0x{:x}", window.window);
                }
                Err(err) => {
                    // Without a window there is nothing to show: end with
                    // a failure, not as if the user had closed it.
                    eprintln!("window example: {err}");
                    std::process::exit(1);
                }
            }
        }
        if (self.window.width, self.window.height) != (WIDTH, HEIGHT)
            && let Err(err) = self.window.resize(WIDTH, HEIGHT)
        {
            eprintln!("window example: cannot resize the window: {err}");
        }
        self.step(ctx.dt().as_secs_f32().min(0.1));
        let mut pixels = vec![0; (WIDTH * HEIGHT) as usize];
        self.draw(&mut pixels);
        if let Err(err) = self.window.present(&mut pixels, WIDTH, HEIGHT) {
            eprintln!("window example: cannot draw: {err}");
            return Flow::Exit;
        }
        match self.window.closed() {
            Ok(false) => {}
            Ok(true) => return Flow::Exit,
            Err(err) => {
                eprintln!("window example: cannot read window events: {err}");
                return Flow::Exit;
            }
        }
        self.frames += 1;
        if self.frames.is_multiple_of(FPS) {
            // One plain line a second (tests read these): this frame is on
            // the screen already.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "window 0x{:x} generation {} frame {} sky 0x{SKY:06x}",
                self.window.window,
                ctx.generation(),
                self.frames
            );
            let _ = out.flush();
        }
        std::thread::sleep(Duration::from_millis(1000 / FPS));
        Flow::Continue
    }

    fn reloaded(&mut self, ctx: &mut Ctx) {
        // The new generation's first Xlib call looks up all of Xlib's
        // functions (x11-dl resolves several hundred symbols): about half a
        // millisecond, which shows in the swap pause.
        if self.window.is_open() {
            if let Err(err) = self.window.set_title(&Scene::title(ctx)) {
                eprintln!("window example: cannot set the title: {err}");
            }
            println!(
                "generation {} draws in window 0x{:x}",
                ctx.generation(),
                self.window.window
            );
        }
    }
}

relive::export!(Scene);
