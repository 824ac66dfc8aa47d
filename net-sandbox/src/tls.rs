//! TLS towards XMPP servers: the client configuration (roots, optional extra anchor, optional SPKI
//! pin, ALPN), the handshake with errors in plain words, and channel-binding extraction for SCRAM-PLUS.
//!
//! What this module guarantees, whatever the caller passes:
//! - rustls with the *ring* provider only, TLS 1.2 and 1.3 only;
//! - the certificate is always verified against trust anchors for the XMPP domain of the account
//!   (RFC 6120 §13.7.2.1: the domain of the JID, never the host name or address we dialed, which
//!   came from an SRV record or from Tor and proves nothing);
//! - there is no way to turn verification off: no "insecure" flag exists, and a pin is checked *in
//!   addition to* the chain, never instead of it;
//! - channel bindings: `tls-exporter` (RFC 9266) on TLS 1.3, `tls-server-end-point` (RFC 5929 §4.1)
//!   on TLS 1.2.

use std::fmt;
use std::io;
use std::sync::Arc;

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct,
    DistinguishedName, OtherError, PeerIncompatible, ProtocolVersion, RootCertStore, SignatureScheme,
};
use sha2::Digest as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use x509_cert::der::asn1::ContextSpecific;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Any, Decode as _, Encode as _, Reader as _, TagNumber};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

/// XEP-0368 §3: direct TLS connections to a client port negotiate this ALPN protocol.
pub const ALPN_XMPP_CLIENT: &[u8] = b"xmpp-client";

/// RFC 9266 §2: the exporter label of `tls-exporter`.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
/// RFC 9266 §2: the exporter output is 32 bytes.
const EXPORTER_LEN: usize = 32;

/// Why a TLS configuration could not be built, a handshake failed, or a channel binding could not
/// be derived. Each variant is something the caller can act on; `Display` is meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("“{domain}” is not a name a TLS certificate can be checked against")]
    InvalidDomain { domain: String },

    #[error("the account's extra trusted certificate is not valid PEM: {reason}")]
    InvalidAnchorPem { reason: String },

    #[error("the account's extra trusted certificate holds no certificate")]
    NoAnchorInPem,

    #[error("the account's extra trusted certificate cannot be used as a trust anchor: {reason}")]
    InvalidAnchor { reason: String },

    #[error(
        "no certificate authority to check the server against: the system store is empty and the \
         account has no extra trusted certificate"
    )]
    NoTrustAnchors,

    #[error("the pinned key must be written “sha256/” followed by the base64 of 32 bytes")]
    InvalidPin,

    #[error("the TLS configuration could not be built: {0}")]
    Config(rustls::Error),

    #[error("the server's certificate is for another name than {domain}")]
    WrongName { domain: String },

    #[error("the server's certificate is not signed by an authority this account trusts")]
    UnknownIssuer,

    #[error("the server's certificate has expired")]
    Expired,

    #[error("the server's certificate is not valid yet (is this computer's clock right?)")]
    NotYetValid,

    #[error("the server's key does not match the pinned key")]
    PinMismatch,

    #[error("the server's certificate was refused: {reason}")]
    BadCertificate { reason: String },

    #[error("the server only offers a TLS version older than 1.2, which is refused")]
    VersionTooOld,

    #[error("the TLS handshake failed: {0}")]
    Handshake(rustls::Error),

    #[error("the connection failed during the TLS handshake: {0}")]
    Io(io::Error),

    #[error("the TLS handshake is not finished")]
    HandshakeNotFinished,

    #[error("the server sent no certificate")]
    NoServerCertificate,

    #[error("the certificate cannot be read: {reason}")]
    MalformedCertificate { reason: String },

    #[error("the tls-exporter channel binding could not be derived: {0}")]
    Exporter(rustls::Error),

    #[error("no tls-server-end-point binding for this certificate's signature algorithm")]
    NoServerEndPointBinding,
}

// ---------------------------------------------------------------------------------------------
// Trust anchors
// ---------------------------------------------------------------------------------------------

/// The system's trust anchors, loaded once when the network process starts and shared (by `Arc`)
/// by every account.
///
/// rustls-native-certs reads the OpenSSL locations (`/etc/ssl/certs/ca-certificates.crt`,
/// `/etc/ssl/certs/`, or `SSL_CERT_FILE`/`SSL_CERT_DIR` if set). The network process's Landlock
/// policy must allow reading `/etc/ssl/certs` (and what its symbolic links point to,
/// `/usr/share/ca-certificates` on Debian), or this must run before Landlock is applied; if it
/// cannot read them it returns an empty store and a warning, not an error.
#[derive(Debug, Clone)]
pub struct SystemRoots {
    pub roots: Arc<RootCertStore>,
    /// Set when the store was missing, unreadable or partly unparsable; the store then holds
    /// what could be read, possibly nothing. A missing store is not an error: an account with its
    /// own trust anchor still works, and one without fails at connect time with `NoTrustAnchors`.
    pub warning: Option<String>,
}

impl SystemRoots {
    pub fn load() -> SystemRoots {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (_added, unparsable) = roots.add_parsable_certificates(loaded.certs);
        let mut problems: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        if unparsable > 0 {
            problems.push(format!("{unparsable} system certificates could not be parsed and were skipped"));
        }
        if roots.is_empty() {
            problems.push("no system certificate authorities were found".to_owned());
        }
        let warning = (!problems.is_empty()).then(|| problems.join("; "));
        SystemRoots { roots: Arc::new(roots), warning }
    }
}

