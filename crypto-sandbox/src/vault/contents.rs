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
pub const CONTENTS_VERSION: u16 = 3;

/// One account, with its secrets.
#[derive(Clone, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
pub struct AccountRecord {
    pub jid: String,
    /// Never printed: `Debug` shows only whether it is set.
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

impl std::fmt::Debug for AccountRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AccountRecord")
            .field("jid", &self.jid)
            .field("password", &if self.password.is_empty() { "(empty)" } else { "(set, not shown)" })
            .field("server", &self.server)
            .field("onion", &self.onion)
            .field("transport", &self.transport)
            .field("tor", &self.tor)
            .field("spki_pin", &self.spki_pin)
            .field("extra_anchors_pem", &self.extra_anchors_pem.as_ref().map(Vec::len))
            .field("otr_policy", &self.otr_policy)
            .field("otr_allow_v2", &self.otr_allow_v2)
            .field("allow_plain", &self.allow_plain)
            .finish()
    }
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

/// What an import brought for an address that is not (yet) an account of
/// the store: another client that kept no password (Adium never does) still
/// had the user's OTR identity and their contacts' trust, which must not be
/// lost. Kept until the account is added, which then uses them (since
/// version 3). The key's `instance_tag` is 0: a fresh one is drawn then.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
pub struct KeptImportRecord {
    pub jid: String,
    /// The client it came from ("adium", "pidgin", …).
    pub source: String,
    pub otr_key: Option<OtrKeyRecord>,
    /// Fingerprints and contacts' policies, with `account` set to `jid`.
    pub fingerprints: Vec<FingerprintRecord>,
    pub peer_policies: Vec<PeerPolicyRecord>,
    /// The account-wide OTR policy the other client had.
    pub otr_policy: Option<String>,
    /// Its saved rooms, with `account` set to `jid`.
    pub bookmarks: Vec<BookmarkRecord>,
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
    /// Imported identities waiting for their account (since version 3).
    pub kept_imports: Vec<KeptImportRecord>,
}

/// Version 2: version 3 without the kept imports.
pub mod v2 {
    use bincode::{Decode, Encode};
    use zeroize::{Zeroize, ZeroizeOnDrop};

    use super::{AccountRecord, BookmarkRecord, FingerprintRecord, OtrKeyRecord, PeerPolicyRecord};

    #[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
    pub struct Contents {
        pub accounts: Vec<AccountRecord>,
        pub otr_keys: Vec<OtrKeyRecord>,
        pub fingerprints: Vec<FingerprintRecord>,
        pub peer_policies: Vec<PeerPolicyRecord>,
        pub bookmarks: Vec<BookmarkRecord>,
        pub preferences: Vec<(String, String)>,
    }

    /// Every value moves over as it is; nothing was kept from an import.
    impl From<Contents> for super::Contents {
        fn from(mut old: Contents) -> Self {
            super::Contents {
                accounts: std::mem::take(&mut old.accounts),
                otr_keys: std::mem::take(&mut old.otr_keys),
                fingerprints: std::mem::take(&mut old.fingerprints),
                peer_policies: std::mem::take(&mut old.peer_policies),
                bookmarks: std::mem::take(&mut old.bookmarks),
                preferences: std::mem::take(&mut old.preferences),
                kept_imports: Vec::new(),
            }
        }
    }
}

/// Version 1, as Burrow wrote it before accounts had an onion override.
pub mod v1 {
    use bincode::{Decode, Encode};
    use zeroize::{Zeroize, ZeroizeOnDrop};

    use super::{BookmarkRecord, FingerprintRecord, OtrKeyRecord, PeerPolicyRecord};

    #[derive(Clone, PartialEq, Eq, Encode, Decode, Zeroize, ZeroizeOnDrop)]
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

    /// Only the address: the rest is as version 2 shows it, and the password never.
    impl std::fmt::Debug for AccountRecord {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.debug_struct("AccountRecord").field("jid", &self.jid).finish_non_exhaustive()
        }
    }

    /// Every value moves over as it is; no account had an onion override.
    /// (`mem::take`, because the zeroizing types cannot be taken apart.)
    impl From<Contents> for super::v2::Contents {
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
            super::v2::Contents {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let account = AccountRecord {
            jid: "alice@example.org".into(),
            password: "hunter2-secret".into(),
            server: None,
            onion: None,
            transport: "starttls".into(),
            tor: "auto".into(),
            spki_pin: None,
            extra_anchors_pem: None,
            otr_policy: "require".into(),
            otr_allow_v2: true,
            allow_plain: false,
        };
        let key = OtrKeyRecord { account: "alice@example.org".into(), p: vec![1], q: vec![2], g: vec![3], y: vec![4], x: vec![0xde, 0xad, 0xbe, 0xef], instance_tag: 0x100 };
        let kept = KeptImportRecord { jid: "alice@example.org".into(), source: "adium".into(), otr_key: Some(key.clone()), fingerprints: vec![], peer_policies: vec![], otr_policy: None, bookmarks: vec![] };
        let mut contents = Contents::default();
        contents.accounts.push(account.clone());
        contents.otr_keys.push(key.clone());
        contents.kept_imports.push(kept);
        for shown in [format!("{account:?}"), format!("{key:?}"), format!("{contents:?}"), format!("{contents:#?}")] {
            assert!(shown.contains("alice@example.org"), "{shown}");
            assert!(!shown.contains("hunter2"), "the password shows: {shown}");
            for x in ["deadbeef", "DEADBEEF", "222, 173, 190, 239", "222,"] {
                assert!(!shown.contains(x), "x shows: {shown}");
            }
        }
        assert!(format!("{account:?}").contains("(set, not shown)"));
        let old = v1::AccountRecord {
            jid: "alice@example.org".into(),
            password: "hunter2-secret".into(),
            server: None,
            transport: "starttls".into(),
            tor: "auto".into(),
            spki_pin: None,
            extra_anchors_pem: None,
            otr_policy: "require".into(),
            otr_allow_v2: true,
            allow_plain: false,
        };
        assert!(!format!("{old:?}").contains("hunter2"));
    }
}
