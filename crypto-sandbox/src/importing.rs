//! `/import`: the launcher's bytes of another client's files, parsed here
//! (`crypto_sandbox::import`, every field hostile input) and merged into the
//! store. Nothing already in the store is replaced: an account that exists
//! keeps its password and its OTR key, and the report says what was left
//! out and why. What belongs to an address that is not an account (another
//! client saved no password) is kept in the store for it: the account,
//! added later, uses that OTR key and its contacts' trust.

use ipc::import::{ImportFile, ImportReport, ImportSource};
use ipc::secret::{SecretText, SecretBytes};
use ipc::xmpp::{NewAccount, TorMode, Transport};
use ipc::{ErrorCode, Failure};

use crypto_sandbox::import::{self, SourceFiles};
use crypto_sandbox::vault::contents::{BookmarkRecord, FingerprintRecord, KeptImportRecord, OtrKeyRecord, PeerPolicyRecord, TrustRecord};
use otr::policy::Policy;
use otr::trust::Trust;

use crate::conversations::Conversations;
use crate::store::Store;

/// Parses and merges; the report for the UI, or why nothing came in.
pub fn import(
    store: &mut Store,
    conversations: &mut Conversations,
    source: ImportSource,
    files: Vec<ImportFile>,
    passphrase: Option<&SecretText>,
    unread: Vec<String>,
    report_otr: &mut dyn FnMut(ipc::crypto::FromCrypto),
) -> Result<ImportReport, Failure> {
    if !store.is_open() {
        return Err(Failure::new(ErrorCode::Locked, "The store is locked; unlock it first."));
    }
    let mut source_files = SourceFiles::new();
    for file in files {
        let ImportFile { name, bytes } = file;
        source_files.add(name, SecretBytes::expose(&bytes).to_vec());
    }
    let imported = import::import(source, &source_files, passphrase.map(SecretText::expose));
    let mut report = ImportReport { source, added: Vec::new(), accounts: 0, keys: 0, fingerprints: 0, bookmarks: 0, skipped: unread, kept: Vec::new() };
    report.skipped.extend(imported.skipped.iter().map(|skipped| format!("{}: {}", skipped.what, skipped.why)));

    // Addresses that were accounts before this import: their keys stay.
    let already: Vec<String> = store.summaries().into_iter().map(|summary| summary.jid).collect();
    for account in &imported.accounts {
        if already.contains(&account.jid) {
            report.skipped.push(format!("account {}: already in the store, kept as it is", account.jid));
            continue;
        }
        let Some(password) = &account.password else {
            report.skipped.push(format!("account {}: no password was saved; add it with /account add (its OTR key and contacts' trust are kept for it)", account.jid));
            continue;
        };
        let policy = imported.policies.iter().find(|policy| policy.account_jid == account.jid && policy.peer.is_none()).map(|policy| policy.policy.name().to_owned());
        let new = NewAccount {
            jid: account.jid.clone(),
            password: SecretText::new(password.to_string()),
            server: account.server.clone(),
            onion: None,
            transport: Transport::StartTls,
            ca_path: None,
            ca_pem: None,
            spki_pin: None,
            tor: TorMode::Auto,
            policy,
            allow_plain: false,
        };
        match store.add_account(new) {
            Ok(_) => {
                report.accounts += 1;
                report.added.push(account.jid.clone());
            }
            Err(failure) => report.skipped.push(format!("account {}: {} (its OTR key and contacts' trust are kept for it)", account.jid, failure.message)),
        }
    }

    // What belongs to an address that is not an account now is kept for it,
    // to be used when the account is added: another client that saved no
    // password (Adium never does) still held the user's OTR identity.
    let mut kept: Vec<KeptImportRecord> = Vec::new();
    let waiting = |jid: &str| !already.iter().any(|known| known == jid) && !report.added.iter().any(|added| added == jid);

    // Keys go to the accounts just added; an account that was already
    // here keeps its own key (its contacts know that fingerprint).
    let mut keyed: Vec<String> = Vec::new();
    for key in &imported.keys {
        let record = key_record(key);
        if waiting(&key.account_jid) {
            let at = kept_slot(&mut kept, store, source, &key.account_jid);
            match &kept[at].otr_key {
                None => kept[at].otr_key = Some(record),
                Some(earlier) if earlier.x == record.x => {}
                Some(_) => report.skipped.push(format!("an OTR key of {}: another key was kept for it before, and is kept as it is", key.account_jid)),
            }
            continue;
        }
        if !report.added.contains(&key.account_jid) || keyed.contains(&key.account_jid) {
            report.skipped.push(format!("an OTR key of {}: the account already has its key, kept as it is", key.account_jid));
            continue;
        }
        if store.kept_import(&key.account_jid).is_some_and(|kept| kept.otr_key.is_some()) {
            report.skipped.push(format!("an OTR key of {}: the key an earlier import kept for it is used, and this one left out", key.account_jid));
            continue;
        }
        let Ok(stored) = store.account(&key.account_jid) else { continue };
        let (policy, allow_v2) = (stored.policy.clone(), stored.allow_v2);
        conversations.add_imported_key(&key.account_jid, &policy, allow_v2, &record, report_otr);
        keyed.push(key.account_jid.clone());
        report.keys += 1;
    }
    // Accounts that came without a key get the one an earlier import kept
    // for them, or one made here; what an earlier import kept (trust, rooms)
    // applies to every account added now.
    for jid in &report.added {
        if keyed.contains(jid) {
            if let Some(kept) = store.take_kept_import(jid) {
                apply_kept(store, conversations, jid, kept);
            }
        } else {
            give_otr_identity(store, conversations, jid, report_otr);
        }
    }
    for fingerprint in &imported.fingerprints {
        if waiting(&fingerprint.account_jid) {
            let at = kept_slot(&mut kept, store, source, &fingerprint.account_jid);
            let record = &mut kept[at];
            if !record.fingerprints.iter().any(|known| known.peer == fingerprint.peer && known.fingerprint == fingerprint.fingerprint) {
                record.fingerprints.push(FingerprintRecord {
                    account: fingerprint.account_jid.clone(),
                    peer: fingerprint.peer.clone(),
                    fingerprint: fingerprint.fingerprint,
                    trust: trust_record(fingerprint.trust),
                });
            }
            continue;
        }
        if conversations.import_fingerprint(&fingerprint.account_jid, &fingerprint.peer, fingerprint.fingerprint, fingerprint.trust) {
            report.fingerprints += 1;
        } else {
            report.skipped.push(format!("fingerprint of {} for {}: already known, its trust kept", fingerprint.peer, fingerprint.account_jid));
        }
    }
    for policy in &imported.policies {
        if waiting(&policy.account_jid) {
            let at = kept_slot(&mut kept, store, source, &policy.account_jid);
            let record = &mut kept[at];
            match &policy.peer {
                None => {
                    record.otr_policy.get_or_insert_with(|| policy.policy.name().to_owned());
                }
                Some(peer) => {
                    if !record.peer_policies.iter().any(|known| &known.peer == peer) {
                        record.peer_policies.push(PeerPolicyRecord { account: policy.account_jid.clone(), peer: peer.clone(), policy: policy.policy.name().to_owned(), allow_v2: true });
                    }
                }
            }
            continue;
        }
        if let Some(peer) = &policy.peer {
            conversations.import_peer_policy(&policy.account_jid, peer, policy.policy);
        }
    }
    let mut rooms = Vec::new();
    for bookmark in &imported.bookmarks {
        let record = BookmarkRecord { account: bookmark.account_jid.clone(), room: bookmark.room.clone(), nick: bookmark.nick.clone(), autojoin: bookmark.autojoin };
        if waiting(&bookmark.account_jid) {
            let at = kept_slot(&mut kept, store, source, &bookmark.account_jid);
            if !kept[at].bookmarks.iter().any(|known| known.room == record.room) {
                kept[at].bookmarks.push(record);
            }
        } else {
            rooms.push(record);
        }
    }
    if !rooms.is_empty() {
        match store.add_bookmarks(rooms, true) {
            Ok(added) => report.bookmarks = added,
            Err(failure) => report.skipped.push(format!("the saved rooms: {}", failure.message)),
        }
    }
    if !kept.is_empty() {
        let described: Vec<String> = kept.iter().map(describe_kept).collect();
        match store.keep_imports(kept) {
            Ok(()) => report.kept.extend(described),
            Err(failure) => report.skipped.push(format!("what was found for addresses that are not accounts: {}", failure.message)),
        }
    }
    Ok(report)
}

