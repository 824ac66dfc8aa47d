//! The client side of the SCRAM exchange (RFC 5802 §3 "SCRAM Algorithm Overview", §5 "SCRAM
//! Authentication Exchange").
//!
//! ```text
//!   client-first  ──►  n,,n=user,r=<client nonce>
//!   server-first  ◄──  r=<client nonce><server nonce>,s=<salt>,i=<iterations>
//!   client-final  ──►  c=<base64(gs2 header ‖ binding data)>,r=<nonce>,p=<ClientProof>
//!   server-final  ◄──  v=<ServerSignature>   or   e=<error>
//! ```
//!
//! [`ScramClient`] permits each step only in the state that justifies it, like the rest of the
//! crypto process: it is never a general "prove this" oracle. Any failure, and any step out of
//! order, finishes it; the password is dropped (and wiped) as soon as the proof is computed.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::digest::Digest;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::choice::{ChannelBinding, Gs2CbindFlag};
use super::error::ScramError;
use super::mechanisms::{Hash, Mechanism};
use super::messages::{
    is_printable, parse_server_final, parse_server_first, saslname, ServerFinal,
};

/// RFC 7677 §4: "The hash iteration-count announced by a server SHOULD be at least 4096." Fewer
/// makes a stolen server
/// database cheap to crack, and a server asking for fewer is misconfigured or not the server.
pub const MIN_ITERATIONS: u32 = 4096;

/// Burrow's own cap. PBKDF2 costs the client as much as the server asks for: 10 000 000 rounds
/// took 0.9 s with SHA-1 and 3.3 s with SHA-512 on the development machine (release build), about
/// as long as a login may reasonably hang. Anything above is refused rather than letting a
/// hostile server pin a CPU; real servers use 4096 to a few hundred thousand.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// Random bytes in the client nonce: 24 give 192 bits, base64 to 32 characters (never a `,`).
const NONCE_BYTES: usize = 24;

enum State {
    /// Built; the client-first message has not been asked for.
    Start { password: Zeroizing<String> },
    /// client-first sent; waiting for server-first.
    AwaitingServerFirst { password: Zeroizing<String> },
    /// client-final sent; waiting for server-final, knowing what its signature must be.
    AwaitingServerFinal {
        server_signature: Zeroizing<Vec<u8>>,
    },
    /// Succeeded, failed, or was driven out of order. Nothing more is possible.
    Finished,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Start { .. } => "start",
            State::AwaitingServerFirst { .. } => "awaiting server-first",
            State::AwaitingServerFinal { .. } => "awaiting server-final",
            State::Finished => "finished",
        }
    }
}

/// One SCRAM login attempt, from client-first to server-final.
pub struct ScramClient {
    mechanism: Mechanism,
    gs2_header: String,
    /// The GS2 header followed by the channel-binding data (for `-PLUS`): `c=` is its base64.
    cbind_input: Vec<u8>,
    client_nonce: String,
    client_first_bare: String,
    state: State,
}

impl fmt::Debug for ScramClient {
    /// Mechanism, header and state only; never the password or any key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism.name())
            .field("gs2_header", &self.gs2_header)
            .field("state", &self.state.name())
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A login as `username` with `mechanism` and the `flag` chosen by [`super::choose`]. For a
    /// `-PLUS` mechanism `flag` must be `p=` with the type of `binding`, and `binding` must hold
    /// data; otherwise `binding` is not sent. The client nonce comes from the operating system.
    pub fn new(
        mechanism: Mechanism,
        flag: Gs2CbindFlag,
        username: &str,
        password: Zeroizing<String>,
        binding: Option<&ChannelBinding>,
    ) -> Result<ScramClient, ScramError> {
        let mut random = Zeroizing::new([0u8; NONCE_BYTES]);
        getrandom::fill(random.as_mut_slice()).map_err(ScramError::Random)?;
        let nonce = BASE64.encode(random.as_slice());
        ScramClient::with_nonce(mechanism, flag, username, password, binding, nonce)
    }

