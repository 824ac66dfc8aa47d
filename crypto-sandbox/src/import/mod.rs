//! Importers: accounts, OTR private keys, peers' fingerprints with their trust, OTR policies and
//! room bookmarks (Pidgin's and Adium's blist.xml), brought in from Pidgin, Adium, Gajim (its OTR plugin), xmpp-client and CoyIM.
//!
//! This process cannot read outside its own directory, so nothing here touches the filesystem: the
//! launcher reads the files that [`wanted_files`] names, under the directories [`default_dirs`]
//! names (or a directory the user chose), and hands them over as [`SourceFiles`] — bytes with a
//! path relative to that directory. Every byte of every file is treated as hostile: sizes, depths
//! and counts are bounded before anything is allocated, nothing panics, and whatever cannot be
//! imported is listed in [`Imported::skipped`] with what it was and why, in plain words.
//!
//! Nothing is imported half-way: an account whose key is malformed keeps the account and skips the
//! key; a fingerprint line that does not parse skips that line only. Passwords and private keys are
//! wiped on drop (`Zeroizing`, and `otr::dsa::PrivateKey` wipes x itself) and never appear in
//! `Debug` output or in an error's text.

mod coyim;
mod gajim;
mod json;
mod libotr;
mod otr_key;
mod pidgin;
mod plist;
mod xml;
mod xmpp_client;

use std::fmt;

use otr::policy::Policy;
use otr::trust::Trust;
use zeroize::Zeroizing;

pub use coyim::{CoyimError, ScryptLimits};
pub use otr_key::KeyError;
pub use xml::XmlError;

/// No file we import is anywhere near this; a larger one is refused unread.
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// At most this many files are looked at per import (a Gajim directory holds two per account).
pub const MAX_FILES: usize = 512;
/// A relative path longer than this is not one of ours.
pub const MAX_PATH_BYTES: usize = 1024;
/// The longest JID RFC 7622 allows: 1023 bytes local part, 1023 domain, 1023 resource, and the
/// separators.
pub const MAX_JID_BYTES: usize = 3071;
/// At most this many items of each kind (accounts, keys, fingerprints, policies) per import; past
/// that the rest is skipped and said so.
pub const MAX_ITEMS: usize = 10_000;

/// A client Burrow imports from: the one table of clients, their directories and the files read
/// there is `ipc::import`, which the launcher reads by, so the two can never disagree.
pub use ipc::import::ImportSource as Source;

/// Where each client keeps its files, relative to $HOME (`ipc::import`). The launcher reads
/// [`wanted_files`] in each of them, in order, and passes every file it finds with its name
/// (Gajim: `*.key3` and `*.fpr` from its data directory, `config` from its configuration
/// directory). xmpp-client's configuration is, by default, the single *file* `~/.xmpp-client`;
/// the launcher then passes it alone, named `.xmpp-client`.
pub fn default_dirs(source: Source) -> &'static [&'static str] {
    source.default_directories()
}

/// The files each importer reads (`ipc::import`). `*` matches any run of characters other than
/// `/` (see [`glob_matches`]); nothing is read from subdirectories.
pub fn wanted_files(source: Source) -> &'static [&'static str] {
    source.wanted_files()
}

/// Whether `path` matches `pattern`, where `*` stands for any run (possibly empty) of characters
/// other than `/` and everything else stands for itself.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    fn matches(pattern: &[u8], path: &[u8]) -> bool {
        // Iterative, with one backtrack point: linear in practice, never recursive.
        let (mut p, mut s) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while s < path.len() {
            if p < pattern.len() && pattern[p] == b'*' {
                star = Some((p, s));
                p += 1;
            } else if p < pattern.len() && pattern[p] == path[s] {
                p += 1;
                s += 1;
            } else if let Some((star_p, star_s)) = star {
                if path[star_s] == b'/' {
                    return false;
                }
                p = star_p + 1;
                s = star_s + 1;
                star = Some((star_p, star_s + 1));
            } else {
                return false;
            }
        }
        pattern[p..].iter().all(|byte| *byte == b'*')
    }
    matches(pattern.as_bytes(), path.as_bytes())
}

