//! Hostile-peer tests through the public API: a malicious or broken peer
//! gets a clear event, never a panic, never a corrupted session.
//!
//! Two harnesses. `Pair` is two real `Conversation`s (Alice and Bob) wired
//! to each other. `Mallory` is a peer built from the protocol modules
//! themselves (`ake::AuthState`, `data::Keys`, `message::encode`), so she
//! can put anything on the wire with a valid MAC or a valid commitment,
//! which a real `Conversation` never would. After every attack, a genuine
//! message each way must still arrive encrypted, and Alice's key ids must be
//! what they were (or advanced by exactly the genuine messages).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use otr::ake::{AkeError, AkeMessage, AuthState};
use otr::data::{self, DataError, Keys};
use otr::dsa::PrivateKey;
use otr::fragment::{self, FragmentError};
use otr::instance_tag::InstanceTag;
use otr::message::{self, Body, DataMessage, Header, Message, MessageError, Version, IGNORE_UNREADABLE};
use otr::policy::Policy;
use otr::rng::SeededRng;
use otr::session::{Conversation, Env, Notice, Output, Settings, State, ERROR_REPLY_INTERVAL};
use otr::smp::{self, Smp, SmpError, SmpEvent, SmpMessage, RESTART_LIMIT};
use otr::tlv::{self, Tlv};
use sha2::{Digest, Sha256};

fn keys() -> &'static (PrivateKey, PrivateKey) {
    static KEYS: OnceLock<(PrivateKey, PrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = SeededRng::new(b"hostile long-term keys");
        (PrivateKey::generate(&mut rng).unwrap(), PrivateKey::generate(&mut rng).unwrap())
    })
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// p of the 1536-bit MODP group, big-endian.
fn p() -> Vec<u8> {
    const HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF";
    (0..HEX.len()).step_by(2).map(|index| u8::from_str_radix(&HEX[index..index + 2], 16).unwrap()).collect()
}

/// Adds a small number to a big-endian magnitude (no overflow past p's size
/// is needed here).
fn plus(value: &[u8], amount: u8) -> Vec<u8> {
    let mut out = value.to_vec();
    let mut carry = u16::from(amount);
    for byte in out.iter_mut().rev() {
        let sum = u16::from(*byte) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    if carry > 0 {
        out.insert(0, carry as u8);
    }
    out
}

fn minus_one(value: &[u8]) -> Vec<u8> {
    let mut out = value.to_vec();
    for byte in out.iter_mut().rev() {
        let (next, borrow) = byte.overflowing_sub(1);
        *byte = next;
        if !borrow {
            break;
        }
    }
    out
}

/// The DH values no peer may send: 0, 1, p-1, p, p+1, 2^1536-1, and one
/// wider than the group.
fn bad_dh_values() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("0", vec![]),
        ("0 (spelt as a zero byte)", vec![0]),
        ("1", vec![1]),
        ("p-1", minus_one(&p())),
        ("p", p()),
        ("p+1", plus(&p(), 1)),
        ("2^1536-1", vec![0xff; 192]),
        ("193 bytes", vec![1; 193]),
    ]
}

fn settings(name: &str, policy: Policy, max_fragment: Option<usize>) -> Settings {
    Settings { policy, allow_v2: true, max_fragment, account_name: name.into() }
}

fn notices(outputs: &[Output]) -> Vec<Notice> {
    outputs.iter().filter_map(|output| if let Output::Notice(notice) = output { Some(notice.clone()) } else { None }).collect()
}

fn transmits(outputs: &[Output]) -> Vec<String> {
    outputs.iter().filter_map(|output| if let Output::Transmit { text, .. } = output { Some(text.clone()) } else { None }).collect()
}

fn displays(outputs: &[Output]) -> Vec<(String, bool)> {
    outputs.iter().filter_map(|output| if let Output::Display { text, encrypted } = output { Some((text.to_string(), *encrypted)) } else { None }).collect()
}

fn is_error(text: &str) -> bool {
    text.starts_with("?OTR Error:")
}

fn malformed(bytes: &[u8]) -> Notice {
    Notice::Dropped(format!("a malformed OTR message: {}", message::decode(bytes).unwrap_err()))
}

fn unreadable(error: DataError) -> Notice {
    Notice::Unreadable(error.to_string())
}

fn no_session() -> Notice {
    Notice::Unreadable("an encrypted message arrived but there is no private conversation".into())
}

fn decode_text(text: &str) -> Message {
    let Ok(message::Classified::Encoded(bytes)) = message::classify(text) else { panic!("not an encoded message: {text}") };
    message::decode(&bytes).unwrap()
}

/// Alice's key ids after she accepts the data message `bytes`, as the spec's
/// "When you receive a Data Message" moves them: ours when it was sent to
/// our most recent key, theirs when it came with their most recent one.
fn advanced(before: (u32, u32), bytes: &[u8]) -> (u32, u32) {
    let Body::Data(data) = message::decode(bytes).unwrap().body else { panic!("not a data message") };
    (before.0 + u32::from(data.recipient_keyid == before.0), before.1 + u32::from(data.sender_keyid == before.1))
}

fn text_bytes(text: &str) -> Vec<u8> {
    let Ok(message::Classified::Encoded(bytes)) = message::classify(text) else { panic!("not an encoded message") };
    bytes
}

// --- Alice, a real conversation ---

struct Alice {
    conversation: Conversation,
    tag: u32,
    rng: SeededRng,
}

impl Alice {
    fn new(policy: Policy, max_fragment: Option<usize>) -> Self {
        let mut rng = SeededRng::new(b"alice");
        let tag = InstanceTag::random(&mut rng);
        Self { conversation: Conversation::new(settings("alice", policy, max_fragment), tag), tag: tag.value(), rng }
    }

    fn receive_at(&mut self, text: &str, now: Instant) -> Vec<Output> {
        let key = &keys().0;
        let mut env = Env { rng: &mut self.rng, key, now };
        self.conversation.receive(&mut env, text)
    }

    fn receive(&mut self, text: &str) -> Vec<Output> {
        self.receive_at(text, epoch())
    }

    fn send(&mut self, text: &str) -> Vec<Output> {
        let key = &keys().0;
        let mut env = Env { rng: &mut self.rng, key, now: epoch() };
        self.conversation.send(&mut env, 1, text)
    }
}

// --- Mallory, a peer that can say anything ---

struct Mallory {
    tag: u32,
    alice_tag: u32,
    rng: SeededRng,
    auth: AuthState,
    keys: Option<Keys>,
    smp: Smp,
    /// What Alice's data messages said to Mallory.
    read: Vec<Vec<u8>>,
}

impl Mallory {
    fn new(alice_tag: u32) -> Self {
        let mut rng = SeededRng::new(b"mallory");
        let tag = InstanceTag::random(&mut rng).value();
        Self { tag, alice_tag, rng, auth: AuthState::None, keys: None, smp: Smp::new(), read: Vec::new() }
    }

