//! The UI process's confinement: the policy, all of it.
//!
//! The UI shows what peers send, so it parses hostile text, and the GTK
//! front end pulls in a toolkit far too large to allow-list. It gets a
//! deny-list instead: whatever would let an exploit reach the network, run a
//! program, or reach into another process is refused. In text mode it needs
//! no file at all: stdin and stdout are already open. With `--gtk` it may
//! read the toolkit, its fonts and the display's cookie, and write nothing.

use std::path::PathBuf;

use confine::args::ChildArgs;
use confine::seccomp::{any, never_allowed, when, Cond};
use confine::{Filesystem, Policy, Seccomp, Tcp};

/// The flag the launcher adds when it starts the GTK front end.
pub const GTK_FLAG: &str = "--gtk";

pub fn policy(args: &ChildArgs) -> Result<Policy, String> {
    let filesystem = if args.has_flag(GTK_FLAG) { gtk_filesystem() } else { Filesystem::default() };
    Ok(Policy {
        isolate_network: true,
        filesystem,
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

/// Read-only, and only what GTK needs to draw (measured in
/// shared/refs/gtk4-confinement-notes.md): `/usr` holds the libraries GTK
/// loads later, its data, icons, fonts and translations; fontconfig's
/// configuration and cache. The X11 cookie file, where there is one, so the
/// display accepts the connection. Nothing is writable: no history, no
/// cache, no settings file can be left behind. The display, Wayland and
/// accessibility buses are pathname Unix sockets, which Landlock does not
/// govern.
fn gtk_filesystem() -> Filesystem {
    let mut read_if_present = vec![PathBuf::from("/var/cache/fontconfig"), PathBuf::from("/etc/gtk-4.0")];
    match std::env::var_os("XAUTHORITY").filter(|value| !value.is_empty()) {
        Some(cookie) => read_if_present.push(PathBuf::from(cookie)),
        None => {
            if let Some(home) = std::env::var_os("HOME").filter(|value| !value.is_empty()) {
                read_if_present.push(PathBuf::from(home).join(".Xauthority"));
            }
        }
    }
    Filesystem { read: vec![PathBuf::from("/usr"), PathBuf::from("/etc/fonts")], read_if_present, ..Filesystem::default() }
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
