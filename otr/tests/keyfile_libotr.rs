//! Our key, fingerprint and instance-tag file code against libotr itself:
//! a small C program (fixtures/make_libotr_files.c) linked with the system's
//! libotr makes the files, we read them, check our fingerprints against
//! libotr's, write them back byte for byte, and have libotr read what we
//! wrote, sign with the key it read, and verify our signatures.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use otr::dsa::fingerprint_human;
use otr::keyfile::{self, FingerprintEntry};
use otr::rng::SeededRng;

fn scratch_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("burrow-otr-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles the C helper, or fails saying what is missing.
fn build_helper(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make_libotr_files.c");
    let flags = Command::new("pkg-config").args(["--cflags", "--libs", "libotr", "libgcrypt"]).output();
    let flags = match flags {
        Ok(output) if output.status.success() => String::from_utf8(output.stdout).unwrap(),
        Ok(output) => panic!(
            "pkg-config does not know libotr/libgcrypt ({}); install libotr5-dev and libgcrypt20-dev",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => panic!("cannot run pkg-config ({error}); install pkg-config, libotr5-dev and libgcrypt20-dev"),
    };
    let binary = dir.join("make_libotr_files");
    let output = Command::new("cc")
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .args(flags.split_whitespace())
        .output()
        .unwrap_or_else(|error| panic!("cannot run cc ({error}); install a C compiler (build-essential)"));
    assert!(output.status.success(), "compiling the libotr helper failed:\n{}", String::from_utf8_lossy(&output.stderr));
    binary
}

fn run(binary: &Path, mode: &str, dir: &Path) -> Vec<Vec<String>> {
    let output = Command::new(binary).arg(mode).arg(dir).output().unwrap();
    assert!(output.status.success(), "libotr helper {mode} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(|line| line.split('\t').map(str::to_owned).collect()).collect()
}

fn lines_of<'a>(output: &'a [Vec<String>], kind: &str) -> Vec<&'a [String]> {
    output.iter().filter(|line| line[0] == kind).map(|line| &line[1..]).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|index| u8::from_str_radix(&text[index..index + 2], 16).unwrap()).collect()
}

#[test]
fn libotr_files_read_write_and_sign_across() {
    let work = scratch_dir("libotr");
    let helper = build_helper(&work);
    let made = work.join("made");
    std::fs::create_dir_all(&made).unwrap();
    let output = run(&helper, "make", &made);

    // Keys: the fingerprints we compute are the ones libotr printed.
    let key_file = std::fs::read(made.join("otr.private_key")).unwrap();
    let read = keyfile::read_private_keys(&key_file).unwrap();
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    assert_eq!(read.keys.len(), 2);
    let libotr_keys: BTreeSet<(String, String, String, String)> = lines_of(&output, "KEY")
        .iter()
        .map(|line| (line[0].clone(), line[1].clone(), line[2].clone(), line[3].clone()))
        .collect();
    let our_keys: BTreeSet<(String, String, String, String)> = read
        .keys
        .iter()
        .map(|entry| {
            let fingerprint = entry.key.public_key().fingerprint();
            (entry.account.clone(), entry.protocol.clone(), hex(&fingerprint), fingerprint_human(&fingerprint))
        })
        .collect();
    assert_eq!(our_keys, libotr_keys);

    // Fingerprints and instance tags: what libotr printed.
    let fingerprint_file = std::fs::read(made.join("otr.fingerprints")).unwrap();
    let fingerprints = keyfile::read_fingerprints(&fingerprint_file);
    let ours: BTreeSet<Vec<String>> = fingerprints
        .iter()
        .map(|entry| {
            vec![entry.peer.clone(), entry.account.clone(), entry.protocol.clone(), hex(&entry.fingerprint), entry.trust.clone()]
        })
        .collect();
    let theirs: BTreeSet<Vec<String>> = lines_of(&output, "FP").iter().map(|line| line.to_vec()).collect();
    assert_eq!(ours, theirs);
    assert!(fingerprints.iter().any(|entry| entry.trust == "smp"));
    assert!(fingerprints.iter().any(|entry| entry.trust.is_empty()));
    let tag_file = std::fs::read(made.join("otr.instance_tags")).unwrap();
    let tags = keyfile::read_instance_tags(&tag_file);
    let ours: BTreeSet<Vec<String>> =
        tags.iter().map(|(account, protocol, tag)| vec![account.clone(), protocol.clone(), format!("{tag:08x}")]).collect();
    let theirs: BTreeSet<Vec<String>> = lines_of(&output, "TAG").iter().map(|line| line.to_vec()).collect();
    assert_eq!(ours, theirs);

    // Our writers reproduce libotr's files byte for byte.
    assert_eq!(&*keyfile::write_private_keys(&read.keys).unwrap(), &key_file, "key file differs from libotr's");
    assert_eq!(keyfile::write_fingerprints(&fingerprints).unwrap().as_bytes(), fingerprint_file.as_slice());
    assert_eq!(keyfile::write_instance_tags(&tags).unwrap().as_bytes(), tag_file.as_slice());

    // libotr reads what we write. The fingerprint entries are our own this
    // time (a different peer, trust "verified"), to check the writer on
    // more than a copy.
    let ours_dir = work.join("ours");
    std::fs::create_dir_all(&ours_dir).unwrap();
    std::fs::write(ours_dir.join("otr.private_key"), &*keyfile::write_private_keys(&read.keys).unwrap()).unwrap();
    let mut entries = fingerprints.clone();
    entries.push(FingerprintEntry {
        peer: "dave@example.org".into(),
        account: "1".into(),
        protocol: "libpurple-Jabber".into(),
        fingerprint: [0x5a; 20],
        trust: "verified".into(),
    });
    std::fs::write(ours_dir.join("otr.fingerprints"), keyfile::write_fingerprints(&entries).unwrap()).unwrap();
    let new_tags = vec![
        ("alice@example.org/Burrow".to_owned(), "prpl-jabber".to_owned(), 0x100u32),
        ("1".to_owned(), "libpurple-Jabber".to_owned(), 0xffff_ffff),
    ];
    std::fs::write(ours_dir.join("otr.instance_tags"), keyfile::write_instance_tags(&new_tags).unwrap()).unwrap();
    // Our signatures, for libotr to verify; m's integer is far above q.
    let m: Vec<u8> = (0u8..32).map(|index| 0xff - index).collect();
    let mut rng = SeededRng::new(b"keyfile_libotr");
    let signatures: String = read
        .keys
        .iter()
        .map(|entry| format!("{}\t{}\t{}\t{}\n", entry.account, entry.protocol, hex(&m), hex(&entry.key.sign(&mut rng, &m))))
        .collect();
    std::fs::write(ours_dir.join("signatures"), signatures).unwrap();

    let output = run(&helper, "read", &ours_dir);
    let libotr_keys_again: BTreeSet<(String, String, String, String)> = lines_of(&output, "KEY")
        .iter()
        .map(|line| (line[0].clone(), line[1].clone(), line[2].clone(), line[3].clone()))
        .collect();
    assert_eq!(libotr_keys_again, our_keys);
    let theirs: BTreeSet<Vec<String>> = lines_of(&output, "FP").iter().map(|line| line.to_vec()).collect();
    let ours: BTreeSet<Vec<String>> = entries
        .iter()
        .map(|entry| {
            vec![entry.peer.clone(), entry.account.clone(), entry.protocol.clone(), hex(&entry.fingerprint), entry.trust.clone()]
        })
        .collect();
    assert_eq!(theirs, ours);
    let theirs: BTreeSet<Vec<String>> = lines_of(&output, "TAG").iter().map(|line| line.to_vec()).collect();
    let ours: BTreeSet<Vec<String>> =
        new_tags.iter().map(|(account, protocol, tag)| vec![account.clone(), protocol.clone(), format!("{tag:08x}")]).collect();
    assert_eq!(theirs, ours);

    // libotr accepts our signatures...
    let verdicts = lines_of(&output, "VERIFY");
    assert_eq!(verdicts.len(), 2);
    for verdict in &verdicts {
        assert_eq!(verdict[2], "ok", "libotr rejected our signature for {}", verdict[0]);
    }
    // ...and we accept libotr's, made with the key it read from our file.
    let libotr_signatures = lines_of(&output, "SIG");
    assert_eq!(libotr_signatures.len(), 2);
    for line in libotr_signatures {
        let entry = read.keys.iter().find(|entry| entry.account == line[0] && entry.protocol == line[1]).unwrap();
        let (m, signature) = (unhex(&line[2]), unhex(&line[3]));
        assert!(entry.key.public_key().verify(&m, &signature), "libotr's signature for {} does not verify", line[0]);
        let mut other = m.clone();
        other[31] ^= 1;
        assert!(!entry.key.public_key().verify(&other, &signature));
    }

    std::fs::remove_dir_all(&work).ok();
}

