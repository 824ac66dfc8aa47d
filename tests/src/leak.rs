//! The leak test's parts (tests/tor_leak.rs): a network namespace with only
//! loopback and a host name of its own; Debian's Dante SOCKS server standing
//! in for Tor outside it; a socat bridge that carries the namespace's SOCKS
//! port to Dante over a Unix socket (which crosses network namespaces, so the
//! namespace needs no link to the host); a capture (Wireshark's dumpcap) of
//! everything inside the namespace; a reader of the pcap file it writes, with TCP
//! reassembly; and what this computer would give away (host names, the user
//! name, addresses), to look for in it.
//!
//! Every process here is started through `setpriv --pdeathsig KILL` (see
//! `servers`), so none outlives the test process, and the namespace goes when
//! its last process does: nothing is left behind, whatever ends the test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::servers::{instance_dir, listening_addrs, log_tail, random_token, spawn_supervised};
use crate::Burrow;

/// Every wait below is bounded by this; start-ups take well under a second
/// here, but the machine is shared.
const START_UP: Duration = Duration::from_secs(30);

/// Polls `done` every 50 ms until it is true or `timeout` passes.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first line `reader` gives, or `None` after `timeout`.
fn first_line(reader: impl Read + Send + 'static, timeout: Duration) -> Option<String> {
    let (sender, line) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(reader).read_line(&mut text);
        let _ = sender.send(text);
    });
    line.recv_timeout(timeout).ok()
}

fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A network namespace that holds only a loopback interface (up), with a
/// UTS namespace whose host name is `burrow-leak-RANDOM`. A `sleep` keeps
/// both alive; processes join them through `nsenter`.
pub struct NetworkNamespace {
    holder: Child,
    hostname: String,
}

impl NetworkNamespace {
    pub fn new() -> NetworkNamespace {
        let hostname = format!("burrow-leak-{}", random_token(12));
        let script = format!("ip link set lo up && printf %s {hostname} > /proc/sys/kernel/hostname && echo ready && exec sleep infinity");
        let mut holder = spawn_supervised("unshare", &["--net", "--uts", "--", "sh", "-c", &script], |command| {
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        })
        .expect("start unshare (util-linux)");
        let stdout = holder.stdout.take().expect("the holder's stdout");
        let ready = first_line(stdout, START_UP);
        if ready.as_deref().map(str::trim) != Some("ready") {
            kill_and_reap(&mut holder);
            let mut errors = String::new();
            if let Some(mut stderr) = holder.stderr.take() {
                let _ = stderr.read_to_string(&mut errors);
            }
            panic!("no network namespace (unshare --net --uts needs root; ip is in iproute2): {ready:?} {errors}");
        }
        NetworkNamespace { holder, hostname }
    }