    fn key(&self) -> &'static PrivateKey {
        &keys().1
    }

    fn header(&self, kind: u8) -> Header {
        Header { version: Version::V3, kind, sender: self.tag, receiver: self.alice_tag }
    }

    fn ake_text(&self, message: AkeMessage) -> String {
        let body = match message {
            AkeMessage::DhCommit { encrypted_gx, hashed_gx } => Body::DhCommit { encrypted_gx, hashed_gx },
            AkeMessage::DhKey { gy } => Body::DhKey { gy },
            AkeMessage::RevealSignature { revealed_key, encrypted_signature, mac } => {
                Body::RevealSignature { revealed_key: revealed_key.try_into().unwrap(), encrypted_signature, mac }
            }
            AkeMessage::Signature { encrypted_signature, mac } => Body::Signature { encrypted_signature, mac },
        };
        message::to_text(&message::encode(&Message { header: self.header(body.kind()), body }))
    }

    /// Starts an AKE of her own: her D-H Commit as text.
    fn commit(&mut self) -> String {
        let (state, commit) = AuthState::start(&mut self.rng);
        self.auth = state;
        self.ake_text(commit)
    }

    /// Takes one AKE message of Alice's; returns Mallory's reply, if any.
    fn ake(&mut self, text: &str) -> Option<String> {
        let message = decode_text(text);
        let ake = match message.body {
            Body::DhCommit { encrypted_gx, hashed_gx } => AkeMessage::DhCommit { encrypted_gx, hashed_gx },
            Body::DhKey { gy } => AkeMessage::DhKey { gy },
            Body::RevealSignature { revealed_key, encrypted_signature, mac } => {
                AkeMessage::RevealSignature { revealed_key: revealed_key.to_vec(), encrypted_signature, mac }
            }
            Body::Signature { encrypted_signature, mac } => AkeMessage::Signature { encrypted_signature, mac },
            Body::Data(_) => panic!("not an AKE message"),
        };
        let state = std::mem::take(&mut self.auth);
        let key = self.key();
        let (next, step) = state.handle(&mut self.rng, key, ake);
        self.auth = next;
        assert_eq!(step.ignored, None, "Mallory's own AKE went wrong");
        if let Some(established) = step.established {
            self.keys = Some(Keys::after_ake(&mut self.rng, established.our_dh, established.our_keyid, established.their_keyid, established.their_dh));
            self.smp = Smp::new();
        }
        step.reply.map(|reply| self.ake_text(reply))
    }

    /// A data message, `tamper`ed before its MAC is computed, so the MAC
    /// is valid for whatever it says.
    fn data_with(&mut self, text: &[u8], tlvs: &[Tlv], flags: u8, tamper: impl FnOnce(&mut DataMessage)) -> Vec<u8> {
        let payload = tlv::encode_payload(text, tlvs).unwrap();
        let header = self.header(message::DATA);
        let sealed = self.keys.as_mut().expect("Mallory is private").seal(&payload);
        let mut data = DataMessage {
            flags,
            sender_keyid: sealed.sender_keyid,
            recipient_keyid: sealed.recipient_keyid,
            next_dh: sealed.next_dh.to_bytes(),
            ctr: sealed.counter,
            encrypted_message: sealed.encrypted,
            mac: [0; data::MAC_BYTES],
            old_mac_keys: sealed.old_mac_keys,
        };
        tamper(&mut data);
        data.mac = data::mac(&sealed.mac_key, &data.mac_input(&header));
        message::encode(&Message { header, body: Body::Data(data) })
    }

    fn data(&mut self, text: &str) -> Vec<u8> {
        self.data_with(text.as_bytes(), &[], 0, |_| {})
    }

    fn data_text(&mut self, text: &str) -> String {
        let bytes = self.data(text);
        message::to_text(&bytes)
    }

    /// Reads a data message of Alice's. Returns false if it is not one.
    fn read(&mut self, text: &str) -> bool {
        let Ok(message::Classified::Encoded(bytes)) = message::classify(text) else { return false };
        let Ok(message) = message::decode(&bytes) else { return false };
        let Body::Data(data) = &message.body else { return false };
        let authenticated = message::received_mac_input(&bytes).unwrap();
        let incoming = data::Incoming {
            sender_keyid: data.sender_keyid,
            recipient_keyid: data.recipient_keyid,
            next_dh: &data.next_dh,
            counter: data.ctr,
            encrypted: &data.encrypted_message,
            mac: data.mac,
            authenticated,
        };
        let opened = self.keys.as_mut().expect("Mallory is private").open(&mut self.rng, &incoming).expect("Alice's message reads");
        self.read.push(opened.plaintext.to_vec());
        true
    }
}

/// Alice (Manual policy) and Mallory in a private conversation, Mallory
/// having started it, and a first message each way so keys have rotated.
fn private_with_mallory(policy: Policy) -> (Alice, Mallory) {
    let mut alice = Alice::new(policy, None);
    let mut mallory = Mallory::new(alice.tag);
    let commit = mallory.commit();
    let mut to_alice = vec![commit];
    while let Some(text) = to_alice.pop() {
        let out = alice.receive(&text);
        assert!(notices(&out).is_empty(), "{out:?}");
        for reply in transmits(&out) {
            if let Some(answer) = mallory.ake(&reply) {
                to_alice.push(answer);
            }
        }
    }
    assert_eq!(alice.conversation.state(), State::Private);
    assert!(mallory.keys.is_some());
    assert_round_trip(&mut alice, &mut mallory, "warm-up");
    (alice, mallory)
}

/// A genuine message each way arrives encrypted; Alice's key ids move only
/// as those two messages move them.
fn assert_round_trip(alice: &mut Alice, mallory: &mut Mallory, label: &str) {
    let before = alice.conversation.key_ids().expect("Alice is still private");
    let text = format!("from Mallory: {label}");
    let wire = mallory.data_text(&text);
    let out = alice.receive(&wire);
    assert_eq!(displays(&out), vec![(text, true)], "{label}: {out:?}");
    assert!(notices(&out).is_empty(), "{label}: {out:?}");
    let after_receive = alice.conversation.key_ids().unwrap();
    assert_eq!(after_receive, advanced(before, &text_bytes(&wire)), "{label}: key ids {before:?} → {after_receive:?}");
    assert_eq!(after_receive.1, mallory.keys.as_ref().unwrap().our_keyid(), "{label}: Alice has Mallory's newest key");
    // Alice's heartbeat, if she sends one.
    for reply in transmits(&out) {
        assert!(mallory.read(&reply), "{label}: Alice answered with {reply}");
    }
    let text = format!("from Alice: {label}");
    let out = alice.send(&text);
    let sent = transmits(&out);
    assert_eq!(sent.len(), 1, "{label}");
    assert!(matches!(&out[..], [Output::Transmit { encrypted: true, .. }]));
    let read_before = mallory.read.len();
    assert!(mallory.read(&sent[0]));
    assert_eq!(mallory.read[read_before], text.as_bytes(), "{label}");
    assert_eq!(alice.conversation.key_ids(), Some(after_receive), "sending rotates nothing");
}

/// Feeds one hostile text; asserts the notices and that Alice's key ids
/// did not move, and returns what came out.
fn attack(alice: &mut Alice, text: &str, expected: &[Notice]) -> Vec<Output> {
    let before = alice.conversation.key_ids();
    let out = alice.receive(text);
    assert_eq!(notices(&out), expected, "for {text:.120}");
    assert!(displays(&out).is_empty(), "nothing is shown for {text:.120}: {out:?}");
    assert_eq!(alice.conversation.key_ids(), before, "key ids moved for {text:.120}");
    assert_eq!(alice.conversation.state(), State::Private);
    out
}

// --- the message layer ---

