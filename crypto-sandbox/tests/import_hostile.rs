//! Hostile input for every importer: truncated, huge, deeply nested, DTDs and entities, wrong
//! types, non-UTF-8, a key whose x does not match y, base64 garbage, CoyIM files with a wrong
//! passphrase or changed bytes, and random bytes under every file name. Nothing may panic, and
//! each refusal must say what and why.

use std::path::Path;

use crypto_sandbox::import::{self, Imported, Limits, Source, SourceFiles};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(path)).unwrap()
}

fn one(source: Source, name: &str, bytes: Vec<u8>) -> Imported {
    import::import(source, &SourceFiles::new().with(name, bytes), None)
}

fn reason<'a>(imported: &'a Imported, what: &str) -> &'a str {
    imported
        .skipped
        .iter()
        .find(|skip| skip.what.contains(what))
        .map(|skip| skip.why.as_str())
        .unwrap_or_else(|| panic!("nothing skipped as {what:?}: {:#?}", imported.skipped))
}

#[test]
fn truncated_files_never_panic_and_keep_what_is_whole() {
    let cases: &[(Source, &str, &str)] = &[
        (Source::Pidgin, "accounts.xml", "pidgin/accounts.xml"),
        (Source::Pidgin, "prefs.xml", "pidgin/prefs.xml"),
        (Source::Pidgin, "blist.xml", "pidgin/blist.xml"),
        (Source::Pidgin, "otr.private_key", "pidgin/otr.private_key"),
        (Source::Pidgin, "otr.fingerprints", "pidgin/otr.fingerprints"),
        (Source::Adium, "Accounts.plist", "adium/Accounts.plist"),
        (Source::Gajim, "config", "gajim/config"),
        (Source::Gajim, "example.org.key3", "gajim/example.org.key3"),
        (Source::Gajim, "example.org.fpr", "gajim/example.org.fpr"),
        (Source::XmppClient, ".xmpp-client", "xmpp-client/.xmpp-client"),
        (Source::Coyim, "accounts.json", "coyim/accounts.json"),
        (Source::Coyim, "accounts.json.enc", "coyim/accounts.json.enc"),
    ];
    for (source, name, path) in cases {
        let whole = fixture(path);
        let step = (whole.len() / 97).max(1);
        for cut in (0..whole.len()).step_by(step) {
            let imported = import::import(*source, &SourceFiles::new().with(*name, whole[..cut].to_vec()), Some("tails is nice"));
            for skip in &imported.skipped {
                assert!(!skip.what.is_empty() && !skip.why.is_empty(), "{skip:?}");
            }
        }
    }
    // A cut key file: the key is skipped and says so.
    let key = fixture("gajim/example.org.key3");
    let mut files = SourceFiles::new().with("config", fixture("gajim/config"));
    files.add("example.org.key3", key[..key.len() - 5].to_vec());
    let imported = import::import(Source::Gajim, &files, None);
    assert!(imported.keys.is_empty());
    assert_eq!(imported.accounts.len(), 2, "the account stays");
    assert!(reason(&imported, "the OTR key of Gajim account example.org").contains("cut short"));
}

#[test]
fn huge_files_are_refused_unread() {
    for (source, name) in [(Source::Pidgin, "accounts.xml"), (Source::Gajim, "config"), (Source::Coyim, "accounts.json")] {
        let imported = one(source, name, vec![b' '; import::MAX_FILE_BYTES + 1]);
        assert!(reason(&imported, name).contains("bytes long"), "{:?}", imported.skipped);
    }
    // Many small files: only the first MAX_FILES are read.
    let mut files = SourceFiles::new();
    for index in 0..import::MAX_FILES + 3 {
        files.add(format!("a{index}.fpr"), Vec::new());
    }
    let imported = import::import(Source::Gajim, &files, None);
    assert!(imported.skipped.iter().any(|skip| skip.why.contains("only the first")));
}