    /// The host name inside.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    fn namespace_file(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.holder.id())
    }

    /// The command and arguments that run a program inside (the program and
    /// its arguments follow); nsenter execs it, so it keeps nsenter's pid.
    pub fn enter(&self) -> Vec<String> {
        vec!["nsenter".to_owned(), format!("--net={}", self.namespace_file("net")), format!("--uts={}", self.namespace_file("uts")), "--".to_owned()]
    }

    /// `program` with `args` inside, supervised (see `servers::spawn_supervised`).
    pub fn spawn(&self, program: &str, args: &[&str], configure: impl FnOnce(&mut Command)) -> std::io::Result<Child> {
        let mut all: Vec<String> = self.enter().into_iter().skip(1).collect();
        all.push(program.to_owned());
        all.extend(args.iter().map(|arg| (*arg).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        spawn_supervised("nsenter", &all, configure)
    }

    /// `program` with `args` run inside to the end.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let enter = self.enter();
        Command::new(&enter[0]).args(&enter[1..]).arg(program).args(args).stdin(Stdio::null()).output().expect("run nsenter")
    }

    /// The names of the network interfaces inside.
    pub fn links(&self) -> Vec<String> {
        let output = self.run("ip", &["-o", "link", "show"]);
        assert!(output.status.success(), "ip link inside the namespace: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split(':').nth(1).map(|name| name.trim().split('@').next().unwrap_or_default().to_owned()))
            .collect()
    }

    /// Whether process `pid` lives in this network and UTS namespace.
    pub fn holds(&self, pid: u32) -> bool {
        ["net", "uts"].iter().all(|kind| {
            let ours = std::fs::read_link(self.namespace_file(kind));
            let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{kind}"));
            matches!((ours, theirs), (Ok(ours), Ok(theirs)) if ours == theirs)
        })
    }
}

impl Default for NetworkNamespace {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NetworkNamespace {
    fn drop(&mut self) {
        kill_and_reap(&mut self.holder);
    }
}

impl Burrow {
    /// A Burrow started inside `namespace` (launcher and children) with
    /// `environment` added, its store unlocked.
    pub fn unlocked_in(namespace: &NetworkNamespace, profile: &Path, environment: &[(&str, String)]) -> Burrow {
        let environment: Vec<(&str, &str)> = environment.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let mut burrow = Burrow::start_through(&namespace.enter(), &crate::binary("burrow"), profile, &[], &environment);
        burrow.send("/unlock test passphrase");
        burrow.expect_event("unlocked", Duration::from_secs(30));
        burrow
    }
}

/// The PAM service Dante asks about each SOCKS username and password.
const PAM_SERVICE: &str = "burrow-leak-socks";

/// Dante (`danted`, Debian's `dante-server`) on 127.0.0.1, standing in for
/// Tor's SOCKS port: SOCKS 5 with username/password (RFC 1929) required,
/// any username and password accepted, as Tor does. It checks them through
/// PAM with `pam_permit`; the PAM service file lives in its own directory,
/// bind-mounted over /etc/pam.d in a mount namespace of Dante's alone, so
/// the system's PAM configuration is neither read nor touched. Dante keeps
/// the test's user throughout (no `nobody`): a change of effective user
/// would clear the parent-death signal, and Dante would outlive a killed test.
pub struct Dante {
    child: Child,
    port: u16,
    log_path: PathBuf,
    console_path: PathBuf,
}

impl Dante {
    pub fn start() -> Dante {
        let dir = instance_dir("dante");
        let pam = dir.join("pam.d");
        std::fs::create_dir_all(&pam).expect("Dante's pam.d");
        std::fs::write(pam.join(PAM_SERVICE), "auth required pam_permit.so\naccount required pam_permit.so\n").expect("write the PAM service");
        let port = crate::servers::reserve_port();
        let log_path = dir.join("danted.log");
        let console_path = dir.join("console.log");
        let config_path = dir.join("danted.conf");
        let config = format!(
            r#"# Written by burrow-tests (leak)
logoutput: {log}
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
clientmethod: none
socksmethod: pam.username
user.privileged: root
user.unprivileged: root
user.libwrap: root
client pass {{
    from: 127.0.0.0/8 to: 0.0.0.0/0
}}
socks pass {{
    from: 127.0.0.0/8 to: 127.0.0.0/8
    command: connect
    socksmethod: pam.username
    pam.servicename: {PAM_SERVICE}
    log: connect disconnect error
}}
socks block {{
    from: 0.0.0.0/0 to: 0.0.0.0/0
    log: connect error
}}
"#,
            log = log_path.display()
        );
        std::fs::write(&config_path, config).expect("write danted.conf");
        let script = format!("mount --bind {} /etc/pam.d && exec danted -f {}", pam.display(), config_path.display());
        let console = std::fs::File::create(&console_path).expect("Dante's console log");
        let child = spawn_supervised("unshare", &["--mount", "--propagation", "private", "--", "sh", "-c", &script], |command| {
            command.stdin(Stdio::null()).stdout(console.try_clone().expect("console log")).stderr(console);
        })
        .expect("start danted (apt-get install dante-server)");
        let mut dante = Dante { child, port, log_path, console_path };
        let serving = wait_until(START_UP, || {
            dante.fail_if_exited();
            dante.greets()
        });
        assert!(serving, "Dante did not serve SOCKS 5 on 127.0.0.1:{port} within {START_UP:?}: {}", dante.logs());
        dante
    }

    fn fail_if_exited(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("danted exited ({status}): {}", self.logs());
        }
    }

    /// Whether it answers a greeting offering username/password with that choice.
    fn greets(&self) -> bool {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut choice = [0u8; 2];
        stream.write_all(&[5, 1, 2]).is_ok() && stream.read_exact(&mut choice).is_ok() && choice == [5, 2]
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its log and console, for failure messages.
    pub fn logs(&self) -> String {
        format!("== {}\n{}\n== {}\n{}", self.log_path.display(), log_tail(&self.log_path, 30), self.console_path.display(), log_tail(&self.console_path, 30))
    }

    /// The connections it passed (its `pass(1): tcp/connect [` log lines).
    pub fn connections_passed(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        log.lines().filter(|line| line.contains("pass(1): tcp/connect [")).map(str::to_owned).collect()
    }
}

impl Drop for Dante {
    fn drop(&mut self) {
        // Its children notice their parent is gone and exit.
        kill_and_reap(&mut self.child);
    }
}

/// 127.0.0.1:`port` inside a namespace, carried to 127.0.0.1:`target`
/// outside by two socats joined by a Unix socket.
pub struct Bridge {
    inside: Child,
    outside: Child,
    port: u16,
}

impl Bridge {
    pub fn start(namespace: &NetworkNamespace, port: u16, target: u16) -> Bridge {
        let dir = instance_dir("socks-bridge");
        let socket = dir.join("socks.sock");
        let log = |name: &str| std::fs::File::create(dir.join(name)).expect("bridge log");
        let (outside_log, inside_log) = (log("outside.log"), log("inside.log"));
        let outside = spawn_supervised("socat", &[&format!("UNIX-LISTEN:{},fork,mode=600", socket.display()), &format!("TCP:127.0.0.1:{target}")], |command| {
            command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(outside_log);
        })
        .expect("start socat (apt-get install socat)");
        let mut outside = outside;
        if !wait_until(START_UP, || socket.exists()) {
            kill_and_reap(&mut outside);
            panic!("socat made no {} within {START_UP:?}: {}", socket.display(), log_tail(&dir.join("outside.log"), 10));
        }
        let inside = namespace
            .spawn("socat", &[&format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"), &format!("UNIX-CONNECT:{}", socket.display())], |command| {
                command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(inside_log);
            })
            .expect("start socat inside the namespace");
        let bridge = Bridge { inside, outside, port };
        let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        // /proc/PID/net shows the namespace of PID.
        let listening = wait_until(START_UP, || listening_addrs(bridge.inside.id()).contains(&wanted));
        assert!(listening, "socat does not listen on {wanted} inside the namespace: {}", log_tail(&dir.join("inside.log"), 10));
        bridge
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        kill_and_reap(&mut self.inside);
        kill_and_reap(&mut self.outside);
    }
}

/// dumpcap (the capture engine of tshark, from the same Wireshark build)
/// writing every frame on the namespace's loopback to a pcap file. It runs
/// on its own rather than under tshark: tshark would start it as a child of
/// its own, which the kernel's parent-death signal does not reach, and a
/// failed test would leave it capturing (and the namespace alive).
pub struct Capture {
    child: Child,
    pcap_path: PathBuf,
    messages: Arc<Mutex<String>>,
}

impl Capture {
    /// Starts dumpcap inside `namespace` and returns once it is seen to
    /// capture: a connection attempt to 127.0.0.1:`probe_port` (where
    /// nothing listens yet: a SYN answered by a RST) is in its file.
    pub fn start(namespace: &NetworkNamespace, probe_port: u16) -> Capture {
        let dir = instance_dir("capture");
        let pcap_path = dir.join("namespace.pcap");
        let path = pcap_path.display().to_string();
        // -P: the classic pcap format; -q: no packet counts on stderr.
        let mut child = namespace
            .spawn("dumpcap", &["-i", "lo", "-P", "-q", "-w", &path], |command| {
                command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
            })
            .expect("start dumpcap (apt-get install tshark)");
        let messages = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("dumpcap's stderr");
        let into = messages.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut text = into.lock().unwrap_or_else(|poison| poison.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut capture = Capture { child, pcap_path, messages };
        let started = wait_until(START_UP, || capture.running() && capture.messages().contains("Capturing on"));
        assert!(started, "dumpcap did not start capturing within {START_UP:?}: {}", capture.messages());
        let probe = format!("TCP:127.0.0.1:{probe_port}");
        // dumpcap writes its buffer out about once a second.
        let seen = wait_until(START_UP, || {
            let _ = namespace.run("socat", &["-u", "/dev/null", &probe]);
            std::thread::sleep(Duration::from_millis(500));
            !capture.so_far().frames.is_empty()
        });
        assert!(seen, "dumpcap captured none of the probes to {probe}: {}", capture.messages());
        capture
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What dumpcap said on stderr.
    pub fn messages(&self) -> String {
        self.messages.lock().unwrap_or_else(|poison| poison.into_inner()).clone()
    }

    /// The frames written out so far (a record still being written is left out).
    pub fn so_far(&self) -> Pcap {
        Pcap::read_growing(&self.pcap_path).unwrap_or_else(|error| panic!("{error}"))
    }

    /// Stops dumpcap (SIGINT, as at a terminal, so it writes out the rest)
    /// and returns the whole capture.
    pub fn stop(mut self) -> Pcap {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("dumpcap's pid");
        rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT to dumpcap");
        let stopped = wait_until(START_UP, || !self.running());
        assert!(stopped, "dumpcap did not stop within {START_UP:?} of SIGINT: {}", self.messages());
        Pcap::read(&self.pcap_path).unwrap_or_else(|error| panic!("{error}"))
    }

    pub fn pcap_path(&self) -> &Path {
        &self.pcap_path
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// A pcap file (the classic format, `dumpcap -P`): its link type and frames.
pub struct Pcap {
    pub path: PathBuf,
    pub link_type: u32,
    pub frames: Vec<Vec<u8>>,
}

pub const LINKTYPE_ETHERNET: u32 = 1;

impl Pcap {
    /// A finished file: every record whole.
    pub fn read(path: &Path) -> Result<Pcap, String> {
        Self::read_with(path, true)
    }

    /// A file still being written: a last record cut short is left out.
    pub fn read_growing(path: &Path) -> Result<Pcap, String> {
        Self::read_with(path, false)
    }

    fn read_with(path: &Path, finished: bool) -> Result<Pcap, String> {
        let bytes = match std::fs::read(path) {
            Err(error) if !finished && error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            read => read.map_err(|error| format!("{}: {error}", path.display()))?,
        };
        let parsed = if finished { Self::parse(&bytes) } else { Self::parse_growing(&bytes) };
        let (link_type, frames) = parsed.map_err(|error| format!("{}: {error}", path.display()))?;
        Ok(Pcap { path: path.to_owned(), link_type, frames })
    }

    /// As `parse`, for a file still being written (maybe not even its header).
    pub fn parse_growing(bytes: &[u8]) -> Result<(u32, Vec<Vec<u8>>), String> {
        if bytes.len() < 24 {
            return Ok((0, Vec::new()));
        }
        Self::parse_records(bytes, false)
    }

    /// The frames of a pcap file: a 24-byte header whose magic gives the
    /// byte order, then records of a 16-byte header and the captured bytes.
    pub fn parse(bytes: &[u8]) -> Result<(u32, Vec<Vec<u8>>), String> {
        Self::parse_records(bytes, true)
    }

    fn parse_records(bytes: &[u8], finished: bool) -> Result<(u32, Vec<Vec<u8>>), String> {
        let header = bytes.get(..24).ok_or("shorter than a pcap header")?;
        let magic = [header[0], header[1], header[2], header[3]];
        let little = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
            _ => return Err(format!("not a pcap file (magic {magic:02x?})")),
        };
        let word = |at: &[u8]| {
            let four = [at[0], at[1], at[2], at[3]];
            if little {
                u32::from_le_bytes(four)
            } else {
                u32::from_be_bytes(four)
            }
        };
        let link_type = word(&header[20..24]);
        let mut frames = Vec::new();
        let mut at = 24;
        while at < bytes.len() {
            if !finished && bytes.len() < at + 16 {
                break;
            }
            let record = bytes.get(at..at + 16).ok_or_else(|| format!("a record header cut short at byte {at}"))?;
            let (captured, original) = (word(&record[8..12]) as usize, word(&record[12..16]) as usize);
            if captured != original {
                return Err(format!("frame {} was cut to {captured} of {original} bytes", frames.len() + 1));
            }
            if !finished && bytes.len() < at + 16 + captured {
                break;
            }
            let frame = bytes.get(at + 16..at + 16 + captured).ok_or_else(|| format!("frame {} cut short", frames.len() + 1))?;
            frames.push(frame.to_vec());
            at += 16 + captured;
        }
        Ok((link_type, frames))
    }

    pub fn decoded(&self) -> Vec<Decoded> {
        self.frames.iter().map(|frame| decode_ethernet(frame)).collect()
    }
}

/// One frame, as far as the leak test cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    Tcp(Segment),
    /// Anything else: what it is, in words (`UDP 127.0.0.1:5353 -> ..`, `ARP`, ..).
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub sequence: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
}

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

fn decode_ethernet(frame: &[u8]) -> Decoded {
    let Some(ethertype) = frame.get(12..14) else { return Decoded::Other(format!("a {}-byte frame", frame.len())) };
    let packet = &frame[14..];
    match u16::from_be_bytes([ethertype[0], ethertype[1]]) {
        0x0800 => decode_ipv4(packet),
        0x86dd => decode_ipv6(packet),
        0x0806 => Decoded::Other("ARP".to_owned()),
        other => Decoded::Other(format!("ethertype {other:#06x}")),
    }
}

fn decode_ipv4(packet: &[u8]) -> Decoded {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return Decoded::Other("a malformed IPv4 packet".to_owned());
    }
    let header = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    let source = IpAddr::V4(Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]));
    let destination = IpAddr::V4(Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]));
    match packet.get(header..total) {
        Some(body) => decode_transport(packet[9], source, destination, body),
        None => Decoded::Other("a truncated IPv4 packet".to_owned()),
    }
}