/// The files handed over by the launcher: (path relative to the source directory, contents).
/// Contents may hold a password or a private key, so they are wiped on drop.
#[derive(Default)]
pub struct SourceFiles {
    files: Vec<(String, Zeroizing<Vec<u8>>)>,
}

impl fmt::Debug for SourceFiles {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<(&str, usize)> = self.files.iter().map(|(name, bytes)| (name.as_str(), bytes.len())).collect();
        formatter.debug_struct("SourceFiles").field("files (name, length)", &names).finish()
    }
}

impl SourceFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one file. A later file with the same path replaces the earlier one.
    pub fn add(&mut self, path: impl Into<String>, bytes: Vec<u8>) {
        let path = path.into();
        let bytes = Zeroizing::new(bytes);
        if let Some(slot) = self.files.iter_mut().find(|(name, _)| *name == path) {
            slot.1 = bytes;
        } else {
            self.files.push((path, bytes));
        }
    }

    pub fn with(mut self, path: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.add(path, bytes);
        self
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every (path, bytes), in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
    }

    /// The bytes handed over for `path`.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.iter().find(|(name, _)| name == path).map(|(_, bytes)| bytes.as_slice())
    }
}

/// One account: its bare JID, its password if the client stored one, and the server to connect to
/// if the client named one other than the JID's domain.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedAccount {
    pub jid: String,
    pub password: Option<Zeroizing<String>>,
    pub server: Option<(String, u16)>,
}

impl fmt::Debug for ImportedAccount {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ImportedAccount")
            .field("jid", &self.jid)
            .field("password", &self.password.as_ref().map(|_| "(set, not shown)"))
            .field("server", &self.server)
            .finish()
    }
}

/// One of our OTR keys. `PrivateKey`'s Debug shows only its fingerprint.
#[derive(Debug, Clone)]
pub struct ImportedKey {
    pub account_jid: String,
    pub key: otr::dsa::PrivateKey,
}

/// A peer's fingerprint as one of our accounts knew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFingerprint {
    pub account_jid: String,
    pub peer: String,
    pub fingerprint: [u8; 20],
    pub trust: Trust,
}

/// An OTR policy: for the whole account (`peer` None) or for one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPolicy {
    pub account_jid: String,
    pub peer: Option<String>,
    pub policy: Policy,
}

impl ImportedPolicy {
    /// never / opportunistic / manual / require.
    pub fn name(&self) -> &'static str {
        self.policy.name()
    }
}

/// A group chat one of our accounts kept (Pidgin's blist.xml `<chat>`): the room's bare JID,
/// the nickname used there, and whether it is joined at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedBookmark {
    pub account_jid: String,
    pub room: String,
    pub nick: Option<String>,
    pub autojoin: bool,
}

/// Something that was not imported: what it was, and why, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub what: String,
    pub why: String,
}

/// What an import found.
#[derive(Debug, Default)]
pub struct Imported {
    pub accounts: Vec<ImportedAccount>,
    pub keys: Vec<ImportedKey>,
    pub fingerprints: Vec<ImportedFingerprint>,
    pub policies: Vec<ImportedPolicy>,
    pub bookmarks: Vec<ImportedBookmark>,
    pub skipped: Vec<Skipped>,
}

impl Imported {
    fn skip(&mut self, what: impl Into<String>, why: impl Into<String>) {
        if self.skipped.len() < MAX_ITEMS {
            self.skipped.push(Skipped { what: what.into(), why: why.into() });
        }
    }

    /// Adds an account, or, when the JID is already there, fills in what the earlier one lacked.
    fn add_account(&mut self, account: ImportedAccount) {
        if let Some(existing) = self.accounts.iter_mut().find(|known| known.jid == account.jid) {
            if existing.password.is_none() {
                existing.password = account.password;
            }
            if existing.server.is_none() {
                existing.server = account.server;
            }
            return;
        }
        if self.accounts.len() >= MAX_ITEMS {
            return self.skip(format!("account {}", account.jid), "the import already holds the most accounts it takes");
        }
        self.accounts.push(account);
    }

    fn add_key(&mut self, account_jid: String, key: otr::dsa::PrivateKey) {
        let fingerprint = key.public_key().fingerprint();
        if self.keys.iter().any(|known| known.account_jid == account_jid && known.key.public_key().fingerprint() == fingerprint) {
            return;
        }
        if self.keys.len() >= MAX_ITEMS {
            return self.skip(format!("a key of {account_jid}"), "the import already holds the most keys it takes");
        }
        self.keys.push(ImportedKey { account_jid, key });
    }