/// One account's TLS policy.
#[derive(Debug, Clone)]
pub struct TlsPolicy {
    pub system_roots: Arc<RootCertStore>,
    /// PEM, one or more certificates, trusted as anchors for this account only (test servers,
    /// self-hosted servers with a private CA or a self-signed certificate).
    pub extra_anchors_pem: Option<Vec<u8>>,
    /// `sha256/BASE64` of the server certificate's SubjectPublicKeyInfo, as in HPKP (RFC 7469).
    pub spki_pin: Option<String>,
}

fn account_roots(policy: &TlsPolicy) -> Result<Arc<RootCertStore>, TlsError> {
    let Some(pem) = &policy.extra_anchors_pem else {
        return Ok(policy.system_roots.clone());
    };
    // A copy: the extra anchors must never leak into another account's store.
    let mut roots = RootCertStore::clone(&policy.system_roots);
    let mut found = 0usize;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| TlsError::InvalidAnchorPem { reason: e.to_string() })?;
        roots.add(cert).map_err(|e| TlsError::InvalidAnchor { reason: e.to_string() })?;
        found += 1;
    }
    if found == 0 {
        return Err(TlsError::NoAnchorInPem);
    }
    Ok(Arc::new(roots))
}

// ---------------------------------------------------------------------------------------------
// SPKI pin
// ---------------------------------------------------------------------------------------------

/// SHA-256 of a certificate's SubjectPublicKeyInfo, the value an HPKP-style pin names.
pub fn spki_sha256(cert_der: &[u8]) -> Result<[u8; 32], TlsError> {
    let cert = Certificate::from_der(cert_der)
        .map_err(|e| TlsError::MalformedCertificate { reason: e.to_string() })?;
    // `der` decodes DER strictly, so encoding the decoded value gives back the exact bytes that
    // were in the certificate.
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| TlsError::MalformedCertificate { reason: e.to_string() })?;
    Ok(sha2::Sha256::digest(&spki).into())
}

fn parse_pin(pin: &str) -> Result<[u8; 32], TlsError> {
    let b64 = pin.strip_prefix("sha256/").ok_or(TlsError::InvalidPin)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| TlsError::InvalidPin)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| TlsError::InvalidPin)
}

/// Marker carried inside `CertificateError::Other` so `handshake` can tell a pin mismatch from
/// every other certificate error.
#[derive(Debug)]
struct PinMismatch;

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server's key does not match the pinned key")
    }
}

impl std::error::Error for PinMismatch {}

/// The WebPKI verifier, then the pin. Every method delegates to WebPKI, so nothing is weaker than
/// without a pin; `verify_server_cert` only adds a refusal.
#[derive(Debug)]
struct PinnedKeyVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pin: [u8; 32],
}

impl ServerCertVerifier for PinnedKeyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        let presented = spki_sha256(end_entity.as_ref())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        // The pin is not a secret, so an ordinary comparison is fine.
        if presented != self.pin {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                PinMismatch,
            )))));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.webpki.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.webpki.root_hint_subjects()
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration and handshake
// ---------------------------------------------------------------------------------------------

/// The client configuration for one account. `direct_tls` is XEP-0368 direct TLS (ALPN
/// `xmpp-client`); otherwise STARTTLS, which offers no ALPN.
pub fn client_config(params: &TlsPolicy, direct_tls: bool) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = account_roots(params)?;
    let pin = params.spki_pin.as_deref().map(parse_pin).transpose()?;

    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build().map_err(
        |e| match e {
            rustls::client::VerifierBuilderError::NoRootAnchors => TlsError::NoTrustAnchors,
            other => TlsError::Config(rustls::Error::General(other.to_string())),
        },
    )?;

    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?;
    let builder = match pin {
        None => builder.with_webpki_verifier(webpki),
        // rustls files every custom verifier under `dangerous()`; this one is WebPKI plus a check.
        Some(pin) => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(PinnedKeyVerifier { webpki, pin }))
        }
    };
    let mut config = builder.with_no_client_auth();

    // No session resumption: a ticket would let the server link connections that Tor carried over
    // different circuits, and a resumed TLS 1.3 session skips `verify_server_cert`, so the pin
    // would not be checked again. Every connection is a full handshake.
    config.resumption = Resumption::disabled();
    config.alpn_protocols = if direct_tls { vec![ALPN_XMPP_CLIENT.to_vec()] } else { Vec::new() };
    // `key_log` stays the default `NoKeyLog`: never SSLKEYLOGFILE.
    Ok(Arc::new(config))
}

/// The TLS handshake over `stream` (a Tor stream, or the TCP stream after `<proceed/>`).
/// `domain` is the XMPP domain of the account's JID, the name the certificate must carry and the
/// SNI sent (XEP-0368 §3 asks for it); never the host that was dialed.
pub async fn handshake<S>(
    stream: S,
    config: Arc<ClientConfig>,
    domain: &str,
) -> Result<TlsStream<S>, TlsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let server_name = ServerName::try_from(domain.to_owned())
        .map_err(|_| TlsError::InvalidDomain { domain: domain.to_owned() })?;
    TlsConnector::from(config).connect(server_name, stream).await.map_err(|e| handshake_error(e, domain))
}

/// tokio-rustls reports a TLS failure as an `io::Error` wrapping the `rustls::Error`; anything
/// else is a genuine I/O failure (the peer closed, Tor dropped the stream).
fn handshake_error(error: io::Error, domain: &str) -> TlsError {
    match error.downcast::<rustls::Error>() {
        Ok(tls) => from_rustls(tls, domain),
        Err(io) => TlsError::Io(io),
    }
}

