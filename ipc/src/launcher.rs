//! The channel between the broker and its launcher.
//!
//! The launcher is the part of `burrow` that stays able to start processes,
//! because seccomp and Landlock are inherited across `execve`: a broker that
//! could spawn children itself would need every permission its children
//! need. The broker may ask only for the three fixed roles; it names no path,
//! argument or process id.

use bincode::{Decode, Encode};

use crate::import::{ImportFile, ImportSource};
use crate::types::Role;

/// The largest certificate file the launcher reads.
pub const MAX_CERTIFICATE_FILE: u64 = 256 * 1024;


#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ToLauncher {
    /// Start the child for this role. Answered by `Spawned`, with the
    /// broker's end of a fresh socket pair attached, or `SpawnFailed`.
    Spawn(Role),
    /// Kill the running child for this role; its exit is reported as usual.
    Kill(Role),
    /// Read a file of PEM certificates the user named.
    ReadCertificates { request: u64, path: String },
    /// Read the files another client keeps, for `/import`: only the names
    /// `source.wanted_files()` lists, in `directory` or the client's own.
    ReadImport { request: u64, source: ImportSource, directory: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FromLauncher {
    Spawned { role: Role, pid: u32 },
    SpawnFailed { role: Role, reason: String },
    Exited { role: Role, pid: u32, how: ExitHow },
    /// The file's bytes, or why it cannot be used, in plain words.
    Certificates { request: u64, result: Result<Vec<u8>, String> },
    /// The files read for an import (with what was left out and why), or
    /// why none could be.
    ImportFiles { request: u64, result: Result<(Vec<ImportFile>, Vec<String>), String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum ExitHow {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for ExitHow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitHow::Code(code) => write!(formatter, "exited with status {code}"),
            ExitHow::Signal(31) => write!(formatter, "was killed by SIGSYS (a forbidden system call)"),
            ExitHow::Signal(signal) => write!(formatter, "was killed by signal {signal}"),
        }
    }
}

/// Whether `text` is one or more PEM certificates and nothing else (blank
/// lines aside): the check the launcher makes before it hands a file over.
pub fn is_only_certificates(text: &[u8]) -> bool {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let Ok(text) = std::str::from_utf8(text) else { return false };
    let mut inside = false;
    let mut certificates = 0;
    for line in text.lines().map(str::trim) {
        match (inside, line) {
            (_, "") => {}
            (false, BEGIN) => inside = true,
            (true, END) => {
                inside = false;
                certificates += 1;
            }
            (true, body) if body.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"+/=".contains(&byte)) => {}
            _ => return false,
        }
    }
    !inside && certificates > 0
}

#[cfg(test)]
mod tests {
    use super::is_only_certificates;

    #[test]
    fn only_certificate_blocks_pass() {
        let certificate = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\nAbC+/=\n-----END CERTIFICATE-----\n";
        assert!(is_only_certificates(certificate.as_bytes()));
        assert!(is_only_certificates(format!("{certificate}\n{certificate}").as_bytes()));
        assert!(!is_only_certificates(b""));
        assert!(!is_only_certificates(b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"));
        assert!(!is_only_certificates(format!("{certificate}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").as_bytes()));
        assert!(!is_only_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA\n"));
        assert!(!is_only_certificates(format!("root:x:0:0\n{certificate}").as_bytes()));
    }
}