#[test]
fn malformed_base64_version_and_type_are_dropped_with_a_reason() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let good = mallory.data_text("never delivered whole");
    let body = good.strip_prefix("?OTR:").unwrap().strip_suffix('.').unwrap();
    let unterminated = format!("?OTR:{body}");
    let texts = [
        format!("?OTR:{}!{}.", &body[..10], &body[11..]),
        format!("?OTR:{}*.", body),
        format!("?OTR:{}=.", body),
        format!("?OTR:{}A.", body),
        format!("?OTR:{}=A==.", &body[..8]),
        "?OTR:A.".to_owned(),
        "?OTR:====.".to_owned(),
        format!("?OTR:\u{e9}{body}."),
    ];
    for text in &texts {
        let error = message::classify(text).unwrap_err();
        assert!(matches!(error, MessageError::Base64(_)), "{text:.40}: {error:?}");
        attack(&mut alice, text, &[Notice::Dropped(error.to_string())]);
    }
    attack(&mut alice, &unterminated, &[Notice::Dropped(MessageError::Unterminated.to_string())]);
    // Versions 1, 4 and 0xffff, and types no version defines.
    let bytes = message::decode(&{
        let Ok(message::Classified::Encoded(bytes)) = message::classify(&good) else { unreachable!() };
        bytes
    })
    .map(|message| message::encode(&message))
    .unwrap();
    for version in [0u16, 1, 4, 0xffff] {
        let mut changed = bytes.clone();
        changed[..2].copy_from_slice(&version.to_be_bytes());
        assert_eq!(message::decode(&changed), Err(MessageError::UnsupportedVersion(version)));
        attack(&mut alice, &message::to_text(&changed), &[malformed(&changed)]);
    }
    for kind in [0x00u8, 0x01, 0x04, 0x13, 0x83, 0xff] {
        let mut changed = bytes.clone();
        changed[2] = kind;
        assert_eq!(message::decode(&changed), Err(MessageError::UnknownType(kind)));
        attack(&mut alice, &message::to_text(&changed), &[malformed(&changed)]);
    }
    // Not even a header.
    attack(&mut alice, "?OTR:.", &[malformed(&[])]);
    attack(&mut alice, "?OTR:AA==.", &[malformed(&[0])]);
    attack(&mut alice, "?OTRxyz", &[Notice::Dropped(MessageError::Unrecognised.to_string())]);
    assert_round_trip(&mut alice, &mut mallory, "after malformed text");
}

#[test]
fn every_truncation_of_a_data_message_is_dropped() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let bytes = mallory.data("cut short");
    for end in 0..bytes.len() {
        let cut = &bytes[..end];
        attack(&mut alice, &message::to_text(cut), &[malformed(cut)]);
    }
    // And one byte too many.
    let mut long = bytes.clone();
    long.push(0);
    attack(&mut alice, &message::to_text(&long), &[malformed(&long)]);
    assert_round_trip(&mut alice, &mut mallory, "after truncations");
}

#[test]
fn every_truncation_of_every_ake_message_is_dropped_and_the_ake_still_completes() {
    let mut alice = Alice::new(Policy::Manual, None);
    let mut mallory = Mallory::new(alice.tag);
    let commit = mallory.commit();
    let mut ake_messages = Vec::new();
    let mut to_alice = vec![commit];
    while let Some(text) = to_alice.pop() {
        let Ok(message::Classified::Encoded(bytes)) = message::classify(&text) else { unreachable!() };
        // Every prefix first, then the genuine message: the AKE must not
        // have noticed.
        for end in 0..bytes.len() {
            let cut = &bytes[..end];
            let out = alice.receive(&message::to_text(cut));
            assert_eq!(notices(&out), [malformed(cut)], "cut at {end} of {}", bytes[2]);
            assert!(transmits(&out).is_empty());
        }
        ake_messages.push(bytes[2]);
        let out = alice.receive(&text);
        assert!(notices(&out).is_empty(), "{out:?}");
        for reply in transmits(&out) {
            // Alice's own messages, cut, are refused too.
            let Ok(message::Classified::Encoded(alice_bytes)) = message::classify(&reply) else { unreachable!() };
            for end in 0..alice_bytes.len() {
                assert!(message::decode(&alice_bytes[..end]).is_err());
            }
            ake_messages.push(alice_bytes[2]);
            if let Some(answer) = mallory.ake(&reply) {
                to_alice.push(answer);
            }
        }
    }
    assert_eq!(ake_messages, [message::DH_COMMIT, message::DH_KEY, message::REVEAL_SIGNATURE, message::SIGNATURE]);
    assert_eq!(alice.conversation.state(), State::Private);
    assert_round_trip(&mut alice, &mut mallory, "after truncated AKE messages");
}

#[test]
fn hostile_mpi_and_data_lengths_are_dropped() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let bytes = mallory.data("lengths");
    // The next_dh MPI's length sits at 20..24; the encrypted message's after
    // next_dh and the counter.
    let next_dh_length = u32::from_be_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let data_length_at = 24 + next_dh_length + 8;
    for (at, length) in [
        (20, u32::MAX),
        (20, 0x8000_0000),
        (20, (message::MAX_ENCRYPTED_GX_BYTES + 1) as u32),
        (20, 1025),
        (20, (bytes.len() - 24 + 1) as u32),
        (data_length_at, u32::MAX),
        (data_length_at, (bytes.len() - data_length_at) as u32),
        (bytes.len() - 4, 1),
        (bytes.len() - 4, u32::MAX),
    ] {
        let mut changed = bytes.clone();
        changed[at..at + 4].copy_from_slice(&length.to_be_bytes());
        attack(&mut alice, &message::to_text(&changed), &[malformed(&changed)]);
    }
    // The same in a D-H Key, and in a D-H Commit's two DATA fields.
    let alice_tag = alice.tag;
    let header = |kind| vec![0, 3, kind, 0, 0, 1, 0].into_iter().chain(alice_tag.to_be_bytes()).collect::<Vec<u8>>();
    for tail in [vec![0xff, 0xff, 0xff, 0xff, 1], vec![0, 0, 4, 1, 1], vec![0, 0, 0, 9, 1, 2, 3]] {
        let mut key = header(message::DH_KEY);
        key.extend(&tail);
        attack(&mut alice, &message::to_text(&key), &[malformed(&key)]);
        let mut commit = header(message::DH_COMMIT);
        commit.extend(&tail);
        attack(&mut alice, &message::to_text(&commit), &[malformed(&commit)]);
    }
    assert_round_trip(&mut alice, &mut mallory, "after hostile lengths");
}

// --- DH values ---

#[test]
fn bad_dh_keys_are_ignored_and_the_ake_completes_with_the_genuine_one() {
    let mut alice = Alice::new(Policy::Manual, None);
    let mut mallory = Mallory::new(alice.tag);
    // Mallory asks; Alice commits.
    let out = alice.receive("?OTRv3?");
    let commit = transmits(&out).pop().unwrap();
    let genuine_key = mallory.ake(&commit).unwrap();
    for (name, value) in bad_dh_values() {
        let text = mallory.ake_text(AkeMessage::DhKey { gy: value });
        let out = alice.receive(&text);
        assert_eq!(notices(&out), [Notice::AkeIgnored(AkeError::BadDhValue)], "g^y = {name}");
        assert!(transmits(&out).is_empty(), "g^y = {name}");
    }
    let over_cap = mallory.ake_text(AkeMessage::DhKey { gy: vec![1; 1025] });
    let Ok(message::Classified::Encoded(bytes)) = message::classify(&over_cap) else { unreachable!() };
    assert_eq!(notices(&alice.receive(&over_cap)), [malformed(&bytes)]);
    // The genuine D-H Key still completes the exchange.
    let out = alice.receive(&genuine_key);
    let reveal = transmits(&out).pop().unwrap();
    let signature = mallory.ake(&reveal).unwrap();
    let out = alice.receive(&signature);
    assert!(notices(&out).is_empty());
    assert_eq!(alice.conversation.state(), State::Private);
    assert_round_trip(&mut alice, &mut mallory, "after bad D-H Keys");
}

/// A D-H Commit whose g^x, once revealed, is `gx_mpi` (any bytes: Mallory
/// knows r, so she commits to whatever she likes).
fn commit_to(mallory: &Mallory, gx_mpi: &[u8], r: &[u8; 16]) -> String {
    let hashed_gx: [u8; 32] = Sha256::digest(gx_mpi).into();
    let mut encrypted_gx = gx_mpi.to_vec();
    data::aes_ctr(r, &[0; 8], &mut encrypted_gx);
    mallory.ake_text(AkeMessage::DhCommit { encrypted_gx, hashed_gx })
}

