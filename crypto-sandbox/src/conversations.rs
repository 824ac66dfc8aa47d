//! The crypto process's OTR: one long-term key per account, one
//! `otr::session::Conversation` per (account, peer), the trust of each
//! fingerprint, the policies. It turns what the conversations ask for into
//! IPC: protocol messages for net, messages and OTR news for the UI.
//!
//! It signs only inside an AKE it runs itself and decrypts only data
//! messages of sessions it holds: it is never a general signing or
//! decryption oracle.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use ipc::crypto::FromCrypto;
use ipc::jid::BareJid;
use ipc::otr::{ConversationState, EarlierFingerprint, KeyChange, OtrEvent, OtrRequest, SmpResult, MAX_EARLIER_FINGERPRINTS};
use ipc::secret::SecretText;
use ipc::{ErrorCode, Failure};
use otr::dsa::{fingerprint_human, parse_fingerprint, PrivateKey};
use otr::instance_tag::InstanceTag;
use otr::policy::Policy;
use otr::rng::OsRng;
use otr::session::{Conversation, Env, Notice, Output, Settings, State};
use otr::smp::SmpEvent;
use otr::trust::{MemoryTrustStore, Trust, TrustStore};

use crypto_sandbox::vault::contents::{FingerprintRecord, OtrKeyRecord, PeerPolicyRecord, TrustRecord};

/// Conversations one account may hold: beyond this a flood of new peers is
/// refused rather than allowed to exhaust memory.
pub const MAX_CONVERSATIONS: usize = 1024;
/// The largest OTR message sent unfragmented. XMPP servers limit stanzas
/// (ejabberd to 64 KiB by default); fragments stay well below.
pub const MAX_FRAGMENT: usize = 32 * 1024;
/// The longest SMP secret or question taken from the UI.
const MAX_SMP_TEXT: usize = 4096;

struct AccountOtr {
    key: PrivateKey,
    peers: Peers,
}

/// A policy and whether it lets version 2 in (ALLOW_V2, on by default for
/// old peers such as python-otr).
#[derive(Clone, Copy)]
struct Chosen {
    policy: Policy,
    allow_v2: bool,
}

/// An account's conversations, apart from its key so both can be borrowed.
struct Peers {
    instance_tag: InstanceTag,
    account_policy: Chosen,
    peer_policies: HashMap<String, Chosen>,
    open: HashMap<String, Conversation>,
}

impl Peers {
    /// The conversation with `peer`, made on first use with the account's
    /// policy (or the peer's own).
    fn get(&mut self, account: &str, peer: &str, max_fragment: usize) -> Option<&mut Conversation> {
        if !self.open.contains_key(peer) {
            if self.open.len() >= MAX_CONVERSATIONS {
                return None;
            }
            let Chosen { policy, allow_v2 } = self.peer_policies.get(peer).copied().unwrap_or(self.account_policy);
            let settings = Settings { policy, allow_v2, max_fragment: Some(max_fragment), account_name: account.to_owned() };
            self.open.insert(peer.to_owned(), Conversation::new(settings, self.instance_tag));
        }
        self.open.get_mut(peer)
    }
}

/// Everything OTR in the crypto process.
pub struct Conversations {
    accounts: HashMap<String, AccountOtr>,
    trust: MemoryTrustStore,
    rng: OsRng,
    /// Fragment outgoing messages above this size.
    max_fragment: usize,
    /// Keys, trust or policies changed since the store last saved them.
    dirty: bool,
    /// (account, peer) whose SMP, now running, is the answer to the peer's
    /// question. Its success proves us to the peer, not the peer to us:
    /// anyone can ask a question whose answer they know. As libotr does
    /// (`received_question`), such a success verifies nothing here.
    answering_question: HashSet<(String, String)>,
}

impl Default for Conversations {
    fn default() -> Self {
        Self {
            accounts: HashMap::new(),
            trust: MemoryTrustStore::default(),
            rng: OsRng,
            max_fragment: MAX_FRAGMENT,
            dirty: false,
            answering_question: HashSet::new(),
        }
    }
}

/// The OTR state the store keeps.
#[derive(Default)]
pub struct Saved {
    pub keys: Vec<OtrKeyRecord>,
    pub fingerprints: Vec<FingerprintRecord>,
    pub peer_policies: Vec<PeerPolicyRecord>,
    /// (account, policy, allow_v2): the account-wide policy of each account.
    pub account_policies: Vec<(String, String, bool)>,
}

fn trust_record(trust: Trust) -> TrustRecord {
    match trust {
        Trust::Unverified => TrustRecord::Unverified,
        Trust::VerifiedBySmp => TrustRecord::VerifiedBySmp,
        Trust::VerifiedByHand => TrustRecord::VerifiedByHand,
    }
}

fn trust_of(record: TrustRecord) -> Trust {
    match record {
        TrustRecord::Unverified => Trust::Unverified,
        TrustRecord::VerifiedBySmp => Trust::VerifiedBySmp,
        TrustRecord::VerifiedByHand => Trust::VerifiedByHand,
    }
}

fn otr_event(account: &str, event: OtrEvent) -> FromCrypto {
    FromCrypto::Otr { account: account.to_owned(), event }
}

fn failed(account: &str, peer: Option<&str>, code: ErrorCode, message: impl Into<String>) -> FromCrypto {
    otr_event(account, OtrEvent::Failed { peer: peer.map(str::to_owned), failure: Failure::new(code, message) })
}

