//! The private folder that holds the copies relive loads.
//!
//! `dlopen` caches libraries by path and the linker may rewrite the built
//! file at any moment, so each generation is loaded from its own copy. The
//! folder is created with mode 0700 under a unique name, checked to belong to
//! this user, and removed when the [`Staging`] is dropped; copies are created
//! exclusively (a name planted in advance makes the copy fail, it is never
//! followed) and are readable and executable by the user only.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A private folder for library copies.
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
}

impl Staging {
    /// Creates the folder under the system temp folder, first removing the
    /// folders of earlier runs whose process is gone (killed, or crashed).
    pub fn new() -> std::io::Result<Staging> {
        remove_stale(&std::env::temp_dir());
        let dir = tempfile::Builder::new()
            .prefix(&format!("relive-{}-", std::process::id()))
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let meta = std::fs::symlink_metadata(dir.path())?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
            return Err(std::io::Error::other(format!(
                "{} is not a private folder of this user",
                dir.path().display()
            )));
        }
        Ok(Staging { dir })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `bytes` as the copy of library `artifact` for `generation`
    /// (`libapp.so` becomes `libapp.gen7.so`) and returns its path.
    pub fn stage(
        &self,
        artifact: &Path,
        generation: u64,
        bytes: &[u8],
    ) -> std::io::Result<PathBuf> {
        let stem = artifact
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app".into());
        let name = format!("{stem}.gen{generation}{}", std::env::consts::DLL_SUFFIX);
        let path = self.dir.path().join(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o500)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        file.write_all(bytes)?;
        Ok(path)
    }
}

/// Removes `relive-<pid>-*` folders of this user in `temp` whose process no
/// longer runs. Failures are ignored: another run may be removing the same.
fn remove_stale(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("relive-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let mine =
            std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.is_dir() && m.uid() == me);
        if mine && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_private_and_exclusive() {
        let staging = Staging::new().expect("staging");
        let mode = std::fs::metadata(staging.path()).expect("dir").mode();
        assert_eq!(mode & 0o777, 0o700);
        let copy = staging
            .stage(Path::new("/x/libapp.so"), 7, b"bytes")
            .expect("first copy");
        assert!(copy.ends_with("libapp.gen7.so"));
        assert_eq!(std::fs::read(&copy).expect("readable"), b"bytes");
        assert_eq!(std::fs::metadata(&copy).expect("file").mode() & 0o077, 0);
        let again = staging.stage(Path::new("/x/libapp.so"), 7, b"other");
        assert!(again.is_err(), "an existing name is never reused");
    }

    #[test]
    fn folders_of_runs_that_are_gone_are_removed() {
        let temp = tempfile::tempdir().expect("temp");
        // pid_max is at most 2^22: this pid cannot be running.
        let gone = temp.path().join("relive-99999999-abc");
        let alive = temp
            .path()
            .join(format!("relive-{}-abc", std::process::id()));
        let other = temp.path().join("relive-notapid");
        for dir in [&gone, &alive, &other] {
            std::fs::create_dir(dir).expect("mkdir");
        }
        std::fs::write(gone.join("libapp.gen1.so"), b"x").expect("file");
        remove_stale(temp.path());
        assert!(!gone.exists());
        assert!(alive.exists());
        assert!(other.exists());
    }
}
