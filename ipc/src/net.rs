//! The channel between the broker and the network process.

use bincode::{Decode, Encode};

use crate::types::{AccountSummary, Probe};

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ToNet {
    /// The accounts of the unlocked store, without secrets.
    Accounts(Vec<AccountSummary>),
    /// From crypto, to go out.
    Ping(Probe),
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FromNet {
    /// Came back in; for crypto.
    Pong(Probe),
}

impl FromNet {
    pub fn kind(&self) -> &'static str {
        match self {
            FromNet::Pong(_) => "Pong",
        }
    }
}
