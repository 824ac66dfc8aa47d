//! What the store holds, version by version. Only the crypto process ever
//! sees these values in the clear; on disk they exist only inside the
//! store's authenticated encryption.
//!
//! `Contents` is the current version. An older version's decoder and its
//! migration to the current one live beside it, so a store written by an
//! older Burrow opens (and is rewritten in the current version on its next
//! save).

use bincode::{Decode, Encode};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The version `Contents` encodes as. Raise it with every change of shape,
/// and keep the old shape's decoder and its migration.
pub const CONTENTS_VERSION: u16 = 2;

/// One account, with its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
pub struct AccountRecord {
    pub jid: String,
    /// Never printed: `Debug` of the record is for tests of the format.
    pub password: String,
    /// A server override, `HOST:PORT`.
    pub server: Option<(String, u16)>,
    /// The server's onion service, `NAME.onion:PORT` (since version 2).
    pub onion: Option<(String, u16)>,
    /// "starttls" or "direct".
    pub transport: String,
    /// "auto", "system" or "embedded".
    pub tor: String,
    /// `sha256/BASE64` of the server key, when pinned.
    pub spki_pin: Option<String>,
    /// Extra trust anchors for this account alone (PEM).
    pub extra_anchors_pem: Option<Vec<u8>>,
    /// "never", "opportunistic", "manual" or "require".
    pub otr_policy: String,
    pub otr_allow_v2: bool,
    pub allow_plain: bool,
}

/// An account's OTR long-term key (DSA: p, q, g, y and the secret x, as
/// big-endian magnitudes) and its instance tag.
#[derive(Clone, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
pub struct OtrKeyRecord {
    pub account: String,
    pub p: Vec<u8>,
    pub q: Vec<u8>,
    pub g: Vec<u8>,
    pub y: Vec<u8>,
    pub x: Vec<u8>,
    pub instance_tag: u32,
}

impl std::fmt::Debug for OtrKeyRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("OtrKeyRecord").field("account", &self.account).field("instance_tag", &self.instance_tag).finish_non_exhaustive()
    }
}

/// How far a fingerprint is trusted (as `otr::trust::Trust`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, Zeroize)]
pub enum TrustRecord {
    Unverified,
    VerifiedBySmp,
    VerifiedByHand,
}

/// A peer's fingerprint seen by an account, and its trust.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Zeroize)]
pub struct FingerprintRecord {
    pub account: String,
    pub peer: String,
    pub fingerprint: [u8; 20],
    pub trust: TrustRecord,
}

/// A contact's own OTR policy, overriding the account's.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Zeroize)]
pub struct PeerPolicyRecord {
    pub account: String,
    pub peer: String,
    pub policy: String,
    pub allow_v2: bool,
}

/// A group chat the user keeps.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Zeroize)]
pub struct BookmarkRecord {
    pub account: String,
    pub room: String,
    pub nick: Option<String>,
    pub autojoin: bool,
}

/// Everything in one store, current version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
pub struct Contents {
    pub accounts: Vec<AccountRecord>,
    pub otr_keys: Vec<OtrKeyRecord>,
    pub fingerprints: Vec<FingerprintRecord>,
    pub peer_policies: Vec<PeerPolicyRecord>,
    pub bookmarks: Vec<BookmarkRecord>,
    /// UI preferences, name → value.
    pub preferences: Vec<(String, String)>,
}

/// Version 1, as Burrow wrote it before accounts had an onion override.
pub mod v1 {
    use bincode::{Decode, Encode};
    use zeroize::{Zeroize, ZeroizeOnDrop};

    use super::{BookmarkRecord, FingerprintRecord, OtrKeyRecord, PeerPolicyRecord};

    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
    pub struct AccountRecord {
        pub jid: String,
        pub password: String,
        pub server: Option<(String, u16)>,
        pub transport: String,
        pub tor: String,
        pub spki_pin: Option<String>,
        pub extra_anchors_pem: Option<Vec<u8>>,
        pub otr_policy: String,
        pub otr_allow_v2: bool,
        pub allow_plain: bool,
    }

    #[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
    pub struct Contents {
        pub accounts: Vec<AccountRecord>,
        pub otr_keys: Vec<OtrKeyRecord>,
        pub fingerprints: Vec<FingerprintRecord>,
        pub peer_policies: Vec<PeerPolicyRecord>,
        pub bookmarks: Vec<BookmarkRecord>,
        pub preferences: Vec<(String, String)>,
    }

    /// Every value moves over as it is; no account had an onion override.
    /// (`mem::take`, because the zeroizing types cannot be taken apart.)
    impl From<Contents> for super::Contents {
        fn from(mut old: Contents) -> Self {
            let accounts = old
                .accounts
                .iter_mut()
                .map(|account| super::AccountRecord {
                    jid: std::mem::take(&mut account.jid),
                    password: std::mem::take(&mut account.password),
                    server: account.server.take(),
                    onion: None,
                    transport: std::mem::take(&mut account.transport),
                    tor: std::mem::take(&mut account.tor),
                    spki_pin: account.spki_pin.take(),
                    extra_anchors_pem: account.extra_anchors_pem.take(),
                    otr_policy: std::mem::take(&mut account.otr_policy),
                    otr_allow_v2: account.otr_allow_v2,
                    allow_plain: account.allow_plain,
                })
                .collect();
            super::Contents {
                accounts,
                otr_keys: std::mem::take(&mut old.otr_keys),
                fingerprints: std::mem::take(&mut old.fingerprints),
                peer_policies: std::mem::take(&mut old.peer_policies),
                bookmarks: std::mem::take(&mut old.bookmarks),
                preferences: std::mem::take(&mut old.preferences),
            }
        }
    }
}
