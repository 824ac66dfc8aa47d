//! Pidgin's importer on files that libpurple 2.14 itself wrote
//! (tests/fixtures/import/pidgin-libpurple/, made by make_libpurple_files.c;
//! its OTR keys are the libotr-made ones of pidgin/): what Pidgin really
//! writes, not what we read its source to say it writes.

use std::path::Path;

use crypto_sandbox::import::{self, Source, SourceFiles};
use otr::policy::Policy;

fn load() -> SourceFiles {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/pidgin-libpurple");
    let mut files = SourceFiles::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if import::wanted_files(Source::Pidgin).iter().any(|pattern| import::glob_matches(pattern, &name)) {
            files.add(name, std::fs::read(entry.path()).unwrap());
        }
    }
    files
}

#[test]
fn files_written_by_libpurple_import_with_password_server_keys_and_policies() {
    let imported = import::import(Source::Pidgin, &load(), None);
    let alice = imported.accounts.iter().find(|account| account.jid == "alice@example.org").unwrap_or_else(|| panic!("{imported:#?}"));
    // libpurple escaped the markup characters; they come back as typed.
    assert_eq!(alice.password.as_ref().map(|password| password.as_str()), Some("a password <with> & marks"));
    assert_eq!(alice.server, Some(("xmpp.example.org".into(), 5222)));
    assert!(imported.skipped.iter().any(|skip| skip.what.contains("alice@irc.example.net") && skip.why.contains("prpl-irc is not XMPP")), "{:?}", imported.skipped);
    // carol@example.net saved no password: she is not imported as a usable
    // account with one.
    assert!(imported.accounts.iter().all(|account| account.jid != "carol@example.net" || account.password.is_none()));
    assert_eq!(imported.keys.iter().map(|key| key.account_jid.as_str()).collect::<Vec<_>>(), ["alice@example.org"]);
    // prefs.xml: enabled, automatic, only private → require; blist.xml: Bob
    // overrides it with OTR off → never; Dave follows the default.
    let policy = |peer: Option<&str>| imported.policies.iter().find(|entry| entry.account_jid == "alice@example.org" && entry.peer.as_deref() == peer).map(|entry| entry.policy);
    assert_eq!(policy(None), Some(Policy::Require));
    assert_eq!(policy(Some("bob@example.org")), Some(Policy::Never));
    assert_eq!(policy(Some("dave@example.org")), None);
    for skip in &imported.skipped {
        assert!(!skip.what.is_empty() && !skip.why.is_empty());
    }
}
