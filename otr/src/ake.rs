//! "Authenticated Key Exchange (AKE)": the SIGMA exchange of D-H Commit,
//! D-H Key, Reveal Signature and Signature messages, and the authentication
//! state machine of "The protocol state machine" (AUTHSTATE_NONE,
//! AWAITING_DHKEY, AWAITING_REVEALSIG, AWAITING_SIG).
//!
//! Each state is a type carrying what that state knows, and `handle`
//! consumes the state and returns the next (as rustls does), so that, say,
//! a Signature message can only be checked in a state that holds the keys
//! to check it. The crypto process signs only here, inside an exchange it
//! runs itself: never on request.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::data::{aes_ctr, h2, secbytes, DhKeyPair};
use crate::dsa::{PrivateKey, PublicKey};
use crate::encoding::{Reader, Writer};
use crate::group::Element;
use crate::rng::Rng;

/// Every AKE uses a fresh DH key with id 1, as libotr does.
pub const AKE_KEYID: u32 = 1;
/// The AKE's MACs are HMAC-SHA256 truncated to 160 bits.
pub const AKE_MAC_BYTES: usize = 20;
/// The longest encrypted signature part taken: a PUBKEY with 3072-bit DSA
/// parameters, a keyid and a signature stay well below this.
const MAX_ENCRYPTED_SIGNATURE: usize = 4096;

/// The four AKE messages, as the message layer carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AkeMessage {
    DhCommit { encrypted_gx: Vec<u8>, hashed_gx: [u8; 32] },
    DhKey { gy: Vec<u8> },
    RevealSignature { revealed_key: Vec<u8>, encrypted_signature: Vec<u8>, mac: [u8; AKE_MAC_BYTES] },
    Signature { encrypted_signature: Vec<u8>, mac: [u8; AKE_MAC_BYTES] },
}

/// Why a message was not accepted. The spec says to ignore such messages;
/// the reason is kept for the user's and the tests' sake.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AkeError {
    #[error("the peer's Diffie-Hellman value is out of range")]
    BadDhValue,
    #[error("the revealed key does not open the committed value")]
    CommitmentMismatch,
    #[error("the signature part failed its integrity check (MAC)")]
    BadMac,
    #[error("the peer's signature part is malformed")]
    MalformedSignature,
    #[error("the peer's signature does not verify: it does not hold the key it claims")]
    BadSignature,
    #[error("the peer's key id is 0, which OTR forbids")]
    ZeroKeyid,
    #[error("a {0} message arrived when none was expected")]
    Unexpected(&'static str),
}

/// Keys derived from the AKE's shared secret ("Computing AES keys…").
struct AkeKeys {
    ssid: [u8; 8],
    c: [u8; 16],
    c_prime: [u8; 16],
    m1: [u8; 32],
    m2: [u8; 32],
    m1_prime: [u8; 32],
    m2_prime: [u8; 32],
}

impl Drop for AkeKeys {
    fn drop(&mut self) {
        self.c.zeroize();
        self.c_prime.zeroize();
        self.m1.zeroize();
        self.m2.zeroize();
        self.m1_prime.zeroize();
        self.m2_prime.zeroize();
    }
}

impl AkeKeys {
    fn derive(ours: &DhKeyPair, theirs: &Element) -> Self {
        let shared = theirs.pow_secret(&ours.secret);
        let secbytes = secbytes(&shared);
        let both_c = h2(0x01, &secbytes);
        let mut keys = Self {
            ssid: [0; 8],
            c: [0; 16],
            c_prime: [0; 16],
            m1: *h2(0x02, &secbytes),
            m2: *h2(0x03, &secbytes),
            m1_prime: *h2(0x04, &secbytes),
            m2_prime: *h2(0x05, &secbytes),
        };
        keys.ssid.copy_from_slice(&h2(0x00, &secbytes)[..8]);
        keys.c.copy_from_slice(&both_c[..16]);
        keys.c_prime.copy_from_slice(&both_c[16..]);
        keys
    }
}

fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut hmac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in parts {
        hmac.update(part);
    }
    hmac.finalize().into_bytes().into()
}

