//! A real DNS server (Debian's `dnsmasq`, package `dnsmasq-base`) on
//! 127.0.0.1, serving the SRV records a test gives it, over TCP as well as
//! UDP. It knows nothing else: no upstream (`--no-resolv`), no hosts file,
//! and every other name under `.test` is answered "no such name"
//! (`--local=/test/`), so the answers are exactly the test's. Every query is
//! written to its log (`--log-queries`), which the tests read to see that
//! it was asked.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{instance_dir, log_tail, reserve_port, spawn_supervised};

/// `_service._proto.domain`, priority, weight, target, port.
pub struct SrvEntry<'a> {
    pub name: &'a str,
    pub target: &'a str,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
}

pub struct Dnsmasq {
    port: u16,
    log_path: PathBuf,
    child: Mutex<Child>,
}

impl Dnsmasq {
    pub fn start(records: &[SrvEntry]) -> Dnsmasq {
        let dir = instance_dir("dnsmasq");
        let port = reserve_port();
        let log_path = dir.join("dnsmasq.log");
        let mut arguments = vec![
            "--keep-in-foreground".to_owned(),
            "--conf-file=/dev/null".to_owned(),
            format!("--port={port}"),
            "--listen-address=127.0.0.1".to_owned(),
            "--bind-interfaces".to_owned(),
            "--no-resolv".to_owned(),
            "--no-hosts".to_owned(),
            "--local=/test/".to_owned(),
            "--log-queries".to_owned(),
            format!("--log-facility={}", log_path.display()),
            // As root it would otherwise switch to `nobody`, who cannot write the log.
            "--user=root".to_owned(),
            format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
        ];
        for record in records {
            arguments.push(format!("--srv-host={},{},{},{},{}", record.name, record.target, record.port, record.priority, record.weight));
        }
        let argument_refs: Vec<&str> = arguments.iter().map(String::as_str).collect();
        let console = std::fs::File::create(dir.join("console.log")).expect("dnsmasq console log");
        let child = spawn_supervised("dnsmasq", &argument_refs, |command| {
            command.stdin(Stdio::null()).stdout(console.try_clone().expect("console log")).stderr(console);
        })
        .expect("start dnsmasq (apt-get install dnsmasq-base)");
        let dnsmasq = Dnsmasq { port, log_path, child: Mutex::new(child) };
        dnsmasq.wait_until_listening(Duration::from_secs(20));
        dnsmasq
    }

    fn wait_until_listening(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.lock().unwrap_or_else(|poison| poison.into_inner()).try_wait() {
                panic!("dnsmasq exited ({status}): {}", log_tail(&self.log_path, 20));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dnsmasq did not listen on 127.0.0.1:{} within {timeout:?}", self.port);
    }

    /// Its TCP (and UDP) port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The names asked for with type `kind` (`SRV`, `A`, ...), as logged:
    /// `query[SRV] _xmpp-client._tcp.prosody.test from 127.0.0.1`.
    pub fn queries(&self, kind: &str) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let marker = format!("query[{kind}] ");
        log.lines()
            .filter_map(|line| line.split_once(&marker).map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default().to_owned()))
            .collect()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|poison| poison.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}
