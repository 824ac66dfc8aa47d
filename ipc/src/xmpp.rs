//! Types of the XMPP flows that cross more than one channel: accounts, the
//! SASL exchange relayed between net and crypto, and what net reports.

use bincode::{Decode, Encode};

use crate::secret::SecretText;
use crate::types::Failure;

/// How the network process reaches an account's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum Transport {
    /// Plain TCP, then STARTTLS, which is mandatory.
    StartTls,
    /// TLS from the first byte (XEP-0368), ALPN `xmpp-client`.
    DirectTls,
}

/// Which Tor the account's connections go through (the Tor issue implements
/// the modes; until then only loopback servers can be reached, directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum TorMode {
    Auto,
    System,
    Embedded,
}

impl TorMode {
    pub fn name(self) -> &'static str {
        match self {
            TorMode::Auto => "auto",
            TorMode::System => "system",
            TorMode::Embedded => "embedded",
        }
    }
}

/// An account as the UI asks to add it. The password travels to the crypto
/// process only.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct NewAccount {
    pub jid: String,
    pub password: SecretText,
    /// `HOST:PORT` to dial instead of the domain's own address.
    pub server: Option<(String, u16)>,
    /// `NAME.onion:PORT`, the server's onion service, dialed through Tor
    /// instead of the domain (and instead of the table of known servers).
    pub onion: Option<(String, u16)>,
    pub transport: Transport,
    pub ca_path: Option<String>,
    /// The file's certificates, filled in by the broker (from the launcher)
    /// on the way to crypto; never set by the UI.
    pub ca_pem: Option<Vec<u8>>,
    /// `sha256/BASE64` of the server's SubjectPublicKeyInfo.
    pub spki_pin: Option<String>,
    pub tor: TorMode,
    /// The OTR policy's name (`never`, `opportunistic`, `manual`, `require`).
    pub policy: Option<String>,
    /// SASL PLAIN over TLS, only where the server offers no SCRAM.
    pub allow_plain: bool,
}

/// What net needs to connect an account: everything but the password.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ConnectionSettings {
    pub jid: String,
    pub server: Option<(String, u16)>,
    pub onion: Option<(String, u16)>,
    pub transport: Transport,
    /// PEM certificates trusted for this account only, besides the system's.
    pub extra_anchors_pem: Option<Vec<u8>>,
    pub spki_pin: Option<String>,
    pub tor: TorMode,
}

/// A channel-binding type Burrow can supply. `tls-unique` is absent on
/// purpose: rustls does not expose it, and RFC 9266 leaves it undefined for
/// TLS 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum BindingKind {
    /// RFC 9266: the TLS 1.3 exporter, label "EXPORTER-Channel-Binding",
    /// empty context, 32 bytes.
    TlsExporter,
    /// RFC 5929 §4.1: a hash of the server's certificate, for TLS 1.2.
    TlsServerEndPoint,
}

impl BindingKind {
    /// The `cb-name` registered with IANA, as SCRAM's `p=` and XEP-0440
    /// write it.
    pub fn name(self) -> &'static str {
        match self {
            BindingKind::TlsExporter => "tls-exporter",
            BindingKind::TlsServerEndPoint => "tls-server-end-point",
        }
    }
}

/// Channel-binding data the network process takes from its TLS session for
/// the SCRAM computation in crypto. Not secret (both ends of the TLS session
/// can compute it, and it gives no traffic key); it only ties the SCRAM proof
/// to this TLS session, so that a man in the middle with his own session
/// cannot relay the login.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ChannelBinding {
    pub kind: BindingKind,
    pub data: Vec<u8>,
}

/// What net learned of the server, for crypto to choose a mechanism.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SaslOffer {
    pub mechanisms: Vec<String>,
    /// XEP-0440's list, when the server advertises one.
    pub binding_types: Option<Vec<String>>,
    pub binding: Option<ChannelBinding>,
    /// The server's -PLUS refused our binding earlier on this connection.
    pub binding_refused: bool,
}

/// The crypto process's next SASL message, for net to relay as it is.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum SaslStep {
    /// The mechanism chosen and its initial response.
    Begin { mechanism: String, initial: SecretText, note: Option<String> },
    /// An answer to a challenge.
    Respond(SecretText),
    /// The server's success message checked out: the server knows the
    /// password, and the channel binding (if any) matched.
    Verified,
    /// Crypto will not go on; net closes the stream and says why.
    Abandon(Failure),
}

/// What the server sent in the SASL exchange.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum SaslServer {
    Challenge(Vec<u8>),
    Success(Vec<u8>),
}

/// An account's connection state, as the `account` event shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum ConnectionState {
    Offline,
    Connecting,
    Online,
}

impl ConnectionState {
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Offline => "offline",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Online => "online",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AccountStatus {
    pub account: String,
    pub state: ConnectionState,
    /// `system`, `embedded` or `none` (a direct loopback connection).
    pub tor: String,
    /// `TLS 1.3` or `TLS 1.2` while connected.
    pub tls: Option<String>,
    /// The SASL mechanism, with a note when it is a deliberate fallback.
    pub sasl: Option<String>,
    /// Through embedded Tor: arti's name for the circuit that carries the
    /// connection (`Circ 3.1`), unique while net runs, so that a user can
    /// see that two accounts ride different circuits. It names no relay.
    pub circuit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct RosterEntry {
    pub peer: String,
    /// `none`, `to`, `from`, `both`, optionally with ` (pending)`.
    pub subscription: String,
    /// `available`, `away`, `chat`, `dnd`, `xa` or `unavailable`.
    pub presence: String,
}

/// A presence subscription event from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum SubscriptionKind {
    /// The peer asks to see our presence.
    Request,
    /// The peer approved our request.
    Approved,
    /// The peer withdrew or refused.
    Revoked,
}

impl SubscriptionKind {
    pub fn name(self) -> &'static str {
        match self {
            SubscriptionKind::Request => "request",
            SubscriptionKind::Approved => "approved",
            SubscriptionKind::Revoked => "revoked",
        }
    }
}

/// What net reports for the UI alone.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum NetEvent {
    Status(AccountStatus),
    Connected { account: String },
    Disconnected { account: String, reason: String },
    Roster { account: String, entries: Vec<RosterEntry> },
    Presence { account: String, peer: String, show: String },
    Subscription { account: String, peer: String, kind: SubscriptionKind },
    /// The message with this request number left the client.
    Sent { account: String, peer: String, request: u64, encrypted: bool },
    /// A failure tied to an account (and maybe a peer).
    Failed { account: String, peer: Option<String>, failure: Failure },
    /// How far embedded Tor (arti) has come in joining the Tor network:
    /// `percent` 0-100 and arti's summary in words.
    TorBootstrap { percent: u8, summary: String },
}

/// A UI request net answers by itself: it holds roster and presence.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum AccountRequest {
    Connect,
    Disconnect,
    Roster,
    Subscribe { peer: String },
    Approve { peer: String },
    /// Say the account's connection state again (a front end that was
    /// restarted knows nothing).
    Status,
}

impl AccountRequest {
    pub fn kind(&self) -> &'static str {
        match self {
            AccountRequest::Connect => "Connect",
            AccountRequest::Disconnect => "Disconnect",
            AccountRequest::Roster => "Roster",
            AccountRequest::Subscribe { .. } => "Subscribe",
            AccountRequest::Approve { .. } => "Approve",
            AccountRequest::Status => "Status",
        }
    }
}
