//! The channel between the broker and the UI process.

use bincode::{Decode, Encode};

use crate::import::{ImportReport, ImportRequest};
use crate::otr::{OtrEvent, OtrRequest};
use crate::register::RegistrationEvent;
use crate::secret::{Passphrase, SecretText};
use crate::types::{AccountSummary, Failure, ProcessReport, Probe, UnlockMode};
use crate::xmpp::{AccountRequest, NetEvent, NewAccount};

/// What the UI asks for.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FromUi {
    /// Open (or create) the store. Routed to crypto.
    Unlock { passphrase: Passphrase, mode: UnlockMode },
    /// A new passphrase for the open store. Routed to crypto.
    ChangePassphrase { passphrase: Passphrase },
    /// Report every process; answered by the broker itself.
    Status,
    /// A round trip through crypto and net and back.
    Ping(Probe),
    /// Shut everything down.
    Quit,
    /// Add an account to the store. Routed to crypto.
    AddAccount(NewAccount),
    /// Connect, disconnect, roster, subscriptions. Routed to net.
    Account { account: String, request: AccountRequest },
    /// A message for a peer; `request` numbers it for the `sent` answer.
    /// Routed to crypto, which applies the OTR policy.
    Send { account: String, peer: String, text: SecretText, request: u64 },
    /// An OTR request. Routed to crypto.
    Otr { account: String, request: OtrRequest },
    /// Import another client's accounts, keys and fingerprints: the broker
    /// has the launcher read the files, then crypto parses them.
    Import(ImportRequest),
    /// Create a new account on `jid` (a domain, the password empty) with
    /// these options. Routed to crypto, which chooses name and password.
    Register(NewAccount),
    /// The answers to a registration form (none: cancel). Routed to net.
    RegisterAnswers { registration: u64, answers: Option<Vec<(String, String)>> },
    /// A preference of the front end's, kept in the store. Routed to crypto.
    SetPreferences(Preferences),
}

/// The front end's own settings, kept in the encrypted store (nothing is
/// written anywhere else). Typed, so that crypto stores no free text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode)]
pub struct Preferences {
    /// Text larger than the desktop's, for reading comfort.
    pub larger_text: bool,
}

impl Preferences {
    /// The store's name → value pairs; unknown names are ignored.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut preferences = Preferences::default();
        for (name, value) in pairs {
            if name == "larger-text" {
                preferences.larger_text = value == "on";
            }
        }
        preferences
    }

    pub fn to_pairs(self) -> Vec<(String, String)> {
        vec![("larger-text".into(), if self.larger_text { "on" } else { "off" }.into())]
    }
}

impl FromUi {
    /// The variant's name, for counters and logs that must not carry content.
    pub fn kind(&self) -> &'static str {
        match self {
            FromUi::Unlock { .. } => "Unlock",
            FromUi::ChangePassphrase { .. } => "ChangePassphrase",
            FromUi::Status => "Status",
            FromUi::Ping(_) => "Ping",
            FromUi::Quit => "Quit",
            FromUi::AddAccount(_) => "AddAccount",
            FromUi::Account { request, .. } => request.kind(),
            FromUi::Send { .. } => "Send",
            FromUi::Otr { request, .. } => request.kind(),
            FromUi::Import(_) => "Import",
            FromUi::Register(_) => "Register",
            FromUi::RegisterAnswers { .. } => "RegisterAnswers",
            FromUi::SetPreferences(_) => "SetPreferences",
        }
    }
}

/// What the UI is told.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ToUi {
    Unlocked { accounts: Vec<AccountSummary> },
    /// The key is being derived from the passphrase (about a second).
    Unlocking,
    /// The answer to `ChangePassphrase`.
    PassphraseChanged(Result<(), Failure>),
    Failed(Failure),
    /// One process, in answer to `Status`.
    Process(ProcessReport),
    /// A process was restarted; `reason` says why in plain words.
    Restarted { report: ProcessReport, reason: String },
    /// All processes of a `Status` answer have been sent.
    StatusComplete,
    Pong(Probe),
    AccountAdded(AccountSummary),
    /// The account could not be added; the store is unchanged.
    AccountRefused(Failure),
    /// Connection, roster and presence news from net.
    Net(NetEvent),
    /// A message from a peer, after crypto has seen it.
    Message { account: String, peer: String, text: SecretText, encrypted: bool },
    /// A message of ours that did not leave, and why.
    SendFailed { account: String, peer: String, request: u64, failure: Failure },
    /// A message of ours that policy did not let out in plaintext.
    Refused { account: String, peer: String, request: u64, reason: String },
    /// News of OTR conversations, from crypto.
    Otr { account: String, event: OtrEvent },
    /// What an import brought in, or why it failed.
    Imported(Result<ImportReport, Failure>),
    /// A registration's form, success or failure.
    Registration(RegistrationEvent),
    /// The front end's preferences, from the store: after an unlock, and
    /// in answer to `SetPreferences`.
    Preferences(Preferences),
}

#[cfg(test)]
mod tests {
    use super::Preferences;

    #[test]
    fn preferences_round_trip_through_the_stores_pairs_and_ignore_strangers() {
        for larger_text in [false, true] {
            let preferences = Preferences { larger_text };
            assert_eq!(Preferences::from_pairs(&preferences.to_pairs()), preferences);
        }
        let odd = vec![("theme".to_owned(), "dark".to_owned()), ("larger-text".to_owned(), "yes please".to_owned())];
        assert_eq!(Preferences::from_pairs(&odd), Preferences::default());
    }
}
