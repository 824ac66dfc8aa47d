//! The channel between the broker and the crypto process.

use bincode::{Decode, Encode};

use crate::secret::Passphrase;
use crate::types::{AccountSummary, Failure, Probe};

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ToCrypto {
    /// From the UI.
    Unlock { passphrase: Passphrase },
    /// From the UI, on its way out to net.
    Ping(Probe),
    /// From net, on its way back to the UI.
    Pong(Probe),
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FromCrypto {
    /// The store is open; summaries go to the UI and to net.
    Unlocked { accounts: Vec<AccountSummary> },
    /// The store stays closed; for the UI.
    UnlockFailed(Failure),
    /// Outbound, for net.
    Ping(Probe),
    /// Inbound, for the UI.
    Pong(Probe),
}

impl FromCrypto {
    pub fn kind(&self) -> &'static str {
        match self {
            FromCrypto::Unlocked { .. } => "Unlocked",
            FromCrypto::UnlockFailed(_) => "UnlockFailed",
            FromCrypto::Ping(_) => "Ping",
            FromCrypto::Pong(_) => "Pong",
        }
    }
}
