//! "Socialist Millionaires' Protocol (SMP)" of the spec: the two parties of
//! an encrypted session learn whether they typed the same secret and nothing
//! else, with every step proven in zero knowledge.
//!
//! This follows libotr 4.1.1 (`sm.c` and the TLV handling in `message.c`)
//! so that it interoperates with it and with python-potr: the same hash
//! version bytes, the same checks on what the peer sends, the same
//! 1536-bit random exponents and the same wire layout (an INT count, then
//! the MPIs at minimal length; SMP1Q puts a NUL-terminated question first).
//!
//! Where secrets meet arithmetic: every exponentiation with a secret
//! exponent (a2, a3, b2, b3, the r values, the user secret) or with a base
//! derived from one (g2, g3) runs in constant time (`pow_secret`, `g_pow`),
//! and every D = r - s·c mod q runs in [`Scalar`]'s constant-time arithmetic.
//! Only proof checks whose base and exponent both came off the wire (or are
//! g1) use the faster variable-time [`Element::pow_public`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::encoding::{DecodeError, Reader, Writer};
use crate::group::{check_exponent, Element, Exponent, Scalar, SMP_SECRET_BITS};
use crate::rng::Rng;
use crate::tlv::{self, Tlv};

/// More SMP1 messages than this within [`RESTART_WINDOW`] are refused
/// unread: an SMP1 is the one message a peer can send at will that makes us
/// exponentiate (four proof checks), so it is the one to ration.
pub const RESTART_LIMIT: usize = 5;
/// The window [`RESTART_LIMIT`] counts over.
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// A SHA-256 digest is 32 bytes; a c value longer than that cannot match
/// one, so it fails its proof before any exponentiation is spent on it.
const DIGEST_BYTES: usize = 32;

/// The four SMP messages, to say which arrived and which was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmpMessage {
    Smp1,
    Smp2,
    Smp3,
    Smp4,
}

impl std::fmt::Display for SmpMessage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Smp1 => "SMP message 1",
            Self::Smp2 => "SMP message 2",
            Self::Smp3 => "SMP message 3",
            Self::Smp4 => "SMP message 4",
        })
    }
}

/// Why an SMP exchange stopped, or why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SmpError {
    #[error("the SMP message is malformed: {0}")]
    Malformed(#[from] DecodeError),
    #[error("the SMP message holds {found} numbers where {expected} belong")]
    WrongCount { expected: u32, found: u32 },
    #[error("the question of an SMP message has no terminating NUL")]
    UnterminatedQuestion,
    #[error("the value {0} of the SMP message is not a group element between 2 and p-2")]
    BadElement(&'static str),
    #[error("the value {0} of the SMP message is not an exponent between 1 and q-1")]
    BadExponent(&'static str),
    #[error("the zero-knowledge proof {0} of the SMP message is false")]
    BadProof(&'static str),
    #[error("{received} arrived while {expecting} was expected")]
    Unexpected { received: SmpMessage, expecting: SmpMessage },
    #[error("no SMP question or request waits for an answer")]
    NotAsked,
}

/// What the user should be told after a received TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmpEvent {
    /// The peer started SMP; answer with [`Smp::respond`]. The question is
    /// that of an SMP1Q, as sent (without its NUL).
    Asked { question: Option<Vec<u8>> },
    /// Both secrets are the same.
    Success,
    /// The secrets differ.
    Failure,
    /// The peer aborted the exchange (an SMP abort TLV).
    Aborted,
    /// The peer's message failed a check, or came at the wrong time. libotr
    /// reports the first as OTRL_SMPEVENT_CHEATED and the second as
    /// OTRL_SMPEVENT_ERROR, and its reference client (pidgin-otr) answers
    /// both alike: it aborts the exchange and shows an error. The reason
    /// tells them apart.
    Cheated(SmpError),
    /// The peer restarted SMP too often; the SMP1 was refused unread.
    RateLimited,
}

/// The outcome of [`Smp::receive`]: a TLV to send back (in a data message
/// of its own) and an event for the user, each when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Received {
    pub reply: Option<Tlv>,
    pub event: Option<SmpEvent>,
}

/// The SMP secret x (or y) of the spec's "Secret information": SHA-256 of
/// the version byte 1, the initiator's and the responder's fingerprints, the
/// secure session id and the user's secret, as a 256-bit exponent.
pub fn smp_secret(
    initiator_fingerprint: &[u8; 20],
    responder_fingerprint: &[u8; 20],
    secure_session_id: &[u8; 8],
    user_secret: &[u8],
) -> Exponent {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(initiator_fingerprint);
    hasher.update(responder_fingerprint);
    hasher.update(secure_session_id);
    hasher.update(user_secret);
    let digest = zeroize::Zeroizing::new(<[u8; DIGEST_BYTES]>::from(hasher.finalize()));
    Exponent::from_bytes(&digest[..], 8 * DIGEST_BYTES as u32)
}

/// One SMP instance, kept per OTR session. Drop it (or [`Smp::abort`]) when
/// the session leaves MSGSTATE_ENCRYPTED, as the spec asks.
#[cfg_attr(test, derive(Clone))]
pub struct Smp {
    state: State,
    /// When the latest SMP1s arrived (at most [`RESTART_LIMIT`] of them).
    recent_starts: VecDeque<Instant>,
}

impl Default for Smp {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Smp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The states hold secrets: only their names are printed.
        let state = match &self.state {
            State::Expect1(Expect1 { asked: None }) => "EXPECT1",
            State::Expect1(Expect1 { asked: Some(_) }) => "EXPECT1 (asked)",
            State::Expect2(_) => "EXPECT2",
            State::Expect3(_) => "EXPECT3",
            State::Expect4(_) => "EXPECT4",
        };
        formatter.debug_struct("Smp").field("state", &state).finish()
    }
}

impl Smp {
    pub fn new() -> Self {
        Self { state: State::idle(), recent_starts: VecDeque::with_capacity(RESTART_LIMIT + 1) }
    }

