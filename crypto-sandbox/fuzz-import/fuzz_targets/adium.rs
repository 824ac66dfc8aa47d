//! Adium's importer alone: the input's pseudo-files (see src/lib.rs) under the names it
//! wants, so every execution reaches Accounts.plist (binary through the plist crate, or XML), libotr's files, and libpurple/accounts.xml, blist.xml, prefs.xml. Checks: `import_fuzz::check`.
#![no_main]

use crypto_sandbox::import::Source;
use import_fuzz::{check, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(input) = Input::parse(data) {
        check(Source::Adium, &input);
    }
});