/// MAC_m2(AES_c(X)): over the DATA encoding, length included (libotr).
fn signature_mac(key: &[u8; 32], encrypted_signature: &[u8]) -> [u8; AKE_MAC_BYTES] {
    let length = u32::try_from(encrypted_signature.len()).unwrap_or(u32::MAX).to_be_bytes();
    let full = hmac_sha256(key, &[&length, encrypted_signature]);
    let mut truncated = [0u8; AKE_MAC_BYTES];
    truncated.copy_from_slice(&full[..AKE_MAC_BYTES]);
    truncated
}

/// Which direction's keys sign and encrypt: the Reveal Signature message
/// uses c, m1, m2; the Signature message c', m1', m2'.
#[derive(Clone, Copy)]
enum Side {
    RevealSignature,
    Signature,
}

impl Side {
    fn keys(self, keys: &AkeKeys) -> (&[u8; 16], &[u8; 32], &[u8; 32]) {
        match self {
            Side::RevealSignature => (&keys.c, &keys.m1, &keys.m2),
            Side::Signature => (&keys.c_prime, &keys.m1_prime, &keys.m2_prime),
        }
    }
}

/// Builds AES_c(X), MAC_m2(AES_c(X)) for our side: X = pub, keyid,
/// sig(MAC_m1(our g, their g, pub, keyid)).
fn sign_part(rng: &mut dyn Rng, key: &PrivateKey, side: Side, keys: &AkeKeys, ours: &Element, theirs: &Element) -> (Vec<u8>, [u8; AKE_MAC_BYTES]) {
    let (c, m1, m2) = side.keys(keys);
    let public = key.public_key().encode();
    let keyid = AKE_KEYID.to_be_bytes();
    let signed = hmac_sha256(m1, &[&ours.to_mpi(), &theirs.to_mpi(), &public, &keyid]);
    let signature = key.sign(rng, &signed);
    let mut plain = Writer::new();
    plain.raw(&public).raw(&keyid).raw(&signature);
    let mut encrypted = plain.into_bytes();
    aes_ctr(c, &[0; 8], &mut encrypted);
    let mac = signature_mac(m2, &encrypted);
    (encrypted, mac)
}

/// Checks their AES_c(X), MAC: returns their long-term key and keyid.
fn check_part(side: Side, keys: &AkeKeys, encrypted: &[u8], mac: &[u8; AKE_MAC_BYTES], ours: &Element, theirs: &Element) -> Result<(PublicKey, u32), AkeError> {
    let (c, m1, m2) = side.keys(keys);
    if encrypted.len() > MAX_ENCRYPTED_SIGNATURE {
        return Err(AkeError::MalformedSignature);
    }
    if !bool::from(signature_mac(m2, encrypted).ct_eq(mac)) {
        return Err(AkeError::BadMac);
    }
    let mut plain = Zeroizing::new(encrypted.to_vec());
    aes_ctr(c, &[0; 8], &mut plain);
    let mut reader = Reader::new(&plain);
    let start = reader.remaining();
    let public = PublicKey::decode(&mut reader).map_err(|_| AkeError::MalformedSignature)?;
    let public_length = start - reader.remaining();
    let keyid = reader.int("keyid").map_err(|_| AkeError::MalformedSignature)?;
    let signature = reader.fixed(40, "signature").map_err(|_| AkeError::MalformedSignature)?;
    reader.finish().map_err(|_| AkeError::MalformedSignature)?;
    if keyid == 0 {
        return Err(AkeError::ZeroKeyid);
    }
    // Their M is computed with their values first.
    let public_bytes = &plain[..public_length];
    let signed = hmac_sha256(m1, &[&theirs.to_mpi(), &ours.to_mpi(), public_bytes, &keyid.to_be_bytes()]);
    if !public.verify(&signed, signature) {
        return Err(AkeError::BadSignature);
    }
    Ok((public, keyid))
}

/// AKE complete: what the data-message layer starts from.
pub struct Established {
    pub our_dh: DhKeyPair,
    pub our_keyid: u32,
    pub their_dh: Element,
    pub their_keyid: u32,
    pub their_long_term: PublicKey,
    pub ssid: [u8; 8],
    /// Which half of the ssid is ours to read out: the first when we sent
    /// the Reveal Signature message, the second otherwise.
    pub we_revealed: bool,
}