fn mpi(value: &[u8]) -> Vec<u8> {
    let mut out = (value.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(value);
    out
}

#[test]
fn bad_committed_dh_values_are_ignored_during_a_private_conversation() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let r = [0x42; 16];
    let mut cases: Vec<(String, Vec<u8>)> = bad_dh_values().into_iter().map(|(name, value)| (name.to_owned(), mpi(&value))).collect();
    // Not an MPI at all, or one with something after it.
    cases.push(("a length past the end".into(), vec![0, 0, 0, 200, 1, 2, 3]));
    cases.push(("trailing bytes".into(), [mpi(&[5; 192]), vec![0]].concat()));
    cases.push(("nothing".into(), vec![]));
    for (name, gx) in cases {
        let out = attack(&mut alice, &commit_to(&mallory, &gx, &r), &[]);
        let dh_key = transmits(&out);
        assert_eq!(dh_key.len(), 1, "{name}");
        assert!(matches!(decode_text(&dh_key[0]).body, Body::DhKey { .. }), "{name}");
        let reveal = mallory.ake_text(AkeMessage::RevealSignature { revealed_key: r.to_vec(), encrypted_signature: vec![7; 100], mac: [0; 20] });
        let out = attack(&mut alice, &reveal, &[Notice::AkeIgnored(AkeError::BadDhValue)]);
        assert!(transmits(&out).is_empty(), "{name}");
        // A wrong r does not open the commitment (unless it commits to
        // nothing, which every key opens).
        if gx.is_empty() {
            continue;
        }
        let wrong = mallory.ake_text(AkeMessage::RevealSignature { revealed_key: vec![0x43; 16], encrypted_signature: vec![7; 100], mac: [0; 20] });
        attack(&mut alice, &wrong, &[Notice::AkeIgnored(AkeError::CommitmentMismatch)]);
        assert_round_trip(&mut alice, &mut mallory, &format!("after committed g^x = {name}"));
    }
}

#[test]
fn bad_next_dh_keys_in_data_messages_are_refused_even_with_a_valid_mac() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    for (name, value) in bad_dh_values() {
        let bytes = mallory.data_with(b"poisoned key", &[], 0, |data| data.next_dh = value.clone());
        let out = attack(&mut alice, &message::to_text(&bytes), &[unreadable(DataError::BadNextKey)]);
        assert_eq!(transmits(&out).len(), usize::from(name == "0"), "one OTR Error per interval ({name})");
        assert_round_trip(&mut alice, &mut mallory, &format!("after next_dh = {name}"));
    }
}

// --- data messages ---

#[test]
fn replayed_and_stale_data_messages_are_refused() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let first = mallory.data_text("first");
    let second = mallory.data_text("second");
    let out = alice.receive(&second);
    assert_eq!(displays(&out), [("second".to_owned(), true)]);
    for reply in transmits(&out) {
        assert!(mallory.read(&reply));
    }
    // The same message again, and the older one after the newer.
    attack(&mut alice, &second, &[unreadable(DataError::StaleCounter)]);
    attack(&mut alice, &first, &[unreadable(DataError::StaleCounter)]);
    attack(&mut alice, &second, &[unreadable(DataError::StaleCounter)]);
    assert_round_trip(&mut alice, &mut mallory, "after replays");
    // Replayed after the keys moved on: the keys are gone.
    let out = alice.receive(&second);
    assert_eq!(notices(&out).len(), 1);
    assert!(matches!(&notices(&out)[0], Notice::Unreadable(_)));
    assert_round_trip(&mut alice, &mut mallory, "after a late replay");
    // A zero counter, with a valid MAC.
    let zero = mallory.data_with(b"zero", &[], 0, |data| data.ctr = [0; 8]);
    attack(&mut alice, &message::to_text(&zero), &[unreadable(DataError::ZeroCounter)]);
    assert_round_trip(&mut alice, &mut mallory, "after a zero counter");
}

#[test]
fn a_flipped_bit_anywhere_is_caught() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    // Make old MAC keys appear in Mallory's next message.
    assert_round_trip(&mut alice, &mut mallory, "rotate");
    let bytes = mallory.data("flip me");
    let message = message::decode(&bytes).unwrap();
    let Body::Data(data) = &message.body else { unreachable!() };
    assert!(!data.old_mac_keys.is_empty(), "old MAC keys ride along after rotations");
    let next_dh_end = 24 + data.next_dh.len();
    let ctr_at = next_dh_end;
    let encrypted_at = ctr_at + 8 + 4;
    let mac_at = encrypted_at + data.encrypted_message.len();
    let old_keys_at = mac_at + 20 + 4;
    let bad_mac = unreadable(DataError::BadMac);
    let cases: Vec<(&str, usize, u8, Vec<Notice>)> = vec![
        ("version", 0, 0x01, vec![malformed(&flip(&bytes, 0, 0x01))]),
        ("type", 2, 0x80, vec![malformed(&flip(&bytes, 2, 0x80))]),
        ("sender instance", 6, 0x01, vec![no_session()]),
        ("receiver instance", 10, 0x01, vec![Notice::Dropped("a message for another of your clients".into())]),
        ("flags", 11, 0x02, vec![bad_mac.clone()]),
        (
            "sender keyid",
            12,
            0x80,
            vec![unreadable(DataError::UnknownKeys { sender: data.sender_keyid ^ 0x8000_0000, recipient: data.recipient_keyid })],
        ),
        (
            "recipient keyid",
            19,
            0x10,
            vec![unreadable(DataError::UnknownKeys { sender: data.sender_keyid, recipient: data.recipient_keyid ^ 0x10 })],
        ),
        ("next_dh", next_dh_end - 1, 0x01, vec![bad_mac.clone()]),
        ("next_dh, high byte", 24, 0x01, vec![bad_mac.clone()]),
        ("ctr", ctr_at, 0x40, vec![bad_mac.clone()]),
        ("ctr, low byte", ctr_at + 7, 0x02, vec![bad_mac.clone()]),
        ("ciphertext", encrypted_at, 0x01, vec![bad_mac.clone()]),
        ("ciphertext end", mac_at - 1, 0x80, vec![bad_mac.clone()]),
        ("mac", mac_at, 0x01, vec![bad_mac.clone()]),
        ("mac end", mac_at + 19, 0x80, vec![bad_mac.clone()]),
    ];
    let mut errors = 0;
    for (region, at, bit, expected) in cases {
        let changed = flip(&bytes, at, bit);
        let out = alice.receive(&message::to_text(&changed));
        assert_eq!(notices(&out), expected, "{region}");
        assert!(displays(&out).is_empty(), "{region}");
        errors += transmits(&out).iter().filter(|text| is_error(text)).count();
        assert_eq!(alice.conversation.state(), State::Private, "{region}");
    }
    assert_eq!(errors, 1, "one OTR Error for all of them: they came within one interval");
    // The flag that says "ignore me if unreadable": its flip is MAC'd too, but
    // the spec says to drop such a message silently, so nothing at all comes out.
    let out = alice.receive(&message::to_text(&flip(&bytes, 11, IGNORE_UNREADABLE)));
    assert!(out.is_empty(), "{out:?}");
    // The old MAC keys are not MAC'd (they are public): a flip there
    // changes nothing, and the message is read.
    let changed = flip(&bytes, old_keys_at, 0x01);
    let before = alice.conversation.key_ids().unwrap();
    let out = alice.receive(&message::to_text(&changed));
    assert_eq!(displays(&out), [("flip me".to_owned(), true)]);
    assert_eq!(alice.conversation.key_ids(), Some(advanced(before, &bytes)));
    for reply in transmits(&out) {
        assert!(mallory.read(&reply));
    }
    // The unaltered message is now a replay.
    attack(&mut alice, &message::to_text(&bytes), &[unreadable(DataError::StaleCounter)]);
    assert_round_trip(&mut alice, &mut mallory, "after flipped bits");
}