/// Where in `kept` the record for `jid` is: what an earlier import kept for
/// it, or a new one.
fn kept_slot(kept: &mut Vec<KeptImportRecord>, store: &Store, source: ImportSource, jid: &str) -> usize {
    if let Some(at) = kept.iter().position(|record| record.jid == jid) {
        return at;
    }
    let record = store.kept_import(jid).cloned().unwrap_or_else(|| KeptImportRecord {
        jid: jid.to_owned(),
        source: source.name().to_owned(),
        otr_key: None,
        fingerprints: Vec::new(),
        peer_policies: Vec::new(),
        otr_policy: None,
        bookmarks: Vec::new(),
    });
    kept.push(record);
    kept.len() - 1
}

/// An imported key as the store keeps it. Its instance tag is 0: a fresh
/// one is drawn when it is put to use (Burrow is a new client of the account's).
fn key_record(key: &import::ImportedKey) -> OtrKeyRecord {
    let public = key.key.public_key();
    OtrKeyRecord {
        account: key.account_jid.clone(),
        p: public.p().to_vec(),
        q: public.q().to_vec(),
        g: public.g().to_vec(),
        y: public.y().to_vec(),
        x: key.key.x_bytes().to_vec(),
        instance_tag: 0,
    }
}

fn trust_record(trust: Trust) -> TrustRecord {
    match trust {
        Trust::Unverified => TrustRecord::Unverified,
        Trust::VerifiedBySmp => TrustRecord::VerifiedBySmp,
        Trust::VerifiedByHand => TrustRecord::VerifiedByHand,
    }
}

