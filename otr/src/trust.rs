//! How far a peer's fingerprint is trusted, in libotr's words, and a store
//! of that per (our account, peer, fingerprint).

use std::collections::BTreeMap;

use crate::keyfile::FingerprintEntry;

/// Trust in one fingerprint. libotr keeps it as a string: "" (or none) is
/// untrusted, "smp" is what pidgin-otr and potr write after a successful
/// SMP run, "verified" after the user compared fingerprints by hand. libotr
/// counts any non-empty string as trusted (otrl_context_is_fingerprint_
/// trusted checks only that), so any other non-empty string read from a
/// file is taken as [`Trust::VerifiedByHand`], the form of trust that
/// claims least about how it came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Trust {
    #[default]
    Unverified,
    VerifiedBySmp,
    VerifiedByHand,
}

impl Trust {
    /// The string libotr and its clients write.
    pub fn as_libotr_str(self) -> &'static str {
        match self {
            Trust::Unverified => "",
            Trust::VerifiedBySmp => "smp",
            Trust::VerifiedByHand => "verified",
        }
    }

    /// A trust string from a fingerprints file.
    pub fn from_libotr_str(text: &str) -> Self {
        match text {
            "" => Trust::Unverified,
            "smp" => Trust::VerifiedBySmp,
            _ => Trust::VerifiedByHand,
        }
    }

    pub fn is_trusted(self) -> bool {
        self != Trust::Unverified
    }
}

/// Where trust decisions are kept. The account is ours; the peer is the
/// other side's bare name as the fingerprints file has it.
pub trait TrustStore {
    /// Unverified for a fingerprint never seen.
    fn trust(&self, account: &str, peer: &str, fingerprint: &[u8; 20]) -> Trust;
    /// Records a fingerprint (seen, or verified); Unverified keeps it known.
    fn set_trust(&mut self, account: &str, peer: &str, fingerprint: [u8; 20], trust: Trust);
    /// Every fingerprint known for a peer of an account, in byte order.
    fn known(&self, account: &str, peer: &str) -> Vec<([u8; 20], Trust)>;
}

/// A [`TrustStore`] in memory. It has no protocol field: Burrow speaks
/// XMPP only, so entries read from a libotr file keep their protocol only
/// in the file; [`MemoryTrustStore::to_entries`] writes the one given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTrustStore {
    entries: BTreeMap<(String, String), BTreeMap<[u8; 20], Trust>>,
}

impl MemoryTrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding the entries of a fingerprints file. When a file lists
    /// the same fingerprint twice, the last line wins, as in libotr.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a FingerprintEntry>) -> Self {
        let mut store = Self::new();
        for entry in entries {
            store.set_trust(&entry.account, &entry.peer, entry.fingerprint, Trust::from_libotr_str(&entry.trust));
        }
        store
    }

    /// Every entry, as fingerprints-file lines under `protocol` (for
    /// Burrow's own accounts, libpurple's "prpl-jabber").
    pub fn to_entries(&self, protocol: &str) -> Vec<FingerprintEntry> {
        self.entries
            .iter()
            .flat_map(|((account, peer), fingerprints)| {
                fingerprints.iter().map(move |(fingerprint, trust)| FingerprintEntry {
                    peer: peer.clone(),
                    account: account.clone(),
                    protocol: protocol.to_owned(),
                    fingerprint: *fingerprint,
                    trust: trust.as_libotr_str().to_owned(),
                })
            })
            .collect()
    }
}

impl TrustStore for MemoryTrustStore {
    fn trust(&self, account: &str, peer: &str, fingerprint: &[u8; 20]) -> Trust {
        self.entries
            .get(&(account.to_owned(), peer.to_owned()))
            .and_then(|fingerprints| fingerprints.get(fingerprint))
            .copied()
            .unwrap_or(Trust::Unverified)
    }

    fn set_trust(&mut self, account: &str, peer: &str, fingerprint: [u8; 20], trust: Trust) {
        self.entries.entry((account.to_owned(), peer.to_owned())).or_default().insert(fingerprint, trust);
    }

    fn known(&self, account: &str, peer: &str) -> Vec<([u8; 20], Trust)> {
        self.entries
            .get(&(account.to_owned(), peer.to_owned()))
            .map(|fingerprints| fingerprints.iter().map(|(fingerprint, trust)| (*fingerprint, *trust)).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libotr_strings() {
        for trust in [Trust::Unverified, Trust::VerifiedBySmp, Trust::VerifiedByHand] {
            assert_eq!(Trust::from_libotr_str(trust.as_libotr_str()), trust);
        }
        assert_eq!(Trust::from_libotr_str("yes"), Trust::VerifiedByHand);
        assert!(!Trust::Unverified.is_trusted());
        assert!(Trust::VerifiedBySmp.is_trusted());
    }

    #[test]
    fn store_and_entries() {
        let mut store = MemoryTrustStore::new();
        assert_eq!(store.trust("me@a", "you@b", &[1; 20]), Trust::Unverified);
        store.set_trust("me@a", "you@b", [2; 20], Trust::Unverified);
        store.set_trust("me@a", "you@b", [1; 20], Trust::VerifiedBySmp);
        store.set_trust("me@a", "them@c", [3; 20], Trust::VerifiedByHand);
        assert_eq!(store.trust("me@a", "you@b", &[1; 20]), Trust::VerifiedBySmp);
        assert_eq!(store.known("me@a", "you@b"), [([1; 20], Trust::VerifiedBySmp), ([2; 20], Trust::Unverified)]);
        assert!(store.known("other", "you@b").is_empty());

        let entries = store.to_entries("prpl-jabber");
        assert_eq!(entries.len(), 3);
        assert!(entries.iter().any(|entry| entry.peer == "them@c" && entry.trust == "verified"));
        assert_eq!(MemoryTrustStore::from_entries(&entries), store);

        let mut odd = entries[0].clone();
        odd.trust = "trusted".into();
        let store = MemoryTrustStore::from_entries([&entries[0], &odd]);
        assert_eq!(store.trust(&odd.account, &odd.peer, &odd.fingerprint), Trust::VerifiedByHand);
    }
}