    /// Whether an exchange is under way, including an SMP1 that waits for
    /// the user's answer.
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, State::Expect1(Expect1 { asked: None }))
    }

    /// Whether the peer asked and [`Smp::respond`] is awaited.
    pub fn awaiting_answer(&self) -> bool {
        matches!(self.state, State::Expect1(Expect1 { asked: Some(_) }))
    }

    /// Starts an exchange with our secret x (see [`smp_secret`], with us as
    /// the initiator), optionally with a question for the peer. An exchange
    /// in progress is dropped and a fresh SMP1 returned; the caller sends an
    /// [`Smp::abort`] first when one was in progress (see
    /// `Conversation::smp_start`), as the spec asks. The
    /// question ends at its first NUL, since the wire form is NUL-terminated
    /// (libotr copies it with strcpy).
    pub fn initiate(&mut self, rng: &mut dyn Rng, secret: Exponent, question: Option<&[u8]>) -> Tlv {
        let (next, payload) = Expect2::start(rng, secret);
        self.state = State::Expect2(Box::new(next));
        match question {
            None => Tlv::new(tlv::SMP_1, payload),
            Some(question) => {
                let question = question.split(|&byte| byte == 0).next().unwrap_or_default();
                let mut value = Vec::with_capacity(question.len() + 1 + payload.len());
                value.extend_from_slice(question);
                value.push(0);
                value.extend_from_slice(&payload);
                Tlv::new(tlv::SMP_1_QUESTION, value)
            }
        }
    }

    /// Answers the peer's SMP1 (after [`SmpEvent::Asked`]) with our secret y
    /// (see [`smp_secret`], with the peer as the initiator): the SMP2 to send.
    pub fn respond(&mut self, rng: &mut dyn Rng, secret: Exponent) -> Result<Tlv, SmpError> {
        match std::mem::replace(&mut self.state, State::idle()) {
            State::Expect1(Expect1 { asked: Some(asked) }) => {
                let (next, reply) = asked.respond(rng, &secret);
                self.state = State::Expect3(Box::new(next));
                Ok(reply)
            }
            other => {
                self.state = other;
                Err(SmpError::NotAsked)
            }
        }
    }

    /// The user cancels: forget the exchange; the SMP abort TLV to send.
    pub fn abort(&mut self) -> Tlv {
        self.state = State::idle();
        abort_tlv()
    }

    /// Handles one TLV of a received data message. TLVs other than SMP's
    /// (padding, disconnected, extra key) are not SMP's business and are
    /// ignored. `now` is when it arrived, for the restart limit.
    pub fn receive(&mut self, rng: &mut dyn Rng, tlv: &Tlv, now: Instant) -> Received {
        let received = match tlv.kind {
            tlv::SMP_ABORT => {
                // libotr resets and reports OTRL_SMPEVENT_ABORT in every
                // state, and ignores the value (the spec says it is empty).
                self.state = State::idle();
                return Received { reply: None, event: Some(SmpEvent::Aborted) };
            }
            tlv::SMP_1 | tlv::SMP_1_QUESTION => {
                if self.too_many_starts(now) {
                    self.state = State::idle();
                    return Received { reply: Some(abort_tlv()), event: Some(SmpEvent::RateLimited) };
                }
                SmpMessage::Smp1
            }
            tlv::SMP_2 => SmpMessage::Smp2,
            tlv::SMP_3 => SmpMessage::Smp3,
            tlv::SMP_4 => SmpMessage::Smp4,
            _ => return Received::default(),
        };
        // Whatever happens below, a failure leaves the state at EXPECT1.
        let state = std::mem::replace(&mut self.state, State::idle());
        let outcome = match (state, received) {
            (State::Expect1(_), SmpMessage::Smp1) => {
                let asked = if tlv.kind == tlv::SMP_1_QUESTION {
                    split_question(&tlv.value)
                        .and_then(|(question, payload)| Ok((Asked::receive(payload)?, Some(question.to_vec()))))
                } else {
                    Asked::receive(&tlv.value).map(|asked| (asked, None))
                };
                asked.map(|(asked, question)| {
                    self.state = State::Expect1(Expect1 { asked: Some(Box::new(asked)) });
                    Received { reply: None, event: Some(SmpEvent::Asked { question }) }
                })
            }
            (State::Expect2(expect), SmpMessage::Smp2) => expect.receive(rng, &tlv.value).map(|(next, reply)| {
                self.state = State::Expect4(Box::new(next));
                Received { reply: Some(reply), event: None }
            }),
            (State::Expect3(expect), SmpMessage::Smp3) => expect
                .receive(rng, &tlv.value)
                .map(|(reply, same)| Received { reply: Some(reply), event: Some(verdict(same)) }),
            (State::Expect4(expect), SmpMessage::Smp4) => {
                expect.receive(&tlv.value).map(|same| Received { reply: None, event: Some(verdict(same)) })
            }
            (state, received) => Err(SmpError::Unexpected { received, expecting: state.expecting() }),
        };
        // The spec: on any error, or a message in the wrong state, "set
        // smpstate to SMPSTATE_EXPECT1 and send a type 6 TLV (SMP abort)".
        outcome.unwrap_or_else(|error| Received { reply: Some(abort_tlv()), event: Some(SmpEvent::Cheated(error)) })
    }

    /// Notes an SMP1 arriving at `now`; true when it is one too many.
    /// Refused SMP1s count too, so a peer that keeps flooding stays refused.
    fn too_many_starts(&mut self, now: Instant) -> bool {
        while self.recent_starts.front().is_some_and(|&start| now.saturating_duration_since(start) >= RESTART_WINDOW) {
            self.recent_starts.pop_front();
        }
        let limited = self.recent_starts.len() >= RESTART_LIMIT;
        self.recent_starts.push_back(now);
        while self.recent_starts.len() > RESTART_LIMIT {
            self.recent_starts.pop_front();
        }
        limited
    }
}

fn verdict(same: bool) -> SmpEvent {
    if same {
        SmpEvent::Success
    } else {
        SmpEvent::Failure
    }
}

fn abort_tlv() -> Tlv {
    Tlv::new(tlv::SMP_ABORT, Vec::new())
}

/// An SMP1Q's value: the question up to its NUL, and the SMP1 after it.
fn split_question(value: &[u8]) -> Result<(&[u8], &[u8]), SmpError> {
    let end = value.iter().position(|&byte| byte == 0).ok_or(SmpError::UnterminatedQuestion)?;
    let (question, rest) = value.split_at(end);
    let payload = rest.split_first().map(|(_nul, payload)| payload).unwrap_or_default();
    Ok((question, payload))
}

/// The states of the spec, each holding what its next step needs. The
/// secret-holding ones are boxed and each step borrows its state and clones
/// what it carries on: moving a struct out would leave an unwiped copy
/// behind, while a dropped box is wiped by its fields' Drop.
#[cfg_attr(test, derive(Clone))]
enum State {
    Expect1(Expect1),
    Expect2(Box<Expect2>),
    Expect3(Box<Expect3>),
    Expect4(Box<Expect4>),
}

impl State {
    fn idle() -> Self {
        Self::Expect1(Expect1 { asked: None })
    }

    fn expecting(&self) -> SmpMessage {
        match self {
            Self::Expect1(_) => SmpMessage::Smp1,
            Self::Expect2(_) => SmpMessage::Smp2,
            Self::Expect3(_) => SmpMessage::Smp3,
            Self::Expect4(_) => SmpMessage::Smp4,
        }
    }
}

/// SMPSTATE_EXPECT1: nothing under way, or (as in libotr, which stays in
/// EXPECT1 until the user answers) a checked SMP1 waiting for our secret.
#[cfg_attr(test, derive(Clone))]
struct Expect1 {
    asked: Option<Box<Asked>>,
}

/// The peer's verified SMP1, until the user answers. Public values only:
/// b2 and b3 are drawn when the answer comes, so an SMP1 costs nothing but
/// its proof checks.
#[cfg_attr(test, derive(Clone))]
struct Asked {
    g2a: Element,
    g3a: Element,
}

/// SMPSTATE_EXPECT2 (we initiated): our secret x and DH exponents a2, a3.
#[cfg_attr(test, derive(Clone))]
struct Expect2 {
    x: Exponent,
    a2: Exponent,
    a3: Exponent,
}

/// SMPSTATE_EXPECT3 (we responded).
#[cfg_attr(test, derive(Clone))]
struct Expect3 {
    g3a: Element,
    g2: Element,
    g3: Element,
    b3: Exponent,
    pb: Element,
    qb: Element,
}

/// SMPSTATE_EXPECT4 (we initiated and sent SMP3).
#[cfg_attr(test, derive(Clone))]
struct Expect4 {
    a3: Exponent,
    g3b: Element,
    pab: Element,
    qab: Element,
}

impl Expect2 {
    /// "User requests to begin SMP": SMP1 = g2a, c2, D2, g3a, c3, D3.
    fn start(rng: &mut dyn Rng, x: Exponent) -> (Self, Vec<u8>) {
        // libotr's order of draws: a2, a3, then each proof's r.
        let a2 = Exponent::random_smp(rng);
        let a3 = Exponent::random_smp(rng);
        // g1^a2, g1^a3: secret exponents, constant time.
        let g2a = Element::g_pow(&a2);
        let (c2, d2) = prove_log(rng, 1, &a2);
        let g3a = Element::g_pow(&a3);
        let (c3, d3) = prove_log(rng, 2, &a3);
        let payload = encode(&[&g2a.to_bytes(), &c2, &d2, &g3a.to_bytes(), &c3, &d3]);
        (Self { x, a2, a3 }, payload)
    }