fn trust_of(record: TrustRecord) -> Trust {
    match record {
        TrustRecord::Unverified => Trust::Unverified,
        TrustRecord::VerifiedBySmp => Trust::VerifiedBySmp,
        TrustRecord::VerifiedByHand => Trust::VerifiedByHand,
    }
}

/// What is kept for an address, in the user's words.
fn describe_kept(kept: &KeptImportRecord) -> String {
    let mut parts = Vec::new();
    if kept.otr_key.is_some() {
        parts.push("its OTR key".to_owned());
    }
    if !kept.fingerprints.is_empty() {
        parts.push(format!("{} contacts' fingerprints", kept.fingerprints.len()));
    }
    if !kept.peer_policies.is_empty() || kept.otr_policy.is_some() {
        parts.push("its OTR policies".to_owned());
    }
    if !kept.bookmarks.is_empty() {
        parts.push(format!("{} saved rooms", kept.bookmarks.len()));
    }
    format!("{} kept for {}; add the account with /account add to use them", parts.join(", "), kept.jid)
}

/// A new account's OTR identity: what an import kept for its address (the
/// imported key, never replacing one the account has, and its contacts'
/// fingerprints, trust and policies), or else a key made now. Every path
/// that adds a new account calls this once the store has it (it has no OTR
/// state yet, so nothing is replaced).
pub fn give_otr_identity(store: &mut Store, conversations: &mut Conversations, jid: &str, report: &mut dyn FnMut(ipc::crypto::FromCrypto)) {
    let Ok(stored) = store.account(jid) else { return };
    let (policy, allow_v2) = (stored.policy.clone(), stored.allow_v2);
    let kept = store.take_kept_import(jid);
    match kept.as_ref().and_then(|kept| kept.otr_key.as_ref()) {
        Some(key) => conversations.add_imported_key(jid, &policy, allow_v2, key, report),
        None => conversations.add_account(jid, &policy, allow_v2, None, report),
    }
    if let Some(kept) = kept {
        apply_kept(store, conversations, jid, kept);
    }
}

