//! Pidgin's importer alone: the input's pseudo-files (see src/lib.rs) under the names it
//! wants, so every execution reaches accounts.xml, prefs.xml, blist.xml (the XML reader) and libotr's otr.private_key and otr.fingerprints. Checks: `import_fuzz::check`.
#![no_main]

use crypto_sandbox::import::Source;
use import_fuzz::{check, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(input) = Input::parse(data) {
        check(Source::Pidgin, &input);
    }
});
