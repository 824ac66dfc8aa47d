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
//! Which ports it may connect to (Landlock): in system-Tor mode the SOCKS
//! port alone: the one `TOR_SOCKS_HOST`/`TOR_SOCKS_PORT` name (Tails; the
//! launcher also passes `--allow-connect PORT`), or the default port that
//! answered when net started (`tor_at_start`). Only when no system Tor
//! answers, any port: a loopback server in `tor=auto` is on a port no one
//! knows in advance, and so are embedded Tor's relays; the dialers
//! (`dialer.rs`) refuse in code everything but Tor and this computer.

use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use confine::args::ChildArgs;
use confine::seccomp::{any, runtime_baseline, when, Cond};
use confine::{Filesystem, Policy, Seccomp, Tcp};
use net_sandbox::dialer::SystemTor;

/// The system Tor as found when net started, before its confinement: where
/// its SOCKS port is, and whether net is held to that port alone.
#[derive(Clone, Debug)]
pub struct TorAtStart {
    pub tor: Result<SystemTor, String>,
    /// The one port Landlock lets net connect to, in system-Tor mode.
    pub only_port: Option<u16>,
}

static TOR_AT_START: OnceLock<TorAtStart> = OnceLock::new();

/// How long a default port has to accept the probe: a local tor answers
/// in microseconds.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// Decided once: `TOR_SOCKS_HOST`/`TOR_SOCKS_PORT` when set (Tails), and
/// then net may reach that port alone, even before Tor is up; else the
/// first of 127.0.0.1:9050 and :9150 that accepts a TCP connection, and
/// then that port alone too. Only when no system Tor answers does net keep
/// the right to connect to any port (a loopback server in `tor=auto`, or
/// embedded Tor's relays); its dialers still refuse everything but Tor.
pub fn tor_at_start() -> &'static TorAtStart {
    TOR_AT_START.get_or_init(|| {
        let variable = |name| std::env::var(name).ok();
        let tor = SystemTor::from_environment(variable("TOR_SOCKS_HOST").as_deref(), variable("TOR_SOCKS_PORT").as_deref());
        match tor {
            Ok(tor) if tor.configured => {
                let only_port = tor.candidates.first().map(SocketAddr::port);
                TorAtStart { tor: Ok(tor), only_port }
            }
            Ok(tor) => match tor.candidates.iter().find(|candidate| TcpStream::connect_timeout(candidate, PROBE_TIMEOUT).is_ok()) {
                Some(found) => TorAtStart { tor: Ok(SystemTor { candidates: vec![*found], configured: false }), only_port: Some(found.port()) },
                None => TorAtStart { tor: Ok(tor), only_port: None },
            },
            Err(problem) => TorAtStart { tor: Err(problem), only_port: None },
        }
    })
}

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
        tcp: {
            let mut ports = allowed_ports(args)?;
            ports.extend(tor_at_start().only_port);
            ports.sort_unstable();
            ports.dedup();
            if ports.is_empty() {
                Tcp::ConnectAnyPort
            } else {
                Tcp::ConnectOnly(ports)
            }
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
