//! Each importer on its fixtures (tests/fixtures/import/, see README.md there): the accounts,
//! the keys (each key's fingerprint is the one libotr or potr computed when it made the key),
//! the fingerprints with their trust, the policies, and what was skipped and why.

use std::path::Path;

use crypto_sandbox::import::{self, Imported, Source, SourceFiles};
use otr::policy::Policy;
use otr::trust::Trust;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import")
}

/// What the launcher does: every file of the directory that the source wants, and the exact
/// names it wants one folder down.
fn load(source: Source, dir: &str) -> SourceFiles {
    let mut files = SourceFiles::new();
    for entry in std::fs::read_dir(fixtures().join(dir)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if import::wanted_files(source).iter().any(|pattern| import::glob_matches(pattern, &name)) {
            files.add(name, std::fs::read(entry.path()).unwrap());
        }
    }
    for (folder, names) in source.wanted_subfolder_files() {
        for name in *names {
            if let Ok(bytes) = std::fs::read(fixtures().join(dir).join(folder).join(name)) {
                files.add(format!("{folder}/{name}"), bytes);
            }
        }
    }
    files
}

/// KEY lines of libotr-keys.txt / potr-keys.txt: (field 1, field 2 …).
fn key_lines(file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(fixtures().join(file))
        .unwrap()
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .filter(|fields| fields[0] == "KEY")
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (index, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&text[2 * index..2 * index + 2], 16).unwrap();
    }
    out
}

fn keys(imported: &Imported) -> Vec<(String, String)> {
    imported.keys.iter().map(|key| (key.account_jid.clone(), hex(&key.key.public_key().fingerprint()))).collect()
}

fn trust_of(imported: &Imported, account: &str, peer: &str, fingerprint: &str) -> Option<Trust> {
    imported
        .fingerprints
        .iter()
        .find(|entry| entry.account_jid == account && entry.peer == peer && entry.fingerprint == unhex(fingerprint))
        .map(|entry| entry.trust)
}

fn policy_of(imported: &Imported, account: &str, peer: Option<&str>) -> Option<Policy> {
    imported.policies.iter().find(|entry| entry.account_jid == account && entry.peer.as_deref() == peer).map(|entry| entry.policy)
}

fn skipped_with(imported: &Imported, what: &str, why: &str) -> bool {
    imported.skipped.iter().any(|skip| skip.what.contains(what) && skip.why.contains(why))
}

fn password(imported: &Imported, jid: &str) -> Option<String> {
    imported.accounts.iter().find(|account| account.jid == jid)?.password.as_ref().map(|password| password.to_string())
}

fn server(imported: &Imported, jid: &str) -> Option<(String, u16)> {
    imported.accounts.iter().find(|account| account.jid == jid)?.server.clone()
}

