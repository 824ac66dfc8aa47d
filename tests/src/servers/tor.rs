//! A private Tor network on 127.0.0.1 (Debian's `tor` 0.4.9 package), made
//! fresh for every test process: see /work/shared/refs/tor-testnet-recipe.md
//! for where each option comes from.
//!
//! - 3 v3 directory authorities (`auth0`-`auth2`, keys from `tor-gencert` on
//!   every run; they are non-exit relays too), a middle relay (`relay0`) and two
//!   exits (`exit0`, `exit1`): 6 relays, what the recipe found the onion service
//!   needs. Each has an ORPort and a DirPort on reserved ports of 127.0.0.1.
//! - Exits accept `*:*`: with only `accept 127.0.0.0/8:*` the microdescriptor
//!   summary reads `reject 1-65535` and no client ever uses them (recipe,
//!   pitfall 1). That they reach nothing but loopback is enforced instead by
//!   `OutboundBindAddress 127.0.0.1` on every node (the kernel refuses a
//!   loopback source towards any other address) and by a resolv.conf naming
//!   only 127.0.0.1.
//! - A client tor (`SocksPort` with `IsolateSOCKSAuth`, `ControlPort` with
//!   cookie authentication) and an onion-service host tor (`SocksPort 0`,
//!   `ControlPort`), both with `VanguardsLiteEnabled 0` (pitfall 3). They start
//!   only once all three authorities serve a consensus listing all 6 relays as
//!   Running, and its microdescriptors, so they bootstrap from a complete
//!   network at once (pitfall 4: an early consensus may hold 0-2 relays).
//!   Every node has `FetchDirInfoEarly 1` (and `ExtraEarly`): relays fetch each
//!   consensus as soon as it is out, and the client and host fetch from the
//!   authorities, never from a relay cache still without microdescriptors.
//!   `shared()` returns only after a connection through each exit in turn
//!   (`ExitNodes`, reset afterwards) to a local listener has succeeded.
//! - Voting: a 10 s initial interval (2 s vote and distribution delays) until
//!   the first consensus, then `V3AuthVotingInterval 20` (4 s delays), so the
//!   onion-service time period stays 24 x 20 s = 8 min (arti's
//!   `hsdir_interval = 8`, recipe pitfall 2).
//! - `add_onion_service(port)` adds a service on the host tor (`ADD_ONION`, the
//!   control-port form of `HiddenServiceDir`/`HiddenServicePort`) and returns
//!   once its descriptor is uploaded and a connection through the client tor
//!   to the `.onion` has succeeded.
//!
//! All processes run in the foreground under `setpriv --pdeathsig KILL` (see
//! `servers::spawn_supervised`), read only their own torrc (`-f`, with an empty
//! `--defaults-torrc`), so Debian's `/etc/tor/torrc`, `/var/lib/tor` and a
//! system tor on 9050, if one runs, are never used or touched.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{instance_dir, log_tail, reserve_port, spawn_supervised};

/// A fresh SOCKS username for every probe, hence a fresh circuit.
static PROBES: AtomicU32 = AtomicU32::new(0);
const AUTHORITIES: usize = 3;
const MIDDLES: usize = 1;
const EXITS: usize = 2;
/// Seconds; the onion-service time period is 24 of these (recipe, pitfall 2).
pub const VOTING_INTERVAL: u32 = 20;
/// Seconds, until the first consensus (2 s vote and distribution delays).
const INITIAL_VOTING_INTERVAL: u32 = 10;
/// Key generation (tor-gencert, `--list-fingerprint`): ~5 s measured.
const KEYGEN_TIMEOUT: Duration = Duration::from_secs(60);
/// From launch to a consensus with every relay: 15-70 s measured.
const CONSENSUS_TIMEOUT: Duration = Duration::from_secs(120);
/// From the full consensus to a working exit through the client tor.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// From `ADD_ONION` to a working `.onion` (up to 36 s after the exit, measured).
const ONION_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Authority,
    Middle,
    Exit,
}

/// One relay of the network, with the identities arti needs.
#[derive(Clone, Debug)]
pub struct Relay {
    pub nickname: String,
    pub role: Role,
    pub or_port: u16,
    pub dir_port: u16,
    /// RSA identity fingerprint, 40 upper-case hex digits.
    pub rsa_identity: String,
    /// Ed25519 identity, unpadded base64 (from `fingerprint-ed25519`).
    pub ed_identity: String,
    /// For authorities: the v3 identity (fingerprint of the authority certificate).
    pub v3ident: Option<String>,
    pub data_dir: PathBuf,
}

impl Relay {
    /// The torrc line that names this relay as a fallback directory.
    pub fn fallback_dir_line(&self) -> String {
        format!("FallbackDir 127.0.0.1:{} orport={} id={}", self.dir_port, self.or_port, self.rsa_identity)
    }
}