fn flip(bytes: &[u8], at: usize, bit: u8) -> Vec<u8> {
    let mut changed = bytes.to_vec();
    changed[at] ^= bit;
    changed
}

#[test]
fn unknown_key_ids_are_refused_even_with_a_valid_mac() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let (alice_ours, alice_theirs) = alice.conversation.key_ids().unwrap();
    let ids = [
        (alice_theirs + 1, alice_ours),
        (alice_theirs + 1000, alice_ours),
        (u32::MAX, alice_ours),
        (alice_theirs, alice_ours + 1),
        (alice_theirs, alice_ours + 2),
        (alice_theirs, u32::MAX),
        (u32::MAX, u32::MAX),
        (alice_theirs + 2, alice_ours + 2),
    ];
    for (sender, recipient) in ids {
        let bytes = mallory.data_with(b"who?", &[], 0, |data| {
            data.sender_keyid = sender;
            data.recipient_keyid = recipient;
        });
        attack(&mut alice, &message::to_text(&bytes), &[unreadable(DataError::UnknownKeys { sender, recipient })]);
    }
    for (sender, recipient) in [(0, alice_ours), (alice_theirs, 0)] {
        let bytes = mallory.data_with(b"zero", &[], 0, |data| {
            data.sender_keyid = sender;
            data.recipient_keyid = recipient;
        });
        attack(&mut alice, &message::to_text(&bytes), &[malformed(&bytes)]);
    }
    assert_round_trip(&mut alice, &mut mallory, "after unknown key ids");
}

#[test]
fn data_messages_for_other_instances_or_from_reserved_tags_are_dropped() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let bytes = mallory.data("elsewhere");
    let with_tags = |sender: u32, receiver: u32| {
        let mut changed = bytes.clone();
        changed[3..7].copy_from_slice(&sender.to_be_bytes());
        changed[7..11].copy_from_slice(&receiver.to_be_bytes());
        changed
    };
    for receiver in [0x100, alice.tag ^ 1, u32::MAX] {
        attack(&mut alice, &message::to_text(&with_tags(mallory.tag, receiver)), &[Notice::Dropped("a message for another of your clients".into())]);
    }
    for sender in [0, 1, 0xff] {
        let changed = with_tags(sender, alice.tag);
        assert_eq!(message::decode(&changed), Err(MessageError::ReservedSenderTag(sender)));
        attack(&mut alice, &message::to_text(&changed), &[malformed(&changed)]);
    }
    for receiver in [1, 0xff] {
        let changed = with_tags(mallory.tag, receiver);
        attack(&mut alice, &message::to_text(&changed), &[malformed(&changed)]);
    }
    let changed = with_tags(mallory.tag, 0);
    assert_eq!(message::decode(&changed), Err(MessageError::UnknownReceiver));
    attack(&mut alice, &message::to_text(&changed), &[malformed(&changed)]);
    // The original still reads.
    let before = alice.conversation.key_ids().unwrap();
    let out = alice.receive(&message::to_text(&bytes));
    assert_eq!(displays(&out), [("elsewhere".to_owned(), true)]);
    assert_eq!(alice.conversation.key_ids(), Some(advanced(before, &bytes)));
    for reply in transmits(&out) {
        assert!(mallory.read(&reply));
    }
    assert_round_trip(&mut alice, &mut mallory, "after other instances");
}

#[test]
fn data_messages_from_many_unknown_instances_do_not_lock_out_a_new_one() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let bytes = mallory.data("spoofed");
    let mut first = true;
    for sender in 0x1000..0x1000 + 200u32 {
        let mut changed = bytes.clone();
        changed[3..7].copy_from_slice(&sender.to_be_bytes());
        let out = attack(&mut alice, &message::to_text(&changed), &[no_session()]);
        assert_eq!(transmits(&out).len(), usize::from(first));
        first = false;
    }
    // Mallory comes back from a new client: that instance can still start
    // an AKE, and its conversation becomes the current one.
    let mut again = Mallory::new(alice.tag);
    again.tag = 0x7777_7777;
    let mut to_alice = vec![again.commit()];
    while let Some(text) = to_alice.pop() {
        let out = alice.receive(&text);
        assert!(notices(&out).is_empty(), "{out:?}");
        for reply in transmits(&out) {
            if let Some(answer) = again.ake(&reply) {
                to_alice.push(answer);
            }
        }
    }
    assert!(again.keys.is_some(), "the new instance completed its AKE");
    // Alice's current session is the new one; the old instance still reads.
    let text = again.data_text("new client");
    assert_eq!(displays(&alice.receive(&text)), [("new client".to_owned(), true)]);
    let old = mallory.data_text("old client");
    assert_eq!(displays(&alice.receive(&old)), [("old client".to_owned(), true)]);
}

// --- AKE messages at the wrong time ---

#[test]
fn ake_messages_out_of_place_in_a_private_conversation_are_ignored() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let key = mallory.ake_text(AkeMessage::DhKey { gy: vec![5; 192] });
    attack(&mut alice, &key, &[Notice::AkeIgnored(AkeError::Unexpected("D-H Key"))]);
    let reveal = mallory.ake_text(AkeMessage::RevealSignature { revealed_key: vec![1; 16], encrypted_signature: vec![2; 50], mac: [3; 20] });
    attack(&mut alice, &reveal, &[Notice::AkeIgnored(AkeError::Unexpected("Reveal Signature"))]);
    let signature = mallory.ake_text(AkeMessage::Signature { encrypted_signature: vec![2; 50], mac: [3; 20] });
    attack(&mut alice, &signature, &[Notice::AkeIgnored(AkeError::Unexpected("Signature"))]);
    assert_round_trip(&mut alice, &mut mallory, "after stray AKE messages");
}

#[test]
fn a_replayed_ake_does_not_replace_the_session() {
    // Record the genuine AKE, then replay Mallory's side of it later.
    let mut alice = Alice::new(Policy::Manual, None);
    let mut mallory = Mallory::new(alice.tag);
    let mut recorded = Vec::new();
    let mut to_alice = vec![mallory.commit()];
    while let Some(text) = to_alice.pop() {
        recorded.push(text.clone());
        let out = alice.receive(&text);
        for reply in transmits(&out) {
            if let Some(answer) = mallory.ake(&reply) {
                to_alice.push(answer);
            }
        }
    }
    assert_round_trip(&mut alice, &mut mallory, "first");
    let [commit, reveal] = &recorded[..] else { panic!("{recorded:?}") };
    // The commit is answered (a new exchange may always start)...
    let out = attack(&mut alice, commit, &[]);
    assert!(matches!(decode_text(&transmits(&out)[0]).body, Body::DhKey { .. }));
    // ...but the old Reveal Signature does not fit Alice's new D-H key.
    attack(&mut alice, reveal, &[Notice::AkeIgnored(AkeError::BadMac)]);
    assert_round_trip(&mut alice, &mut mallory, "after the replayed AKE");
}

// --- fragments ---