fn decode_ipv6(packet: &[u8]) -> Decoded {
    if packet.len() < 40 || packet[0] >> 4 != 6 {
        return Decoded::Other("a malformed IPv6 packet".to_owned());
    }
    let length = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    let address = |at: usize| {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&packet[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(octets))
    };
    match packet.get(40..40 + length) {
        // An extension header shows as its own protocol number: reported, not followed.
        Some(body) => decode_transport(packet[6], address(8), address(24), body),
        None => Decoded::Other("a truncated IPv6 packet".to_owned()),
    }
}

fn decode_transport(protocol: u8, source: IpAddr, destination: IpAddr, body: &[u8]) -> Decoded {
    const TCP: u8 = 6;
    const UDP: u8 = 17;
    let port = |at: usize| body.get(at..at + 2).map(|two| u16::from_be_bytes([two[0], two[1]])).unwrap_or(0);
    match protocol {
        TCP if body.len() >= 20 => {
            let offset = usize::from(body[12] >> 4) * 4;
            let Some(payload) = body.get(offset..) else { return Decoded::Other("a malformed TCP segment".to_owned()) };
            Decoded::Tcp(Segment {
                source: SocketAddr::new(source, port(0)),
                destination: SocketAddr::new(destination, port(2)),
                sequence: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
                flags: body[13],
                payload: payload.to_vec(),
            })
        }
        UDP => Decoded::Other(format!("UDP {}:{} -> {}:{}", source, port(0), destination, port(2))),
        1 => Decoded::Other(format!("ICMP {source} -> {destination}")),
        58 => Decoded::Other(format!("ICMPv6 {source} -> {destination}")),
        other => Decoded::Other(format!("IP protocol {other} {source} -> {destination}")),
    }
}

