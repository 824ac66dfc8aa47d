//! Debian's real SOCKS5 server, `microsocks`, on 127.0.0.1, standing in for
//! the system Tor's SOCKS port; and a way to see, from /proc, which TCP
//! connections a process holds, to prove the SOCKS server carried one.
//!
//! microsocks 1.0.3 accepts one fixed user (`-u`/`-P`) or no
//! authentication; Burrow sends random credentials (as Tor's isolation
//! wants), so the tests run it without authentication and start Burrow with
//! `BURROW_TEST_SOCKS_NO_AUTH=1`, which adds "no authentication" to the
//! methods Burrow offers (username/password stays first).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Burrow;

pub const MICROSOCKS: &str = "/usr/bin/microsocks";

pub struct Microsocks {
    child: Child,
    port: u16,
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

impl Microsocks {
    /// microsocks on 127.0.0.1 at a free port, without authentication,
    /// ready when this returns.
    pub fn start() -> Microsocks {
        assert!(
            Path::new(MICROSOCKS).exists(),
            "{MICROSOCKS} is missing: install Debian's microsocks package (test.sh does: apt-get install microsocks)"
        );
        let port = free_port();
        let child = Command::new(MICROSOCKS)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start microsocks");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "microsocks did not listen on 127.0.0.1:{port} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Microsocks { child, port }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The environment that points Burrow at this server.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![("TOR_SOCKS_HOST", "127.0.0.1".into()), ("TOR_SOCKS_PORT", self.port.to_string()), ("BURROW_TEST_SOCKS_NO_AUTH", "1".into())]
    }
}

impl Drop for Microsocks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
