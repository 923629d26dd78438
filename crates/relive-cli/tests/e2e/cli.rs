//! Bad input gets one clear error; Ctrl-C ends the program cleanly.

use std::process::Command;

use crate::harness::*;

fn relive_run(path: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_relive"))
        .arg("run")
        .arg(path)
        .env("CARGO_TARGET_DIR", shared_target())
        .output()
        .expect("start relive");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_packages_get_one_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, err) = relive_run(&dir.path().join("missing"));
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");

    let app = App::copy("counter", "not_cdylib");
    let manifest = app.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        text.replace("crate-type = [\"cdylib\"]", "crate-type = [\"rlib\"]"),
    )
    .expect("write");
    let (code, err) = relive_run(app.path());
    assert_eq!(code, 2);
    assert!(err.contains("cdylib"), "{err}");
}

#[test]
fn interrupt_exits_cleanly() {
    let app = App::copy("counter", "interrupt");
    let mut relive = app.run(&[]);
    relive.wait_event("loaded", BUILD_DEADLINE);
    relive.wait_line("a frame", SHORT_DEADLINE, |l| l.starts_with("tick "));
    relive.signal(libc::SIGINT);
    let status = relive.wait_exit(SHORT_DEADLINE);
    assert_eq!(status.code(), Some(0));
    assert_eq!(relive.wait_event("exited", SHORT_DEADLINE)["code"], 0);
}