/// One TCP connection of the capture, its two byte streams put back together.
#[derive(Debug, Default)]
pub struct Connection {
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    /// What the client sent, and what the server sent, in order.
    pub sent: Vec<u8>,
    pub received: Vec<u8>,
    /// The server answered the SYN with a RST (nothing listened).
    pub refused: bool,
    /// Both sides sent FIN, or one sent RST.
    pub closed: bool,
    /// Bytes missing from a stream (the capture lost segments).
    pub gaps: Vec<String>,
}

/// The TCP connections in `segments`, in the order they opened. Each side's
/// stream is rebuilt from sequence numbers, so a retransmission counts once.
pub fn connections(segments: &[Segment]) -> Vec<Connection> {
    #[derive(Default)]
    struct Side {
        initial: Option<u32>,
        pieces: BTreeMap<u32, Vec<u8>>,
        fin: bool,
        rst: bool,
    }
    let mut order: Vec<(SocketAddr, SocketAddr)> = Vec::new();
    let mut sides: BTreeMap<(SocketAddr, SocketAddr), Side> = BTreeMap::new();
    let mut refused = Vec::new();
    for segment in segments {
        let key = (segment.source, segment.destination);
        if segment.flags & TCP_SYN != 0 && segment.flags & TCP_ACK == 0 && !order.contains(&key) {
            order.push(key);
        }
        if segment.flags & TCP_RST != 0 && segment.flags & TCP_ACK != 0 && segment.payload.is_empty() && !sides.contains_key(&key) {
            refused.push((segment.destination, segment.source));
        }
        let side = sides.entry(key).or_default();
        if segment.flags & TCP_SYN != 0 {
            side.initial = Some(segment.sequence);
        }
        side.fin |= segment.flags & TCP_FIN != 0;
        side.rst |= segment.flags & TCP_RST != 0;
        if !segment.payload.is_empty() {
            let relative = segment.sequence.wrapping_sub(side.initial.unwrap_or(segment.sequence.wrapping_sub(1)));
            let piece = side.pieces.entry(relative).or_default();
            if segment.payload.len() > piece.len() {
                *piece = segment.payload.clone();
            }
        }
    }
    let rebuild = |side: Option<&Side>, gaps: &mut Vec<String>, label: &str| -> Vec<u8> {
        let mut stream = Vec::new();
        let Some(side) = side else { return stream };
        if side.initial.is_none() && !side.pieces.is_empty() {
            gaps.push(format!("{label}: no SYN seen"));
        }
        for (relative, piece) in &side.pieces {
            // The SYN takes sequence number 0; data starts at 1.
            let start = (*relative as usize).saturating_sub(1);
            if start > stream.len() {
                gaps.push(format!("{label}: bytes {}..{start} missing", stream.len()));
                stream.resize(start, 0);
            }
            let overlap = stream.len() - start;
            if piece.len() > overlap {
                stream.extend_from_slice(&piece[overlap..]);
            }
        }
        stream
    };
    order
        .iter()
        .map(|(client, server)| {
            let mut connection = Connection { client: Some(*client), server: Some(*server), ..Connection::default() };
            let (forward, backward) = (sides.get(&(*client, *server)), sides.get(&(*server, *client)));
            connection.sent = rebuild(forward, &mut connection.gaps, "client to server");
            connection.received = rebuild(backward, &mut connection.gaps, "server to client");
            connection.refused = refused.contains(&(*client, *server));
            // Both sides said FIN, or one of them reset it.
            let fin = |side: Option<&Side>| side.is_some_and(|side| side.fin);
            let rst = |side: Option<&Side>| side.is_some_and(|side| side.rst);
            connection.closed = (fin(forward) && fin(backward)) || rst(forward) || rst(backward);
            connection
        })
        .collect()
}

