//! Sandbox death tests, in the style of Chromium's BPF_DEATH_TEST and Tor's
//! test_sandbox: each real binary runs under its real policy
//! (`--sandbox-self-test`), tries one thing, and the test checks how that
//! ended: every forbidden action beside the allowed action it resembles.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use burrow_tests::{binary, self_test, Outcome, Scratch, EACCES, EPERM, SIGSYS};

/// A profile directory laid out as the launcher lays it out, with a file in
/// each child's directory, and a fake home holding an SSH key.
struct Profile {
    scratch: Scratch,
}

impl Profile {
    fn new(label: &str) -> Self {
        let scratch = Scratch::new(label);
        for sub in ["profile/crypto", "profile/net", "home/.ssh"] {
            std::fs::create_dir_all(scratch.path().join(sub)).unwrap();
        }
        std::fs::write(scratch.path().join("profile/crypto/store"), b"store").unwrap();
        std::fs::write(scratch.path().join("profile/net/tor-state"), b"state").unwrap();
        std::fs::write(scratch.path().join("home/.ssh/id_ed25519"), b"secret key").unwrap();
        Self { scratch }
    }
    fn dir(&self) -> PathBuf {
        self.scratch.path().join("profile")
    }
    fn path(&self, relative: &str) -> String {
        self.scratch.path().join(relative).display().to_string()
    }
}

fn crypto(profile: &Profile, action: &str, argument: Option<&str>) -> Outcome {
    self_test(&binary("burrow-crypto"), &[], &profile.dir(), &[], action, argument)
}

fn net(profile: &Profile, extra: &[&str], action: &str, argument: Option<&str>) -> Outcome {
    self_test(&binary("burrow-net"), &[], &profile.dir(), extra, action, argument)
}

fn ui(profile: &Profile, action: &str, argument: Option<&str>) -> Outcome {
    self_test(&binary("burrow-ui"), &[], &profile.dir(), &[], action, argument)
}

fn broker(profile: &Profile, action: &str, argument: Option<&str>) -> Outcome {
    self_test(&binary("burrow"), &["--internal-broker"], &profile.dir(), &[], action, argument)
}

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    (listener, address)
}

fn real_ssh_dir() -> Option<String> {
    let home = std::env::var("HOME").ok()?;
    let ssh = Path::new(&home).join(".ssh");
    ssh.is_dir().then(|| ssh.display().to_string())
}

// ── crypto ──────────────────────────────────────────────────────────────

#[test]
fn crypto_reads_and_writes_its_store_but_no_other_file() {
    let profile = Profile::new("crypto-files");
    assert_eq!(crypto(&profile, "read", Some(&profile.path("profile/crypto/store"))), Outcome::Allowed);
    assert_eq!(crypto(&profile, "write", Some(&profile.path("profile/crypto/new"))), Outcome::Allowed);
    assert_eq!(crypto(&profile, "read", Some(&profile.path("home/.ssh/id_ed25519"))), Outcome::Errno(EACCES));
    assert_eq!(crypto(&profile, "list", Some(&profile.path("home/.ssh"))), Outcome::Errno(EACCES));
    if let Some(ssh) = real_ssh_dir() {
        assert_eq!(crypto(&profile, "list", Some(&ssh)), Outcome::Errno(EACCES));
    }
    assert_eq!(crypto(&profile, "read", Some(&profile.path("profile/net/tor-state"))), Outcome::Errno(EACCES));
    assert_eq!(crypto(&profile, "read", Some("/etc/passwd")), Outcome::Errno(EACCES));
    assert_eq!(crypto(&profile, "write", Some("/tmp/burrow-crypto-escape")), Outcome::Errno(EACCES));
}

#[test]
fn crypto_dies_on_any_socket() {
    let profile = Profile::new("crypto-socket");
    assert_eq!(crypto(&profile, "inet-socket", None), Outcome::Signal(SIGSYS));
    assert_eq!(crypto(&profile, "unix-socket", None), Outcome::Signal(SIGSYS));
    assert_eq!(crypto(&profile, "udp-socket", None), Outcome::Signal(SIGSYS));
}