#[test]
fn pidgin() {
    let imported = import::import(Source::Pidgin, &load(Source::Pidgin, "pidgin"), None);
    let jids: Vec<&str> = imported.accounts.iter().map(|account| account.jid.as_str()).collect();
    assert_eq!(jids, ["alice@example.org", "mallory@example.net"], "{imported:#?}");
    assert_eq!(password(&imported, "alice@example.org").as_deref(), Some("correct horse & battery"));
    assert_eq!(server(&imported, "alice@example.org"), Some(("xmpp.example.org".into(), 5223)));
    assert_eq!(password(&imported, "mallory@example.net"), None);
    assert_eq!(server(&imported, "mallory@example.net"), None);
    assert!(skipped_with(&imported, "account alice_aim", "prpl-aim is not XMPP"));
    assert!(skipped_with(&imported, "account alice@irc.example.net", "prpl-irc is not XMPP"));

    // The key libotr generated for alice@example.org/Pidgin, with libotr's fingerprint.
    let libotr = key_lines("libotr-keys.txt");
    let expected = libotr.iter().find(|line| line[1] == "pidgin" && line[3] == "prpl-jabber").unwrap();
    assert_eq!(keys(&imported), [("alice@example.org".to_string(), expected[4].clone())]);
    assert!(skipped_with(&imported, "the key of alice_aim (prpl-aim)", "prpl-aim is not XMPP"));

    let alice = "alice@example.org";
    assert_eq!(trust_of(&imported, alice, "bob@example.net", "b0bdcad7e4f1fe0b1825323f4c596673808d9aa7"), Some(Trust::VerifiedBySmp));
    assert_eq!(trust_of(&imported, alice, "carol@example.com", "0c192633404d5a6774818e9ba8b5c2cfdce9f603"), Some(Trust::Unverified));
    // The peer's resource is stripped.
    assert_eq!(trust_of(&imported, alice, "erin@example.com", "e0edfa0714212e3b4855626f7c8996a3b0bdcad7"), Some(Trust::VerifiedByHand));
    assert_eq!(imported.fingerprints.len(), 3);
    assert!(skipped_with(&imported, "the fingerprint of dave_aim seen by alice_aim", "prpl-aim is not XMPP"));

    // prefs.xml: enabled, automatic, only private → require for every account; blist.xml: bob
    // opportunistic, carol manual, news never, erin follows the default.
    assert_eq!(policy_of(&imported, alice, None), Some(Policy::Require));
    assert_eq!(policy_of(&imported, "mallory@example.net", None), Some(Policy::Require));
    assert_eq!(policy_of(&imported, alice, Some("bob@example.net")), Some(Policy::Opportunistic));
    assert_eq!(policy_of(&imported, alice, Some("carol@example.com")), Some(Policy::Manual));
    assert_eq!(policy_of(&imported, alice, Some("news@example.org")), Some(Policy::Never));
    assert_eq!(policy_of(&imported, alice, Some("erin@example.com")), None);
    assert!(skipped_with(&imported, "the OTR settings for dave_aim of alice_aim", "prpl-aim is not XMPP"));
    assert_eq!(imported.policies.len(), 5);
    for skip in &imported.skipped {
        assert!(!skip.what.is_empty() && !skip.why.is_empty());
    }
}

#[test]
fn adium() {
    let imported = import::import(Source::Adium, &load(Source::Adium, "adium"), None);
    let jids: Vec<&str> = imported.accounts.iter().map(|account| account.jid.as_str()).collect();
    assert_eq!(jids, ["alice@example.org", "alice.work@gmail.com"], "{imported:#?}");
    assert!(skipped_with(&imported, "account alice_aim", "libpurple-oscar-AIM is not XMPP"));
    // libpurple/accounts.xml names alice's connect server; Adium saved no password.
    assert_eq!(server(&imported, "alice@example.org"), Some(("xmpp.example.org".into(), 5222)));
    assert_eq!(password(&imported, "alice@example.org"), None);
    let libotr = key_lines("libotr-keys.txt");
    let expected = libotr.iter().find(|line| line[1] == "adium" && line[2] == "1").unwrap();
    assert_eq!(keys(&imported), [("alice@example.org".to_string(), expected[4].clone())]);
    assert!(skipped_with(&imported, "the key of 2 (libpurple-oscar-AIM)", "is not XMPP"));
    assert_eq!(
        trust_of(&imported, "alice@example.org", "bob@example.net", "5a6774818e9ba8b5c2cfdce9f603101d2a374451"),
        Some(Trust::VerifiedByHand)
    );
    assert_eq!(
        trust_of(&imported, "alice@example.org", "frank@example.org", "33404d5a6774818e9ba8b5c2cfdce9f603101d2a"),
        Some(Trust::Unverified)
    );
    assert_eq!(imported.fingerprints.len(), 2);
    assert!(imported.policies.is_empty());
}

/// The same accounts in an XML Accounts.plist (the binary one was made from it) come in the same.
#[test]
fn adium_xml_plist_reads_as_the_binary_one() {
    let mut files = load(Source::Adium, "adium");
    files.add("Accounts.plist", std::fs::read(fixtures().join("adium-xml/Accounts.plist")).unwrap());
    assert!(!files.get("Accounts.plist").unwrap().starts_with(b"bplist"));
    let from_xml = import::import(Source::Adium, &files, None);
    let from_binary = import::import(Source::Adium, &load(Source::Adium, "adium"), None);
    assert!(load(Source::Adium, "adium").get("Accounts.plist").unwrap().starts_with(b"bplist00"), "the fixture is binary, as Adium writes it");
    assert_eq!(from_xml.accounts, from_binary.accounts);
    assert_eq!(keys(&from_xml), keys(&from_binary));
    assert_eq!(from_xml.fingerprints, from_binary.fingerprints);
}