/// Something this computer or its user would give away.
#[derive(Clone, Debug)]
pub struct Secret {
    /// What it is, for the failure message.
    pub what: String,
    pub bytes: Vec<u8>,
    /// Names are matched whatever their case.
    pub any_case: bool,
}

impl Secret {
    pub fn text(what: impl Into<String>, text: &str, any_case: bool) -> Secret {
        Secret { what: what.into(), bytes: text.as_bytes().to_vec(), any_case }
    }

    pub fn binary(what: impl Into<String>, bytes: &[u8]) -> Secret {
        Secret { what: what.into(), bytes: bytes.to_vec(), any_case: false }
    }

    /// Where it occurs in `haystack`, if anywhere.
    pub fn find_in(&self, haystack: &[u8]) -> Option<usize> {
        if self.bytes.is_empty() || haystack.len() < self.bytes.len() {
            return None;
        }
        haystack.windows(self.bytes.len()).position(|window| if self.any_case { window.eq_ignore_ascii_case(&self.bytes) } else { window == self.bytes.as_slice() })
    }

    /// Where it occurs in XML text that holds random tokens (ids, nonces,
    /// base64): a distinctive one anywhere, a short one only as a word of
    /// its own (not inside a longer run of letters and digits), as a name
    /// put into a stanza would stand.
    pub fn find_in_text(&self, text: &[u8]) -> Option<usize> {
        if self.distinctive() {
            return self.find_in(text);
        }
        let length = self.bytes.len();
        let mut from = 0;
        while let Some(found) = self.find_in(&text[from..]) {
            let at = from + found;
            let before = at.checked_sub(1).map(|index| text[index]);
            let after = text.get(at + length).copied();
            if !before.is_some_and(|byte| byte.is_ascii_alphanumeric()) && !after.is_some_and(|byte| byte.is_ascii_alphanumeric()) {
                return Some(at);
            }
            from = at + 1;
        }
        None
    }

