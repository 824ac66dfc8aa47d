//! "Key Management", "Computing AES keys, MAC keys…", "Revealing MAC keys"
//! and the cryptography of the "Data Message": which DH keys protect a
//! message, the session keys derived from them, counters, rotation.
//!
//! Index convention (libotr's `sesskeys[2][2]`): the first index is ours,
//! the second theirs; 0 is the most recent key, 1 the previous one.

use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::group::{Element, Exponent};
use crate::rng::Rng;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// The MAC of a data message: HMAC-SHA1, 20 bytes.
pub const MAC_BYTES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DataError {
    #[error("the message was encrypted with a key this session does not have (keys {sender} and {recipient})")]
    UnknownKeys { sender: u32, recipient: u32 },
    #[error("the message failed its integrity check (MAC); it was altered or is not for this session")]
    BadMac,
    #[error("the message's counter is not newer than the last one: a replayed or reordered message")]
    StaleCounter,
    #[error("the message's counter is all zeroes, which OTR forbids")]
    ZeroCounter,
    #[error("the message carries an invalid next public key")]
    BadNextKey,
}

/// One of our Diffie-Hellman key pairs.
#[derive(Clone)]
pub struct DhKeyPair {
    pub secret: Exponent,
    pub public: Element,
}

impl DhKeyPair {
    pub fn generate(rng: &mut dyn Rng) -> Self {
        let secret = Exponent::random_dh(rng);
        let public = Element::g_pow(&secret);
        Self { secret, public }
    }
}

/// SHA-256(b || secbytes), the spec's h2.
pub fn h2(byte: u8, secbytes: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut hasher = Sha256::new();
    hasher.update([byte]);
    hasher.update(secbytes);
    Zeroizing::new(hasher.finalize().into())
}

fn h1(byte: u8, secbytes: &[u8]) -> Zeroizing<[u8; 20]> {
    let mut hasher = Sha1::new();
    hasher.update([byte]);
    hasher.update(secbytes);
    Zeroizing::new(hasher.finalize().into())
}

/// The minimum-length MPI of the shared secret s, "secbytes".
pub fn secbytes(shared: &Element) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(shared.to_mpi())
}

/// HMAC-SHA1 of a data message's authenticated part.
pub fn mac(key: &[u8; MAC_BYTES], input: &[u8]) -> [u8; MAC_BYTES] {
    let mut hmac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    hmac.update(input);
    hmac.finalize().into_bytes().into()
}

/// AES-128 in counter mode, the initial counter block being the 8-byte top
/// half followed by 8 zero bytes (the halves swapped was ocaml-otr's bug).
pub fn aes_ctr(key: &[u8; 16], top_half: &[u8; 8], data: &mut [u8]) {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(top_half);
    let mut cipher = Aes128Ctr::new(key.into(), &block.into());
    cipher.apply_keystream(data);
}

/// The keys one pairing of DH keys gives, and its counters.
struct SessionKeys {
    sending_aes: [u8; 16],
    sending_mac: [u8; MAC_BYTES],
    receiving_aes: [u8; 16],
    receiving_mac: [u8; MAC_BYTES],
    extra_symmetric_key: [u8; 32],
    /// The top half of the last counter we sent with these keys.
    sent_counter: [u8; 8],
    /// The top half of the last counter we accepted with these keys.
    received_counter: [u8; 8],
    /// Only MAC keys that verified a message are revealed.
    receiving_mac_used: bool,
}

impl Drop for SessionKeys {
    fn drop(&mut self) {
        self.sending_aes.zeroize();
        self.sending_mac.zeroize();
        self.receiving_aes.zeroize();
        self.receiving_mac.zeroize();
        self.extra_symmetric_key.zeroize();
    }
}

impl SessionKeys {
    fn derive(ours: &DhKeyPair, theirs: &Element) -> Self {
        let shared = theirs.pow_secret(&ours.secret);
        let secbytes = secbytes(&shared);
        // "high" end: our public key numerically greater than theirs. The
        // public values are public; comparing them needs no constant time.
        let (send_byte, receive_byte) = if greater(&ours.public, theirs) { (0x01, 0x02) } else { (0x02, 0x01) };
        let sending = h1(send_byte, &secbytes);
        let receiving = h1(receive_byte, &secbytes);
        let mut sending_aes = [0u8; 16];
        sending_aes.copy_from_slice(&sending[..16]);
        let mut receiving_aes = [0u8; 16];
        receiving_aes.copy_from_slice(&receiving[..16]);
        Self {
            sending_mac: Sha1::digest(sending_aes).into(),
            receiving_mac: Sha1::digest(receiving_aes).into(),
            sending_aes,
            receiving_aes,
            extra_symmetric_key: *h2(0xff, &secbytes),
            sent_counter: [0; 8],
            received_counter: [0; 8],
            receiving_mac_used: false,
        }
    }
}