    /// "Receiving a type 3 TLV (SMP message 2)": check Bob's proofs, then
    /// SMP3 = Pa, Qa, cP, D5, D6, Ra, cR, D7.
    fn receive(&self, rng: &mut dyn Rng, payload: &[u8]) -> Result<(Expect4, Tlv), SmpError> {
        let [g2b, c2, d2, g3b, c3, d3, pb, qb, cp, d5, d6] =
            parse(payload, ["g2b", "c2", "D2", "g3b", "c3", "D3", "Pb", "Qb", "cP", "D5", "D6"])?;
        // "Check that g_2b, g_3b, P_b and Q_b are >= 2 and <= modulus-2";
        // the D values as libotr's check_expon (1 <= D < q).
        let g2b = element(g2b, "g2b")?;
        let g3b = element(g3b, "g3b")?;
        let pb = element(pb, "Pb")?;
        let qb = element(qb, "Qb")?;
        let (d2, d3, d5, d6) = (exponent(d2, "D2")?, exponent(d3, "D3")?, exponent(d5, "D5")?, exponent(d6, "D6")?);
        // "Check that c2 = SHA256(3, g_1^D2 g_2b^c2)", "c3 = SHA256(4, g_1^D3 g_3b^c3)".
        check_log(3, c2, d2, &g2b, "c2")?;
        check_log(4, c3, d3, &g3b, "c3")?;
        // g2 = g2b^a2, g3 = g3b^a3: secret exponents, constant time.
        let g2 = g2b.pow_secret(&self.a2);
        let g3 = g3b.pow_secret(&self.a3);
        // "Check that cP = SHA256(5, g_3^D5 P_b^cP, g_1^D5 g_2^D6 Q_b^cP)".
        check_coords(5, cp, d5, d6, &pb, &qb, &g2, &g3, "cP")?;

        // libotr's order of draws: r4, then r5, r6 in the proof, then r7.
        let r4 = Exponent::random_smp(rng);
        // Pa = g3^r4, Qa = g1^r4 g2^x: secret exponents, constant time.
        let pa = g3.pow_secret(&r4);
        let qa = Element::g_pow(&r4).mul(&g2.pow_secret(&self.x));
        let (cp, d5, d6) = prove_coords(rng, 6, &g2, &g3, &r4, &self.x);
        let pab = pa.mul(&pb.inverse());
        let qab = qa.mul(&qb.inverse());
        // Ra = (Qa/Qb)^a3: secret exponent, constant time.
        let ra = qab.pow_secret(&self.a3);
        let (cr, d7) = prove_logs(rng, 7, &qab, &self.a3);
        let reply = encode(&[&pa.to_bytes(), &qa.to_bytes(), &cp, &d5, &d6, &ra.to_bytes(), &cr, &d7]);
        Ok((Expect4 { a3: self.a3.clone(), g3b, pab, qab }, Tlv::new(tlv::SMP_3, reply)))
    }
}

impl Asked {
    /// "Receiving a type 2 TLV (SMP message 1)", the verifying half (libotr's
    /// otrl_sm_step2a): the rest waits for the user's secret.
    fn receive(payload: &[u8]) -> Result<Self, SmpError> {
        let [g2a, c2, d2, g3a, c3, d3] = parse(payload, ["g2a", "c2", "D2", "g3a", "c3", "D3"])?;
        // "Check that both g_2a and g_3a are >= 2 and <= modulus-2", and
        // D2, D3 as libotr's check_expon.
        let g2a = element(g2a, "g2a")?;
        let g3a = element(g3a, "g3a")?;
        let (d2, d3) = (exponent(d2, "D2")?, exponent(d3, "D3")?);
        // "Check that c2 = SHA256(1, g_1^D2 g_2a^c2)", "c3 = SHA256(2, g_1^D3 g_3a^c3)".
        check_log(1, c2, d2, &g2a, "c2")?;
        check_log(2, c3, d3, &g3a, "c3")?;
        Ok(Self { g2a, g3a })
    }

    /// "Create a type 3 TLV (SMP message 2)" (libotr's otrl_sm_step2b):
    /// g2b, c2, D2, g3b, c3, D3, Pb, Qb, cP, D5, D6.
    fn respond(&self, rng: &mut dyn Rng, y: &Exponent) -> (Expect3, Tlv) {
        let b2 = Exponent::random_smp(rng);
        let b3 = Exponent::random_smp(rng);
        // g1^b2, g1^b3, g2a^b2, g3a^b3: secret exponents, constant time.
        let g2b = Element::g_pow(&b2);
        let (c2, d2) = prove_log(rng, 3, &b2);
        let g3b = Element::g_pow(&b3);
        let (c3, d3) = prove_log(rng, 4, &b3);
        let g2 = self.g2a.pow_secret(&b2);
        let g3 = self.g3a.pow_secret(&b3);
        let r4 = Exponent::random_smp(rng);
        // Pb = g3^r4, Qb = g1^r4 g2^y: secret exponents, constant time.
        let pb = g3.pow_secret(&r4);
        let qb = Element::g_pow(&r4).mul(&g2.pow_secret(y));
        let (cp, d5, d6) = prove_coords(rng, 5, &g2, &g3, &r4, y);
        let reply = encode(&[
            &g2b.to_bytes(),
            &c2,
            &d2,
            &g3b.to_bytes(),
            &c3,
            &d3,
            &pb.to_bytes(),
            &qb.to_bytes(),
            &cp,
            &d5,
            &d6,
        ]);
        (Expect3 { g3a: self.g3a.clone(), g2, g3, b3, pb, qb }, Tlv::new(tlv::SMP_2, reply))
    }
}

impl Expect3 {
    /// "Receiving a type 4 TLV (SMP message 3)": check Alice's proofs, build
    /// SMP4 = Rb, cR, D7, and compare. Returns SMP4 and whether x = y.
    fn receive(&self, rng: &mut dyn Rng, payload: &[u8]) -> Result<(Tlv, bool), SmpError> {
        let [pa, qa, cp, d5, d6, ra, cr, d7] = parse(payload, ["Pa", "Qa", "cP", "D5", "D6", "Ra", "cR", "D7"])?;
        // "Check that P_a, Q_a and R_a are >= 2 and <= modulus-2", and D5,
        // D6, D7 as libotr's check_expon.
        let pa = element(pa, "Pa")?;
        let qa = element(qa, "Qa")?;
        let ra = element(ra, "Ra")?;
        let (d5, d6, d7) = (exponent(d5, "D5")?, exponent(d6, "D6")?, exponent(d7, "D7")?);
        // "Check that cP = SHA256(6, g_3^D5 P_a^cP, g_1^D5 g_2^D6 Q_a^cP)".
        check_coords(6, cp, d5, d6, &pa, &qa, &self.g2, &self.g3, "cP")?;
        let pab = pa.mul(&self.pb.inverse());
        let qab = qa.mul(&self.qb.inverse());
        // "Check that cR = SHA256(7, g_1^D7 g_3a^cR, (Q_a / Q_b)^D7 R_a^cR)".
        check_logs(7, cr, d7, &ra, &self.g3a, &qab, "cR")?;

        // Rb = (Qa/Qb)^b3: secret exponent, constant time.
        let rb = qab.pow_secret(&self.b3);
        let (cr, d7) = prove_logs(rng, 8, &qab, &self.b3);
        let reply = encode(&[&rb.to_bytes(), &cr, &d7]);
        // Rab = Ra^b3 (secret exponent, constant time); x = y iff Pa/Pb = Rab.
        // Element's equality is constant time.
        let same = ra.pow_secret(&self.b3) == pab;
        Ok((Tlv::new(tlv::SMP_4, reply), same))
    }
}

impl Expect4 {
    /// "Receiving a type 5 TLV (SMP message 4)": check Bob's proof and
    /// compare. Returns whether x = y.
    fn receive(&self, payload: &[u8]) -> Result<bool, SmpError> {
        let [rb, cr, d7] = parse(payload, ["Rb", "cR", "D7"])?;
        // "Check that R_b is >= 2 and <= modulus-2", D7 as check_expon.
        let rb = element(rb, "Rb")?;
        let d7 = exponent(d7, "D7")?;
        // "Check that cR = SHA256(8, g_1^D7 g_3b^cR, (Q_a / Q_b)^D7 R_b^cR)".
        check_logs(8, cr, d7, &rb, &self.g3b, &self.qab, "cR")?;
        // Rab = Rb^a3: secret exponent, constant time.
        Ok(rb.pow_secret(&self.a3) == self.pab)
    }
}

/// The SMP hash of the spec: SHA256(version || MPI(first) [|| MPI(second)]),
/// as the minimal magnitude an MPI carries (libotr scans the digest back
/// into an MPI, so a digest with leading zero bytes goes out shorter).
fn smp_hash(version: u8, first: &Element, second: Option<&Element>) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update([version]);
    hasher.update(first.to_mpi());
    if let Some(second) = second {
        hasher.update(second.to_mpi());
    }
    let digest: [u8; DIGEST_BYTES] = hasher.finalize().into();
    let leading = digest.iter().take_while(|&&byte| byte == 0).count();
    digest.get(leading..).unwrap_or_default().to_vec()
}

/// D = r - s·c mod q: r and s are secret, so this runs in Scalar's
/// constant-time arithmetic; the result goes on the wire.
fn response(r: &Exponent, s: &Exponent, c: &[u8]) -> Vec<u8> {
    Scalar::from_exponent(r).sub(&Scalar::from_exponent(s).mul(&Scalar::from_public(c))).to_bytes()
}

