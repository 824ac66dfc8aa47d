//! The channel between the broker and the crypto process.

use bincode::{Decode, Encode};

use crate::import::{ImportFile, ImportReport, ImportSource};
use crate::otr::{OtrEvent, OtrRequest};
use crate::register::RegistrationForm;
use crate::secret::{Passphrase, SecretText};
use crate::types::{AccountSummary, Failure, Probe, UnlockMode};
use crate::ui::Preferences;
use crate::xmpp::{ConnectionSettings, NewAccount, SaslOffer, SaslServer, SaslStep};

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ToCrypto {
    /// From the UI.
    Unlock { passphrase: Passphrase, mode: UnlockMode },
    /// From the UI.
    ChangePassphrase { passphrase: Passphrase },
    /// From the UI, on its way out to net.
    Ping(Probe),
    /// From net, on its way back to the UI.
    Pong(Probe),
    /// From the UI.
    AddAccount(NewAccount),
    /// From the UI: a message to apply the OTR policy to and hand to net.
    Send { account: String, peer: String, text: SecretText, request: u64 },
    /// From net: a message from a peer (`from` is the full JID).
    Incoming { seq: u64, account: String, from: String, body: SecretText },
    /// From net: the server's mechanisms and the TLS binding; choose and begin.
    SaslStart { account: String, attempt: u64, offer: SaslOffer },
    /// From net: the server's next SASL message.
    SaslServer { account: String, attempt: u64, message: SaslServer },
    /// From net: the exchange is over (the stream closed or failed).
    SaslEnd { account: String, attempt: u64 },
    /// From the broker: net (re)started and knows no account; send them.
    NetStarted,
    /// From the broker: the front end was restarted and knows nothing;
    /// send the account summaries again if the store is open.
    UiStarted,
    /// From the UI: keep these preferences in the store.
    SetPreferences(Preferences),
    /// From the UI: an OTR request for one account.
    Otr { account: String, request: OtrRequest },
    /// From the UI, with the files the launcher read: parse and merge them.
    Import { source: ImportSource, files: Vec<ImportFile>, passphrase: Option<SecretText>, unread: Vec<String> },
    /// From the UI: create an account on `jid` (a domain; the password is
    /// empty) with these options; crypto chooses the name and password.
    Register(NewAccount),
    /// From net: write the submission for this form.
    RegisterReady { registration: u64, iq_id: String, domain: String, form: RegistrationForm, answers: Vec<(String, String)>, conflict: bool },
    /// From net: the server created the account.
    Registered { registration: u64 },
    /// From net: it failed; forget it.
    RegisterFailed { registration: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FromCrypto {
    /// The store is open; summaries go to the UI, connection settings to net.
    Unlocked { accounts: Vec<AccountSummary>, settings: Vec<ConnectionSettings> },
    /// The store stays closed; for the UI.
    UnlockFailed(Failure),
    /// For the UI, while an unlock runs: the key is being derived.
    Unlocking,
    /// For the UI: the answer to `ChangePassphrase`.
    PassphraseChanged(Result<(), Failure>),
    /// Outbound, for net.
    Ping(Probe),
    /// Inbound, for the UI.
    Pong(Probe),
    /// The summary for the UI, the settings for net.
    AccountAdded { summary: AccountSummary, settings: ConnectionSettings },
    AccountRefused(Failure),
    /// For net: the body that carries the UI's message `request` (or its
    /// last fragment), `encrypted` if OTR made it.
    Transmit { account: String, peer: String, body: SecretText, request: u64, encrypted: bool },
    /// For net: an OTR protocol message of crypto's own (query, AKE, data
    /// message without user text, fragment, OTR error). The broker lets
    /// only bodies that start with `?OTR` through.
    Protocol { account: String, peer: String, body: SecretText },
    /// For the UI: a `Send` that policy kept from leaving in plaintext.
    Refused { account: String, peer: String, request: u64, reason: String },
    /// An `Incoming` that held nothing to show (an AKE message, a fragment,
    /// a heartbeat); it closes that message's turn.
    Absorbed { seq: u64 },
    /// For the UI: news of OTR conversations.
    Otr { account: String, event: OtrEvent },
    /// The import's report for the UI, and every account's settings for net.
    Imported { report: Result<ImportReport, Failure>, settings: Vec<ConnectionSettings> },
    /// For the UI: a `Send` that may not leave.
    SendFailed { account: String, peer: String, request: u64, failure: Failure },
    /// For the UI: the text of an `Incoming`.
    Deliver { seq: u64, account: String, peer: String, text: SecretText, encrypted: bool },
    /// For net: the next SASL step of an exchange it opened.
    Sasl { account: String, attempt: u64, step: SaslStep },
    /// For net, in answer to `NetStarted`: every account's settings.
    NetAccounts(Vec<ConnectionSettings>),
    /// For the UI, in answer to `UiStarted`: the account summaries if the
    /// store is open, `None` if it is still locked.
    UiAccounts(Option<Vec<AccountSummary>>),
    /// For the UI: its preferences as the store holds them (after an
    /// unlock, to a restarted UI, and after `SetPreferences`).
    Preferences(Preferences),
    /// For the UI: `SetPreferences` could not be saved; nothing changed.
    PreferencesFailed(Failure),
    /// For net: open the registration stream (`settings.jid` is the domain).
    RegisterStart { registration: u64, settings: ConnectionSettings },
    /// For the UI: a `Register` refused before anything was sent.
    RegisterRefused { domain: String, failure: Failure },
    /// For net: the submission, with the user name and the password.
    RegisterSubmit { registration: u64, stanza: SecretText },
    /// For net and the UI: crypto gives up (every name it tried was taken).
    RegisterAbandon { registration: u64, domain: String, failure: Failure },
    /// The account is in the store (summary for the UI, settings for net,
    /// which logs in), or why it could not be saved.
    RegisterDone { registration: u64, domain: String, result: Result<(AccountSummary, ConnectionSettings), Failure> },
}

impl FromCrypto {
    pub fn kind(&self) -> &'static str {
        match self {
            FromCrypto::Unlocked { .. } => "Unlocked",
            FromCrypto::UnlockFailed(_) => "UnlockFailed",
            FromCrypto::Unlocking => "Unlocking",
            FromCrypto::PassphraseChanged(_) => "PassphraseChanged",
            FromCrypto::Ping(_) => "Ping",
            FromCrypto::Pong(_) => "Pong",
            FromCrypto::AccountAdded { .. } => "AccountAdded",
            FromCrypto::AccountRefused(_) => "AccountRefused",
            FromCrypto::Transmit { .. } => "Transmit",
            FromCrypto::SendFailed { .. } => "SendFailed",
            FromCrypto::Deliver { .. } => "Deliver",
            FromCrypto::Sasl { .. } => "Sasl",
            FromCrypto::NetAccounts(_) => "NetAccounts",
            FromCrypto::UiAccounts(_) => "UiAccounts",
            FromCrypto::Preferences(_) => "Preferences",
            FromCrypto::PreferencesFailed(_) => "PreferencesFailed",
            FromCrypto::Protocol { .. } => "Protocol",
            FromCrypto::Refused { .. } => "Refused",
            FromCrypto::Absorbed { .. } => "Absorbed",
            FromCrypto::Otr { .. } => "Otr",
            FromCrypto::Imported { .. } => "Imported",
            FromCrypto::RegisterStart { .. } => "RegisterStart",
            FromCrypto::RegisterRefused { .. } => "RegisterRefused",
            FromCrypto::RegisterSubmit { .. } => "RegisterSubmit",
            FromCrypto::RegisterAbandon { .. } => "RegisterAbandon",
            FromCrypto::RegisterDone { .. } => "RegisterDone",
        }
    }
}
