//! The channel between the broker and the network process.

use bincode::{Decode, Encode};

use crate::register::RegistrationForm;
use crate::secret::SecretText;
use crate::types::Failure;
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
    /// From crypto: open a stream to the domain (`settings.jid`) and ask
    /// for its registration form.
    Register { registration: u64, settings: ConnectionSettings },
    /// From the UI: the answers to the form it was shown, or none to cancel.
    RegisterAnswers { registration: u64, answers: Option<Vec<(String, String)>> },
    /// From crypto: the whole `<iq type='set'>` with the user name and the
    /// password, to write once on the registration stream and forget.
    RegisterSubmit { registration: u64, stanza: SecretText },
    /// From crypto: it will not go on (every name was taken); close.
    RegisterAbandon { registration: u64 },
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
    /// The server's form has fields for the user; for the UI.
    RegisterForm { registration: u64, domain: String, form: RegistrationForm },
    /// Ready to submit as the iq `iq_id`; for crypto to write the stanza.
    /// `conflict`: the last user name was taken, choose another.
    RegisterReady { registration: u64, iq_id: String, domain: String, form: RegistrationForm, answers: Vec<(String, String)>, conflict: bool },
    /// The server created the account; for crypto to store it.
    Registered { registration: u64 },
    /// Nothing was created; for crypto to forget it and for the UI.
    RegisterFailed { registration: u64, domain: String, failure: Failure },
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
            FromNet::RegisterForm { .. } => "RegisterForm",
            FromNet::RegisterReady { .. } => "RegisterReady",
            FromNet::Registered { .. } => "Registered",
            FromNet::RegisterFailed { .. } => "RegisterFailed",
        }
    }
}
