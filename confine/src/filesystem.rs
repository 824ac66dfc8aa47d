//! Landlock: which paths a process may use and which TCP ports it may reach.

use std::path::{Path, PathBuf};

use ipc::LandlockStatus;
use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use crate::{ConfineError, Policy};

/// The Landlock ABI whose rights Burrow asks for. "full" means the kernel
/// enforces every right of this ABI (Linux 6.12 and later); on older kernels
/// the missing rights are reported as "partial".
pub const TARGET_ABI: ABI = ABI::V6;

/// Paths beneath which a process may act. Everything else is denied.
#[derive(Debug, Default, Clone)]
pub struct Filesystem {
    pub read: Vec<PathBuf>,
    pub read_execute: Vec<PathBuf>,
    pub read_write: Vec<PathBuf>,
    /// Paths that may be absent on some systems; skipped when missing.
    pub read_if_present: Vec<PathBuf>,
}

/// TCP under Landlock (ABI 4 and later).
#[derive(Debug, Clone)]
pub enum Tcp {
    /// No bind, no connect, to any port.
    Deny,
    /// No bind; connect only to these ports.
    ConnectOnly(Vec<u16>),
    /// No bind; connect to any port. For a process whose peers' ports are
    /// not known when it starts (Tor relays, or loopback test servers); what
    /// it may reach is then enforced by its own dialer, and by seccomp's
    /// refusal of every socket but TCP.
    ConnectAnyPort,
}

fn landlock_error(error: impl std::fmt::Display) -> ConfineError {
    ConfineError::Landlock(error.to_string())
}

pub(crate) fn restrict(policy: &Policy) -> Result<LandlockStatus, ConfineError> {
    let rules = &policy.filesystem;
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(TARGET_ABI))
        .map_err(landlock_error)?
        .handle_access(match policy.tcp {
            Tcp::ConnectAnyPort => landlock::BitFlags::from(AccessNet::BindTcp),
            Tcp::Deny | Tcp::ConnectOnly(_) => AccessNet::from_all(TARGET_ABI),
        })
        .map_err(landlock_error)?;
    if policy.scope_signals {
        ruleset = ruleset.scope(Scope::Signal).map_err(landlock_error)?;
    }
    if policy.scope_abstract_unix_sockets {
        ruleset = ruleset.scope(Scope::AbstractUnixSocket).map_err(landlock_error)?;
    }
    let present: Vec<&PathBuf> =
        rules.read_if_present.iter().filter(|path| Path::new(path).exists()).collect();
    let mut created = ruleset
        .create()
        .map_err(landlock_error)?
        .add_rules(path_beneath_rules(&rules.read, AccessFs::from_read(TARGET_ABI)))
        .map_err(landlock_error)?
        .add_rules(path_beneath_rules(present, AccessFs::from_read(TARGET_ABI)))
        .map_err(landlock_error)?
        .add_rules(path_beneath_rules(
            &rules.read_execute,
            AccessFs::from_read(TARGET_ABI) | AccessFs::Execute,
        ))
        .map_err(landlock_error)?
        .add_rules(path_beneath_rules(&rules.read_write, AccessFs::from_all(TARGET_ABI) & !AccessFs::Execute))
        .map_err(landlock_error)?;
    if let Tcp::ConnectOnly(ports) = &policy.tcp {
        for port in ports {
            created = created
                .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
                .map_err(landlock_error)?;
        }
    }
    let status = created.restrict_self().map_err(landlock_error)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => LandlockStatus::Full,
        RulesetStatus::PartiallyEnforced => LandlockStatus::Partial,
        RulesetStatus::NotEnforced => LandlockStatus::None,
    })
}
