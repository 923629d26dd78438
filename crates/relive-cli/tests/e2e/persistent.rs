//! Persistent mode under a private X server: the `persistent` fixture is a
//! workspace whose app `dylib` keeps a `minifb::Window` (from its `deps`
//! `dylib`, which re-exports minifb) in a `#[relive(keep)]` field. Three
//! edits change the colour it draws; the window (its X id) stays, every
//! older generation of the app library is unmapped, and the frame counter
//! in the state goes on.

use crate::harness::*;
use crate::window::{Xvfb, number_after, screenshot, tools_or_skip, window_line};

/// The app library copies (`lib<name>.gen<N>.so`) mapped in process `pid`.
fn mapped_generations(pid: u32, lib_name: &str) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_else(|e| panic!("cannot read the runner's mappings: {e}"));
    let prefix = format!("lib{lib_name}.gen");
    let mut files: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter_map(|p| std::path::Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// A copy of the `persistent` fixture whose `deps` crate is renamed for
/// this copy: persistent builds share one target folder, where a `dylib`'s
/// file name is its crate name alone.
fn copy_persistent(test: &str) -> App {
    let app = App::copy("persistent", test);
    let deps = format!("deps_{}", app.name);
    let manifest = app.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read the manifest");
    let text = text.replace(
        "deps = { path = \"deps\" }",
        &format!("deps = {{ path = \"deps\", package = \"{deps}\" }}"),
    );
    std::fs::write(&manifest, text).expect("write the manifest");
    let manifest = app.path().join("deps").join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read the deps manifest");
    std::fs::write(
        &manifest,
        text.replace("name = \"deps\"", &format!("name = \"{deps}\"")),
    )
    .expect("write the deps manifest");
    app
}

#[test]
fn a_kept_window_stays_while_three_edits_change_its_colour() {
    let Some(tools) = tools_or_skip() else {
        return;
    };
    let xvfb = Xvfb::start(&tools);
    let app = copy_persistent("persistent");
    let relive = app.run_with_env(&[], &[("DISPLAY", &xvfb.display)]);
    let persistent = relive.wait_event("persistent", BUILD_DEADLINE);
    assert_eq!(
        persistent["libraries"][0],
        format!("libdeps_{}.so", app.name),
        "{persistent}"
    );
    relive.wait_event("loaded", BUILD_DEADLINE);
    let first = relive.wait_line("a frame of generation 1", SHORT_DEADLINE, |l| {
        l.starts_with("window ") && l.contains(" generation 1 ")
    });
    let id = window_line(&relive, "generation 1 on the screen", |l| {
        l.contains(" generation 1 ")
    });
    screenshot(&tools, &xvfb.display, &id).expect(8, 8, 0x4080c0, "the colour of generation 1");
    let runner = relive.runner_pid();
    let lib = app.name.clone();

    let mut colour = "0x4080c0".to_string();
    let mut frame = number_after(&first, "frame");
    for (n, next) in ["0xd05020", "0x20a040", "0xe0e0e0"].into_iter().enumerate() {
        let mark = relive.mark();
        app.edit(
            &format!("const COLOUR: u32 = {colour};"),
            &format!("const COLOUR: u32 = {next};"),
        );
        let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
        let generation = reloaded["generation"].as_u64().expect("generation");
        assert!(generation >= n as u64 + 2, "{reloaded}");
        let line = relive.wait_line("a frame of the new code", SHORT_DEADLINE, |l| {
            l.starts_with("window ") && l.ends_with(&format!(" colour {next}"))
        });
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(id.as_str()),
            "the new code draws in the same window: {line}"
        );
        let now = number_after(&line, "frame");
        assert!(
            now > frame,
            "the frame counter goes on: {frame} then {line}"
        );
        frame = now;
        let rgb = u32::from_str_radix(&next[2..], 16).expect("hex colour");
        screenshot(&tools, &xvfb.display, &id).expect(
            8,
            8,
            rgb,
            &format!("the colour after edit {}", n + 1),
        );
        let running = number_after(&line, "generation");
        assert_eq!(
            mapped_generations(runner, &lib),
            vec![format!("lib{lib}.gen{running}.so")],
            "only the running generation of the app library is mapped"
        );
        colour = next.to_string();
    }
    assert_eq!(
        relive.runner_pid(),
        runner,
        "the runner process never restarted"
    );
    let opened: Vec<String> = relive
        .output()
        .into_iter()
        .filter(|l| l.starts_with("opened window"))
        .collect();
    assert_eq!(opened, vec![format!("opened window {id}")], "opened once");
}