/// We sent a D-H Commit and wait for their D-H Key. Cloned when several
/// instances of the peer answer one commit (libotr's otrl_auth_copy_on_key).
#[derive(Clone)]
pub struct AwaitingDhKey {
    r: Zeroizing<[u8; 16]>,
    ours: DhKeyPair,
    commit: AkeMessage,
    hashed_gx: [u8; 32],
}

/// We answered their D-H Commit with our D-H Key and wait for their Reveal
/// Signature.
pub struct AwaitingRevealSignature {
    ours: DhKeyPair,
    their_encrypted_gx: Vec<u8>,
    their_hashed_gx: [u8; 32],
}

/// We sent a Reveal Signature and wait for their Signature.
pub struct AwaitingSignature {
    ours: DhKeyPair,
    theirs: Element,
    keys: AkeKeys,
    reveal: AkeMessage,
}

/// The authentication state.
#[derive(Default)]
pub enum AuthState {
    #[default]
    None,
    AwaitingDhKey(AwaitingDhKey),
    AwaitingRevealSignature(AwaitingRevealSignature),
    AwaitingSignature(Box<AwaitingSignature>),
}

/// What one step of the AKE produced.
#[derive(Default)]
pub struct Step {
    pub reply: Option<AkeMessage>,
    pub established: Option<Established>,
    /// A message that was ignored, and why.
    pub ignored: Option<AkeError>,
}

impl Step {
    fn reply(message: AkeMessage) -> Self {
        Self { reply: Some(message), ..Self::default() }
    }

    fn ignored(why: AkeError) -> Self {
        Self { ignored: Some(why), ..Self::default() }
    }
}

