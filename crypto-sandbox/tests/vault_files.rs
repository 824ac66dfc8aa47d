//! The store's files: round trips, refusals, damage at every byte, backups,
//! passphrase changes, permissions, and no plaintext on disk.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crypto_sandbox::vault::contents::{AccountRecord, BookmarkRecord, FingerprintRecord, KeptImportRecord, OtrKeyRecord, PeerPolicyRecord, TrustRecord};
use crypto_sandbox::vault::file::{BACKUP, DAMAGED_PREFIX, STORE, TEMP_PREFIX};
use crypto_sandbox::vault::format::{FormatError, HEADER_LEN};
use crypto_sandbox::vault::{Contents, KdfParams, Vault, VaultError};

const PASS: &str = "correct horse battery staple";
const MARKER_PASSWORD: &str = "MARKER-PASSWORD-7f3a9c";
const MARKER_JID: &str = "marker-account-51d2@example.org";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let path = std::env::temp_dir().join(format!("burrow-vault-{name}-{hex}"));
        fs::create_dir(&path).unwrap();
        TempDir(path)
    }
    /// The vault's own directory, not yet created.
    fn vault(&self) -> PathBuf {
        self.0.join("crypto")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn full_contents(generation: u32) -> Contents {
    Contents {
        accounts: vec![
            AccountRecord {
                jid: MARKER_JID.into(),
                password: MARKER_PASSWORD.into(),
                server: Some(("xmpp.example.org".into(), 5222)),
                onion: Some(("2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion".into(), 5222)),
                transport: "starttls".into(),
                tor: "auto".into(),
                spki_pin: Some("sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()),
                extra_anchors_pem: Some(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec()),
                otr_policy: "require".into(),
                otr_allow_v2: true,
                allow_plain: false,
            },
            AccountRecord {
                jid: "second@example.net".into(),
                password: "ünïcödé pässwörd".into(),
                server: None,
                onion: None,
                transport: "direct".into(),
                tor: "embedded".into(),
                spki_pin: None,
                extra_anchors_pem: None,
                otr_policy: "opportunistic".into(),
                otr_allow_v2: false,
                allow_plain: true,
            },
        ],
        otr_keys: vec![OtrKeyRecord {
            account: MARKER_JID.into(),
            p: vec![0xc3; 128],
            q: vec![0x9a; 20],
            g: vec![0x02; 128],
            y: vec![0x5e; 128],
            x: vec![0x11; 20],
            instance_tag: 0x1234_5678,
        }],
        fingerprints: vec![
            FingerprintRecord { account: MARKER_JID.into(), peer: "alice@example.org".into(), fingerprint: [1; 20], trust: TrustRecord::Unverified },
            FingerprintRecord { account: MARKER_JID.into(), peer: "bob@example.org".into(), fingerprint: [2; 20], trust: TrustRecord::VerifiedBySmp },
            FingerprintRecord { account: "second@example.net".into(), peer: "carol@example.org".into(), fingerprint: [3; 20], trust: TrustRecord::VerifiedByHand },
        ],
        peer_policies: vec![PeerPolicyRecord { account: MARKER_JID.into(), peer: "bob@example.org".into(), policy: "manual".into(), allow_v2: false }],
        bookmarks: vec![
            BookmarkRecord { account: MARKER_JID.into(), room: "room@conference.example.org".into(), nick: Some("me".into()), autojoin: true },
            BookmarkRecord { account: "second@example.net".into(), room: "other@muc.example.net".into(), nick: None, autojoin: false },
        ],
        preferences: vec![("theme".into(), "dark".into()), ("generation".into(), generation.to_string())],
        kept_imports: vec![KeptImportRecord {
            jid: "waiting@example.org".into(),
            source: "adium".into(),
            otr_key: Some(OtrKeyRecord { account: "waiting@example.org".into(), p: vec![0xc5; 128], q: vec![0x9b; 20], g: vec![0x02; 128], y: vec![0x5f; 128], x: vec![0x12; 20], instance_tag: 0 }),
            fingerprints: vec![FingerprintRecord { account: "waiting@example.org".into(), peer: "dave@example.org".into(), fingerprint: [4; 20], trust: TrustRecord::VerifiedByHand }],
            peer_policies: vec![PeerPolicyRecord { account: "waiting@example.org".into(), peer: "dave@example.org".into(), policy: "require".into(), allow_v2: true }],
            otr_policy: Some("manual".into()),
            bookmarks: vec![BookmarkRecord { account: "waiting@example.org".into(), room: "desk@conference.example.org".into(), nick: None, autojoin: false }],
        }],
    }
}

fn small() -> Contents {
    let mut contents = Contents::default();
    contents.preferences.push(("k".into(), "v".into()));
    contents
}

/// Every file in the directory: name → (bytes, mtime).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, SystemTime)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            (entry.file_name().into_string().unwrap(), fs::read(entry.path()).unwrap(), meta.modified().unwrap())
        })
        .collect();
    files.sort();
    files
}

