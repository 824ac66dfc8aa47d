//! OTR requests of the UI's and what the crypto process tells the UI about
//! its private conversations. Nothing here carries key material: the UI
//! sees fingerprints (public) and states, never keys or session secrets.

use bincode::{Decode, Encode};

use crate::secret::SecretText;
use crate::types::Failure;

/// What the user asks of OTR for one account. Routed UI → crypto.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum OtrRequest {
    /// Send a query: start a private conversation.
    Start { peer: String },
    /// End the private conversation.
    End { peer: String },
    /// Our fingerprint, or the peer's current one.
    Fingerprint { peer: Option<String> },
    /// Mark a fingerprint verified by hand.
    Trust { peer: String, fingerprint: String },
    /// Start SMP, with an optional question.
    Smp { peer: String, question: Option<SecretText>, secret: SecretText },
    /// Answer the peer's SMP.
    SmpAnswer { peer: String, secret: SecretText },
    /// Set the policy for the account, or for one peer; `allow_v2` none
    /// keeps version 2 as it was (allowed, by default).
    Policy { peer: Option<String>, policy: String, allow_v2: Option<bool> },
}

impl OtrRequest {
    pub fn kind(&self) -> &'static str {
        match self {
            OtrRequest::Start { .. } => "OtrStart",
            OtrRequest::End { .. } => "OtrEnd",
            OtrRequest::Fingerprint { .. } => "Fingerprint",
            OtrRequest::Trust { .. } => "Trust",
            OtrRequest::Smp { .. } => "Smp",
            OtrRequest::SmpAnswer { .. } => "SmpAnswer",
            OtrRequest::Policy { .. } => "Policy",
        }
    }
}

/// The state of a conversation, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum ConversationState {
    Plaintext,
    Private,
    Finished,
}

impl ConversationState {
    pub fn name(self) -> &'static str {
        match self {
            ConversationState::Plaintext => "plaintext",
            ConversationState::Private => "private",
            ConversationState::Finished => "finished",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum SmpResult {
    Asked,
    Success,
    Failure,
    Aborted,
}

impl SmpResult {
    pub fn name(self) -> &'static str {
        match self {
            SmpResult::Asked => "asked",
            SmpResult::Success => "success",
            SmpResult::Failure => "failure",
            SmpResult::Aborted => "aborted",
        }
    }
}

/// The most earlier fingerprints one [`KeyChange`] lists: a peer that
/// makes a new key at every AKE must not grow the event without bound.
pub const MAX_EARLIER_FINGERPRINTS: usize = 8;

/// A fingerprint seen before for a peer whose current one is new to us.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EarlierFingerprint {
    pub fingerprint: String,
    pub verified: bool,
}

/// The peer's current fingerprint is not verified and is not the only one
/// seen for this peer.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct KeyChange {
    /// The other fingerprints seen for this peer, verified ones first, at
    /// most [`MAX_EARLIER_FINGERPRINTS`].
    pub earlier: Vec<EarlierFingerprint>,
}

impl KeyChange {
    /// Whether the user had verified one of the earlier keys: the case
    /// that most needs a warning, since they had reason to trust it.
    pub fn earlier_verified(&self) -> bool {
        self.earlier.iter().any(|earlier| earlier.verified)
    }
}

/// What crypto tells the UI. Routed crypto → UI.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum OtrEvent {
    /// A conversation changed state (or was asked about). `key_change` is
    /// set while the peer's fingerprint is unverified and differs from
    /// one seen before for this peer: a new device, a reinstall, or
    /// someone in the middle.
    State { peer: String, state: ConversationState, fingerprint: Option<String>, verified: bool, key_change: Option<KeyChange> },
    Smp { peer: String, result: SmpResult, question: Option<String>, reason: Option<String> },
    /// Our fingerprint (`peer` none) or the peer's.
    Fingerprint { peer: Option<String>, fingerprint: String },
    /// A policy was set.
    Policy { peer: Option<String>, policy: String, allow_v2: bool },
    /// A fingerprint was marked verified.
    Trusted { peer: String, fingerprint: String },
    /// The account's OTR key is being made (it takes seconds) or is ready.
    KeyGeneration { done: bool, fingerprint: Option<String> },
    /// Something the user should know: plain words, no message text.
    Notice { peer: String, message: String },
    /// A request that could not be done, and why.
    Failed { peer: Option<String>, failure: Failure },
}
