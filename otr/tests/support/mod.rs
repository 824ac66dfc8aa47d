//! Harness for the interop tests: a reference OTR peer (libotr 4.1.1 or
//! python3-potr 1.0.2, see tests/otr-peers/README.md) driven over its JSON
//! line protocol, and a [`Link`] that joins one Burrow [`Conversation`] to
//! it, shuttling what either side transmits and keeping everything seen.
#![allow(dead_code)]

use otr::extra_key::{ExtraKey, KeyUse};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use otr::dsa::{fingerprint_human, PrivateKey};
use otr::instance_tag::InstanceTag;
use otr::policy::Policy;
use otr::rng::OsRng;
use otr::session::{Conversation, Env, Output, Settings, State, StateReport};
use otr::smp::SmpEvent;

/// Every wait for the peer is bounded by this.
pub const STEP: Duration = Duration::from_secs(30);
/// The name Burrow has at the peer, and the peer's account.
pub const BURROW: &str = "burrow";
pub const PEER: &str = "peer";

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    STANDARD.decode(text).unwrap_or_else(|error| panic!("bad base64 from the peer ({error}): {text}"))
}

/// Burrow's long-term key, made once per test binary.
pub fn burrow_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(&mut OsRng).expect("DSA key generation"))
}

pub fn burrow_fingerprint() -> String {
    fingerprint_human(&burrow_key().public_key().fingerprint())
}

fn scratch_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("burrow-otr-interop-{name}-{}-{nanos}-{count}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// libotr_peer, built once per test binary.
pub fn libotr_peer_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let dir = scratch_dir("libotr-build");
        let output = Command::new(manifest_dir().join("../tests/otr-peers/build.sh")).arg(&dir).output().expect("run build.sh");
        assert!(output.status.success(), "build.sh failed: {}", String::from_utf8_lossy(&output.stderr));
        dir.join("libotr_peer")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Libotr,
    Potr,
}

/// A running reference peer.
pub struct Peer {
    pub kind: Kind,
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
    pub dir: PathBuf,
    /// Its own fingerprint, from `ready`.
    pub fingerprint: String,
    /// Its instance tag, from `ready` (none in potr).
    pub instag: Option<u32>,
    /// Every event it printed, in order.
    pub log: Vec<Value>,
}