/// A kept import's contacts' fingerprints, trust, policies and rooms, for
/// its address, now an account (whose key is settled already).
fn apply_kept(store: &mut Store, conversations: &mut Conversations, jid: &str, mut kept: KeptImportRecord) {
    // Saved with the OTR state that follows.
    let _ = store.add_bookmarks(std::mem::take(&mut kept.bookmarks), false);
    for fingerprint in &kept.fingerprints {
        conversations.import_fingerprint(jid, &fingerprint.peer, fingerprint.fingerprint, trust_of(fingerprint.trust));
    }
    for peer_policy in &kept.peer_policies {
        if let Ok(parsed) = peer_policy.policy.parse::<Policy>() {
            conversations.import_peer_policy(jid, &peer_policy.peer, parsed);
        }
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use std::path::{Path, PathBuf};

    /// A store with no passphrase (fast to open) in a directory removed after.
    pub struct Scratch(PathBuf);

    impl Scratch {
        pub fn new(name: &str) -> Self {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).unwrap();
            let suffix: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
            let path = std::env::temp_dir().join(format!("burrow-importing-{name}-{suffix}"));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub fn fixture(source: &str) -> Vec<ImportFile> {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(source);
        std::fs::read_dir(&directory)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .map(|path| ImportFile { name: path.file_name().unwrap().to_string_lossy().into_owned(), bytes: SecretBytes::new(std::fs::read(&path).unwrap()) })
            // As the launcher reads them: the exact names one folder down.
            .chain(ImportSource::ALL.into_iter().filter(|known| known.name() == source).flat_map(|known| known.wanted_subfolder_files()).flat_map(|(folder, names)| {
                let directory = directory.clone();
                names.iter().filter_map(move |name| {
                    let bytes = std::fs::read(directory.join(folder).join(name)).ok()?;
                    Some(ImportFile { name: format!("{folder}/{name}"), bytes: SecretBytes::new(bytes) })
                })
            }))
            .collect()
    }

    /// The fingerprint libotr printed for a fixture key (libotr-keys.txt).
    pub fn libotr_fingerprint(client: &str, account: &str) -> String {
        let listing = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/libotr-keys.txt")).unwrap();
        listing.lines().find_map(|line| line.strip_prefix(&format!("KEY\t{client}\t{account}\t"))).and_then(|rest| rest.split('\t').nth(1)).unwrap().to_owned()
    }

    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    pub fn fingerprint_of(record: &OtrKeyRecord) -> String {
        use otr::dsa::PrivateKey;
        hex(&PrivateKey::from_components(&record.p, &record.q, &record.g, &record.y, &record.x).unwrap().public_key().fingerprint())
    }

    pub fn new_account(jid: &str) -> NewAccount {
        NewAccount {
            jid: jid.into(),
            password: SecretText::new("a password".into()),
            server: None,
            onion: None,
            transport: Transport::StartTls,
            ca_path: None,
            ca_pem: None,
            spki_pin: None,
            tor: TorMode::Auto,
            policy: None,
            allow_plain: false,
        }
    }

    pub fn opened(scratch: &Scratch) -> Store {
        let mut store = Store::new(scratch.0.join("crypto"));
        store.unlock_without_passphrase().unwrap();
        store
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    use ipc::crypto::FromCrypto;

    /// Adium saves no password: the account is not added, but its libotr key
    /// and its contacts' fingerprints and trust are kept, survive a reopen, and
    /// become the account's when it is added.
    #[test]
    fn an_account_without_a_password_keeps_its_key_and_trust_for_later() {
        let scratch = Scratch::new("kept");
        let mut store = opened(&scratch);
        let mut conversations = Conversations::default();
        let mut events: Vec<FromCrypto> = Vec::new();
        let report = import(&mut store, &mut conversations, ImportSource::Adium, fixture("adium"), None, Vec::new(), &mut |event| events.push(event)).unwrap();
        assert_eq!((report.accounts, report.keys, report.fingerprints), (0, 0, 0), "{report:?}");
        let line = report.kept.iter().find(|line| line.contains("alice@example.org")).unwrap_or_else(|| panic!("{report:?}"));
        assert!(line.contains("OTR key") && line.contains("2 contacts' fingerprints") && line.contains("/account add"), "{line}");
        assert!(report.skipped.iter().any(|why| why.contains("alice@example.org") && why.contains("no password")), "{report:?}");

        // Kept in the store itself: a reopened store still has it.
        drop(store);
        let mut store = opened(&scratch);
        let kept = store.kept_import("alice@example.org").expect("kept across a reopen").clone();
        assert_eq!(kept.source, "adium");
        assert_eq!(fingerprint_of(kept.otr_key.as_ref().unwrap()), libotr_fingerprint("adium", "1"));
        let bob = kept.fingerprints.iter().find(|record| record.peer == "bob@example.net").unwrap();
        assert_eq!((hex(&bob.fingerprint), bob.trust), ("5a6774818e9ba8b5c2cfdce9f603101d2a374451".to_owned(), TrustRecord::VerifiedByHand));

        // The account is added: the imported key is its key, bob's trust applies.
        let mut conversations = Conversations::default();
        store.add_account(new_account("alice@example.org")).unwrap();
        give_otr_identity(&mut store, &mut conversations, "alice@example.org", &mut |event| events.push(event));
        assert!(store.kept_import("alice@example.org").is_none(), "used, so no longer kept");
        assert!(!events.iter().any(|event| matches!(event, FromCrypto::Otr { event: ipc::otr::OtrEvent::KeyGeneration { .. }, .. })), "no key is made");
        let saved = conversations.take_changes().expect("the adopted identity is saved");
        let key = saved.keys.iter().find(|key| key.account == "alice@example.org").unwrap();
        assert_eq!(fingerprint_of(key), libotr_fingerprint("adium", "1"));
        assert_ne!(key.instance_tag, 0, "a fresh instance tag");
        let bob = saved.fingerprints.iter().find(|record| record.peer == "bob@example.net").unwrap();
        assert_eq!(bob.trust, TrustRecord::VerifiedByHand);
        store.save_otr(saved).unwrap();
        drop(store);
        let store = opened(&scratch);
        assert!(store.kept_import("alice@example.org").is_none() && store.contents().unwrap().otr_keys.iter().any(|key| key.account == "alice@example.org"));
        // Adium's libpurple/blist.xml room came along.
        let rooms: Vec<&str> = store.contents().unwrap().bookmarks.iter().map(|bookmark| bookmark.room.as_str()).collect();
        assert_eq!(rooms, ["desk@conference.example.org"]);
    }

    /// An account that is already in the store keeps its own key: nothing
    /// imported replaces it, and nothing is kept for it.
    #[test]
    fn an_existing_account_keeps_its_key() {
        let scratch = Scratch::new("existing");
        let mut store = opened(&scratch);
        let mut conversations = Conversations::default();
        let mut events: Vec<FromCrypto> = Vec::new();
        store.add_account(new_account("alice@example.org")).unwrap();
        give_otr_identity(&mut store, &mut conversations, "alice@example.org", &mut |event| events.push(event));
        let own = conversations.take_changes().unwrap();
        let own_fingerprint = fingerprint_of(&own.keys[0]);
        store.save_otr(own).unwrap();
        let report = import(&mut store, &mut conversations, ImportSource::Adium, fixture("adium"), None, Vec::new(), &mut |event| events.push(event)).unwrap();
        assert!(report.kept.iter().all(|line| !line.contains("alice@example.org")), "{report:?}");
        assert!(report.skipped.iter().any(|why| why.contains("alice@example.org") && why.contains("already in the store")), "{report:?}");
        assert!(store.kept_import("alice@example.org").is_none());
        if let Some(saved) = conversations.take_changes() {
            let key = saved.keys.iter().find(|key| key.account == "alice@example.org").unwrap();
            assert_eq!(fingerprint_of(key), own_fingerprint, "the account's own key stays");
        }
    }

    /// A second import with another key for a kept address keeps the first.
    #[test]
    fn a_kept_key_is_not_replaced_by_another_import() {
        let scratch = Scratch::new("twice");
        let mut store = opened(&scratch);
        let mut conversations = Conversations::default();
        let mut events: Vec<FromCrypto> = Vec::new();
        import(&mut store, &mut conversations, ImportSource::Adium, fixture("adium"), None, Vec::new(), &mut |event| events.push(event)).unwrap();
        // Pidgin's files, its password taken out: another key for the same address.
        let mut pidgin = fixture("pidgin");
        for file in &mut pidgin {
            if file.name == "accounts.xml" {
                let text = String::from_utf8(SecretBytes::expose(&file.bytes).to_vec()).unwrap();
                let start = text.find("<password>").expect("the fixture saves a password");
                let end = text.find("</password>").unwrap() + "</password>".len();
                file.bytes = SecretBytes::new(format!("{}{}", &text[..start], &text[end..]).into_bytes());
            }
        }
        let report = import(&mut store, &mut conversations, ImportSource::Pidgin, pidgin, None, Vec::new(), &mut |event| events.push(event)).unwrap();
        assert!(report.skipped.iter().any(|why| why.contains("alice@example.org") && why.contains("another key was kept")), "{report:?}");
        let kept = store.kept_import("alice@example.org").unwrap();
        assert_eq!(fingerprint_of(kept.otr_key.as_ref().unwrap()), libotr_fingerprint("adium", "1"));

        // Pidgin with its password now: the account comes in, with the key kept first, and
        // Adium's trust in bob.
        let report = import(&mut store, &mut conversations, ImportSource::Pidgin, fixture("pidgin"), None, Vec::new(), &mut |event| events.push(event)).unwrap();
        assert_eq!(report.added, ["alice@example.org"], "{report:?}");
        assert!(report.skipped.iter().any(|why| why.contains("alice@example.org") && why.contains("earlier import kept")), "{report:?}");
        assert!(store.kept_import("alice@example.org").is_none());
        let saved = conversations.take_changes().unwrap();
        let key = saved.keys.iter().find(|key| key.account == "alice@example.org").unwrap();
        assert_eq!(fingerprint_of(key), libotr_fingerprint("adium", "1"));
        assert!(saved.fingerprints.iter().any(|record| record.peer == "bob@example.net" && hex(&record.fingerprint) == "5a6774818e9ba8b5c2cfdce9f603101d2a374451"));
    }
}

#[cfg(test)]
mod bookmark_tests {
    use super::tests_support::*;
    use super::*;

    /// Pidgin's saved rooms come in with the account and are in the store after a reopen;
    /// a second import adds none twice.
    #[test]
    fn pidgin_rooms_come_in_and_stay() {
        let scratch = Scratch::new("rooms");
        let mut store = opened(&scratch);
        let mut conversations = Conversations::default();
        let mut events = Vec::new();
        let report = import(&mut store, &mut conversations, ImportSource::Pidgin, fixture("pidgin"), None, Vec::new(), &mut |event| events.push(event)).unwrap();
        assert_eq!(report.bookmarks, 2, "{report:?}");
        assert!(report.skipped.iter().any(|why| why.contains("password of the room sources@muc.example.net") && why.contains("no room passwords")), "{report:?}");
        assert!(report.skipped.iter().any(|why| why.contains("#tails") || why.contains("prpl-irc")), "{report:?}");
        drop(store);
        let mut store = opened(&scratch);
        let mut rooms: Vec<(String, Option<String>, bool)> = store.contents().unwrap().bookmarks.iter().map(|bookmark| (bookmark.room.clone(), bookmark.nick.clone(), bookmark.autojoin)).collect();
        rooms.sort();
        assert_eq!(rooms, [("newsroom@conference.example.org".to_owned(), Some("alice".to_owned()), true), ("sources@muc.example.net".to_owned(), Some("a".to_owned()), false)]);
        let again = import(&mut store, &mut conversations, ImportSource::Pidgin, fixture("pidgin"), None, Vec::new(), &mut |event| events.push(event)).unwrap();
        assert_eq!(again.bookmarks, 0);
        assert_eq!(store.contents().unwrap().bookmarks.len(), 2);
    }
}
