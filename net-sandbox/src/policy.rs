//! The network process's confinement: the policy, all of it.
//!
//! It is the only process that may open a network socket, and it parses
//! everything the network sends, so it is the one most likely to be
//! exploited. It may open TCP sockets (never UDP, never raw, never a Unix
//! socket), never bind or listen, never exec, never fork, never trace, read
//! the system's certificate authorities, and touch no other file but its own
//! directory of the profile, where Tor keeps its state. It cannot read the
//! store.
//!
//! Embedded Tor (arti) keeps its cache (SQLite) and state there too, so the
//! allow-list has the file calls they make. It asks no name service: what
//! arti would ask (home directory, the user's group) is asked before
//! confinement (`embedded::look_up_before_confinement`).
//!
//! Which ports it may connect to: with `--allow-connect PORT` only those, by
//! Landlock; the launcher gives it the system Tor's SOCKS port when
//! `TOR_SOCKS_PORT` names one (as in Tails). Without it, any port: Tor found
//! at 9050 or 9150 is chosen per connection, a loopback server in `tor=auto`
//! is on a port no one knows in advance, and so will be embedded arti's
//! relays; the dialers (`dialer.rs`) refuse in code everything but Tor's
//! SOCKS port and this computer.

use confine::args::ChildArgs;
use confine::seccomp::{any, runtime_baseline, when, Cond};
use confine::{Filesystem, Policy, Seccomp, Tcp};

pub fn policy(args: &ChildArgs) -> Result<Policy, String> {
    let own_directory = confine::profile_subdirectory(&args.profile_dir()?, ipc::Role::Net);
    Ok(Policy {
        isolate_network: false,
        filesystem: Filesystem {
            read_write: vec![own_directory],
            // The system's trust anchors (rustls-native-certs); on Debian the
            // files in /etc/ssl/certs link into /usr/share/ca-certificates,
            // or /usr/local/share/ca-certificates for a local authority.
            read_if_present: vec![
                "/etc/ssl/certs".into(),
                "/usr/share/ca-certificates".into(),
                "/usr/local/share/ca-certificates".into(),
            ],
            ..Filesystem::default()
        },
        tcp: match allowed_ports(args)? {
            ports if ports.is_empty() => Tcp::ConnectAnyPort,
            ports => Tcp::ConnectOnly(ports),
        },
        scope_signals: true,
        scope_abstract_unix_sockets: true,
        seccomp: Seccomp::AllowList { allow: allowed_syscalls(), fail_with: failing_syscalls() },
        strict: args.strict,
    })
}

/// `--allow-connect PORT`, given by the launcher (the Tor SOCKS port in
/// system-Tor mode).
pub(crate) fn allowed_ports(args: &ChildArgs) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    let mut flags = args.flags.iter();
    while let Some(flag) = flags.next() {
        if flag == "--allow-connect" {
            let port = flags.next().ok_or("--allow-connect needs a port")?;
            ports.push(port.parse().map_err(|_| format!("bad port {port:?}"))?);
        }
    }
    Ok(ports)
}

fn allowed_syscalls() -> Vec<confine::Rule> {
    // SOCK_NONBLOCK and SOCK_CLOEXEC share the type argument; the low bits
    // are the type itself.
    const SOCKET_TYPE_MASK: u64 = 0xf;
    let stream = libc::SOCK_STREAM as u64;
    let mut allow = runtime_baseline();
    // TCP over IPv4 or IPv6 only: no UDP (so no DNS outside Tor), no raw,
    // packet or SCTP sockets (which Landlock's TCP rules would not cover),
    // no new Unix sockets.
    for family in [libc::AF_INET, libc::AF_INET6] {
        for protocol in [0, libc::IPPROTO_TCP] {
            allow.push(when(
                libc::SYS_socket,
                &[
                    Cond::IntEq(0, family as u64),
                    Cond::MaskedEq(1, SOCKET_TYPE_MASK, stream),
                    Cond::IntEq(2, protocol as u64),
                ],
            ));
        }
    }
    allow.extend(
        [
            libc::SYS_connect,
            libc::SYS_getsockopt,
            libc::SYS_setsockopt,
            libc::SYS_getsockname,
            libc::SYS_getpeername,
            // Tor's state files (Landlock decides which)
            libc::SYS_openat,
            libc::SYS_newfstatat,
            libc::SYS_statx,
            libc::SYS_getdents64,
            libc::SYS_mkdirat,
            libc::SYS_unlinkat,
            libc::SYS_renameat2,
            libc::SYS_fsync,
            libc::SYS_fdatasync,
            libc::SYS_ftruncate,
            // Embedded Tor (arti), each seen under strace in tests/tests/tor_embedded.rs:
            // glibc's mkdir, unlink and rename on x86_64 are the old calls,
            // not the *at ones above (arti's directories, SQLite's journal,
            // arti's state files replaced whole);
            libc::SYS_mkdir,
            libc::SYS_unlink,
            libc::SYS_rename,
            // SQLite (arti's directory cache) reads and writes pages in place,
            // and asks whether a journal exists;
            libc::SYS_pread64,
            libc::SYS_pwrite64,
            libc::SYS_faccessat2,
            // arti locks its state and cache (one process per directory);
            libc::SYS_flock,
            // fs-mistrust follows each link on the way to arti's directories;
            libc::SYS_readlink,
            // who runs the process: fs-mistrust, SQLite and glibc ask.
            libc::SYS_geteuid,
            libc::SYS_getresuid,
            libc::SYS_getresgid,
            // Refused below with EPERM rather than run.
            libc::SYS_fchown,
        ]
        .into_iter()
        .map(any),
    );
    allow
}

/// Calls that are allowed only to fail. SQLite, when run as root, gives a
/// new journal the owner of its database with fchown; it ignores a
/// failure, and net needs to change no file's owner.
fn failing_syscalls() -> Vec<(confine::Rule, u32)> {
    vec![(any(libc::SYS_fchown), libc::EPERM as u32)]
}
