//! What the app's process is like under relive: output printed without a
//! newline survives a swap, programs the app starts get Ctrl-C's default
//! action, panics the app catches itself are printed, and an app with an
//! allocator of its own is refused.

use crate::harness::*;

#[test]
fn print_without_a_newline_is_not_lost_at_a_swap() {
    let app = App::copy("counter", "print_pending");
    // After each tick line, text without a newline: the next line written
    // (by this generation, or after a swap by the next one) follows it.
    app.edit(
        "let _ = out.flush();",
        "let _ = out.flush();\n        drop(out);\n        print!(\"pending {version};\");",
    );
    app.cargo_build();
    let relive = app.run(&["--no-build"]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    relive.wait_line("a v1 frame", SHORT_DEADLINE, |l| l.contains(" v1 gen 1 "));

    app.edit("let version = \"v1\";", "let version = \"v2\";");
    app.cargo_build();
    relive.wait_event("reloaded", SHORT_DEADLINE);
    // The old generation's last text comes out before the new one's first
    // line, on the same line.
    relive.wait_line(
        "the old code's pending text before the first v2 line",
        SHORT_DEADLINE,
        |l| l.starts_with("pending v1;tick ") && l.contains(" v2 gen 2 "),
    );
}

/// The `SigIgn` mask of a program the app starts, and whether the app's
/// own caught panic was printed.
#[test]
fn programs_the_app_starts_die_of_ctrl_c_and_panics_it_catches_are_printed() {
    let app = App::copy("counter", "process");
    app.edit(
        "// PANIC-HERE",
        "if self.counter == 2 {\n\
         let out = std::process::Command::new(\"sh\")\n\
             .args([\"-c\", \"grep SigIgn /proc/self/status\"])\n\
             .output()\n\
             .expect(\"sh runs\");\n\
         println!(\"child {}\", String::from_utf8_lossy(&out.stdout).trim());\n\
         let _ = std::panic::catch_unwind(|| panic!(\"caught by the app itself\"));\n\
         }",
    );
    app.cargo_build();
    let relive = app.run(&["--no-build"]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    let line = relive.wait_line("the child's signal mask", SHORT_DEADLINE, |l| {
        l.starts_with("child SigIgn:")
    });
    let mask = line
        .split_whitespace()
        .last()
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or_else(|| panic!("a hex mask in {line:?}"));
    let sigint = 1u64 << (libc::SIGINT - 1);
    assert_eq!(
        mask & sigint,
        0,
        "SIGINT is not ignored in programs the app starts: {line}"
    );
    relive.wait_line("a frame after the caught panic", SHORT_DEADLINE, |l| {
        l.starts_with("tick 3 ")
    });
    relive.wait_for("the caught panic on stderr", SHORT_DEADLINE, |r| {
        let stderr = r.stderr();
        stderr
            .iter()
            .any(|l| l.contains("caught by the app itself"))
            .then_some(())
    });
    let stderr = relive.stderr();
    assert!(
        stderr.iter().any(|l| l.contains("panicked at")),
        "printed as the default hook does: {stderr:?}"
    );
    assert!(
        relive.events().iter().all(|e| e["event"] != "panicked"),
        "a panic the app caught is not relive's"
    );
}

#[test]
fn an_app_with_its_own_global_allocator_is_refused() {
    let app = App::copy("counter", "allocator");
    // A bump allocator over a static arena: memory of this generation only.
    app.edit(
        "relive::export!(All);",
        "relive::export!(All);\n\
         struct Bump;\n\
         static ARENA: std::sync::Mutex<(usize, [u8; 64 << 20])> =\n\
             std::sync::Mutex::new((0, [0; 64 << 20]));\n\
         unsafe impl std::alloc::GlobalAlloc for Bump {\n\
             unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {\n\
                 let mut arena = ARENA.lock().unwrap_or_else(|e| e.into_inner());\n\
                 let start = (arena.0 + layout.align() - 1) & !(layout.align() - 1);\n\
                 if start + layout.size() > arena.1.len() {\n\
                     return std::ptr::null_mut();\n\
                 }\n\
                 arena.0 = start + layout.size();\n\
                 arena.1.as_mut_ptr().wrapping_add(start)\n\
             }\n\
             unsafe fn dealloc(&self, _: *mut u8, _: std::alloc::Layout) {}\n\
         }\n\
         #[global_allocator]\n\
         static BUMP: Bump = Bump;",
    );
    app.cargo_build();
    let relive = app.run(&["--no-build"]);
    let refused = relive.wait_event("refused", SHORT_DEADLINE);
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("#[global_allocator]"), "{refused}");
    assert!(
        reason.contains("std::alloc::System"),
        "says what to do: {refused}"
    );
    assert!(
        relive.events().iter().all(|e| e["event"] != "loaded"),
        "none of its frames ran"
    );
}
