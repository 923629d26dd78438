//! Where things are and how they are built: the repository, the `relive`
//! binary (`cargo build --release -p relive-cli`), and private copies of the
//! bench apps (`bench/apps`, copied to `target/bench-work/apps` so that the
//! bench can edit them without touching the repository), built with cargo in
//! their own target folder (`target/bench`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The cargo profile of a build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    /// The folder name under the target folder.
    pub fn dir(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// Paths of one bench run.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// The repository root (the workspace of `relive-cli`).
    pub root: PathBuf,
    /// The workspace's target folder.
    pub target: PathBuf,
    /// `CARGO_TARGET_DIR` for the bench apps.
    pub bench_target: PathBuf,
    /// Where the app copies, libraries set aside and logs go.
    pub work: PathBuf,
}

/// The cargo program (cargo sets `CARGO` for what it runs).
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

impl Workspace {
    /// The workspace this binary was built in.
    pub fn locate() -> anyhow::Result<Workspace> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .context("the bench crate has no parent folder")?
            .to_path_buf();
        if !root.join("crates/relive-cli/Cargo.toml").is_file() {
            bail!(
                "{} does not look like the relive repository (no crates/relive-cli)",
                root.display()
            );
        }
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    root.join(dir)
                }
            }
            None => root.join("target"),
        };
        Ok(Workspace {
            bench_target: target.join("bench"),
            work: target.join("bench-work"),
            target,
            root,
        })
    }

    /// The `relive` binary that [`Workspace::build_relive`] builds.
    pub fn relive(&self) -> PathBuf {
        self.target.join("release").join("relive")
    }

    /// `cargo build --release -p relive-cli`; returns the binary.
    pub fn build_relive(&self) -> anyhow::Result<PathBuf> {
        let mut cmd = Command::new(cargo());
        cmd.arg("build")
            .arg("--release")
            .arg("-p")
            .arg("relive-cli")
            .arg("--manifest-path")
            .arg(self.root.join("Cargo.toml"));
        run_cargo(cmd, "build relive (cargo build --release -p relive-cli)")?;
        let relive = self.relive();
        if !relive.is_file() {
            bail!("cargo built relive-cli but {} is missing", relive.display());
        }
        Ok(relive)
    }

    /// Copies `bench/apps` to the work folder (replacing an older copy) and
    /// points the copies' `relive` dependency at this repository.
    pub fn prepare_apps(&self) -> anyhow::Result<()> {
        let src = self.root.join("bench").join("apps");
        let dst = self.apps();
        if dst.exists() {
            std::fs::remove_dir_all(&dst)
                .with_context(|| format!("cannot remove the old copy {}", dst.display()))?;
        }
        copy_dir(&src, &dst)?;
        let relive = self.root.join("crates").join("relive");
        for entry in std::fs::read_dir(&dst).with_context(|| format!("{}", dst.display()))? {
            let manifest = entry?.path().join("Cargo.toml");
            if !manifest.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("cannot read {}", manifest.display()))?;
            let text = text.replace("../../../crates/relive", &relive.to_string_lossy());
            std::fs::write(&manifest, text)
                .with_context(|| format!("cannot write {}", manifest.display()))?;
        }
        Ok(())
    }

    /// The folder of the app copies.
    pub fn apps(&self) -> PathBuf {
        self.work.join("apps")
    }

    /// The copy of the app `name`.
    pub fn app(&self, name: &str) -> PathBuf {
        self.apps().join(name)
    }

    /// Where cargo puts app `lib_name`'s library.
    pub fn artifact(&self, lib_name: &str, profile: Profile) -> PathBuf {
        self.bench_target.join(profile.dir()).join(format!(
            "{}{lib_name}{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ))
    }

    /// A cargo command for the app copy at `app` with the bench's target folder.
    pub fn cargo_for(&self, app: &Path) -> Command {
        let mut cmd = Command::new(cargo());
        cmd.env("CARGO_TARGET_DIR", &self.bench_target)
            .arg("build")
            .arg("--manifest-path")
            .arg(app.join("Cargo.toml"));
        cmd
    }

    /// Builds the library of the app copy at `app`; returns how long cargo ran.
    pub fn build_app(&self, app: &Path, profile: Profile) -> anyhow::Result<Duration> {
        let mut cmd = self.cargo_for(app);
        cmd.arg("--lib");
        if profile == Profile::Release {
            cmd.arg("--release");
        }
        let t = Instant::now();
        run_cargo(cmd, &format!("build {}", app.display()))?;
        Ok(t.elapsed())
    }
}

/// The line of an app's source that selects its build variant.
pub const VARIANT_TAG: &str = "// bench: variant";

impl Workspace {
    /// Builds the release library of the app copy `name` once per variant
    /// (its `VARIANT_TAG` line set to `const VARIANT: u32 = N;`) and keeps
    /// each build aside as `lib{lib_name}.vN.so` in `{name}-libs`. Returns
    /// the artifact path relive watches and the copies, in order.
    pub fn build_variants(
        &self,
        name: &str,
        lib_name: &str,
        variants: &[u32],
    ) -> anyhow::Result<(PathBuf, Vec<PathBuf>)> {
        let app = self.app(name);
        let src = app.join("src").join("lib.rs");
        let artifact = self.artifact(lib_name, Profile::Release);
        let aside = self.work.join(format!("{name}-libs"));
        std::fs::create_dir_all(&aside).with_context(|| format!("{}", aside.display()))?;
        let mut libs = Vec::new();
        for variant in variants {
            edit_line(
                &src,
                VARIANT_TAG,
                &format!("const VARIANT: u32 = {variant};"),
            )?;
            self.build_app(&app, Profile::Release)?;
            let lib = aside.join(format!("lib{lib_name}.v{variant}.so"));
            std::fs::copy(&artifact, &lib)
                .with_context(|| format!("cannot copy {}", artifact.display()))?;
            libs.push(lib);
        }
        Ok((artifact, libs))
    }
}

/// Runs a cargo command to the end; on failure the error carries the end of
/// cargo's output.
pub fn run_cargo(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot start cargo to {what}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("cargo failed to {what}:\n{}", tail.join("\n"));
    }
    Ok(())
}