fn names(dir: &Path) -> Vec<String> {
    snapshot(dir).into_iter().map(|(name, _, _)| name).collect()
}

#[test]
fn round_trip_of_full_contents() {
    let tmp = TempDir::new("round-trip");
    let dir = tmp.vault();
    assert!(!Vault::exists(&dir));
    let contents = full_contents(1);
    let vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &contents).unwrap();
    assert!(!vault.has_no_passphrase());
    assert!(Vault::exists(&dir));
    assert!(Vault::has_passphrase(&dir).unwrap());
    drop(vault);
    let (mut vault, opened) = Vault::open(&dir, PASS).unwrap();
    assert_eq!(opened, contents);
    let next = full_contents(2);
    vault.save(&next).unwrap();
    let (_, opened) = Vault::open(&dir, PASS).unwrap();
    assert_eq!(opened, next);
    let (_, backup) = Vault::open_backup(&dir, PASS).unwrap();
    assert_eq!(backup, contents, "the backup is the previous generation");
    assert_eq!(names(&dir), vec![STORE.to_string(), BACKUP.to_string()]);
    // Debug of the vault shows no key.
    let debug = format!("{vault:?}");
    assert!(debug.starts_with("Vault {") && debug.ends_with(".. }") && !debug.contains("key:"), "{debug}");
}

#[test]
fn every_save_has_a_fresh_nonce() {
    let tmp = TempDir::new("nonce");
    let dir = tmp.vault();
    let mut vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    let first = fs::read(dir.join(STORE)).unwrap();
    vault.save(&small()).unwrap();
    let second = fs::read(dir.join(STORE)).unwrap();
    assert_eq!(first[33..49], second[33..49], "same salt");
    assert_ne!(first[49..61], second[49..61], "new nonce");
    assert_ne!(first[HEADER_LEN..], second[HEADER_LEN..]);
}

#[test]
fn create_refuses_an_existing_store_or_backup() {
    let tmp = TempDir::new("exists");
    let dir = tmp.vault();
    Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    let before = snapshot(&dir);
    assert!(matches!(Vault::create(&dir, "other", KdfParams::for_tests(), &small()), Err(VaultError::AlreadyExists { .. })));
    assert!(matches!(Vault::create_without_passphrase(&dir, &small()), Err(VaultError::AlreadyExists { .. })));
    fs::rename(dir.join(STORE), dir.join(BACKUP)).unwrap();
    assert!(Vault::exists(&dir));
    assert!(matches!(Vault::create(&dir, "other", KdfParams::for_tests(), &small()), Err(VaultError::AlreadyExists { .. })));
    fs::rename(dir.join(BACKUP), dir.join(STORE)).unwrap();
    assert_eq!(snapshot(&dir), before);
    assert!(matches!(Vault::create(&dir, "", KdfParams::for_tests(), &small()), Err(VaultError::EmptyPassphrase)));
}