#[test]
fn fragment_floods_do_not_stop_a_genuine_fragmented_message() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let to_alice = alice.tag;
    let piece = |sender: u32, k: u32, n: u32, text: &str| format!("?OTR|{sender:08x}|{to_alice:08x},{k},{n},{text},");
    let long = "x".repeat(3000);
    let genuine_text = mallory.data_text(&long);
    let genuine = fragment::fragment(&genuine_text, 200, Version::V3, mallory.tag, alice.tag).unwrap();
    assert!(genuine.len() > 10);
    let too_many_senders = Notice::Dropped(MessageError::Fragment(FragmentError::TooManySenders { limit: 16 }).to_string());
    let flood = |alice: &mut Alice, round: u32| {
        // Thousands of first pieces from one sender: each starts anew,
        // silently (or, once unknown senders fill the table, each is refused).
        let expected = if round == 0 { vec![] } else { vec![too_many_senders.clone()] };
        for index in 0..2000 {
            let out = alice.receive(&piece(0x5000 + round, 1, 2, &format!("AAAA{index}")));
            assert_eq!(notices(&out), expected, "{out:?}");
            assert!(transmits(&out).is_empty() && displays(&out).is_empty());
        }
        // Many senders, pieces that never finish.
        let mut refused = 0;
        for sender in 0..100 {
            let out = alice.receive(&piece(0x10000 + sender + round * 1000, 1, 3, "BBBB"));
            match &notices(&out)[..] {
                [] => {}
                [notice] if *notice == too_many_senders => refused += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(refused > 0, "the sender table is capped");
        // n = 65535, k > n, k = 0, n = 0.
        let out = alice.receive(&piece(0x6000, 1, 65535, "CCCC"));
        assert_eq!(notices(&out), [Notice::Dropped(MessageError::Fragment(FragmentError::TooManyPieces { n: 65535, limit: 4096 }).to_string())]);
        for (k, n) in [(3u16, 2u16), (0, 2), (1, 0), (65535, 1)] {
            let text = piece(0x6001, u32::from(k), u32::from(n), "DDDD");
            assert_eq!(notices(&alice.receive(&text)), [Notice::Dropped(MessageError::Fragment(FragmentError::BadNumbering { k, n }).to_string())]);
        }
        // Out of order and duplicated pieces.
        let out = alice.receive(&piece(0x6002, 2, 2, "EEEE"));
        assert_eq!(notices(&out), [Notice::Dropped(MessageError::Fragment(FragmentError::OutOfOrder { k: 2, n: 2 }).to_string())]);
        // Not for Alice.
        let out = alice.receive(&format!("?OTR|{:08x}|{:08x},1,2,FFFF,", 0x6003, to_alice ^ 1));
        assert_eq!(notices(&out), [Notice::Dropped("a fragment for another of your clients".into())]);
    };
    // The flood before the message, and between each of its pieces.
    flood(&mut alice, 0);
    let before = alice.conversation.key_ids().unwrap();
    let mut shown = Vec::new();
    for (index, text) in genuine.iter().enumerate() {
        if index % 4 == 1 {
            flood(&mut alice, index as u32);
        }
        let out = alice.receive(text);
        assert!(notices(&out).is_empty(), "piece {index}: {out:?}");
        shown.extend(displays(&out));
        for reply in transmits(&out) {
            assert!(mallory.read(&reply));
        }
    }
    assert_eq!(shown, [(long, true)]);
    assert_eq!(alice.conversation.key_ids(), Some(advanced(before, &text_bytes(&genuine_text))));
    assert_round_trip(&mut alice, &mut mallory, "after the fragment flood");
}

#[test]
fn oversized_reassemblies_are_dropped_and_a_genuine_message_still_arrives() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let to_alice = alice.tag;
    let piece = |sender: u32, k: u32, n: u32, text: &str| format!("?OTR|{sender:08x}|{to_alice:08x},{k},{n},{text},");
    // 4096 pieces of 300 bytes: more than the reassembler's megabyte.
    let chunk = "A".repeat(300);
    let too_large = Notice::Dropped(MessageError::Fragment(FragmentError::TooLarge { limit: 1 << 20 }).to_string());
    let mut crossed = None;
    for k in 1..=4096u32 {
        let out = alice.receive(&piece(0x9000, k, 4096, &chunk));
        if !out.is_empty() {
            assert_eq!(notices(&out), std::slice::from_ref(&too_large), "piece {k}");
            crossed = Some(k);
            break;
        }
    }
    let crossed = crossed.expect("the cap was reached");
    assert_eq!(crossed as usize, (1 << 20) / 300 + 1);
    // The rest of that message no longer continues anything.
    let out = alice.receive(&piece(0x9000, crossed + 1, 4096, &chunk));
    assert_eq!(notices(&out), [Notice::Dropped(MessageError::Fragment(FragmentError::OutOfOrder { k: crossed as u16 + 1, n: 4096 }).to_string())]);
    // Four senders holding exactly the cap between them, never finishing.
    let chunk = "B".repeat(256);
    for sender in 0..4u32 {
        for k in 1..=1024u32 {
            let out = alice.receive(&piece(0xa000 + sender, k, 4096, &chunk));
            assert!(out.is_empty(), "{out:?}");
        }
    }
    let out = alice.receive(&piece(0xa100, 1, 2, "C"));
    assert_eq!(notices(&out), std::slice::from_ref(&too_large), "the reassembler is full");
    // A genuine fragmented message still arrives.
    let text = "y".repeat(2000);
    let genuine = fragment::fragment(&mallory.data_text(&text), 150, Version::V3, mallory.tag, alice.tag).unwrap();
    let mut shown = Vec::new();
    for fragment in &genuine {
        let out = alice.receive(fragment);
        assert!(notices(&out).is_empty(), "{out:?}");
        shown.extend(displays(&out));
        for reply in transmits(&out) {
            assert!(mallory.read(&reply));
        }
    }
    assert_eq!(shown, [(text, true)]);
    assert_round_trip(&mut alice, &mut mallory, "after oversized reassemblies");
}

// --- OTR Error messages ---

/// Two real conversations.
struct Side {
    conversation: Conversation,
    key: &'static PrivateKey,
    rng: SeededRng,
}

impl Side {
    fn new(name: &str, key: &'static PrivateKey, policy: Policy) -> Self {
        let mut rng = SeededRng::new(name.as_bytes());
        let tag = InstanceTag::random(&mut rng);
        Self { conversation: Conversation::new(settings(name, policy, None), tag), key, rng }
    }

    fn receive(&mut self, text: &str, now: Instant) -> Vec<Output> {
        let mut env = Env { rng: &mut self.rng, key: self.key, now };
        self.conversation.receive(&mut env, text)
    }

    fn send(&mut self, text: &str, now: Instant) -> Vec<Output> {
        let mut env = Env { rng: &mut self.rng, key: self.key, now };
        self.conversation.send(&mut env, 1, text)
    }
}

/// Delivers transmissions both ways until quiet (at most `rounds`);
/// returns every output each side produced.
fn exchange(a: &mut Side, b: &mut Side, from_a: Vec<Output>, now: Instant, rounds: usize) -> (Vec<Output>, Vec<Output>, Vec<String>) {
    let (mut all_a, mut all_b, mut wire) = (Vec::new(), Vec::new(), Vec::new());
    let mut pending_a = from_a;
    let mut pending_b: Vec<Output> = Vec::new();
    for _ in 0..rounds {
        if pending_a.is_empty() && pending_b.is_empty() {
            return (all_a, all_b, wire);
        }
        for text in transmits(&pending_a) {
            wire.push(text.clone());
            pending_b.extend(b.receive(&text, now));
        }
        all_a.append(&mut pending_a);
        for text in transmits(&pending_b) {
            wire.push(text.clone());
            pending_a.extend(a.receive(&text, now));
        }
        all_b.append(&mut pending_b);
    }
    panic!("the two sides never went quiet: {wire:?}");
}