#[test]
fn crypto_dies_on_exec_fork_ptrace_and_io_uring() {
    let profile = Profile::new("crypto-exec");
    for action in ["execve", "spawn", "ptrace", "io-uring", "make-dumpable"] {
        assert_eq!(crypto(&profile, action, None), Outcome::Signal(SIGSYS), "{action}");
    }
}

// ── net ─────────────────────────────────────────────────────────────────

#[test]
fn net_keeps_its_tor_state_but_cannot_read_the_profile() {
    let profile = Profile::new("net-files");
    assert_eq!(net(&profile, &[], "read", Some(&profile.path("profile/net/tor-state"))), Outcome::Allowed);
    assert_eq!(net(&profile, &[], "write", Some(&profile.path("profile/net/new"))), Outcome::Allowed);
    assert_eq!(net(&profile, &[], "list", Some(&profile.dir().display().to_string())), Outcome::Errno(EACCES));
    assert_eq!(net(&profile, &[], "read", Some(&profile.path("profile/crypto/store"))), Outcome::Errno(EACCES));
    assert_eq!(net(&profile, &[], "read", Some(&profile.path("home/.ssh/id_ed25519"))), Outcome::Errno(EACCES));
    // The system's certificate authorities, and nothing else of /etc.
    if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        assert_eq!(net(&profile, &[], "read", Some("/etc/ssl/certs/ca-certificates.crt")), Outcome::Allowed);
    }
    assert_eq!(net(&profile, &[], "read", Some("/etc/passwd")), Outcome::Errno(EACCES));
}

#[test]
fn net_connects_only_to_the_port_it_was_given_if_one_is_given() {
    let profile = Profile::new("net-tcp");
    let (_allowed, allowed_address) = listener();
    let (_other, other_address) = listener();
    let allowed_port = allowed_address.rsplit(':').next().unwrap().to_string();
    let given = ["--allow-connect", allowed_port.as_str()];
    assert_eq!(net(&profile, &given, "tcp-connect", Some(&allowed_address)), Outcome::Allowed);
    assert_eq!(net(&profile, &given, "tcp-connect", Some(&other_address)), Outcome::Errno(EACCES));
    // Without a port given (the loopback dialer of this version, embedded
    // arti later), Landlock leaves connect open; the dialer decides.
    assert_eq!(net(&profile, &[], "tcp-connect", Some(&other_address)), Outcome::Allowed);
    // Nothing listens: bind is not even in the allow-list.
    assert_eq!(net(&profile, &given, "tcp-listen", Some("127.0.0.1:0")), Outcome::Signal(SIGSYS));
}

#[test]
fn net_opens_tcp_sockets_but_dies_on_udp_and_unix_ones() {
    let profile = Profile::new("net-socket");
    // In both modes: any port (embedded Tor) and the SOCKS port alone
    // (system Tor).
    let (_socks, socks_address) = listener();
    let socks_port = socks_address.rsplit(':').next().unwrap().to_string();
    for mode in [&[][..], &["--allow-connect", socks_port.as_str()][..]] {
        assert_eq!(net(&profile, mode, "inet-socket", None), Outcome::Allowed, "{mode:?}");
        assert_eq!(net(&profile, mode, "udp-socket", None), Outcome::Signal(SIGSYS), "{mode:?}");
        assert_eq!(net(&profile, mode, "unix-socket", None), Outcome::Signal(SIGSYS), "{mode:?}");
        assert_eq!(net(&profile, mode, "tcp-listen", Some("127.0.0.1:0")), Outcome::Signal(SIGSYS), "{mode:?}");
    }
}

#[test]
fn net_dies_on_exec_fork_ptrace_and_io_uring() {
    let profile = Profile::new("net-exec");
    for action in ["execve", "spawn", "ptrace", "io-uring", "make-dumpable"] {
        assert_eq!(net(&profile, &[], action, None), Outcome::Signal(SIGSYS), "{action}");
    }
}

// ── ui ──────────────────────────────────────────────────────────────────