impl Peer {
    pub fn spawn(kind: Kind, policy: &str, max_fragment: usize) -> Peer {
        let dir = scratch_dir(match kind {
            Kind::Libotr => "libotr",
            Kind::Potr => "potr",
        });
        let mut command = match kind {
            Kind::Libotr => Command::new(libotr_peer_binary()),
            Kind::Potr => {
                let mut command = Command::new("/usr/bin/python3");
                command.arg(manifest_dir().join("../tests/otr-peers/potr_peer.py"));
                command
            }
        };
        command
            .args(["--account", PEER, "--protocol", "xmpp", "--policy", policy, "--max-fragment"])
            .arg(max_fragment.to_string())
            .arg("--dir")
            .arg(&dir)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().unwrap_or_else(|error| panic!("cannot start the {kind:?} peer: {error}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line).unwrap_or_else(|error| panic!("peer printed non-JSON ({error}): {line}"));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let mut peer = Peer { kind, child, stdin, events, dir, fingerprint: String::new(), instag: None, log: Vec::new() };
        let ready = peer.wait_for("ready", |event| event["event"] == "ready");
        peer.fingerprint = ready["fingerprint"].as_str().unwrap().to_owned();
        peer.instag = ready["instag"].as_str().map(|tag| u32::from_str_radix(tag.trim_start_matches("0x"), 16).expect("instag in hex"));
        peer
    }

    pub fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").and_then(|()| self.stdin.flush()).unwrap_or_else(|error| panic!("peer's stdin: {error}"));
    }

    /// The next event, within [`STEP`].
    pub fn next_event(&mut self, waiting_for: &str) -> Value {
        match self.events.recv_timeout(STEP) {
            Ok(event) => {
                self.log.push(event.clone());
                event
            }
            Err(RecvTimeoutError::Timeout) => panic!("{:?} peer: no event within {STEP:?} while waiting for {waiting_for}", self.kind),
            Err(RecvTimeoutError::Disconnected) => panic!("{:?} peer exited while waiting for {waiting_for}", self.kind),
        }
    }

    /// Reads events until one matches; returns it (all are kept in `log`).
    pub fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            assert!(Instant::now() < deadline, "{:?} peer: no {what} within {STEP:?}", self.kind);
            let event = self.next_event(what);
            if matches(&event) {
                return event;
            }
        }
    }

    /// Sends a command that answers with one event named `answer`.
    pub fn ask(&mut self, line: &str, answer: &str) -> Value {
        self.command(line);
        self.wait_for(answer, |event| event["event"] == answer || event["event"] == "error")
    }

    /// `keys burrow`: (our_keyid, their_keyid, protocol_version, msgstate).
    pub fn keys(&mut self) -> (u64, u64, u64, String) {
        let keys = self.ask(&format!("keys {BURROW}"), "keys");
        assert_eq!(keys["event"], "keys", "keys: {keys}");
        (
            keys["our_keyid"].as_u64().unwrap(),
            keys["their_keyid"].as_u64().unwrap(),
            keys["protocol_version"].as_u64().unwrap(),
            keys["msgstate"].as_str().unwrap().to_owned(),
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One Burrow conversation and one reference peer, and everything that
/// passed between them.
pub struct Link {
    pub burrow: Conversation,
    rng: OsRng,
    pub peer: Peer,
    pending: Vec<Output>,
    /// Texts Burrow transmitted, in order (each went to the peer as one message).
    pub to_peer: Vec<String>,
    /// Texts the peer injected or sent (`inject`/`out`), in order.
    pub from_peer: Vec<String>,
    /// Burrow's displayed messages: (text, encrypted).
    pub shown: Vec<(String, bool)>,
    pub states: Vec<StateReport>,
    pub smp: Vec<SmpEvent>,
    /// Notices and refusals, as Debug text.
    pub notices: Vec<String>,
    pub refused: Vec<Output>,
    /// Uses of the extra symmetric key the peer announced, with the key.
    pub extra_keys: Vec<(KeyUse, ExtraKey)>,
    /// The peer's events other than inject/out/polled.
    pub peer_events: Vec<Value>,
    next_request: u64,
}

pub fn settings(policy: Policy, max_fragment: Option<usize>) -> Settings {
    Settings { policy, allow_v2: true, max_fragment, account_name: BURROW.into() }
}

impl Link {
    pub fn new(kind: Kind, peer_policy: &str, burrow: Settings, peer_max_fragment: usize) -> Link {
        let peer = Peer::spawn(kind, peer_policy, peer_max_fragment);
        let mut rng = OsRng;
        let tag = InstanceTag::random(&mut rng);
        Link {
            burrow: Conversation::new(burrow, tag),
            rng,
            peer,
            pending: Vec::new(),
            to_peer: Vec::new(),
            from_peer: Vec::new(),
            shown: Vec::new(),
            states: Vec::new(),
            smp: Vec::new(),
            notices: Vec::new(),
            refused: Vec::new(),
            extra_keys: Vec::new(),
            peer_events: Vec::new(),
            next_request: 1,
        }
    }

    /// Runs `f` on Burrow's conversation with a fresh `Env`; its outputs
    /// wait for the next [`Link::pump`].
    pub fn with_burrow<T>(&mut self, f: impl FnOnce(&mut Conversation, &mut Env<'_>) -> T) -> T {
        let mut env = Env { rng: &mut self.rng, key: burrow_key(), now: Instant::now() };
        f(&mut self.burrow, &mut env)
    }

    pub fn queue(&mut self, outputs: Vec<Output>) {
        self.pending.extend(outputs);
    }

    /// Burrow's `start()` (a query), pumped.
    pub fn burrow_start(&mut self) {
        let out = self.burrow.start();
        self.queue(out);
        self.pump();
    }

    pub fn burrow_end(&mut self) {
        let out = self.with_burrow(|conversation, env| conversation.end(env));
        self.queue(out);
        self.pump();
    }

    /// The peer's user sends `text` to Burrow (pumped).
    pub fn peer_send(&mut self, text: &str) {
        self.peer.command(&format!("send {BURROW} {}", b64(text)));
        self.pump();
    }

    pub fn peer_command(&mut self, line: &str) {
        self.peer.command(line);
        self.pump();
    }

    fn take_outputs(&mut self) -> Vec<String> {
        let mut transmit = Vec::new();
        for output in std::mem::take(&mut self.pending) {
            match output {
                Output::Transmit { text, .. } => transmit.push(text),
                Output::Display { text, encrypted } => self.shown.push((text.to_string(), encrypted)),
                Output::State(report) => self.states.push(report),
                Output::Smp { event, .. } => self.smp.push(event),
                Output::Notice(notice) => self.notices.push(format!("{notice:?}")),
                refused @ Output::Refused { .. } => self.refused.push(refused),
                Output::ExtraSymmetricKey { key_use, key } => self.extra_keys.push((key_use, key)),
            }
        }
        transmit
    }

    /// Moves messages both ways until neither side has anything to send.
    pub fn pump(&mut self) {
        for _ in 0..500 {
            let transmit = self.take_outputs();
            for text in &transmit {
                self.peer.command(&format!("recv {BURROW} {}", b64(text)));
            }
            self.to_peer.extend(transmit.iter().cloned());
            // `poll` is answered after everything before it: a barrier.
            self.peer.command("poll");
            let mut received = 0;
            loop {
                let event = self.peer.next_event("polled");
                match event["event"].as_str() {
                    Some("polled") => break,
                    Some("inject") | Some("out") => {
                        assert_eq!(event["to"], BURROW, "peer sent to someone else: {event}");
                        let text = String::from_utf8(unb64(event["b64"].as_str().unwrap())).expect("peer sent non-UTF-8");
                        self.from_peer.push(text.clone());
                        let out = self.with_burrow(|conversation, env| conversation.receive(env, &text));
                        self.pending.extend(out);
                        received += 1;
                    }
                    _ => self.peer_events.push(event),
                }
            }
            if transmit.is_empty() && received == 0 && self.pending.is_empty() {
                return;
            }
        }
        panic!("Burrow and the peer never went quiet");
    }

    /// The peer's events named `name` seen so far.
    pub fn peer_seen(&self, name: &str) -> Vec<&Value> {
        self.peer_events.iter().filter(|event| event["event"] == name).collect()
    }

    pub fn clear(&mut self) {
        self.to_peer.clear();
        self.from_peer.clear();
        self.shown.clear();
        self.states.clear();
        self.smp.clear();
        self.notices.clear();
        self.refused.clear();
        self.peer_events.clear();
    }

    /// Both sides private; fingerprints match what each side says of itself.
    /// Returns the peer's `secure` event.
    pub fn assert_private(&self, version: u64) -> Value {
        assert_eq!(self.burrow.state(), State::Private, "Burrow not private; notices {:?}, peer {:?}", self.notices, self.peer_events);
        let secure = self.peer_seen("secure").last().map(|event| (*event).clone()).unwrap_or_else(|| panic!("peer never secure: {:?}; Burrow notices {:?}", self.peer_events, self.notices));
        assert_eq!(secure["version"], version, "{secure}");
        assert_eq!(secure["fingerprint"], burrow_fingerprint().as_str(), "peer sees Burrow's key");
        let report = self.burrow.report();
        assert_eq!(fingerprint_human(&report.fingerprint.unwrap()), self.peer.fingerprint, "Burrow sees the peer's key");
        secure
    }
}

/// Texts in a range of shapes: non-ASCII, quotes, newlines, 1–2 KiB.
pub fn sample_text(index: usize, who: &str) -> String {
    match index % 10 {
        0 => format!("{who} {index}: plain"),
        1 => format!("{who} {index}: \"quoted\" and 'single' and `back`"),
        2 => format!("{who} {index}: line one\nline two\r\nline three\n"),
        3 => format!("{who} {index}: héllo wörld — ünïcödé ✓ 日本語 😀"),
        4 => format!("{who} {index}: {}", "1 KiB ".repeat(1024 / 6 + 1)),
        5 => format!("{who} {index}: {}", "ßø€ 2KiB ".repeat(2048 / 12)),
        6 => format!("{who} {index}: <b>markup</b> &amp; ?OTR not a message, commas, , ,"),
        7 => format!("{who} {index}: {}", "x".repeat(300 + index)),
        8 => format!("{who} {index}: tabs\tand  spaces "),
        _ => format!("{who} {index}: {}", "é".repeat(index * 7)),
    }
}

/// What one `send` of Burrow's produced, looked at before it is pumped.
#[derive(Debug, Default)]
pub struct Sent {
    /// (text, encrypted) of each Transmit.
    pub transmits: Vec<(String, bool)>,
    pub refused: Vec<otr::session::Refusal>,
}

impl Link {
    /// Burrow's user sends `text`: the outputs are described and queued, not pumped.
    pub fn burrow_send_only(&mut self, text: &str) -> Sent {
        let request = self.next_request;
        self.next_request += 1;
        let out = self.with_burrow(|conversation, env| conversation.send(env, request, text));
        let mut sent = Sent::default();
        for output in &out {
            match output {
                Output::Transmit { text, encrypted, .. } => sent.transmits.push((text.clone(), *encrypted)),
                Output::Refused { reason, .. } => sent.refused.push(*reason),
                _ => {}
            }
        }
        self.queue(out);
        sent
    }
}

pub mod scenarios;

/// otr_parse's output for one message.
pub fn otr_parse(message: &str) -> String {
    let mut child = Command::new("otr_parse").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("otr_parse (Debian libotr5-bin)");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{message}").unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "otr_parse failed: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// The message type byte of a whole encoded message.
pub fn message_type(text: &str) -> u8 {
    let body = text.strip_prefix("?OTR:").and_then(|rest| rest.strip_suffix('.')).unwrap_or_else(|| panic!("not a whole encoded message: {text}"));
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()[2]
}