#[test]
fn a_panic_on_a_thread_of_the_app_after_a_reload_is_printed_and_the_program_goes_on() {
    let Some(tools) = tools_or_skip() else {
        return;
    };
    let xvfb = Xvfb::start(&tools);
    let app = copy_persistent("persistent_panic");
    let relive = app.run_with_env(&[], &[("DISPLAY", &xvfb.display)]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    window_line(&relive, "generation 1 on the screen", |l| {
        l.contains(" generation 1 ")
    });

    // std is one shared library for every generation, and so is its panic
    // hook: the new code's hook must not call the old code's.
    let mark = relive.mark();
    app.edit(
        "        self.frames += 1;\n",
        "        self.frames += 1;\n        if self.frames % 50 == 0 {\n            \
         let _ = std::thread::spawn(|| panic!(\"on a thread of the app\")).join();\n        }\n",
    );
    let reloaded = relive.wait_event_after("reloaded", mark, BUILD_DEADLINE);
    let generation = reloaded["generation"].as_u64().expect("generation");
    relive.wait_for("the panic, printed", SHORT_DEADLINE, |r| {
        r.stderr()
            .iter()
            .any(|l| l.contains("on a thread of the app"))
            .then_some(())
    });
    let of_new =
        |l: &str| l.starts_with("window ") && l.contains(&format!(" generation {generation} "));
    let first = relive.wait_line("a frame of the new code", SHORT_DEADLINE, of_new);
    let at = number_after(&first, "frame");
    // Two more panics later (one every 50 frames), the same generation runs on.
    relive.wait_line("frames after the panics", SHORT_DEADLINE, |l| {
        of_new(l) && number_after(l, "frame") > at + 100
    });
    let crashed: Vec<_> = relive
        .events()
        .into_iter()
        .filter(|e| e["event"] == "rolled_back")
        .collect();
    assert!(crashed.is_empty(), "no crash: {crashed:?}");
}

#[test]
fn a_change_to_the_persistent_crate_restarts_the_runner_with_the_state() {
    let Some(tools) = tools_or_skip() else {
        return;
    };
    let xvfb = Xvfb::start(&tools);
    let app = copy_persistent("persistent_deps");
    let relive = app.run_with_env(&[], &[("DISPLAY", &xvfb.display)]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let runner = relive.runner_pid();
    let before = relive.wait_line("a few frames of generation 1", SHORT_DEADLINE, |l| {
        l.starts_with("window ") && number_after(l, "frame") >= 100
    });

    let mark = relive.mark();
    let deps = app.path().join("deps").join("src").join("lib.rs");
    let mut text = std::fs::read_to_string(&deps).expect("read deps");
    text.push_str("\n/// Added by the test.\npub fn added() -> u32 {\n    7\n}\n");
    std::fs::write(&deps, text).expect("write deps");
    let changed = relive.wait_event_after("persistent_changed", mark, BUILD_DEADLINE);
    assert_eq!(changed["action"], "restart", "{changed}");
    let loaded = relive.wait_event_after("loaded", mark, SHORT_DEADLINE);
    assert_eq!(loaded["resumed"], true, "{loaded}");
    let reset = relive.wait_event_after("kept_reset", mark, SHORT_DEADLINE);
    assert_eq!(
        reset["fields"],
        serde_json::json!(["All.window"]),
        "{reset}"
    );
    let generation = loaded["generation"].as_u64().expect("generation");
    let line = relive.wait_line("a frame of the new runner", SHORT_DEADLINE, |l| {
        l.starts_with("window ") && l.contains(&format!(" generation {generation} "))
    });
    assert!(
        number_after(&line, "frame") > number_after(&before, "frame")
            && relive.runner_pid() != runner,
        "a new runner, the frame counter goes on: {before} then {line}"
    );
    let opened = relive
        .output()
        .iter()
        .filter(|l| l.starts_with("opened window"))
        .count();
    assert_eq!(opened, 2, "the window closes and opens once");
}

#[test]
fn keep_on_a_type_of_the_app_is_refused_and_the_old_code_runs_on() {
    let Some(tools) = tools_or_skip() else {
        return;
    };
    let xvfb = Xvfb::start(&tools);
    let app = copy_persistent("persistent_keep_app");
    let relive = app.run_with_env(&[], &[("DISPLAY", &xvfb.display)]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    let mark = relive.mark();
    app.edit(
        "    pub window: Option<Window>,\n}\n",
        "    pub window: Option<Window>,\n    #[relive(keep)]\n    pub mine: Option<Mine>,\n}\n\n\
         #[derive(Default)]\npub struct Mine(pub u8);\n",
    );
    let refused = relive.wait_event_after("refused", mark, BUILD_DEADLINE);
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("`#[relive(keep)]` on All.mine") && reason.contains("app crate"),
        "{refused}"
    );
    relive.wait_line("the old code runs on", SHORT_DEADLINE, |l| {
        l.starts_with("window ") && l.contains(" generation 1 ") && number_after(l, "frame") > 100
    });
}
