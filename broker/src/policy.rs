//! The broker's confinement, and what it lets its children inherit: the
//! policy, all of it.
//!
//! `burrow` runs as two processes. The **launcher** (the process the user
//! starts) only starts the three children and the broker, reaps them, and
//! kills them when told; it parses nothing but the broker's fixed requests.
//! Seccomp filters and Landlock domains are inherited across `execve`, so
//! the launcher cannot carry the broker's allow-list without handing it to
//! every child. It carries neither: no Landlock domain (each child writes
//! its own `/proc/self/uid_map` before it confines itself) and no
//! `no_new_privs`, without which no seccomp filter (no_new_privs would stop
//! AppArmor from moving each child into its own profile). It is made
//! non-dumpable and core-less, and its AppArmor profile confines it.
//!
//! The **broker** (`burrow --internal-broker`, started by the launcher) reads
//! every frame the children send. It gets an allow-list with no way to open
//! a socket, a file outside `/proc` (read-only, to check its children's
//! seccomp state), start a process or trace one, and an empty network
//! namespace.

use std::path::PathBuf;

use confine::seccomp::{any, runtime_baseline};
use confine::{Filesystem, Policy, Seccomp, Tcp};
use ipc::Role;

/// The broker proper: routes frames, holds no secret, no network, no display.
pub fn broker(strict: bool) -> Policy {
    let mut allow = runtime_baseline();
    allow.extend(
        [
            // /proc/PID/status of the children (Landlock: /proc, read-only)
            libc::SYS_openat,
            libc::SYS_newfstatat,
            libc::SYS_statx,
        ]
        .into_iter()
        .map(any),
    );
    Policy {
        isolate_network: true,
        filesystem: Filesystem { read: vec![PathBuf::from("/proc")], ..Filesystem::default() },
        tcp: Tcp::Deny,
        scope_signals: true,
        scope_abstract_unix_sockets: true,
        seccomp: Seccomp::AllowList { allow, fail_with: Vec::new() },
        strict,
    }
}

/// The only environment variables a child receives; everything else is
/// cleared, so that nothing of the user's session (proxies, preload
/// libraries, tokens) leaks into a sandbox that does not need it.
pub fn environment_for(role: Role) -> &'static [&'static str] {
    match role {
        // Display, locale and accessibility bus for the front end: the
        // locale variables gettext reads (the UI picks its language from
        // them) and LC_CTYPE (GTK's input and character classes). With the
        // bus addresses given, GLib never tries to start a bus itself (a
        // fork and exec that seccomp kills), and screen readers keep
        // working, which GTK_A11Y=none would end. BURROW_BENCH=1 makes the
        // GTK window print timing marks (counts and durations only) for
        // bench/gtk-ui.sh.
        Role::Ui => &[
            "LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LC_CTYPE", "DISPLAY", "WAYLAND_DISPLAY",
            "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS", "HOME",
            "BURROW_BENCH",
        ],
        // Where the system Tor's SOCKS port is (Tails sets both), the gap
        // between different accounts' logins (net-sandbox/src/spacing.rs),
        // and which DNS resolver net asks through Tor for SRV records (for
        // networks whose exits cannot reach the default; resolve.rs).
        Role::Net => &["TOR_SOCKS_HOST", "TOR_SOCKS_PORT", "BURROW_ACCOUNT_SPACING", "BURROW_DNS_RESOLVER"],
        Role::Crypto | Role::Broker => &[],
    }
}

/// The Landlock rule for the network process: when `TOR_SOCKS_PORT` names
/// the system Tor's SOCKS port (as in Tails), net may connect to that port
/// alone (`--allow-connect PORT`), so not even a compromised net can reach
/// anything but Tor. Without it (Tor found at 9050 or 9150, or a server on
/// this computer in `tor=auto`), no port rule: the dialers refuse in code.
pub fn net_connect_ports(tor_socks_port: Option<&str>) -> Vec<u16> {
    tor_socks_port.and_then(|port| port.parse::<u16>().ok()).filter(|port| *port != 0).into_iter().collect()
}

#[cfg(test)]
mod environment_tests {
    use super::*;

    #[test]
    fn only_a_real_port_becomes_a_rule() {
        assert_eq!(net_connect_ports(Some("9050")), [9050]);
        assert!(net_connect_ports(None).is_empty());
        assert!(net_connect_ports(Some("0")).is_empty());
        assert!(net_connect_ports(Some("nine")).is_empty());
        assert!(environment_for(Role::Net).contains(&"TOR_SOCKS_PORT"));
        assert!(environment_for(Role::Net).contains(&"BURROW_DNS_RESOLVER"));
        assert!(environment_for(Role::Crypto).is_empty());
    }

    /// The UI chooses its language as gettext does (ui-process/src/i18n.rs)
    /// and GTK sets its locale from these; no other LC_* is passed.
    #[test]
    fn the_ui_receives_the_locale_variables_gettext_reads() {
        let ui = environment_for(Role::Ui);
        for name in ["LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LC_CTYPE"] {
            assert!(ui.contains(&name), "{name}");
        }
        assert_eq!(ui.iter().filter(|name| name.starts_with("LC_")).count(), 3, "{ui:?}");
        for role in [Role::Net, Role::Crypto, Role::Broker] {
            assert!(!environment_for(role).iter().any(|name| name.starts_with("LANG") || name.starts_with("LC_")), "{role:?}");
        }
    }
}