    /// [`ScramClient::new`] with the client nonce given, so tests can replay published vectors.
    pub(crate) fn with_nonce(
        mechanism: Mechanism,
        flag: Gs2CbindFlag,
        username: &str,
        password: Zeroizing<String>,
        binding: Option<&ChannelBinding>,
        client_nonce: String,
    ) -> Result<ScramClient, ScramError> {
        let binding_data: &[u8] = match (mechanism.plus, flag, binding) {
            (true, Gs2CbindFlag::P(kind), Some(b)) if b.kind == kind && !b.data.is_empty() => {
                &b.data
            }
            (false, Gs2CbindFlag::N | Gs2CbindFlag::Y, _) => &[],
            _ => return Err(ScramError::BindingMismatch),
        };
        if !is_printable(&client_nonce) {
            return Err(ScramError::Internal("the client nonce is not printable"));
        }
        let gs2_header = flag.gs2_header();
        let mut cbind_input = Vec::with_capacity(gs2_header.len() + binding_data.len());
        cbind_input.extend_from_slice(gs2_header.as_bytes());
        cbind_input.extend_from_slice(binding_data);
        let client_first_bare = format!("n={},r={client_nonce}", saslname(username)?);
        Ok(ScramClient {
            mechanism,
            gs2_header,
            cbind_input,
            client_nonce,
            client_first_bare,
            state: State::Start { password },
        })
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// True once the exchange is over, whether it succeeded or not.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// The client-first message: GS2 header, then `n=<saslname>,r=<client nonce>`.
    pub fn client_first(&mut self) -> Result<Vec<u8>, ScramError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Start { password } => {
                self.state = State::AwaitingServerFirst { password };
                Ok(format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes())
            }
            _ => Err(ScramError::OutOfOrder("client-first")),
        }
    }

    /// Checks the server-first message and answers with the client-final message.
    pub fn handle_server_first(&mut self, message: &[u8]) -> Result<Vec<u8>, ScramError> {
        let State::AwaitingServerFirst { password } =
            std::mem::replace(&mut self.state, State::Finished)
        else {
            return Err(ScramError::OutOfOrder("server-first"));
        };
        let message = std::str::from_utf8(message)
            .map_err(|_| ScramError::Malformed("the server-first message is not UTF-8"))?;
        let server_first = parse_server_first(message)?;
        // §5.1: the client "MUST verify that the initial part of the nonce … is the same as the
        // nonce it initially specified". The server's own part may be empty in the grammar.
        if !server_first.nonce.starts_with(self.client_nonce.as_str()) {
            return Err(ScramError::NonceMismatch);
        }
        if server_first.iterations < MIN_ITERATIONS {
            return Err(ScramError::TooFewIterations(server_first.iterations));
        }
        if server_first.iterations > MAX_ITERATIONS {
            return Err(ScramError::TooManyIterations(server_first.iterations));
        }

        let without_proof = format!(
            "c={},r={}",
            BASE64.encode(&self.cbind_input),
            server_first.nonce
        );
        let auth_message = Zeroizing::new(format!(
            "{},{message},{without_proof}",
            self.client_first_bare
        ));
        let keys = match self.mechanism.hash {
            Hash::Sha1 => derive::<sha1::Sha1>(
                &password,
                &server_first.salt,
                server_first.iterations,
                &auth_message,
            ),
            Hash::Sha256 => derive::<sha2::Sha256>(
                &password,
                &server_first.salt,
                server_first.iterations,
                &auth_message,
            ),
            Hash::Sha512 => derive::<sha2::Sha512>(
                &password,
                &server_first.salt,
                server_first.iterations,
                &auth_message,
            ),
        }?;
        drop(password);

        let client_final = format!(
            "{without_proof},p={}",
            BASE64.encode(keys.client_proof.as_slice())
        );
        self.state = State::AwaitingServerFinal {
            server_signature: keys.server_signature,
        };
        Ok(client_final.into_bytes())
    }

    /// Checks the server-final message: `Ok(())` only if the server proved that it knows the
    /// password's salted form (compared in constant time). This, not the XMPP `<success/>`, is
    /// what makes the login good: a `<success/>` without a `v=` that passes here must be treated
    /// as a failed login, or a man in the middle could skip proving anything.
    pub fn handle_server_final(&mut self, message: &[u8]) -> Result<(), ScramError> {
        let State::AwaitingServerFinal { server_signature } =
            std::mem::replace(&mut self.state, State::Finished)
        else {
            return Err(ScramError::OutOfOrder("server-final"));
        };
        let message = std::str::from_utf8(message)
            .map_err(|_| ScramError::Malformed("the server-final message is not UTF-8"))?;
        match parse_server_final(message)? {
            // Lengths are public (fixed by the hash); `ct_eq` compares the bytes in constant time.
            ServerFinal::Verifier(received)
                if bool::from(server_signature.as_slice().ct_eq(&received)) =>
            {
                Ok(())
            }
            ServerFinal::Verifier(_) => Err(ScramError::ServerSignatureMismatch),
            ServerFinal::Error(value) => Err(ScramError::from_server_error_value(value)),
        }
    }
}