#[test]
fn ui_may_use_unix_sockets_but_not_tcp() {
    let profile = Profile::new("ui-net");
    let (_listener, address) = listener();
    assert_eq!(ui(&profile, "unix-socket", None), Outcome::Allowed);
    assert_eq!(ui(&profile, "tcp-connect", Some(&address)), Outcome::Errno(EPERM));
    assert_eq!(ui(&profile, "inet-socket", None), Outcome::Errno(EPERM));
    assert_eq!(ui(&profile, "udp-socket", None), Outcome::Errno(EPERM));
}

#[test]
fn ui_reads_no_file_in_text_mode() {
    let profile = Profile::new("ui-files");
    assert_eq!(ui(&profile, "read", Some(&profile.path("profile/crypto/store"))), Outcome::Errno(EACCES));
    assert_eq!(ui(&profile, "read", Some(&profile.path("home/.ssh/id_ed25519"))), Outcome::Errno(EACCES));
    assert_eq!(ui(&profile, "write", Some("/tmp/burrow-ui-history")), Outcome::Errno(EACCES));
}

fn ui_gtk(profile: &Profile, action: &str, argument: Option<&str>) -> Outcome {
    self_test(&binary("burrow-ui"), &[], &profile.dir(), &["--gtk"], action, argument)
}

#[test]
fn ui_in_gtk_mode_reads_the_toolkit_and_fonts_only_and_reaches_no_network() {
    let profile = Profile::new("ui-gtk");
    let (_listener, address) = listener();
    assert_eq!(ui_gtk(&profile, "read", Some("/usr/share/glib-2.0/schemas/gschemas.compiled")), Outcome::Allowed);
    assert_eq!(ui_gtk(&profile, "read", Some("/etc/fonts/fonts.conf")), Outcome::Allowed);
    assert_eq!(ui_gtk(&profile, "read", Some(&profile.path("profile/crypto/store"))), Outcome::Errno(EACCES));
    assert_eq!(ui_gtk(&profile, "read", Some(&profile.path("home/.ssh/id_ed25519"))), Outcome::Errno(EACCES));
    assert_eq!(ui_gtk(&profile, "read", Some("/etc/passwd")), Outcome::Errno(EACCES));
    assert_eq!(ui_gtk(&profile, "write", Some("/tmp/burrow-ui-history")), Outcome::Errno(EACCES));
    assert_eq!(ui_gtk(&profile, "write", Some("/usr/share/burrow-ui-history")), Outcome::Errno(EACCES));
    assert_eq!(ui_gtk(&profile, "unix-socket", None), Outcome::Allowed);
    assert_eq!(ui_gtk(&profile, "tcp-connect", Some(&address)), Outcome::Errno(EPERM));
    assert_eq!(ui_gtk(&profile, "udp-socket", None), Outcome::Errno(EPERM));
    assert_eq!(ui_gtk(&profile, "execve", None), Outcome::Signal(SIGSYS));
}

#[test]
fn ui_dies_on_exec_ptrace_and_io_uring() {
    let profile = Profile::new("ui-exec");
    for action in ["execve", "ptrace", "io-uring"] {
        assert_eq!(ui(&profile, action, None), Outcome::Signal(SIGSYS), "{action}");
    }
}

// ── broker ──────────────────────────────────────────────────────────────

#[test]
fn broker_reads_proc_and_nothing_else() {
    let profile = Profile::new("broker-files");
    assert_eq!(broker(&profile, "read", Some("/proc/self/status")), Outcome::Allowed);
    assert_eq!(broker(&profile, "read", Some(&profile.path("profile/crypto/store"))), Outcome::Errno(EACCES));
    assert_eq!(broker(&profile, "read", Some("/etc/passwd")), Outcome::Errno(EACCES));
}

#[test]
fn broker_dies_on_sockets_exec_fork_ptrace_and_io_uring() {
    let profile = Profile::new("broker-exec");
    for action in ["inet-socket", "unix-socket", "execve", "spawn", "ptrace", "io-uring", "make-dumpable"] {
        assert_eq!(broker(&profile, action, None), Outcome::Signal(SIGSYS), "{action}");
    }
}
