//! The UI process's confinement: the policy, all of it.
//!
//! The UI shows what peers send, so it parses hostile text, and the GTK
//! front end will pull in a toolkit far too large to allow-list. It gets a
//! deny-list instead: whatever would let an exploit reach the network, run a
//! program, or reach into another process is refused. In text mode it needs
//! no file at all: stdin and stdout are already open.

use confine::args::ChildArgs;
use confine::seccomp::{any, never_allowed, when, Cond};
use confine::{Filesystem, Policy, Seccomp, Tcp};

pub fn policy(args: &ChildArgs) -> Result<Policy, String> {
    Ok(Policy {
        isolate_network: true,
        filesystem: Filesystem::default(),
        tcp: Tcp::Deny,
        scope_signals: true,
        // The X11 client library gives up on an abstract socket it may not
        // reach instead of trying the path socket, so the GTK front end
        // needs this scope open.
        scope_abstract_unix_sockets: false,
        seccomp: Seccomp::DenyList { kill: killed_syscalls(), deny: refused_syscalls() },
        strict: args.strict,
    })
}

/// Calls that end the process: nothing legitimate in the UI makes them.
fn killed_syscalls() -> Vec<confine::Rule> {
    let mut kill = never_allowed();
    kill.extend([any(libc::SYS_execve), any(libc::SYS_execveat)]);
    kill
}

/// Network sockets fail with EPERM instead of killing the UI, because GLib
/// probes for them (network monitor, proxy resolver) and copes with a refusal.
fn refused_syscalls() -> Vec<(confine::Rule, u32)> {
    let eperm = libc::EPERM as u32;
    [libc::AF_INET, libc::AF_INET6, libc::AF_PACKET, libc::AF_NETLINK]
        .into_iter()
        .map(|family| (when(libc::SYS_socket, &[Cond::IntEq(0, family as u64)]), eperm))
        .collect()
}