    /// Long enough that random bytes (TLS records) do not hold it by
    /// chance: 6 bytes occur by chance once in 2^48 places, a capture has
    /// about 2^17. A shorter one (a host called `vm`, the user `root`, an
    /// IPv4 address's four bytes) is looked for only where text is clear.
    pub fn distinctive(&self) -> bool {
        self.bytes.len() >= 6
    }
}

/// The host's names, its user's name and its addresses (outside loopback),
/// as text and in binary: what a packet from this computer must not carry.
/// Read here, in the test process, outside any namespace of the test's.
pub fn host_secrets() -> Vec<Secret> {
    let mut secrets = Vec::new();
    for (what, path) in [("the host name", "/proc/sys/kernel/hostname"), ("the host name in /etc/hostname", "/etc/hostname")] {
        if let Ok(name) = std::fs::read_to_string(path) {
            let name = name.trim();
            if !name.is_empty() {
                secrets.push(Secret::text(format!("{what} {name:?}"), name, true));
                if let Some((short, _)) = name.split_once('.') {
                    secrets.push(Secret::text(format!("{what}'s first label {short:?}"), short, true));
                }
            }
        }
    }
    let user = user_name();
    secrets.push(Secret::text(format!("the user name {user:?}"), &user, false));
    for address in local_addresses() {
        secrets.push(Secret::text(format!("the local address {address}"), &address.to_string(), true));
        let octets = match address {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        secrets.push(Secret::binary(format!("the local address {address} in binary"), &octets));
    }
    for mac in hardware_addresses() {
        secrets.push(Secret::text(format!("the hardware address {mac}"), &mac, true));
        let octets: Vec<u8> = mac.split(':').filter_map(|pair| u8::from_str_radix(pair, 16).ok()).collect();
        secrets.push(Secret::binary(format!("the hardware address {mac} in binary"), &octets));
    }
    secrets
}

/// The name of the user this test runs as (Burrow runs as the same one).
pub fn user_name() -> String {
    let uid = rustix::process::geteuid().as_raw();
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.get(2) == Some(&uid.to_string().as_str())).then(|| fields[0].to_owned())
        })
        .unwrap_or_else(|| panic!("uid {uid} is not in /etc/passwd"))
}