    /// Adds a fingerprint; when the same one is already there, keeps the higher trust.
    fn add_fingerprint(&mut self, entry: ImportedFingerprint) {
        if let Some(existing) = self.fingerprints.iter_mut().find(|known| {
            known.account_jid == entry.account_jid && known.peer == entry.peer && known.fingerprint == entry.fingerprint
        }) {
            if !existing.trust.is_trusted() {
                existing.trust = entry.trust;
            }
            return;
        }
        if self.fingerprints.len() >= MAX_ITEMS {
            return self.skip(
                format!("a fingerprint of {} seen by {}", entry.peer, entry.account_jid),
                "the import already holds the most fingerprints it takes",
            );
        }
        self.fingerprints.push(entry);
    }

    fn add_bookmark(&mut self, entry: ImportedBookmark) {
        if self.bookmarks.iter().any(|known| known.account_jid == entry.account_jid && known.room == entry.room) {
            return;
        }
        if self.bookmarks.len() >= MAX_ITEMS {
            return self.skip(format!("a room of {}", entry.account_jid), "the import already holds the most rooms it takes");
        }
        self.bookmarks.push(entry);
    }

    fn add_policy(&mut self, entry: ImportedPolicy) {
        if let Some(existing) =
            self.policies.iter_mut().find(|known| known.account_jid == entry.account_jid && known.peer == entry.peer)
        {
            existing.policy = entry.policy;
            return;
        }
        if self.policies.len() >= MAX_ITEMS {
            return self.skip(format!("a policy of {}", entry.account_jid), "the import already holds the most policies it takes");
        }
        self.policies.push(entry);
    }
}

/// Limits an import works within. [`import`] uses the defaults; tests and the fuzzer lower the
/// scrypt cost a CoyIM file may ask for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub scrypt: ScryptLimits,
}


/// Imports what `files` hold from `source`. `passphrase` unlocks CoyIM's `accounts.json.enc`;
/// every other source ignores it.
pub fn import(source: Source, files: &SourceFiles, passphrase: Option<&str>) -> Imported {
    import_with(source, files, passphrase, &Limits::default())
}

/// [`import`] within the given limits.
pub fn import_with(source: Source, files: &SourceFiles, passphrase: Option<&str>, limits: &Limits) -> Imported {
    let mut imported = Imported::default();
    let usable = usable_files(source, files, &mut imported);
    match source {
        Source::Pidgin => pidgin::import(&usable, &mut imported),
        Source::Adium => pidgin::import_adium(&usable, &mut imported),
        Source::Gajim => gajim::import(&usable, &mut imported),
        Source::XmppClient => xmpp_client::import(&usable, &mut imported),
        Source::Coyim => coyim::import(&usable, passphrase, limits, &mut imported),
    }
    imported
}

/// The files an importer may read: wanted by it, not too large, not too many. The others are
/// listed as skipped.
fn usable_files<'a>(source: Source, files: &'a SourceFiles, imported: &mut Imported) -> SourceView<'a> {
    let mut view = SourceView { files: Vec::new() };
    for (index, (path, bytes)) in files.iter().enumerate() {
        let shown = shown_path(path);
        if index >= MAX_FILES {
            imported.skip(format!("file {shown}"), format!("only the first {MAX_FILES} files are read"));
            continue;
        }
        if path.len() > MAX_PATH_BYTES {
            imported.skip(format!("file {shown}"), "its name is too long");
            continue;
        }
        if !wanted_files(source).iter().any(|pattern| glob_matches(pattern, path)) {
            imported.skip(format!("file {shown}"), format!("{source} does not keep anything Burrow imports in it"));
            continue;
        }
        if bytes.len() > MAX_FILE_BYTES {
            imported.skip(
                format!("file {shown}"),
                format!("it is {} bytes long, more than the {MAX_FILE_BYTES} bytes any such file holds", bytes.len()),
            );
            continue;
        }
        view.files.push((path, bytes));
    }
    view
}

/// The files an importer reads, already checked against its wanted list and the size cap.
pub(crate) struct SourceView<'a> {
    files: Vec<(&'a str, &'a [u8])>,
}

