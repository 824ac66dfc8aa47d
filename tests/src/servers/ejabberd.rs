//! ejabberd 23.01 (Debian's `ejabberd` package) on 127.0.0.1, one instance per
//! password storage: SCRAM stored with SHA-1, SHA-256 or SHA-512
//! (`auth_password_format: scram`, `auth_scram_hash`), or plain storage (which
//! offers all six SCRAM variants).
//!
//! How it is started: not through `ejabberdctl` (which, as root, re-runs itself
//! as the `ejabberd` user through `su` and needs an Erlang node name, epmd and
//! a cookie), but as `erl ... -s ejabberd` directly, as whoever runs the tests,
//! *without Erlang distribution*: no node name, no epmd, no distribution port —
//! nothing listens but the two c2s ports. The VM's Erlang shell reads its
//! standard input, which this helper keeps as a pipe: accounts are created by
//! evaluating `ejabberd_auth:try_register/3` there, which takes milliseconds
//! where an `ejabberdctl register` would start a second VM. When the pipe
//! closes (the test process ends) the shell ends and the VM halts; on top of
//! that, the VM gets SIGKILL from `setpriv --pdeathsig`.
//!
//! Config: host `ejabberd.test`, one listener with `starttls_required: true`, one
//! with `tls: true` (direct TLS), mod_roster, mod_disco, mod_ping,
//! mod_stream_mgmt (resumption on), no s2s listener and `s2s_access: none`, no
//! HTTP, `disable_sasl_mechanisms: [digest-md5, x-oauth2]`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{instance_dir, log_tail, random_token, reserve_port, spawn_supervised, wait_until_serving};
use crate::pki::Pki;

pub const DOMAIN: &str = "ejabberd.test";

/// `auth_scram_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScramHash {
    Sha1,
    Sha256,
    Sha512,
}

/// How the instance stores passwords (`auth_password_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// `scram` with this `auth_scram_hash`: offers PLAIN and that one SCRAM (with -PLUS).
    Scram(ScramHash),
    /// `plain`: offers PLAIN and SCRAM-SHA-1/256/512, each with -PLUS.
    Plain,
}

impl From<ScramHash> for Storage {
    fn from(hash: ScramHash) -> Storage {
        Storage::Scram(hash)
    }
}

impl Storage {
    pub const ALL: [Storage; 4] = [Storage::Scram(ScramHash::Sha1), Storage::Scram(ScramHash::Sha256), Storage::Scram(ScramHash::Sha512), Storage::Plain];

    fn config(self) -> &'static str {
        match self {
            Storage::Scram(ScramHash::Sha1) => "auth_password_format: scram\nauth_scram_hash: sha",
            Storage::Scram(ScramHash::Sha256) => "auth_password_format: scram\nauth_scram_hash: sha256",
            Storage::Scram(ScramHash::Sha512) => "auth_password_format: scram\nauth_scram_hash: sha512",
            Storage::Plain => "auth_password_format: plain",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Storage::Scram(ScramHash::Sha1) => "ejabberd-sha1",
            Storage::Scram(ScramHash::Sha256) => "ejabberd-sha256",
            Storage::Scram(ScramHash::Sha512) => "ejabberd-sha512",
            Storage::Plain => "ejabberd-plain",
        }
    }
}

struct Shell {
    stdin: ChildStdin,
    answers: mpsc::Receiver<String>,
}

pub struct Ejabberd {
    storage: Storage,
    dir: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    console_path: PathBuf,
    starttls_port: u16,
    direct_tls_port: u16,
    pid: u32,
    child: Mutex<Child>,
    shell: Mutex<Shell>,
    started_in: Duration,
    accounts: AtomicU32,
}

impl Ejabberd {
    /// The instance of this test process for `storage` (`ScramHash::Sha512`,
    /// `Storage::Plain`...), started on first use.
    pub fn shared(storage: impl Into<Storage>) -> &'static Ejabberd {
        static SHARED: [OnceLock<Ejabberd>; 4] = [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let storage = storage.into();
        let index = Storage::ALL.iter().position(|s| *s == storage).expect("known storage");
        SHARED[index].get_or_init(|| Ejabberd::start(storage))
    }