/// A running tor process.
struct TorProcess {
    nickname: String,
    pid: u32,
    dir: PathBuf,
    child: Mutex<Child>,
}

impl TorProcess {
    fn notice_log(&self) -> PathBuf {
        self.dir.join("notice.log")
    }

    fn exited(&self) -> Option<String> {
        let mut child = self.child.lock().unwrap_or_else(|poison| poison.into_inner());
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }
}

/// A tor that is not a relay: the client, or the onion-service host.
struct Endpoint {
    socks_port: Option<u16>,
    control_port: u16,
    cookie_path: PathBuf,
    data_dir: PathBuf,
}

pub struct TorNetwork {
    dir: PathBuf,
    relays: Vec<Relay>,
    processes: Vec<TorProcess>,
    client: Endpoint,
    onion_host: Endpoint,
    probe_port: u16,
    timings: Timings,
    onion_lock: Mutex<()>,
}

/// When each stage of the start-up was reached, from the first call.
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    pub keys: Duration,
    pub full_consensus: Duration,
    pub client_bootstrapped: Duration,
    pub exit_usable: Duration,
}

impl TorNetwork {
    /// The network of this test process, started on first use.
    pub fn shared() -> &'static TorNetwork {
        static SHARED: OnceLock<TorNetwork> = OnceLock::new();
        SHARED.get_or_init(TorNetwork::start)
    }

    /// A network of its own (its processes are killed when it is dropped).
    pub fn start() -> TorNetwork {
        let begun = Instant::now();
        let dir = instance_dir("tor");
        let empty_torrc = dir.join("empty-torrc");
        std::fs::write(&empty_torrc, "").expect("empty torrc");
        let resolv = dir.join("resolv.conf");
        std::fs::write(&resolv, "nameserver 127.0.0.1\n").expect("exit resolv.conf");

        // Ports and keys, generated in parallel (RSA keys take seconds).
        let mut plans = Vec::new();
        for (role, count, prefix) in [(Role::Authority, AUTHORITIES, "auth"), (Role::Middle, MIDDLES, "relay"), (Role::Exit, EXITS, "exit")] {
            for n in 0..count {
                let nickname = format!("{prefix}{n}");
                let node_dir = dir.join(&nickname);
                plans.push((nickname, role, node_dir, reserve_port(), reserve_port()));
            }
        }
        let relays: Vec<Relay> = std::thread::scope(|scope| {
            let handles: Vec<_> = plans
                .iter()
                .map(|(nickname, role, node_dir, or_port, dir_port)| {
                    let empty_torrc = &empty_torrc;
                    scope.spawn(move || generate_keys(nickname, *role, node_dir, *or_port, *dir_port, empty_torrc))
                })
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        let keys = begun.elapsed();

        let authority_lines: Vec<String> = relays.iter().filter_map(authority_line).collect();
        let common = common_torrc(&authority_lines);
        let mut processes = Vec::new();
        for relay in &relays {
            let torrc = relay_torrc(&common, relay, &resolv);
            processes.push(launch(&relay.nickname, relay.data_dir.parent().expect("node dir"), &torrc, &empty_torrc));
        }

        let mut network = TorNetwork {
            client: endpoint(&dir, "client", true),
            onion_host: endpoint(&dir, "hs", false),
            dir,
            relays,
            processes,
            probe_port: start_probe_listener(),
            timings: Timings { keys, full_consensus: Duration::ZERO, client_bootstrapped: Duration::ZERO, exit_usable: Duration::ZERO },
            onion_lock: Mutex::new(()),
        };

        network.wait_for_full_consensus(begun + CONSENSUS_TIMEOUT);
        network.timings.full_consensus = begun.elapsed();

        for (name, endpoint) in [("client", &network.client), ("hs", &network.onion_host)] {
            let torrc = endpoint_torrc(&common, endpoint);
            let process = launch(name, endpoint.data_dir.parent().expect("node dir"), &torrc, &empty_torrc);
            network.processes.push(process);
        }
        let deadline = Instant::now() + CLIENT_TIMEOUT;
        network.wait_for_bootstrap("client", network.client.control_port, &network.client.cookie_path, deadline);
        network.timings.client_bootstrapped = begun.elapsed();
        network.wait_for_every_exit(deadline);
        network.timings.exit_usable = begun.elapsed();
        network
    }

    /// The client tor's SOCKS5 port on 127.0.0.1 (`IsolateSOCKSAuth`: each
    /// SOCKS username/password gets its own circuits).
    pub fn socks_port(&self) -> u16 {
        self.client.socks_port.expect("client has a SocksPort")
    }

    /// The client tor's control port on 127.0.0.1 (cookie authentication, see
    /// `control()` and `control_cookie_path()`).
    pub fn control_port(&self) -> u16 {
        self.client.control_port
    }

    pub fn control_cookie_path(&self) -> &Path {
        &self.client.cookie_path
    }

    /// An authenticated control connection to the client tor.
    pub fn control(&self) -> std::io::Result<TorControl> {
        TorControl::connect(self.client.control_port, &self.client.cookie_path)
    }

    /// An authenticated control connection to the onion-service host tor.
    pub fn onion_host_control(&self) -> std::io::Result<TorControl> {
        TorControl::connect(self.onion_host.control_port, &self.onion_host.cookie_path)
    }

    /// The `DirAuthority` torrc lines of the network's authorities.
    pub fn authorities(&self) -> Vec<String> {
        self.relays.iter().filter_map(authority_line).collect()
    }

    /// The authorities' v3 identities (what arti's `authorities.v3idents` wants).
    pub fn v3idents(&self) -> Vec<String> {
        self.relays.iter().filter_map(|relay| relay.v3ident.clone()).collect()
    }

    /// Every relay, as a fallback directory (arti's `fallback_caches`:
    /// `rsa_identity`, `ed_identity`, `127.0.0.1:or_port`; or a C tor
    /// `FallbackDir` line with `Relay::fallback_dir_line`).
    pub fn fallback_dirs(&self) -> &[Relay] {
        &self.relays
    }

    /// arti's configuration for this network, in arti's TOML: the
    /// authorities' v3 identities, every relay as a fallback cache, and the
    /// three settings a network on loopback needs (recipe: local addresses
    /// allowed as targets, no "same /16 family" between relays that all sit
    /// on 127.0.0.1, and the onion-service time period C tor uses in a test
    /// network, 24 voting intervals, pitfall 2).
    pub fn arti_config(&self) -> String {
        let v3idents: Vec<String> = self.v3idents().iter().map(|ident| format!("{ident:?}")).collect();
        let mut text = String::new();
        let _ = writeln!(text, "[tor_network]");
        let _ = writeln!(text, "authorities = {{ v3idents = [{}] }}", v3idents.join(", "));
        let _ = writeln!(text, "fallback_caches = [");
        for relay in &self.relays {
            let _ = writeln!(
                text,
                "  {{ rsa_identity = {:?}, ed_identity = {:?}, orports = [\"127.0.0.1:{}\"] }},",
                relay.rsa_identity, relay.ed_identity, relay.or_port
            );
        }
        let _ = writeln!(text, "]");
        let _ = writeln!(text, "[address_filter]\nallow_local_addrs = true");
        let _ = writeln!(text, "[path_rules]\nipv4_subnet_family_prefix = 33\nipv6_subnet_family_prefix = 129");
        let _ = writeln!(text, "[override_net_params]\nhsdir_interval = {}", 24 * VOTING_INTERVAL / 60);
        text
    }

    /// Writes `arti_config()` where Burrow's network process reads it,
    /// `PROFILE/net/arti.toml` (before Burrow starts on that profile), and
    /// returns the file's path. A fresh profile per test means a fresh arti
    /// cache and state for each network, as its keys are new every run.
    pub fn write_arti_config(&self, profile: &Path) -> PathBuf {
        use std::os::unix::fs::DirBuilderExt as _;
        let net_directory = profile.join("net");
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&net_directory).expect("create PROFILE/net");
        let file = net_directory.join("arti.toml");
        std::fs::write(&file, self.arti_config()).expect("write arti.toml");
        file
    }

    /// The network's directory: one sub-directory per tor (`auth0`, ...,
    /// `client`, `hs`), each with its torrc, `notice.log` and `data/`.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The client tor's DataDirectory.
    pub fn client_data_dir(&self) -> &Path {
        &self.client.data_dir
    }

    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// The pid of the tor called `nickname` (`auth0`, `exit1`, `client`, `hs`, ...).
    pub fn pid(&self, nickname: &str) -> Option<u32> {
        self.processes.iter().find(|process| process.nickname == nickname).map(|process| process.pid)
    }

    /// Which of the network's tor processes owns the TCP socket whose local
    /// address is `local` (say, the peer address a test server saw).
    pub fn owner_of_connection(&self, local: SocketAddr) -> Option<&str> {
        let inode = socket_inode_with_local_addr(local)?;
        self.processes.iter().find(|process| socket_inodes(process.pid).contains(&inode)).map(|process| process.nickname.as_str())
    }

    /// Publishes an onion service on the host tor whose virtual port
    /// `target_port` leads to 127.0.0.1:`target_port`, and returns its address
    /// (`<56 chars>.onion`) once it can be reached through `socks_port()`. The
    /// readiness probe uses a second virtual port of the same service that
    /// leads to the helper's own listener, so the target sees no extra
    /// connection.
    pub fn add_onion_service(&self, target_port: u16) -> String {
        let _serial = self.onion_lock.lock().unwrap_or_else(|poison| poison.into_inner());
        let deadline = Instant::now() + ONION_TIMEOUT;
        self.wait_for_bootstrap("hs", self.onion_host.control_port, &self.onion_host.cookie_path, deadline);
        let mut control = self.onion_host_control().unwrap_or_else(|error| self.fail(&format!("hs control port: {error}")));
        control.command("SETEVENTS HS_DESC").unwrap_or_else(|error| self.fail(&format!("SETEVENTS HS_DESC: {error}")));
        let probe_virtual_port = if target_port == 9 { 10 } else { 9 };
        let reply = control
            .command(&format!(
                "ADD_ONION NEW:ED25519-V3 Flags=DiscardPK,Detach Port={target_port},127.0.0.1:{target_port} Port={probe_virtual_port},127.0.0.1:{}",
                self.probe_port
            ))
            .unwrap_or_else(|error| self.fail(&format!("ADD_ONION: {error}")));
        let service_id = reply
            .iter()
            .find_map(|line| line.strip_prefix("ServiceID="))
            .unwrap_or_else(|| self.fail(&format!("ADD_ONION reply without ServiceID: {reply:?}")))
            .to_string();
        // Wait until every upload the host started has been answered, at least one of them accepted.
        let (mut pending, mut uploaded, mut failed) = (HashSet::new(), 0, 0);
        while uploaded == 0 || !pending.is_empty() {
            let event = match control.next_event(deadline) {
                Ok(Some(event)) => event,
                Ok(None) => self.fail(&format!("no HS_DESC UPLOADED for {service_id} within {ONION_TIMEOUT:?} ({failed} failed)")),
                Err(error) => self.fail(&format!("hs control connection: {error}")),
            };
            let fields: Vec<&str> = event.split_whitespace().collect();
            if fields.len() < 5 || fields[0] != "HS_DESC" || fields[2] != service_id {
                continue;
            }
            match fields[1] {
                "UPLOAD" => {
                    pending.insert(fields[4].to_string());
                }
                "UPLOADED" => {
                    pending.remove(fields[4]);
                    uploaded += 1;
                }
                "FAILED" => {
                    pending.remove(fields[4]);
                    failed += 1;
                }
                _ => {}
            }
        }
        let onion = format!("{service_id}.onion");
        self.wait_for_socks("onion service", &onion, probe_virtual_port, deadline);
        onion
    }

    fn wait_for_full_consensus(&self, deadline: Instant) {
        let mut last;
        loop {
            self.check_alive();
            // Every authority, and the microdescriptors too: the client and the
            // host fetch from the authorities (`FetchDirInfoEarly`), any of them.
            let mut complete = 0;
            last = String::new();
            for authority in self.relays.iter().filter(|relay| relay.role == Role::Authority) {
                match self.cache_is_complete(authority.dir_port) {
                    Ok(()) => complete += 1,
                    Err(error) => {
                        let _ = write!(last, "{}: {error}; ", authority.nickname);
                    }
                }
            }
            if complete == AUTHORITIES {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("no consensus with all {} relays within {CONSENSUS_TIMEOUT:?} (last: {last})", self.relays.len()));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Whether the directory at 127.0.0.1:`dir_port` serves a consensus listing
    /// every relay as Running, and every microdescriptor it names.
    fn cache_is_complete(&self, dir_port: u16) -> std::io::Result<()> {
        let consensus = http_get(dir_port, "/tor/status-vote/current/consensus-microdesc")?;
        let running = running_relays(&consensus);
        if !self.relays.iter().all(|relay| running.contains(&relay.nickname)) {
            return Err(std::io::Error::other(format!("consensus lists {running:?} as Running")));
        }
        let digests: Vec<&str> = consensus.lines().filter_map(|line| line.strip_prefix("m ")).map(|digest| digest.trim_end_matches('=')).collect();
        let microdescs = http_get(dir_port, &format!("/tor/micro/d/{}", digests.join("-")))?;
        let count = microdescs.lines().filter(|line| line.starts_with("onion-key")).count();
        if count < digests.len() {
            return Err(std::io::Error::other(format!("{count} of {} microdescriptors", digests.len())));
        }
        Ok(())
    }

    fn wait_for_bootstrap(&self, what: &str, control_port: u16, cookie: &Path, deadline: Instant) {
        let mut last;
        loop {
            self.check_alive();
            match TorControl::connect(control_port, cookie).and_then(|mut control| control.getinfo("status/bootstrap-phase")) {
                Ok(phase) if phase.contains("PROGRESS=100") => return,
                Ok(phase) => last = phase,
                Err(error) => last = error.to_string(),
            }
            if Instant::now() > deadline {
                self.fail(&format!("{what} tor did not bootstrap in time (last: {last})"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// A connection through each exit in turn (`ExitNodes`, then reset): an
    /// exit that has not caught up yet refuses streams for a while.
    fn wait_for_every_exit(&self, deadline: Instant) {
        let mut control = self.control().unwrap_or_else(|error| self.fail(&format!("client control port: {error}")));
        for exit in self.relays.iter().filter(|relay| relay.role == Role::Exit) {
            control.command(&format!("SETCONF ExitNodes=${}", exit.rsa_identity)).unwrap_or_else(|error| self.fail(&format!("SETCONF ExitNodes: {error}")));
            self.wait_for_socks(&exit.nickname, &Ipv4Addr::LOCALHOST.to_string(), self.probe_port, deadline);
        }
        control.command("RESETCONF ExitNodes").unwrap_or_else(|error| self.fail(&format!("RESETCONF ExitNodes: {error}")));
    }

    /// Retries a SOCKS CONNECT to `host:port` through the client until it succeeds.
    fn wait_for_socks(&self, what: &str, host: &str, port: u16, deadline: Instant) {
        let mut last;
        loop {
            self.check_alive();
            let username = format!("burrow-tests-probe-{}", PROBES.fetch_add(1, Ordering::SeqCst));
            match socks5_connect(self.socks_port(), host, port, &username, Duration::from_secs(10)) {
                Ok(_) => return,
                Err(error) => last = error.to_string(),
            }
            if Instant::now() > deadline {
                self.fail(&format!("no connection through the {what} to {host}:{port} in time (last: {last})"));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn check_alive(&self) {
        for process in &self.processes {
            if let Some(status) = process.exited() {
                self.fail(&format!("tor {} exited ({status})", process.nickname));
            }
        }
    }

    /// Panics with the tail of every tor's log.
    fn fail(&self, message: &str) -> ! {
        let mut logs = String::new();
        for process in &self.processes {
            let _ = writeln!(logs, "== {}\n{}", process.notice_log().display(), log_tail(&process.notice_log(), 15));
            let console = process.dir.join("console.log");
            let _ = writeln!(logs, "== {}\n{}", console.display(), log_tail(&console, 5));
        }
        panic!("tor network: {message}\n{logs}");
    }

    pub fn kill(&self) {
        for process in &self.processes {
            let mut child = process.child.lock().unwrap_or_else(|poison| poison.into_inner());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TorNetwork {
    fn drop(&mut self) {
        self.kill();
    }
}

fn authority_line(relay: &Relay) -> Option<String> {
    let v3ident = relay.v3ident.as_ref()?;
    Some(format!(
        "DirAuthority {} orport={} no-v2 v3ident={v3ident} 127.0.0.1:{} {}",
        relay.nickname, relay.or_port, relay.dir_port, relay.rsa_identity
    ))
}

fn generate_keys(nickname: &str, role: Role, node_dir: &Path, or_port: u16, dir_port: u16, empty_torrc: &Path) -> Relay {
    let data_dir = node_dir.join("data");
    let keys = data_dir.join("keys");
    std::fs::create_dir_all(&keys).expect("tor keys dir");
    set_private(&data_dir);
    set_private(&keys);
    let mut v3ident = None;
    if role == Role::Authority {
        let path = |name: &str| keys.join(name).display().to_string();
        let address = format!("127.0.0.1:{dir_port}");
        let (identity, signing, certificate) = (path("authority_identity_key"), path("authority_signing_key"), path("authority_certificate"));
        run_bounded(
            "tor-gencert",
            &[
                "--create-identity-key", "--passphrase-fd", "0", "-m", "12", "-a", &address, "-i", &identity, "-s", &signing, "-c", &certificate,
            ],
            b"\n",
        );
        let cert = std::fs::read_to_string(&certificate).expect("authority certificate");
        let fingerprint = cert.lines().find_map(|line| line.strip_prefix("fingerprint ")).expect("fingerprint line in the authority certificate");
        v3ident = Some(fingerprint.trim().to_string());
    }
    let data_arg = data_dir.display().to_string();
    let torrc = empty_torrc.display().to_string();
    run_bounded(
        "tor",
        &[
            "-f", &torrc, "--defaults-torrc", &torrc, "--list-fingerprint", "--quiet", "--DataDirectory", &data_arg, "--ORPort", "1",
            "--DisableNetwork", "1", "--DirAuthority", "x orport=1 127.0.0.1:1 0000000000000000000000000000000000000000",
        ],
        b"",
    );
    // Read once, now: tor rewrites these files at start-up (recipe, pitfall 6).
    let second_field = |name: &str| {
        let text = std::fs::read_to_string(data_dir.join(name)).unwrap_or_else(|error| panic!("{nickname}: {name}: {error}"));
        let (_, value) = text.trim().split_once(' ').unwrap_or_else(|| panic!("{nickname}: {name} is {text:?}"));
        value.replace(' ', "")
    };
    Relay {
        nickname: nickname.to_string(),
        role,
        or_port,
        dir_port,
        rsa_identity: second_field("fingerprint"),
        ed_identity: second_field("fingerprint-ed25519"),
        v3ident,
        data_dir,
    }
}

fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 0700");
}

/// Runs a short command to completion, killing it after `KEYGEN_TIMEOUT`.
fn run_bounded(program: &str, args: &[&str], input: &[u8]) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{program}: {error} (apt-get install tor)"));
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(input);
    drop(stdin);
    let deadline = Instant::now() + KEYGEN_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return,
            Ok(Some(status)) => {
                let mut output = String::new();
                for pipe in [child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>), child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>)]
                    .into_iter()
                    .flatten()
                {
                    let mut pipe = pipe;
                    let _ = pipe.read_to_string(&mut output);
                }
                panic!("{program} {args:?} failed ({status}): {output}");
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{program} {args:?} did not finish within {KEYGEN_TIMEOUT:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => panic!("{program}: {error}"),
        }
    }
}

fn common_torrc(authority_lines: &[String]) -> String {
    let mut torrc = String::from(
        "# Written by burrow-tests (servers::tor)\n\
         TestingTorNetwork 1\n\
         RunAsDaemon 0\n\
         SafeLogging 0\n\
         ShutdownWaitLength 0\n\
         UseDefaultFallbackDirs 0\n\
         OutboundBindAddress 127.0.0.1\n\
         ClientUseIPv6 0\n\
         PathsNeededToBuildCircuits 0.67\n\
         TestingDirAuthVoteExit *\n\
         TestingDirAuthVoteHSDir *\n\
         TestingDirAuthVoteGuard *\n\
         TestingMinExitFlagThreshold 0\n\
         V3AuthNIntervalsValid 2\n\
         FetchDirInfoEarly 1\n\
         FetchDirInfoExtraEarly 1\n\
         ExtendAllowPrivateAddresses 1\n",
    );
    for line in authority_lines {
        torrc.push_str(line);
        torrc.push('\n');
    }
    torrc
}

fn node_header(common: &str, data_dir: &Path) -> String {
    let node_dir = data_dir.parent().expect("node dir");
    format!(
        "{common}DataDirectory {}\nPidFile {}\nLog notice file {}\n",
        data_dir.display(),
        node_dir.join("tor.pid").display(),
        node_dir.join("notice.log").display()
    )
}

fn relay_torrc(common: &str, relay: &Relay, resolv: &Path) -> String {
    let mut torrc = node_header(common, &relay.data_dir);
    let _ = write!(
        torrc,
        "Nickname {}\nORPort 127.0.0.1:{}\nDirPort 127.0.0.1:{}\nSocksPort 0\nAddress 127.0.0.1\nAssumeReachable 1\nContactInfo test@test.test\n",
        relay.nickname, relay.or_port, relay.dir_port
    );
    match relay.role {
        Role::Authority => {
            let interval = VOTING_INTERVAL;
            let _ = write!(
                torrc,
                "AuthoritativeDirectory 1\nV3AuthoritativeDirectory 1\nAuthDirMaxServersPerAddr 0\n\
                 TestingV3AuthInitialVotingInterval {INITIAL_VOTING_INTERVAL}\nTestingV3AuthInitialVoteDelay 2\nTestingV3AuthInitialDistDelay 2\n\
                 V3AuthVotingInterval {interval}\nV3AuthVoteDelay 4\nV3AuthDistDelay 4\nExitRelay 0\nExitPolicy reject *:*\n"
            );
        }
        Role::Middle => torrc.push_str("ExitRelay 0\nExitPolicy reject *:*\n"),
        Role::Exit => {
            let _ = write!(
                torrc,
                "ExitRelay 1\nExitPolicyRejectPrivate 0\nExitPolicy accept 127.0.0.0/8:*\nExitPolicy accept *:*\n\
                 ServerDNSResolvConfFile {}\nServerDNSDetectHijacking 0\nServerDNSTestAddresses\nServerDNSAllowBrokenConfig 1\n",
                resolv.display()
            );
        }
    }
    torrc
}

fn endpoint(network_dir: &Path, name: &str, socks: bool) -> Endpoint {
    let node_dir = network_dir.join(name);
    let data_dir = node_dir.join("data");
    std::fs::create_dir_all(&data_dir).expect("tor data dir");
    set_private(&data_dir);
    Endpoint { socks_port: socks.then(reserve_port), control_port: reserve_port(), cookie_path: node_dir.join("control_auth_cookie"), data_dir }
}

fn endpoint_torrc(common: &str, endpoint: &Endpoint) -> String {
    let mut torrc = node_header(common, &endpoint.data_dir);
    match endpoint.socks_port {
        Some(port) => {
            let _ = writeln!(torrc, "SocksPort 127.0.0.1:{port} IsolateSOCKSAuth");
        }
        None => torrc.push_str("SocksPort 0\n"),
    }
    let _ = write!(
        torrc,
        "ControlPort 127.0.0.1:{}\nCookieAuthentication 1\nWarnUnsafeSocks 0\nCookieAuthFile {}\nVanguardsLiteEnabled 0\n",
        endpoint.control_port,
        endpoint.cookie_path.display()
    );
    torrc
}

fn launch(nickname: &str, node_dir: &Path, torrc: &str, empty_torrc: &Path) -> TorProcess {
    let torrc_path = node_dir.join("torrc");
    std::fs::write(&torrc_path, torrc).expect("write torrc");
    let console = std::fs::File::create(node_dir.join("console.log")).expect("console log");
    let (torrc_arg, empty_arg) = (torrc_path.display().to_string(), empty_torrc.display().to_string());
    let child = spawn_supervised("tor", &["-f", &torrc_arg, "--defaults-torrc", &empty_arg], |command| {
        command
            .current_dir(node_dir)
            .stdin(Stdio::null())
            .stdout(console.try_clone().expect("console log"))
            .stderr(console);
    })
    .expect("start tor (apt-get install tor)");
    TorProcess { nickname: nickname.to_string(), pid: child.id(), dir: node_dir.to_path_buf(), child: Mutex::new(child) }
}

/// A listener on a reserved port that accepts and closes: the target of the
/// readiness probes.
fn start_probe_listener() -> u16 {
    let port = reserve_port();
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("probe listener");
    std::thread::Builder::new()
        .name("burrow-tor-probe".into())
        .spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        })
        .expect("probe thread");
    port
}

/// The nicknames of the relays a microdescriptor consensus lists as Running and Valid.
fn running_relays(consensus: &str) -> HashSet<String> {
    let mut running = HashSet::new();
    let mut current = None;
    for line in consensus.lines() {
        if let Some(rest) = line.strip_prefix("r ") {
            current = rest.split_whitespace().next().map(str::to_string);
        } else if let Some(flags) = line.strip_prefix("s ") {
            let flags: Vec<&str> = flags.split_whitespace().collect();
            if flags.contains(&"Running") && flags.contains(&"Valid") {
                if let Some(nickname) = current.take() {
                    running.insert(nickname);
                }
            }
        }
    }
    running
}

/// An HTTP/1.0 GET to 127.0.0.1:`port`; the body of a 200 answer.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())?;
    let mut response = Vec::new();
    stream.take(64 << 20).read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(std::io::Error::other(format!("GET {path}: {status}")));
    }
    Ok(body.to_string())
}

/// A SOCKS5 CONNECT through 127.0.0.1:`socks_port` with username/password
/// authentication (`password` = "x"), to an IPv4 address or a host name.
pub fn socks5_connect(socks_port: u16, host: &str, port: u16, username: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], socks_port)), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(&[5, 1, 2])?;
    let mut answer = [0u8; 2];
    stream.read_exact(&mut answer)?;
    if answer != [5, 2] {
        return Err(std::io::Error::other(format!("SOCKS method answer {answer:?}")));
    }
    let mut auth = vec![1, username.len() as u8];
    auth.extend_from_slice(username.as_bytes());
    auth.extend_from_slice(&[1, b'x']);
    stream.write_all(&auth)?;
    stream.read_exact(&mut answer)?;
    if answer != [1, 0] {
        return Err(std::io::Error::other(format!("SOCKS auth answer {answer:?}")));
    }
    let mut request = vec![5, 1, 0];
    match host.parse::<Ipv4Addr>() {
        Ok(ip) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            request.extend_from_slice(&[3, host.len() as u8]);
            request.extend_from_slice(host.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request)?;
    let mut head = [0u8; 4];
    stream.read_exact(&mut head)?;
    if head[1] != 0 {
        return Err(std::io::Error::other(format!("SOCKS reply {}", head[1])));
    }
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        _ => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len)?;
            usize::from(len[0]) + 2
        }
    };
    let mut bound = vec![0u8; rest];
    stream.read_exact(&mut bound)?;
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    Ok(stream)
}

