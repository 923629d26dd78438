//! A ratatui app under relive: a notebook you type into while its drawing
//! code changes under your fingers.
//!
//! Run it with `cargo run -p relive-cli -- run examples/tui`, type a few
//! words (Enter keeps a line, Ctrl-C quits), then edit this file where it
//! says "try changing this" and save: the screen is redrawn by the new code
//! and what you typed is still there, because it lives in [`Notes`], the
//! state relive carries across the swap.
//!
//! What a terminal app has to do differently under relive:
//! - **Keys come from `ctx.input()`**, not from crossterm's event reader.
//!   relive reads the terminal itself and hands each frame the bytes typed
//!   since the previous one, so none is lost or repeated at a swap. A reader
//!   of the app's own would read ahead into a buffer of the old generation,
//!   and those keys would vanish with it; crossterm's reader would also
//!   install a SIGWINCH handler and keep descriptors in the old code.
//! - **The terminal handle is re-created by each generation** (in
//!   `reloaded`, or in the first frame after a rollback): a
//!   `ratatui::Terminal` is code and buffers of the library that made it,
//!   and relive closes that library after the swap. It lives in a static
//!   of the library, never in the state. A static is never dropped, so a
//!   worker (`ctx.spawn`) drops it when relive stops the old generation's
//!   workers before the swap, while its code is still there.
//! - **The terminal's mode is the terminal's**: raw mode and the alternate
//!   screen, set up once in `init`, stay as they are across swaps. relive
//!   runs the app in a pseudo-terminal of its own (one row shorter than the
//!   real one: the last row is relive's status line), and gives the real
//!   terminal back in the mode it found it in when it exits, whatever the
//!   app did, so a panic or a lost `disable_raw_mode` never leaves the
//!   shell in raw mode. `ratatui::init()` is not used: it installs a panic
//!   hook, which is code of the generation that installed it.
//!
//! Off a terminal (piped, in a test) it prints one plain line a second.
#![deny(clippy::undocumented_unsafe_blocks)]

mod keys;

use std::io::{IsTerminal, Stdout};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use keys::Key;
use ratatui::Terminal;
use ratatui::crossterm::{execute, terminal};
use ratatui::layout::{Constraint, Layout, Position};
use ratatui::prelude::{Backend, CrosstermBackend, Frame};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, List, ListItem, Paragraph};
use relive::{Ctx, Flow};

/// Try changing this: the title at the top of the screen.
const TITLE: &str = " relive · tui ";

/// Try changing this: the colours of the title bar and of the typing box.
const ACCENT: Color = Color::Cyan;
const TYPING: Color = Color::Yellow;

/// Frames per second.
const FPS: u64 = 30;

/// Everything that survives a reload: what was typed.
#[derive(Debug, Default, relive::State)]
pub struct Notes {
    /// The line being typed.
    pub line: String,
    /// The lines kept with Enter, oldest first.
    pub lines: Vec<String>,
    /// The start of a key whose other bytes have not arrived yet.
    pub pending: Vec<u8>,
    pub frames: u64,
}

/// This generation's handle on the terminal (see the crate docs).
type Screen = Terminal<CrosstermBackend<Stdout>>;
static SCREEN: Mutex<Option<Screen>> = Mutex::new(None);

/// A handle of this generation's code on the terminal, drawn in full at
/// the first frame.
fn open() -> std::io::Result<Screen> {
    let mut screen = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    screen.clear()?;
    Ok(screen)
}

impl Notes {
    /// Takes the frame's keys; true at Ctrl-C.
    fn type_keys(&mut self, input: &[u8]) -> bool {
        for key in keys::decode(&mut self.pending, input) {
            match key {
                Key::Char(c) => self.line.push(c),
                Key::Backspace => {
                    self.line.pop();
                }
                Key::Enter => self.lines.push(std::mem::take(&mut self.line)),
                Key::Quit => return true,
            }
        }
        false
    }