/// What the client keeps from §3's key derivation: the proof to send and the signature to expect.
struct Proof {
    client_proof: Zeroizing<Vec<u8>>,
    server_signature: Zeroizing<Vec<u8>>,
}

/// RFC 5802 §3, step by step:
///
/// ```text
/// SaltedPassword  := Hi(Normalize(password), salt, i)     (Hi = PBKDF2 with HMAC)
/// ClientKey       := HMAC(SaltedPassword, "Client Key")
/// StoredKey       := H(ClientKey)
/// ClientSignature := HMAC(StoredKey, AuthMessage)
/// ClientProof     := ClientKey XOR ClientSignature
/// ServerKey       := HMAC(SaltedPassword, "Server Key")
/// ServerSignature := HMAC(ServerKey, AuthMessage)
/// ```
///
/// `Normalize` (SASLprep) is the identity here; see the module documentation.
fn derive<D: EagerHash>(
    password: &str,
    salt: &[u8],
    iterations: u32,
    auth_message: &str,
) -> Result<Proof, ScramError> {
    let mut salted_password = Zeroizing::new(vec![0u8; <D as Digest>::output_size()]);
    pbkdf2::pbkdf2_hmac::<D>(password.as_bytes(), salt, iterations, &mut salted_password);

    let client_key = hmac::<D>(&salted_password, b"Client Key")?;
    let mut stored_key_array = D::digest(client_key.as_slice());
    let stored_key = Zeroizing::new(stored_key_array.to_vec());
    stored_key_array.as_mut_slice().zeroize();
    let client_signature = hmac::<D>(&stored_key, auth_message.as_bytes())?;
    let mut client_proof = Zeroizing::new(client_key.to_vec());
    client_proof
        .iter_mut()
        .zip(client_signature.iter())
        .for_each(|(p, s)| *p ^= s);

    let server_key = hmac::<D>(&salted_password, b"Server Key")?;
    let server_signature = hmac::<D>(&server_key, auth_message.as_bytes())?;
    Ok(Proof {
        client_proof,
        server_signature,
    })
}

