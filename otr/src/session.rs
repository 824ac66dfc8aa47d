//! "The protocol state machine": one [`Conversation`] per correspondent,
//! holding a session per instance of theirs (version 3 instance tags), the
//! message state of each, the AKE, SMP, fragment reassembly, and the
//! messages that wait for a private conversation under the `require`
//! policy. Everything that leaves is an [`Output`]; the crypto process
//! turns them into IPC.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::ake::{AkeError, AkeMessage, AuthState, Established};
use crate::data::{self, Keys};
use crate::dsa::{PrivateKey, PublicKey};
use crate::extra_key::{ExtraKey, KeyUse};
use crate::fragment::{self, Reassembler};
use crate::instance_tag::InstanceTag;
use crate::message::{self, Body, Classified, DataMessage, Header, Message, Version, Versions, IGNORE_UNREADABLE};
use crate::policy::{Flags, Policy};
use crate::rng::Rng;
use crate::smp::{self, Smp, SmpEvent};
use crate::tlv::{self, Tlv};

/// libotr's HEARTBEAT_INTERVAL: after this long without sending, a
/// received data message is answered with an empty one, so keys rotate.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);
/// How long a message waits for a private conversation under `require`
/// before it is refused (libotr's MAX_AKE_WAIT_TIME).
pub const MAX_WAIT_FOR_PRIVATE: Duration = Duration::from_secs(60);
/// At most one OTR Error message per this interval, so two confused
/// clients cannot bounce errors at each other.
pub const ERROR_REPLY_INTERVAL: Duration = Duration::from_secs(10);
/// Messages waiting under `require`, per correspondent.
pub const MAX_WAITING: usize = 100;
/// Instances of one correspondent tracked at once; more is a flood.
pub const MAX_INSTANCES: usize = 16;

/// What the caller gives every call: randomness, our long-term key, the time.
pub struct Env<'a> {
    pub rng: &'a mut dyn Rng,
    pub key: &'a PrivateKey,
    pub now: Instant,
}

/// The message state of the session the user is talking to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Plaintext,
    Private,
    Finished,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Plaintext => "plaintext",
            State::Private => "private",
            State::Finished => "finished",
        }
    }
}

/// Why a message of the user's did not leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Policy `require`, and no private conversation came in time.
    NoPrivateConversation,
    /// The peer ended the private conversation; end or restart it first.
    Finished,
    /// Too many messages already wait for a private conversation.
    TooManyWaiting,
}

impl Refusal {
    pub fn explain(self) -> &'static str {
        match self {
            Refusal::NoPrivateConversation => "The policy requires encryption and no private conversation could be started in time, so the message was not sent.",
            Refusal::Finished => "Your contact ended the private conversation. End it too (or start a new one) before sending; the message was not sent.",
            Refusal::TooManyWaiting => "Too many messages are already waiting for a private conversation; this one was not sent.",
        }
    }
}

/// Things the user should know that are not messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A plaintext message arrived while the conversation was private or
    /// policy requires encryption.
    ReceivedUnencrypted,
    /// An encrypted message could not be read (no session, bad MAC, old keys).
    Unreadable(String),
    /// The peer sent an OTR Error message (its text, shown as text only).
    PeerError(String),
    /// A message was malformed or not for us and was dropped.
    Dropped(String),
    /// An AKE message was ignored, as the spec says, for this reason.
    AkeIgnored(AkeError),
    /// The peer offered or used only OTR version 1, which Burrow never speaks.
    VersionRefused,
}

/// Everything a conversation asks its caller to do.
#[derive(Debug)]
pub enum Output {
    /// Send this text to the peer. `request` is set on the message (or last
    /// fragment) that carries the user's message of that number.
    Transmit { text: String, request: Option<u64>, encrypted: bool },
    /// Show a message from the peer.
    Display { text: Zeroizing<String>, encrypted: bool },
    /// The session the user talks to changed state.
    State(StateReport),
    Smp { event: SmpEvent, fingerprint: Option<[u8; 20]> },
    Notice(Notice),
    /// A message of the user's will not be sent.
    Refused { request: u64, reason: Refusal },
    /// The peer announced a use of the extra symmetric key: the key, derived
    /// here, for whatever in this process serves that use. Never for the UI.
    ExtraSymmetricKey { key_use: KeyUse, key: ExtraKey },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateReport {
    pub state: State,
    pub fingerprint: Option<[u8; 20]>,
    pub ssid: Option<[u8; 8]>,
    pub version: Option<Version>,
}

/// Per-correspondent settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    pub allow_v2: bool,
    /// Fragment outgoing OTR messages longer than this (whole fragment).
    pub max_fragment: Option<usize>,
    /// Shown in the query message's human-readable part.
    pub account_name: String,
}

struct Private {
    keys: Keys,
    their_long_term: PublicKey,
    fingerprint: [u8; 20],
    ssid: [u8; 8],
    smp: Smp,
}

enum MessageState {
    Plaintext,
    Private(Box<Private>),
    Finished,
}

/// One instance of the correspondent's client (version 3), or the one
/// version 2 session (instance 0).
struct Instance {
    version: Version,
    auth: AuthState,
    state: MessageState,
    last_sent: Option<Instant>,
}

impl Instance {
    fn new(version: Version) -> Self {
        Self { version, auth: AuthState::None, state: MessageState::Plaintext, last_sent: None }
    }
}

struct Waiting {
    request: u64,
    text: Zeroizing<String>,
    since: Instant,
}

/// Everything about one correspondent.
pub struct Conversation {
    settings: Settings,
    our_tag: InstanceTag,
    /// Our AKE started in answer to a query: its D-H Commit names no
    /// receiver, so it belongs to no instance until one answers.
    started: Option<(Version, AuthState)>,
    instances: HashMap<u32, Instance>,
    /// The instance the user's messages go to.
    current: Option<u32>,
    reassembler: Reassembler,
    waiting: Vec<Waiting>,
    /// Whether the whitespace tag still goes on our next plaintext.
    tag_next_plaintext: bool,
    last_error_reply: Option<Instant>,
}

/// Why a data message for no private session could not be read.
const NO_PRIVATE_CONVERSATION: &str = "an encrypted message arrived but there is no private conversation";

