//! The channel between the broker and the network process.

use bincode::{Decode, Encode};

use crate::secret::SecretText;
use crate::types::Probe;
use crate::xmpp::{AccountRequest, ConnectionSettings, NetEvent, SaslOffer, SaslServer, SaslStep};

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ToNet {
    /// Every account of the unlocked store, without secrets; replaces what
    /// net knew.
    Accounts(Vec<ConnectionSettings>),
    /// One account added to the store.
    AccountAdded(ConnectionSettings),
    /// From crypto, to go out.
    Ping(Probe),
    /// From the UI.
    Request { account: String, request: AccountRequest },
    /// From crypto: a message body to send to a peer; `request` when it
    /// carries the UI's message of that number (net reports it `Sent`).
    Transmit { account: String, peer: String, body: SecretText, request: Option<u64>, encrypted: bool },
    /// From crypto: the next step of a SASL exchange net opened.
    Sasl { account: String, attempt: u64, step: SaslStep },
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FromNet {
    /// Came back in; for crypto.
    Pong(Probe),
    /// For the UI.
    Event(NetEvent),
    /// A message from a peer; for crypto (OTR sees it before the UI does).
    Incoming { seq: u64, account: String, from: String, body: SecretText },
    /// Opens a SASL exchange; for crypto.
    SaslStart { account: String, attempt: u64, offer: SaslOffer },
    /// The server's next SASL message; for crypto.
    SaslServer { account: String, attempt: u64, message: SaslServer },
    /// The exchange ended without success; for crypto to forget it.
    SaslEnd { account: String, attempt: u64 },
}

impl FromNet {
    pub fn kind(&self) -> &'static str {
        match self {
            FromNet::Pong(_) => "Pong",
            FromNet::Event(_) => "Event",
            FromNet::Incoming { .. } => "Incoming",
            FromNet::SaslStart { .. } => "SaslStart",
            FromNet::SaslServer { .. } => "SaslServer",
            FromNet::SaslEnd { .. } => "SaslEnd",
        }
    }
}