/// The host's addresses outside loopback (`ip -o addr show`).
pub fn local_addresses() -> Vec<IpAddr> {
    let output = Command::new("ip").args(["-o", "addr", "show"]).stdin(Stdio::null()).output().expect("run ip (iproute2)");
    assert!(output.status.success(), "ip -o addr show: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.iter().position(|field| *field == "inet" || *field == "inet6")?;
            fields.get(at + 1)?.split('/').next()?.parse::<IpAddr>().ok()
        })
        .filter(|address| !address.is_loopback())
        .collect()
}

/// The host's hardware addresses (/sys/class/net/*/address), all but zero.
pub fn hardware_addresses() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else { return Vec::new() };
    let mut addresses: Vec<String> = entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("address")).ok())
        .map(|address| address.trim().to_lowercase())
        .filter(|address| address.len() == 17 && address != "00:00:00:00:00:00")
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// The stanzas Prosody received from `jid`'s sessions, in full, from a
/// debug log written with `mod_stanza_debug` (`RECV: ` records; a record's
/// continuation lines, from line breaks inside a stanza, are kept). The
/// sessions are the ones that authenticated as `jid`, from their start.
pub fn stanzas_received_from(debug_log: &Path, jid: &str) -> Vec<String> {
    let log = std::fs::read_to_string(debug_log).unwrap_or_else(|error| panic!("{}: {error}", debug_log.display()));
    // A record starts with "Mon DD HH:MM:SS SESSION\tLEVEL\t".
    let starts_record = |line: &str| {
        let bytes = line.as_bytes();
        bytes.len() > 16 && bytes[3] == b' ' && bytes[6] == b' ' && bytes[9] == b':' && bytes[12] == b':' && bytes[15] == b' '
    };
    let mut records: Vec<String> = Vec::new();
    for line in log.lines() {
        match records.last_mut() {
            Some(record) if !starts_record(line) => {
                record.push('\n');
                record.push_str(line);
            }
            _ => records.push(line.to_owned()),
        }
    }
    let session_of = |record: &str| record.get(16..).and_then(|rest| rest.split('\t').next()).unwrap_or_default().to_owned();
    let sessions: Vec<String> = records.iter().filter(|record| record.ends_with(&format!("Authenticated as {jid}"))).map(|record| session_of(record)).collect();
    records
        .iter()
        .filter(|record| sessions.contains(&session_of(record)))
        .filter_map(|record| record.split_once("\tRECV: ").map(|(_, stanza)| stanza.to_owned()))
        .collect()
}

/// What a SASL `<auth>` or `<response>` stanza carries, base64-decoded
/// (SCRAM's `n=USER,r=NONCE`, PLAIN's password): `None` for other stanzas.
pub fn sasl_payload(stanza: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    if !(stanza.starts_with("<auth") || stanza.starts_with("<response")) || !stanza.contains("urn:ietf:params:xml:ns:xmpp-sasl") {
        return None;
    }
    let (_, rest) = stanza.split_once('>')?;
    let (text, _) = rest.split_once("</")?;
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}

