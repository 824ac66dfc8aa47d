//! The input layout of the fuzz targets (`importers`, which feeds every importer, and one per
//! importer: `pidgin`, `adium`, `gajim`, `xmpp_client`, `coyim`), shared with `make_seeds`, and
//! the checks every target makes ([`check`]).
//!
//! | bytes | meaning |
//! |---|---|
//! | 0 | flags: bit 0 gives CoyIM's passphrase ("tails is nice", the fixture's) |
//! | 1.. | up to [`MAX_PARTS`] pseudo-files separated by [`MARKER`] |
//!
//! Every importer gets the pseudo-files under the names of its [`wanted_files`], in order
//! (`*` replaced by `example.org`), so one input reaches every parser.

use crypto_sandbox::import::{self, wanted_files, Limits, ScryptLimits, Source, SourceFiles};

pub const MARKER: &[u8] = b"\xff\xfe\xfd\xfc";
pub const MAX_PARTS: usize = 6;
pub const PASSPHRASE: &str = "tails is nice";

pub struct Input<'a> {
    pub passphrase: bool,
    pub parts: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&flags, mut rest) = data.split_first()?;
        let mut parts = Vec::new();
        while parts.len() + 1 < MAX_PARTS {
            match rest.windows(MARKER.len()).position(|window| window == MARKER) {
                Some(at) => {
                    parts.push(&rest[..at]);
                    rest = &rest[at + MARKER.len()..];
                }
                None => break,
            }
        }
        parts.push(rest);
        Some(Input { passphrase: flags & 1 != 0, parts })
    }
}

/// The file names a source gets its parts under.
pub fn names(source: Source) -> Vec<String> {
    wanted_files(source).iter().map(|pattern| pattern.replace('*', "example.org")).collect()
}

/// An input from a flags byte and parts.
pub fn join(flags: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![flags];
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            out.extend_from_slice(MARKER);
        }
        out.extend_from_slice(part);
    }
    out
}

/// Runs `source`'s importer on the input's pseudo-files. Checked: nothing panics, overflows or
/// allocates without bound, whatever the bytes; every skipped item says what and why; every
/// imported item is well-formed (bare JIDs, keys whose fingerprint is computable, bounded
/// counts); and Debug of the result, which must never print a secret, runs.
pub fn check(source: Source, input: &Input<'_>) {
    // Enough for the fixture's N = 2^10, r = 8; far below what a hostile file could ask for.
    let limits = Limits { scrypt: ScryptLimits { max_memory_bytes: 1 << 20, max_work: 1 << 13 } };
    let mut files = SourceFiles::new();
    for (name, part) in names(source).into_iter().zip(&input.parts) {
        files.add(name, part.to_vec());
    }
    let passphrase = input.passphrase.then_some(PASSPHRASE);
    let imported = import::import_with(source, &files, passphrase, &limits);
    for skip in &imported.skipped {
        assert!(!skip.what.is_empty() && !skip.why.is_empty(), "{skip:?}");
    }
    for account in &imported.accounts {
        assert!(account.jid.contains('@') && !account.jid.contains('/'), "{account:?}");
    }
    for key in &imported.keys {
        assert!(key.account_jid.contains('@'));
        let _ = key.key.public_key().fingerprint();
    }
    for entry in &imported.fingerprints {
        assert!(entry.peer.contains('@') && !entry.peer.contains('/'), "{entry:?}");
    }
    assert!(imported.accounts.len() <= import::MAX_ITEMS && imported.skipped.len() <= import::MAX_ITEMS);
    let _ = format!("{imported:?}");
}

/// The source and seed directory name of each per-importer target.
pub const TARGETS: [(Source, &str); 5] =
    [(Source::Pidgin, "pidgin"), (Source::Adium, "adium"), (Source::Gajim, "gajim"), (Source::XmppClient, "xmpp_client"), (Source::Coyim, "coyim")];
