//! The channel between the broker and its launcher.
//!
//! The launcher is the part of `burrow` that stays able to start processes,
//! because seccomp and Landlock are inherited across `execve`: a broker that
//! could spawn children itself would need every permission its children
//! need. The broker may ask only for the three fixed roles; it names no path,
//! argument or process id.

use bincode::{Decode, Encode};

use crate::types::Role;

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ToLauncher {
    /// Start the child for this role. Answered by `Spawned`, with the
    /// broker's end of a fresh socket pair attached, or `SpawnFailed`.
    Spawn(Role),
    /// Kill the running child for this role; its exit is reported as usual.
    Kill(Role),
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FromLauncher {
    Spawned { role: Role, pid: u32 },
    SpawnFailed { role: Role, reason: String },
    Exited { role: Role, pid: u32, how: ExitHow },
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
            ExitHow::Signal(31) => write!(formatter, "killed by SIGSYS (a forbidden system call)"),
            ExitHow::Signal(signal) => write!(formatter, "killed by signal {signal}"),
        }
    }
}