#[test]
fn wrong_passphrase_changes_nothing() {
    let tmp = TempDir::new("wrong");
    let dir = tmp.vault();
    let mut vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    vault.save(&full_contents(1)).unwrap();
    let before = snapshot(&dir);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let error = Vault::open(&dir, "not the passphrase").unwrap_err();
    match &error {
        VaultError::CannotOpen { problem: FormatError::WrongPassphraseOrDamaged, backup_available: false } => {}
        other => panic!("{other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("wrong passphrase") && message.contains("backup"), "{message}");
    assert!(!message.contains("not the passphrase"));
    assert!(Vault::open_backup(&dir, "not the passphrase").is_err());
    assert!(Vault::open(&dir, "").is_err());
    assert_eq!(snapshot(&dir), before, "bytes and mtimes unchanged");
}

#[test]
fn a_flipped_bit_at_every_byte_is_detected() {
    let tmp = TempDir::new("bitflip");
    let dir = tmp.vault();
    Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    let good = fs::read(dir.join(STORE)).unwrap();
    let store = dir.join(STORE);
    // The low bit and the high bit of every byte (the high bit of the
    // memory cost's second byte asks for 8 GiB, refused before any work).
    for position in 0..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = good.clone();
            bad[position] ^= bit;
            fs::write(&store, &bad).unwrap();
            match Vault::open(&dir, PASS) {
                Err(_) => {}
                Ok((_, contents)) => panic!("byte {position} bit {bit:#x}: opened as {contents:?}"),
            }
        }
    }
    // Every bit of every header byte, parsed only (some ask for gigabytes).
    for position in 0..HEADER_LEN {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[position] ^= 1 << bit;
            if let Ok(parsed) = crypto_sandbox::vault::format::Parsed::parse(&bad) {
                let original = crypto_sandbox::vault::format::Parsed::parse(&good).unwrap();
                assert_ne!(parsed.header, original.header, "byte {position} bit {bit}");
            }
        }
    }
    fs::write(&store, &good).unwrap();
    assert_eq!(Vault::open(&dir, PASS).unwrap().1, small());
}

#[test]
fn truncation_at_every_length_is_detected() {
    let tmp = TempDir::new("truncate");
    let dir = tmp.vault();
    Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    let good = fs::read(dir.join(STORE)).unwrap();
    for len in 0..good.len() {
        fs::write(dir.join(STORE), &good[..len]).unwrap();
        match Vault::open(&dir, PASS) {
            Err(VaultError::CannotOpen { problem: FormatError::Truncated, backup_available: false }) => {}
            Err(VaultError::CannotOpen { problem: FormatError::NotAStore, .. }) if len == 0 => panic!("empty file should be Truncated"),
            other => panic!("length {len}: {other:?}"),
        }
    }
    let mut longer = good.clone();
    longer.extend_from_slice(b"extra");
    fs::write(dir.join(STORE), &longer).unwrap();
    assert!(matches!(Vault::open(&dir, PASS), Err(VaultError::CannotOpen { problem: FormatError::Damaged { .. }, .. })));
}

#[test]
fn other_format_versions_and_other_files() {
    let tmp = TempDir::new("versions");
    let dir = tmp.vault();
    Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    let good = fs::read(dir.join(STORE)).unwrap();
    for version in [0u16, 2, 0xffff] {
        let mut other = good.clone();
        other[13..15].copy_from_slice(&version.to_be_bytes());
        fs::write(dir.join(STORE), &other).unwrap();
        match Vault::open(&dir, PASS) {
            Err(VaultError::CannotOpen { problem: FormatError::UnsupportedVersion { found }, .. }) => assert_eq!(found, version),
            other => panic!("{other:?}"),
        }
    }
    fs::write(dir.join(STORE), b"<?xml version='1.0'?><not-a-store/>").unwrap();
    assert!(matches!(Vault::open(&dir, PASS), Err(VaultError::CannotOpen { problem: FormatError::NotAStore, .. })));
}

#[test]
fn absurd_argon2_parameters_are_refused_before_any_work() {
    let tmp = TempDir::new("absurd");
    let dir = tmp.vault();
    Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    let good = fs::read(dir.join(STORE)).unwrap();
    for (at, value) in [(17usize, u32::MAX), (17, 4 * 1024 * 1024 + 1), (21, 101), (21, u32::MAX), (25, 0), (25, 1 << 20)] {
        let mut absurd = good.clone();
        absurd[at..at + 4].copy_from_slice(&value.to_be_bytes());
        fs::write(dir.join(STORE), &absurd).unwrap();
        let start = std::time::Instant::now();
        match Vault::open(&dir, PASS) {
            Err(VaultError::CannotOpen { problem: FormatError::ParametersOutOfRange { .. }, .. }) => {}
            other => panic!("offset {at} value {value}: {other:?}"),
        }
        assert!(start.elapsed() < std::time::Duration::from_millis(500), "refused quickly");
    }
    assert!(matches!(
        Vault::create(&tmp.0.join("other"), PASS, KdfParams { m_cost_kib: u32::MAX, t_cost: 1, p_cost: 1 }, &small()),
        Err(VaultError::Kdf(_))
    ));
}