/// A blocking control-port connection (cookie authenticated). Replies are
/// returned line by line without their status codes; asynchronous events
/// (`650`) seen meanwhile are queued for `next_event`.
pub struct TorControl {
    stream: BufReader<TcpStream>,
    pending: Vec<u8>,
    events: std::collections::VecDeque<String>,
}

impl TorControl {
    pub fn connect(port: u16, cookie_path: &Path) -> std::io::Result<TorControl> {
        let stream = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(5))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut control = TorControl { stream: BufReader::new(stream), pending: Vec::new(), events: Default::default() };
        let cookie = std::fs::read(cookie_path)?;
        let hex: String = cookie.iter().map(|byte| format!("{byte:02X}")).collect();
        control.command(&format!("AUTHENTICATE {hex}"))?;
        Ok(control)
    }

    /// Sends one command and returns the lines of its `250` reply; an error
    /// for any other status.
    pub fn command(&mut self, line: &str) -> std::io::Result<Vec<String>> {
        let writer = self.stream.get_mut();
        writer.write_all(line.as_bytes())?;
        writer.write_all(b"\r\n")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let Some((code, lines)) = self.read_reply(deadline)? else {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no reply to {line:?}")));
            };
            if code == "650" {
                self.events.push_back(lines.join("\n"));
                continue;
            }
            if code != "250" {
                return Err(std::io::Error::other(format!("{code} {}", lines.join(" | "))));
            }
            return Ok(lines);
        }
    }

    /// `GETINFO key`: the value (multi-line values joined with newlines).
    pub fn getinfo(&mut self, key: &str) -> std::io::Result<String> {
        let lines = self.command(&format!("GETINFO {key}"))?;
        let mut value = Vec::new();
        let mut found = false;
        for line in lines {
            if let Some(rest) = line.strip_prefix(&format!("{key}=")) {
                found = true;
                if !rest.is_empty() {
                    value.push(rest.to_string());
                }
            } else if found && line != "OK" {
                value.push(line);
            }
        }
        Ok(value.join("\n"))
    }

    /// The next asynchronous event (after `SETEVENTS`), without the `650 `,
    /// or `None` once `deadline` has passed.
    pub fn next_event(&mut self, deadline: Instant) -> std::io::Result<Option<String>> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        loop {
            match self.read_reply(deadline)? {
                None => return Ok(None),
                Some((code, lines)) if code == "650" => return Ok(Some(lines.join("\n"))),
                Some(_) => continue,
            }
        }
    }

    /// One complete reply: its status code and its lines (data blocks of
    /// `+` lines included, without the final "."), or `None` at the deadline.
    fn read_reply(&mut self, deadline: Instant) -> std::io::Result<Option<(String, Vec<String>)>> {
        let mut lines = Vec::new();
        loop {
            let Some(line) = self.read_line(deadline)? else { return Ok(None) };
            if line.len() < 4 {
                return Err(std::io::Error::other(format!("bad control line {line:?}")));
            }
            let (code, separator, text) = (&line[..3], &line[3..4], &line[4..]);
            lines.push(text.to_string());
            match separator {
                " " => return Ok(Some((code.to_string(), lines))),
                "+" => loop {
                    let Some(data) = self.read_line(deadline)? else { return Ok(None) };
                    if data == "." {
                        break;
                    }
                    lines.push(data.strip_prefix('.').map(str::to_string).unwrap_or(data));
                },
                _ => {}
            }
        }
    }

    fn read_line(&mut self, deadline: Instant) -> std::io::Result<Option<String>> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.stream.get_ref().set_read_timeout(Some((deadline - now).min(Duration::from_secs(1))))?;
            match self.stream.read_until(b'\n', &mut self.pending) {
                Ok(0) => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "control connection closed")),
                Ok(_) if self.pending.ends_with(b"\n") => {
                    let line = String::from_utf8_lossy(&self.pending).trim_end_matches(['\r', '\n']).to_string();
                    self.pending.clear();
                    return Ok(Some(line));
                }
                Ok(_) => continue,
                Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
                Err(error) => return Err(error),
            }
        }
    }
}

/// The inode of the TCP socket whose local address is `local`.
fn socket_inode_with_local_addr(local: SocketAddr) -> Option<String> {
    let SocketAddr::V4(local) = local else { return None };
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let wanted = format!("{:08X}:{:04X}", u32::from_le_bytes(local.ip().octets()), local.port());
    text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.len() > 9 && fields[1] == wanted).then(|| fields[9].to_string())
    })
}

fn socket_inodes(pid: u32) -> HashSet<String> {
    let mut inodes = HashSet::new();
    if let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in entries.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                let target = target.to_string_lossy().to_string();
                if let Some(inode) = target.strip_prefix("socket:[").and_then(|rest| rest.strip_suffix(']')) {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    inodes
}

#[cfg(test)]
mod tests {
    #[test]
    fn running_relays_of_a_consensus() {
        let consensus = "r auth0 AAAA 2024 127.0.0.1 5100 0\nm abc\ns Authority Running Valid V2Dir\n\
                         r exit0 BBBB 2024 127.0.0.1 5104 0\ns Exit Fast Valid\n";
        let running = super::running_relays(consensus);
        assert!(running.contains("auth0"));
        assert!(!running.contains("exit0"));
    }
}
