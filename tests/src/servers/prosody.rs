//! Prosody 0.12 (Debian's `prosody` package) on 127.0.0.1, with its own config,
//! data directory, pid file and logs under `servers::run_dir()`.
//!
//! - VirtualHost `prosody.test`: certificate for `prosody.test` from `Pki::shared()`.
//! - VirtualHost `wrong.test`: presents the certificate of `other.test` (same
//!   CA), so a client that connects for `wrong.test` is shown the wrong name.
//! - c2s on one port with STARTTLS required, direct TLS (XEP-0368,
//!   `c2s_direct_tls_ports`) on another; SNI picks the certificate there.
//! - `internal_hashed` authentication (SCRAM-SHA-1 stored keys), no s2s, no
//!   carbons, no offline storage, mod_smacks on; no registration, except in
//!   an instance from `start_with_registration` (mod_register, in-band
//!   registration allowed, throttled at most once a second per address,
//!   which loopback is exempt from anyway).
//! - Run as whoever runs the tests; as root with `run_as_root = true` (else
//!   mod_posix refuses root).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{instance_dir, log_tail, random_token, reserve_port, spawn_supervised, wait_until_serving};
use crate::pki::Pki;

pub const DOMAIN: &str = "prosody.test";
/// A host whose certificate names `WRONG_CERT_NAME` instead.
pub const WRONG_DOMAIN: &str = "wrong.test";
pub const WRONG_CERT_NAME: &str = "other.test";

pub struct Prosody {
    dir: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    debug_log_path: PathBuf,
    console_path: PathBuf,
    starttls_port: u16,
    direct_tls_port: u16,
    pid: u32,
    child: Mutex<Child>,
    started_in: Duration,
    accounts: AtomicU32,
}

impl Prosody {
    /// The Prosody of this test process, started on first use.
    pub fn shared() -> &'static Prosody {
        static SHARED: OnceLock<Prosody> = OnceLock::new();
        SHARED.get_or_init(Prosody::start)
    }

    /// A Prosody of its own (killed when dropped).
    pub fn start() -> Prosody {
        Prosody::start_with_modules(&[])
    }

    /// A Prosody of its own with these modules enabled too (`stanza_debug`
    /// writes every stanza in full to the debug log).
    pub fn start_with_modules(extra_modules: &[&str]) -> Prosody {
        Prosody::start_configured(extra_modules, None)
    }

    /// A Prosody of its own that lets clients create accounts (XEP-0077),
    /// asking also for `additional_fields` (Prosody's names: `name`,
    /// `email`…, with `+` for a required one).
    pub fn start_with_registration(additional_fields: &[&str]) -> Prosody {
        Prosody::start_configured(&["register"], Some(additional_fields))
    }

    fn start_configured(extra_modules: &[&str], registration: Option<&[&str]>) -> Prosody {
        let begun = Instant::now();
        let pki = Pki::shared();
        let good = pki.leaf(&[DOMAIN]);
        let wrong = pki.leaf(&[WRONG_CERT_NAME]);
        let dir = instance_dir("prosody");
        let data = dir.join("data");
        let certs = dir.join("certs");
        std::fs::create_dir_all(&data).expect("prosody data dir");
        std::fs::create_dir_all(&certs).expect("prosody certs dir");
        let (starttls_port, direct_tls_port) = (reserve_port(), reserve_port());
        let config_path = dir.join("prosody.cfg.lua");
        let log_path = dir.join("prosody.log");
        let debug_log_path = dir.join("prosody.debug.log");
        let console_path = dir.join("console.log");
        let ssl = |leaf: &crate::pki::Leaf| {
            format!("{{ certificate = {:?}; key = {:?}; }}", leaf.cert_pem_path.display().to_string(), leaf.key_pem_path.display().to_string())
        };
        let config = format!(
            r#"-- Written by burrow-tests (servers::prosody)
run_as_root = true
pidfile = {pidfile:?}
data_path = {data:?}
certificates = {certs:?}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {starttls_port} }}
c2s_direct_tls_ports = {{ {direct_tls_port} }}
legacy_ssl_ports = {{ }}
s2s_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_require_encryption = true
s2s_require_encryption = true
{registration}
authentication = "internal_hashed"
storage = "internal"
log = {{ info = {log:?}; debug = {debug_log:?}; }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "smacks"; "posix"; {extra} }}
modules_disabled = {{ "s2s"; "s2s_auth_certs"; "offline"; "carbons"; }}
c2s_direct_tls_ssl = {good_ssl}