/// libotr's own test-suite key file (written by an older libgcrypt, with a
/// quoted q holding an escape and raw 8-bit bytes): our reader takes it,
/// each y is g^x, and our fingerprints are libotr's.
#[test]
fn libotr_test_suite_key_file() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr-test_suite-otr.private_key");
    let bytes = std::fs::read(&fixture).unwrap();
    let read = keyfile::read_private_keys(&bytes).unwrap();
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    let names: Vec<&str> = read.keys.iter().map(|entry| entry.account.as_str()).collect();
    assert_eq!(names, ["otrtest2", "otrtest1", "otrtest3"]);
    assert!(read.keys.iter().all(|entry| entry.protocol == "prpl-aim"));
    // from_components already refused any key whose y is not g^x; check it
    // once more here, independently, with num-bigint.
    for entry in &read.keys {
        let public = entry.key.public_key();
        let g = num_bigint::BigUint::from_bytes_be(public.g());
        let p = num_bigint::BigUint::from_bytes_be(public.p());
        let x = num_bigint::BigUint::from_bytes_be(&entry.key.x_bytes());
        assert_eq!(g.modpow(&x, &p).to_bytes_be(), public.y());
    }

    let work = scratch_dir("suite");
    let helper = build_helper(&work);
    let dir = work.join("suite");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&fixture, dir.join("otr.private_key")).unwrap();
    let output = run(&helper, "read", &dir);
    let theirs: BTreeSet<(String, String)> =
        lines_of(&output, "KEY").iter().map(|line| (line[0].clone(), line[2].clone())).collect();
    let ours: BTreeSet<(String, String)> =
        read.keys.iter().map(|entry| (entry.account.clone(), hex(&entry.key.public_key().fingerprint()))).collect();
    assert_eq!(ours, theirs);
    std::fs::remove_dir_all(&work).ok();
}

#[test]
fn libotr_test_suite_instance_tags() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr-test_suite-instance_tags0.txt")).unwrap();
    let tags = keyfile::read_instance_tags(&bytes);
    assert_eq!(
        tags,
        [
            ("otrtest1".to_owned(), "prpl-aim".to_owned(), 0x27e3_1597),
            ("otrtest2".to_owned(), "prpl-aim".to_owned(), 0x27e3_1598),
            ("otrtest3".to_owned(), "prpl-aim".to_owned(), 0x27e3_1599),
        ]
    );
}
