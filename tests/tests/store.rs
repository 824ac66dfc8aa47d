//! The encrypted store through every process: what survives a restart, a
//! wrong passphrase, a damaged file and its backup, a passphrase change,
//! and a scan of the disk for anything in the clear.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{binary, Burrow, Scratch};
use serde_json::Value;

const STEP: Duration = Duration::from_secs(60);

fn start(profile: &Path) -> Burrow {
    Burrow::start(&binary("burrow"), profile)
}

fn unlock(burrow: &mut Burrow, command: &str) -> Value {
    burrow.send(command);
    burrow.expect("the unlock's answer", STEP, |event| event["event"] == "unlocked" || event["event"] == "error")
}

/// `/status`, and the account it lists with this address.
fn listed(burrow: &mut Burrow, account: &str) -> Value {
    burrow.send("/status");
    burrow.expect("the account in /status", STEP, |event| event["event"] == "account" && event["account"] == account)
}

fn quit(mut burrow: Burrow) {
    burrow.send("/quit");
    assert!(burrow.wait(STEP).success());
}

fn store_file(profile: &Path) -> PathBuf {
    profile.join("crypto").join("store")
}

fn fingerprint_of(burrow: &mut Burrow, account: &str) -> String {
    burrow.send(&format!("/fingerprint {account}"));
    let event = burrow.expect("our fingerprint", STEP, |event| event["event"] == "fingerprint" && event.get("peer").is_none());
    event["fingerprint"].as_str().expect("fingerprint").to_owned()
}

fn options(prosody: &Prosody) -> String {
    format!("server=127.0.0.1:{} ca={}", prosody.starttls_port(), prosody.ca_pem_path().display())
}

fn otr_private(burrow: &mut Burrow, peer: &str) -> Value {
    burrow.expect("a private conversation", STEP, |event| event["event"] == "otr" && event["peer"] == peer && event["state"] == "private")
}

#[test]
fn accounts_keys_and_a_fingerprint_verified_by_smp_survive_a_restart() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("store-restart");
    let (alice, alice_password) = prosody.create_account("keepalice");
    let (bob, bob_password) = prosody.create_account("keepbob");
    let alice_profile = scratch.path().join("alice");
    let mut a = start(&alice_profile);
    assert_eq!(unlock(&mut a, "/unlock alice's passphrase")["event"], "unlocked");
    a.add_account(&alice, &alice_password, &options(prosody));
    let alice_fingerprint = fingerprint_of(&mut a, &alice);
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    b.add_account(&bob, &bob_password, &options(prosody));
    a.connect_ok(&alice);
    b.connect_ok(&bob);
    a.send(&format!("/otr start {alice} {bob}"));
    let private = otr_private(&mut a, &bob);
    let bob_fingerprint = private["fingerprint"].as_str().unwrap().to_owned();
    otr_private(&mut b, &alice);
    a.send(&format!("/smp {alice} {bob} the lighthouse"));
    b.expect("the SMP request", STEP, |event| event["event"] == "smp" && event["result"] == "asked");
    b.send(&format!("/smp-answer {bob} {alice} the lighthouse"));
    a.expect("SMP success", STEP, |event| event["event"] == "smp" && event["result"] == "success");
    quit(a);

    let mut a = start(&alice_profile);
    assert_eq!(unlock(&mut a, "/unlock alice's passphrase")["event"], "unlocked");
    listed(&mut a, &alice);
    assert_eq!(fingerprint_of(&mut a, &alice), alice_fingerprint, "the OTR key is the stored one");
    a.connect_ok(&alice);
    a.send(&format!("/otr start {alice} {bob}"));
    let private = otr_private(&mut a, &bob);
    assert_eq!(private["fingerprint"], bob_fingerprint.as_str());
    assert_eq!(private["verified"], true, "the SMP verification was kept: {private}");
    quit(a);
    quit(b);
}

/// The front end's preferences live in the store, like everything else,
/// and come back with the unlock.
#[test]
fn the_front_ends_preferences_are_kept_in_the_store() {
    let scratch = Scratch::new("store-preferences");
    let profile = scratch.path().join("profile");
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock my passphrase")["event"], "unlocked");
    let shown = burrow.expect("the preferences", STEP, |event| event["event"] == "preferences");
    assert_eq!(shown["larger_text"], false, "the default");
    burrow.send("/preference larger-text on");
    let set = burrow.expect("the preferences saved", STEP, |event| event["event"] == "preferences" || event["event"] == "error");
    assert_eq!((set["event"].as_str(), set["larger_text"].as_bool()), (Some("preferences"), Some(true)), "{set}");
    quit(burrow);

    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock my passphrase")["event"], "unlocked");
    let shown = burrow.expect("the preferences", STEP, |event| event["event"] == "preferences");
    assert_eq!(shown["larger_text"], true, "kept across a restart: {shown}");
    burrow.send("/preference larger-text sideways");
    assert_eq!(burrow.expect("the refusal", STEP, |event| event["event"] == "error")["code"], "bad-command");
    quit(burrow);
}