/// Copies a folder tree (files and folders only), skipping `target` folders
/// of builds made in place.
fn copy_dir(src: &Path, dst: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dst).with_context(|| format!("cannot create {}", dst.display()))?;
    for entry in std::fs::read_dir(src).with_context(|| format!("cannot read {}", src.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let to = dst.join(&name);
        if entry.file_type()?.is_dir() {
            copy_dir(&path, &to)?;
        } else {
            std::fs::copy(&path, &to)
                .with_context(|| format!("cannot copy {} to {}", path.display(), to.display()))?;
        }
    }
    Ok(())
}

/// Replaces the one line of `file` that contains `tag` with `line` (the tag
/// is kept at its end); writes it with `std::fs::write` and returns the
/// `CLOCK_MONOTONIC` time just before the write.
pub fn edit_line(file: &Path, tag: &str, line: &str) -> anyhow::Result<u64> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut found = false;
    let edited: Vec<String> = text
        .lines()
        .map(|l| {
            if l.contains(tag) {
                found = true;
                format!("{line} {tag}")
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        bail!("{} has no line marked `{tag}`", file.display());
    }
    let mut edited = edited.join("\n");
    edited.push('\n');
    let t = crate::clock::now_ns();
    std::fs::write(file, edited).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_line_replaces_the_tagged_line() {
        let dir = std::env::temp_dir().join(format!("relive-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("lib.rs");
        std::fs::write(&file, "a\nconst X: u32 = 1; // bench: x\nb\n").expect("write");
        edit_line(&file, "// bench: x", "const X: u32 = 7;").expect("edit");
        let text = std::fs::read_to_string(&file).expect("read");
        assert_eq!(text, "a\nconst X: u32 = 7; // bench: x\nb\n");
        assert!(edit_line(&file, "// bench: y", "z").is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