    fn draw(&self, frame: &mut Frame, generation: u64) {
        let area = frame.area();
        let [title, typing, kept, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(3),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(area);

        // Try changing this: the title bar's style.
        let bar = Style::new()
            .fg(Color::Black)
            .bg(ACCENT)
            .add_modifier(Modifier::BOLD);
        frame.render_widget(Paragraph::new(TITLE).style(bar).centered(), title);

        let typed = Paragraph::new(self.line.as_str())
            .fg(TYPING)
            .block(Block::bordered().title(" Type here, Enter keeps the line "));
        frame.render_widget(typed, typing);
        let width = self.line.chars().count() as u16;
        frame.set_cursor_position(Position::new(
            (typing.x + 1 + width).min(typing.right().saturating_sub(2)),
            typing.y + 1,
        ));

        // The newest lines that fit, newest at the bottom.
        let room = usize::from(kept.height.saturating_sub(2));
        let skip = self.lines.len().saturating_sub(room);
        let items: Vec<ListItem> = self.lines[skip..]
            .iter()
            .enumerate()
            // Try changing this: how a kept line is shown.
            .map(|(i, line)| ListItem::new(format!("{:>3}. {line}", skip + i + 1)))
            .collect();
        let count = self.lines.len();
        frame.render_widget(
            List::new(items).block(Block::bordered().title(format!(" Kept lines: {count} "))),
            kept,
        );

        let help = format!(
            " generation {generation} · frame {} · {}×{} · Ctrl-C quits",
            self.frames, area.width, area.height
        );
        frame.render_widget(Line::from(help).dim(), footer);
    }

    /// Draws with this generation's handle, opening one if it has none (the
    /// first frame, or the first after a rollback).
    fn show(&self, generation: u64) -> std::io::Result<()> {
        let mut slot = SCREEN.lock().unwrap_or_else(PoisonError::into_inner);
        let screen = match slot.take() {
            Some(screen) => slot.insert(screen),
            None => slot.insert(open()?),
        };
        // The handle follows a resize by itself (`autoresize`).
        screen.draw(|frame| self.draw(frame, generation))?;
        Ok(())
    }
}

/// Puts the terminal in raw mode (every key reaches `ctx.input()` as typed,
/// nothing is echoed) and on the alternate screen.
fn enter() -> std::io::Result<()> {
    terminal::enable_raw_mode()?;
    execute!(std::io::stdout(), terminal::EnterAlternateScreen)
}

/// Back to the main screen. `disable_raw_mode` restores the mode that
/// `enable_raw_mode` saved in a static of the generation that called it,
/// so after a reload it does nothing: relive gives the real terminal its
/// mode back anyway.
fn leave() {
    if let Some(mut screen) = SCREEN.lock().unwrap_or_else(PoisonError::into_inner).take() {
        let _ = screen.show_cursor();
        let _ = Backend::flush(screen.backend_mut());
    }
    let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen);
    let _ = terminal::disable_raw_mode();
}

impl relive::App for Notes {
    fn init(&mut self, _ctx: &mut Ctx) {
        if std::io::stdout().is_terminal()
            && let Err(e) = enter()
        {
            eprintln!("tui: cannot set up the terminal: {e}");
        }
    }

    fn frame(&mut self, ctx: &mut Ctx) -> Flow {
        self.frames += 1;
        // Started once per generation; it frees this generation's handle.
        ctx.spawn("screen", |worker| {
            while worker.sleep(Duration::from_secs(60)) {}
            SCREEN.lock().unwrap_or_else(PoisonError::into_inner).take();
        });
        let quit = self.type_keys(ctx.input());
        if quit {
            if std::io::stdout().is_terminal() {
                leave();
            }
            println!("tui: {} lines kept, bye", self.lines.len());
            return Flow::Exit;
        }
        if std::io::stdout().is_terminal() {
            if let Err(e) = self.show(ctx.generation()) {
                eprintln!("tui: cannot draw: {e}");
            }
        } else if self.frames.is_multiple_of(FPS) {
            println!(
                "tui frame {} generation {} lines {} typing {:?}",
                self.frames,
                ctx.generation(),
                self.lines.len(),
                self.line
            );
        }
        std::thread::sleep(Duration::from_millis(1000 / FPS));
        Flow::Continue
    }

    fn reloaded(&mut self, _ctx: &mut Ctx) {
        // The new code's own handle; the old one went with the old code.
        if std::io::stdout().is_terminal() {
            let fresh = open().map_err(|e| eprintln!("tui: cannot open the terminal: {e}"));
            *SCREEN.lock().unwrap_or_else(PoisonError::into_inner) = fresh.ok();
        }
    }
}

relive::export!(Notes);