fn side_pair(policy: Policy) -> (Side, Side) {
    let (alice_key, bob_key) = keys();
    let mut alice = Side::new("alice", alice_key, policy);
    let mut bob = Side::new("bob", bob_key, policy);
    let start = alice.conversation.start();
    exchange(&mut alice, &mut bob, start, epoch(), 20);
    assert_eq!((alice.conversation.state(), bob.conversation.state()), (State::Private, State::Private));
    (alice, bob)
}

fn sides_round_trip(alice: &mut Side, bob: &mut Side, now: Instant, label: &str) {
    for (from_alice, text) in [(true, format!("alice: {label}")), (false, format!("bob: {label}"))] {
        let (sender, receiver) = if from_alice { (&mut *alice, &mut *bob) } else { (&mut *bob, &mut *alice) };
        let out = sender.send(&text, now);
        assert!(matches!(&out[..], [Output::Transmit { encrypted: true, .. }]), "{label}: {out:?}");
        let (_, received, _) = exchange(sender, receiver, out, now, 20);
        assert_eq!(displays(&received), [(text.clone(), true)], "{label}");
        assert!(notices(&received).is_empty(), "{label}: {received:?}");
    }
}

#[test]
fn peer_errors_are_shown_and_never_answered_with_an_error() {
    for policy in [Policy::Manual, Policy::Opportunistic, Policy::Require] {
        let (mut alice, mut bob) = side_pair(policy);
        let now = epoch();
        let before = alice.conversation.key_ids();
        let out = alice.receive("?OTR Error: <b>you are being</b> attacked", now);
        assert_eq!(notices(&out), [Notice::PeerError("<b>you are being</b> attacked".into())], "{policy:?}");
        assert!(displays(&out).is_empty());
        let replies = transmits(&out);
        assert!(replies.iter().all(|text| !is_error(text)), "{policy:?}: {replies:?}");
        // Manual answers nothing; the others ask for a new AKE (ERROR_START_AKE).
        assert!(replies.iter().all(|text| text.starts_with("?OTRv")), "{policy:?}: {replies:?}");
        assert_eq!(replies.is_empty(), policy == Policy::Manual, "{policy:?}");
        if policy == Policy::Manual {
            assert_eq!(alice.conversation.key_ids(), before);
        }
        // Whatever follows settles.
        let (a_out, b_out, wire) = exchange(&mut alice, &mut bob, out, now, 20);
        assert!(!wire.iter().any(|text| is_error(text)), "{policy:?}: {wire:?}");
        assert!(notices(&a_out).iter().all(|notice| matches!(notice, Notice::PeerError(_))), "{policy:?}: {a_out:?}");
        assert!(notices(&b_out).is_empty(), "{policy:?}: {b_out:?}");
        sides_round_trip(&mut alice, &mut bob, now, &format!("{policy:?} after a peer error"));
    }
}

#[test]
fn two_confused_conversations_do_not_bounce_errors_forever() {
    for policy in [Policy::Manual, Policy::Opportunistic, Policy::Require] {
        let (mut alice, mut bob) = side_pair(policy);
        let mut now = epoch();
        // Bob forgets the conversation without telling Alice.
        {
            let mut env = Env { rng: &mut bob.rng, key: bob.key, now };
            let _lost = bob.conversation.end(&mut env);
        }
        assert_eq!(bob.conversation.state(), State::Plaintext);
        for round in 0..3 {
            let out = alice.send(&format!("are you there? {round}"), now);
            let (a_out, b_out, wire) = exchange(&mut alice, &mut bob, out, now, 30);
            let errors: Vec<&String> = wire.iter().filter(|text| is_error(text)).collect();
            assert!(errors.len() <= 1, "{policy:?}: {wire:?}");
            if round == 0 {
                assert!(notices(&b_out).contains(&no_session()), "{policy:?}: {b_out:?}");
                assert_eq!(errors.len(), 1, "{policy:?}");
                assert!(notices(&a_out).iter().any(|notice| matches!(notice, Notice::PeerError(_))), "{policy:?}");
            }
            now += ERROR_REPLY_INTERVAL;
        }
        // Both sides' error outputs fed straight to each other stop too.
        let from_bob = bob.receive(&message::error_message("one"), now);
        assert!(transmits(&from_bob).iter().all(|text| !is_error(text)));
        let (_, _, wire) = exchange(&mut bob, &mut alice, from_bob, now, 30);
        assert!(!wire.iter().any(|text| is_error(text)), "{policy:?}: {wire:?}");
        // Start over; a genuine message each way arrives.
        if bob.conversation.state() != State::Private || alice.conversation.state() != State::Private {
            let mut env = Env { rng: &mut alice.rng, key: alice.key, now };
            let _ = alice.conversation.end(&mut env);
            let start = alice.conversation.start();
            exchange(&mut alice, &mut bob, start, now, 20);
        }
        sides_round_trip(&mut alice, &mut bob, now, &format!("{policy:?} after confusion"));
    }
}

#[test]
fn unreadable_messages_get_one_error_per_interval_and_none_when_flagged() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let start = epoch();
    let bad = |mallory: &mut Mallory, flags: u8| {
        let mut bytes = mallory.data_with(b"garbled", &[], flags, |_| {});
        let at = bytes.len() - 30;
        bytes[at] ^= 1; // in the MAC
        message::to_text(&bytes)
    };
    let mut errors_at = Vec::new();
    for second in 0..35u64 {
        let now = start + Duration::from_secs(second);
        for _ in 0..3 {
            let text = bad(&mut mallory, 0);
            let before = alice.conversation.key_ids();
            let out = alice.receive_at(&text, now);
            assert_eq!(notices(&out), [unreadable(DataError::BadMac)]);
            assert_eq!(alice.conversation.key_ids(), before);
            for reply in transmits(&out) {
                assert!(is_error(&reply), "{reply}");
                errors_at.push(second);
            }
        }
    }
    assert_eq!(errors_at, [0, 10, 20, 30], "ERROR_REPLY_INTERVAL is {ERROR_REPLY_INTERVAL:?}");
    // Flagged IGNORE_UNREADABLE: not a word, even when an error would be due.
    for second in 40..60u64 {
        let text = bad(&mut mallory, IGNORE_UNREADABLE);
        let out = alice.receive_at(&text, start + Duration::from_secs(second));
        assert!(out.is_empty(), "{out:?}");
    }
    // A flagged message with no session at all: silent too.
    let mut stranger = mallory.data("stranger");
    stranger[3..7].copy_from_slice(&0x0bad_cafe_u32.to_be_bytes());
    stranger[11] = IGNORE_UNREADABLE;
    assert!(alice.receive(&message::to_text(&stranger)).is_empty());
    assert_round_trip(&mut alice, &mut mallory, "after unreadable messages");
}

// --- SMP abuse ---

fn smp_events(outputs: &[Output]) -> Vec<SmpEvent> {
    outputs.iter().filter_map(|output| if let Output::Smp { event, .. } = output { Some(event.clone()) } else { None }).collect()
}

/// The SMP TLVs in Alice's data messages, read by Mallory.
fn tlvs_read(mallory: &mut Mallory, outputs: &[Output]) -> Vec<Tlv> {
    let mut out = Vec::new();
    for text in transmits(outputs) {
        assert!(mallory.read(&text), "{text}");
        let plaintext = mallory.read.last().unwrap();
        out.extend(tlv::decode_payload(plaintext).unwrap().tlvs);
    }
    out
}