impl AuthState {
    /// "User requests to start an OTR conversation" (or a query / tag
    /// arrived): send a D-H Commit with a fresh r and x.
    pub fn start(rng: &mut dyn Rng) -> (Self, AkeMessage) {
        let mut r = Zeroizing::new([0u8; 16]);
        rng.fill(&mut *r);
        let ours = DhKeyPair::generate(rng);
        let mut encrypted_gx = ours.public.to_mpi();
        let hashed_gx: [u8; 32] = Sha256::digest(&encrypted_gx).into();
        aes_ctr(&r, &[0; 8], &mut encrypted_gx);
        let commit = AkeMessage::DhCommit { encrypted_gx, hashed_gx };
        (Self::AwaitingDhKey(AwaitingDhKey { r, ours, commit: commit.clone(), hashed_gx }), commit)
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    /// A copy of an exchange we started and that no instance answered
    /// yet; other states are never copied.
    pub fn copy_started(&self) -> Option<Self> {
        match self {
            Self::AwaitingDhKey(waiting) => Some(Self::AwaitingDhKey(waiting.clone())),
            _ => None,
        }
    }

    /// Handles one AKE message, returning the next state.
    pub fn handle(self, rng: &mut dyn Rng, key: &PrivateKey, message: AkeMessage) -> (Self, Step) {
        match message {
            AkeMessage::DhCommit { encrypted_gx, hashed_gx } => self.on_commit(rng, encrypted_gx, hashed_gx),
            AkeMessage::DhKey { gy } => self.on_key(rng, key, &gy),
            AkeMessage::RevealSignature { revealed_key, encrypted_signature, mac } => self.on_reveal(rng, key, &revealed_key, &encrypted_signature, &mac),
            AkeMessage::Signature { encrypted_signature, mac } => self.on_signature(&encrypted_signature, &mac),
        }
    }

    /// "Receiving a D-H Commit Message".
    fn on_commit(self, rng: &mut dyn Rng, their_encrypted_gx: Vec<u8>, their_hashed_gx: [u8; 32]) -> (Self, Step) {
        let answer = |ours: DhKeyPair| {
            let reply = AkeMessage::DhKey { gy: ours.public.to_bytes() };
            (Self::AwaitingRevealSignature(AwaitingRevealSignature { ours, their_encrypted_gx, their_hashed_gx }), Step::reply(reply))
        };
        match self {
            Self::None | Self::AwaitingSignature(_) => answer(DhKeyPair::generate(rng)),
            Self::AwaitingDhKey(waiting) => {
                // Both sent a commit: the higher hash (as a 256-bit
                // big-endian number) wins and the other side answers.
                if waiting.hashed_gx > their_hashed_gx {
                    let resend = waiting.commit.clone();
                    (Self::AwaitingDhKey(waiting), Step::reply(resend))
                } else {
                    answer(DhKeyPair::generate(rng))
                }
            }
            // Retransmit the same D-H Key, keep the new commitment.
            Self::AwaitingRevealSignature(waiting) => answer(waiting.ours),
        }
    }

    /// "Receiving a D-H Key Message".
    fn on_key(self, rng: &mut dyn Rng, key: &PrivateKey, gy: &[u8]) -> (Self, Step) {
        match self {
            Self::AwaitingDhKey(waiting) => {
                let theirs = match Element::from_peer(gy) {
                    Ok(theirs) => theirs,
                    Err(_) => return (Self::AwaitingDhKey(waiting), Step::ignored(AkeError::BadDhValue)),
                };
                let keys = AkeKeys::derive(&waiting.ours, &theirs);
                let (encrypted_signature, mac) = sign_part(rng, key, Side::RevealSignature, &keys, &waiting.ours.public, &theirs);
                let reveal = AkeMessage::RevealSignature { revealed_key: waiting.r.to_vec(), encrypted_signature, mac };
                let next = AwaitingSignature { ours: waiting.ours, theirs, keys, reveal: reveal.clone() };
                (Self::AwaitingSignature(Box::new(next)), Step::reply(reveal))
            }
            Self::AwaitingSignature(waiting) => {
                if waiting.theirs.to_bytes() == gy {
                    let resend = waiting.reveal.clone();
                    (Self::AwaitingSignature(waiting), Step::reply(resend))
                } else {
                    (Self::AwaitingSignature(waiting), Step::ignored(AkeError::Unexpected("D-H Key")))
                }
            }
            other => (other, Step::ignored(AkeError::Unexpected("D-H Key"))),
        }
    }

    /// "Receiving a Reveal Signature Message".
    fn on_reveal(self, rng: &mut dyn Rng, key: &PrivateKey, revealed_key: &[u8], encrypted_signature: &[u8], mac: &[u8; AKE_MAC_BYTES]) -> (Self, Step) {
        let Self::AwaitingRevealSignature(waiting) = self else {
            return (self, Step::ignored(AkeError::Unexpected("Reveal Signature")));
        };
        match Self::open_reveal(rng, key, &waiting, revealed_key, encrypted_signature, mac) {
            Ok((established, reply)) => (Self::None, Step { reply: Some(reply), established: Some(established), ignored: None }),
            Err(why) => (Self::AwaitingRevealSignature(waiting), Step::ignored(why)),
        }
    }

    fn open_reveal(
        rng: &mut dyn Rng,
        key: &PrivateKey,
        waiting: &AwaitingRevealSignature,
        revealed_key: &[u8],
        encrypted_signature: &[u8],
        mac: &[u8; AKE_MAC_BYTES],
    ) -> Result<(Established, AkeMessage), AkeError> {
        let r: &[u8; 16] = revealed_key.try_into().map_err(|_| AkeError::CommitmentMismatch)?;
        let mut gx_mpi = Zeroizing::new(waiting.their_encrypted_gx.clone());
        aes_ctr(r, &[0; 8], &mut gx_mpi);
        let hashed: [u8; 32] = Sha256::digest(&*gx_mpi).into();
        if !bool::from(hashed.ct_eq(&waiting.their_hashed_gx)) {
            return Err(AkeError::CommitmentMismatch);
        }
        let mut reader = Reader::new(&gx_mpi);
        let gx = reader.mpi("g^x").map_err(|_| AkeError::BadDhValue)?;
        let theirs = Element::from_peer(gx).map_err(|_| AkeError::BadDhValue)?;
        reader.finish().map_err(|_| AkeError::BadDhValue)?;
        let keys = AkeKeys::derive(&waiting.ours, &theirs);
        let (their_long_term, their_keyid) = check_part(Side::RevealSignature, &keys, encrypted_signature, mac, &waiting.ours.public, &theirs)?;
        let (encrypted_signature, mac) = sign_part(rng, key, Side::Signature, &keys, &waiting.ours.public, &theirs);
        let ours = DhKeyPair { secret: waiting.ours.secret.clone(), public: waiting.ours.public.clone() };
        let established = Established { our_dh: ours, our_keyid: AKE_KEYID, their_dh: theirs, their_keyid, their_long_term, ssid: keys.ssid, we_revealed: false };
        Ok((established, AkeMessage::Signature { encrypted_signature, mac }))
    }

    /// "Receiving a Signature Message".
    fn on_signature(self, encrypted_signature: &[u8], mac: &[u8; AKE_MAC_BYTES]) -> (Self, Step) {
        let Self::AwaitingSignature(waiting) = self else {
            return (self, Step::ignored(AkeError::Unexpected("Signature")));
        };
        match check_part(Side::Signature, &waiting.keys, encrypted_signature, mac, &waiting.ours.public, &waiting.theirs) {
            Ok((their_long_term, their_keyid)) => {
                let AwaitingSignature { ours, theirs, keys, .. } = *waiting;
                let established = Established { our_dh: ours, our_keyid: AKE_KEYID, their_dh: theirs, their_keyid, their_long_term, ssid: keys.ssid, we_revealed: true };
                (Self::None, Step { established: Some(established), ..Step::default() })
            }
            Err(why) => (Self::AwaitingSignature(waiting), Step::ignored(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use std::sync::OnceLock;

    /// Two long-term keys, made once: DSA generation takes seconds.
    pub(crate) fn keys() -> &'static (PrivateKey, PrivateKey) {
        static KEYS: OnceLock<(PrivateKey, PrivateKey)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = SeededRng::new(b"ake long-term keys");
            (PrivateKey::generate(&mut rng).unwrap(), PrivateKey::generate(&mut rng).unwrap())
        })
    }

    fn run(bob_first: bool) -> (Established, Established) {
        let (alice_key, bob_key) = keys();
        let mut rng = SeededRng::new(if bob_first { b"bob first" } else { b"bob second" });
        let (bob, commit) = AuthState::start(&mut rng);
        let (alice, step) = AuthState::None.handle(&mut rng, alice_key, commit);
        let dh_key = step.reply.unwrap();
        assert!(matches!(alice, AuthState::AwaitingRevealSignature(_)));
        let (bob, step) = bob.handle(&mut rng, bob_key, dh_key);
        let reveal = step.reply.unwrap();
        assert!(matches!(bob, AuthState::AwaitingSignature(_)));
        let (alice, step) = alice.handle(&mut rng, alice_key, reveal);
        assert!(alice.is_none() && step.ignored.is_none());
        let alice_done = step.established.unwrap();
        let (bob, step) = bob.handle(&mut rng, bob_key, step.reply.unwrap());
        assert!(bob.is_none() && step.ignored.is_none());
        (alice_done, step.established.unwrap())
    }

    #[test]
    fn the_exchange_completes_with_matching_keys_and_fingerprints() {
        let (alice_key, bob_key) = keys();
        let (alice, bob) = run(true);
        assert_eq!(alice.ssid, bob.ssid);
        assert_eq!(alice.their_long_term.fingerprint(), bob_key.public_key().fingerprint());
        assert_eq!(bob.their_long_term.fingerprint(), alice_key.public_key().fingerprint());
        assert_eq!(alice.their_dh, bob.our_dh.public);
        assert_eq!(bob.their_dh, alice.our_dh.public);
        assert_eq!((alice.their_keyid, bob.their_keyid), (AKE_KEYID, AKE_KEYID));
        assert!(bob.we_revealed && !alice.we_revealed);
    }

    #[test]
    fn crossing_commits_resolve_by_the_higher_hash() {
        let (alice_key, bob_key) = keys();
        let mut rng = SeededRng::new(b"crossing");
        let (alice, alice_commit) = AuthState::start(&mut rng);
        let (bob, bob_commit) = AuthState::start(&mut rng);
        let hash = |message: &AkeMessage| match message {
            AkeMessage::DhCommit { hashed_gx, .. } => *hashed_gx,
            _ => unreachable!(),
        };
        let alice_wins = hash(&alice_commit) > hash(&bob_commit);
        let (alice, alice_step) = alice.handle(&mut rng, alice_key, bob_commit);
        let (bob, bob_step) = bob.handle(&mut rng, bob_key, alice_commit.clone());
        if alice_wins {
            assert_eq!(alice_step.reply, Some(alice_commit), "the higher hash resends its commit");
            assert!(matches!(alice, AuthState::AwaitingDhKey(_)));
            assert!(matches!(bob, AuthState::AwaitingRevealSignature(_)));
            assert!(matches!(bob_step.reply, Some(AkeMessage::DhKey { .. })));
        } else {
            assert!(matches!(alice, AuthState::AwaitingRevealSignature(_)));
            assert!(matches!(bob, AuthState::AwaitingDhKey(_)));
        }
    }

    #[test]
    fn tampered_messages_are_ignored_and_the_state_kept() {
        let (alice_key, bob_key) = keys();
        let mut rng = SeededRng::new(b"tamper");
        let (bob, commit) = AuthState::start(&mut rng);
        let (alice, step) = AuthState::None.handle(&mut rng, alice_key, commit);
        let (_bob, step2) = bob.handle(&mut rng, bob_key, step.reply.unwrap());
        let reveal = step2.reply.unwrap();
        let AkeMessage::RevealSignature { revealed_key, encrypted_signature, mac } = reveal.clone() else { unreachable!() };
        let mut wrong_key = revealed_key.clone();
        wrong_key[0] ^= 1;
        let mut wrong_signature = encrypted_signature.clone();
        wrong_signature[10] ^= 1;
        let mut wrong_mac = mac;
        wrong_mac[0] ^= 1;
        let mut alice = alice;
        for (tampered, why) in [
            (AkeMessage::RevealSignature { revealed_key: wrong_key, encrypted_signature: encrypted_signature.clone(), mac }, AkeError::CommitmentMismatch),
            (AkeMessage::RevealSignature { revealed_key: revealed_key.clone(), encrypted_signature: wrong_signature, mac }, AkeError::BadMac),
            (AkeMessage::RevealSignature { revealed_key: revealed_key.clone(), encrypted_signature: encrypted_signature.clone(), mac: wrong_mac }, AkeError::BadMac),
            (AkeMessage::RevealSignature { revealed_key: vec![1, 2, 3], encrypted_signature: encrypted_signature.clone(), mac }, AkeError::CommitmentMismatch),
        ] {
            let (next, step) = alice.handle(&mut rng, alice_key, tampered);
            assert_eq!(step.ignored, Some(why));
            assert!(step.reply.is_none() && step.established.is_none());
            assert!(matches!(next, AuthState::AwaitingRevealSignature(_)));
            alice = next;
        }
        // The genuine message still completes the exchange.
        let (alice, step) = alice.handle(&mut rng, alice_key, reveal);
        assert!(alice.is_none() && step.established.is_some());
    }

    #[test]
    fn out_of_range_dh_values_are_ignored() {
        let (_, bob_key) = keys();
        let mut rng = SeededRng::new(b"range");
        let (mut bob, _) = AuthState::start(&mut rng);
        let p_minus_one = {
            let mut bytes = vec![0xff; 192];
            bytes[191] = 0xfe;
            bytes
        };
        for bad in [vec![], vec![1], p_minus_one, vec![0xff; 192]] {
            let (next, step) = bob.handle(&mut rng, bob_key, AkeMessage::DhKey { gy: bad });
            assert_eq!(step.ignored, Some(AkeError::BadDhValue));
            assert!(matches!(next, AuthState::AwaitingDhKey(_)));
            bob = next;
        }
    }

    #[test]
    fn messages_in_the_wrong_state_are_ignored() {
        let (alice_key, _) = keys();
        let mut rng = SeededRng::new(b"wrong state");
        let (state, step) = AuthState::None.handle(&mut rng, alice_key, AkeMessage::Signature { encrypted_signature: vec![0; 64], mac: [0; 20] });
        assert!(state.is_none() && step.ignored.is_some());
        let (state, step) = state.handle(&mut rng, alice_key, AkeMessage::DhKey { gy: vec![5] });
        assert!(state.is_none() && step.ignored.is_some());
    }
}