VirtualHost "{DOMAIN}"
    ssl = {good_ssl}
    c2s_direct_tls_ssl = {good_ssl}

VirtualHost "{WRONG_DOMAIN}"
    ssl = {wrong_ssl}
    c2s_direct_tls_ssl = {wrong_ssl}
"#,
            pidfile = dir.join("prosody.pid").display().to_string(),
            data = data.display().to_string(),
            certs = certs.display().to_string(),
            log = log_path.display().to_string(),
            debug_log = debug_log_path.display().to_string(),
            registration = match registration {
                None => "allow_registration = false".to_owned(),
                Some(fields) => format!(
                    "allow_registration = true\nmin_seconds_between_registrations = 1\nadditional_registration_fields = {{ {} }}",
                    fields.iter().map(|field| format!("{field:?};")).collect::<Vec<_>>().join(" ")
                ),
            },
            extra = extra_modules.iter().map(|module| format!("{module:?};")).collect::<Vec<_>>().join(" "),
            good_ssl = ssl(&good),
            wrong_ssl = ssl(&wrong),
        );
        std::fs::write(&config_path, config).expect("write prosody config");
        let console = std::fs::File::create(&console_path).expect("console log");
        let config_arg = config_path.display().to_string();
        let mut child = spawn_supervised("prosody", &["--config", &config_arg, "-F"], |command| {
            command
                .current_dir(&dir)
                .env("HOME", &dir)
                .stdin(Stdio::null())
                .stdout(console.try_clone().expect("console log"))
                .stderr(console);
        })
        .expect("start prosody (apt-get install prosody lua-sec)");
        let pid = child.id();
        wait_until_serving("prosody", &mut child, starttls_port, DOMAIN, Duration::from_secs(30), &[&log_path, &console_path]);
        Prosody {
            dir,
            config_path,
            log_path,
            debug_log_path,
            console_path,
            starttls_port,
            direct_tls_port,
            pid,
            child: Mutex::new(child),
            started_in: begun.elapsed(),
            accounts: AtomicU32::new(0),
        }
    }

    pub fn domain(&self) -> &str {
        DOMAIN
    }

    /// The host that presents a certificate for `other.test`.
    pub fn wrong_domain(&self) -> &str {
        WRONG_DOMAIN
    }

    pub fn starttls_port(&self) -> u16 {
        self.starttls_port
    }

    pub fn direct_tls_port(&self) -> u16 {
        self.direct_tls_port
    }

    /// The test CA (what Burrow gets as `ca=PEM_PATH`).
    pub fn ca_pem_path(&self) -> &Path {
        Pki::shared().ca_pem_path()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn debug_log_path(&self) -> &Path {
        &self.debug_log_path
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// From spawning to serving stream features.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Registers `USER.N@prosody.test` (`user` made unique) with a random
    /// password: returns (bare JID, password).
    pub fn create_account(&self, user: &str) -> (String, String) {
        self.create_account_on(DOMAIN, user)
    }

    /// Same, on another VirtualHost (`wrong.test`).
    pub fn create_account_on(&self, host: &str, user: &str) -> (String, String) {
        let n = self.accounts.fetch_add(1, Ordering::SeqCst);
        let user = format!("{}.{n}", user.to_lowercase());
        let password = random_token(24);
        let output = Command::new("prosodyctl")
            .arg("--config")
            .arg(&self.config_path)
            .args(["register", &user, host, &password])
            .env("HOME", &self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("run prosodyctl");
        assert!(
            output.status.success(),
            "prosodyctl register {user} {host} failed: {}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            log_tail(&self.log_path, 20)
        );
        (format!("{user}@{host}"), password)
    }

    /// Stops this instance now (SIGKILL). The shared one is never dropped:
    /// it dies with the test process.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn console_path(&self) -> &Path {
        &self.console_path
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.kill();
    }
}