#[test]
fn the_backup_is_kept_and_opened_only_on_request() {
    let tmp = TempDir::new("backup");
    let dir = tmp.vault();
    let mut vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &full_contents(1)).unwrap();
    vault.save(&full_contents(2)).unwrap();
    drop(vault);

    // A damaged store: the error says the backup opens; nothing is written.
    let good = fs::read(dir.join(STORE)).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    fs::write(dir.join(STORE), &bad).unwrap();
    let before = snapshot(&dir);
    let error = Vault::open(&dir, PASS).unwrap_err();
    assert!(error.backup_available(), "{error:?}");
    assert!(error.to_string().contains("backup"));
    assert_eq!(snapshot(&dir), before);

    // The user opens the backup: the previous generation; saving sets the
    // damaged store aside and keeps the backup.
    let (mut vault, contents) = Vault::open_backup(&dir, PASS).unwrap();
    assert_eq!(contents, full_contents(1));
    assert_eq!(snapshot(&dir), before, "opening the backup writes nothing");
    vault.save(&full_contents(3)).unwrap();
    let after = names(&dir);
    let damaged: Vec<_> = after.iter().filter(|name| name.starts_with(DAMAGED_PREFIX)).collect();
    assert_eq!(damaged.len(), 1, "{after:?}");
    assert_eq!(fs::read(dir.join(damaged[0])).unwrap(), bad, "the damaged store kept as it was");
    assert_eq!(Vault::open(&dir, PASS).unwrap().1, full_contents(3));
    assert_eq!(Vault::open_backup(&dir, PASS).unwrap().1, full_contents(1));
    // From then on, saves rotate as usual.
    vault.save(&full_contents(4)).unwrap();
    assert_eq!(Vault::open_backup(&dir, PASS).unwrap().1, full_contents(3));

    // A missing store with a backup: told, not opened.
    fs::remove_file(dir.join(STORE)).unwrap();
    let error = Vault::open(&dir, PASS).unwrap_err();
    assert!(matches!(error, VaultError::StoreMissing { .. }), "{error:?}");
    assert!(error.backup_available());
    assert_eq!(Vault::open_backup(&dir, PASS).unwrap().1, full_contents(3));

    // Neither: not found.
    fs::remove_file(dir.join(BACKUP)).unwrap();
    assert!(matches!(Vault::open(&dir, PASS), Err(VaultError::NotFound { .. })));
    assert!(matches!(Vault::open_backup(&dir, PASS), Err(VaultError::NoBackup { .. })));
    assert!(matches!(Vault::open(&tmp.0.join("nowhere"), PASS), Err(VaultError::NotFound { .. })));
}

#[test]
fn change_passphrase() {
    let tmp = TempDir::new("change");
    let dir = tmp.vault();
    let mut vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &full_contents(1)).unwrap();
    let old_salt = fs::read(dir.join(STORE)).unwrap()[33..49].to_vec();
    vault.change_passphrase("a new passphrase", &full_contents(2)).unwrap();
    let new_salt = fs::read(dir.join(STORE)).unwrap()[33..49].to_vec();
    assert_ne!(old_salt, new_salt, "fresh salt");
    assert_eq!(vault.kdf_params(), KdfParams::for_tests());
    let error = Vault::open(&dir, PASS).unwrap_err();
    // The old passphrase still opens the backup (the previous generation).
    assert!(matches!(error, VaultError::CannotOpen { problem: FormatError::WrongPassphraseOrDamaged, backup_available: true }), "{error:?}");
    assert_eq!(Vault::open(&dir, "a new passphrase").unwrap().1, full_contents(2));
    // Saving keeps the new key.
    vault.save(&full_contents(3)).unwrap();
    assert_eq!(Vault::open(&dir, "a new passphrase").unwrap().1, full_contents(3));
    assert!(matches!(Vault::open(&dir, PASS), Err(VaultError::CannotOpen { backup_available: false, .. })));
    assert!(matches!(vault.change_passphrase("", &full_contents(3)), Err(VaultError::EmptyPassphrase)));
}