fn greater(left: &Element, right: &Element) -> bool {
    let (left, right) = (left.to_bytes(), right.to_bytes());
    (left.len(), &left[..]) > (right.len(), &right[..])
}

fn increment(counter: &mut [u8; 8]) {
    for byte in counter.iter_mut().rev() {
        *byte = byte.wrapping_add(1);
        if *byte != 0 {
            break;
        }
    }
}

/// A data message's fields before the message layer frames it: the session
/// encodes them, computes the MAC over the authenticated part with
/// `mac_key`, and appends the old MAC keys.
pub struct Outgoing {
    pub sender_keyid: u32,
    pub recipient_keyid: u32,
    pub next_dh: Element,
    pub counter: [u8; 8],
    pub encrypted: Vec<u8>,
    pub mac_key: Zeroizing<[u8; MAC_BYTES]>,
    pub old_mac_keys: Vec<u8>,
    pub extra_symmetric_key: Zeroizing<[u8; 32]>,
}

/// What a received data message needs checked and opened.
pub struct Incoming<'a> {
    pub sender_keyid: u32,
    pub recipient_keyid: u32,
    pub next_dh: &'a [u8],
    pub counter: [u8; 8],
    pub encrypted: &'a [u8],
    pub mac: [u8; MAC_BYTES],
    /// The bytes the MAC covers (protocol version .. encrypted message).
    pub authenticated: &'a [u8],
}

/// A decrypted message and the extra symmetric key of its keys.
pub struct Opened {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub extra_symmetric_key: Zeroizing<[u8; 32]>,
}

/// The keys of one private conversation.
pub struct Keys {
    our_keyid: u32,
    our_current: DhKeyPair,
    /// Ours with id our_keyid - 1.
    our_previous: DhKeyPair,
    their_keyid: u32,
    their_current: Element,
    their_previous: Option<Element>,
    /// [ours][theirs], derived on first use.
    sessions: [[Option<SessionKeys>; 2]; 2],
    /// Receiving MAC keys of forgotten keys, revealed in the next message.
    old_mac_keys: Zeroizing<Vec<u8>>,
}

impl Keys {
    /// The state right after the AKE: our AKE key becomes the previous key
    /// and a fresh one the most recent (our_keyid = AKE keyid + 1), as
    /// libotr does; theirs is the key they used in the AKE.
    pub fn after_ake(rng: &mut dyn Rng, our_ake_key: DhKeyPair, our_ake_keyid: u32, their_keyid: u32, their_key: Element) -> Self {
        Self {
            our_keyid: our_ake_keyid.wrapping_add(1),
            our_current: DhKeyPair::generate(rng),
            our_previous: our_ake_key,
            their_keyid,
            their_current: their_key,
            their_previous: None,
            sessions: Default::default(),
            old_mac_keys: Zeroizing::new(Vec::new()),
        }
    }

    /// Our most recent key id; tests watch it to see keys rotate.
    pub fn our_keyid(&self) -> u32 {
        self.our_keyid
    }

    pub fn their_keyid(&self) -> u32 {
        self.their_keyid
    }

    /// The AKE ran again with the same peer while this conversation was
    /// private: keep our keys if theirs are unchanged (spec: "Upon
    /// completing the AKE").
    pub fn their_ake_key_matches(&self, keyid: u32, key: &Element) -> bool {
        (keyid == self.their_keyid && *key == self.their_current)
            || (keyid == self.their_keyid.wrapping_sub(1) && self.their_previous.as_ref() == Some(key))
    }

    fn session(&mut self, ours: usize, theirs: usize) -> &mut SessionKeys {
        let their_key = if theirs == 0 { &self.their_current } else { self.their_previous.as_ref().unwrap_or(&self.their_current) };
        let our_key = if ours == 0 { &self.our_current } else { &self.our_previous };
        self.sessions[ours][theirs].get_or_insert_with(|| SessionKeys::derive(our_key, their_key))
    }

