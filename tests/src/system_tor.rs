//! Helpers for the system-Tor tests: a port nothing listens on, the TCP
//! connections a process holds (from /proc), and a Burrow started with
//! `TOR_SOCKS_HOST`/`TOR_SOCKS_PORT` in its environment.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use crate::Burrow;

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// The remote ports of the established TCP connections that process `pid`
/// holds: its socket inodes (/proc/PID/fd) looked up in /proc/net/tcp{,6}.
pub fn connected_remote_ports(pid: u32) -> Vec<u16> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return Vec::new() };
    let inodes: Vec<String> = entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(remote), Some(state), Some(inode)) = (fields.get(2), fields.get(3), fields.get(9)) else { continue };
            const ESTABLISHED: &str = "01";
            if *state != ESTABLISHED || !inodes.iter().any(|ours| ours == inode) {
                continue;
            }
            if let Some(port) = remote.rsplit(':').next().and_then(|hex| u16::from_str_radix(hex, 16).ok()) {
                ports.push(port);
            }
        }
    }
    ports
}

impl Burrow {
    /// A Burrow on `profile` with `environment` added, its store unlocked.
    pub fn unlocked_with_environment(profile: &Path, environment: &[(&str, String)]) -> Burrow {
        let environment: Vec<(&str, &str)> = environment.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let mut burrow = Burrow::start_with_environment(&crate::binary("burrow"), profile, &[], &environment);
        burrow.send("/unlock test passphrase");
        burrow.expect_event("unlocked", Duration::from_secs(30));
        burrow
    }
}