#[test]
fn adium_damaged_binary_plist_is_skipped_in_words() {
    let mut files = load(Source::Adium, "adium");
    files.add("Accounts.plist", b"bplist00\xd1\x01\x02".to_vec());
    let imported = import::import(Source::Adium, &files, None);
    assert!(imported.keys.is_empty());
    assert!(skipped_with(&imported, "Adium's Accounts.plist", "not a valid binary property list"), "{:#?}", imported.skipped);
    assert!(skipped_with(&imported, "the key of 1 (libpurple-Jabber)", "Accounts.plist could not be read"), "{:#?}", imported.skipped);
}

/// A folder the launcher does not read one level down is not read here either: only the exact
/// names it lists, never another file of that folder or a deeper one.
#[test]
fn adium_reads_only_the_named_libpurple_files() {
    let mut files = load(Source::Adium, "adium");
    files.add("libpurple/otr.private_key", b"(privkeys)".to_vec());
    files.add("libpurple/sub/accounts.xml", b"<account/>".to_vec());
    let imported = import::import(Source::Adium, &files, None);
    assert!(skipped_with(&imported, "file libpurple/otr.private_key", "does not keep anything"));
    assert!(skipped_with(&imported, "file libpurple/sub/accounts.xml", "does not keep anything"));
}

#[test]
fn gajim() {
    // The launcher reads *.key3 and *.fpr from the data directory and config from the
    // configuration directory; the fixture keeps all three side by side.
    let imported = import::import(Source::Gajim, &load(Source::Gajim, "gajim"), None);
    let jids: Vec<&str> = imported.accounts.iter().map(|account| account.jid.as_str()).collect();
    assert_eq!(jids, ["alice@example.org", "alice.w@corp.example"], "{imported:#?}");
    assert_eq!(password(&imported, "alice@example.org").as_deref(), Some("s3cret pass"));
    assert_eq!(server(&imported, "alice@example.org"), Some(("xmpp.example.org".into(), 5223)));
    // savepass = False: the password is not taken.
    assert_eq!(password(&imported, "alice.w@corp.example"), None);
    assert_eq!(server(&imported, "alice.w@corp.example"), None);
    assert!(skipped_with(&imported, "Gajim account Local", "zeroconf"));

    let potr = key_lines("potr-keys.txt");
    let expected = potr.iter().find(|line| line[1] == "gajim-example.org").unwrap();
    assert_eq!(keys(&imported), [("alice@example.org".to_string(), expected[2].clone())]);

    let alice = "alice@example.org";
    assert_eq!(trust_of(&imported, alice, "bob@example.net", "b0bdcad7e4f1fe0b1825323f4c596673808d9aa7"), Some(Trust::VerifiedBySmp));
    assert_eq!(trust_of(&imported, alice, "carol@example.com", "0c192633404d5a6774818e9ba8b5c2cfdce9f603"), Some(Trust::VerifiedByHand));
    assert_eq!(trust_of(&imported, alice, "frank@example.org", "33404d5a6774818e9ba8b5c2cfdce9f603101d2a"), Some(Trust::Unverified));
    assert_eq!(imported.fingerprints.len(), 3);
    assert!(skipped_with(&imported, "the fingerprint of notxmpp", "not an XMPP address"));
    assert!(skipped_with(&imported, "line 5 of example.org.fpr", "fewer than three tabs"));
}

#[test]
fn gajim_key_without_config_is_skipped() {
    let mut files = SourceFiles::new();
    files.add("example.org.key3", std::fs::read(fixtures().join("gajim/example.org.key3")).unwrap());
    let imported = import::import(Source::Gajim, &files, None);
    assert!(imported.keys.is_empty());
    assert!(skipped_with(&imported, "Gajim's config", "not among the files found"));
    assert!(skipped_with(&imported, "the OTR key of Gajim account example.org", "no account example.org"));
}