impl<'a> SourceView<'a> {
    fn get(&self, path: &str) -> Option<&'a [u8]> {
        self.files.iter().find(|(name, _)| *name == path).map(|(_, bytes)| *bytes)
    }

    fn matching(&self, pattern: &'a str) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        self.files.iter().copied().filter(move |(name, _)| glob_matches(pattern, name))
    }

    fn all(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        self.files.iter().copied()
    }
}

/// A name from a file, made safe to show: control characters escaped, cut to a readable length.
pub(crate) fn shown(text: &str) -> String {
    const MAX_SHOWN: usize = 200;
    let mut out = String::new();
    for (count, character) in text.chars().enumerate() {
        if count >= MAX_SHOWN {
            out.push('…');
            break;
        }
        if character.is_control() {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
    out
}

fn shown_path(path: &str) -> String {
    shown(path)
}

/// The bare JID of a JID as a client stored it: the resource (after the first `/`) removed, the
/// domain lowercased (and the local part's ASCII, as nodeprep folds case). `None` when it is not an
/// XMPP address with a local part and a domain.
pub(crate) fn bare_jid(text: &str) -> Option<String> {
    let text = text.trim();
    let bare = match text.find('/') {
        Some(slash) => &text[..slash],
        None => text,
    };
    if bare.is_empty() || bare.len() > MAX_JID_BYTES {
        return None;
    }
    let (local, domain) = bare.split_once('@')?;
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let forbidden = |character: char| {
        character.is_control() || character.is_whitespace() || matches!(character, '@' | '"' | '&' | '\'' | ':' | '<' | '>')
    };
    if local.is_empty() || local.len() > 1023 || local.chars().any(forbidden) {
        return None;
    }
    if domain.is_empty() || domain.len() > 1023 || domain.chars().any(forbidden) || domain.contains("..") {
        return None;
    }
    Some(format!("{}@{}", local.to_ascii_lowercase(), domain.to_lowercase()))
}

/// A port as a client stored it: 1..=65535.
pub(crate) fn port(value: i64) -> Option<u16> {
    u16::try_from(value).ok().filter(|port| *port != 0)
}

/// A host name as a client stored it, if it is one we can connect to by name.
pub(crate) fn host(text: &str) -> Option<String> {
    let text = text.trim();
    let usable = !text.is_empty()
        && text.len() <= 253
        && text.chars().all(|character| character.is_alphanumeric() || matches!(character, '.' | '-' | '_' | ':' | '[' | ']'));
    usable.then(|| text.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("*.key3", "example.org.key3"));
        assert!(glob_matches("*.key3", ".key3"));
        assert!(!glob_matches("*.key3", "sub/x.key3"));
        assert!(!glob_matches("*.key3", "x.key3.bak"));
        assert!(glob_matches("*", ".xmpp-client"));
        assert!(!glob_matches("*", "a/b"));
        assert!(glob_matches("config", "config"));
        assert!(!glob_matches("config", "configx"));
        assert!(glob_matches("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn bare_jids() {
        assert_eq!(bare_jid("Alice@Example.ORG/Pidgin").as_deref(), Some("alice@example.org"));
        assert_eq!(bare_jid("alice@example.org/").as_deref(), Some("alice@example.org"));
        assert_eq!(bare_jid("alice@example.org/a/b@c").as_deref(), Some("alice@example.org"));
        assert_eq!(bare_jid("example.org"), None);
        assert_eq!(bare_jid("@example.org"), None);
        assert_eq!(bare_jid("a@b@c"), None);
        assert_eq!(bare_jid("a b@c"), None);
        assert_eq!(bare_jid(""), None);
    }

    #[test]
    fn names_round_trip() {
        for source in Source::ALL {
            assert_eq!(Source::from_name(source.name()), Some(source));
            assert!(!default_dirs(source).is_empty());
            assert!(!wanted_files(source).is_empty());
        }
        assert_eq!(Source::from_name("kopete"), None);
    }

    #[test]
    fn debug_hides_passwords() {
        let account = ImportedAccount {
            jid: "a@b".into(),
            password: Some(Zeroizing::new("hunter2".into())),
            server: None,
        };
        assert!(!format!("{account:?}").contains("hunter2"));
    }
}