#[test]
fn a_wrong_passphrase_is_refused_and_changes_nothing() {
    let scratch = Scratch::new("store-wrong");
    let profile = scratch.path().join("profile");
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock the right one")["event"], "unlocked");
    burrow.add_account("someone@example.org", "hunter2", "");
    quit(burrow);
    let before = std::fs::read(store_file(&profile)).expect("the store file");

    let mut burrow = start(&profile);
    let refused = unlock(&mut burrow, "/unlock the wrong one");
    assert_eq!(refused["code"], "wrong-passphrase", "{refused}");
    assert_eq!(std::fs::read(store_file(&profile)).unwrap(), before, "a failed unlock wrote nothing");
    let opened = unlock(&mut burrow, "/unlock the right one");
    assert_eq!(opened["event"], "unlocked", "{opened}");
    listed(&mut burrow, "someone@example.org");
    quit(burrow);
}

#[test]
fn a_damaged_store_is_reported_and_its_backup_opens_on_request() {
    let scratch = Scratch::new("store-damaged");
    let profile = scratch.path().join("profile");
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock damaged test")["event"], "unlocked");
    burrow.add_account("first@example.org", "pw1", "");
    burrow.add_account("second@example.org", "pw2", "");
    quit(burrow);
    let path = store_file(&profile);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();

    let mut burrow = start(&profile);
    let refused = unlock(&mut burrow, "/unlock damaged test");
    assert_eq!(refused["event"], "error", "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("/unlock-backup"), "the backup is offered: {message}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the damaged file is left as it was");
    let opened = unlock(&mut burrow, "/unlock-backup damaged test");
    assert_eq!(opened["event"], "unlocked", "{opened}");
    listed(&mut burrow, "first@example.org");
    quit(burrow);
}

#[test]
fn a_changed_passphrase_opens_the_store_and_the_old_one_no_longer_does() {
    let scratch = Scratch::new("store-passphrase");
    let profile = scratch.path().join("profile");
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock old words")["event"], "unlocked");
    burrow.add_account("kept@example.org", "pw", "");
    burrow.send("/passphrase new words");
    burrow.expect("the change", STEP, |event| event["event"] == "passphrase-changed");
    quit(burrow);
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock old words")["code"], "wrong-passphrase");
    assert_eq!(unlock(&mut burrow, "/unlock new words")["event"], "unlocked");
    listed(&mut burrow, "kept@example.org");
    quit(burrow);
}

#[test]
fn no_passphrase_is_an_explicit_warned_choice() {
    let scratch = Scratch::new("store-nopass");
    let profile = scratch.path().join("profile");
    let mut burrow = start(&profile);
    let empty = unlock(&mut burrow, "/unlock ");
    assert_eq!(empty["event"], "error", "an empty passphrase is never the default");
    burrow.send("/unlock-without-passphrase");
    burrow.expect("the warning", STEP, |event| event["event"] == "warning");
    assert_eq!(burrow.expect_event("unlocked", STEP)["event"], "unlocked");
    quit(burrow);
}

/// Every file under `dir` written since `since`, read as bytes, leaving
/// out `skip` (the build's own directory, whose test binaries hold these
/// very strings, and the test servers' data).
fn files_under(dir: &Path, since: SystemTime, skip: &Path, found: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.starts_with(skip) {
            continue;
        }
        let recent = entry.metadata().and_then(|metadata| metadata.modified()).is_ok_and(|modified| modified >= since);
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => files_under(&path, since, skip, found),
            Ok(kind) if kind.is_file() && recent => {
                if let Ok(bytes) = std::fs::read(&path) {
                    found.push((path, bytes));
                }
            }
            _ => {}
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn nothing_in_the_clear_on_disk_after_a_session() {
    let prosody = Prosody::shared();
    let since = SystemTime::now() - Duration::from_secs(1);
    let scratch = Scratch::new("store-scan");
    let (alice, alice_password) = prosody.create_account("scanalice");
    let (bob, bob_password) = prosody.create_account("scanbob");
    let profile = scratch.path().join("alice");
    let mut a = start(&profile);
    assert_eq!(unlock(&mut a, "/unlock scanning passphrase")["event"], "unlocked");
    a.add_account(&alice, &alice_password, &options(prosody));
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    b.add_account(&bob, &bob_password, &options(prosody));
    a.connect_ok(&alice);
    b.connect_ok(&bob);
    let marker = "marker-text-7f3a9c the meeting is at noon";
    a.send(&format!("/msg {alice} {bob} {marker}"));
    b.expect("the message", STEP, |event| event["event"] == "message" && event["text"] == marker);
    let fingerprint = fingerprint_of(&mut a, &alice).replace(' ', "");
    // An imported private key whose x the fixture file shows: it is kept in the store now.
    let adium = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crypto-sandbox/tests/fixtures/import/adium");
    a.send(&format!("/import adium {}", adium.display()));
    let imported = a.expect("the import's report", STEP, |event| event["event"] == "imported" || event["event"] == "error");
    assert!(imported["kept"].as_array().is_some_and(|kept| !kept.is_empty()), "{imported}");
    let x = fixture_x(&adium.join("otr.private_key"));
    quit(a);
    quit(b);

    let mut files = Vec::new();
    let build = burrow_tests::binaries_dir().parent().map(Path::to_path_buf).unwrap_or_default();
    files_under(&profile, since, &build, &mut files);
    files_under(&std::env::temp_dir(), since, &build, &mut files);
    assert!(files.iter().any(|(path, _)| path.ends_with("crypto/store")), "the store is there");
    let fingerprint_bytes: Vec<u8> = (0..fingerprint.len()).step_by(2).map(|at| u8::from_str_radix(&fingerprint[at..at + 2], 16).unwrap()).collect();
    for (path, bytes) in &files {
        if path.starts_with(scratch.path().join("bob")) {
            continue;
        }
        for (what, needle) in [
            ("the message", marker.as_bytes()),
            ("the password", alice_password.as_bytes()),
            ("the passphrase", b"scanning passphrase".as_slice()),
            ("the account", alice.as_bytes()),
            ("the key's fingerprint", fingerprint_bytes.as_slice()),
            ("the imported key's x", x.as_slice()),
            ("the imported key's x in hex", hex_lower(&x).as_bytes()),
            ("the imported key's x in HEX", hex_lower(&x).to_uppercase().as_bytes()),
            ("the imported key's x in decimal", decimal(&x).as_bytes()),
        ] {
            assert!(!contains(bytes, needle), "{what} is in the clear in {}", path.display());
        }
    }
}

/// The first private key's x in a libotr key file, `(x #HEX#)`, as bytes (no leading zero).
fn fixture_x(file: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(file).expect("the fixture key file");
    let start = text.find("(x #").expect("an x in the key file") + "(x #".len();
    let hex = &text[start..start + text[start..].find('#').unwrap()];
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap()).collect();
    let first = bytes.iter().position(|byte| *byte != 0).unwrap_or(bytes.len());
    assert!(bytes.len() - first >= 16, "x is a real secret's length");
    bytes[first..].to_vec()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A big-endian magnitude in decimal, by long division (no bignum crate for one test).
fn decimal(bytes: &[u8]) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|byte| *byte != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 10) as u8;
            remainder = value % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap()
}