fn notice_text(notice: &Notice) -> String {
    match notice {
        Notice::ReceivedUnencrypted => "A message from this contact arrived unencrypted: anyone on the way could read it.".into(),
        Notice::Unreadable(why) => format!("An encrypted message could not be read: {why}."),
        Notice::PeerError(text) => format!("The contact's OTR software reported an error: {text}"),
        Notice::Dropped(why) => format!("A message was dropped: {why}."),
        Notice::AkeIgnored(why) => format!("A step of the key exchange was ignored: {why}."),
        Notice::VersionRefused => "The contact offered only an OTR version Burrow does not speak.".into(),
    }
}

impl Conversations {
    /// An account's OTR state: its stored key, or, for a new account (or
    /// one whose stored key is unusable), a key generated here, in this
    /// process, which takes a moment; the UI is told before and after.
    pub fn add_account(&mut self, account: &str, policy: &str, allow_v2: bool, stored: Option<&OtrKeyRecord>, report: &mut dyn FnMut(FromCrypto)) {
        let restored = stored.and_then(|record| {
            let key = PrivateKey::from_components(&record.p, &record.q, &record.g, &record.y, &record.x);
            match (key, InstanceTag::from_wire(record.instance_tag)) {
                (Ok(key), Some(tag)) => Some((key, tag)),
                _ => {
                    report(failed(account, None, ErrorCode::Otr, "The stored OTR key of this account is unusable; a new one is made, and contacts will see a new fingerprint."));
                    None
                }
            }
        });
        let (key, instance_tag) = match restored {
            Some(restored) => restored,
            None => {
                report(otr_event(account, OtrEvent::KeyGeneration { done: false, fingerprint: None }));
                let key = match PrivateKey::generate(&mut self.rng) {
                    Ok(key) => key,
                    Err(error) => {
                        report(failed(account, None, ErrorCode::Otr, format!("No OTR key could be made for this account: {error}.")));
                        return;
                    }
                };
                report(otr_event(account, OtrEvent::KeyGeneration { done: true, fingerprint: Some(fingerprint_human(&key.public_key().fingerprint())) }));
                self.dirty = true;
                (key, InstanceTag::random(&mut self.rng))
            }
        };
        let policy = policy.parse().unwrap_or_default();
        let peers = Peers { instance_tag, account_policy: Chosen { policy, allow_v2 }, peer_policies: HashMap::new(), open: HashMap::new() };
        self.accounts.insert(account.to_owned(), AccountOtr { key, peers });
    }

    /// An imported account's key, under a fresh instance tag (Burrow is a
    /// new client of that account's, whatever tag the old one used).
    pub fn add_imported_key(&mut self, account: &str, policy: &str, allow_v2: bool, record: &OtrKeyRecord, report: &mut dyn FnMut(FromCrypto)) {
        let mut record = record.clone();
        record.instance_tag = InstanceTag::random(&mut self.rng).value();
        self.add_account(account, policy, allow_v2, Some(&record), report);
        self.dirty = true;
    }

    /// An imported fingerprint; false when it was known already, whose
    /// trust is then kept.
    pub fn import_fingerprint(&mut self, account: &str, peer: &str, fingerprint: [u8; 20], trust: Trust) -> bool {
        if self.trust.known(account, peer).iter().any(|(known, _)| *known == fingerprint) {
            return false;
        }
        self.trust.set_trust(account, peer, fingerprint, trust);
        self.dirty = true;
        true
    }

    /// An imported contact's own policy, unless Burrow already has one.
    pub fn import_peer_policy(&mut self, account: &str, peer: &str, policy: Policy) {
        if let Some(state) = self.accounts.get_mut(account) {
            let allow_v2 = state.peers.account_policy.allow_v2;
            if !state.peers.peer_policies.contains_key(peer) {
                state.peers.peer_policies.insert(peer.to_owned(), Chosen { policy, allow_v2 });
                self.dirty = true;
            }
        }
    }

    /// The store's fingerprints and contacts' policies, after its accounts.
    pub fn restore(&mut self, fingerprints: &[FingerprintRecord], peer_policies: &[PeerPolicyRecord]) {
        for record in fingerprints {
            self.trust.set_trust(&record.account, &record.peer, record.fingerprint, trust_of(record.trust));
        }
        for record in peer_policies {
            if let (Some(state), Ok(policy)) = (self.accounts.get_mut(&record.account), record.policy.parse::<Policy>()) {
                state.peers.peer_policies.insert(record.peer.clone(), Chosen { policy, allow_v2: record.allow_v2 });
            }
        }
    }