    /// Starts (or finds) the shared instances for all of `storages` in parallel.
    pub fn shared_many(storages: &[Storage]) -> Vec<&'static Ejabberd> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = storages.iter().map(|storage| scope.spawn(move || Ejabberd::shared(*storage))).collect();
            handles.into_iter().map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        })
    }

    /// An instance of its own (killed when dropped).
    pub fn start(storage: Storage) -> Ejabberd {
        Ejabberd::start_configured(storage, false)
    }

    /// An instance of its own that lets clients create accounts (XEP-0077,
    /// mod_register open to all, no CAPTCHA, no wait between registrations).
    pub fn start_with_registration(storage: Storage) -> Ejabberd {
        Ejabberd::start_configured(storage, true)
    }

    fn start_configured(storage: Storage, registration: bool) -> Ejabberd {
        let begun = Instant::now();
        let leaf = Pki::shared().leaf(&[DOMAIN]);
        let dir = instance_dir(storage.label());
        let spool = dir.join("spool");
        let logs = dir.join("logs");
        std::fs::create_dir_all(&spool).expect("spool dir");
        std::fs::create_dir_all(&logs).expect("logs dir");
        let (starttls_port, direct_tls_port) = (reserve_port(), reserve_port());
        let config_path = dir.join("ejabberd.yml");
        let log_path = logs.join("ejabberd.log");
        let console_path = dir.join("console.log");
        let config = format!(
            r#"# Written by burrow-tests (servers::ejabberd)
hosts:
  - "{DOMAIN}"
loglevel: info
hide_sensitive_log_data: true
certfiles:
  - "{certfile}"
ca_file: "{ca_file}"
listen:
  -
    port: {starttls_port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
  -
    port: {direct_tls_port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    tls: true
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
auth_method: [internal]
{auth}
disable_sasl_mechanisms: ["digest-md5", "x-oauth2"]
s2s_access: none
acl:
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  c2s:
    allow: all
  register:
    {register_rule}
{registration_timeout}shaper_rules:
  c2s_shaper: none
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
  mod_stream_mgmt:
    resume_timeout: 300
    resend_on_timeout: if_offline
{register_module}"#,
            certfile = leaf.combined_pem_path.display(),
            ca_file = Pki::shared().ca_pem_path().display(),
            auth = storage.config(),
            register_rule = if registration { "allow: all" } else { "deny: all" },
            registration_timeout = if registration { "registration_timeout: infinity\n" } else { "" },
            register_module = if registration { "  mod_register:\n    access: register\n    ip_access: all\n    captcha_protected: false\n" } else { "" },
        );
        std::fs::write(&config_path, config).expect("write ejabberd config");
        let console = std::fs::File::create(&console_path).expect("console log");
        let mnesia_dir = format!("\"{}\"", spool.display());
        let args = ["+K", "true", "-env", "ERL_CRASH_DUMP_BYTES", "0", "-mnesia", "dir", &mnesia_dir, "-s", "ejabberd"];
        let mut child = spawn_supervised("erl", &args, |command| {
            command
                .current_dir(&spool)
                .env("HOME", &dir)
                .env("ERL_LIBS", erl_libs())
                .env("EJABBERD_CONFIG_PATH", &config_path)
                .env("EJABBERD_LOG_PATH", &log_path)
                .env("EJABBERD_PID_PATH", dir.join("ejabberd.pid"))
                .env("ERL_CRASH_DUMP", logs.join("erl_crash.dump"))
                .env("ERL_EPMD_ADDRESS", "127.0.0.1")
                .env_remove("ERL_FLAGS")
                .env_remove("ERL_AFLAGS")
                .env_remove("ERL_ZFLAGS")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(console.try_clone().expect("console log"));
        })
        .expect("start erl (apt-get install ejabberd)");
        let pid = child.id();
        let stdin = child.stdin.take().expect("erl stdin");
        let stdout = child.stdout.take().expect("erl stdout");
        let (answer_sender, answers) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("{}-stdout", storage.label()))
            .spawn(move || {
                let mut console = console;
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(console, "{line}");
                    if let Some(position) = line.find(ANSWER_MARK) {
                        let _ = answer_sender.send(line[position + ANSWER_MARK.len()..].to_string());
                    }
                }
            })
            .expect("stdout thread");
        wait_until_serving(storage.label(), &mut child, starttls_port, DOMAIN, Duration::from_secs(60), &[&log_path, &console_path]);
        Ejabberd {
            storage,
            dir,
            config_path,
            log_path,
            console_path,
            starttls_port,
            direct_tls_port,
            pid,
            child: Mutex::new(child),
            shell: Mutex::new(Shell { stdin, answers }),
            started_in: begun.elapsed(),
            accounts: AtomicU32::new(0),
        }
    }

    pub fn storage(&self) -> Storage {
        self.storage
    }

    pub fn domain(&self) -> &str {
        DOMAIN
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

    /// ejabberd's own log (`logs/ejabberd.log`).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The VM's standard output and error (the shell's answers, start-up errors).
    pub fn console_path(&self) -> &Path {
        &self.console_path
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pid of the Erlang VM (beam.smp).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// From spawning to serving stream features.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Registers `USER.N@ejabberd.test` (`user` made unique) with a random
    /// password: returns (bare JID, password).
    pub fn create_account(&self, user: &str) -> (String, String) {
        let n = self.accounts.fetch_add(1, Ordering::SeqCst);
        let user = format!("{}.{n}", user.to_lowercase());
        assert!(user.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "user name {user:?}: use [a-z0-9._-]");
        let password = random_token(24);
        let answer = self.eval(&format!("ejabberd_auth:try_register(<<\"{user}\">>, <<\"{DOMAIN}\">>, <<\"{password}\">>)"));
        assert_eq!(answer, "ok", "registering {user}@{DOMAIN} failed: {answer}\n{}", log_tail(&self.log_path, 20));
        (format!("{user}@{DOMAIN}"), password)
    }

    /// Evaluates an Erlang expression in the VM's shell; returns its value as `~p` prints it.
    pub fn eval(&self, expression: &str) -> String {
        static ASKED: AtomicU32 = AtomicU32::new(0);
        let tag = ASKED.fetch_add(1, Ordering::SeqCst);
        let mut shell = self.shell.lock().unwrap_or_else(|p| p.into_inner());
        let line = format!("io:format(\"~n{ANSWER_MARK}{tag} ~0p~n\", [catch ({expression})]).\n");
        shell.stdin.write_all(line.as_bytes()).and_then(|_| shell.stdin.flush()).expect("write to the ejabberd shell");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match shell.answers.recv_timeout(left) {
                Ok(answer) => {
                    if let Some(value) = answer.strip_prefix(&format!("{tag} ")).filter(|value| !value.starts_with("~0p")) {
                        return value.trim().to_string();
                    }
                }
                Err(_) => panic!("no answer from the ejabberd shell to {expression}; console:\n{}", log_tail(&self.console_path, 30)),
            }
        }
    }

    /// Stops this instance now (SIGKILL).
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        self.kill();
    }
}

const ANSWER_MARK: &str = "@@burrow-answer ";

/// `ERL_LIBS` as `ejabberdctl` sets it (where the ejabberd applications live).
fn erl_libs() -> String {
    if let Ok(script) = std::fs::read_to_string("/usr/sbin/ejabberdctl") {
        for line in script.lines() {
            if let Some(value) = line.trim().strip_prefix("ERL_LIBS=") {
                return value.trim_matches(['\'', '"']).to_string();
            }
        }
    }
    "/usr/lib/x86_64-linux-gnu".to_string()
}