    /// Encrypts `plaintext` for sending: sender keyid our_keyid-1, recipient
    /// keyid their_keyid, next key our most recent (spec: "When you send a Data
    /// Message").
    pub fn seal(&mut self, plaintext: &[u8]) -> Outgoing {
        self.seal_owned(Zeroizing::new(plaintext.to_vec()))
    }

    /// [`Keys::seal`], encrypting the buffer in place: once encrypted it is
    /// no longer secret and becomes the message, not copied.
    pub(crate) fn seal_owned(&mut self, mut plaintext: Zeroizing<Vec<u8>>) -> Outgoing {
        let sender_keyid = self.our_keyid.wrapping_sub(1);
        let recipient_keyid = self.their_keyid;
        let next_dh = self.our_current.public.clone();
        let session = self.session(1, 0);
        increment(&mut session.sent_counter);
        let counter = session.sent_counter;
        aes_ctr(&session.sending_aes, &counter, &mut plaintext);
        let encrypted = std::mem::take(&mut *plaintext);
        let mac_key = Zeroizing::new(session.sending_mac);
        let extra_symmetric_key = Zeroizing::new(session.extra_symmetric_key);
        let old_mac_keys = std::mem::take(&mut *self.old_mac_keys);
        Outgoing { sender_keyid, recipient_keyid, next_dh, counter, encrypted, mac_key, old_mac_keys, extra_symmetric_key }
    }

    /// Checks and decrypts a data message, then rotates keys as the spec's
    /// "When you receive a Data Message" says. Nothing changes unless the
    /// MAC verifies and the counter is new.
    pub fn open(&mut self, rng: &mut dyn Rng, message: &Incoming<'_>) -> Result<Opened, DataError> {
        let unknown = DataError::UnknownKeys { sender: message.sender_keyid, recipient: message.recipient_keyid };
        let ours = match message.recipient_keyid {
            id if id == self.our_keyid && id != 0 => 0,
            id if id == self.our_keyid.wrapping_sub(1) && id != 0 => 1,
            _ => return Err(unknown),
        };
        let theirs = match message.sender_keyid {
            id if id == self.their_keyid && id != 0 => 0,
            id if id == self.their_keyid.wrapping_sub(1) && id != 0 && self.their_previous.is_some() => 1,
            _ => return Err(unknown),
        };
        // Checked before it can become a key, so a bad value never lands.
        let next_dh = if theirs == 0 { Some(Element::from_peer(message.next_dh).map_err(|_| DataError::BadNextKey)?) } else { None };
        if message.counter == [0; 8] {
            return Err(DataError::ZeroCounter);
        }
        let session = self.session(ours, theirs);
        let expected = mac(&session.receiving_mac, message.authenticated);
        if !bool::from(expected.ct_eq(&message.mac)) {
            return Err(DataError::BadMac);
        }
        if message.counter <= session.received_counter {
            return Err(DataError::StaleCounter);
        }
        session.received_counter = message.counter;
        session.receiving_mac_used = true;
        let mut plaintext = Zeroizing::new(message.encrypted.to_vec());
        aes_ctr(&session.receiving_aes, &message.counter, &mut plaintext);
        let extra_symmetric_key = Zeroizing::new(session.extra_symmetric_key);
        if ours == 0 {
            self.rotate_ours(rng);
        }
        if let Some(next_dh) = next_dh {
            self.rotate_theirs(next_dh);
        }
        Ok(Opened { plaintext, extra_symmetric_key })
    }

    fn reveal(&mut self, session: Option<SessionKeys>) {
        if let Some(session) = session {
            if session.receiving_mac_used {
                self.old_mac_keys.extend_from_slice(&session.receiving_mac);
            }
        }
    }

    /// They have seen our most recent key: forget the previous one, make a
    /// new most recent one.
    fn rotate_ours(&mut self, rng: &mut dyn Rng) {
        for theirs in 0..2 {
            let forgotten = self.sessions[1][theirs].take();
            self.reveal(forgotten);
            self.sessions[1][theirs] = self.sessions[0][theirs].take();
        }
        self.our_previous = std::mem::replace(&mut self.our_current, DhKeyPair::generate(rng));
        self.our_keyid = self.our_keyid.wrapping_add(1);
    }