fn hmac<D: EagerHash>(key: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>, ScramError> {
    // HMAC takes keys of any length, so this cannot fail; it is mapped rather than unwrapped.
    let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key)
        .map_err(|_| ScramError::Internal("HMAC refused a key"))?;
    mac.update(data);
    let mut array = mac.finalize().into_bytes();
    let out = Zeroizing::new(array.to_vec());
    array.as_mut_slice().zeroize();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scram::choice::BindingKind;

    fn client(
        hash: Hash,
        flag: Gs2CbindFlag,
        binding: Option<&ChannelBinding>,
        user: &str,
        password: &str,
        nonce: &str,
    ) -> ScramClient {
        let mechanism = Mechanism {
            hash,
            plus: matches!(flag, Gs2CbindFlag::P(_)),
        };
        ScramClient::with_nonce(
            mechanism,
            flag,
            user,
            Zeroizing::new(password.to_owned()),
            binding,
            nonce.to_owned(),
        )
        .unwrap()
    }

    /// Runs a whole exchange and checks every message we produce against the expected text.
    fn run(
        mut c: ScramClient,
        client_first: &str,
        server_first: &str,
        client_final: &str,
        server_final: &str,
    ) {
        assert_eq!(
            String::from_utf8(c.client_first().unwrap()).unwrap(),
            client_first
        );
        assert_eq!(
            String::from_utf8(c.handle_server_first(server_first.as_bytes()).unwrap()).unwrap(),
            client_final
        );
        c.handle_server_final(server_final.as_bytes()).unwrap();
        assert!(c.is_finished());
    }

    /// RFC 5802 §5, SCRAM-SHA-1.
    const RFC5802_SERVER_FIRST: &str =
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";

    fn rfc5802_client() -> ScramClient {
        client(
            Hash::Sha1,
            Gs2CbindFlag::N,
            None,
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL",
        )
    }

    #[test]
    fn rfc_5802_example() {
        run(
            rfc5802_client(),
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            RFC5802_SERVER_FIRST,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        );
    }

    /// RFC 7677 §3, SCRAM-SHA-256.
    const RFC7677_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    #[test]
    fn rfc_7677_example() {
        run(
            client(
                Hash::Sha256,
                Gs2CbindFlag::N,
                None,
                "user",
                "pencil",
                "rOprNGfwEbeRWgbNEkqO",
            ),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            RFC7677_SERVER_FIRST,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
    }

    // The vectors below have no RFC. Their expected strings were computed independently of this
    // code, with Python 3's hashlib.pbkdf2_hmac, hmac and base64, by a 20-line script that first
    // reproduced the RFC 5802 and RFC 7677 vectors above exactly. Its core, for the record:
    //   sp = hashlib.pbkdf2_hmac(h, pw, salt, i); ck = hmac.new(sp, b"Client Key", h).digest()
    //   sk = hashlib.new(h, ck).digest(); cs = hmac.new(sk, am, h).digest()
    //   proof = xor(ck, cs); ss = hmac.new(hmac.new(sp, b"Server Key", h).digest(), am, h).digest()

    #[test]
    fn sha512_vector() {
        run(
            client(
                Hash::Sha512,
                Gs2CbindFlag::N,
                None,
                "user",
                "pencil",
                "rOprNGfwEbeRWgbNEkqO",
            ),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO02431b08-2f89-4bad-a4e6-80c0564ec865,\
             s=Yin2FuHTt/M0kJWb0t9OI32n2VmOGi3m+JfjOvuDF88=,i=4096",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO02431b08-2f89-4bad-a4e6-80c0564ec865,\
             p=Hc5yec3NmCD7t+kFRw4/3yD6/F3SQHc7AVYschRja+Bc3sbdjlA0eH1OjJc0DD4ghn1tnXN5/Wr6qm9xmaHt4A==",
            "v=BQuhnKHqYDwQWS5jAw4sZed+C9KFUALsbrq81bB0mh+bcUUbbMPNNmBIupnS2AmyyDnG5CTBQtkjJ9kyY4kzmw==",
        );
    }

    #[test]
    fn sha256_plus_tls_exporter_vector() {
        // 32 bytes 0x00..=0x1f standing in for the RFC 9266 exporter output.
        let binding = ChannelBinding {
            kind: BindingKind::TlsExporter,
            data: (0u8..32).collect(),
        };
        let mut c = client(
            Hash::Sha256,
            Gs2CbindFlag::P(BindingKind::TlsExporter),
            Some(&binding),
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
        );
        assert_eq!(
            c.client_first().unwrap(),
            b"p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let client_final = c
            .handle_server_first(
                b"r=rOprNGfwEbeRWgbNEkqOsrvnonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        let client_final = String::from_utf8(client_final).unwrap();
        // c= is base64("p=tls-exporter,," followed by the 32 binding bytes).
        let c_attr = client_final.split(',').next().unwrap();
        assert_eq!(
            c_attr,
            "c=cD10bHMtZXhwb3J0ZXIsLAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
        );
        assert_eq!(
            client_final,
            "c=cD10bHMtZXhwb3J0ZXIsLAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f,\
             r=rOprNGfwEbeRWgbNEkqOsrvnonce,p=SHR57IkzuJL5+qSEMUvztC0zuGOEO/hMuDVvV+vtjiw="
        );
        c.handle_server_final(b"v=ePVD/ORkmlgXWZEZUbuY8Rjvw+U6VrIOvOcMVyZIf9U=")
            .unwrap();
    }

    #[test]
    fn sha512_plus_tls_server_end_point_escaped_name_non_ascii_password() {
        // 64 bytes 0xa0, 0xa1, … standing in for a SHA-512 certificate hash (RFC 5929).
        let data: Vec<u8> = (0u8..64).map(|k| k.wrapping_add(0xa0)).collect();
        let binding = ChannelBinding {
            kind: BindingKind::TlsServerEndPoint,
            data,
        };
        run(
            client(
                Hash::Sha512,
                Gs2CbindFlag::P(BindingKind::TlsServerEndPoint),
                Some(&binding),
                "us=er,1",
                "pässwörd",
                "Q1ientNonce+/Q1ientNonce+/Q1ient",
            ),
            "p=tls-server-end-point,,n=us=3Der=2C1,r=Q1ientNonce+/Q1ientNonce+/Q1ient",
            "r=Q1ientNonce+/Q1ientNonce+/Q1ientSERVER,s=TmFDbC1zYWx0,i=5000",
            "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsoKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr/AwcLDxMXGx8jJysvMzc7P0NHS09TV1tfY2drb3N3e3w==,\
             r=Q1ientNonce+/Q1ientNonce+/Q1ientSERVER,\
             p=HUlpHUvIWzkLau2Z4YlgkHBIhIkI+rydujfpcn3BrjEya9hsiqy3DhXDuhn7RJvAGY0IyZ+zcsHiPxeR0MIQuQ==",
            "v=Tp02zxx1Z0PllsWa5Ws1FwG0FAwKkkIQiyEXqwX8ts8/gVoUt35WtMLENCJRn63HSoZFrtegV44Xer2Cwi9q9g==",
        );
    }

    #[test]
    fn y_flag_goes_into_header_and_c() {
        let binding = ChannelBinding {
            kind: BindingKind::TlsExporter,
            data: vec![9; 32],
        };
        let mut c = client(
            Hash::Sha1,
            Gs2CbindFlag::Y,
            Some(&binding),
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL",
        );
        assert_eq!(
            c.client_first().unwrap(),
            b"y,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let client_final = c
            .handle_server_first(RFC5802_SERVER_FIRST.as_bytes())
            .unwrap();
        // base64("y,,") and no binding data: a client not using binding never sends any.
        assert!(client_final.starts_with(b"c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p="));
    }

    #[test]
    fn wrong_server_signature_is_refused_and_finishes_the_client() {
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        c.handle_server_first(RFC5802_SERVER_FIRST.as_bytes())
            .unwrap();
        // The RFC's signature with its last byte changed (…KQ= → …KA=).
        let err = c
            .handle_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKA=")
            .unwrap_err();
        assert!(matches!(err, ScramError::ServerSignatureMismatch));
        assert_eq!(err.code(), "server-signature");
        assert_eq!(
            err.to_string(),
            "the server's signature did not match: it does not know this account's password, or \
             someone is in the middle"
        );
        assert!(c.is_finished());
        // The right signature, too late: the state is gone.
        assert!(matches!(
            c.handle_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
            Err(ScramError::OutOfOrder("server-final"))
        ));
    }

    #[test]
    fn truncated_server_signature_is_refused() {
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        c.handle_server_first(RFC5802_SERVER_FIRST.as_bytes())
            .unwrap();
        assert!(matches!(
            c.handle_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkF"),
            Err(ScramError::ServerSignatureMismatch)
        ));
    }

    #[test]
    fn nonce_not_extending_ours_is_refused() {
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        let err = c
            .handle_server_first(
                b"r=fyko+d2lbbFgONRv9qkxdawX3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            )
            .unwrap_err();
        assert!(matches!(err, ScramError::NonceMismatch));
        assert!(c.is_finished());
        // A prefix of our nonce does not extend it either.
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        assert!(matches!(
            c.handle_server_first(b"r=fyko+d2lbbFgONRv9,s=QSXCR+Q6sek8bf92,i=4096"),
            Err(ScramError::NonceMismatch)
        ));
    }

    #[test]
    fn iteration_count_bounds() {
        let cases: [(&[u8], u32); 3] =
            [(b"i=1", 1), (b"i=4095", 4095), (b"i=10000001", 10_000_001)];
        for (iterations, expected) in cases {
            let mut c = rfc5802_client();
            c.client_first().unwrap();
            let mut msg =
                b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,".to_vec();
            msg.extend_from_slice(iterations);
            match c.handle_server_first(&msg).unwrap_err() {
                ScramError::TooFewIterations(n) => assert!(n == expected && n < MIN_ITERATIONS),
                ScramError::TooManyIterations(n) => assert!(n == expected && n > MAX_ITERATIONS),
                other => panic!("{other:?}"),
            }
        }
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        let err = c
            .handle_server_first(
                b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=1",
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the server asked for too few iterations (1)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_mandatory_extension_is_refused() {
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        let err = c
            .handle_server_first(format!("m=ext,{RFC5802_SERVER_FIRST}").as_bytes())
            .unwrap_err();
        assert!(matches!(err, ScramError::UnknownMandatoryExtension));
    }

    #[test]
    fn bad_salt_is_refused() {
        for msg in [
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=,i=4096",
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=not*base64,i=4096",
        ] {
            let mut c = rfc5802_client();
            c.client_first().unwrap();
            assert!(
                matches!(
                    c.handle_server_first(msg.as_bytes()),
                    Err(ScramError::Malformed(_))
                ),
                "{msg}"
            );
        }
    }

    #[test]
    fn non_utf8_server_first_is_malformed() {
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        assert!(matches!(
            c.handle_server_first(b"r=fyko+d2lbbFgONRv9qkxdawL\xff,s=QSXCR+Q6sek8bf92,i=4096"),
            Err(ScramError::Malformed(
                "the server-first message is not UTF-8"
            ))
        ));
    }

    #[test]
    fn server_error_in_server_final() {
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        c.handle_server_first(RFC5802_SERVER_FIRST.as_bytes())
            .unwrap();
        let err = c.handle_server_final(b"e=invalid-proof").unwrap_err();
        assert!(matches!(&err, ScramError::ServerRejected(code) if code == "invalid-proof"));
        assert!(!err.is_channel_binding_rejection());
        assert_eq!(
            err.to_string(),
            "the server refused the login: the password is wrong (invalid-proof)"
        );
        assert!(c.is_finished());
    }

    #[test]
    fn channel_binding_refusal_in_server_final_is_told_apart() {
        let binding = ChannelBinding {
            kind: BindingKind::TlsExporter,
            data: vec![1; 32],
        };
        let mut c = client(
            Hash::Sha1,
            Gs2CbindFlag::P(BindingKind::TlsExporter),
            Some(&binding),
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL",
        );
        c.client_first().unwrap();
        c.handle_server_first(RFC5802_SERVER_FIRST.as_bytes())
            .unwrap();
        let err = c
            .handle_server_final(b"e=unsupported-channel-binding-type")
            .unwrap_err();
        assert!(err.is_channel_binding_rejection());
        assert_eq!(err.code(), "channel-binding-refused");
    }

    #[test]
    fn steps_out_of_order_are_refused_and_finish_the_client() {
        let mut c = rfc5802_client();
        assert!(matches!(
            c.handle_server_first(RFC5802_SERVER_FIRST.as_bytes()),
            Err(ScramError::OutOfOrder("server-first"))
        ));
        assert!(c.is_finished());
        assert!(matches!(
            c.client_first(),
            Err(ScramError::OutOfOrder("client-first"))
        ));

        let mut c = rfc5802_client();
        c.client_first().unwrap();
        assert!(matches!(
            c.client_first(),
            Err(ScramError::OutOfOrder("client-first"))
        ));
        assert!(matches!(
            c.handle_server_first(RFC5802_SERVER_FIRST.as_bytes()),
            Err(ScramError::OutOfOrder("server-first"))
        ));

        let mut c = rfc5802_client();
        c.client_first().unwrap();
        assert!(matches!(
            c.handle_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
            Err(ScramError::OutOfOrder("server-final"))
        ));

        // After success, nothing more either.
        let mut c = rfc5802_client();
        c.client_first().unwrap();
        c.handle_server_first(RFC5802_SERVER_FIRST.as_bytes())
            .unwrap();
        c.handle_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
            .unwrap();
        assert!(matches!(
            c.handle_server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
            Err(ScramError::OutOfOrder("server-final"))
        ));
    }

    #[test]
    fn mechanism_flag_and_binding_must_agree() {
        let exporter = ChannelBinding {
            kind: BindingKind::TlsExporter,
            data: vec![1; 32],
        };
        let endpoint = ChannelBinding {
            kind: BindingKind::TlsServerEndPoint,
            data: vec![1; 32],
        };
        let empty = ChannelBinding {
            kind: BindingKind::TlsExporter,
            data: Vec::new(),
        };
        let sha1 = Mechanism {
            hash: Hash::Sha1,
            plus: false,
        };
        let sha1_plus = Mechanism {
            hash: Hash::Sha1,
            plus: true,
        };
        let p = Gs2CbindFlag::P(BindingKind::TlsExporter);
        let bad: [(Mechanism, Gs2CbindFlag, Option<&ChannelBinding>); 6] = [
            (sha1_plus, p, None),
            (sha1_plus, p, Some(&endpoint)),
            (sha1_plus, p, Some(&empty)),
            (sha1_plus, Gs2CbindFlag::N, Some(&exporter)),
            (sha1_plus, Gs2CbindFlag::Y, Some(&exporter)),
            (sha1, p, Some(&exporter)),
        ];
        for (mechanism, flag, binding) in bad {
            let r = ScramClient::new(
                mechanism,
                flag,
                "user",
                Zeroizing::new("pencil".into()),
                binding,
            );
            assert!(
                matches!(r, Err(ScramError::BindingMismatch)),
                "{mechanism} {flag:?} {binding:?}"
            );
        }
        assert!(ScramClient::new(
            sha1_plus,
            p,
            "user",
            Zeroizing::new("pencil".into()),
            Some(&exporter)
        )
        .is_ok());
    }

    #[test]
    fn username_with_control_character_is_refused() {
        let sha1 = Mechanism {
            hash: Hash::Sha1,
            plus: false,
        };
        let r = ScramClient::new(
            sha1,
            Gs2CbindFlag::N,
            "user\r\n",
            Zeroizing::new("pencil".into()),
            None,
        );
        assert!(matches!(r, Err(ScramError::UsernameControlCharacter)));
        let r = ScramClient::new(
            sha1,
            Gs2CbindFlag::N,
            "",
            Zeroizing::new("pencil".into()),
            None,
        );
        assert!(matches!(r, Err(ScramError::EmptyUsername)));
    }

    #[test]
    fn fresh_nonces_are_32_printable_characters_and_differ() {
        let sha256 = Mechanism {
            hash: Hash::Sha256,
            plus: false,
        };
        let mut first = Vec::new();
        for _ in 0..2 {
            let mut c = ScramClient::new(
                sha256,
                Gs2CbindFlag::N,
                "user",
                Zeroizing::new("pencil".into()),
                None,
            )
            .unwrap();
            let message = String::from_utf8(c.client_first().unwrap()).unwrap();
            let nonce = message.strip_prefix("n,,n=user,r=").unwrap().to_owned();
            assert_eq!(nonce.len(), 32);
            assert!(is_printable(&nonce), "{nonce}");
            assert!(!nonce.contains(','));
            first.push(nonce);
        }
        assert_ne!(first[0], first[1]);
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut c = client(
            Hash::Sha1,
            Gs2CbindFlag::N,
            None,
            "user",
            "pencil-secret",
            "fyko+d2lbbFgONRv9qkxdawL",
        );
        let before = format!("{c:?}");
        assert_eq!(
            before,
            "ScramClient { mechanism: \"SCRAM-SHA-1\", gs2_header: \"n,,\", state: \"start\", .. }"
        );
        c.client_first().unwrap();
        c.handle_server_first(RFC5802_SERVER_FIRST.as_bytes())
            .unwrap();
        let after = format!("{c:?}");
        assert!(!after.contains("pencil"), "{after}");
        assert!(!after.contains("rmF9pq"), "{after}");
        assert!(after.contains("awaiting server-final"), "{after}");
    }
}
