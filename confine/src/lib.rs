//! How a Burrow process confines itself. *What* each process may do is its
//! own `policy.rs`; this crate only knows how to put a [`Policy`] in force.
//!
//! [`confine`] must run first thing in `main`, while the process still has a
//! single thread: a new user namespace cannot be entered by a threaded
//! process, and Landlock (before ABI 8) binds only the calling thread and the
//! threads it starts later.
//!
//! The only `unsafe` code in Burrow is in [`sys`].
#![deny(unsafe_code)]

pub mod args;
pub mod child;
pub mod filesystem;
pub mod seccomp;
pub mod selftest;
pub mod sys;

use std::path::PathBuf;

use ipc::{ConfinementReport, LandlockStatus, NetnsStatus};

pub use filesystem::{Filesystem, Tcp};
pub use seccomp::{Cond, Rule, Seccomp};

/// Everything a process asks of the kernel before it reads any input.
pub struct Policy {
    /// Enter an empty network namespace (where user namespaces allow it).
    pub isolate_network: bool,
    pub filesystem: Filesystem,
    pub tcp: Tcp,
    /// Landlock scopes: no signals to, and no abstract Unix sockets of,
    /// processes outside this one's domain.
    pub scope_signals: bool,
    pub scope_abstract_unix_sockets: bool,
    pub seccomp: Seccomp,
    /// Refuse to run unless Landlock is fully enforced.
    pub strict: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("could not set up the process limits: {0}")]
    Limits(std::io::Error),
    #[error("Landlock ruleset failed: {0}")]
    Landlock(String),
    #[error("strict mode: Landlock is only {0} on this kernel, refusing to run")]
    NotStrict(&'static str),
    #[error("seccomp filter failed: {0}")]
    Seccomp(String),
}

/// Puts `policy` in force, in the one order that works, and reports what the
/// kernel actually enforces.
pub fn confine(policy: &Policy) -> Result<ConfinementReport, ConfineError> {
    sys::close_inherited_descriptors();
    // The namespace comes before making the process non-dumpable: a
    // non-dumpable process may no longer write its own uid_map.
    let netns = if policy.isolate_network && sys::enter_empty_network_namespace().is_ok() {
        NetnsStatus::Isolated
    } else {
        NetnsStatus::Shared
    };
    sys::harden_process().map_err(ConfineError::Limits)?;
    let landlock = filesystem::restrict(policy)?;
    if policy.strict && landlock != LandlockStatus::Full {
        return Err(ConfineError::NotStrict(landlock.name()));
    }
    sys::drop_capabilities();
    let no_new_privs = rustix::thread::no_new_privs().unwrap_or(false);
    seccomp::install(&policy.seccomp)?;
    Ok(ConfinementReport {
        no_new_privs,
        seccomp: true,
        landlock,
        netns,
    })
}

/// The directory that holds a process's own files inside the profile.
pub fn profile_subdirectory(profile: &std::path::Path, role: ipc::Role) -> PathBuf {
    profile.join(role.name())
}