#[test]
fn deep_xml_doctype_and_entities_are_refused() {
    let deep = "<account>".repeat(10_000) + &"</account>".repeat(10_000);
    assert!(reason(&one(Source::Pidgin, "accounts.xml", deep.into_bytes()), "accounts.xml").contains("nests"));

    let laughs = b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]>\
        <account><account><protocol>prpl-jabber</protocol><name>&lol2;@example.org</name></account></account>";
    let imported = one(Source::Pidgin, "accounts.xml", laughs.to_vec());
    assert!(imported.accounts.is_empty());
    assert!(reason(&imported, "accounts.xml").contains("DOCTYPE"));

    let external = b"<!DOCTYPE plist SYSTEM 'file:///etc/passwd'><plist><dict/></plist>";
    assert!(reason(&one(Source::Adium, "Accounts.plist", external.to_vec()), "Accounts.plist").contains("DOCTYPE"));

    let undefined = b"<account><account><protocol>prpl-jabber</protocol><name>&xxe;</name></account></account>";
    assert!(reason(&one(Source::Pidgin, "accounts.xml", undefined.to_vec()), "accounts.xml").contains("entity"));

    let wide = format!("<pref name='/'><pref {}/></pref>", (0..100).map(|index| format!("a{index}='1'")).collect::<Vec<_>>().join(" "));
    assert!(reason(&one(Source::Pidgin, "prefs.xml", wide.into_bytes()), "prefs.xml").contains("attributes"));

    let mismatched = b"<account><account></acount></account>";
    assert!(reason(&one(Source::Pidgin, "accounts.xml", mismatched.to_vec()), "accounts.xml").contains("not well-formed"));
}

