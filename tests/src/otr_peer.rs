//! The libotr reference peer (`tests/otr-peers/libotr_peer.c`, built here
//! with the system's libotr) driven from an end-to-end test: libotr does the
//! protocol, the test carries its messages over a real XMPP account.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

/// Builds the peer once per test binary; panics with the build's output.
pub fn libotr_peer_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = crate::servers::run_dir().join("otr-peers");
        std::fs::create_dir_all(&out).expect("peer build dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("otr-peers/build.sh");
        let built = Command::new("bash").arg(&script).arg(&out).output().expect("run otr-peers/build.sh");
        assert!(built.status.success(), "building the libotr peer failed (is libotr5-dev installed?): {}{}", String::from_utf8_lossy(&built.stdout), String::from_utf8_lossy(&built.stderr));
        out.join("libotr_peer")
    })
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).expect("the peer's base64")
}

/// A running libotr peer.
pub struct LibotrPeer {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
    /// Which of `seen` an `expect` has already returned.
    claimed: Vec<bool>,
    /// Bodies libotr wants sent, in order, not yet taken.
    wire: Vec<String>,
    pub fingerprint: String,
}

impl LibotrPeer {
    /// Starts the peer as `account` with its key files in `dir` (made on
    /// first use) under libotr policy `policy` (default, always, manual).
    pub fn start(dir: &Path, account: &str, policy: &str) -> Self {
        std::fs::create_dir_all(dir).expect("peer dir");
        let mut child = Command::new(libotr_peer_binary())
            .args(["--account", account, "--protocol", "xmpp", "--policy", policy, "--dir"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the libotr peer");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (sender, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|error| panic!("peer line is not JSON ({error}): {line}"));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let mut peer = Self { child, stdin, events, seen: Vec::new(), claimed: Vec::new(), wire: Vec::new(), fingerprint: String::new() };
        let ready = peer.expect("the peer's ready", Duration::from_secs(60), |event| event["event"] == "ready");
        peer.fingerprint = ready["fingerprint"].as_str().expect("fingerprint").to_owned();
        peer
    }

    pub fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the peer");
        self.stdin.flush().expect("flush");
    }

    fn take(&mut self, event: Value) {
        if event["event"] == "inject" || event["event"] == "out" {
            let body = String::from_utf8(unb64(event["b64"].as_str().expect("b64"))).expect("UTF-8 from libotr");
            self.wire.push(body);
        }
        self.seen.push(event);
        self.claimed.push(false);
    }

    /// The first event matching `wanted` that no `expect` returned yet,
    /// waiting for it if it has not come; every event is kept in `seen`.
    pub fn expect(&mut self, what: &str, timeout: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(index) = (0..self.seen.len()).find(|&index| !self.claimed[index] && wanted(&self.seen[index])) {
            self.claimed[index] = true;
            return self.seen[index].clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(event) => {
                    let matched = wanted(&event);
                    self.take(event.clone());
                    if matched {
                        if let Some(last) = self.claimed.last_mut() {
                            *last = true;
                        }
                        return event;
                    }
                }
                Err(_) => panic!("the libotr peer sent no {what} within {timeout:?}; its events: {:#?}", self.seen),
            }
        }
    }

    /// Everything libotr wants sent so far: `poll` is answered after the
    /// commands before it, so its `polled` closes the batch.
    pub fn drain_wire(&mut self) -> Vec<String> {
        self.command("poll");
        self.expect("polled", Duration::from_secs(30), |event| event["event"] == "polled");
        std::mem::take(&mut self.wire)
    }

    /// A message body from `from` arrived.
    pub fn receive(&mut self, from: &str, body: &str) {
        self.command(&format!("recv {from} {}", b64(body.as_bytes())));
    }
}

impl Drop for LibotrPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