fn from_rustls(error: rustls::Error, domain: &str) -> TlsError {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(cert) => match cert {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsError::WrongName { domain: domain.to_owned() }
            }
            CertificateError::UnknownIssuer => TlsError::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsError::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsError::NotYetValid
            }
            CertificateError::Other(OtherError(inner)) if inner.is::<PinMismatch>() => TlsError::PinMismatch,
            other => TlsError::BadCertificate { reason: other.to_string() },
        },
        // We refused the version the server chose, or the server refused ours.
        E::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13)
        | E::AlertReceived(AlertDescription::ProtocolVersion) => TlsError::VersionTooOld,
        other => TlsError::Handshake(other),
    }
}

/// "TLS 1.3" or "TLS 1.2", for the connection status the user sees.
pub fn tls_version(conn: &ClientConnection) -> &'static str {
    match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(ProtocolVersion::TLSv1_2) => "TLS 1.2",
        // `client_config` allows nothing else; before the handshake there is no version.
        _ => "no TLS version negotiated",
    }
}

// ---------------------------------------------------------------------------------------------
// Channel binding
// ---------------------------------------------------------------------------------------------

pub use ipc::xmpp::{BindingKind, ChannelBinding};

/// The channel binding for a finished handshake: `tls-exporter` on TLS 1.3, `tls-server-end-point`
/// on TLS 1.2. `tls-exporter` is not used on TLS 1.2 because without the Extended Master Secret
/// extension its value can be made equal on two connections (RFC 9266 §3, the triple-handshake
/// attack), and this function cannot promise EMS was negotiated.
pub fn channel_binding(conn: &ClientConnection) -> Result<ChannelBinding, TlsError> {
    if conn.is_handshaking() {
        return Err(TlsError::HandshakeNotFinished);
    }
    match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => {
            // RFC 9266 §2 says "context value: zero-length string". In TLS 1.3 an absent and an
            // empty context give the same exporter value (RFC 8446 §7.5), unlike TLS 1.2
            // (RFC 5705), so `Some(&[])` is the literal reading and equal to `None`.
            let data = conn
                .export_keying_material([0u8; EXPORTER_LEN], EXPORTER_LABEL, Some(&[]))
                .map_err(TlsError::Exporter)?;
            Ok(ChannelBinding { kind: BindingKind::TlsExporter, data: data.to_vec() })
        }
        Some(ProtocolVersion::TLSv1_2) => {
            let leaf = conn
                .peer_certificates()
                .and_then(|chain| chain.first())
                .ok_or(TlsError::NoServerCertificate)?;
            Ok(ChannelBinding {
                kind: BindingKind::TlsServerEndPoint,
                data: server_end_point(leaf.as_ref())?,
            })
        }
        _ => Err(TlsError::HandshakeNotFinished),
    }
}

/// The hash functions RFC 5929 §4.1 can name for `tls-server-end-point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndPointHash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl EndPointHash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            EndPointHash::Sha224 => sha2::Sha224::digest(data).to_vec(),
            EndPointHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            EndPointHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            EndPointHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// RFC 5929 §4.1: the hash of the server's end-entity certificate (its whole DER), with the hash
/// function of the certificate's signatureAlgorithm, MD5 and SHA-1 replaced by SHA-256.
fn server_end_point(cert_der: &[u8]) -> Result<Vec<u8>, TlsError> {
    let cert = Certificate::from_der(cert_der)
        .map_err(|e| TlsError::MalformedCertificate { reason: e.to_string() })?;
    Ok(end_point_hash(cert.signature_algorithm())?.digest(cert_der))
}

mod oid {
    use super::ObjectIdentifier as Oid;
    // RFC 8017 (PKCS #1) and RFC 4055
    pub const MD5_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.4");
    pub const SHA1_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
    pub const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
    pub const SHA224_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.14");
    pub const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
    // RFC 5758 / RFC 3279
    pub const ECDSA_WITH_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
    pub const ECDSA_WITH_SHA224: Oid = Oid::new_unwrap("1.2.840.10045.4.3.1");
    pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    // Hash algorithms (RFC 3279, RFC 5754)
    pub const MD5: Oid = Oid::new_unwrap("1.2.840.113549.2.5");
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const SHA224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.4");
}

/// The table of RFC 5929 §4.1. Anything not in it (EdDSA, which hashes internally with no
/// separate hash function; unknown algorithms) has no binding: RFC 5929 leaves it undefined and
/// RFC 9266 only covers TLS 1.3.
fn end_point_hash(algorithm: &AlgorithmIdentifierOwned) -> Result<EndPointHash, TlsError> {
    use EndPointHash::*;
    let hash = match algorithm.oid {
        oid::MD5_WITH_RSA | oid::SHA1_WITH_RSA | oid::ECDSA_WITH_SHA1 => Sha256,
        oid::SHA224_WITH_RSA | oid::ECDSA_WITH_SHA224 => Sha224,
        oid::SHA256_WITH_RSA | oid::ECDSA_WITH_SHA256 => Sha256,
        oid::SHA384_WITH_RSA | oid::ECDSA_WITH_SHA384 => Sha384,
        oid::SHA512_WITH_RSA | oid::ECDSA_WITH_SHA512 => Sha512,
        oid::RSASSA_PSS => pss_hash(algorithm.parameters.as_ref())?,
        _ => return Err(TlsError::NoServerEndPointBinding),
    };
    Ok(hash)
}