#[test]
fn wrong_types_are_skipped_by_name() {
    let imported = one(Source::XmppClient, "x", br#"{"Account": 5}"#.to_vec());
    assert!(reason(&imported, "xmpp-client configuration x").contains("Account is not a string"));

    let imported = one(Source::XmppClient, "x", br#"{"Account": "a@b.example", "Port": "5222"}"#.to_vec());
    assert!(imported.accounts.is_empty());
    assert!(reason(&imported, "xmpp-client account a@b.example").contains("Port is not a number"));

    let imported = one(Source::XmppClient, "x", br#"{"Account": "a@b.example", "PrivateKey": 12, "KnownFingerprints": {}}"#.to_vec());
    assert_eq!(imported.accounts.len(), 1, "the account stays");
    assert!(reason(&imported, "a key of xmpp-client account a@b.example").contains("not a base64 string"));
    assert!(reason(&imported, "known fingerprints").contains("not a list"));

    let imported = one(Source::XmppClient, "x", br#"[1, 2]"#.to_vec());
    assert!(reason(&imported, "xmpp-client configuration").contains("not a JSON object"));

    let imported = one(Source::Coyim, "accounts.json", br#"{"Accounts": "alice"}"#.to_vec());
    assert!(reason(&imported, "accounts.json").contains("not a list"));

    let imported = one(Source::Coyim, "accounts.json", br#"{"Accounts": [7, {"Account": "a@b.example", "Peers": [{"UserID": "c@d.example", "Fingerprints": [{"FingerprintHex": "00", "Trusted": "yes"}]}]}]}"#.to_vec());
    assert!(reason(&imported, "account 1 of").contains("not a JSON object"));
    assert!(reason(&imported, "a fingerprint known to CoyIM account a@b.example").contains("40 hex"));

    let plist = b"<plist><dict><key>Accounts</key><string>no</string></dict></plist>";
    assert!(reason(&one(Source::Adium, "Accounts.plist", plist.to_vec()), "Accounts.plist").contains("no Accounts list"));
    let plist = b"<plist><dict><key>Accounts</key><array><dict><key>ObjectID</key><array/></dict></array></dict></plist>";
    assert!(reason(&one(Source::Adium, "Accounts.plist", plist.to_vec()), "account 1 of Accounts.plist").contains("ObjectID"));

    let prefs = b"<pref name='/'><pref name='OTR'><pref name='enabled' type='string' value='yes'/></pref></pref>";
    let mut files = SourceFiles::new().with("accounts.xml", fixture("pidgin/accounts.xml"));
    files.add("prefs.xml", prefs.to_vec());
    let imported = import::import(Source::Pidgin, &files, None);
    assert!(imported.policies.is_empty());
    assert!(reason(&imported, "the default OTR settings in Pidgin's prefs.xml").contains("not a bool"));

    let imported = one(Source::Pidgin, "accounts.xml", b"<accounts/>".to_vec());
    assert!(reason(&imported, "accounts.xml").contains("root element"));
}

#[test]
fn non_utf8_is_refused() {
    assert!(reason(&one(Source::Pidgin, "accounts.xml", b"<account>\xff\xfe</account>".to_vec()), "accounts.xml").contains("UTF-8"));
    assert!(reason(&one(Source::Gajim, "config", b"accounts.a.name = \xff".to_vec()), "config").contains("UTF-8"));
    assert!(reason(&one(Source::XmppClient, "x", b"{\"Account\": \"\xff\"}".to_vec()), "x").contains("UTF-8"));
    let mut fingerprints = b"bob\xff@example.net\talice@example.org/Pidgin\tprpl-jabber\t".to_vec();
    fingerprints.extend_from_slice(b"b0bdcad7e4f1fe0b1825323f4c596673808d9aa7\tsmp\n");
    assert!(reason(&one(Source::Pidgin, "otr.fingerprints", fingerprints), "line 1").contains("UTF-8"));
}

#[test]
fn a_key_whose_x_does_not_match_y_is_skipped_without_showing_it() {
    let mut key = fixture("gajim/example.org.key3");
    let last = key.len() - 1;
    key[last] ^= 0x01;
    let mut files = SourceFiles::new().with("config", fixture("gajim/config"));
    files.add("example.org.key3", key.clone());
    let imported = import::import(Source::Gajim, &files, None);
    assert!(imported.keys.is_empty());
    let why = reason(&imported, "the OTR key of Gajim account example.org");
    assert!(why.contains("y is not g^x"), "{why}");
    let x_hex: String = key[key.len() - 20..].iter().map(|byte| format!("{byte:02x}")).collect();
    assert!(!format!("{imported:?}").to_lowercase().contains(&x_hex));

    // A key of another type, and trailing bytes.
    let mut other = fixture("gajim/example.org.key3");
    other[1] = 1;
    files.add("example.org.key3", other);
    assert!(reason(&import::import(Source::Gajim, &files, None), "OTR key").contains("type 1"));
    let mut trailing = fixture("gajim/example.org.key3");
    trailing.push(0);
    files.add("example.org.key3", trailing);
    assert!(reason(&import::import(Source::Gajim, &files, None), "OTR key").contains("follow the key"));
}

#[test]
fn base64_garbage_skips_the_key_and_keeps_the_account() {
    for garbage in ["!!!not base64!!!", "AAA=", "AAAAAAAA", "AAAAAACA"] {
        let config = format!(r#"{{"Account": "a@b.example", "Password": "pw", "PrivateKey": "{garbage}"}}"#);
        let imported = one(Source::XmppClient, ".xmpp-client", config.into_bytes());
        assert_eq!(imported.accounts.len(), 1);
        assert!(imported.keys.is_empty());
        let why = reason(&imported, "a key of xmpp-client account a@b.example");
        assert!(why.contains("base64") || why.contains("cut short"), "{garbage:?}: {why}");
    }
}

#[test]
fn coyim_encrypted_refusals_are_clear() {
    let enc = fixture("coyim/accounts.json.enc");
    let files = SourceFiles::new().with("accounts.json.enc", enc.clone());

    let imported = import::import(Source::Coyim, &files, Some("wrong passphrase"));
    assert!(imported.accounts.is_empty());
    assert_eq!(
        reason(&imported, "accounts.json.enc"),
        "decryption failed: the passphrase is wrong, or the file was changed after CoyIM wrote it"
    );

    let imported = import::import(Source::Coyim, &files, None);
    assert!(reason(&imported, "accounts.json.enc").contains("no passphrase was given"));

    // One hex digit of the ciphertext changed.
    let text = String::from_utf8(enc.clone()).unwrap();
    let data_at = text.find("\"Data\": \"").unwrap() + 9 + 10;
    let mut tampered = text.clone().into_bytes();
    tampered[data_at] = if tampered[data_at] == b'0' { b'1' } else { b'0' };
    let imported = import::import(Source::Coyim, &SourceFiles::new().with("accounts.json.enc", tampered), Some("tails is nice"));
    assert!(reason(&imported, "accounts.json.enc").starts_with("decryption failed"));

    // Costly or malformed parameters are refused before any work.
    let costly = text.replace("\"N\": 1024", "\"N\": 1073741824");
    let imported = import::import(Source::Coyim, &SourceFiles::new().with("accounts.json.enc", costly.into_bytes()), Some("x"));
    assert!(reason(&imported, "accounts.json.enc").contains("more memory or time"));
    let odd = text.replace("\"N\": 1024", "\"N\": 1000");
    let imported = import::import(Source::Coyim, &SourceFiles::new().with("accounts.json.enc", odd.into_bytes()), Some("x"));
    assert!(reason(&imported, "accounts.json.enc").contains("not ones scrypt accepts"));
    let short_nonce = text.replacen("\"Nonce\": \"", "\"Nonce\": \"00", 1);
    let imported = import::import(Source::Coyim, &SourceFiles::new().with("accounts.json.enc", short_nonce.into_bytes()), Some("x"));
    assert!(reason(&imported, "accounts.json.enc").contains("nonce is 13 bytes"));
    let imported = import::import(Source::Coyim, &SourceFiles::new().with("accounts.json.enc", b"{}".to_vec()), Some("x"));
    assert!(reason(&imported, "accounts.json.enc").contains("no Params"));
    // The fuzzer's limits: a tiny scrypt budget.
    let tiny = Limits { scrypt: import::ScryptLimits { max_memory_bytes: 1 << 12, max_work: 1 << 8 } };
    let imported = import::import_with(Source::Coyim, &files, Some("tails is nice"), &tiny);
    assert!(reason(&imported, "accounts.json.enc").contains("more memory or time"));
}

#[test]
fn unwanted_file_names_are_skipped() {
    let imported = one(Source::Pidgin, "../../etc/passwd", b"root:x:0:0".to_vec());
    assert!(reason(&imported, "file ../../etc/passwd").contains("does not keep anything"));
    let imported = one(Source::Gajim, "sub/x.key3", b"".to_vec());
    assert!(reason(&imported, "file sub/x.key3").contains("does not keep anything"));
}

/// Random bytes under every file name every importer wants, and mutations of the fixtures.
#[test]
fn random_bytes_never_panic() {
    let mut state = 0x243f_6a88_85a3_08d3u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: Vec<Vec<u8>> = [
        "pidgin/accounts.xml",
        "pidgin/blist.xml",
        "pidgin/otr.private_key",
        "adium/Accounts.plist",
        "gajim/config",
        "gajim/example.org.key3",
        "xmpp-client/.xmpp-client",
        "coyim/accounts.json",
    ]
    .iter()
    .map(|path| fixture(path))
    .collect();
    let tiny = Limits { scrypt: import::ScryptLimits { max_memory_bytes: 1 << 16, max_work: 1 << 10 } };
    for round in 0..400 {
        let seed = &seeds[round % seeds.len()];
        let mut bytes = seed.clone();
        for _ in 0..(next() % 8 + 1) {
            if bytes.is_empty() {
                break;
            }
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, next() as u8),
            }
        }
        for source in Source::ALL {
            let mut files = SourceFiles::new();
            for pattern in import::wanted_files(source) {
                files.add(pattern.replace('*', "example.org"), bytes.clone());
            }
            let imported = import::import_with(source, &files, Some("p"), &tiny);
            for skip in &imported.skipped {
                assert!(!skip.what.is_empty() && !skip.why.is_empty());
            }
        }
    }
}
