//! Crash checkpoints on disk: the state saved by field name at every swap,
//! before any new code runs, so that a new process can start from it after
//! a crash.
//!
//! Writing must be cheap (it is part of the swap pause) and a crash halfway
//! through a write must never leave an unreadable checkpoint. So there are
//! two files, written in turn with a single positioned write each, each with
//! a header (magic, sequence number, length, checksum): a reader takes the
//! newer of the two that is complete.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const MAGIC: [u8; 8] = *b"relivecp";
const HEADER: usize = 8 + 8 + 8 + 8;

fn paths(base: &Path) -> [PathBuf; 2] {
    [base.with_extension("0"), base.with_extension("1")]
}

/// FNV-1a, 64 bits: enough to tell a torn write from a complete one.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The writer's side: two files written in turn.
#[derive(Debug)]
pub struct CheckpointWriter {
    files: [File; 2],
    next: Mutex<(usize, u64)>,
}

impl CheckpointWriter {
    /// Creates (or truncates) the two files next to `base`, readable and
    /// writable by the user only.
    pub fn create(base: &Path) -> std::io::Result<CheckpointWriter> {
        let open = |path: &PathBuf| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
        };
        let [a, b] = paths(base);
        let files = [open(&a)?, open(&b)?];
        // Continue the sequence of what is there, so that a resumed runner's
        // first checkpoint is the newest.
        let (slot, seq) = [&files[0], &files[1]]
            .iter()
            .enumerate()
            .filter_map(|(i, f)| read_file(f).map(|(seq, _)| (i, seq)))
            .max_by_key(|&(_, seq)| seq)
            .map_or((0, 0), |(i, seq)| (1 - i, seq + 1));
        Ok(CheckpointWriter {
            files,
            next: Mutex::new((slot, seq)),
        })
    }

    /// Writes `state` over the older file: one positioned write.
    pub fn write(&self, state: &[u8]) -> std::io::Result<()> {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (slot, seq) = *next;
        let mut record = Vec::with_capacity(HEADER + state.len());
        record.extend_from_slice(&MAGIC);
        record.extend_from_slice(&seq.to_le_bytes());
        record.extend_from_slice(&(state.len() as u64).to_le_bytes());
        record.extend_from_slice(&checksum(state).to_le_bytes());
        record.extend_from_slice(state);
        self.files[slot].write_all_at(&record, 0)?;
        *next = (1 - slot, seq + 1);
        Ok(())
    }
}

fn read_file(file: &File) -> Option<(u64, Vec<u8>)> {
    let mut header = [0u8; HEADER];
    file.read_exact_at(&mut header, 0).ok()?;
    let word = |i: usize| header[i..i + 8].try_into().ok().map(u64::from_le_bytes);
    if header[..8] != MAGIC {
        return None;
    }
    let (seq, len, sum) = (word(8)?, word(16)?, word(24)?);
    let mut state = vec![0u8; usize::try_from(len).ok()?];
    file.read_exact_at(&mut state, HEADER as u64).ok()?;
    (checksum(&state) == sum).then_some((seq, state))
}

/// The newest complete checkpoint next to `base`, if any.
pub fn read_latest(base: &Path) -> Option<Vec<u8>> {
    paths(base)
        .iter()
        .filter_map(|path| File::open(path).ok())
        .filter_map(|file| read_file(&file))
        .max_by_key(|(seq, _)| *seq)
        .map(|(_, state)| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_complete_checkpoint_wins_and_a_torn_one_is_skipped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = dir.path().join("checkpoint");
        assert_eq!(read_latest(&base), None);
        let writer = CheckpointWriter::create(&base).expect("create");
        writer.write(b"first").expect("write");
        writer.write(b"second, longer").expect("write");
        assert_eq!(read_latest(&base).as_deref(), Some(&b"second, longer"[..]));
        writer.write(b"third").expect("write");
        assert_eq!(read_latest(&base).as_deref(), Some(&b"third"[..]));

        // Tear the newest (it went to file 0): the older one is used.
        let torn = paths(&base)[0].clone();
        let mut bytes = std::fs::read(&torn).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&torn, &bytes).expect("tear");
        assert_eq!(read_latest(&base).as_deref(), Some(&b"second, longer"[..]));

        // A new writer continues the sequence.
        let writer = CheckpointWriter::create(&base).expect("reopen");
        writer.write(b"fourth").expect("write");
        assert_eq!(read_latest(&base).as_deref(), Some(&b"fourth"[..]));
    }
}