#[test]
fn smp_messages_out_of_order_or_garbled_abort_the_exchange_only() {
    let (mut alice, mut mallory) = private_with_mallory(Policy::Manual);
    let abort = Tlv::new(tlv::SMP_ABORT, vec![]);
    let count = |numbers: u32| numbers.to_be_bytes().to_vec();
    let cases: Vec<(Tlv, SmpEvent)> = vec![
        (Tlv::new(tlv::SMP_2, vec![1, 2, 3]), SmpEvent::Cheated(SmpError::Unexpected { received: SmpMessage::Smp2, expecting: SmpMessage::Smp1 })),
        (Tlv::new(tlv::SMP_3, vec![]), SmpEvent::Cheated(SmpError::Unexpected { received: SmpMessage::Smp3, expecting: SmpMessage::Smp1 })),
        (Tlv::new(tlv::SMP_4, vec![0; 400]), SmpEvent::Cheated(SmpError::Unexpected { received: SmpMessage::Smp4, expecting: SmpMessage::Smp1 })),
        (Tlv::new(tlv::SMP_1, count(2)), SmpEvent::Cheated(SmpError::WrongCount { expected: 6, found: 2 })),
        (Tlv::new(tlv::SMP_1, count(u32::MAX)), SmpEvent::Cheated(SmpError::WrongCount { expected: 6, found: u32::MAX })),
        (Tlv::new(tlv::SMP_1_QUESTION, b"no nul here".to_vec()), SmpEvent::Cheated(SmpError::UnterminatedQuestion)),
    ];
    let mut now = epoch();
    for (record, event) in cases {
        let bytes = mallory.data_with(b"", std::slice::from_ref(&record), IGNORE_UNREADABLE, |_| {});
        let before = alice.conversation.key_ids().unwrap();
        let out = alice.receive_at(&message::to_text(&bytes), now);
        assert_eq!(smp_events(&out), [event], "{record:?}");
        assert!(notices(&out).is_empty() && displays(&out).is_empty(), "{out:?}");
        assert_eq!(tlvs_read(&mut mallory, &out), std::slice::from_ref(&abort), "an SMP abort goes back");
        assert_eq!(alice.conversation.key_ids(), Some(advanced(before, &bytes)), "the data message itself was genuine");
        assert_eq!(alice.conversation.state(), State::Private);
        now += Duration::from_secs(61);
    }
    // Garbled SMP1s with the right count: malformed numbers.
    let truncated = [count(6), vec![0, 0, 0, 9, 1]].concat();
    let bytes = mallory.data_with(b"", &[Tlv::new(tlv::SMP_1, truncated)], IGNORE_UNREADABLE, |_| {});
    let out = alice.receive_at(&message::to_text(&bytes), now);
    assert!(matches!(&smp_events(&out)[..], [SmpEvent::Cheated(SmpError::Malformed(_))]), "{out:?}");
    let zeros = [count(6), [0u8, 0, 0, 0].repeat(6)].concat();
    let bytes = mallory.data_with(b"", &[Tlv::new(tlv::SMP_1, zeros)], IGNORE_UNREADABLE, |_| {});
    let out = alice.receive_at(&message::to_text(&bytes), now);
    assert!(matches!(&smp_events(&out)[..], [SmpEvent::Cheated(SmpError::BadElement(_) | SmpError::BadExponent(_))]), "{out:?}");
    // Text and an unknown TLV type alongside: the text is shown, the TLV ignored.
    let bytes = mallory.data_with(b"hello", &[Tlv::new(0x7777, vec![1, 2, 3]), Tlv::new(tlv::PADDING, vec![0; 50])], 0, |_| {});
    let out = alice.receive_at(&message::to_text(&bytes), now);
    assert_eq!(displays(&out), [("hello".to_owned(), true)]);
    assert!(smp_events(&out).is_empty() && notices(&out).is_empty());
    tlvs_read(&mut mallory, &out);
    // A genuine SMP1 after all that is asked normally; an SMP abort ends it.
    let (ours, theirs, ssid) = (keys().1.public_key().fingerprint(), keys().0.public_key().fingerprint(), alice.conversation.report().ssid.unwrap());
    let record = mallory.smp.initiate(&mut mallory.rng, smp::smp_secret(&ours, &theirs, &ssid, b"secret"), Some(b"why?"));
    let bytes = mallory.data_with(b"", &[record], IGNORE_UNREADABLE, |_| {});
    let out = alice.receive_at(&message::to_text(&bytes), now);
    assert_eq!(smp_events(&out), [SmpEvent::Asked { question: Some(b"why?".to_vec()) }]);
    tlvs_read(&mut mallory, &out);
    // An SMP3 while Alice waits for her user's answer.
    let bytes = mallory.data_with(b"", &[Tlv::new(tlv::SMP_3, vec![0; 8])], IGNORE_UNREADABLE, |_| {});
    let out = alice.receive_at(&message::to_text(&bytes), now);
    assert_eq!(smp_events(&out), [SmpEvent::Cheated(SmpError::Unexpected { received: SmpMessage::Smp3, expecting: SmpMessage::Smp1 })]);
    assert_eq!(tlvs_read(&mut mallory, &out), std::slice::from_ref(&abort));
    // So there is nothing left to answer.
    {
        let mut env = Env { rng: &mut alice.rng, key: &keys().0, now };
        assert!(alice.conversation.smp_answer(&mut env, b"secret").is_none());
    }
    assert_round_trip(&mut alice, &mut mallory, "after SMP abuse");
}

#[test]
fn repeated_smp_starts_are_rate_limited_through_real_messages() {
    let (mut alice, mut bob) = side_pair(Policy::Manual);
    let now = epoch();
    let mut events = Vec::new();
    for _ in 0..RESTART_LIMIT + 3 {
        let out = {
            let mut env = Env { rng: &mut bob.rng, key: bob.key, now };
            bob.conversation.smp_start(&mut env, b"again", None).unwrap()
        };
        let (bob_out, alice_out, _) = exchange(&mut bob, &mut alice, out, now, 20);
        events.push(smp_events(&alice_out));
        // When Alice refuses, Bob hears the abort.
        if smp_events(&alice_out) == [SmpEvent::RateLimited] {
            assert_eq!(smp_events(&bob_out), [SmpEvent::Aborted]);
        }
    }
    // Bob restarts an exchange still under way by aborting it first (the
    // spec's "User requests to begin SMP"), so Alice sees each abort; once
    // she refuses, her abort ends Bob's exchange and his next start is bare.
    let asked = SmpEvent::Asked { question: None };
    let mut expected = vec![vec![asked.clone()]];
    expected.extend(std::iter::repeat_n(vec![SmpEvent::Aborted, asked], RESTART_LIMIT - 1));
    expected.push(vec![SmpEvent::Aborted, SmpEvent::RateLimited]);
    expected.extend(std::iter::repeat_n(vec![SmpEvent::RateLimited], 2));
    assert_eq!(events, expected);
    // After the window, SMP works again, end to end.
    let later = now + smp::RESTART_WINDOW;
    let out = {
        let mut env = Env { rng: &mut bob.rng, key: bob.key, now: later };
        bob.conversation.smp_start(&mut env, b"swordfish", None).unwrap()
    };
    let (_, alice_out, _) = exchange(&mut bob, &mut alice, out, later, 20);
    assert_eq!(smp_events(&alice_out), [SmpEvent::Asked { question: None }]);
    let out = {
        let mut env = Env { rng: &mut alice.rng, key: alice.key, now: later };
        alice.conversation.smp_answer(&mut env, b"swordfish").unwrap()
    };
    let (alice_out, bob_out, _) = exchange(&mut alice, &mut bob, out, later, 20);
    assert_eq!(smp_events(&alice_out), [SmpEvent::Success]);
    assert_eq!(smp_events(&bob_out), [SmpEvent::Success]);
    sides_round_trip(&mut alice, &mut bob, later, "after SMP floods");
}