/// RFC 4055 §3.1: RSASSA-PSS names its hash in its parameters:
///
/// ```text
/// RSASSA-PSS-params ::= SEQUENCE {
///     hashAlgorithm     [0] HashAlgorithm     DEFAULT sha1,
///     maskGenAlgorithm  [1] MaskGenAlgorithm  DEFAULT mgf1SHA1,
///     saltLength        [2] INTEGER           DEFAULT 20,
///     trailerField      [3] TrailerField      DEFAULT trailerFieldBC }
/// ```
///
/// The mask generation function MGF1 uses a hash too; if it differs from `hashAlgorithm` the
/// signature "uses multiple hash functions" and RFC 5929 §4.1 leaves the binding undefined.
fn pss_hash(parameters: Option<&Any>) -> Result<EndPointHash, TlsError> {
    let params = parameters.ok_or(TlsError::NoServerEndPointBinding)?;
    let (hash, mgf) = params
        .sequence(|r| {
            let hash = ContextSpecific::<AlgorithmIdentifierOwned>::decode_explicit(r, TagNumber(0))?;
            let mgf = ContextSpecific::<AlgorithmIdentifierOwned>::decode_explicit(r, TagNumber(1))?;
            // saltLength and trailerField do not matter here, but must be well formed.
            while !r.is_finished() {
                Any::decode(r)?;
            }
            Ok::<_, x509_cert::der::Error>((hash.map(|h| h.value.oid), mgf.map(|m| m.value)))
        })
        .map_err(|e| TlsError::MalformedCertificate { reason: e.to_string() })?;

    let hash = hash.unwrap_or(oid::SHA1);
    let mgf_hash = match mgf {
        None => oid::SHA1,
        Some(mgf) if mgf.oid == oid::MGF1 => {
            mgf.parameters
                .as_ref()
                .ok_or(TlsError::NoServerEndPointBinding)?
                .decode_as::<AlgorithmIdentifierOwned>()
                .map_err(|e| TlsError::MalformedCertificate { reason: e.to_string() })?
                .oid
        }
        Some(_) => return Err(TlsError::NoServerEndPointBinding),
    };
    if hash != mgf_hash {
        return Err(TlsError::NoServerEndPointBinding);
    }
    match hash {
        oid::MD5 | oid::SHA1 | oid::SHA256 => Ok(EndPointHash::Sha256),
        oid::SHA224 => Ok(EndPointHash::Sha224),
        oid::SHA384 => Ok(EndPointHash::Sha384),
        oid::SHA512 => Ok(EndPointHash::Sha512),
        _ => Err(TlsError::NoServerEndPointBinding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PublicKeyData as _,
        SignatureAlgorithm, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519,
    };
    use rustls::pki_types::PrivateKeyDer;
    use rustls::ServerConfig;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::TlsAcceptor;

    const DOMAIN: &str = "example.test";

    struct TestCa {
        pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca(alg: &'static SignatureAlgorithm, name: &str) -> TestCa {
        let key = KeyPair::generate_for(alg).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        TestCa { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    struct Leaf {
        der: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
        spki: Vec<u8>,
    }

    fn leaf_with(ca: &TestCa, name: &str, edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        edit(&mut params);
        let cert = params.signed_by(&key, &ca.issuer).unwrap();
        Leaf {
            der: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            spki: key.subject_public_key_info(),
        }
    }

    fn leaf(ca: &TestCa, name: &str) -> Leaf {
        leaf_with(ca, name, |_| {})
    }

    fn server_config(
        leaf: &Leaf,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ServerConfig> {
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![leaf.der.clone()], leaf.key.clone_key())
                .unwrap();
        config.alpn_protocols = vec![ALPN_XMPP_CLIENT.to_vec()];
        Arc::new(config)
    }

    fn policy(anchor: &TestCa, pin: Option<String>) -> TlsPolicy {
        TlsPolicy {
            system_roots: Arc::new(RootCertStore::empty()),
            extra_anchors_pem: Some(anchor.pem.clone().into_bytes()),
            spki_pin: pin,
        }
    }

    fn pin_of(spki: &[u8]) -> String {
        format!("sha256/{}", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki)))
    }

    type ServerStream = tokio_rustls::server::TlsStream<tokio::io::DuplexStream>;

    /// A real rustls server and our client over an in-memory pipe.
    async fn connect(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
        domain: &str,
    ) -> (Result<TlsStream<tokio::io::DuplexStream>, TlsError>, Option<ServerStream>) {
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let (client, server) =
            tokio::join!(handshake(client_io, client, domain), TlsAcceptor::from(server).accept(server_io));
        (client, server.ok())
    }

    async fn connect_ok(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
    ) -> (TlsStream<tokio::io::DuplexStream>, ServerStream) {
        let (client, server) = connect(server, client, DOMAIN).await;
        (client.unwrap(), server.unwrap())
    }

    #[tokio::test]
    async fn good_certificate_with_extra_anchor_is_accepted_and_data_flows() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (mut client, mut server) =
            connect_ok(server_config(&leaf, &[&rustls::version::TLS13]), config).await;
        client.write_all(b"<stream:stream>").await.unwrap();
        client.flush().await.unwrap();
        let mut got = [0u8; 15];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"<stream:stream>");
        assert_eq!(tls_version(client.get_ref().1), "TLS 1.3");
    }

    #[tokio::test]
    async fn system_roots_plus_extra_anchor_is_accepted() {
        // Whatever the machine's store holds (possibly nothing), the account's anchor is added.
        let system = SystemRoots::load();
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        let policy = TlsPolicy { system_roots: system.roots.clone(), ..policy(&ca, None) };
        let config = client_config(&policy, false).unwrap();
        let (client, _server) =
            connect(server_config(&leaf, &[&rustls::version::TLS13]), config, DOMAIN).await;
        client.unwrap();
        // The shared system store was not modified by the account's anchor.
        assert_eq!(system.roots.len(), SystemRoots::load().roots.len());
    }

    #[tokio::test]
    async fn tls13_binding_is_the_exporter_value_the_server_computes() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client, server) = connect_ok(server_config(&leaf, &[&rustls::version::TLS13]), config).await;

        let binding = channel_binding(client.get_ref().1).unwrap();
        assert_eq!(binding.kind, BindingKind::TlsExporter);
        assert_eq!(binding.kind.name(), "tls-exporter");
        assert_eq!(binding.data.len(), 32);

        let server_conn = server.get_ref().1;
        let with_empty =
            server_conn.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(&[])).unwrap();
        let with_none =
            server_conn.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None).unwrap();
        assert_eq!(binding.data, with_empty);
        // RFC 8446 §7.5: in TLS 1.3 no context and an empty context are the same.
        assert_eq!(with_empty, with_none);
        // And it is not some other exporter value.
        let other_label = server_conn.export_keying_material([0u8; 32], b"EXPORTER-other", None).unwrap();
        assert_ne!(binding.data, other_label);
    }

    #[tokio::test]
    async fn tls12_binding_is_sha256_of_an_ecdsa_sha256_certificate() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client, _server) = connect_ok(server_config(&leaf, &[&rustls::version::TLS12]), config).await;
        assert_eq!(tls_version(client.get_ref().1), "TLS 1.2");
        let binding = channel_binding(client.get_ref().1).unwrap();
        assert_eq!(binding.kind, BindingKind::TlsServerEndPoint);
        assert_eq!(binding.kind.name(), "tls-server-end-point");
        assert_eq!(binding.data, sha2::Sha256::digest(leaf.der.as_ref()).to_vec());
    }

    #[tokio::test]
    async fn tls12_binding_is_sha384_when_the_certificate_is_signed_with_ecdsa_sha384() {
        // The leaf's signatureAlgorithm is the CA's: a P-384 CA signs with ecdsa-with-SHA384.
        let ca = ca(&PKCS_ECDSA_P384_SHA384, "P-384 CA");
        let leaf = leaf(&ca, DOMAIN);
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client, _server) = connect_ok(server_config(&leaf, &[&rustls::version::TLS12]), config).await;
        let binding = channel_binding(client.get_ref().1).unwrap();
        assert_eq!(binding.kind, BindingKind::TlsServerEndPoint);
        assert_eq!(binding.data.len(), 48);
        assert_eq!(binding.data, sha2::Sha384::digest(leaf.der.as_ref()).to_vec());
    }

    #[tokio::test]
    async fn tls12_has_no_binding_for_an_ed25519_signed_certificate() {
        let ca = ca(&PKCS_ED25519, "Ed25519 CA");
        let leaf = leaf(&ca, DOMAIN);
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client, _server) = connect_ok(server_config(&leaf, &[&rustls::version::TLS12]), config).await;
        let err = channel_binding(client.get_ref().1).unwrap_err();
        assert!(matches!(err, TlsError::NoServerEndPointBinding));
        assert_eq!(
            err.to_string(),
            "no tls-server-end-point binding for this certificate's signature algorithm"
        );
    }

    #[tokio::test]
    async fn tls13_binding_does_not_depend_on_the_signature_algorithm() {
        let ca = ca(&PKCS_ED25519, "Ed25519 CA");
        let leaf = leaf(&ca, DOMAIN);
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client, _server) = connect_ok(server_config(&leaf, &[&rustls::version::TLS13]), config).await;
        assert_eq!(channel_binding(client.get_ref().1).unwrap().kind, BindingKind::TlsExporter);
    }

    #[test]
    fn rsa_pss_sha384_certificate_binds_with_sha384() {
        // Made with `openssl req -x509 -sha384 -sigopt rsa_padding_mode:pss -sigopt
        // rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384` (rcgen cannot sign with RSA-PSS).
        let der = CertificateDer::from_pem_slice(PSS_SHA384_PEM.as_bytes()).unwrap();
        // `openssl x509 -outform der | openssl dgst -sha384`
        let expected = "5837ea87f6f1f3b4b69c4459fdcb3a62b24d5d1126b546f249c69a0e211efcda\
                        3e9c8ef45d6284ccde38e55845d80807";
        assert_eq!(hex(&server_end_point(der.as_ref()).unwrap()), expected);
        // `openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(spki_sha256(der.as_ref()).unwrap()),
            "hiflSP2eATw4J8q393NarpoZwzTRrrQU3gtg9WtbK0U="
        );
    }

    #[test]
    fn rsa_pss_with_two_different_hashes_has_no_binding() {
        // signatureAlgorithm of an openssl certificate signed with PSS, SHA-384 but MGF1 with
        // SHA-256: two hash functions, which RFC 5929 §4.1 leaves undefined.
        let mixed = unhex(
            "304106092a864886f70d01010a3034a00f300d06096086480165030402020500a11c301a06092a864886\
             f70d010108300d06096086480165030402010500a203020130",
        );
        let alg = AlgorithmIdentifierOwned::from_der(&mixed).unwrap();
        assert!(matches!(end_point_hash(&alg), Err(TlsError::NoServerEndPointBinding)));
        // PSS with all defaults (SHA-1 and MGF1-SHA-1) binds with SHA-256, as SHA-1 does.
        let defaults = unhex("300d06092a864886f70d01010a3000");
        let alg = AlgorithmIdentifierOwned::from_der(&defaults).unwrap();
        assert_eq!(end_point_hash(&alg).unwrap(), EndPointHash::Sha256);
    }

    #[test]
    fn sha1_and_md5_signatures_bind_with_sha256() {
        for dotted in ["1.2.840.113549.1.1.4", "1.2.840.113549.1.1.5", "1.2.840.10045.4.1"] {
            let alg =
                AlgorithmIdentifierOwned { oid: ObjectIdentifier::new_unwrap(dotted), parameters: None };
            assert_eq!(end_point_hash(&alg).unwrap(), EndPointHash::Sha256, "{dotted}");
        }
        let sha512 = AlgorithmIdentifierOwned { oid: oid::SHA512_WITH_RSA, parameters: None };
        assert_eq!(end_point_hash(&sha512).unwrap(), EndPointHash::Sha512);
        let ed448 =
            AlgorithmIdentifierOwned { oid: ObjectIdentifier::new_unwrap("1.3.101.113"), parameters: None };
        assert!(matches!(end_point_hash(&ed448), Err(TlsError::NoServerEndPointBinding)));
    }

    #[tokio::test]
    async fn certificate_for_another_name_is_refused() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let other = leaf(&ca, "other.test");
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client, _) = connect(server_config(&other, &[&rustls::version::TLS13]), config, DOMAIN).await;
        let err = client.unwrap_err();
        assert!(matches!(&err, TlsError::WrongName { domain } if domain == DOMAIN), "{err:?}");
        assert_eq!(err.to_string(), "the server's certificate is for another name than example.test");
    }

    #[tokio::test]
    async fn certificate_from_an_untrusted_authority_is_refused() {
        let ca_used = ca(&PKCS_ECDSA_P256_SHA256, "Server's CA");
        let ca_trusted = ca(&PKCS_ECDSA_P256_SHA256, "Some other CA");
        let leaf = leaf(&ca_used, DOMAIN);
        let config = client_config(&policy(&ca_trusted, None), false).unwrap();
        let (client, _) = connect(server_config(&leaf, &[&rustls::version::TLS13]), config, DOMAIN).await;
        let err = client.unwrap_err();
        assert!(matches!(err, TlsError::UnknownIssuer), "{err:?}");
        // The same server is accepted when its CA is the trusted one.
        let config = client_config(&policy(&ca_used, None), false).unwrap();
        let (client, _) = connect(server_config(&leaf, &[&rustls::version::TLS13]), config, DOMAIN).await;
        client.unwrap();
    }

    #[tokio::test]
    async fn expired_certificate_is_refused() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let expired = leaf_with(&ca, DOMAIN, |p| {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        });
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client, _) = connect(server_config(&expired, &[&rustls::version::TLS13]), config, DOMAIN).await;
        let err = client.unwrap_err();
        assert!(matches!(err, TlsError::Expired), "{err:?}");
        assert_eq!(err.to_string(), "the server's certificate has expired");
    }

    #[test]
    fn no_trust_anchor_at_all_is_a_configuration_error() {
        let policy = TlsPolicy {
            system_roots: Arc::new(RootCertStore::empty()),
            extra_anchors_pem: None,
            spki_pin: None,
        };
        assert!(matches!(client_config(&policy, false), Err(TlsError::NoTrustAnchors)));
    }

    #[tokio::test]
    async fn matching_pin_is_accepted() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        let config = client_config(&policy(&ca, Some(pin_of(&leaf.spki))), true).unwrap();
        let (client, _) = connect(server_config(&leaf, &[&rustls::version::TLS13]), config, DOMAIN).await;
        client.unwrap();
    }

    #[tokio::test]
    async fn pin_mismatch_is_refused_on_both_versions() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        let sibling = leaf_with(&ca, DOMAIN, |_| {}); // same CA and name, another key
        let config = client_config(&policy(&ca, Some(pin_of(&sibling.spki))), false).unwrap();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let (client, _) = connect(server_config(&leaf, &[version]), config.clone(), DOMAIN).await;
            let err = client.unwrap_err();
            assert!(matches!(err, TlsError::PinMismatch), "{err:?}");
            assert_eq!(err.to_string(), "the server's key does not match the pinned key");
        }
    }

    #[tokio::test]
    async fn pin_does_not_replace_the_chain_check() {
        // Pinned to the very key the server has, but its CA is not trusted: still refused.
        let ca_used = ca(&PKCS_ECDSA_P256_SHA256, "Server's CA");
        let ca_trusted = ca(&PKCS_ECDSA_P256_SHA256, "Some other CA");
        let leaf = leaf(&ca_used, DOMAIN);
        let config = client_config(&policy(&ca_trusted, Some(pin_of(&leaf.spki))), false).unwrap();
        let (client, _) = connect(server_config(&leaf, &[&rustls::version::TLS13]), config, DOMAIN).await;
        assert!(matches!(client.unwrap_err(), TlsError::UnknownIssuer));
        // Nor the name check.
        let other = leaf_with(&ca_trusted, "other.test", |_| {});
        let config = client_config(&policy(&ca_trusted, Some(pin_of(&other.spki))), false).unwrap();
        let (client, _) = connect(server_config(&other, &[&rustls::version::TLS13]), config, DOMAIN).await;
        assert!(matches!(client.unwrap_err(), TlsError::WrongName { .. }));
    }

    #[test]
    fn spki_sha256_hashes_the_subject_public_key_info() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        let expected: [u8; 32] = sha2::Sha256::digest(&leaf.spki).into();
        assert_eq!(spki_sha256(leaf.der.as_ref()).unwrap(), expected);
        assert!(matches!(spki_sha256(b"\x30\x03\x02\x01\x00"), Err(TlsError::MalformedCertificate { .. })));
    }

    #[test]
    fn malformed_pins_are_refused() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let good = pin_of(b"anything");
        let short = format!("sha256/{}", base64::engine::general_purpose::STANDARD.encode([0u8; 20]));
        let sha1 = good.replacen("sha256/", "sha1/", 1);
        for bad in
            [short.as_str(), sha1.as_str(), "sha256/not base64!", "", good.trim_start_matches("sha256/")]
        {
            let result = client_config(&policy(&ca, Some(bad.to_owned())), false);
            assert!(matches!(result, Err(TlsError::InvalidPin)), "{bad:?}");
        }
        assert!(client_config(&policy(&ca, Some(good)), false).is_ok());
    }

    #[test]
    fn invalid_anchor_pem_is_refused() {
        let with = |pem: &[u8]| TlsPolicy {
            system_roots: Arc::new(RootCertStore::empty()),
            extra_anchors_pem: Some(pem.to_vec()),
            spki_pin: None,
        };
        let no_cert = client_config(&with(b"this is not a certificate"), false);
        assert!(matches!(no_cert, Err(TlsError::NoAnchorInPem)));
        let unterminated = client_config(&with(b"-----BEGIN CERTIFICATE-----\nMIIB\n"), false);
        assert!(matches!(unterminated, Err(TlsError::InvalidAnchorPem { .. })), "{unterminated:?}");
        let bad_base64 =
            client_config(&with(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), false);
        assert!(matches!(bad_base64, Err(TlsError::InvalidAnchorPem { .. })), "{bad_base64:?}");
        let not_x509 =
            client_config(&with(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), false);
        assert!(matches!(not_x509, Err(TlsError::InvalidAnchor { .. })), "{not_x509:?}");
    }

    #[test]
    fn several_anchors_in_one_pem_are_all_trusted() {
        let a = ca(&PKCS_ECDSA_P256_SHA256, "CA A");
        let b = ca(&PKCS_ECDSA_P384_SHA384, "CA B");
        let both = TlsPolicy {
            system_roots: Arc::new(RootCertStore::empty()),
            extra_anchors_pem: Some(format!("{}\n{}", a.pem, b.pem).into_bytes()),
            spki_pin: None,
        };
        assert_eq!(account_roots(&both).unwrap().len(), 2);
    }

    #[tokio::test]
    async fn direct_tls_offers_xmpp_client_and_starttls_offers_no_alpn() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);

        let direct = client_config(&policy(&ca, None), true).unwrap();
        assert_eq!(direct.alpn_protocols, vec![b"xmpp-client".to_vec()]);
        let (client, server) = connect_ok(server_config(&leaf, &[&rustls::version::TLS13]), direct).await;
        assert_eq!(server.get_ref().1.alpn_protocol(), Some(&b"xmpp-client"[..]));
        assert_eq!(client.get_ref().1.alpn_protocol(), Some(&b"xmpp-client"[..]));

        let starttls = client_config(&policy(&ca, None), false).unwrap();
        assert!(starttls.alpn_protocols.is_empty());
        let (_client, server) = connect_ok(server_config(&leaf, &[&rustls::version::TLS13]), starttls).await;
        assert_eq!(server.get_ref().1.alpn_protocol(), None);
    }

    #[tokio::test]
    async fn sni_is_the_xmpp_domain() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (_client, server) = connect_ok(server_config(&leaf, &[&rustls::version::TLS13]), config).await;
        assert_eq!(server.get_ref().1.server_name(), Some(DOMAIN));
    }

    #[test]
    fn configuration_uses_the_ring_provider() {
        // (TLS 1.2 and 1.3 are checked by the handshakes above; rustls has nothing older.)
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let config = client_config(&policy(&ca, None), false).unwrap();
        let ring = rustls::crypto::ring::default_provider();
        let ours: Vec<_> = config.crypto_provider().cipher_suites.iter().map(|s| s.suite()).collect();
        let theirs: Vec<_> = ring.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(ours, theirs);
    }

    /// Two connections with one configuration: the second is a full handshake. The control, the
    /// same configuration with rustls's default resumption, does resume, so the test can fail.
    #[tokio::test]
    async fn sessions_are_never_resumed() {
        async fn second_handshake_kind(
            server: Arc<ServerConfig>,
            client: Arc<ClientConfig>,
        ) -> rustls::HandshakeKind {
            for _ in 0..2 {
                let (mut client, mut server) = connect_ok(server.clone(), client.clone()).await;
                // Let the client read the server's NewSessionTicket messages.
                server.write_all(b"x").await.unwrap();
                server.flush().await.unwrap();
                let mut byte = [0u8; 1];
                client.read_exact(&mut byte).await.unwrap();
                if client.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                    return rustls::HandshakeKind::Resumed;
                }
            }
            rustls::HandshakeKind::Full
        }
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let leaf = leaf(&ca, DOMAIN);
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let server = server_config(&leaf, &[version]);
            let ours = client_config(&policy(&ca, None), false).unwrap();
            let mut control = ClientConfig::clone(&ours);
            control.resumption = Resumption::default();
            assert_eq!(second_handshake_kind(server.clone(), ours).await, rustls::HandshakeKind::Full);
            assert_eq!(
                second_handshake_kind(server, Arc::new(control)).await,
                rustls::HandshakeKind::Resumed
            );
        }
    }

    /// A server that answers the ClientHello with a protocol_version alert, as a TLS 1.0/1.1-only
    /// server does.
    #[tokio::test]
    async fn server_refusing_our_versions_is_version_too_old() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client_io, mut server_io) = tokio::io::duplex(1 << 16);
        let server = async move {
            let mut hello = [0u8; 5];
            server_io.read_exact(&mut hello).await.unwrap();
            // alert record, TLS 1.0 record version, fatal (2), protocol_version (70)
            server_io.write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]).await.unwrap();
            server_io
        };
        let (client, _server_io) = tokio::join!(handshake(client_io, config, DOMAIN), server);
        let err = client.unwrap_err();
        assert!(matches!(err, TlsError::VersionTooOld), "{err:?}");
        assert_eq!(err.to_string(), "the server only offers a TLS version older than 1.2, which is refused");
    }

    /// A server that answers with a TLS 1.1 ServerHello: the client refuses it.
    #[tokio::test]
    async fn tls11_server_hello_is_version_too_old() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client_io, mut server_io) = tokio::io::duplex(1 << 16);
        let server = async move {
            let mut header = [0u8; 5];
            server_io.read_exact(&mut header).await.unwrap();
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            let mut body = vec![0u8; len];
            server_io.read_exact(&mut body).await.unwrap();
            // ServerHello: version 3.2 (TLS 1.1), random, empty session id,
            // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, no compression, no extensions.
            let mut hello = vec![0x03, 0x02];
            hello.extend_from_slice(&[0x42; 32]);
            hello.extend_from_slice(&[0x00, 0xc0, 0x13, 0x00]);
            let mut handshake = vec![0x02, 0x00, 0x00, u8::try_from(hello.len()).unwrap()];
            handshake.extend_from_slice(&hello);
            let mut record = vec![0x16, 0x03, 0x02, 0x00, u8::try_from(handshake.len()).unwrap()];
            record.extend_from_slice(&handshake);
            server_io.write_all(&record).await.unwrap();
            server_io
        };
        let (client, _server_io) = tokio::join!(handshake(client_io, config, DOMAIN), server);
        let err = client.unwrap_err();
        assert!(matches!(err, TlsError::VersionTooOld), "{err:?}");
    }

    #[tokio::test]
    async fn connection_closed_during_handshake_is_an_io_error() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        drop(server_io);
        let err = handshake(client_io, config, DOMAIN).await.unwrap_err();
        assert!(matches!(err, TlsError::Io(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_domain_that_is_no_dns_name_is_refused_before_any_byte_is_sent() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let config = client_config(&policy(&ca, None), false).unwrap();
        let (client_io, _server_io) = tokio::io::duplex(1 << 16);
        let err = handshake(client_io, config, "not a domain!").await.unwrap_err();
        assert!(matches!(err, TlsError::InvalidDomain { .. }), "{err:?}");
    }

    #[test]
    fn channel_binding_before_the_handshake_is_refused() {
        let ca = ca(&PKCS_ECDSA_P256_SHA256, "Test CA");
        let config = client_config(&policy(&ca, None), false).unwrap();
        let conn = ClientConnection::new(config, ServerName::try_from(DOMAIN).unwrap()).unwrap();
        assert!(matches!(channel_binding(&conn), Err(TlsError::HandshakeNotFinished)));
        assert_eq!(tls_version(&conn), "no TLS version negotiated");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    const PSS_SHA384_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIDcTCCAiWgAwIBAgIUAyKhGXOJGkBn0AZOIWmuz5ETdtQwQQYJKoZIhvcNAQEK
MDSgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgIF
AKIDAgEwMBMxETAPBgNVBAMMCHBzcy50ZXN0MCAXDTI2MTEyMzE5MjQwMFoYDzIx
MjYxMDMwMTkyNDAwWjATMREwDwYDVQQDDAhwc3MudGVzdDCCASIwDQYJKoZIhvcN
AQEBBQADggEPADCCAQoCggEBAMCemmQK222f52daqJhC1h+jm3hZ3IVG7JKq/z90
LA1uGNyBdX7NdkCtPHL3/YbYHwxNL5N5JFRXBO/lKVo0zRr2vET46/jLcl/JeQnm
x/kpTnghFdclyZP9jAIJngNXvaAST+5HAGls+vlrz8yjwL7QDg8Z5B28nfvkGB4a
2mG1MZD3/9FLbhMxigC6FyPLKqQhajBlkNtsGEzJVNik1Zfa6e8gpJP1eEr5fhqo
at0F/W2/SImGR8f+L/AIcedgLov3qKMXNh283yyc/vkA1Tdbv9+qNkLPi8i2QdEN
vvcPnAxuXwQAQ3n40ZC5iQC6fqi6JmsPCbsKpxO8B96hHukCAwEAAaNTMFEwHQYD
VR0OBBYEFA65KGC5cE9VVd/l70Fc0d8Sir3LMB8GA1UdIwQYMBaAFA65KGC5cE9V
Vd/l70Fc0d8Sir3LMA8GA1UdEwEB/wQFMAMBAf8wQQYJKoZIhvcNAQEKMDSgDzAN
BglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgIFAKIDAgEw
A4IBAQBHvmhR5gsHuXQ+EnoTWZatYa/XvRmxQRZg6FMEETrKDFhsMlO/p8U3PdDw
2ZyeVZpc8FObGBP3Vm9bQ0odiQtYSyYfN8z7S2+J13BKuHlbSZexU0ProzWHBIVm
UlE2NXEI0cND7PTFQ+jkAaY83v5sJnVRiwcsGjb5UZoxDXkC4VpsD2vi2/qFYURo
woH1giuokJ8jwETHETanLEY9Zdd4VEz0NW2QjGN+vgWaATtunsjRaz3IaYW9olCY
tEN4DjkKY9a6PQeH4zfNlSWqWiM1YGNwfdtPXg06EArfGeooLY0tNCxPfzaddRSV
jkZ5TYhfi82j8qH968gK/KpkMFNB
-----END CERTIFICATE-----
";
}