/// A proof of knowledge of s for g1^s (libotr's otrl_sm_proof_know_log):
/// c = h(version, g1^r), D = r - s·c.
fn prove_log(rng: &mut dyn Rng, version: u8, s: &Exponent) -> (Vec<u8>, Vec<u8>) {
    let r = Exponent::random_smp(rng);
    // g1^r: secret exponent, constant time.
    let c = smp_hash(version, &Element::g_pow(&r), None);
    let d = response(&r, s, &c);
    (c, d)
}

/// Checks c = h(version, g1^D · value^c) (libotr's otrl_sm_check_know_log).
fn check_log(version: u8, c: &[u8], d: &[u8], value: &Element, name: &'static str) -> Result<(), SmpError> {
    if c.len() > DIGEST_BYTES {
        return Err(SmpError::BadProof(name));
    }
    // g1^D and value^c: g1, the peer's element, c and D are all public, so
    // the variable-time exponentiation is safe here.
    let commitment = Element::generator().pow_public(d).mul(&value.pow_public(c));
    if smp_hash(version, &commitment, None) == c {
        Ok(())
    } else {
        Err(SmpError::BadProof(name))
    }
}

/// The proof that P = g3^r and Q = g1^r g2^s were formed honestly (libotr's
/// otrl_sm_proof_equal_coords): c = h(version, g3^r5, g1^r5 g2^r6),
/// D5 = r5 - r·c, D6 = r6 - s·c.
fn prove_coords(
    rng: &mut dyn Rng,
    version: u8,
    g2: &Element,
    g3: &Element,
    r: &Exponent,
    s: &Exponent,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let r5 = Exponent::random_smp(rng);
    let r6 = Exponent::random_smp(rng);
    // g3^r5, g1^r5, g2^r6: secret exponents, constant time.
    let first = g3.pow_secret(&r5);
    let second = Element::g_pow(&r5).mul(&g2.pow_secret(&r6));
    let c = smp_hash(version, &first, Some(&second));
    let d5 = response(&r5, r, &c);
    let d6 = response(&r6, s, &c);
    (c, d5, d6)
}

/// Checks c = h(version, g3^D5 P^c, g1^D5 g2^D6 Q^c) (libotr's
/// otrl_sm_check_equal_coords).
#[allow(clippy::too_many_arguments)]
fn check_coords(
    version: u8,
    c: &[u8],
    d5: &[u8],
    d6: &[u8],
    p: &Element,
    q: &Element,
    g2: &Element,
    g3: &Element,
    name: &'static str,
) -> Result<(), SmpError> {
    if c.len() > DIGEST_BYTES {
        return Err(SmpError::BadProof(name));
    }
    // g3^D5 and g2^D6: D is public but g2 and g3 come from our secret
    // exponents and never go on the wire, so constant time.
    let g3_d5 = g3.pow_secret(&Exponent::from_bytes(d5, SMP_SECRET_BITS));
    let g2_d6 = g2.pow_secret(&Exponent::from_bytes(d6, SMP_SECRET_BITS));
    // P^c, g1^D5, Q^c: all public (wire values and g1), variable time.
    let first = g3_d5.mul(&p.pow_public(c));
    let second = Element::generator().pow_public(d5).mul(&g2_d6).mul(&q.pow_public(c));
    if smp_hash(version, &first, Some(&second)) == c {
        Ok(())
    } else {
        Err(SmpError::BadProof(name))
    }
}

/// The proof that R = (Qa/Qb)^s for the s of g1^s (libotr's
/// otrl_sm_proof_equal_logs): c = h(version, g1^r7, (Qa/Qb)^r7),
/// D7 = r7 - s·c.
fn prove_logs(rng: &mut dyn Rng, version: u8, qab: &Element, s: &Exponent) -> (Vec<u8>, Vec<u8>) {
    let r7 = Exponent::random_smp(rng);
    // g1^r7, (Qa/Qb)^r7: secret exponent, constant time.
    let c = smp_hash(version, &Element::g_pow(&r7), Some(&qab.pow_secret(&r7)));
    let d7 = response(&r7, s, &c);
    (c, d7)
}

/// Checks c = h(version, g1^D g3o^c, (Qa/Qb)^D R^c) (libotr's
/// otrl_sm_check_equal_logs), where g3o is the peer's g3a or g3b.
fn check_logs(
    version: u8,
    c: &[u8],
    d: &[u8],
    r: &Element,
    g3o: &Element,
    qab: &Element,
    name: &'static str,
) -> Result<(), SmpError> {
    if c.len() > DIGEST_BYTES {
        return Err(SmpError::BadProof(name));
    }
    // All public: g1, the peer's g3o and R, Qa/Qb (a quotient of two wire
    // values), c and D; variable time is safe.
    let first = Element::generator().pow_public(d).mul(&g3o.pow_public(c));
    let second = qab.pow_public(d).mul(&r.pow_public(c));
    if smp_hash(version, &first, Some(&second)) == c {
        Ok(())
    } else {
        Err(SmpError::BadProof(name))
    }
}

fn element(magnitude: &[u8], name: &'static str) -> Result<Element, SmpError> {
    Element::from_peer(magnitude).map_err(|_| SmpError::BadElement(name))
}

fn exponent<'a>(magnitude: &'a [u8], name: &'static str) -> Result<&'a [u8], SmpError> {
    check_exponent(magnitude).map_err(|_| SmpError::BadExponent(name))
}

/// An SMP payload: the INT count, which must be exactly N (libotr's
/// unserialize_mpi_array), and N MPIs. Unlike libotr, bytes after the last
/// MPI are refused: no implementation sends them.
fn parse<'a, const N: usize>(payload: &'a [u8], names: [&'static str; N]) -> Result<[&'a [u8]; N], SmpError> {
    let mut reader = Reader::new(payload);
    let found = reader.int("MPI count")?;
    let expected = N as u32;
    if found != expected {
        return Err(SmpError::WrongCount { expected, found });
    }
    let mut mpis: [&[u8]; N] = [&[]; N];
    for (mpi, name) in mpis.iter_mut().zip(names) {
        *mpi = reader.mpi(name)?;
    }
    reader.finish()?;
    Ok(mpis)
}

