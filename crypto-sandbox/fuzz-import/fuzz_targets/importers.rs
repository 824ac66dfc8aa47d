//! Splits the input into a few pseudo-files (see src/lib.rs) and runs every importer on them,
//! under the names each one wants. Checked: nothing panics, overflows or allocates without
//! bound, whatever the bytes; every skipped item says what and why; every imported item is
//! well-formed (bare JIDs, keys whose fingerprint is computable, bounded counts); and Debug of the
//! result, which must never print a secret, runs.
#![no_main]

use crypto_sandbox::import::{self, Limits, ScryptLimits, Source, SourceFiles};
use import_fuzz::{names, Input, PASSPHRASE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else { return };
    // Enough for the fixture's N = 2^10, r = 8; far below what a hostile file could ask for.
    let limits = Limits { scrypt: ScryptLimits { max_memory_bytes: 1 << 20, max_work: 1 << 13 } };
    for source in Source::ALL {
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
});
