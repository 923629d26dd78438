//! Never crash, never lose state: libraries relive must refuse, a library
//! still being written, a storm of saves, a worker that will not stop, and a
//! soak of hundreds of reloads that must not leak mappings, files, file
//! descriptors or memory.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

const V1: &str = "let version = \"v1\";";
const V2: &str = "let version = \"v2\";";

/// Names of the events from index `after` on.
fn event_names(relive: &Relive, after: usize) -> Vec<String> {
    relive
        .events()
        .iter()
        .skip(after)
        .map(|e| e["event"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Waits until the last tick printed comes from `generation` running
/// `version`, at least `frames` frames after the last tick printed now.
fn runs_on(relive: &Relive, generation: u64, version: &str, frames: u64) {
    let beyond = ticks(relive).last().map_or(0, |t| t.counter);
    relive.wait_for(
        &format!("{frames} more {version} frames of generation {generation}"),
        SHORT_DEADLINE,
        |r| {
            ticks(r)
                .last()
                .filter(|t| {
                    t.counter >= beyond + frames
                        && t.generation == generation
                        && t.version == version
                })
                .map(|_| ())
        },
    );
}

// ---------------------------------------------------------------------------
// 1. Bad libraries under --no-build.

/// A copy of `counter`, built, with `relive run --no-build` running v1.
fn counter_no_build(test: &str) -> (App, Relive) {
    let app = App::copy("counter", test);
    app.cargo_build();
    let relive = app.run(&["--no-build"]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    relive.wait_line("a v1 frame", SHORT_DEADLINE, |l| l.contains(" v1 gen 1 "));
    (app, relive)
}

/// Renames `bytes` into the artifact's place and checks that relive refuses
/// them with a reason containing every one of `expected`, swaps nothing and
/// keeps running generation 1. Returns the reason.
fn refused_and_running_on(
    app: &App,
    relive: &mut Relive,
    bytes: &[u8],
    expected: &[&str],
) -> String {
    let mark = relive.mark();
    replace_file(&app.artifact(), bytes);
    let refused = relive.wait_event_after("refused", mark, SHORT_DEADLINE);
    let reason = refused["reason"].as_str().expect("a reason").to_string();
    for part in expected {
        assert!(
            reason.contains(part),
            "{part:?} is not in the reason: {reason}"
        );
    }
    runs_on(relive, 1, "v1", 5);
    assert!(relive.is_running(), "relive is still running");
    let events = relive.events();
    for name in ["reloaded", "rolled_back", "panicked", "exited"] {
        assert_eq!(count(&events, name), 0, "no {name}: {events:?}");
    }
    assert_eq!(count(&events, "loaded"), 1);
    eprintln!("refused: {reason}");
    reason
}

/// The bytes of a handshake record: magic, then ABI version and flags
/// (`u32` each, native endianness), then `rustc -V` and the relive version,
/// each NUL-padded to 128 bytes.
const MAGIC: &[u8; 16] = b"relive-app-abi\0\0";
const ABI_AT: usize = 16;
const FLAGS_AT: usize = 20;
const RUSTC_AT: usize = 24;
const TEXT_LEN: usize = 128;
const RELIVE_AT: usize = RUSTC_AT + TEXT_LEN;

/// Where `RELIVE_HANDSHAKE` records are in a library file: each occurrence of
/// the magic followed by zero flags (an unwinding build) and `rustc ` text.
fn handshakes(bytes: &[u8]) -> Vec<usize> {
    let found: Vec<usize> = bytes
        .windows(MAGIC.len())
        .enumerate()
        .filter(|(_, w)| w == MAGIC)
        .map(|(at, _)| at)
        .filter(|&at| {
            bytes.get(at + FLAGS_AT..at + RUSTC_AT) == Some(&[0u8; 4][..])
                && bytes.get(at + RUSTC_AT..at + RUSTC_AT + 6) == Some(&b"rustc "[..])
        })
        .collect();
    assert!(!found.is_empty(), "no handshake record in the library");
    found
}

#[test]
fn a_shared_object_that_is_not_a_relive_app_is_refused() {
    let plain = App::copy("plain", "foreign");
    plain.cargo_build();
    let foreign = std::fs::read(plain.artifact()).expect("plain library");
    let (app, mut relive) = counter_no_build("foreign");
    refused_and_running_on(
        &app,
        &mut relive,
        &foreign,
        &["is not a relive app", "RELIVE_HANDSHAKE"],
    );
}

/// The C library this test process runs with, from its own mappings.
fn libc_path() -> PathBuf {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("own maps");
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            Path::new(p)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
        })
        .map(PathBuf::from)
        .expect("this process maps a libc.so")
}

#[test]
fn a_system_library_is_refused() {
    let libc = std::fs::read(libc_path()).expect("read libc");
    let (app, mut relive) = counter_no_build("libc");
    refused_and_running_on(
        &app,
        &mut relive,
        &libc,
        &["is not a relive app", "RELIVE_HANDSHAKE"],
    );
}

#[test]
fn a_library_for_another_relive_abi_version_is_refused() {
    let (app, mut relive) = counter_no_build("abi_version");
    let mut bytes = std::fs::read(app.artifact()).expect("built library");
    for at in handshakes(&bytes) {
        bytes[at + ABI_AT..at + ABI_AT + 4].copy_from_slice(&999u32.to_ne_bytes());
    }
    refused_and_running_on(&app, &mut relive, &bytes, &["ABI version 999"]);
}

#[test]
fn a_library_from_another_rustc_is_refused() {
    let (app, mut relive) = counter_no_build("other_rustc");
    let mut bytes = std::fs::read(app.artifact()).expect("built library");
    let other = "rustc 1.2.3-relive-test (0123456789 1999-12-31)";
    patch_handshake_text(&mut bytes, RUSTC_AT, other);
    refused_and_running_on(
        &app,
        &mut relive,
        &bytes,
        &[other, "the host was built by `rustc "],
    );
}

/// Writes `text` NUL-padded over the text field at `field` of every
/// handshake record in `bytes`.
fn patch_handshake_text(bytes: &mut [u8], field: usize, text: &str) {
    let mut padded = [0u8; TEXT_LEN];
    padded[..text.len()].copy_from_slice(text.as_bytes());
    for at in handshakes(bytes) {
        bytes[at + field..at + field + TEXT_LEN].copy_from_slice(&padded);
    }
}

#[test]
fn a_library_from_another_relive_version_is_refused() {
    let (app, mut relive) = counter_no_build("other_relive");
    let mut bytes = std::fs::read(app.artifact()).expect("built library");
    patch_handshake_text(&mut bytes, RELIVE_AT, "0.0.1-relive-test");
    refused_and_running_on(
        &app,
        &mut relive,
        &bytes,
        &["against relive 0.0.1-relive-test", "this host is relive "],
    );
}

#[test]
fn a_library_built_with_panic_abort_is_refused() {
    let (app, mut relive) = counter_no_build("panic_abort");
    let mut bytes = std::fs::read(app.artifact()).expect("built library");
    for at in handshakes(&bytes) {
        bytes[at + FLAGS_AT..at + FLAGS_AT + 4].copy_from_slice(&1u32.to_ne_bytes());
    }
    refused_and_running_on(
        &app,
        &mut relive,
        &bytes,
        &["panic = \"abort\"", "panic = \"unwind\""],
    );
}

// ---------------------------------------------------------------------------
// 2. A library still being written.

/// How the slow writer writes the new library into place.
#[derive(Clone, Copy, Debug)]
enum SlowWrite {
    /// Truncate, then append chunk after chunk (`cp`, `cat >`).
    Append,
    /// Set the full length first (a hole of zeros), then fill it in chunk
    /// after chunk (copy tools that preallocate).
    Presized,
}

/// Writes the v2 library over the running v1's artifact in place, in
/// `CHUNKS` chunks with pauses longer than relive's quiet time for the
/// library, and checks that no partial file is ever loaded, nothing
/// crashes, and the complete library ends up running.
fn slow_write(test: &str, how: SlowWrite) {
    const CHUNKS: usize = 6;
    // A slow writer's pace; not a synchronisation with relive.
    const PAUSE: Duration = Duration::from_millis(150);

    let app = App::copy("counter", test);
    let (v1, v2) = two_builds(&app, V1, V2);
    replace_file(&app.artifact(), &v1);
    let mut relive = app.run(&["--no-build"]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    relive.wait_line("a v1 frame", SHORT_DEADLINE, |l| l.contains(" v1 gen 1 "));
    let mark = relive.mark();

    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(app.artifact())
        .expect("open the library in place");
    if let SlowWrite::Presized = how {
        file.set_len(v2.len() as u64).expect("preallocate");
    }
    std::thread::sleep(PAUSE);
    for chunk in v2.chunks(v2.len().div_ceil(CHUNKS)) {
        file.write_all(chunk).expect("write a chunk");
        std::thread::sleep(PAUSE);
    }
    drop(file);

    let reloaded = relive.wait_event_after("reloaded", mark, SHORT_DEADLINE);
    let generation = reloaded["generation"].as_u64().expect("generation");
    runs_on(&relive, generation, "v2", 5);
    assert!(relive.is_running(), "relive is still running");

    let events: Vec<Value> = relive.events().into_iter().skip(mark).collect();
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "refused")
        .map(|e| e["reason"].as_str().unwrap_or("?"))
        .collect();
    eprintln!(
        "{how:?}: events after the write began: {:?}\nrefusals ({}):\n{}",
        event_names(&relive, mark),
        reasons.len(),
        reasons.join("\n")
    );
    assert_eq!(
        count(&events, "reloaded"),
        1,
        "only the complete library is swapped in: {events:?}"
    );
    for name in ["rolled_back", "panicked", "exited"] {
        assert_eq!(count(&events, name), 0, "no {name}: {events:?}");
    }
    assert!(
        ticks(&relive)
            .iter()
            .all(|t| t.version == "v1" || t.generation == generation),
        "v2 runs only as the generation that loaded the complete file"
    );
}

#[test]
fn a_library_being_appended_slowly_is_never_loaded_half_written() {
    slow_write("slow_append", SlowWrite::Append);
}

#[test]
fn a_preallocated_library_being_filled_slowly_is_never_loaded_half_written() {
    slow_write("slow_presized", SlowWrite::Presized);
}

// ---------------------------------------------------------------------------
// 3. A storm of saves.

#[test]
fn a_save_storm_builds_at_most_twice_and_runs_the_last_version() {
    const STORM: Duration = Duration::from_secs(3);
    // 40 saves a second, as a format-on-type editor or a script may do.
    const SAVE_EVERY: Duration = Duration::from_millis(25);

    let app = App::copy("counter", "storm");
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_line("a v1 frame", SHORT_DEADLINE, |l| l.contains(" v1 gen 1 "));
    let mark = relive.mark();

    let base = std::fs::read_to_string(app.lib_rs()).expect("lib.rs");
    assert!(base.contains(V1));
    let start = Instant::now();
    let mut saves = 0;
    while start.elapsed() < STORM {
        saves += 1;
        let text = base.replacen(V1, &format!("let version = \"s{saves}\";"), 1);
        std::fs::write(app.lib_rs(), text).expect("save lib.rs");
        // The user's pace; not a synchronisation with relive.
        std::thread::sleep(SAVE_EVERY);
    }
    let storm = start.elapsed();
    let last = format!("s{saves}");

    let line = relive.wait_line("the last version's frame", BUILD_DEADLINE, |l| {
        tick(l).is_some_and(|t| t.version == last)
    });
    // Let every build that started end, so none is missed in the count.
    relive.wait_for("every started build to end", BUILD_DEADLINE, |r| {
        let events: Vec<Value> = r.events().into_iter().skip(mark).collect();
        (count(&events, "build_started")
            == count(&events, "build_finished") + count(&events, "build_failed"))
        .then_some(events)
    });
    let events: Vec<Value> = relive.events().into_iter().skip(mark).collect();
    let running = tick(&line).expect("a tick");
    let builds = count(&events, "build_started");
    eprintln!(
        "storm: {saves} saves in {storm:?}; after it: {builds} build_started, {} build_finished, \
         {} build_failed, {} reloaded, {} refused; last version {last} runs as generation {}\n\
         build times (ms): {:?}",
        count(&events, "build_finished"),
        count(&events, "build_failed"),
        count(&events, "reloaded"),
        count(&events, "refused"),
        running.generation,
        events
            .iter()
            .filter(|e| e["event"] == "build_finished" || e["event"] == "build_failed")
            .map(|e| e["ms"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        count(&relive.events(), "build_started"),
        builds + 1,
        "one build before the storm"
    );
    for name in ["rolled_back", "panicked", "exited"] {
        assert_eq!(count(&events, name), 0, "no {name}: {events:?}");
    }
    assert!(
        builds <= 2,
        "at most two builds come from the storm, saw {builds}: {:?}",
        event_names(&relive, mark)
    );
}

// ---------------------------------------------------------------------------
// 4. A worker that will not stop.

/// A copy of `stubborn` running v1 with its worker started.
fn stubborn(test: &str) -> (App, Relive) {
    let app = App::copy("stubborn", test);
    let relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_line("the worker", SHORT_DEADLINE, |l| {
        l == "worker started gen 1"
    });
    relive.wait_line("a v1 frame", SHORT_DEADLINE, |l| l.contains(" v1 gen 1 "));
    (app, relive)
}

/// Edits v1 to `to` and waits for the build and the `postponed` event.
fn postponed(app: &App, relive: &Relive, to: &str) -> Value {
    let mark = relive.mark();
    app.edit(V1, to);
    relive.wait_event_after("build_finished", mark, BUILD_DEADLINE);
    relive.wait_event_after("postponed", mark, SHORT_DEADLINE)
}

#[test]
fn a_worker_that_ignores_stop_postpones_the_swap_naming_it() {
    let (app, mut relive) = stubborn("deaf_worker");
    let mark = relive.mark();
    let postponed = postponed(&app, &relive, V2);
    let threads = postponed["threads"].as_str().expect("threads");
    assert!(threads.contains("deaf-worker"), "{postponed}");
    assert_eq!(postponed["generation"], 1, "{postponed}");
    assert!(relive.is_running(), "no crash");
    let events: Vec<Value> = relive.events().into_iter().skip(mark).collect();
    for name in ["reloaded", "rolled_back", "panicked", "exited"] {
        assert_eq!(count(&events, name), 0, "no swap, no {name}: {events:?}");
    }
    assert_eq!(count(&events, "postponed"), 1, "reported once: {events:?}");
    assert!(
        ticks(&relive)
            .iter()
            .all(|t| t.generation == 1 && t.version == "v1"),
        "only the old code ran"
    );
}

#[test]
fn a_swap_postponed_by_a_worker_lets_the_old_code_run_on_until_a_second_request_restarts_it() {
    let (app, mut relive) = stubborn("deaf_worker_frames");
    let mark = relive.mark();
    postponed(&app, &relive, V2);

    // No swap: generation 1 keeps running its frames, on the old code.
    runs_on(&relive, 1, "v1", 25);
    assert!(relive.is_running());
    let events: Vec<Value> = relive.events().into_iter().skip(mark).collect();
    for name in ["reloaded", "rolled_back", "panicked", "exited"] {
        assert_eq!(count(&events, name), 0, "no {name}: {events:?}");
    }
    assert!(
        ticks(&relive)
            .iter()
            .all(|t| t.generation == 1 && t.version == "v1"),
        "only the old code ran"
    );

    // A second request forces a restart on the new code, from the state
    // checkpointed when the swap was postponed.
    let mark = relive.mark();
    app.edit(V2, "let version = \"v3\";");
    let restarted = relive.wait_event_after("restarted", mark, BUILD_DEADLINE);
    assert!(
        restarted["reason"]
            .as_str()
            .is_some_and(|r| r.contains("deaf-worker")),
        "{restarted}"
    );
    let loaded = relive.wait_event_after("loaded", mark, SHORT_DEADLINE);
    assert_eq!(loaded["resumed"], true, "{loaded}");
    let first = relive.wait_for("the new code running", SHORT_DEADLINE, |r| {
        ticks(r).into_iter().find(|t| t.version == "v3")
    });
    let old: Vec<u64> = ticks(&relive)
        .iter()
        .filter(|t| t.version == "v1")
        .map(|t| t.counter)
        .collect();
    assert!(first.counter > 1, "the state was kept, not started afresh");
    assert!(
        old.contains(&(first.counter - 1)),
        "the counter continues from a state the old code had ({} after {:?})",
        first.counter,
        old.last()
    );
    assert!(relive.is_running());
    let events: Vec<Value> = relive.events().into_iter().skip(mark).collect();
    for name in ["rolled_back", "panicked", "exited"] {
        assert_eq!(count(&events, name), 0, "no {name}: {events:?}");
    }
}

#[test]
fn ctrl_c_while_a_swap_waits_for_a_worker_exits_cleanly() {
    let (app, mut relive) = stubborn("deaf_worker_exit");
    postponed(&app, &relive, V2);
    relive.signal(libc::SIGINT);
    let status = relive.wait_exit(SHORT_DEADLINE);
    let exited = relive.wait_event("exited", SHORT_DEADLINE);
    eprintln!("exit status {status:?}, event {exited}");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(exited["code"], 0);
}

// ---------------------------------------------------------------------------
// 5. A soak of hundreds of reloads.

/// What `/proc/<pid>` says about relive at one moment.
#[derive(Debug)]
struct Proc {
    rss_kib: u64,
    fds: usize,
    threads: usize,
    /// Mapped private copies of the app library (`lib<name>.genN.so`).
    mapped: BTreeSet<String>,
    /// Files in the private staging folder.
    staged: Vec<String>,
}

fn proc_status(pid: u32, copy_prefix: &str) -> Proc {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let status = std::fs::read_to_string(dir.join("status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    let rss_kib = field("VmRSS:");
    let threads = field("Threads:") as usize;
    let fds = std::fs::read_dir(dir.join("fd")).expect("fd").count();
    let maps = std::fs::read_to_string(dir.join("maps")).expect("maps");
    let mut mapped = BTreeSet::new();
    let mut staging = None;
    for line in maps.lines() {
        let path = line
            .split_whitespace()
            .skip(5)
            .collect::<Vec<_>>()
            .join(" ");
        let path = path.trim_end_matches(" (deleted)");
        let path = Path::new(path);
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(copy_prefix))
        {
            mapped.insert(path.display().to_string());
            staging = path.parent().map(Path::to_path_buf);
        }
    }
    let staging = staging.expect("the running generation's copy is mapped");
    let staged = std::fs::read_dir(&staging)
        .expect("staging folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".gen"))
        .collect();
    Proc {
        rss_kib,
        fds,
        threads,
        mapped,
        staged,
    }
}

/// The most resident memory may grow per reload once it has settled, in KiB:
/// well under the 36 KiB a leaked thread-local block of one generation costs.
const RSS_SLOPE_KIB: f64 = 8.0;

#[test]
fn hundreds_of_reloads_leak_no_mappings_files_descriptors_or_memory() {
    let reloads: u64 = std::env::var("RELIVE_SOAK_RELOADS")
        .ok()
        .map(|n| n.parse().expect("RELIVE_SOAK_RELOADS is a number"))
        .unwrap_or(300);
    assert!(reloads >= 10, "RELIVE_SOAK_RELOADS must be 10 or more");
    let app = App::copy("tiny", "soak");
    let (v1, v2) = two_builds(&app, V1, V2);
    replace_file(&app.artifact(), &v1);
    let mut relive = app.run(&["--no-build"]);
    relive.wait_event("loaded", SHORT_DEADLINE);
    relive.wait_line("a v1 frame", SHORT_DEADLINE, |l| l.contains(" v1 gen 1 "));
    // The app's code runs in relive's runner process.
    let pid = relive.runner_pid();
    let copy_prefix = format!("lib{}.gen", app.name);

    let start = Instant::now();
    let mut after_first = None;
    let mut after_ten = None;
    // Memory is compared from a third of the way on, once allocator arenas
    // and caches have settled.
    let settled_at = reloads / 3;
    let mut settled = None;
    for i in 1..=reloads {
        let (bytes, version) = if i % 2 == 1 { (&v2, "v2") } else { (&v1, "v1") };
        replace_file(&app.artifact(), bytes);
        let generation = i + 1;
        relive.wait_for(
            &format!("reload {i} (generation {generation}, {version})"),
            SHORT_DEADLINE,
            |r| {
                let events = r.events();
                assert_no_failure(&events, &format!("reload {i}"));
                (count(&events, "reloaded") as u64 >= i).then_some(())
            },
        );
        let last = relive
            .events()
            .into_iter()
            .rfind(|e| e["event"] == "reloaded")
            .expect("a reload");
        assert_eq!(last["generation"], generation, "{last}");
        if i == 1 {
            after_first = Some(proc_status(pid, &copy_prefix));
        }
        if i == 10 {
            after_ten = Some(proc_status(pid, &copy_prefix));
        }
        if i == settled_at {
            settled = Some(proc_status(pid, &copy_prefix));
        }
    }
    let elapsed = start.elapsed();
    let end = proc_status(pid, &copy_prefix);
    let last_version = if reloads % 2 == 1 { "v2" } else { "v1" };
    runs_on(&relive, reloads + 1, last_version, 20);
    assert!(relive.is_running());

    let first = after_first.expect("measured after the first reload");
    let ten = after_ten.expect("measured after the tenth reload");
    let settled = settled.expect("measured a third of the way");
    let pauses: Vec<u64> = relive
        .events()
        .iter()
        .filter(|e| e["event"] == "reloaded")
        .filter_map(|e| e["pause_us"].as_u64())
        .collect();
    let mut sorted = pauses.clone();
    sorted.sort_unstable();
    eprintln!(
        "soak: {reloads} reloads in {elapsed:.1?} = {:.1} reloads/s; swap pause median {} us, max {} us\n\
         after reload 1: {first:?}\nafter reload 10: {ten:?}\nafter reload {settled_at}: {settled:?}\n\
         after reload {reloads}: {end:?}",
        reloads as f64 / elapsed.as_secs_f64(),
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
    );

    // The state was carried through every reload: the counter never reset,
    // no frame was repeated or lost (one line every 10 frames).
    let all = ticks(&relive);
    for pair in all.windows(2) {
        assert_eq!(
            pair[1].counter,
            pair[0].counter + 10,
            "the counter goes on across reloads"
        );
        assert!(pair[1].generation >= pair[0].generation);
        assert_eq!(pair[1].label, "fresh");
    }

    assert!(
        end.mapped.len() <= 3,
        "at most a handful of generations stay mapped: {:?}",
        end.mapped
    );
    assert!(
        end.staged.len() <= 3,
        "the staging folder does not accumulate copies: {:?}",
        end.staged
    );
    // The recording (on by default) keeps a memory file per checkpoint it
    // marks, at most `MAX_MARKS`; anything that grows per reload goes past.
    assert!(
        end.fds <= first.fds + 2 + relive_host::MAX_MARKS as usize,
        "file descriptors do not grow: {} after reload 1, {} after reload {reloads}",
        first.fds,
        end.fds
    );
    assert!(
        end.threads <= first.threads + 2,
        "threads do not accumulate: {} after reload 1, {} after reload {reloads}",
        first.threads,
        end.threads
    );
    // A leak of a few pages per swap (the size of one generation's
    // thread-local destructors, say) must show: over the last two thirds of
    // the run, resident memory grows by less than that per reload.
    let grown_kib = end.rss_kib.saturating_sub(settled.rss_kib);
    let per_reload_kib = grown_kib as f64 / (reloads - settled_at) as f64;
    assert!(
        per_reload_kib < RSS_SLOPE_KIB,
        "resident memory grows {per_reload_kib:.1} KiB per reload (limit {RSS_SLOPE_KIB}): \
         {} KiB after reload {settled_at}, {} KiB after reload {reloads}",
        settled.rss_kib,
        end.rss_kib
    );
}