#[test]
fn decimal_of_a_magnitude() {
    assert_eq!(decimal(&[0x01, 0x00]), "256");
    assert_eq!(decimal(&[0xff, 0xff, 0xff, 0xff]), "4294967295");
    assert_eq!(decimal(&[0x3c, 0x03]), "15363");
}

#[test]
fn an_import_from_pidgin_brings_the_account_its_libotr_key_and_its_fingerprints() {
    let scratch = Scratch::new("store-import");
    let profile = scratch.path().join("profile");
    let pidgin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crypto-sandbox/tests/fixtures/import/pidgin");
    // libotr made that key; its fingerprint as libotr printed it.
    let libotr_keys = std::fs::read_to_string(pidgin.join("../libotr-keys.txt")).expect("the fixture's fingerprints");
    let expected = libotr_keys
        .lines()
        .find_map(|line| line.strip_prefix("KEY\tpidgin\talice@example.org/Pidgin\tprpl-jabber\t"))
        .expect("alice's key")
        .to_uppercase();
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock importing passphrase")["event"], "unlocked");
    burrow.send(&format!("/import pidgin {}", pidgin.display()));
    let imported = burrow.expect("the import's report", STEP, |event| event["event"] == "imported" || event["event"] == "error");
    assert_eq!(imported["event"], "imported", "{imported}");
    assert_eq!(imported["source"], "pidgin");
    assert_eq!(imported["accounts"], 1, "{imported}");
    assert_eq!(imported["keys"], 1, "{imported}");
    assert!(imported["fingerprints"].as_u64().unwrap() >= 1, "{imported}");
    assert_eq!(imported["bookmarks"], 2, "blist.xml's two XMPP rooms: {imported}");
    let skipped = imported["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(|why| why.as_str().unwrap().contains("prpl-aim")), "the AIM account is skipped, and why: {skipped:?}");
    let fingerprint = fingerprint_of(&mut burrow, "alice@example.org");
    assert_eq!(fingerprint.replace(' ', ""), expected, "the imported key is libotr's");
    quit(burrow);

    // It is in the store now: after a restart, the same key.
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock importing passphrase")["event"], "unlocked");
    listed(&mut burrow, "alice@example.org");
    assert_eq!(fingerprint_of(&mut burrow, "alice@example.org").replace(' ', ""), expected);
    // Importing again keeps what is there and says so.
    burrow.send(&format!("/import pidgin {}", pidgin.display()));
    let again = burrow.expect("the second report", STEP, |event| event["event"] == "imported");
    assert_eq!(again["accounts"], 0);
    assert_eq!(again["bookmarks"], 0, "the rooms are in the store since the first import: {again}");
    assert!(again["skipped"].as_array().unwrap().iter().any(|why| why.as_str().unwrap().contains("already in the store")), "{again}");
    burrow.send("/import gajim /nonexistent/directory");
    let missing = burrow.expect("the error", STEP, |event| event["event"] == "error");
    assert_eq!(missing["code"], "bad-file", "{missing}");
    quit(burrow);
}

/// Adium keeps no password (the macOS Keychain does): its account is not
/// added, but its libotr key and its contacts' trust are kept in the store,
/// and the account added later with /account add has that key.
#[test]
fn an_imported_account_without_a_password_keeps_its_otr_key_for_account_add() {
    let scratch = Scratch::new("store-kept");
    let profile = scratch.path().join("profile");
    let adium = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crypto-sandbox/tests/fixtures/import/adium");
    let libotr_keys = std::fs::read_to_string(adium.join("../libotr-keys.txt")).expect("the fixture's fingerprints");
    // Adium's libotr account name is its account number; number 1 is alice@example.org.
    let expected = libotr_keys.lines().find_map(|line| line.strip_prefix("KEY\tadium\t1\tlibpurple-Jabber\t")).expect("alice's key").to_uppercase();
    let mut burrow = start(&profile);
    burrow.send("/unlock keeping passphrase");
    let first = burrow.expect("the unlock's progress", STEP, |event| ["unlocking", "unlocked", "error"].contains(&event["event"].as_str().unwrap_or("")));
    assert_eq!(first["event"], "unlocking", "the UI is told the key is being derived before the store opens: {first}");
    burrow.expect_event("unlocked", STEP);
    burrow.send(&format!("/import adium {}", adium.display()));
    let imported = burrow.expect("the import's report", STEP, |event| event["event"] == "imported" || event["event"] == "error");
    assert_eq!(imported["event"], "imported", "{imported}");
    assert_eq!((imported["accounts"].as_u64(), imported["keys"].as_u64()), (Some(0), Some(0)), "{imported}");
    let kept = imported["kept"].as_array().expect("kept");
    assert!(
        kept.iter().any(|line| line.as_str().unwrap().contains("OTR key") && line.as_str().unwrap().contains("alice@example.org") && line.as_str().unwrap().contains("/account add")),
        "the key is kept for alice, and the report says how to use it: {imported}"
    );
    quit(burrow);

    // Kept across a restart; the account is added then, and its key is Adium's.
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock keeping passphrase")["event"], "unlocked");
    burrow.add_account("alice@example.org", "the-password-adium-never-saved", "server=127.0.0.1:9");
    assert_eq!(fingerprint_of(&mut burrow, "alice@example.org").replace(' ', ""), expected, "the imported key, not a new one");
    quit(burrow);
    let mut burrow = start(&profile);
    assert_eq!(unlock(&mut burrow, "/unlock keeping passphrase")["event"], "unlocked");
    assert_eq!(fingerprint_of(&mut burrow, "alice@example.org").replace(' ', ""), expected, "still that key after a restart");
    quit(burrow);
}
