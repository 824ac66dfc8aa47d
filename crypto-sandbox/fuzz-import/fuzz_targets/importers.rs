//! Splits the input into a few pseudo-files (see src/lib.rs) and runs every importer on them,
//! under the names each one wants, with the checks of `import_fuzz::check`. The per-importer
//! targets (pidgin.rs, adium.rs, …) run one importer each, so that a short run spends all its
//! time on that one's parsers.
#![no_main]

use crypto_sandbox::import::Source;
use import_fuzz::{check, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else { return };
    for source in Source::ALL {
        check(source, &input);
    }
});
