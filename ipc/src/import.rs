//! `/import`: which files of another client the launcher reads, and what
//! crosses to the crypto process. The launcher reads bytes and nothing
//! more (the crypto process, which parses them, cannot read outside its
//! own directory); every byte is hostile input to the parsers.

use bincode::{Decode, Encode};

use crate::secret::{SecretBytes, SecretText};

/// The clients Burrow imports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub enum ImportSource {
    Pidgin,
    Adium,
    Gajim,
    XmppClient,
    Coyim,
}

/// The most bytes of files one import carries: all of it must fit in one
/// IPC frame, with room to spare.
pub const MAX_IMPORT_BYTES: usize = 768 * 1024;
/// The most files one import reads.
pub const MAX_IMPORT_FILES: usize = 128;

impl ImportSource {
    pub const ALL: [ImportSource; 5] = [ImportSource::Pidgin, ImportSource::Adium, ImportSource::Gajim, ImportSource::XmppClient, ImportSource::Coyim];

    pub fn name(self) -> &'static str {
        match self {
            ImportSource::Pidgin => "pidgin",
            ImportSource::Adium => "adium",
            ImportSource::Gajim => "gajim",
            ImportSource::XmppClient => "xmpp-client",
            ImportSource::Coyim => "coyim",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|source| source.name() == name)
    }

    /// Where the client keeps its files, relative to the home directory,
    /// when the user names no directory.
    pub fn default_directories(self) -> &'static [&'static str] {
        match self {
            ImportSource::Pidgin => &[".purple"],
            ImportSource::Adium => &["Library/Application Support/Adium 2.0/Users/Default"],
            ImportSource::Gajim => &[".local/share/gajim", ".config/gajim"],
            ImportSource::XmppClient => &[".xmpp-client"],
            ImportSource::Coyim => &[".config/coyim"],
        }
    }

    /// The files read from those directories: exact names, or `*.ext` for
    /// every file with that extension. Nothing else is ever opened.
    pub fn wanted_files(self) -> &'static [&'static str] {
        match self {
            ImportSource::Pidgin => &["accounts.xml", "prefs.xml", "blist.xml", "otr.private_key", "otr.fingerprints"],
            // Adium keeps libpurple's own files in its `libpurple` folder
            // (see `wanted_subfolder_files`).
            ImportSource::Adium => &["Accounts.plist", "otr.private_key", "otr.fingerprints", "libpurple/accounts.xml", "libpurple/blist.xml", "libpurple/prefs.xml"],
            ImportSource::Gajim => &["*.key3", "*.fpr", "config"],
            // Its configuration is one JSON file, `~/.xmpp-client` itself by
            // default (the launcher passes that file alone), or a directory
            // of them.
            ImportSource::XmppClient => &["*"],
            ImportSource::Coyim => &["accounts.json", "accounts.json.enc"],
        }
    }

    /// Files read one folder down: (that folder's exact name, the exact
    /// file names in it). Only that folder, only if it is a directory and
    /// not a link; the files reach the importer named `FOLDER/NAME`, as
    /// `wanted_files` lists them.
    pub fn wanted_subfolder_files(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            ImportSource::Adium => &[("libpurple", &["accounts.xml", "blist.xml", "prefs.xml"])],
            _ => &[],
        }
    }

    /// Whether `name` (a file name, no directory) is one this source wants.
    pub fn wants(self, name: &str) -> bool {
        !name.contains('/')
            && self.wanted_files().iter().any(|pattern| match pattern.strip_prefix('*') {
                Some(extension) => name.ends_with(extension) && name.len() > extension.len(),
                None => *pattern == name,
            })
    }
}

impl std::fmt::Display for ImportSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

/// One file, named as the client names it (relative to its directory).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ImportFile {
    pub name: String,
    /// May hold passwords and private keys: wiped on drop, never printed.
    pub bytes: SecretBytes,
}

/// What the user asked to import.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ImportRequest {
    pub source: ImportSource,
    /// An absolute directory, or none for the client's own.
    pub directory: Option<String>,
    /// For a client whose files are encrypted (CoyIM's `.enc`).
    pub passphrase: Option<SecretText>,
}

/// What came in, for the UI.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ImportReport {
    pub source: ImportSource,
    /// The accounts added to the store (their bare JIDs).
    pub added: Vec<String>,
    pub accounts: u32,
    pub keys: u32,
    pub fingerprints: u32,
    /// Saved rooms added to the store's accounts.
    pub bookmarks: u32,
    /// What was left out, and why, in plain words.
    pub skipped: Vec<String>,
    /// What was kept in the store for an address that is not an account
    /// (no password was saved): one line per address, in plain words.
    pub kept: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_patterns() {
        for source in ImportSource::ALL {
            assert_eq!(ImportSource::from_name(source.name()), Some(source));
        }
        assert!(ImportSource::Gajim.wants("work.key3") && !ImportSource::Gajim.wants(".key3") && !ImportSource::Gajim.wants("passwords"));
        assert!(ImportSource::Pidgin.wants("otr.private_key") && !ImportSource::Pidgin.wants("../otr.private_key"));
        assert!(!ImportSource::Adium.wants("libpurple/accounts.xml"), "a name in a folder is never matched in a listing");
        for source in ImportSource::ALL {
            for (folder, names) in source.wanted_subfolder_files() {
                assert!(!folder.contains('/') && *folder != ".." && *folder != ".");
                for name in *names {
                    assert!(!name.contains('/') && !name.contains('*'));
                    assert!(source.wanted_files().contains(&format!("{folder}/{name}").as_str()), "{folder}/{name} is in wanted_files");
                }
            }
        }
    }
}
