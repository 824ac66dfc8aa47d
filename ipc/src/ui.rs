//! The channel between the broker and the UI process.

use bincode::{Decode, Encode};

use crate::secret::Passphrase;
use crate::types::{AccountSummary, Failure, ProcessReport, Probe};

/// What the UI asks for.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FromUi {
    /// Open (or create) the store. Routed to crypto.
    Unlock { passphrase: Passphrase },
    /// Report every process; answered by the broker itself.
    Status,
    /// A round trip through crypto and net and back.
    Ping(Probe),
    /// Shut everything down.
    Quit,
}

impl FromUi {
    /// The variant's name, for counters and logs that must not carry content.
    pub fn kind(&self) -> &'static str {
        match self {
            FromUi::Unlock { .. } => "Unlock",
            FromUi::Status => "Status",
            FromUi::Ping(_) => "Ping",
            FromUi::Quit => "Quit",
        }
    }
}

/// What the UI is told.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ToUi {
    Unlocked { accounts: Vec<AccountSummary> },
    Failed(Failure),
    /// One process, in answer to `Status`.
    Process(ProcessReport),
    /// A process was restarted; `reason` says why in plain words.
    Restarted { report: ProcessReport, reason: String },
    /// All processes of a `Status` answer have been sent.
    StatusComplete,
    Pong(Probe),
}