    /// They sent their next key with their most recent one: it becomes
    /// their most recent.
    fn rotate_theirs(&mut self, next: Element) {
        for ours in 0..2 {
            let forgotten = self.sessions[ours][1].take();
            self.reveal(forgotten);
            self.sessions[ours][1] = self.sessions[ours][0].take();
        }
        self.their_previous = Some(std::mem::replace(&mut self.their_current, next));
        self.their_keyid = self.their_keyid.wrapping_add(1);
    }

    /// The MAC keys still to reveal when the conversation ends (libotr
    /// sends none then; kept so the session can).
    pub fn pending_old_mac_keys(&self) -> usize {
        self.old_mac_keys.len() / MAC_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    /// Two sides after an AKE: Alice's AKE key id 1, Bob's 1.
    fn pair(rng: &mut SeededRng) -> (Keys, Keys) {
        let alice_ake = DhKeyPair::generate(rng);
        let bob_ake = DhKeyPair::generate(rng);
        let alice_public = alice_ake.public.clone();
        let bob_public = bob_ake.public.clone();
        (Keys::after_ake(rng, alice_ake, 1, 1, bob_public), Keys::after_ake(rng, bob_ake, 1, 1, alice_public))
    }

    /// What the message layer does: the authenticated part here is the
    /// fields themselves, enough to check the MAC binds them.
    fn frame(outgoing: &Outgoing) -> (Vec<u8>, [u8; MAC_BYTES]) {
        let mut authenticated = Vec::new();
        authenticated.extend_from_slice(&outgoing.sender_keyid.to_be_bytes());
        authenticated.extend_from_slice(&outgoing.recipient_keyid.to_be_bytes());
        authenticated.extend_from_slice(&outgoing.next_dh.to_mpi());
        authenticated.extend_from_slice(&outgoing.counter);
        authenticated.extend_from_slice(&outgoing.encrypted);
        let tag = mac(&outgoing.mac_key, &authenticated);
        (authenticated, tag)
    }

    fn deliver(rng: &mut SeededRng, from: &mut Keys, to: &mut Keys, text: &[u8]) -> Result<Opened, DataError> {
        let outgoing = from.seal(text);
        let (authenticated, tag) = frame(&outgoing);
        let next = outgoing.next_dh.to_bytes();
        to.open(
            rng,
            &Incoming {
                sender_keyid: outgoing.sender_keyid,
                recipient_keyid: outgoing.recipient_keyid,
                next_dh: &next,
                counter: outgoing.counter,
                encrypted: &outgoing.encrypted,
                mac: tag,
                authenticated: &authenticated,
            },
        )
    }

    #[test]
    fn messages_flow_both_ways_and_keys_rotate() {
        let mut rng = SeededRng::new(b"data");
        let (mut alice, mut bob) = pair(&mut rng);
        for round in 0..4u32 {
            let text = format!("to bob {round}");
            assert_eq!(&deliver(&mut rng, &mut alice, &mut bob, text.as_bytes()).unwrap().plaintext[..], text.as_bytes());
            let text = format!("to alice {round}");
            assert_eq!(&deliver(&mut rng, &mut bob, &mut alice, text.as_bytes()).unwrap().plaintext[..], text.as_bytes());
        }
        assert!(alice.our_keyid() > 3 && bob.our_keyid() > 3, "keys rotated: {} {}", alice.our_keyid(), bob.our_keyid());
        assert_eq!(alice.their_keyid(), bob.our_keyid(), "Alice knows Bob's newest key");
        // Keys that verified a message and were forgotten are revealed.
        let outgoing = alice.seal(b"x");
        assert!(!outgoing.old_mac_keys.is_empty() && outgoing.old_mac_keys.len() % MAC_BYTES == 0);
    }

    #[test]
    fn many_messages_one_way_keep_working() {
        let mut rng = SeededRng::new(b"one way");
        let (mut alice, mut bob) = pair(&mut rng);
        for index in 0..10u32 {
            let text = index.to_be_bytes();
            assert_eq!(&deliver(&mut rng, &mut alice, &mut bob, &text).unwrap().plaintext[..], &text);
        }
    }

    #[test]
    fn both_sides_derive_the_same_extra_symmetric_key() {
        let mut rng = SeededRng::new(b"extra");
        let (mut alice, mut bob) = pair(&mut rng);
        let outgoing = alice.seal(b"file");
        let sent_key = outgoing.extra_symmetric_key.clone();
        let (authenticated, tag) = frame(&outgoing);
        let next = outgoing.next_dh.to_bytes();
        let opened = bob
            .open(&mut rng, &Incoming { sender_keyid: 1, recipient_keyid: outgoing.recipient_keyid, next_dh: &next, counter: outgoing.counter, encrypted: &outgoing.encrypted, mac: tag, authenticated: &authenticated })
            .unwrap();
        assert_eq!(*opened.extra_symmetric_key, *sent_key);
    }

    #[test]
    fn replays_forgeries_and_unknown_keys_are_refused_without_changing_state() {
        let mut rng = SeededRng::new(b"hostile");
        let (mut alice, mut bob) = pair(&mut rng);
        let outgoing = alice.seal(b"once");
        let (authenticated, tag) = frame(&outgoing);
        let next = outgoing.next_dh.to_bytes();
        let incoming = |mac, counter, sender, recipient| Incoming {
            sender_keyid: sender,
            recipient_keyid: recipient,
            next_dh: &next,
            counter,
            encrypted: &outgoing.encrypted,
            mac,
            authenticated: &authenticated,
        };
        let (sender, recipient) = (outgoing.sender_keyid, outgoing.recipient_keyid);
        let mut forged = tag;
        forged[0] ^= 1;
        let before = (bob.our_keyid(), bob.their_keyid());
        assert_eq!(bob.open(&mut rng, &incoming(forged, outgoing.counter, sender, recipient)).err(), Some(DataError::BadMac));
        assert_eq!(bob.open(&mut rng, &incoming(tag, [0; 8], sender, recipient)).err(), Some(DataError::ZeroCounter));
        assert_eq!(bob.open(&mut rng, &incoming(tag, outgoing.counter, 7, recipient)).err(), Some(DataError::UnknownKeys { sender: 7, recipient }));
        assert_eq!(bob.open(&mut rng, &incoming(tag, outgoing.counter, sender, 0)).err(), Some(DataError::UnknownKeys { sender, recipient: 0 }));
        assert_eq!((bob.our_keyid(), bob.their_keyid()), before);
        assert!(bob.open(&mut rng, &incoming(tag, outgoing.counter, sender, recipient)).is_ok());
        // The same message again: its sender key is now "previous" and the
        // counter is not newer.
        assert_eq!(bob.open(&mut rng, &incoming(tag, outgoing.counter, sender, recipient)).err(), Some(DataError::StaleCounter));
    }

    #[test]
    fn an_invalid_next_key_is_refused() {
        let mut rng = SeededRng::new(b"next");
        let (mut alice, mut bob) = pair(&mut rng);
        let outgoing = alice.seal(b"x");
        let (authenticated, tag) = frame(&outgoing);
        for bad in [vec![], vec![1], vec![0xff; 192]] {
            let incoming = Incoming { sender_keyid: outgoing.sender_keyid, recipient_keyid: outgoing.recipient_keyid, next_dh: &bad, counter: outgoing.counter, encrypted: &outgoing.encrypted, mac: tag, authenticated: &authenticated };
            assert_eq!(bob.open(&mut rng, &incoming).err(), Some(DataError::BadNextKey));
        }
    }

    #[test]
    fn counter_block_is_top_half_then_zeroes() {
        // AES-128-CTR with key 0 and counter 0: the keystream's first block
        // is AES_0(0), a known value (FIPS-197 style check of the layout).
        let mut data = [0u8; 16];
        aes_ctr(&[0; 16], &[0; 8], &mut data);
        assert_eq!(data, [0x66, 0xe9, 0x4b, 0xd4, 0xef, 0x8a, 0x2c, 0x3b, 0x88, 0x4c, 0xfa, 0x59, 0xca, 0x34, 0x2b, 0x2e]);
        // The second block increments the low half.
        let mut two = [0u8; 32];
        aes_ctr(&[0; 16], &[0; 8], &mut two);
        let mut second = [0u8; 16];
        let mut block = [0u8; 16];
        block[15] = 1;
        {
            use aes::cipher::{BlockCipherEncrypt, KeyInit};
            let cipher = aes::Aes128::new(&[0u8; 16].into());
            let mut array = block.into();
            cipher.encrypt_block(&mut array);
            second.copy_from_slice(&array);
        }
        assert_eq!(two[16..], second);
    }
}