/// The protocols tshark itself finds in each frame of `pcap`
/// (`frame.protocols`, like `eth:ethertype:ip:tcp:socks`): a second reader
/// beside `Pcap`.
pub fn tshark_protocols(pcap: &Path) -> Vec<String> {
    let output = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-T", "fields", "-e", "frame.protocols"])
        .stdin(Stdio::null())
        .output()
        .expect("run tshark -r");
    assert!(output.status.success(), "tshark -r {}: {}", pcap.display(), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(source: u16, destination: u16, sequence: u32, flags: u8, payload: &[u8]) -> Segment {
        Segment {
            source: SocketAddr::from((Ipv4Addr::LOCALHOST, source)),
            destination: SocketAddr::from((Ipv4Addr::LOCALHOST, destination)),
            sequence,
            flags,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn streams_are_rebuilt_from_sequence_numbers() {
        let segments = [
            segment(40000, 9050, u32::MAX - 1, TCP_SYN, b""),
            segment(9050, 40000, 7, TCP_SYN | TCP_ACK, b""),
            segment(40000, 9050, u32::MAX, TCP_ACK, b"hel"),
            // A retransmission, then the rest across the wrap of the sequence space.
            segment(40000, 9050, u32::MAX, TCP_ACK, b"hel"),
            segment(40000, 9050, 2, TCP_ACK, b"lo"),
            segment(9050, 40000, 8, TCP_ACK, b"hi"),
            segment(40000, 9050, 4, TCP_FIN | TCP_ACK, b""),
            segment(9050, 40000, 10, TCP_FIN | TCP_ACK, b""),
            segment(40001, 9050, 100, TCP_SYN, b""),
            segment(9050, 40001, 0, TCP_RST | TCP_ACK, b""),
        ];
        let found = connections(&segments);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].sent.as_slice(), found[0].received.as_slice()), (&b"hello"[..], &b"hi"[..]));
        assert!(found[0].closed && !found[0].refused && found[0].gaps.is_empty(), "{:?}", found[0]);
        assert!(found[1].refused && found[1].sent.is_empty());
        let lost = connections(&[segment(1, 2, 10, TCP_SYN, b""), segment(1, 2, 15, TCP_ACK, b"x")]);
        assert_eq!(lost[0].gaps, ["client to server: bytes 0..4 missing"]);
    }

    #[test]
    fn frames_are_decoded() {
        // Ethernet (zero MACs, as on lo), IPv4 127.0.0.1 -> 127.0.0.1, TCP 1 -> 2 carrying "x".
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&[0x45, 0, 0, 41, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0, 0x50, TCP_ACK, 0, 0, 0, 0, 0, 0, b'x']);
        assert_eq!(decode_ethernet(&frame), Decoded::Tcp(segment(1, 2, 9, TCP_ACK, b"x")));
        frame[14 + 9] = 17;
        assert_eq!(decode_ethernet(&frame), Decoded::Other("UDP 127.0.0.1:1 -> 127.0.0.1:2".to_owned()));
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0];
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&frame);
        assert_eq!(Pcap::parse(&file).unwrap(), (LINKTYPE_ETHERNET, vec![frame]));
        assert!(Pcap::parse(b"not a pcap file at all!!").unwrap_err().contains("not a pcap file"));
        // Cut inside the record: an error once finished, the frames before it while growing.
        let cut = &file[..file.len() - 1];
        assert!(Pcap::parse(cut).unwrap_err().contains("cut short"));
        assert_eq!(Pcap::parse_growing(cut).unwrap(), (LINKTYPE_ETHERNET, vec![]));
        assert_eq!(Pcap::parse_growing(&file[..10]).unwrap(), (0, vec![]));
    }

    #[test]
    fn sasl_payloads_are_decoded() {
        let auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1hLHI9eA==</auth>";
        assert_eq!(sasl_payload(auth).as_deref(), Some(&b"n,,n=a,r=x"[..]));
        assert_eq!(sasl_payload("<presence/>"), None);
    }

    #[test]
    fn secrets_are_found_raw_and_names_in_any_case() {
        let name = Secret::text("a name", "Burrow-Host", true);
        assert_eq!(name.find_in(b"..to='burrow-host'.."), Some(6));
        assert_eq!(Secret::text("a user", "root", false).find_in(b"ROOT"), None);
        assert_eq!(Secret::binary("an address", &[192, 0, 2, 2]).find_in(&[1, 192, 0, 2, 2]), Some(1));
        let short = Secret::text("a short name", "vm", true);
        assert!(!short.distinctive());
        assert_eq!(short.find_in_text(b"id='x9vm2' os='VM'"), Some(15));
        assert_eq!(short.find_in_text(b"<host>vm.local</host>"), Some(6));
        assert_eq!(short.find_in_text(b"AAvmQ+/vmx"), None);
        assert_eq!(Secret::text("a long name", "burrow-host", true).find_in_text(b"xburrow-hosty"), Some(1));
    }
}