/// Decrypted text as a string to show, invalid UTF-8 replaced (as
/// `String::from_utf8_lossy`), moved rather than copied when it is valid.
fn secret_text(mut bytes: Zeroizing<Vec<u8>>) -> Zeroizing<String> {
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Zeroizing::new(text),
        Err(error) => {
            let bytes = Zeroizing::new(error.into_bytes());
            Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

/// The instance key of a message: the sender's tag in version 3, 0 in 2.
fn instance_key(header: &Header) -> u32 {
    match header.version {
        Version::V2 => 0,
        Version::V3 => header.sender,
    }
}

impl Conversation {
    pub fn new(settings: Settings, our_tag: InstanceTag) -> Self {
        Self {
            tag_next_plaintext: true,
            settings,
            our_tag,
            started: None,
            instances: HashMap::new(),
            current: None,
            reassembler: Reassembler::new(fragment::Limits::default()),
            waiting: Vec::new(),
            last_error_reply: None,
        }
    }

    fn flags(&self) -> Flags {
        self.settings.policy.flags(self.settings.allow_v2)
    }

    pub fn set_policy(&mut self, policy: Policy, allow_v2: bool) {
        self.settings.policy = policy;
        self.settings.allow_v2 = allow_v2;
    }

    pub fn policy(&self) -> Policy {
        self.settings.policy
    }

    fn ours(&self) -> Versions {
        let flags = self.flags();
        Versions { v2: flags.allow_v2, v3: flags.allow_v3 }
    }

    /// The highest version both sides allow.
    fn common_version(&self, theirs: Versions) -> Option<Version> {
        let ours = self.ours();
        if ours.v3 && theirs.v3 {
            Some(Version::V3)
        } else if ours.v2 && theirs.v2 {
            Some(Version::V2)
        } else {
            None
        }
    }

    fn current_instance(&self) -> Option<&Instance> {
        self.current.and_then(|key| self.instances.get(&key))
    }

    /// The state of the session the user talks to.
    pub fn state(&self) -> State {
        match self.current_instance().map(|instance| &instance.state) {
            Some(MessageState::Private(_)) => State::Private,
            Some(MessageState::Finished) => State::Finished,
            _ => State::Plaintext,
        }
    }

    pub fn report(&self) -> StateReport {
        let instance = self.current_instance();
        let private = instance.and_then(|instance| match &instance.state {
            MessageState::Private(private) => Some(private),
            _ => None,
        });
        StateReport {
            state: self.state(),
            fingerprint: private.map(|private| private.fingerprint),
            ssid: private.map(|private| private.ssid),
            version: private.and(instance.map(|instance| instance.version)),
        }
    }

    /// (our key id, their key id) of the current private session; tests
    /// watch these rotate.
    pub fn key_ids(&self) -> Option<(u32, u32)> {
        match &self.current_instance()?.state {
            MessageState::Private(private) => Some((private.keys.our_keyid(), private.keys.their_keyid())),
            _ => None,
        }
    }

    fn header(&self, version: Version, kind: u8, their: u32) -> Header {
        match version {
            Version::V2 => Header { version, kind, sender: 0, receiver: 0 },
            Version::V3 => Header { version, kind, sender: self.our_tag.value(), receiver: their },
        }
    }

    /// An encoded message as the texts that go out (fragmented if asked).
    fn texts(&self, encoded: &[u8], header: &Header) -> Vec<String> {
        let text = message::to_text(encoded);
        match self.settings.max_fragment {
            // Encoded messages hold no comma, the one thing that cannot be
            // fragmented; were one ever refused, it goes whole.
            Some(limit) if text.len() > limit => {
                fragment::fragment(&text, limit, header.version, header.sender, header.receiver).unwrap_or_else(|_| vec![text])
            }
            _ => vec![text],
        }
    }

    fn transmit(&self, out: &mut Vec<Output>, message: &Message, request: Option<u64>, encrypted: bool) {
        self.transmit_encoded(out, &message::encode(message), &message.header, request, encrypted);
    }

    fn transmit_encoded(&self, out: &mut Vec<Output>, encoded: &[u8], header: &Header, request: Option<u64>, encrypted: bool) {
        let texts = self.texts(encoded, header);
        let last = texts.len().saturating_sub(1);
        for (index, text) in texts.into_iter().enumerate() {
            out.push(Output::Transmit { text, request: if index == last { request } else { None }, encrypted });
        }
    }

    fn ake_message(&self, version: Version, their: u32, message: AkeMessage) -> Message {
        let (kind, body) = match message {
            AkeMessage::DhCommit { encrypted_gx, hashed_gx } => (message::DH_COMMIT, Body::DhCommit { encrypted_gx, hashed_gx }),
            AkeMessage::DhKey { gy } => (message::DH_KEY, Body::DhKey { gy }),
            AkeMessage::RevealSignature { revealed_key, encrypted_signature, mac } => {
                // Our r is always 16 bytes.
                let mut key = [0u8; message::REVEALED_KEY_BYTES];
                if revealed_key.len() == key.len() {
                    key.copy_from_slice(&revealed_key);
                }
                (message::REVEAL_SIGNATURE, Body::RevealSignature { revealed_key: key, encrypted_signature, mac })
            }
            AkeMessage::Signature { encrypted_signature, mac } => (message::SIGNATURE, Body::Signature { encrypted_signature, mac }),
        };
        Message { header: self.header(version, kind, their), body }
    }

    /// "User requests to start an OTR conversation": a query message.
    pub fn start(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if self.flags().allows_otr() {
            out.push(Output::Transmit { text: message::query_message(self.ours(), &self.settings.account_name), request: None, encrypted: false });
        }
        out
    }

    /// Begins an AKE of our own (after a query or a whitespace tag).
    fn begin_ake(&mut self, env: &mut Env<'_>, version: Version, out: &mut Vec<Output>) {
        let (state, commit) = AuthState::start(env.rng);
        let message = self.ake_message(version, 0, commit);
        self.started = Some((version, state));
        self.transmit(out, &message, None, false);
    }

    /// "User types a message to be sent".
    pub fn send(&mut self, env: &mut Env<'_>, request: u64, text: &str) -> Vec<Output> {
        let mut out = Vec::new();
        let flags = self.flags();
        match self.state() {
            State::Private => self.send_private(env, &mut out, text.as_bytes(), &[], 0, Some(request)),
            State::Finished => out.push(Output::Refused { request, reason: Refusal::Finished }),
            State::Plaintext if flags.require_encryption => {
                if self.waiting.len() >= MAX_WAITING {
                    out.push(Output::Refused { request, reason: Refusal::TooManyWaiting });
                    return out;
                }
                let asked_recently = self.waiting.iter().any(|waiting| env.now.duration_since(waiting.since) < MAX_WAIT_FOR_PRIVATE / 4);
                self.waiting.push(Waiting { request, text: Zeroizing::new(text.to_owned()), since: env.now });
                if !asked_recently {
                    out.extend(self.start());
                }
            }
            State::Plaintext => {
                let mut plain = text.to_owned();
                if flags.send_whitespace_tag && self.tag_next_plaintext {
                    plain.push_str(&message::whitespace_tag(self.ours()));
                }
                out.push(Output::Transmit { text: plain, request: Some(request), encrypted: false });
            }
        }
        out
    }

    /// A data message to the current private session.
    fn send_private(&mut self, env: &mut Env<'_>, out: &mut Vec<Output>, text: &[u8], tlvs: &[Tlv], flags: u8, request: Option<u64>) {
        let Some(key) = self.current else { return };
        self.send_data(env, out, key, text, tlvs, flags, request);
    }

    #[allow(clippy::too_many_arguments)]
    /// Sends a data message to instance `key`; returns the extra symmetric
    /// key of the keys that protect it, when it was sent.
    fn send_data(&mut self, env: &mut Env<'_>, out: &mut Vec<Output>, key: u32, text: &[u8], tlvs: &[Tlv], flags: u8, request: Option<u64>) -> Option<ExtraKey> {
        let our_tag = self.our_tag.value();
        let instance = self.instances.get_mut(&key)?;
        let MessageState::Private(private) = &mut instance.state else { return None };
        // Only a record over 64 KiB fails, and none of ours is.
        let payload = tlv::encode_payload(text, tlvs).ok()?;
        let sealed = private.keys.seal_owned(payload);
        let header = match instance.version {
            Version::V2 => Header { version: Version::V2, kind: message::DATA, sender: 0, receiver: 0 },
            Version::V3 => Header { version: Version::V3, kind: message::DATA, sender: our_tag, receiver: key },
        };
        let data = DataMessage {
            flags,
            sender_keyid: sealed.sender_keyid,
            recipient_keyid: sealed.recipient_keyid,
            next_dh: sealed.next_dh.to_bytes(),
            ctr: sealed.counter,
            encrypted_message: sealed.encrypted,
            // Set by encode_data over the bytes it covers.
            mac: [0; data::MAC_BYTES],
            old_mac_keys: sealed.old_mac_keys,
        };
        let encoded = message::encode_data(&header, &data, |authenticated| data::mac(&sealed.mac_key, authenticated));
        instance.last_sent = Some(env.now);
        let extra = ExtraKey::new(sealed.extra_symmetric_key);
        self.transmit_encoded(out, &encoded, &header, request, true);
        Some(extra)
    }

    /// "User requests to end an OTR conversation".
    pub fn end(&mut self, env: &mut Env<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        let keys: Vec<u32> = self.instances.keys().copied().collect();
        for key in keys {
            let private = matches!(self.instances.get(&key).map(|instance| &instance.state), Some(MessageState::Private(_)));
            if private {
                self.send_data(env, &mut out, key, b"", &[Tlv::new(tlv::DISCONNECTED, Vec::new())], IGNORE_UNREADABLE, None);
            }
            if let Some(instance) = self.instances.get_mut(&key) {
                instance.state = MessageState::Plaintext;
            }
        }
        self.tag_next_plaintext = true;
        out.push(Output::State(self.report()));
        out
    }

    /// Messages waiting under `require` that waited too long are refused.
    pub fn tick(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        self.waiting.retain(|waiting| {
            let expired = now.duration_since(waiting.since) >= MAX_WAIT_FOR_PRIVATE;
            if expired {
                out.push(Output::Refused { request: waiting.request, reason: Refusal::NoPrivateConversation });
            }
            !expired
        });
        out
    }

    /// Whether messages wait for a private conversation (so the caller
    /// keeps calling `tick`).
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// A message from the peer.
    pub fn receive(&mut self, env: &mut Env<'_>, text: &str) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.flags().allows_otr() {
            out.push(Output::Display { text: Zeroizing::new(text.to_owned()), encrypted: false });
            return out;
        }
        self.receive_text(env, text, &mut out, true);
        out
    }

    fn receive_text(&mut self, env: &mut Env<'_>, text: &str, out: &mut Vec<Output>, may_be_fragment: bool) {
        match message::classify(text) {
            Ok(Classified::Fragment(piece)) if may_be_fragment => {
                if piece.receiver != 0 && piece.receiver != self.our_tag.value() {
                    out.push(Output::Notice(Notice::Dropped("a fragment for another of your clients".into())));
                    return;
                }
                // Pieces from an instance we have a private session with
                // may displace those of unknown ones when the reassembler is
                // full, so made-up instances cannot keep its messages out.
                let from = match piece.version {
                    Version::V2 => 0,
                    Version::V3 => piece.sender,
                };
                let known = matches!(self.instances.get(&from).map(|instance| &instance.state), Some(MessageState::Private(_)));
                let pushed = if known { self.reassembler.push_known(piece) } else { self.reassembler.push(piece) };
                match pushed {
                    Ok(Some(whole)) => self.receive_text(env, &whole, out, false),
                    Ok(None) => {}
                    Err(error) => out.push(Output::Notice(Notice::Dropped(error.to_string()))),
                }
            }
            Ok(Classified::Fragment(_)) => out.push(Output::Notice(Notice::Dropped("a fragment inside a fragment".into()))),
            Ok(Classified::Query(versions)) => match self.common_version(versions) {
                Some(version) => self.begin_ake(env, version, out),
                None => out.push(Output::Notice(Notice::VersionRefused)),
            },
            Ok(Classified::Error(error)) => {
                out.push(Output::Notice(Notice::PeerError(error)));
                if self.flags().error_start_ake {
                    out.extend(self.start());
                }
            }
            Ok(Classified::Plaintext { text, tag }) => self.receive_plaintext(env, text, tag, out),
            Ok(Classified::Encoded(bytes)) => self.receive_encoded(env, &bytes, out),
            Err(error) => out.push(Output::Notice(Notice::Dropped(error.to_string()))),
        }
    }

    /// "Receiving plaintext with(out) the whitespace tag".
    fn receive_plaintext(&mut self, env: &mut Env<'_>, text: String, tag: Option<Versions>, out: &mut Vec<Output>) {
        let flags = self.flags();
        if self.state() != State::Plaintext || flags.require_encryption {
            out.push(Output::Notice(Notice::ReceivedUnencrypted));
        }
        self.tag_next_plaintext = false;
        if !text.is_empty() {
            out.push(Output::Display { text: Zeroizing::new(text), encrypted: false });
        }
        if let Some(versions) = tag {
            if flags.whitespace_start_ake && self.state() == State::Plaintext {
                if let Some(version) = self.common_version(versions) {
                    self.begin_ake(env, version, out);
                }
            }
        }
    }

    fn receive_encoded(&mut self, env: &mut Env<'_>, bytes: &[u8], out: &mut Vec<Output>) {
        let (message, mac_end) = match message::decode_marking_mac(bytes) {
            Ok(decoded) => decoded,
            Err(error) => {
                out.push(Output::Notice(Notice::Dropped(format!("a malformed OTR message: {error}"))));
                return;
            }
        };
        let header = message.header;
        let ours = self.ours();
        let allowed = match header.version {
            Version::V2 => ours.v2,
            Version::V3 => ours.v3,
        };
        if !allowed {
            out.push(Output::Notice(Notice::VersionRefused));
            return;
        }
        if header.version == Version::V3 {
            if InstanceTag::from_wire(header.sender).is_none() {
                out.push(Output::Notice(Notice::Dropped("a message with an invalid sender instance tag".into())));
                return;
            }
            let unaddressed_commit = header.receiver == 0 && matches!(message.body, Body::DhCommit { .. });
            if header.receiver != self.our_tag.value() && !unaddressed_commit {
                out.push(Output::Notice(Notice::Dropped("a message for another of your clients".into())));
                return;
            }
        }
        let key = instance_key(&header);
        if !self.instances.contains_key(&key) {
            // Only a D-H Commit, or a D-H Key answering our own commit, can
            // begin anything with an instance we do not know. Anything else
            // gets the answer a fresh instance would give, and no entry: an
            // entry per made-up sender tag would fill the table and lock out
            // a genuine new instance.
            let answers_ours = self.started.as_ref().is_some_and(|(version, _)| *version == header.version);
            match &message.body {
                Body::DhCommit { .. } => {}
                Body::DhKey { .. } if answers_ours => {}
                Body::DhKey { .. } => return out.push(Output::Notice(Notice::AkeIgnored(AkeError::Unexpected("D-H Key")))),
                Body::RevealSignature { .. } => return out.push(Output::Notice(Notice::AkeIgnored(AkeError::Unexpected("Reveal Signature")))),
                Body::Signature { .. } => return out.push(Output::Notice(Notice::AkeIgnored(AkeError::Unexpected("Signature")))),
                Body::Data(data) => {
                    let ignore = data.flags & IGNORE_UNREADABLE != 0;
                    return self.unreadable(env, ignore, NO_PRIVATE_CONVERSATION.into(), out);
                }
            }
            if self.instances.len() >= MAX_INSTANCES && !self.forget_an_idle_instance() {
                out.push(Output::Notice(Notice::Dropped("too many instances of this contact".into())));
                return;
            }
            self.instances.insert(key, Instance::new(header.version));
        }
        match message.body {
            Body::DhCommit { encrypted_gx, hashed_gx } => self.receive_ake(env, key, header.version, AkeMessage::DhCommit { encrypted_gx, hashed_gx }, out),
            Body::DhKey { gy } => self.receive_ake(env, key, header.version, AkeMessage::DhKey { gy }, out),
            Body::RevealSignature { revealed_key, encrypted_signature, mac } => {
                let revealed_key = revealed_key.to_vec();
                self.receive_ake(env, key, header.version, AkeMessage::RevealSignature { revealed_key, encrypted_signature, mac }, out)
            }
            Body::Signature { encrypted_signature, mac } => self.receive_ake(env, key, header.version, AkeMessage::Signature { encrypted_signature, mac }, out),
            // The MAC covers the bytes as they arrived (see received_mac_input).
            Body::Data(data) => match mac_end.and_then(|end| bytes.get(..end)) {
                Some(authenticated) => self.receive_data(env, key, authenticated, &data, out),
                None => out.push(Output::Notice(Notice::Dropped(message::MessageError::NotData.to_string()))),
            },
        }
    }

    /// Makes room for a new instance by forgetting one that holds no
    /// conversation: in plaintext, not the current one, and preferably with
    /// no AKE under way. False when every instance holds one.
    fn forget_an_idle_instance(&mut self) -> bool {
        let current = self.current;
        let idle = |instance: &Instance| matches!(instance.state, MessageState::Plaintext);
        let candidate = self
            .instances
            .iter()
            .filter(|(key, instance)| Some(**key) != current && idle(instance))
            .min_by_key(|(_, instance)| !instance.auth.is_none())
            .map(|(key, _)| *key);
        let Some(key) = candidate else { return false };
        self.reassembler.forget(key);
        self.instances.remove(&key).is_some()
    }

    /// Their D-H Commit is weighed against the commit we sent to nobody
    /// in particular, and their D-H Key answers it; every instance that does
    /// so gets its own copy of that exchange.
    fn adopt_started_ake(&mut self, key: u32, version: Version) {
        let Some(instance) = self.instances.get_mut(&key) else { return };
        if !instance.auth.is_none() {
            return;
        }
        if let Some(state) = self.started.as_ref().filter(|(started, _)| *started == version).and_then(|(_, state)| state.copy_started()) {
            instance.auth = state;
        }
    }

    fn receive_ake(&mut self, env: &mut Env<'_>, key: u32, version: Version, message: AkeMessage, out: &mut Vec<Output>) {
        if matches!(message, AkeMessage::DhCommit { .. } | AkeMessage::DhKey { .. }) {
            self.adopt_started_ake(key, version);
        }
        let Some(instance) = self.instances.get_mut(&key) else { return };
        instance.version = version;
        let state = std::mem::take(&mut instance.auth);
        let (next, step) = state.handle(env.rng, env.key, message);
        instance.auth = next;
        if let Some(why) = step.ignored {
            out.push(Output::Notice(Notice::AkeIgnored(why)));
        }
        if let Some(reply) = step.reply {
            let message = self.ake_message(version, key, reply);
            self.transmit(out, &message, None, false);
        }
        if let Some(established) = step.established {
            self.go_private(env, key, established, out);
        }
    }

    /// The AKE completed: the session is private; messages that waited go.
    fn go_private(&mut self, env: &mut Env<'_>, key: u32, established: Established, out: &mut Vec<Output>) {
        let Some(instance) = self.instances.get_mut(&key) else { return };
        let fingerprint = established.their_long_term.fingerprint();
        let keys = Keys::after_ake(env.rng, established.our_dh, established.our_keyid, established.their_keyid, established.their_dh);
        instance.state = MessageState::Private(Box::new(Private {
            keys,
            their_long_term: established.their_long_term,
            fingerprint,
            ssid: established.ssid,
            smp: Smp::default(),
        }));
        self.current = Some(key);
        self.started = None;
        out.push(Output::State(self.report()));
        for waiting in std::mem::take(&mut self.waiting) {
            self.send_private(env, out, waiting.text.as_bytes(), &[], 0, Some(waiting.request));
        }
    }

    /// "Receiving a Data Message".
    fn receive_data(&mut self, env: &mut Env<'_>, key: u32, authenticated: &[u8], data: &DataMessage, out: &mut Vec<Output>) {
        let ignore_unreadable = data.flags & IGNORE_UNREADABLE != 0;
        let Some(instance) = self.instances.get_mut(&key) else { return };
        let MessageState::Private(private) = &mut instance.state else {
            self.unreadable(env, ignore_unreadable, NO_PRIVATE_CONVERSATION.into(), out);
            return;
        };
        let incoming = data::Incoming {
            sender_keyid: data.sender_keyid,
            recipient_keyid: data.recipient_keyid,
            next_dh: &data.next_dh,
            counter: data.ctr,
            encrypted: &data.encrypted_message,
            mac: data.mac,
            authenticated,
        };
        let opened = match private.keys.open(env.rng, &incoming) {
            Ok(opened) => opened,
            Err(error) => {
                self.unreadable(env, ignore_unreadable, error.to_string(), out);
                return;
            }
        };
        // tlv::decode_payload's reading, with the text left in place: the
        // plaintext buffer becomes the displayed text, not copied again.
        let mut plaintext = opened.plaintext;
        let opened_extra_key = opened.extra_symmetric_key;
        // CStr's search is memchr's, many bytes a step.
        let text_end = std::ffi::CStr::from_bytes_until_nul(&plaintext).ok().map(|text| text.to_bytes().len());
        let records = match text_end {
            Some(end) => tlv::decode_records(&plaintext[end + 1..]),
            None => Ok(Vec::new()),
        };
        let tlvs = match records {
            Ok(tlvs) => tlvs,
            Err(error) => {
                out.push(Output::Notice(Notice::Dropped(format!("an encrypted message with malformed records: {error}"))));
                return;
            }
        };
        if let Some(end) = text_end {
            // Still wiped with the rest: Vec's zeroize covers its capacity.
            plaintext.truncate(end);
        }
        if !plaintext.is_empty() {
            out.push(Output::Display { text: secret_text(plaintext), encrypted: true });
        }
        self.current = Some(key);
        let mut smp_replies = Vec::new();
        let mut finished = false;
        if let Some(instance) = self.instances.get_mut(&key) {
            if let MessageState::Private(private) = &mut instance.state {
                for record in &tlvs {
                    match record.kind {
                        tlv::DISCONNECTED => finished = true,
                        tlv::SMP_1 | tlv::SMP_1_QUESTION | tlv::SMP_2 | tlv::SMP_3 | tlv::SMP_4 | tlv::SMP_ABORT => {
                            let received = private.smp.receive(env.rng, record, env.now);
                            if let Some(reply) = received.reply {
                                smp_replies.push(reply);
                            }
                            if let Some(event) = received.event {
                                out.push(Output::Smp { event, fingerprint: Some(private.fingerprint) });
                            }
                        }
                        tlv::EXTRA_SYMMETRIC_KEY => match KeyUse::from_tlv(record) {
                            Ok(key_use) => out.push(Output::ExtraSymmetricKey { key_use, key: ExtraKey::new(opened_extra_key.clone()) }),
                            Err(error) => out.push(Output::Notice(Notice::Dropped(error.to_string()))),
                        },
                        // Padding, and types this version does not know.
                        _ => {}
                    }
                }
            }
            if finished {
                instance.state = MessageState::Finished;
            }
        }
        if finished {
            out.push(Output::State(self.report()));
            return;
        }
        if !smp_replies.is_empty() {
            self.send_data(env, out, key, b"", &smp_replies, IGNORE_UNREADABLE, None);
        } else {
            let quiet = self.instances.get(&key).and_then(|instance| instance.last_sent).is_none_or(|sent| env.now.duration_since(sent) >= HEARTBEAT_INTERVAL);
            if quiet {
                self.send_data(env, out, key, b"", &[], IGNORE_UNREADABLE, None);
            }
        }
    }

    fn unreadable(&mut self, env: &mut Env<'_>, ignore: bool, why: String, out: &mut Vec<Output>) {
        if ignore {
            return;
        }
        out.push(Output::Notice(Notice::Unreadable(why)));
        let recently = self.last_error_reply.is_some_and(|sent| env.now.duration_since(sent) < ERROR_REPLY_INTERVAL);
        if !recently {
            self.last_error_reply = Some(env.now);
            out.push(Output::Transmit { text: message::error_message("You sent an encrypted message that could not be read."), request: None, encrypted: false });
        }
    }

    /// The fingerprints SMP binds: (ours, theirs) for the current session.
    fn smp_context(&self, env: &Env<'_>) -> Option<([u8; 20], [u8; 20], [u8; 8])> {
        match &self.current_instance()?.state {
            MessageState::Private(private) => Some((env.key.public_key().fingerprint(), private.fingerprint, private.ssid)),
            _ => None,
        }
    }

    /// Starts SMP in the current private session. `None` when not private.
    ///
    /// An exchange already under way (ours, or the peer's waiting for an
    /// answer) is aborted first with an SMP abort in a message of its own,
    /// as the spec's "User requests to begin SMP" says: libotr would take a
    /// bare new SMP1 as a restart, but potr takes it as cheating and aborts
    /// the new exchange too. Its own message, because libotr reads the
    /// abort TLV of a message after its SMP1 TLV.
    pub fn smp_start(&mut self, env: &mut Env<'_>, secret: &[u8], question: Option<&[u8]>) -> Option<Vec<Output>> {
        let (ours, theirs, ssid) = self.smp_context(env)?;
        let key = self.current?;
        let exponent = smp::smp_secret(&ours, &theirs, &ssid, secret);
        let (abort, record) = match self.instances.get_mut(&key).map(|instance| &mut instance.state) {
            Some(MessageState::Private(private)) => {
                let abort = private.smp.in_progress().then(|| private.smp.abort());
                (abort, private.smp.initiate(env.rng, exponent, question))
            }
            _ => return None,
        };
        let mut out = Vec::new();
        if let Some(abort) = abort {
            self.send_data(env, &mut out, key, b"", &[abort], IGNORE_UNREADABLE, None);
        }
        self.send_data(env, &mut out, key, b"", &[record], IGNORE_UNREADABLE, None);
        Some(out)
    }

    /// Answers the peer's SMP request. `None` when none was asked.
    pub fn smp_answer(&mut self, env: &mut Env<'_>, secret: &[u8]) -> Option<Vec<Output>> {
        let (ours, theirs, ssid) = self.smp_context(env)?;
        let key = self.current?;
        let exponent = smp::smp_secret(&theirs, &ours, &ssid, secret);
        let record = match self.instances.get_mut(&key).map(|instance| &mut instance.state) {
            Some(MessageState::Private(private)) => private.smp.respond(env.rng, exponent).ok()?,
            _ => return None,
        };
        let mut out = Vec::new();
        self.send_data(env, &mut out, key, b"", &[record], IGNORE_UNREADABLE, None);
        Some(out)
    }

    /// Aborts a running SMP.
    pub fn smp_abort(&mut self, env: &mut Env<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(key) = self.current else { return out };
        let record = match self.instances.get_mut(&key).map(|instance| &mut instance.state) {
            Some(MessageState::Private(private)) if private.smp.in_progress() => private.smp.abort(),
            _ => return out,
        };
        self.send_data(env, &mut out, key, b"", &[record], IGNORE_UNREADABLE, None);
        out.push(Output::Smp { event: SmpEvent::Aborted, fingerprint: self.report().fingerprint });
        out
    }

    /// Derives the extra symmetric key for `key_use` in the current private
    /// session and tells the peer (a type 8 TLV in an otherwise empty data
    /// message), so both hold the same key. `None` when not private.
    pub fn extra_symmetric_key(&mut self, env: &mut Env<'_>, key_use: &KeyUse) -> Option<(ExtraKey, Vec<Output>)> {
        let key = self.current?;
        let record = key_use.to_tlv().ok()?;
        let mut out = Vec::new();
        let extra = self.send_data(env, &mut out, key, b"", &[record], IGNORE_UNREADABLE, None)?;
        Some((extra, out))
    }

    /// The long-term key of the current private session's peer.
    pub fn peer_key(&self) -> Option<&PublicKey> {
        match &self.current_instance()?.state {
            MessageState::Private(private) => Some(&private.their_long_term),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use std::sync::OnceLock;

    fn keys() -> &'static (PrivateKey, PrivateKey) {
        static KEYS: OnceLock<(PrivateKey, PrivateKey)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = SeededRng::new(b"session long-term keys");
            (PrivateKey::generate(&mut rng).unwrap(), PrivateKey::generate(&mut rng).unwrap())
        })
    }

    struct Side {
        conversation: Conversation,
        key: &'static PrivateKey,
        rng: SeededRng,
        shown: Vec<(String, bool)>,
        events: Vec<Output>,
    }

    impl Side {
        fn new(name: &str, key: &'static PrivateKey, policy: Policy, max_fragment: Option<usize>) -> Self {
            let mut rng = SeededRng::new(name.as_bytes());
            let tag = InstanceTag::random(&mut rng);
            let settings = Settings { policy, allow_v2: true, max_fragment, account_name: name.into() };
            Self { conversation: Conversation::new(settings, tag), key, rng, shown: Vec::new(), events: Vec::new() }
        }

        fn env(&mut self, now: Instant) -> (Env<'_>, &mut Conversation) {
            (Env { rng: &mut self.rng, key: self.key, now }, &mut self.conversation)
        }
    }

    /// Delivers everything each side transmits to the other until both
    /// are quiet; returns the texts that crossed, each way.
    fn exchange(a: &mut Side, b: &mut Side, mut from_a: Vec<Output>, now: Instant) -> Vec<String> {
        let mut wire = Vec::new();
        let mut from_b = Vec::new();
        for _ in 0..100 {
            if from_a.is_empty() && from_b.is_empty() {
                return wire;
            }
            for output in std::mem::take(&mut from_a) {
                match output {
                    Output::Transmit { text, .. } => {
                        wire.push(text.clone());
                        let (mut env, conversation) = b.env(now);
                        from_b.extend(conversation.receive(&mut env, &text));
                    }
                    Output::Display { text, encrypted } => a.shown.push((text.to_string(), encrypted)),
                    other => a.events.push(other),
                }
            }
            for output in std::mem::take(&mut from_b) {
                match output {
                    Output::Transmit { text, .. } => {
                        wire.push(text.clone());
                        let (mut env, conversation) = a.env(now);
                        from_a.extend(conversation.receive(&mut env, &text));
                    }
                    Output::Display { text, encrypted } => b.shown.push((text.to_string(), encrypted)),
                    other => b.events.push(other),
                }
            }
        }
        panic!("the two sides never went quiet");
    }

    fn private_pair(policy: Policy, max_fragment: Option<usize>) -> (Side, Side) {
        let (alice_key, bob_key) = keys();
        let mut alice = Side::new("alice", alice_key, policy, max_fragment);
        let mut bob = Side::new("bob", bob_key, policy, max_fragment);
        let start = alice.conversation.start();
        exchange(&mut alice, &mut bob, start, Instant::now());
        assert_eq!(alice.conversation.state(), State::Private);
        assert_eq!(bob.conversation.state(), State::Private);
        (alice, bob)
    }

    /// What `to` transmits on receiving `from`'s message `text` at `now`.
    fn replies_to(from: &mut Side, to: &mut Side, text: &str, now: Instant) -> Vec<String> {
        let (mut env, conversation) = from.env(now);
        let sent: Vec<String> = conversation.send(&mut env, 1, text).into_iter().filter_map(|output| match output {
            Output::Transmit { text, .. } => Some(text),
            _ => None,
        }).collect();
        let mut replies = Vec::new();
        for message in sent {
            let (mut env, conversation) = to.env(now);
            for output in conversation.receive(&mut env, &message) {
                match output {
                    Output::Transmit { text, .. } => replies.push(text),
                    Output::Display { text, encrypted } => to.shown.push((text.to_string(), encrypted)),
                    _ => {}
                }
            }
        }
        replies
    }

    /// libotr's heartbeat: a data message received after a minute without
    /// sending is answered by an empty one, so that keys rotate even when
    /// only one side talks; within the minute, nothing is sent.
    #[test]
    fn a_heartbeat_answers_only_after_a_quiet_minute_and_shows_nothing() {
        let (mut alice, mut bob) = private_pair(Policy::Manual, None);
        let start = Instant::now();
        let heartbeat = replies_to(&mut alice, &mut bob, "one", start);
        assert_eq!(heartbeat.len(), 1, "bob had sent nothing yet: {heartbeat:?}");
        assert!(heartbeat[0].starts_with("?OTR:"));
        let before = alice.conversation.key_ids().unwrap();
        let (mut env, conversation) = alice.env(start);
        let shown = conversation.receive(&mut env, &heartbeat[0]);
        assert!(shown.iter().all(|output| !matches!(output, Output::Display { .. } | Output::Transmit { .. })), "a heartbeat shows nothing and is not answered: {shown:?}");
        assert_ne!(alice.conversation.key_ids().unwrap(), before, "the heartbeat carried bob's next key");

        let soon = start + Duration::from_secs(30);
        assert!(replies_to(&mut alice, &mut bob, "two", soon).is_empty(), "bob sent a heartbeat 30 s ago");
        let later = start + HEARTBEAT_INTERVAL + Duration::from_secs(1);
        assert_eq!(replies_to(&mut alice, &mut bob, "three", later).len(), 1, "a quiet minute since bob's last message");
        assert_eq!(bob.shown.iter().map(|(text, _)| text.as_str()).collect::<Vec<_>>(), ["one", "two", "three"]);
    }

    #[test]
    fn a_query_leads_to_a_private_conversation_with_the_right_fingerprints() {
        let (alice, bob) = private_pair(Policy::Manual, None);
        assert_eq!(alice.conversation.report().fingerprint, Some(bob.key.public_key().fingerprint()));
        assert_eq!(bob.conversation.report().fingerprint, Some(alice.key.public_key().fingerprint()));
        assert_eq!(alice.conversation.report().version, Some(Version::V3));
        assert_eq!(alice.conversation.report().ssid, bob.conversation.report().ssid);
    }

    #[test]
    fn messages_cross_encrypted_and_fragmented_and_keys_rotate() {
        let (mut alice, mut bob) = private_pair(Policy::Require, Some(120));
        let now = Instant::now();
        let before = alice.conversation.key_ids().unwrap();
        for index in 0..10u64 {
            let text = format!("message {index}: {}", "x".repeat(index as usize * 40));
            let (mut env, conversation) = alice.env(now);
            let sent = conversation.send(&mut env, index, &text);
            assert!(sent.iter().all(|output| matches!(output, Output::Transmit { encrypted: true, .. })));
            let wire = exchange(&mut alice, &mut bob, sent, now);
            assert!(wire.iter().all(|text| text.len() <= 120), "fragments respect the limit");
            assert_eq!(bob.shown.last(), Some(&(text.clone(), true)));
            let (mut env, conversation) = bob.env(now);
            let reply = conversation.send(&mut env, 100 + index, "ok");
            exchange(&mut bob, &mut alice, reply, now);
            assert_eq!(alice.shown.last(), Some(&("ok".to_owned(), true)));
        }
        let after = alice.conversation.key_ids().unwrap();
        assert!(after.0 > before.0 && after.1 > before.1, "keys rotated: {before:?} → {after:?}");
    }

    #[test]
    fn require_holds_messages_until_private_then_sends_them_encrypted() {
        let (alice_key, bob_key) = keys();
        let mut alice = Side::new("alice", alice_key, Policy::Require, None);
        let mut bob = Side::new("bob", bob_key, Policy::Manual, None);
        let now = Instant::now();
        let (mut env, conversation) = alice.env(now);
        let out = conversation.send(&mut env, 7, "secret plans");
        // Nothing but a query leaves.
        assert!(out.iter().all(|output| matches!(output, Output::Transmit { text, request: None, .. } if text.starts_with("?OTRv"))));
        let wire = exchange(&mut alice, &mut bob, out, now);
        assert!(!wire.iter().any(|text| text.contains("secret plans")));
        assert_eq!(bob.shown, vec![("secret plans".to_owned(), true)]);
    }

    #[test]
    fn require_refuses_what_waited_too_long() {
        let (alice_key, _) = keys();
        let mut alice = Side::new("alice", alice_key, Policy::Require, None);
        let now = Instant::now();
        let (mut env, conversation) = alice.env(now);
        conversation.send(&mut env, 3, "never leaves");
        assert!(conversation.tick(now + Duration::from_secs(1)).is_empty());
        let refused = conversation.tick(now + MAX_WAIT_FOR_PRIVATE);
        assert!(matches!(refused[..], [Output::Refused { request: 3, reason: Refusal::NoPrivateConversation }]));
        assert!(!conversation.has_waiting());
    }

    #[test]
    fn smp_succeeds_with_the_same_secret_and_fails_with_another() {
        let (mut alice, mut bob) = private_pair(Policy::Manual, None);
        let now = Instant::now();
        for (question, answer, success) in [(None, "swordfish", true), (Some("Where did we meet?"), "the moon", false)] {
            alice.events.clear();
            bob.events.clear();
            let (mut env, conversation) = alice.env(now);
            let out = conversation.smp_start(&mut env, b"swordfish", question.map(str::as_bytes)).unwrap();
            exchange(&mut alice, &mut bob, out, now);
            let asked = bob.events.iter().find_map(|event| match event {
                Output::Smp { event: SmpEvent::Asked { question }, .. } => Some(question.clone()),
                _ => None,
            });
            assert_eq!(asked, Some(question.map(|text| text.as_bytes().to_vec())));
            let (mut env, conversation) = bob.env(now);
            let out = conversation.smp_answer(&mut env, answer.as_bytes()).unwrap();
            exchange(&mut bob, &mut alice, out, now);
            let outcome = |side: &Side| side.events.iter().find_map(|event| match event {
                Output::Smp { event: SmpEvent::Success, .. } => Some(true),
                Output::Smp { event: SmpEvent::Failure, .. } => Some(false),
                _ => None,
            });
            assert_eq!((outcome(&alice), outcome(&bob)), (Some(success), Some(success)));
        }
    }

    #[test]
    fn ending_finishes_the_other_side_which_refuses_to_send_until_it_ends_too() {
        let (mut alice, mut bob) = private_pair(Policy::Manual, None);
        let now = Instant::now();
        let (mut env, conversation) = alice.env(now);
        let out = conversation.end(&mut env);
        exchange(&mut alice, &mut bob, out, now);
        assert_eq!(alice.conversation.state(), State::Plaintext);
        assert_eq!(bob.conversation.state(), State::Finished);
        let (mut env, conversation) = bob.env(now);
        assert!(matches!(conversation.send(&mut env, 1, "hello?")[..], [Output::Refused { request: 1, reason: Refusal::Finished }]));
        conversation.end(&mut env);
        assert_eq!(bob.conversation.state(), State::Plaintext);
        // And a new private conversation starts.
        let start = bob.conversation.start();
        exchange(&mut bob, &mut alice, start, now);
        assert_eq!((alice.conversation.state(), bob.conversation.state()), (State::Private, State::Private));
    }

    #[test]
    fn opportunistic_tags_plaintext_and_the_tag_starts_the_exchange() {
        let (alice_key, bob_key) = keys();
        let mut alice = Side::new("alice", alice_key, Policy::Opportunistic, None);
        let mut bob = Side::new("bob", bob_key, Policy::Opportunistic, None);
        let now = Instant::now();
        let (mut env, conversation) = alice.env(now);
        let out = conversation.send(&mut env, 1, "hi");
        assert!(matches!(&out[..], [Output::Transmit { text, encrypted: false, .. }] if text.starts_with("hi \t")));
        exchange(&mut alice, &mut bob, out, now);
        assert_eq!(bob.shown, vec![("hi".to_owned(), false)]);
        assert_eq!((alice.conversation.state(), bob.conversation.state()), (State::Private, State::Private));
    }

    #[test]
    fn restarting_smp_aborts_the_exchange_under_way_first() {
        let (mut alice, mut bob) = private_pair(Policy::Manual, None);
        let now = Instant::now();
        let (mut env, conversation) = alice.env(now);
        let first = conversation.smp_start(&mut env, b"one", None).unwrap();
        assert_eq!(first.len(), 1, "nothing under way: one message, the SMP1");
        exchange(&mut alice, &mut bob, first, now);
        let (mut env, conversation) = alice.env(now);
        let again = conversation.smp_start(&mut env, b"two", None).unwrap();
        assert_eq!(again.len(), 2, "an abort, then the new SMP1, each in its own message");
        exchange(&mut alice, &mut bob, again, now);
        let smp = |side: &Side| side.events.iter().filter_map(|event| match event {
            Output::Smp { event, .. } => Some(event.clone()),
            _ => None,
        }).collect::<Vec<_>>();
        assert_eq!(smp(&bob), [SmpEvent::Asked { question: None }, SmpEvent::Aborted, SmpEvent::Asked { question: None }]);
        let (mut env, conversation) = bob.env(now);
        let out = conversation.smp_answer(&mut env, b"two").unwrap();
        exchange(&mut bob, &mut alice, out, now);
        assert_eq!(smp(&alice), [SmpEvent::Success]);
        assert_eq!(smp(&bob).last(), Some(&SmpEvent::Success));
    }

    #[test]
    fn invented_instance_tags_do_not_crowd_out_the_real_peer() {
        let (mut alice, mut bob) = private_pair(Policy::Manual, None);
        let now = Instant::now();
        // Commits from many made-up instances of Alice.
        let mut mallory_rng = SeededRng::new(b"mallory");
        for tag in 0x1000..0x1000 + 3 * MAX_INSTANCES as u32 {
            let (_, commit) = AuthState::start(&mut mallory_rng);
            let AkeMessage::DhCommit { encrypted_gx, hashed_gx } = commit else { unreachable!() };
            let forged = Message::new(Version::V3, tag, 0, Body::DhCommit { encrypted_gx, hashed_gx });
            let (mut env, conversation) = bob.env(now);
            conversation.receive(&mut env, &message::to_text(&message::encode(&forged)));
        }
        assert!(bob.conversation.instances.len() <= MAX_INSTANCES);
        // The real conversation is untouched.
        let (mut env, conversation) = alice.env(now);
        let out = conversation.send(&mut env, 1, "still private");
        exchange(&mut alice, &mut bob, out, now);
        assert_eq!(bob.shown.last(), Some(&("still private".to_owned(), true)));
    }

    #[test]
    fn messages_from_made_up_instances_leave_no_entry_and_lock_nobody_out() {
        let (mut alice, mut bob) = private_pair(Policy::Manual, None);
        let now = Instant::now();
        let (mut env, conversation) = bob.env(now);
        let Some(Output::Transmit { text, .. }) = conversation.send(&mut env, 1, "hi").into_iter().next() else { panic!("nothing sent") };
        let Ok(Classified::Encoded(bytes)) = message::classify(&text) else { panic!("not encoded") };
        for sender in 0x1000..0x1000 + 3 * MAX_INSTANCES as u32 {
            let mut spoofed = bytes.clone();
            spoofed[3..7].copy_from_slice(&sender.to_be_bytes());
            let mut ake = message::decode(&spoofed).unwrap();
            ake.body = Body::Signature { encrypted_signature: vec![1; 40], mac: [0; 20] };
            let (mut env, conversation) = alice.env(now);
            let out = conversation.receive(&mut env, &message::to_text(&spoofed));
            assert!(matches!(&out[0], Output::Notice(Notice::Unreadable(why)) if why == NO_PRIVATE_CONVERSATION));
            let out = conversation.receive(&mut env, &message::to_text(&message::encode(&ake)));
            assert!(matches!(&out[..], [Output::Notice(Notice::AkeIgnored(AkeError::Unexpected("Signature")))]));
        }
        assert_eq!(alice.conversation.instances.len(), 1);
        // A new instance of Bob's still gets a private conversation.
        let mut again = Side::new("bob, elsewhere", bob.key, Policy::Manual, None);
        let start = again.conversation.start();
        exchange(&mut again, &mut alice, start, now);
        assert_eq!(again.conversation.state(), State::Private);
        assert_eq!(alice.conversation.instances.len(), 2);
    }

    #[test]
    fn a_full_instance_table_forgets_an_idle_instance_for_a_new_commit() {
        let (alice_key, _) = keys();
        let mut alice = Side::new("alice", alice_key, Policy::Manual, None);
        let now = Instant::now();
        let mut rng = SeededRng::new(b"commits");
        for sender in 0x2000..0x2000 + 2 * MAX_INSTANCES as u32 {
            let (_, commit) = AuthState::start(&mut rng);
            let AkeMessage::DhCommit { encrypted_gx, hashed_gx } = commit else { unreachable!() };
            let message = Message::new(Version::V3, sender, 0, Body::DhCommit { encrypted_gx, hashed_gx });
            let (mut env, conversation) = alice.env(now);
            let out = conversation.receive(&mut env, &message::to_text(&message::encode(&message)));
            assert!(matches!(&out[..], [Output::Transmit { .. }]), "{out:?}");
            assert!(conversation.instances.len() <= MAX_INSTANCES);
        }
    }

    #[test]
    fn both_sides_hold_the_same_extra_symmetric_key_and_only_they() {
        let (mut alice, mut bob) = private_pair(Policy::Manual, None);
        let now = Instant::now();
        let key_use = KeyUse { code: 1, data: b"holiday.jpg".to_vec() };
        let (mut env, conversation) = alice.env(now);
        let (alice_key, out) = conversation.extra_symmetric_key(&mut env, &key_use).unwrap();
        let wire = exchange(&mut alice, &mut bob, out, now);
        let announced = bob.events.iter().find_map(|event| match event {
            Output::ExtraSymmetricKey { key_use, key } => Some((key_use.clone(), key.clone())),
            _ => None,
        });
        assert_eq!(announced, Some((key_use, alice_key.clone())));
        assert!(bob.shown.is_empty(), "the announcement shows nothing");
        let hex: String = alice_key.expose().iter().map(|byte| format!("{byte:02x}")).collect();
        assert!(!wire.iter().any(|text| text.contains(&hex)), "the key itself never crosses");
        // Not private: no key.
        let mut carol = Side::new("carol", &keys().0, Policy::Manual, None);
        let (mut env, conversation) = carol.env(now);
        assert!(conversation.extra_symmetric_key(&mut env, &KeyUse { code: 1, data: vec![] }).is_none());
    }

    #[test]
    fn never_passes_everything_through_untouched() {
        let (alice_key, _) = keys();
        let mut alice = Side::new("alice", alice_key, Policy::Never, None);
        let now = Instant::now();
        let (mut env, conversation) = alice.env(now);
        let out = conversation.receive(&mut env, "?OTRv23? hello");
        assert!(matches!(&out[..], [Output::Display { text, encrypted: false }] if text.as_str() == "?OTRv23? hello"));
        assert!(conversation.start().is_empty());
    }
}