    /// What the store must keep, when it changed since the last call.
    pub fn take_changes(&mut self) -> Option<Saved> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        let mut saved = Saved::default();
        for (account, state) in &self.accounts {
            let public = state.key.public_key();
            saved.keys.push(OtrKeyRecord {
                account: account.clone(),
                p: public.p().to_vec(),
                q: public.q().to_vec(),
                g: public.g().to_vec(),
                y: public.y().to_vec(),
                x: state.key.x_bytes().to_vec(),
                instance_tag: state.peers.instance_tag.value(),
            });
            let chosen = state.peers.account_policy;
            saved.account_policies.push((account.clone(), chosen.policy.name().into(), chosen.allow_v2));
            for (peer, chosen) in &state.peers.peer_policies {
                saved.peer_policies.push(PeerPolicyRecord { account: account.clone(), peer: peer.clone(), policy: chosen.policy.name().into(), allow_v2: chosen.allow_v2 });
            }
        }
        saved.fingerprints = self
            .trust
            .to_entries("prpl-jabber")
            .into_iter()
            .map(|entry| FingerprintRecord { account: entry.account, peer: entry.peer, fingerprint: entry.fingerprint, trust: trust_record(Trust::from_libotr_str(&entry.trust)) })
            .collect();
        Some(saved)
    }


    /// A user's message: the policy decides whether it is encrypted, waits
    /// for a private conversation, or is refused.
    pub fn send(&mut self, account: &str, peer: &str, text: &SecretText, request: u64, now: Instant) -> Vec<FromCrypto> {
        let mut out = Vec::new();
        let max_fragment = self.max_fragment;
        let Some(state) = self.accounts.get_mut(account) else {
            out.push(FromCrypto::SendFailed {
                account: account.into(),
                peer: peer.into(),
                request,
                failure: Failure::new(ErrorCode::UnknownAccount, "This account has no OTR key yet."),
            });
            return out;
        };
        let Some(conversation) = state.peers.get(account, peer, max_fragment) else {
            out.push(FromCrypto::SendFailed { account: account.into(), peer: peer.into(), request, failure: too_many() });
            return out;
        };
        let mut env = Env { rng: &mut self.rng, key: &state.key, now };
        let outputs = conversation.send(&mut env, request, text.expose());
        self.translate(account, peer, outputs, None, &mut out);
        out
    }

    /// A peer's message. Exactly one `Deliver` or `Absorbed` answers it.
    pub fn incoming(&mut self, seq: u64, account: &str, from: &str, body: &SecretText, now: Instant) -> Vec<FromCrypto> {
        let mut out = Vec::new();
        let peer = BareJid::parse_full(from).map(|(jid, _)| jid.as_string()).unwrap_or_else(|_| from.to_owned());
        let max_fragment = self.max_fragment;
        let outputs = match self.accounts.get_mut(account) {
            Some(state) => match state.peers.get(account, &peer, max_fragment) {
                Some(conversation) => {
                    let mut env = Env { rng: &mut self.rng, key: &state.key, now };
                    conversation.receive(&mut env, body.expose())
                }
                None => {
                    out.push(failed(account, Some(&peer), ErrorCode::Busy, "A message from a new contact was dropped: too many conversations."));
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let mut delivered = false;
        self.translate(account, &peer, outputs, Some((seq, &mut delivered)), &mut out);
        if !delivered {
            out.push(FromCrypto::Absorbed { seq });
        }
        out
    }

    /// Turns a conversation's outputs into IPC. `incoming` is the message
    /// being answered: the first text shown closes its turn.
    fn translate(&mut self, account: &str, peer: &str, outputs: Vec<Output>, mut incoming: Option<(u64, &mut bool)>, out: &mut Vec<FromCrypto>) {
        for output in outputs {
            match output {
                Output::Transmit { text, request: Some(request), encrypted } => {
                    out.push(FromCrypto::Transmit { account: account.into(), peer: peer.into(), body: SecretText::new(text), request, encrypted });
                }
                Output::Transmit { text, request: None, .. } => {
                    out.push(FromCrypto::Protocol { account: account.into(), peer: peer.into(), body: SecretText::new(text) });
                }
                Output::Display { text, encrypted } => match incoming.as_mut() {
                    Some((seq, delivered)) if !**delivered => {
                        **delivered = true;
                        out.push(FromCrypto::Deliver { seq: *seq, account: account.into(), peer: peer.into(), text: SecretText::new(text.to_string()), encrypted });
                    }
                    // One message from the network shows at most one text.
                    _ => out.push(failed(account, Some(peer), ErrorCode::Protocol, "A second text in one message was not shown.")),
                },
                Output::State(report) => {
                    // Every fingerprint seen is remembered, so a changed one
                    // can be told apart from one seen before.
                    if let Some(fingerprint) = report.fingerprint {
                        if !self.trust.known(account, peer).iter().any(|(known, _)| *known == fingerprint) {
                            self.trust.set_trust(account, peer, fingerprint, Trust::Unverified);
                            self.dirty = true;
                        }
                    }
                    out.push(self.state_event(account, peer, report.state, report.fingerprint));
                }
                Output::Smp { event, fingerprint } => {
                    let (result, question, reason) = match event {
                        SmpEvent::Asked { question } => (SmpResult::Asked, question.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()), None),
                        SmpEvent::Success => (SmpResult::Success, None, None),
                        SmpEvent::Failure => (SmpResult::Failure, None, None),
                        SmpEvent::Aborted => (SmpResult::Aborted, None, None),
                        SmpEvent::Cheated(why) => (SmpResult::Aborted, None, Some(format!("the contact's SMP message failed a check: {why}"))),
                        SmpEvent::RateLimited => (SmpResult::Aborted, None, Some("the contact restarted SMP too often".to_owned())),
                    };
                    let exchange = (account.to_owned(), peer.to_owned());
                    let answered_their_question = match result {
                        SmpResult::Asked => {
                            if question.is_some() {
                                self.answering_question.insert(exchange);
                            } else {
                                self.answering_question.remove(&exchange);
                            }
                            false
                        }
                        _ => self.answering_question.remove(&exchange),
                    };
                    out.push(otr_event(account, OtrEvent::Smp { peer: peer.into(), result, question, reason }));
                    if result == SmpResult::Success && answered_their_question {
                        let message = "You answered your contact's question correctly, so your contact knows it is you. That does not prove who your contact is: ask a question of your own to verify them.";
                        out.push(otr_event(account, OtrEvent::Notice { peer: peer.into(), message: message.into() }));
                    } else if let (SmpResult::Success, Some(fingerprint)) = (result, fingerprint) {
                        self.trust.set_trust(account, peer, fingerprint, Trust::VerifiedBySmp);
                        self.dirty = true;
                        out.push(self.state_event(account, peer, State::Private, Some(fingerprint)));
                    }
                }
                Output::Notice(notice) => out.push(otr_event(account, OtrEvent::Notice { peer: peer.into(), message: notice_text(&notice) })),
                // Nothing in Burrow uses the extra symmetric key yet (file
                // transfer will): the key is dropped, and so wiped, here.
                Output::ExtraSymmetricKey { .. } => {}
                Output::Refused { request, reason } => {
                    out.push(FromCrypto::Refused { account: account.into(), peer: peer.into(), request, reason: reason.explain().into() });
                }
            }
        }
    }

    fn state_event(&self, account: &str, peer: &str, state: State, fingerprint: Option<[u8; 20]>) -> FromCrypto {
        let verified = fingerprint.is_some_and(|fingerprint| self.trust.trust(account, peer, &fingerprint) != Trust::Unverified);
        let key_change = match fingerprint {
            Some(current) if !verified => self.key_change(account, peer, &current),
            _ => None,
        };
        let state = match state {
            State::Plaintext => ConversationState::Plaintext,
            State::Private => ConversationState::Private,
            State::Finished => ConversationState::Finished,
        };
        otr_event(account, OtrEvent::State { peer: peer.into(), state, fingerprint: fingerprint.as_ref().map(fingerprint_human), verified, key_change })
    }

    /// The other fingerprints seen for `peer`, when there are any: an
    /// unverified key beside them may be a new device, or someone in the
    /// middle, and the UI must say so. It stays set until the current key
    /// is verified, so a warning dismissed once comes back with the next
    /// private conversation rather than being forgotten.
    fn key_change(&self, account: &str, peer: &str, current: &[u8; 20]) -> Option<KeyChange> {
        let mut earlier: Vec<EarlierFingerprint> = self
            .trust
            .known(account, peer)
            .into_iter()
            .filter(|(fingerprint, _)| fingerprint != current)
            .map(|(fingerprint, trust)| EarlierFingerprint { fingerprint: fingerprint_human(&fingerprint), verified: trust.is_trusted() })
            .collect();
        if earlier.is_empty() {
            return None;
        }
        // Stable: within each group the store's byte order is kept.
        earlier.sort_by_key(|earlier| !earlier.verified);
        earlier.truncate(MAX_EARLIER_FINGERPRINTS);
        Some(KeyChange { earlier })
    }

    /// Messages waiting under `require` that waited too long are refused.
    pub fn tick(&mut self, now: Instant) -> Vec<FromCrypto> {
        let mut out = Vec::new();
        let mut expired = Vec::new();
        for (account, state) in &mut self.accounts {
            for (peer, conversation) in &mut state.peers.open {
                let outputs = conversation.tick(now);
                if !outputs.is_empty() {
                    expired.push((account.clone(), peer.clone(), outputs));
                }
            }
        }
        for (account, peer, outputs) in expired {
            self.translate(&account, &peer, outputs, None, &mut out);
        }
        out
    }

    /// Whether any message waits (the caller then calls `tick` each second).
    /// The state of every conversation that is not plaintext, for a front
    /// end that was restarted and knows none of them.
    pub fn states(&self) -> Vec<FromCrypto> {
        let mut states = Vec::new();
        for (account, otr) in &self.accounts {
            for (peer, conversation) in &otr.peers.open {
                let report = conversation.report();
                if report.state != State::Plaintext {
                    states.push(self.state_event(account, peer, report.state, report.fingerprint));
                }
            }
        }
        states
    }

    pub fn has_waiting(&self) -> bool {
        self.accounts.values().any(|state| state.peers.open.values().any(Conversation::has_waiting))
    }

    /// `/otr`, `/fingerprint`, `/trust`, `/smp`, `/smp-answer`, `/policy`.
    pub fn request(&mut self, account: &str, request: OtrRequest, now: Instant) -> Vec<FromCrypto> {
        let mut out = Vec::new();
        let max_fragment = self.max_fragment;
        let Some(state) = self.accounts.get_mut(account) else {
            out.push(failed(account, None, ErrorCode::UnknownAccount, format!("There is no account {account} in the store.")));
            return out;
        };
        match request {
            OtrRequest::Policy { peer: None, policy, allow_v2 } => match policy.parse::<Policy>() {
                Ok(policy) => {
                    let chosen = Chosen { policy, allow_v2: allow_v2.unwrap_or(state.peers.account_policy.allow_v2) };
                    state.peers.account_policy = chosen;
                    self.dirty = true;
                    for (peer, conversation) in &mut state.peers.open {
                        if !state.peers.peer_policies.contains_key(peer) {
                            conversation.set_policy(chosen.policy, chosen.allow_v2);
                        }
                    }
                    out.push(otr_event(account, OtrEvent::Policy { peer: None, policy: policy.name().into(), allow_v2: chosen.allow_v2 }));
                }
                Err(error) => out.push(failed(account, None, ErrorCode::BadCommand, error.to_string())),
            },
            OtrRequest::Policy { peer: Some(peer), policy, allow_v2 } => match policy.parse::<Policy>() {
                Ok(policy) => {
                    let before = state.peers.peer_policies.get(&peer).copied().unwrap_or(state.peers.account_policy);
                    let chosen = Chosen { policy, allow_v2: allow_v2.unwrap_or(before.allow_v2) };
                    state.peers.peer_policies.insert(peer.clone(), chosen);
                    self.dirty = true;
                    if let Some(conversation) = state.peers.open.get_mut(&peer) {
                        conversation.set_policy(chosen.policy, chosen.allow_v2);
                    }
                    out.push(otr_event(account, OtrEvent::Policy { peer: Some(peer), policy: policy.name().into(), allow_v2: chosen.allow_v2 }));
                }
                Err(error) => out.push(failed(account, Some(&peer), ErrorCode::BadCommand, error.to_string())),
            },
            OtrRequest::Fingerprint { peer: None } => {
                let fingerprint = fingerprint_human(&state.key.public_key().fingerprint());
                out.push(otr_event(account, OtrEvent::Fingerprint { peer: None, fingerprint }));
            }
            OtrRequest::Fingerprint { peer: Some(peer) } => {
                match state.peers.open.get(&peer).and_then(Conversation::peer_key) {
                    Some(key) => out.push(otr_event(account, OtrEvent::Fingerprint { peer: Some(peer), fingerprint: fingerprint_human(&key.fingerprint()) })),
                    None => out.push(failed(account, Some(&peer), ErrorCode::NotPrivate, "There is no private conversation with this contact, so no fingerprint to show.")),
                }
            }
            OtrRequest::Trust { peer, fingerprint } => match parse_fingerprint(&fingerprint) {
                Some(fingerprint) => {
                    self.trust.set_trust(account, &peer, fingerprint, Trust::VerifiedByHand);
                    self.dirty = true;
                    out.push(otr_event(account, OtrEvent::Trusted { peer: peer.clone(), fingerprint: fingerprint_human(&fingerprint) }));
                    let current = state.peers.open.get(&peer).map(|conversation| conversation.report());
                    if let Some(report) = current.filter(|report| report.fingerprint == Some(fingerprint)) {
                        out.push(self.state_event(account, &peer, report.state, report.fingerprint));
                    }
                }
                None => out.push(failed(account, Some(&peer), ErrorCode::BadCommand, "That is not a fingerprint: give 40 hexadecimal digits (spaces allowed).")),
            },
            OtrRequest::Start { peer } => {
                let Some(conversation) = state.peers.get(account, &peer, max_fragment) else {
                    out.push(failed(account, Some(&peer), ErrorCode::Busy, too_many().message));
                    return out;
                };
                let outputs = conversation.start();
                if outputs.is_empty() {
                    out.push(failed(account, Some(&peer), ErrorCode::Otr, "The policy for this contact is never: OTR is off."));
                }
                self.translate(account, &peer, outputs, None, &mut out);
            }
            OtrRequest::End { peer } => {
                let outputs = match state.peers.open.get_mut(&peer) {
                    Some(conversation) => {
                        let mut env = Env { rng: &mut self.rng, key: &state.key, now };
                        conversation.end(&mut env)
                    }
                    None => vec![],
                };
                if outputs.is_empty() {
                    out.push(self.state_event(account, &peer, State::Plaintext, None));
                }
                self.translate(account, &peer, outputs, None, &mut out);
            }
            OtrRequest::Smp { peer, question, secret } => {
                if secret.expose().len() > MAX_SMP_TEXT || question.as_ref().is_some_and(|question| question.expose().len() > MAX_SMP_TEXT) {
                    out.push(failed(account, Some(&peer), ErrorCode::BadCommand, "The SMP secret or question is too long."));
                    return out;
                }
                // Our own question or secret: its success verifies the peer.
                self.answering_question.remove(&(account.to_owned(), peer.clone()));
                let outputs = state.peers.open.get_mut(&peer).and_then(|conversation| {
                    let mut env = Env { rng: &mut self.rng, key: &state.key, now };
                    conversation.smp_start(&mut env, secret.expose().as_bytes(), question.as_ref().map(|question| question.expose().as_bytes()))
                });
                match outputs {
                    Some(outputs) => self.translate(account, &peer, outputs, None, &mut out),
                    None => out.push(failed(account, Some(&peer), ErrorCode::NotPrivate, "SMP needs a private conversation with this contact; /otr start it first.")),
                }
            }
            OtrRequest::SmpAnswer { peer, secret } => {
                if secret.expose().len() > MAX_SMP_TEXT {
                    out.push(failed(account, Some(&peer), ErrorCode::BadCommand, "The SMP secret is too long."));
                    return out;
                }
                let outputs = state.peers.open.get_mut(&peer).and_then(|conversation| {
                    let mut env = Env { rng: &mut self.rng, key: &state.key, now };
                    conversation.smp_answer(&mut env, secret.expose().as_bytes())
                });
                match outputs {
                    Some(outputs) => self.translate(account, &peer, outputs, None, &mut out),
                    None => out.push(failed(account, Some(&peer), ErrorCode::Otr, "This contact has not asked for SMP, so there is nothing to answer.")),
                }
            }
        }
        out
    }

}

fn too_many() -> Failure {
    Failure::new(ErrorCode::Busy, "Too many conversations are open on this account.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(account: &str, policy: &str) -> Conversations {
        let mut engine = Conversations::default();
        let mut events = Vec::new();
        engine.add_account(account, policy, true, None, &mut |event| events.push(event));
        assert!(matches!(&events[..], [FromCrypto::Otr { event: OtrEvent::KeyGeneration { done: false, .. }, .. }, FromCrypto::Otr { event: OtrEvent::KeyGeneration { done: true, fingerprint: Some(_) }, .. }]));
        engine
    }

    /// Delivers every body one engine sends to the other's account, as net
    /// would, until both are quiet; returns what reached the UIs.
    fn carry(engines: &mut [(&str, Conversations); 2], mut outbox: Vec<(usize, FromCrypto)>) -> Vec<(usize, FromCrypto)> {
        let mut shown = Vec::new();
        let mut seq = 0;
        for _ in 0..200 {
            let Some((from, message)) = (!outbox.is_empty()).then(|| outbox.remove(0)) else { return shown };
            let to = 1 - from;
            let body = match &message {
                FromCrypto::Transmit { body, .. } => body.clone(),
                FromCrypto::Protocol { body, .. } => {
                    assert!(body.expose().starts_with("?OTR"), "crypto sent net a non-OTR body on its own");
                    body.clone()
                }
                _ => {
                    shown.push((from, message));
                    continue;
                }
            };
            seq += 1;
            let sender = format!("{}/res", engines[from].0);
            let receiver = engines[to].0.to_owned();
            let replies = engines[to].1.incoming(seq, &receiver, &sender, &body, Instant::now());
            let answers = replies.iter().filter(|reply| matches!(reply, FromCrypto::Deliver { seq: s, .. } | FromCrypto::Absorbed { seq: s } if *s == seq)).count();
            assert_eq!(answers, 1, "each incoming message gets exactly one Deliver or Absorbed: {replies:?}");
            outbox.extend(replies.into_iter().map(|reply| (to, reply)));
        }
        panic!("never quiet");
    }

    #[test]
    fn under_require_nothing_but_otr_leaves_and_the_message_arrives_encrypted() {
        let mut engines = [("alice@example.org", engine("alice@example.org", "require")), ("bob@example.org", engine("bob@example.org", "require"))];
        let first = engines[0].1.send("alice@example.org", "bob@example.org", &SecretText::new("the plan".into()), 1, Instant::now());
        assert!(first.iter().all(|message| !matches!(message, FromCrypto::Transmit { .. })), "the message left before the conversation was private");
        let shown = carry(&mut engines, first.into_iter().map(|message| (0, message)).collect());
        let delivered: Vec<_> = shown.iter().filter_map(|(_, message)| match message {
            FromCrypto::Deliver { text, encrypted, .. } => Some((text.expose().to_owned(), *encrypted)),
            _ => None,
        }).collect();
        assert_eq!(delivered, vec![("the plan".to_owned(), true)]);
        let private = shown.iter().filter(|(_, message)| matches!(message, FromCrypto::Otr { event: OtrEvent::State { state: ConversationState::Private, .. }, .. })).count();
        assert_eq!(private, 2, "both sides told the UI");
    }

    /// Alice's last word on her conversation with Bob among `shown`.
    fn alices_state(shown: &[(usize, FromCrypto)]) -> (Option<String>, bool, Option<KeyChange>) {
        shown
            .iter()
            .rev()
            .find_map(|(from, message)| match message {
                FromCrypto::Otr { event: OtrEvent::State { state: ConversationState::Private, fingerprint, verified, key_change, .. }, .. } if *from == 0 => {
                    Some((fingerprint.clone(), *verified, key_change.clone()))
                }
                _ => None,
            })
            .expect("alice's side became private")
    }

    #[test]
    fn a_new_key_after_a_verified_one_is_reported_as_changed_until_it_is_verified() {
        let alice = "alice@example.org";
        let bob = "bob@example.org";
        let mut engines = [(alice, engine(alice, "require")), (bob, engine(bob, "require"))];
        let first = engines[0].1.send(alice, bob, &SecretText::new("hello".into()), 1, Instant::now());
        let shown = carry(&mut engines, first.into_iter().map(|message| (0, message)).collect());
        let (old_fingerprint, verified, key_change) = alices_state(&shown);
        let old_fingerprint = old_fingerprint.expect("a private conversation has the peer's fingerprint");
        assert!(!verified);
        assert_eq!(key_change, None, "the first key ever seen is no change");
        let trusted = engines[0].1.request(alice, OtrRequest::Trust { peer: bob.into(), fingerprint: old_fingerprint.clone() }, Instant::now());
        assert!(trusted.iter().any(|message| matches!(message, FromCrypto::Otr { event: OtrEvent::State { verified: true, key_change: None, .. }, .. })), "{trusted:?}");
        engines[0].1.request(alice, OtrRequest::End { peer: bob.into() }, Instant::now());

        // Bob's Burrow on a fresh profile: the same address, a new key.
        engines[1].1 = engine(bob, "require");
        let again = engines[1].1.send(bob, alice, &SecretText::new("it is me, new laptop".into()), 2, Instant::now());
        let shown = carry(&mut engines, again.into_iter().map(|message| (1, message)).collect());
        let (new_fingerprint, verified, key_change) = alices_state(&shown);
        let new_fingerprint = new_fingerprint.expect("the new fingerprint");
        assert_ne!(new_fingerprint, old_fingerprint);
        assert!(!verified, "a new key is never verified by the old one's trust");
        let key_change = key_change.expect("the change is reported");
        assert_eq!(key_change.earlier, vec![EarlierFingerprint { fingerprint: old_fingerprint.clone(), verified: true }]);
        assert!(key_change.earlier_verified());

        // Asked again (as after /trust of some other key), it is still said.
        let state = engines[0].1.accounts[alice].peers.open[bob].report();
        let FromCrypto::Otr { event: OtrEvent::State { key_change: Some(_), .. }, .. } = engines[0].1.state_event(alice, bob, state.state, state.fingerprint) else {
            panic!("the change is forgotten before the new key is verified");
        };

        // Verified, the new key is no longer news.
        let trusted = engines[0].1.request(alice, OtrRequest::Trust { peer: bob.into(), fingerprint: new_fingerprint }, Instant::now());
        assert!(trusted.iter().any(|message| matches!(message, FromCrypto::Otr { event: OtrEvent::State { verified: true, key_change: None, .. }, .. })), "{trusted:?}");
    }

    #[test]
    fn a_key_change_lists_a_bounded_number_of_earlier_keys_verified_first() {
        let mut alice = engine("alice@example.org", "require");
        for byte in 0..20u8 {
            alice.import_fingerprint("alice@example.org", "bob@example.org", [byte; 20], Trust::Unverified);
        }
        alice.import_fingerprint("alice@example.org", "bob@example.org", [0xEE; 20], Trust::VerifiedBySmp);
        let change = alice.key_change("alice@example.org", "bob@example.org", &[3; 20]).expect("other keys were seen");
        assert_eq!(change.earlier.len(), MAX_EARLIER_FINGERPRINTS);
        assert_eq!(change.earlier[0], EarlierFingerprint { fingerprint: fingerprint_human(&[0xEE; 20]), verified: true });
        assert!(change.earlier.iter().all(|earlier| earlier.fingerprint != fingerprint_human(&[3; 20])), "the current key is not an earlier one");
        assert_eq!(alice.key_change("alice@example.org", "carol@example.org", &[3; 20]), None, "a peer seen with one key only has no change");
    }

    #[test]
    fn a_restarted_front_end_is_told_every_private_conversation() {
        let (alice, bob) = ("alice@example.org", "bob@example.org");
        let mut engines = [(alice, engine(alice, "require")), (bob, engine(bob, "require"))];
        assert!(engines[0].1.states().is_empty(), "no conversation yet");
        let first = engines[0].1.send(alice, bob, &SecretText::new("hello".into()), 1, Instant::now());
        carry(&mut engines, first.into_iter().map(|message| (0, message)).collect());
        let states = engines[0].1.states();
        assert!(matches!(&states[..], [FromCrypto::Otr { account, event: OtrEvent::State { peer, state: ConversationState::Private, fingerprint: Some(_), .. } }] if account == alice && peer == bob), "{states:?}");
    }

    #[test]
    fn answering_the_peers_question_verifies_nothing_while_asking_ours_does() {
        let (alice, bob) = ("alice@example.org", "bob@example.org");
        let mut engines = [(alice, engine(alice, "require")), (bob, engine(bob, "require"))];
        let first = engines[0].1.send(alice, bob, &SecretText::new("hello".into()), 1, Instant::now());
        carry(&mut engines, first.into_iter().map(|message| (0, message)).collect());
        let asked = engines[0].1.request(alice, OtrRequest::Smp { peer: bob.into(), question: Some(SecretText::new("Where did we meet?".into())), secret: SecretText::new("harbour".into()) }, Instant::now());
        let shown = carry(&mut engines, asked.into_iter().map(|message| (0, message)).collect());
        assert!(shown.iter().any(|(to, message)| *to == 1 && matches!(message, FromCrypto::Otr { event: OtrEvent::Smp { result: SmpResult::Asked, question: Some(_), .. }, .. })));
        let answer = engines[1].1.request(bob, OtrRequest::SmpAnswer { peer: alice.into(), secret: SecretText::new("harbour".into()) }, Instant::now());
        let shown = carry(&mut engines, answer.into_iter().map(|message| (1, message)).collect());
        let succeeded = |side: usize| shown.iter().any(|(at, message)| *at == side && matches!(message, FromCrypto::Otr { event: OtrEvent::Smp { result: SmpResult::Success, .. }, .. }));
        assert!(succeeded(0) && succeeded(1), "{shown:?}");
        let verified = |side: usize| shown.iter().any(|(at, message)| *at == side && matches!(message, FromCrypto::Otr { event: OtrEvent::State { verified: true, .. }, .. }));
        assert!(verified(0), "the asker verified the answerer: {shown:?}");
        assert!(!verified(1), "the answerer must not trust the asker: {shown:?}");
        assert!(shown.iter().any(|(at, message)| *at == 1 && matches!(message, FromCrypto::Otr { event: OtrEvent::Notice { .. }, .. })), "the answerer is told why: {shown:?}");
        let bob_sees = engines[1].1.trust.known(bob, alice);
        assert!(bob_sees.iter().all(|(_, trust)| *trust == Trust::Unverified), "{bob_sees:?}");

        // Bob's own question, answered by Alice, verifies her for him.
        let asked = engines[1].1.request(bob, OtrRequest::Smp { peer: alice.into(), question: Some(SecretText::new("Our code word?".into())), secret: SecretText::new("kestrel".into()) }, Instant::now());
        carry(&mut engines, asked.into_iter().map(|message| (1, message)).collect());
        let answer = engines[0].1.request(alice, OtrRequest::SmpAnswer { peer: bob.into(), secret: SecretText::new("kestrel".into()) }, Instant::now());
        let shown = carry(&mut engines, answer.into_iter().map(|message| (0, message)).collect());
        assert!(shown.iter().any(|(at, message)| *at == 1 && matches!(message, FromCrypto::Otr { event: OtrEvent::State { verified: true, .. }, .. })), "{shown:?}");
    }

    #[test]
    fn keys_trust_and_policies_survive_a_save_and_restore() {
        let mut first = engine("alice@example.org", "require");
        let saved = first.take_changes().expect("a new key is a change");
        assert!(first.take_changes().is_none(), "nothing new since");
        let fingerprint = [7u8; 20];
        let trusted = first.request("alice@example.org", OtrRequest::Trust { peer: "bob@example.org".into(), fingerprint: "0707070707070707070707070707070707070707".into() }, Instant::now());
        assert!(matches!(&trusted[..], [FromCrypto::Otr { event: OtrEvent::Trusted { .. }, .. }]));
        first.request("alice@example.org", OtrRequest::Policy { peer: Some("bob@example.org".into()), policy: "manual".into(), allow_v2: Some(false) }, Instant::now());
        let later = first.take_changes().expect("trust and policy changed");
        assert_eq!(later.keys.len(), 1);
        assert_eq!(saved.keys[0].x, later.keys[0].x, "the key is kept, not remade");
        assert_eq!(later.account_policies, vec![("alice@example.org".to_owned(), "require".to_owned(), true)]);

        let mut second = Conversations::default();
        let mut events = Vec::new();
        second.add_account("alice@example.org", "require", true, Some(&later.keys[0]), &mut |event| events.push(event));
        assert!(events.is_empty(), "a stored key is not made again: {events:?}");
        second.restore(&later.fingerprints, &later.peer_policies);
        assert!(second.take_changes().is_none());
        let ours = |engine: &mut Conversations| match &engine.request("alice@example.org", OtrRequest::Fingerprint { peer: None }, Instant::now())[..] {
            [FromCrypto::Otr { event: OtrEvent::Fingerprint { fingerprint, .. }, .. }] => fingerprint.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(ours(&mut first), ours(&mut second));
        assert_eq!(second.trust.trust("alice@example.org", "bob@example.org", &fingerprint), Trust::VerifiedByHand);
        let restored = second.accounts["alice@example.org"].peers.peer_policies["bob@example.org"];
        assert_eq!((restored.policy, restored.allow_v2), (Policy::Manual, false));
    }

    #[test]
    fn a_broken_stored_key_is_replaced_and_said_so() {
        let mut engine = Conversations::default();
        let mut saved = engine_saved_key();
        saved.x = vec![1];
        let mut events = Vec::new();
        engine.add_account("alice@example.org", "require", true, Some(&saved), &mut |event| events.push(event));
        assert!(matches!(&events[0], FromCrypto::Otr { event: OtrEvent::Failed { failure, .. }, .. } if failure.code == ErrorCode::Otr));
        assert!(engine.take_changes().is_some(), "the new key must be saved");
    }

    fn engine_saved_key() -> OtrKeyRecord {
        let mut engine = engine("alice@example.org", "require");
        engine.take_changes().unwrap().keys.remove(0)
    }

    #[test]
    fn requests_for_unknown_accounts_and_conversations_are_plain_refusals() {
        let mut alice = engine("alice@example.org", "manual");
        let answer = alice.request("nobody@example.org", OtrRequest::Start { peer: "bob@example.org".into() }, Instant::now());
        assert!(matches!(&answer[..], [FromCrypto::Otr { event: OtrEvent::Failed { failure, .. }, .. }] if failure.code == ErrorCode::UnknownAccount));
        let answer = alice.request("alice@example.org", OtrRequest::Smp { peer: "bob@example.org".into(), question: None, secret: SecretText::new("x".into()) }, Instant::now());
        assert!(matches!(&answer[..], [FromCrypto::Otr { event: OtrEvent::Failed { failure, .. }, .. }] if failure.code == ErrorCode::NotPrivate));
        let answer = alice.request("alice@example.org", OtrRequest::Trust { peer: "bob@example.org".into(), fingerprint: "not hex".into() }, Instant::now());
        assert!(matches!(&answer[..], [FromCrypto::Otr { event: OtrEvent::Failed { failure, .. }, .. }] if failure.code == ErrorCode::BadCommand));
        let answer = alice.request("alice@example.org", OtrRequest::Policy { peer: None, policy: "always".into(), allow_v2: None }, Instant::now());
        assert!(matches!(&answer[..], [FromCrypto::Otr { event: OtrEvent::Failed { failure, .. }, .. }] if failure.code == ErrorCode::BadCommand));
    }
}