#[test]
fn a_store_without_passphrase() {
    let tmp = TempDir::new("nopass");
    let dir = tmp.vault();
    let mut vault = Vault::create_without_passphrase(&dir, &full_contents(1)).unwrap();
    assert!(vault.has_no_passphrase());
    assert!(!Vault::has_passphrase(&dir).unwrap());
    assert_eq!(fs::read(dir.join(STORE)).unwrap()[15], 0x01, "the header says so");
    // Opening with a passphrase refuses it: a planted passphrase-less file is
    // never taken for the user's store.
    assert!(matches!(Vault::open(&dir, PASS), Err(VaultError::HasNoPassphrase)));
    let (_, contents) = Vault::open_without_passphrase(&dir).unwrap();
    assert_eq!(contents, full_contents(1));
    vault.save(&full_contents(2)).unwrap();
    assert_eq!(Vault::open_backup_without_passphrase(&dir).unwrap().1, full_contents(1));
    // Setting a passphrase later.
    vault.change_passphrase_with(PASS, KdfParams::for_tests(), &full_contents(3)).unwrap();
    assert!(!vault.has_no_passphrase());
    assert!(matches!(Vault::open_without_passphrase(&dir), Err(VaultError::NeedsPassphrase)));
    assert_eq!(Vault::open(&dir, PASS).unwrap().1, full_contents(3));
    // Flipping the flag of a passphrase store does not open it either way.
    let mut flipped = fs::read(dir.join(STORE)).unwrap();
    flipped[15] ^= 0x01;
    fs::write(dir.join(STORE), &flipped).unwrap();
    assert!(Vault::open_without_passphrase(&dir).is_err());
    assert!(Vault::open(&dir, PASS).is_err());
}

#[test]
fn files_are_0600_and_the_directory_0700() {
    let tmp = TempDir::new("modes");
    let dir = tmp.vault();
    let mut vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    vault.save(&small()).unwrap();
    assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for name in [STORE, BACKUP] {
        assert_eq!(fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777, 0o600, "{name}");
    }
}

#[test]
fn leftover_temps_are_removed_on_the_next_save() {
    let tmp = TempDir::new("leftover");
    let dir = tmp.vault();
    let mut vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &small()).unwrap();
    fs::write(dir.join(format!("{TEMP_PREFIX}-1-deadbeef")), b"half a store").unwrap();
    fs::write(dir.join(format!("{TEMP_PREFIX}-2-cafe")), b"").unwrap();
    // A failed open leaves them.
    assert!(Vault::open(&dir, "wrong").is_err());
    assert_eq!(names(&dir).len(), 3);
    vault.save(&small()).unwrap();
    assert_eq!(names(&dir), vec![STORE.to_string(), BACKUP.to_string()]);
}

#[test]
fn no_plaintext_on_disk_after_a_session() {
    let tmp = TempDir::new("plaintext");
    let dir = tmp.vault();
    let mut vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &full_contents(1)).unwrap();
    for generation in 2..6 {
        vault.save(&full_contents(generation)).unwrap();
    }
    vault.change_passphrase("another passphrase", &full_contents(6)).unwrap();
    drop(vault);
    let (mut vault, _) = Vault::open(&dir, "another passphrase").unwrap();
    vault.save(&full_contents(7)).unwrap();
    let _ = Vault::open(&dir, "wrong");
    let (mut vault, _) = Vault::open_backup(&dir, "another passphrase").unwrap();
    vault.save(&full_contents(8)).unwrap();
    drop(vault);
    Vault::create_without_passphrase(&tmp.0.join("nopass"), &full_contents(9)).unwrap();

    let mut scanned = 0;
    for root in [dir.clone(), tmp.0.join("nopass")] {
        for entry in fs::read_dir(&root).unwrap() {
            let bytes = fs::read(entry.unwrap().path()).unwrap();
            scanned += 1;
            for marker in [MARKER_PASSWORD, MARKER_JID, PASS, "another passphrase", "xmpp.example.org", "dark"] {
                assert!(!bytes.windows(marker.len()).any(|window| window == marker.as_bytes()), "{marker} found on disk");
            }
            // The OTR secret key (20 bytes of 0x11) does not appear either.
            assert!(!bytes.windows(20).any(|window| window == [0x11; 20]));
        }
    }
    assert!(scanned >= 3);
}
