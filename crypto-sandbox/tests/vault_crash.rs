//! The store under SIGKILL in the middle of writes, and on a full disk.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crypto_sandbox::vault::file::{STORE, TEMP_PREFIX};
use crypto_sandbox::vault::{Contents, KdfParams, Vault, VaultError};

const PASS: &str = "kill me softly";
const WRITER_DIR: &str = "BURROW_VAULT_WRITER_DIR";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("burrow-vault-{name}-{}-{:08x}", std::process::id(), random_u32()));
        fs::create_dir(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).unwrap();
    u32::from_le_bytes(bytes)
}

/// Generation `n`: a few kilobytes, with `n` in it, so that every generation
/// is recognisable and a mix of two would not decode as either.
fn generation(n: u64) -> Contents {
    let mut contents = Contents::default();
    contents.preferences.push(("generation".into(), n.to_string()));
    for i in 0..40 {
        contents.preferences.push((format!("key-{i}"), format!("value {i} of generation {n} {}", "x".repeat(64))));
    }
    contents
}

fn generation_of(contents: &Contents) -> u64 {
    let n: u64 = contents.preferences[0].1.parse().unwrap();
    assert_eq!(*contents, generation(n), "a whole generation, not a mixture");
    n
}

/// Opens the store, or the backup if (and only if) the store's error says a
/// backup is there. Never neither.
fn open_or_backup(dir: &Path) -> (Vault, Contents, bool) {
    match Vault::open(dir, PASS) {
        Ok((vault, contents)) => (vault, contents, false),
        Err(error) if error.backup_available() => match Vault::open_backup(dir, PASS) {
            Ok((vault, contents)) => (vault, contents, true),
            Err(backup_error) => panic!("the store failed ({error}) and so did the backup ({backup_error})"),
        },
        Err(error) => panic!("the store failed with no backup offered: {error:?}"),
    }
}

/// The child of `kill_9_during_writes`: saves generation after generation
/// until it is killed. Ignored, so that it runs only when re-executed.
#[test]
#[ignore = "helper process of kill_9_during_writes"]
fn writer_helper() {
    let Some(dir) = std::env::var_os(WRITER_DIR) else { return };
    let dir = PathBuf::from(dir);
    let (mut vault, contents, _) = open_or_backup(&dir);
    let mut n = generation_of(&contents);
    loop {
        n += 1;
        vault.save(&generation(n)).unwrap();
    }
}

#[test]
fn kill_9_during_writes() {
    let tmp = TempDir::new("kill");
    let dir = tmp.0.join("crypto");
    Vault::create(&dir, PASS, KdfParams::for_tests(), &generation(0)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut last = 0;
    let mut backups_opened = 0;
    for round in 0..30 {
        let mut child = Command::new(&exe)
            .args(["--exact", "writer_helper", "--ignored", "--nocapture", "--test-threads=1"])
            .env(WRITER_DIR, &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Start-up takes some milliseconds; then each save is a few.
        std::thread::sleep(Duration::from_millis(20 + u64::from(random_u32() % 120)));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "round {round}: the writer ended by itself: {status:?}");

        let (_, contents, from_backup) = open_or_backup(&dir);
        let n = generation_of(&contents);
        backups_opened += usize::from(from_backup);
        // The store holds the newest complete generation, or the one before
        // (the backup, or the store if the new one never got renamed in).
        assert!(n + 1 >= last, "round {round}: generation {n} after {last}");
        last = last.max(n);
    }
    eprintln!("kill -9: 30 rounds, last generation {last}, backup needed {backups_opened} times");
    assert!(last > 30, "the writer made progress ({last} generations)");
    // A save from the parent removes whatever temps the kills left.
    let (mut vault, _, _) = open_or_backup(&dir);
    vault.save(&generation(last + 1)).unwrap();
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(generation_of(&Vault::open(&dir, PASS).unwrap().1), last + 1);
}

/// A tmpfs of 64 KiB mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: PathBuf) -> Tmpfs {
        fs::create_dir_all(&path).unwrap();
        let output = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"]).arg(&path).output();
        match output {
            Ok(output) if output.status.success() => Tmpfs(path),
            Ok(output) => panic!(
                "the full-disk test needs a small tmpfs and could not mount one (it must run as root, with mount allowed): `mount -t tmpfs` said: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(error) => panic!("the full-disk test needs a small tmpfs and could not run `mount`: {error}"),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk() {
    let tmp = TempDir::new("full");
    let disk = Tmpfs::mount(tmp.0.join("disk"));
    let dir = disk.0.join("crypto");
    let mut vault = Vault::create(&dir, PASS, KdfParams::for_tests(), &generation(1)).unwrap();
    vault.save(&generation(2)).unwrap();
    let before = fs::read(dir.join(STORE)).unwrap();

    // Fill the disk.
    let mut filler = fs::File::create(disk.0.join("filler")).unwrap();
    let block = vec![0xaau8; 4096];
    loop {
        use std::io::Write;
        match filler.write_all(&block).and_then(|()| filler.sync_all()) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(error) => panic!("filling the disk: {error}"),
        }
    }
    drop(filler);

    let error = vault.save(&generation(3)).unwrap_err();
    assert!(matches!(error, VaultError::NoSpace { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("disk is full") && message.contains("intact"), "{message}");
    assert_eq!(fs::read(dir.join(STORE)).unwrap(), before, "the store is untouched");
    assert_eq!(Vault::open(&dir, PASS).unwrap().1, generation(2));
    let temps: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().starts_with(TEMP_PREFIX)).collect();
    assert!(temps.is_empty(), "the failed temp is removed: {temps:?}");

    // Space again: saving works.
    fs::remove_file(disk.0.join("filler")).unwrap();
    vault.save(&generation(3)).unwrap();
    assert_eq!(Vault::open(&dir, PASS).unwrap().1, generation(3));
}