#[test]
fn xmpp_client() {
    let imported = import::import(Source::XmppClient, &load(Source::XmppClient, "xmpp-client"), None);
    assert_eq!(imported.accounts.len(), 1, "{imported:#?}");
    assert_eq!(imported.accounts[0].jid, "alice@example.org");
    assert_eq!(password(&imported, "alice@example.org").as_deref(), Some("xc-password"));
    assert_eq!(server(&imported, "alice@example.org"), Some(("xmpp.example.org".into(), 5222)));
    let potr = key_lines("potr-keys.txt");
    let expected = potr.iter().find(|line| line[1] == "xmpp-client").unwrap();
    assert_eq!(keys(&imported), [("alice@example.org".to_string(), expected[2].clone())]);
    assert_eq!(
        trust_of(&imported, "alice@example.org", "bob@example.net", "b0bdcad7e4f1fe0b1825323f4c596673808d9aa7"),
        Some(Trust::VerifiedByHand)
    );
    assert_eq!(imported.fingerprints.len(), 1);
    assert!(skipped_with(&imported, "a fingerprint known to xmpp-client account alice@example.org", "not 40 hex digits"));
    assert_eq!(policy_of(&imported, "alice@example.org", None), Some(Policy::Opportunistic));
    assert_eq!(policy_of(&imported, "alice@example.org", Some("bob@example.net")), Some(Policy::Require));
}

fn check_coyim(imported: &Imported) {
    let jids: Vec<&str> = imported.accounts.iter().map(|account| account.jid.as_str()).collect();
    assert_eq!(jids, ["alice@example.org", "bob@example.net"], "{imported:#?}");
    assert_eq!(password(imported, "alice@example.org").as_deref(), Some("coy-password"));
    assert_eq!(server(imported, "alice@example.org"), Some(("xmpp.example.org".into(), 5223)));
    let potr = key_lines("potr-keys.txt");
    let expected: Vec<(String, String)> = potr
        .iter()
        .filter(|line| line[1].starts_with("coyim"))
        .map(|line| ("alice@example.org".to_string(), line[2].clone()))
        .collect();
    assert_eq!(keys(imported), expected);
    // bob's account keeps the account and skips its malformed key.
    let why: Vec<&str> = imported.skipped.iter().filter(|skip| skip.what.contains("a key of CoyIM account bob@example.net")).map(|skip| skip.why.as_str()).collect();
    assert_eq!(why.len(), 1, "{:?}", imported.skipped);
    assert!(why[0].contains("base64") || why[0].contains("cut short"), "{why:?}");
    let alice = "alice@example.org";
    assert_eq!(trust_of(imported, alice, "bob@example.net", "b0bdcad7e4f1fe0b1825323f4c596673808d9aa7"), Some(Trust::VerifiedByHand));
    assert_eq!(trust_of(imported, alice, "bob@example.net", "0c192633404d5a6774818e9ba8b5c2cfdce9f603"), Some(Trust::Unverified));
    assert_eq!(trust_of(imported, alice, "carol@example.com", "33404d5a6774818e9ba8b5c2cfdce9f603101d2a"), Some(Trust::VerifiedByHand));
    assert_eq!(imported.fingerprints.len(), 3);
    assert_eq!(policy_of(imported, alice, None), Some(Policy::Require));
    assert_eq!(policy_of(imported, "bob@example.net", None), Some(Policy::Manual));
    assert_eq!(policy_of(imported, "bob@example.net", Some("alice@example.org")), Some(Policy::Require));
    assert!(skipped_with(imported, "the DontEncryptWith list of CoyIM account bob@example.net", "does not lower"));
}

#[test]
fn coyim_plain() {
    let mut files = load(Source::Coyim, "coyim");
    files = SourceFiles::new().with("accounts.json", files.get("accounts.json").unwrap().to_vec());
    check_coyim(&import::import(Source::Coyim, &files, None));
}

#[test]
fn coyim_encrypted() {
    let files = load(Source::Coyim, "coyim");
    let imported = import::import(Source::Coyim, &files, Some("tails is nice"));
    check_coyim(&imported);
    assert!(skipped_with(&imported, "CoyIM's accounts.json", "uses accounts.json.enc when both are there"));
}

#[test]
fn debug_output_never_shows_secrets() {
    let files = load(Source::Coyim, "coyim");
    let imported = import::import(Source::Coyim, &files, Some("tails is nice"));
    let shown = format!("{imported:?} {files:?}");
    assert!(!shown.contains("coy-password"));
    let potr = key_lines("potr-keys.txt");
    for line in &potr {
        assert!(!shown.contains(&line[3][..40]));
    }
}
