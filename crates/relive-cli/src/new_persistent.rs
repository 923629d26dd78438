//! `relive new --persistent PATH`: an app workspace in persistent mode. The
//! app package at PATH is a `dylib` that reloads; its `deps` member is a
//! `dylib` that re-exports the windowing crate (minifb) and stays loaded,
//! so the window the app keeps in a `#[relive(keep)]` field survives every
//! reload.

use std::path::Path;

use crate::new::{NewError, create, write_file};

/// Writes the persistent workspace into `dir`, which must be missing or
/// empty: first the plain app (which checks the folder), then its
/// persistent files over it.
pub fn create_persistent(dir: &Path, name: &str, dependency: &str) -> Result<(), NewError> {
    create(dir, name, dependency)?;
    let write = write_file;
    write(dir.join("Cargo.toml"), manifest(name, dependency))?;
    write(dir.join("src").join("lib.rs"), lib_rs(name))?;
    write(
        dir.join("deps").join("Cargo.toml"),
        DEPS_MANIFEST.to_string(),
    )?;
    write(
        dir.join("deps").join("src").join("lib.rs"),
        DEPS_LIB.to_string(),
    )?;
    Ok(())
}

fn manifest(name: &str, dependency: &str) -> String {
    let package = crate::new::package_table(name);
    format!(
        r#"{package}
# Persistent mode: the app is a `dylib` on top of `deps`, a `dylib` of this
# workspace. relive loads `deps` (and std's shared library) once and reloads
# only this library; it builds both with `-C prefer-dynamic` into
# target/relive-persistent, apart from your own builds.
[lib]
crate-type = ["dylib"]

[dependencies]
{dependency}
deps = {{ path = "deps" }}

[workspace]
members = ["deps"]
"#
    )
}

const DEPS_MANIFEST: &str = r#"[package]
name = "deps"
version = "0.1.0"
edition = "2024"
publish = false

# Loaded once and never reloaded: put the crates whose values must outlive a
# reload here (windowing, GPU, audio) and re-export them. A change here
# restarts the program (its state is carried by name).
[lib]
crate-type = ["dylib"]

[dependencies]
minifb = { version = "0.28", default-features = false, features = ["x11"] }
"#;

const DEPS_LIB: &str = r#"//! The persistent crate: its code stays loaded while the app reloads, so the
//! windows it makes stay valid.

pub use minifb;
"#;

fn lib_rs(name: &str) -> String {
    format!(
        r#"//! {name}: a window that stays open while its drawing code reloads.
//!
//! Run it with `relive run` in this folder and edit this file while it runs:
//! each save swaps the new code in, and the window (kept in a
//! `#[relive(keep)]` field, made by the persistent `deps` crate) stays.
//! Look for "try changing this".
//!
//! Pull the window's events each frame, as here: a callback handed to the
//! persistent crate would point into one generation of this library.

use std::time::Duration;

use deps::minifb::{{Key, Window, WindowOptions}};
use relive::{{Ctx, Flow}};

/// Try changing this: the colour of the window (0xRRGGBB).
const COLOUR: u32 = 0x4080c0;

const WIDTH: usize = 320;
const HEIGHT: usize = 240;

/// Everything that survives a reload.
#[derive(Default, relive::State)]
pub struct All {{
    /// Frames run so far.
    pub frames: u64,
    /// Moved across reloads as it is; after a crash it starts from `None`
    /// and the next frame opens a new window.
    #[relive(keep)]
    pub window: Option<Window>,
}}

impl relive::App for All {{
    fn frame(&mut self, _ctx: &mut Ctx) -> Flow {{
        if self.window.is_none() {{
            match Window::new("{name}", WIDTH, HEIGHT, WindowOptions::default()) {{
                Ok(window) => self.window = Some(window),
                Err(err) => {{
                    eprintln!("{name}: cannot open a window: {{err}}");
                    return Flow::Exit;
                }}
            }}
        }}
        let Some(window) = self.window.as_mut() else {{
            return Flow::Exit;
        }};
        if !window.is_open() || window.is_key_down(Key::Escape) {{
            return Flow::Exit;
        }}
        self.frames += 1;
        let pixels = vec![COLOUR; WIDTH * HEIGHT];
        if let Err(err) = window.update_with_buffer(&pixels, WIDTH, HEIGHT) {{
            eprintln!("{name}: cannot draw: {{err}}");
            return Flow::Exit;
        }}
        std::thread::sleep(Duration::from_millis(16));
        Flow::Continue
    }}
}}

relive::export!(All);
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_workspace_runs_in_persistent_mode() {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = dir.path().join("game");
        let relive = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../relive")
            .canonicalize()
            .expect("this checkout's crates/relive");
        let dependency = crate::new::dependency_line(&relive);
        create_persistent(&app, "game", &dependency).expect("created");
        let package = crate::package::locate(&app).expect("a runnable package");
        assert_eq!(package.persistent, vec!["deps".to_string()]);
        let lib = std::fs::read_to_string(app.join("src/lib.rs")).expect("lib.rs");
        assert!(lib.contains("#[relive(keep)]"), "{lib}");
    }
}