/// The INT count and the MPIs, at minimal length.
fn encode(mpis: &[&[u8]]) -> Vec<u8> {
    let mut writer = Writer::new();
    // At most 11 MPIs.
    writer.int(mpis.len() as u32);
    for mpi in mpis {
        writer.mpi(mpi);
    }
    writer.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use num_bigint::BigUint;
    use std::sync::OnceLock;

    const P_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF";
    const ALICE_FP: [u8; 20] = [0xa1; 20];
    const BOB_FP: [u8; 20] = [0xb0; 20];
    const SSID: [u8; 8] = *b"ssid-v3!";

    fn p() -> BigUint {
        BigUint::parse_bytes(P_HEX.as_bytes(), 16).unwrap()
    }

    fn q() -> BigUint {
        (p() - 1u32) / 2u32
    }

    /// The secret as each side computes it: Alice initiates.
    fn secret(user: &[u8]) -> Exponent {
        smp_secret(&ALICE_FP, &BOB_FP, &SSID, user)
    }

    fn start() -> Instant {
        static START: OnceLock<Instant> = OnceLock::new();
        *START.get_or_init(Instant::now)
    }

    fn abort() -> Option<Tlv> {
        Some(abort_tlv())
    }

    /// The SMP messages of one exchange, and each side's state before each
    /// of them arrives, so a test can deliver a forged message in place of
    /// the real one without redoing the exponentiations.
    struct Transcript {
        smp1: Tlv,
        alice_expect2: Smp,
        bob_asked: Smp,
        smp2: Tlv,
        bob_expect3: Smp,
        smp3: Tlv,
        alice_expect4: Smp,
        smp4: Tlv,
        bob_event: Option<SmpEvent>,
        alice_event: Option<SmpEvent>,
    }

    fn run(
        seed: &[u8],
        alice_secret: &[u8],
        bob_secret: &[u8],
        question: Option<&[u8]>,
    ) -> (Transcript, Option<SmpEvent>) {
        let mut rng = SeededRng::new(seed);
        let mut alice = Smp::new();
        let mut bob = Smp::new();
        let smp1 = alice.initiate(&mut rng, secret(alice_secret), question);
        assert!(alice.in_progress());
        let alice_expect2 = alice.clone();
        let asked = bob.receive(&mut rng, &smp1, start());
        assert_eq!(asked.reply, None);
        let asked = asked.event;
        assert!(bob.awaiting_answer() && bob.in_progress());
        let bob_asked = bob.clone();
        let smp2 = bob.respond(&mut rng, secret(bob_secret)).unwrap();
        assert_eq!(smp2.kind, tlv::SMP_2);
        let bob_expect3 = bob.clone();
        let third = alice.receive(&mut rng, &smp2, start());
        assert_eq!(third.event, None);
        let smp3 = third.reply.unwrap();
        assert_eq!(smp3.kind, tlv::SMP_3);
        let alice_expect4 = alice.clone();
        let fourth = bob.receive(&mut rng, &smp3, start());
        let smp4 = fourth.reply.unwrap();
        assert_eq!(smp4.kind, tlv::SMP_4);
        let last = alice.receive(&mut rng, &smp4, start());
        assert_eq!(last.reply, None);
        assert!(!alice.in_progress() && !bob.in_progress());
        let transcript = Transcript {
            smp1,
            alice_expect2,
            bob_asked,
            smp2,
            bob_expect3,
            smp3,
            alice_expect4,
            smp4,
            bob_event: fourth.event,
            alice_event: last.event,
        };
        (transcript, asked)
    }

    /// One honest exchange with equal secrets, shared by the forgery tests.
    fn honest() -> &'static Transcript {
        static HONEST: OnceLock<Transcript> = OnceLock::new();
        HONEST.get_or_init(|| run(b"honest", b"the secret", b"the secret", None).0)
    }

    fn deliver(smp: &Smp, tlv: &Tlv) -> (Smp, Received) {
        let mut smp = smp.clone();
        let received = smp.receive(&mut SeededRng::new(b"deliver"), tlv, start());
        (smp, received)
    }

    /// An SMP payload's MPIs (the test's own parser, so forgeries are built
    /// independently of the code under test).
    fn split(payload: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = Reader::new(payload);
        let count = reader.int("count").unwrap();
        let mpis = (0..count).map(|_| reader.mpi("mpi").unwrap().to_vec()).collect();
        reader.finish().unwrap();
        mpis
    }

    fn join(mpis: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = (mpis.len() as u32).to_be_bytes().to_vec();
        for mpi in mpis {
            bytes.extend_from_slice(&(mpi.len() as u32).to_be_bytes());
            bytes.extend_from_slice(mpi);
        }
        bytes
    }

    fn with_mpi(tlv: &Tlv, index: usize, value: &[u8]) -> Tlv {
        let mut mpis = split(&tlv.value);
        mpis[index] = value.to_vec();
        Tlv::new(tlv.kind, join(&mpis))
    }

    /// A message's name, the message, the state it is meant for, and which
    /// of its MPIs are group elements, D values and c values.
    type Target = (&'static str, &'static Tlv, Smp, Vec<usize>, Vec<usize>, Vec<usize>);

    fn targets() -> Vec<Target> {
        let honest = honest();
        vec![
            ("SMP1", &honest.smp1, Smp::new(), vec![0, 3], vec![2, 5], vec![1, 4]),
            ("SMP2", &honest.smp2, honest.alice_expect2.clone(), vec![0, 3, 6, 7], vec![2, 5, 9, 10], vec![1, 4, 8]),
            ("SMP3", &honest.smp3, honest.bob_expect3.clone(), vec![0, 1, 5], vec![3, 4, 7], vec![2, 6]),
            ("SMP4", &honest.smp4, honest.alice_expect4.clone(), vec![0], vec![2], vec![1]),
        ]
    }

    fn assert_cheated(name: &str, smp: &Smp, received: &Received, reason: &SmpError) {
        assert_eq!(received.event.as_ref(), Some(&SmpEvent::Cheated(reason.clone())), "{name}");
        assert_eq!(received.reply, abort(), "{name}");
        assert!(!smp.in_progress(), "{name}");
    }

    #[test]
    fn equal_secrets_succeed_on_both_sides() {
        let honest = honest();
        assert_eq!(honest.bob_event, Some(SmpEvent::Success));
        assert_eq!(honest.alice_event, Some(SmpEvent::Success));
        // Any bytes but NUL: UTF-8, and not.
        let question = [&b"Favourite colour? "[..], "\u{1f3a8}".as_bytes(), &[0xff, 0x01]].concat();
        let (transcript, asked) = run(b"question", b"blue", b"blue", Some(&question));
        assert_eq!(asked, Some(SmpEvent::Asked { question: Some(question.clone()) }));
        assert_eq!(transcript.smp1.kind, tlv::SMP_1_QUESTION);
        assert_eq!((transcript.bob_event, transcript.alice_event), (Some(SmpEvent::Success), Some(SmpEvent::Success)));
        let (_, asked) = run(b"empty question", b"blue", b"blue", Some(b""));
        assert_eq!(asked, Some(SmpEvent::Asked { question: Some(Vec::new()) }));
    }

    #[test]
    fn different_secrets_fail_on_both_sides() {
        for question in [None, Some(&b"Where did we meet?"[..])] {
            let (transcript, asked) = run(b"different", b"in Paris", b"in Rome", question);
            assert_eq!(asked, Some(SmpEvent::Asked { question: question.map(<[u8]>::to_vec) }));
            assert_eq!(transcript.bob_event, Some(SmpEvent::Failure));
            assert_eq!(transcript.alice_event, Some(SmpEvent::Failure));
        }
        // The same words under swapped roles are different secrets: the
        // fingerprints' order is part of x.
        let mut rng = SeededRng::new(b"roles");
        let (mut alice, mut bob) = (Smp::new(), Smp::new());
        let smp1 = alice.initiate(&mut rng, secret(b"same"), None);
        bob.receive(&mut rng, &smp1, start());
        let smp2 = bob.respond(&mut rng, smp_secret(&BOB_FP, &ALICE_FP, &SSID, b"same")).unwrap();
        let smp3 = alice.receive(&mut rng, &smp2, start()).reply.unwrap();
        let fourth = bob.receive(&mut rng, &smp3, start());
        assert_eq!(fourth.event, Some(SmpEvent::Failure));
        assert_eq!(alice.receive(&mut rng, &fourth.reply.unwrap(), start()).event, Some(SmpEvent::Failure));
    }

    #[test]
    fn the_secret_is_the_spec_hash() {
        use sha2::{Digest, Sha256};
        let mut input = vec![1u8];
        input.extend_from_slice(&ALICE_FP);
        input.extend_from_slice(&BOB_FP);
        input.extend_from_slice(&SSID);
        input.extend_from_slice(b"pass phrase");
        let digest = Sha256::digest(&input);
        let expected = BigUint::from_bytes_be(&digest).to_bytes_be();
        assert_eq!(&secret(b"pass phrase").to_secret_bytes()[..], &expected[..]);
        assert_ne!(
            smp_secret(&BOB_FP, &ALICE_FP, &SSID, b"pass phrase").to_secret_bytes(),
            secret(b"pass phrase").to_secret_bytes()
        );
    }

    #[test]
    fn smp1_from_a_fixed_rng_has_the_spec_layout_and_values() {
        let mut rng = SeededRng::new(b"smp1 known values");
        let mut mirror = rng.clone();
        let tlv = Smp::new().initiate(&mut rng, secret(b"known"), None);
        assert_eq!(tlv.kind, tlv::SMP_1);
        assert_eq!(&tlv.value[..4], [0, 0, 0, 6], "the INT count of 6 MPIs");

        // libotr's draws: a2, a3, r2, r3, each 192 random bytes.
        let mut draw = || {
            let mut bytes = [0u8; 192];
            mirror.fill(&mut bytes);
            BigUint::from_bytes_be(&bytes)
        };
        let (a2, a3, r2, r3) = (draw(), draw(), draw(), draw());
        let (p, q, g) = (p(), q(), BigUint::from(2u32));
        let mpi = |value: &BigUint| {
            let bytes = value.to_bytes_be();
            let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(&bytes);
            out
        };
        let proof = |version: u8, exponent: &BigUint, r: &BigUint| {
            use sha2::{Digest, Sha256};
            let mut input = vec![version];
            input.extend_from_slice(&mpi(&g.modpow(r, &p)));
            let c = BigUint::from_bytes_be(&Sha256::digest(&input));
            let d = ((r % &q) + &q - (exponent * &c) % &q) % &q;
            (c, d)
        };
        let (c2, d2) = proof(1, &a2, &r2);
        let (c3, d3) = proof(2, &a3, &r3);
        let mut expected = 6u32.to_be_bytes().to_vec();
        for value in [g.modpow(&a2, &p), c2, d2, g.modpow(&a3, &p), c3, d3] {
            expected.extend_from_slice(&mpi(&value));
        }
        assert_eq!(tlv.value, expected);

        let mpis = split(&tlv.value);
        assert_eq!(mpis.len(), 6);
        assert!(mpis[1].len() <= 32 && mpis[4].len() <= 32, "c values are SHA-256 digests");
        assert!(mpis.iter().all(|mpi| mpi.first() != Some(&0)), "MPIs at minimal length");
        // Pinned, so any change to the wire form shows.
        use sha2::{Digest, Sha256};
        let pinned: [u8; 32] = Sha256::digest(&tlv.value).into();
        assert_eq!(hex(&pinned), PINNED_SMP1);
    }

    const PINNED_SMP1: &str = "9f17ee6128fb10bd2eea85d935f9de5fc0ab2f63c8a7ff379c92f5e44f72b3f3";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn every_group_element_out_of_range_or_wrong_is_refused() {
        let (p, mut rng) = (p(), SeededRng::new(b"forged elements"));
        let p_minus_one = (&p - 1u32).to_bytes_be();
        for (name, message, state, elements, _, _) in targets() {
            for &index in &elements {
                for bad in [vec![], vec![0], vec![1], p_minus_one.clone(), p.to_bytes_be(), vec![0xff; 193]] {
                    let (after, received) = deliver(&state, &with_mpi(message, index, &bad));
                    assert!(
                        matches!(received.event, Some(SmpEvent::Cheated(SmpError::BadElement(_)))),
                        "{name} #{index}"
                    );
                    assert_eq!(received.reply, abort());
                    assert!(!after.in_progress());
                }
                // In range, but not the one the proofs were made for.
                let wrong = Element::g_pow(&Exponent::random_smp(&mut rng)).to_bytes();
                let (after, received) = deliver(&state, &with_mpi(message, index, &wrong));
                assert!(matches!(received.event, Some(SmpEvent::Cheated(SmpError::BadProof(_)))), "{name} #{index}");
                assert_eq!(received.reply, abort());
                assert!(!after.in_progress());
            }
        }
    }

    #[test]
    fn every_proof_value_out_of_range_or_wrong_is_refused() {
        let q = q();
        let mut rng = SeededRng::new(b"forged proofs");
        for (name, message, state, _, responses, hashes) in targets() {
            for &index in &responses {
                for bad in [vec![], vec![0], q.to_bytes_be(), (&q + 1u32).to_bytes_be(), vec![0xff; 192]] {
                    let (after, received) = deliver(&state, &with_mpi(message, index, &bad));
                    assert!(
                        matches!(received.event, Some(SmpEvent::Cheated(SmpError::BadExponent(_)))),
                        "{name} #{index}"
                    );
                    assert!(!after.in_progress());
                }
                let mut other = [0u8; 190];
                rng.fill(&mut other);
                let (_, received) = deliver(&state, &with_mpi(message, index, &other));
                assert!(matches!(received.event, Some(SmpEvent::Cheated(SmpError::BadProof(_)))), "{name} #{index}");
            }
            for &index in &hashes {
                let mut other = [0u8; 32];
                rng.fill(&mut other);
                let original = &split(&message.value)[index];
                let mut padded = vec![0u8; 1];
                padded.extend_from_slice(original);
                let mut longer = vec![1u8; 1];
                longer.extend_from_slice(original);
                // Libotr compares c as a number, and so do we: a leading
                // zero byte does not change it.
                let (after, received) = deliver(&state, &with_mpi(message, index, &padded));
                assert_ne!(
                    received.event.as_ref().map(|event| matches!(event, SmpEvent::Cheated(_))),
                    Some(true),
                    "{name} #{index}"
                );
                assert!(name == "SMP3" || name == "SMP4" || after.in_progress());
                for bad in [vec![], other.to_vec(), longer, vec![0xff; 200]] {
                    let (after, received) = deliver(&state, &with_mpi(message, index, &bad));
                    assert!(
                        matches!(received.event, Some(SmpEvent::Cheated(SmpError::BadProof(_)))),
                        "{name} #{index}"
                    );
                    assert_eq!(received.reply, abort());
                    assert!(!after.in_progress());
                }
            }
        }
    }

    #[test]
    fn the_coordinate_proof_binds_the_exchange() {
        // Bob's SMP2 from another exchange: its g2b and g3b proofs hold on
        // their own, but cP was made with another g2 and g3.
        let (other, _) = run(b"another exchange", b"the secret", b"the secret", None);
        let (after, received) = deliver(&honest().alice_expect2, &other.smp2);
        assert_cheated("SMP2", &after, &received, &SmpError::BadProof("cP"));
        let (after, received) = deliver(&honest().bob_expect3, &other.smp3);
        assert_cheated("SMP3", &after, &received, &SmpError::BadProof("cP"));
        let (after, received) = deliver(&honest().alice_expect4, &other.smp4);
        assert_cheated("SMP4", &after, &received, &SmpError::BadProof("cR"));
    }

    #[test]
    fn truncated_miscounted_or_padded_payloads_are_refused() {
        for (name, message, state, _, _, _) in targets() {
            for length in 0..message.value.len() {
                let truncated = Tlv::new(message.kind, message.value[..length].to_vec());
                let (after, received) = deliver(&state, &truncated);
                assert!(
                    matches!(received.event, Some(SmpEvent::Cheated(SmpError::Malformed(DecodeError::Truncated(_))))),
                    "{name} cut at {length}: {:?}",
                    received.event
                );
                assert_eq!(received.reply, abort());
                assert!(!after.in_progress());
            }
            let mut longer = message.value.clone();
            longer.push(0);
            let (_, received) = deliver(&state, &Tlv::new(message.kind, longer));
            assert_eq!(received.event, Some(SmpEvent::Cheated(SmpError::Malformed(DecodeError::TrailingBytes(1)))));
            let mpis = split(&message.value);
            let count = mpis.len() as u32;
            for wrong in [0, count - 1, count + 1, u32::MAX] {
                let mut value = message.value.clone();
                value[..4].copy_from_slice(&wrong.to_be_bytes());
                let (_, received) = deliver(&state, &Tlv::new(message.kind, value));
                assert_eq!(
                    received.event,
                    Some(SmpEvent::Cheated(SmpError::WrongCount { expected: count, found: wrong })),
                    "{name}"
                );
            }
            // One MPI too few or too many, with the count to match.
            let (_, received) = deliver(&state, &Tlv::new(message.kind, join(&mpis[1..])));
            assert!(matches!(received.event, Some(SmpEvent::Cheated(SmpError::WrongCount { .. }))));
            let mut more = mpis.clone();
            more.push(vec![2]);
            let (_, received) = deliver(&state, &Tlv::new(message.kind, join(&more)));
            assert!(matches!(received.event, Some(SmpEvent::Cheated(SmpError::WrongCount { .. }))));
        }
    }

    #[test]
    fn question_messages_without_their_nul_are_refused() {
        let honest = honest();
        for value in [Vec::new(), b"no terminator".to_vec(), honest.smp1.value.iter().map(|&byte| byte | 1).collect()] {
            let (_, received) = deliver(&Smp::new(), &Tlv::new(tlv::SMP_1_QUESTION, value));
            assert_eq!(received.event, Some(SmpEvent::Cheated(SmpError::UnterminatedQuestion)));
            assert_eq!(received.reply, abort());
        }
        // The NUL last: the question, then an empty SMP1.
        let (_, received) = deliver(&Smp::new(), &Tlv::new(tlv::SMP_1_QUESTION, b"question\0".to_vec()));
        assert!(matches!(received.event, Some(SmpEvent::Cheated(SmpError::Malformed(_)))));
        // A question with a NUL in it goes out cut at the NUL.
        let sent = Smp::new().initiate(&mut SeededRng::new(b"nul"), secret(b"s"), Some(b"first\0second"));
        let (_, received) = deliver(&Smp::new(), &sent);
        assert_eq!(received.event, Some(SmpEvent::Asked { question: Some(b"first".to_vec()) }));
        // Truncated at every length after the question.
        let question = [&b"why?\0"[..], &honest.smp1.value].concat();
        for length in 0..question.len() {
            let (after, received) = deliver(&Smp::new(), &Tlv::new(tlv::SMP_1_QUESTION, question[..length].to_vec()));
            assert!(matches!(received.event, Some(SmpEvent::Cheated(_))), "cut at {length}");
            assert!(!after.in_progress());
        }
        let (_, received) = deliver(&Smp::new(), &Tlv::new(tlv::SMP_1_QUESTION, question));
        assert_eq!(received.event, Some(SmpEvent::Asked { question: Some(b"why?".to_vec()) }));
    }

    #[test]
    fn messages_in_the_wrong_state_abort() {
        let honest = honest();
        let mut done = honest.alice_expect4.clone();
        done.receive(&mut SeededRng::new(b"done"), &honest.smp4, start());
        let states = [
            ("idle", Smp::new(), SmpMessage::Smp1),
            ("done", done, SmpMessage::Smp1),
            ("asked", honest.bob_asked.clone(), SmpMessage::Smp1),
            ("EXPECT2", honest.alice_expect2.clone(), SmpMessage::Smp2),
            ("EXPECT3", honest.bob_expect3.clone(), SmpMessage::Smp3),
            ("EXPECT4", honest.alice_expect4.clone(), SmpMessage::Smp4),
        ];
        let messages = [
            (SmpMessage::Smp1, &honest.smp1),
            (SmpMessage::Smp2, &honest.smp2),
            (SmpMessage::Smp3, &honest.smp3),
            (SmpMessage::Smp4, &honest.smp4),
        ];
        for (name, state, expecting) in &states {
            for &(message, tlv) in &messages {
                if message == *expecting {
                    continue;
                }
                let (after, received) = deliver(state, tlv);
                assert_cheated(
                    name,
                    &after,
                    &received,
                    &SmpError::Unexpected { received: message, expecting: *expecting },
                );
            }
        }
    }

    #[test]
    fn replayed_messages_are_refused() {
        let honest = honest();
        // Each message again, once the state has moved past it.
        let (bob, _) = deliver(&honest.bob_asked, &honest.smp1);
        assert!(bob.awaiting_answer(), "an SMP1 again before the answer restarts, as in libotr");
        let (after, received) = deliver(&honest.bob_expect3, &honest.smp1);
        assert_cheated(
            "SMP1 again",
            &after,
            &received,
            &SmpError::Unexpected { received: SmpMessage::Smp1, expecting: SmpMessage::Smp3 },
        );
        let (after, received) = deliver(&honest.alice_expect4, &honest.smp2);
        assert_cheated(
            "SMP2 again",
            &after,
            &received,
            &SmpError::Unexpected { received: SmpMessage::Smp2, expecting: SmpMessage::Smp4 },
        );
        let (bob_done, _) = deliver(&honest.bob_expect3, &honest.smp3);
        let (after, received) = deliver(&bob_done, &honest.smp3);
        assert_cheated(
            "SMP3 again",
            &after,
            &received,
            &SmpError::Unexpected { received: SmpMessage::Smp3, expecting: SmpMessage::Smp1 },
        );
        let (alice_done, _) = deliver(&honest.alice_expect4, &honest.smp4);
        let (after, received) = deliver(&alice_done, &honest.smp4);
        assert_cheated(
            "SMP4 again",
            &after,
            &received,
            &SmpError::Unexpected { received: SmpMessage::Smp4, expecting: SmpMessage::Smp1 },
        );
        // A whole exchange replayed to a new responder starts afresh: the
        // SMP1 checks out, but its SMP3 then does not fit our SMP2.
        let mut bob = Smp::new();
        let mut rng = SeededRng::new(b"replay");
        assert!(matches!(bob.receive(&mut rng, &honest.smp1, start()).event, Some(SmpEvent::Asked { .. })));
        bob.respond(&mut rng, secret(b"the secret")).unwrap();
        let received = bob.receive(&mut rng, &honest.smp3, start());
        assert_cheated("old SMP3", &bob, &received, &SmpError::BadProof("cP"));
    }

    #[test]
    fn either_side_can_abort_at_every_step() {
        let honest = honest();
        let mut rng = SeededRng::new(b"abort");
        // (who aborts, their state, the peer's state at that time, what the
        // peer would have sent next had it not heard of the abort)
        let steps = [
            ("Alice after SMP1", honest.alice_expect2.clone(), honest.bob_asked.clone(), Some(&honest.smp2)),
            ("Bob when asked", honest.bob_asked.clone(), honest.alice_expect2.clone(), None),
            ("Bob after SMP2", honest.bob_expect3.clone(), honest.alice_expect2.clone(), Some(&honest.smp2)),
            ("Alice after SMP3", honest.alice_expect4.clone(), honest.bob_expect3.clone(), Some(&honest.smp4)),
            ("Alice before SMP2", honest.alice_expect2.clone(), honest.bob_expect3.clone(), Some(&honest.smp3)),
        ];
        for (name, mut aborter, mut peer, late) in steps {
            assert!(aborter.in_progress() && peer.in_progress(), "{name}");
            let tlv = aborter.abort();
            assert_eq!(tlv, abort_tlv());
            assert!(tlv.value.is_empty());
            assert!(!aborter.in_progress(), "{name}");
            let received = peer.receive(&mut rng, &tlv, start());
            assert_eq!(received, Received { reply: None, event: Some(SmpEvent::Aborted) }, "{name}");
            assert!(!peer.in_progress(), "{name}");
            assert_eq!(peer.respond(&mut rng, secret(b"late")), Err(SmpError::NotAsked));
            // A message the peer sent before the abort reached it.
            if let Some(late) = late {
                let received = aborter.receive(&mut rng, late, start());
                assert!(matches!(received.event, Some(SmpEvent::Cheated(SmpError::Unexpected { .. }))), "{name}");
                assert_eq!(received.reply, abort());
            }
        }
        // An abort with nothing under way is still reported, as libotr does.
        let mut idle = Smp::new();
        assert_eq!(idle.receive(&mut rng, &abort_tlv(), start()).event, Some(SmpEvent::Aborted));
        // And a fresh exchange works after an abort.
        let mut alice = honest.alice_expect4.clone();
        alice.abort();
        let mut bob = Smp::new();
        let smp1 = alice.initiate(&mut rng, secret(b"again"), None);
        bob.receive(&mut rng, &smp1, start());
        let smp2 = bob.respond(&mut rng, secret(b"again")).unwrap();
        let smp3 = alice.receive(&mut rng, &smp2, start()).reply.unwrap();
        let fourth = bob.receive(&mut rng, &smp3, start());
        assert_eq!(fourth.event, Some(SmpEvent::Success));
        assert_eq!(alice.receive(&mut rng, &fourth.reply.unwrap(), start()).event, Some(SmpEvent::Success));
    }

    #[test]
    fn initiating_again_restarts() {
        let mut rng = SeededRng::new(b"restart");
        let (mut alice, mut bob) = (Smp::new(), Smp::new());
        let first = alice.initiate(&mut rng, secret(b"one"), Some(b"first?"));
        assert!(matches!(bob.receive(&mut rng, &first, start()).event, Some(SmpEvent::Asked { .. })));
        let second = alice.initiate(&mut rng, secret(b"two"), Some(b"second?"));
        assert_ne!(first, second);
        assert_eq!(
            bob.receive(&mut rng, &second, start()).event,
            Some(SmpEvent::Asked { question: Some(b"second?".to_vec()) })
        );
        let smp2 = bob.respond(&mut rng, secret(b"two")).unwrap();
        let smp3 = alice.receive(&mut rng, &smp2, start()).reply.unwrap();
        let fourth = bob.receive(&mut rng, &smp3, start());
        assert_eq!(fourth.event, Some(SmpEvent::Success));
        assert_eq!(alice.receive(&mut rng, &fourth.reply.unwrap(), start()).event, Some(SmpEvent::Success));
    }

    #[test]
    fn restarts_beyond_the_limit_are_refused_unread() {
        let honest = honest();
        let mut rng = SeededRng::new(b"flood");
        let mut bob = Smp::new();
        let t = start();
        for second in 0..RESTART_LIMIT as u64 {
            let received = bob.receive(&mut rng, &honest.smp1, t + Duration::from_secs(second));
            assert_eq!(received.event, Some(SmpEvent::Asked { question: None }));
        }
        let limited = Received { reply: abort(), event: Some(SmpEvent::RateLimited) };
        assert_eq!(bob.receive(&mut rng, &honest.smp1, t + Duration::from_secs(10)), limited);
        assert!(!bob.in_progress());
        // Refused unread: a garbage SMP1 is not even parsed.
        assert_eq!(bob.receive(&mut rng, &Tlv::new(tlv::SMP_1, vec![1, 2, 3]), t + Duration::from_secs(20)), limited);
        assert_eq!(bob.receive(&mut rng, &Tlv::new(tlv::SMP_1_QUESTION, vec![]), t + Duration::from_secs(30)), limited);
        // Other messages are not limited (they cost nothing out of state).
        let received = bob.receive(&mut rng, &honest.smp2, t + Duration::from_secs(30));
        assert!(matches!(received.event, Some(SmpEvent::Cheated(SmpError::Unexpected { .. }))));
        // Refused SMP1s count too: a steady flood (one every 10 s, more
        // than five a minute) stays refused...
        for second in [40, 50, 60, 70, 80] {
            assert_eq!(bob.receive(&mut rng, &honest.smp1, t + Duration::from_secs(second)), limited, "at {second}s");
        }
        // ...until the window holds fewer than the limit again: the last
        // five came at 40..80 s, so at 100 s only four are within 60 s.
        let later = t + Duration::from_secs(100);
        assert_eq!(bob.receive(&mut rng, &honest.smp1, later).event, Some(SmpEvent::Asked { question: None }));
        // A clock that went backwards does not panic.
        assert!(bob.receive(&mut rng, &honest.smp1, t).event.is_some());
    }

    #[test]
    fn calls_out_of_turn_and_other_tlvs() {
        let mut rng = SeededRng::new(b"out of turn");
        let mut smp = Smp::new();
        assert_eq!(smp.respond(&mut rng, secret(b"x")), Err(SmpError::NotAsked));
        let mut alice = honest().alice_expect2.clone();
        assert_eq!(alice.respond(&mut rng, secret(b"x")), Err(SmpError::NotAsked));
        assert!(alice.in_progress(), "a refused call changes nothing");
        for kind in [tlv::PADDING, tlv::DISCONNECTED, tlv::EXTRA_SYMMETRIC_KEY, 9, u16::MAX] {
            assert_eq!(alice.receive(&mut rng, &Tlv::new(kind, vec![0; 4]), start()), Received::default());
            assert!(alice.in_progress());
        }
    }

    #[test]
    fn debug_shows_no_secrets() {
        let honest = honest();
        assert_eq!(format!("{:?}", Smp::new()), r#"Smp { state: "EXPECT1" }"#);
        assert_eq!(format!("{:?}", honest.bob_asked), r#"Smp { state: "EXPECT1 (asked)" }"#);
        assert_eq!(format!("{:?}", honest.alice_expect2), r#"Smp { state: "EXPECT2" }"#);
        assert_eq!(format!("{:?}", honest.bob_expect3), r#"Smp { state: "EXPECT3" }"#);
        assert_eq!(format!("{:?}", honest.alice_expect4), r#"Smp { state: "EXPECT4" }"#);
        assert_eq!(format!("{:?}", secret(b"x")), "Exponent(..)");
    }

    #[test]
    fn timing_of_a_full_exchange() {
        let started = Instant::now();
        let (transcript, _) = run(b"timing", b"s", b"s", None);
        let elapsed = started.elapsed();
        assert_eq!(transcript.alice_event, Some(SmpEvent::Success));
        eprintln!("a full SMP (both sides, all four messages) took {elapsed:?}");
    }

    /// Every message of an exchange checked with the spec's formulas, written
    /// again here with num-bigint as libotr's verifier does them, so a wrong
    /// version byte or a swapped operand on both of our sides cannot hide.
    #[test]
    fn the_wire_messages_satisfy_the_spec_formulas() {
        use sha2::{Digest, Sha256};
        let (p, g) = (p(), BigUint::from(2u32));
        let mut alice_rng = SeededRng::new(b"alice");
        let mut mirror = alice_rng.clone();
        let mut bob_rng = SeededRng::new(b"bob");
        let (mut alice, mut bob) = (Smp::new(), Smp::new());
        let smp1 = alice.initiate(&mut alice_rng, secret(b"formula"), None);
        bob.receive(&mut bob_rng, &smp1, start());
        let smp2 = bob.respond(&mut bob_rng, secret(b"formula")).unwrap();
        let smp3 = alice.receive(&mut alice_rng, &smp2, start()).reply.unwrap();
        let smp4 = bob.receive(&mut bob_rng, &smp3, start()).reply.unwrap();
        assert_eq!(alice.receive(&mut alice_rng, &smp4, start()).event, Some(SmpEvent::Success));

        let numbers = |tlv: &Tlv| split(&tlv.value).iter().map(|mpi| BigUint::from_bytes_be(mpi)).collect::<Vec<_>>();
        let mpi = |value: &BigUint| {
            let bytes = value.to_bytes_be();
            [&(bytes.len() as u32).to_be_bytes()[..], &bytes].concat()
        };
        let h = |version: u8, first: &BigUint, second: Option<&BigUint>| {
            let mut input = vec![version];
            input.extend_from_slice(&mpi(first));
            if let Some(second) = second {
                input.extend_from_slice(&mpi(second));
            }
            BigUint::from_bytes_be(&Sha256::digest(&input))
        };
        let pow = |base: &BigUint, exponent: &BigUint| base.modpow(exponent, &p);
        let mul = |a: &BigUint, b: &BigUint| (a * b) % &p;
        let div = |a: &BigUint, b: &BigUint| mul(a, &pow(b, &(&p - 2u32)));
        let mut draw = || {
            let mut bytes = [0u8; 192];
            mirror.fill(&mut bytes);
            BigUint::from_bytes_be(&bytes)
        };
        let (a2, a3) = (draw(), draw());

        let m1 = numbers(&smp1);
        let (g2a, c2, d2, g3a, c3, d3) = (&m1[0], &m1[1], &m1[2], &m1[3], &m1[4], &m1[5]);
        assert_eq!(g2a, &pow(&g, &a2));
        assert_eq!(g3a, &pow(&g, &a3));
        assert_eq!(c2, &h(1, &mul(&pow(&g, d2), &pow(g2a, c2)), None));
        assert_eq!(c3, &h(2, &mul(&pow(&g, d3), &pow(g3a, c3)), None));

        let m2 = numbers(&smp2);
        let (g2b, c2, d2, g3b, c3, d3) = (&m2[0], &m2[1], &m2[2], &m2[3], &m2[4], &m2[5]);
        let (pb, qb, cp, d5, d6) = (&m2[6], &m2[7], &m2[8], &m2[9], &m2[10]);
        assert_eq!(c2, &h(3, &mul(&pow(&g, d2), &pow(g2b, c2)), None));
        assert_eq!(c3, &h(4, &mul(&pow(&g, d3), &pow(g3b, c3)), None));
        let (g2, g3) = (pow(g2b, &a2), pow(g3b, &a3));
        let first = mul(&pow(&g3, d5), &pow(pb, cp));
        let second = mul(&mul(&pow(&g, d5), &pow(&g2, d6)), &pow(qb, cp));
        assert_eq!(cp, &h(5, &first, Some(&second)));

        let m3 = numbers(&smp3);
        let (pa, qa, cp, d5, d6, ra, cr, d7) = (&m3[0], &m3[1], &m3[2], &m3[3], &m3[4], &m3[5], &m3[6], &m3[7]);
        let first = mul(&pow(&g3, d5), &pow(pa, cp));
        let second = mul(&mul(&pow(&g, d5), &pow(&g2, d6)), &pow(qa, cp));
        assert_eq!(cp, &h(6, &first, Some(&second)));
        let qab = div(qa, qb);
        assert_eq!(ra, &pow(&qab, &a3));
        assert_eq!(cr, &h(7, &mul(&pow(&g, d7), &pow(g3a, cr)), Some(&mul(&pow(&qab, d7), &pow(ra, cr)))));

        let m4 = numbers(&smp4);
        let (rb, cr, d7) = (&m4[0], &m4[1], &m4[2]);
        assert_eq!(cr, &h(8, &mul(&pow(&g, d7), &pow(g3b, cr)), Some(&mul(&pow(&qab, d7), &pow(rb, cr)))));
        assert_eq!(pow(rb, &a3), div(pa, pb), "Rab = Pa/Pb: the secrets match");
    }
}
