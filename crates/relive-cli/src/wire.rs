//! The messages between `relive run` (the supervisor) and its runner
//! process, one JSON object per line over a Unix socket. The supervisor
//! stages libraries and says which to load; the runner loads and runs them
//! and reports what happens. Only paths inside the supervisor's private
//! folder are ever named.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use relive_host::{LoadTimings, RunEvent, Staged};
use serde::{Deserialize, Serialize};

/// A staged library, as sent to the runner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Library {
    /// Its generation number.
    pub number: u64,
    /// The built library it was copied from (for messages).
    pub artifact: PathBuf,
    /// The private copy to load.
    pub copy: PathBuf,
}

impl Library {
    /// The wire form of a staged library.
    pub fn from_staged(staged: &Staged) -> Library {
        Library {
            number: staged.number,
            artifact: staged.artifact.clone(),
            copy: staged.copy.clone(),
        }
    }

    /// Back to a staged library (load timings stay with the supervisor).
    pub fn staged(&self) -> Staged {
        Staged {
            number: self.number,
            artifact: self.artifact.clone(),
            copy: self.copy.clone(),
            timings: LoadTimings::default(),
        }
    }
}

/// Supervisor to runner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Load and start the first generation, fresh or from the checkpoint.
    Start {
        /// The library.
        library: Library,
        /// Load the state from the checkpoint file.
        resume: bool,
    },
    /// Load a new generation and swap it in.
    Offer {
        /// The library.
        library: Library,
    },
    /// Loop, go live or rewind (`relive loop`, `live`, `rewind`).
    Replay {
        /// What to do.
        command: relive_host::ReplayCommand,
    },
    /// End the program.
    Stop,
}

/// Runner to supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    /// Something happened to the program.
    Run(RunEvent),
    /// A staged library could not be opened.
    Refused {
        /// Its generation number.
        generation: u64,
        /// Why.
        reason: String,
    },
    /// A generation resumed from a checkpoint, which holds no
    /// `#[relive(keep)]` values: these fields start from `Default`.
    KeptReset {
        /// The generation that resumed.
        generation: u64,
        /// The paths of its kept fields.
        fields: Vec<String>,
    },
}

/// Writes one message as a line.
pub fn send<T: Serialize>(stream: &mut UnixStream, message: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// Reads messages until the peer closes the socket, calling `each`.
pub fn receive<T: for<'de> Deserialize<'de>>(
    stream: UnixStream,
    mut each: impl FnMut(T),
) -> std::io::Result<()> {
    for line in BufReader::new(stream).lines() {
        let line = line?;
        match serde_json::from_str(&line) {
            Ok(message) => each(message),
            Err(err) => eprintln!("relive: ignoring a malformed message ({err}): {line:.200}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_over_a_socket() {
        let (mut a, b) = UnixStream::pair().expect("socket pair");
        let library = Library {
            number: 3,
            artifact: "/x/libapp.so".into(),
            copy: "/tmp/relive-1/libapp.gen3.so".into(),
        };
        send(
            &mut a,
            &Command::Offer {
                library: library.clone(),
            },
        )
        .expect("send");
        send(&mut a, &Command::Stop).expect("send");
        drop(a);
        let mut got = Vec::new();
        receive::<Command>(b, |c| got.push(c)).expect("receive");
        assert_eq!(got, vec![Command::Offer { library }, Command::Stop]);
    }
}
