//! The store's files in its directory, and the safe-write sequence.
//!
//! Every call is relative to a descriptor of the directory and goes through
//! rustix, so that exactly the system calls of the crypto process's seccomp
//! list are used (`openat`, `newfstatat`/`statx`, `getdents64`, `mkdirat`,
//! `unlinkat`, `renameat2`, `fsync`): std's `rename`, `remove_file` and
//! `create_dir` call `rename`, `unlink` and `mkdir` on x86-64, which that
//! list does not allow. Nothing is ever chmod-ed: files are created 0600 and
//! the directory 0700.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, CWD};

use super::contents::Contents;
use super::format::{self, FormatError, Header, Parsed, MAX_FILE_LEN, NONCE_LEN, SALT_LEN};
use super::kdf::{self, KdfError, KdfParams, Key};

/// The current generation.
pub const STORE: &str = "store";
/// The generation before it.
pub const BACKUP: &str = "store.bak";
/// Temporary files: ciphertext being written, renamed to `store` when complete.
pub const TEMP_PREFIX: &str = "store.tmp";
/// A store that did not open, set aside when the user saved over it from the backup.
pub const DAMAGED_PREFIX: &str = "store.damaged-";

/// Why the store did not open or was not written. No variant holds a
/// secret, a passphrase or a byte of the file.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("there is no store in {}", dir.display())]
    NotFound { dir: PathBuf },
    #[error("there is no backup of the store in {}", dir.display())]
    NoBackup { dir: PathBuf },
    #[error("a store already exists in {}; it is never overwritten", dir.display())]
    AlreadyExists { dir: PathBuf },
    #[error("the store file in {} is missing, but a backup of the previous version exists and can be opened instead", dir.display())]
    StoreMissing { dir: PathBuf },
    #[error("{problem}{}", if *backup_available { ". A backup of the previous version opens with this passphrase and can be opened instead" } else { "" })]
    CannotOpen { problem: FormatError, backup_available: bool },
    #[error("this store has no passphrase: open it without one")]
    HasNoPassphrase,
    #[error("this store is protected by a passphrase")]
    NeedsPassphrase,
    #[error("the passphrase is empty; to keep a store without a passphrase, create it without one")]
    EmptyPassphrase,
    #[error("the disk is full ({action} failed); the store was not changed and the previous version is intact")]
    NoSpace { action: &'static str },
    #[error("{action} in {}: {source}", dir.display())]
    Io { action: &'static str, dir: PathBuf, source: io::Error },
    #[error(transparent)]
    Kdf(#[from] KdfError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("no random numbers from the system: {0}")]
    Random(getrandom::Error),
}

impl VaultError {
    /// Whether the UI should offer [`Vault::open_backup`].
    pub fn backup_available(&self) -> bool {
        matches!(self, VaultError::StoreMissing { .. } | VaultError::CannotOpen { backup_available: true, .. })
    }
}

fn io_error(action: &'static str, dir: &Path, source: io::Error) -> VaultError {
    match source.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => VaultError::NoSpace { action },
        _ => VaultError::Io { action, dir: dir.to_path_buf(), source },
    }
}

fn errno<'a>(action: &'static str, dir: &'a Path) -> impl Fn(rustix::io::Errno) -> VaultError + 'a {
    move |error| io_error(action, dir, io::Error::from(error))
}

fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(VaultError::Random)?;
    Ok(out)
}

/// An open store: its directory and the key, kept to write new generations.
pub struct Vault {
    dir: PathBuf,
    dirfd: OwnedFd,
    key: Key,
    no_passphrase: bool,
    kdf: KdfParams,
    salt: [u8; SALT_LEN],
    /// Opened from the backup: the next save sets the store that failed
    /// aside (`store.damaged-TIME`) rather than making it the backup.
    from_backup: bool,
}

impl fmt::Debug for Vault {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Vault")
            .field("dir", &self.dir)
            .field("no_passphrase", &self.no_passphrase)
            .field("kdf", &self.kdf)
            .field("from_backup", &self.from_backup)
            .finish_non_exhaustive()
    }
}

/// One file's attempt to open. Short-lived and never in a collection, so its
/// size does not matter, and unboxed the contents move straight to the caller.
#[allow(clippy::large_enum_variant)]
enum Attempt {
    Missing,
    Failed(FormatError),
    Opened { header: Header, key: Key, contents: Contents },
}

impl Vault {
    /// Whether a store (or its backup) is in `dir`: if so, never create one there.
    pub fn exists(dir: &Path) -> bool {
        [STORE, BACKUP].iter().any(|name| std::fs::symlink_metadata(dir.join(name)).is_ok())
    }

    /// Whether the store in `dir` (or, if it is missing, its backup) asks
    /// for a passphrase. Reads the header only.
    pub fn has_passphrase(dir: &Path) -> Result<bool, VaultError> {
        let dirfd = open_dir(dir)?;
        for name in [STORE, BACKUP] {
            if let Some(bytes) = read_file(&dirfd, dir, name)? {
                let parsed = Parsed::parse(&bytes).map_err(|problem| VaultError::CannotOpen { problem, backup_available: false })?;
                return Ok(!parsed.header.no_passphrase);
            }
        }
        Err(VaultError::NotFound { dir: dir.to_path_buf() })
    }

    /// Creates the directory (0700) if it is missing and a new store in it,
    /// protected by `passphrase`. Refuses if a store or a backup is there.
    pub fn create(dir: &Path, passphrase: &str, params: KdfParams, contents: &Contents) -> Result<Vault, VaultError> {
        if passphrase.is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        Self::create_inner(dir, Some(passphrase), params, contents)
    }

    /// Creates a store without a passphrase: its key is derived from the
    /// empty string, so anyone who can read the file can read the store.
    /// The header says so; the caller must warn the user.
    pub fn create_without_passphrase(dir: &Path, contents: &Contents) -> Result<Vault, VaultError> {
        Self::create_inner(dir, None, KdfParams::no_passphrase(), contents)
    }

    fn create_inner(dir: &Path, passphrase: Option<&str>, params: KdfParams, contents: &Contents) -> Result<Vault, VaultError> {
        params.check().map_err(KdfError::from)?;
        match rustix::fs::mkdirat(CWD, dir, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(error) => return Err(errno("creating the store's directory", dir)(error)),
        }
        let dirfd = open_dir(dir)?;
        for name in [STORE, BACKUP] {
            if file_exists(&dirfd, dir, name)? {
                return Err(VaultError::AlreadyExists { dir: dir.to_path_buf() });
            }
        }
        let salt = random::<SALT_LEN>()?;
        let key = kdf::derive_key(passphrase.unwrap_or(""), &salt, &params)?;
        let mut vault = Vault { dir: dir.to_path_buf(), dirfd, key, no_passphrase: passphrase.is_none(), kdf: params, salt, from_backup: false };
        vault.save(contents)?;
        Ok(vault)
    }

    /// Opens the store in `dir`. Never opens the backup by itself: if the
    /// store is missing or fails and a backup exists (or opens with this
    /// passphrase), the error says so ([`VaultError::backup_available`]) and
    /// the UI may offer [`Vault::open_backup`]. Nothing is written.
    pub fn open(dir: &Path, passphrase: &str) -> Result<(Vault, Contents), VaultError> {
        Self::open_inner(dir, Some(passphrase))
    }

    /// Opens a store created without a passphrase (and refuses one that has
    /// a passphrase).
    pub fn open_without_passphrase(dir: &Path) -> Result<(Vault, Contents), VaultError> {
        Self::open_inner(dir, None)
    }

    /// Opens the previous generation, `store.bak`, at the user's request.
    /// The next save keeps the backup and sets the failed store aside as
    /// `store.damaged-UNIXTIME`.
    pub fn open_backup(dir: &Path, passphrase: &str) -> Result<(Vault, Contents), VaultError> {
        Self::open_backup_inner(dir, Some(passphrase))
    }

    /// [`Vault::open_backup`] for a store without a passphrase.
    pub fn open_backup_without_passphrase(dir: &Path) -> Result<(Vault, Contents), VaultError> {
        Self::open_backup_inner(dir, None)
    }

    fn open_inner(dir: &Path, passphrase: Option<&str>) -> Result<(Vault, Contents), VaultError> {
        let dirfd = open_dir(dir)?;
        let mut derived = None;
        match attempt(&dirfd, dir, STORE, passphrase, &mut derived)? {
            Attempt::Opened { header, key, contents } => Ok((Vault::opened(dir, dirfd, header, key, false), contents)),
            Attempt::Missing => {
                if file_exists(&dirfd, dir, BACKUP)? {
                    Err(VaultError::StoreMissing { dir: dir.to_path_buf() })
                } else {
                    Err(VaultError::NotFound { dir: dir.to_path_buf() })
                }
            }
            Attempt::Failed(problem) => {
                let backup_available = matches!(attempt(&dirfd, dir, BACKUP, passphrase, &mut derived), Ok(Attempt::Opened { .. }));
                Err(VaultError::CannotOpen { problem, backup_available })
            }
        }
    }

    fn open_backup_inner(dir: &Path, passphrase: Option<&str>) -> Result<(Vault, Contents), VaultError> {
        let dirfd = open_dir(dir)?;
        match attempt(&dirfd, dir, BACKUP, passphrase, &mut None)? {
            Attempt::Opened { header, key, contents } => Ok((Vault::opened(dir, dirfd, header, key, true), contents)),
            Attempt::Missing => Err(VaultError::NoBackup { dir: dir.to_path_buf() }),
            Attempt::Failed(problem) => Err(VaultError::CannotOpen { problem, backup_available: false }),
        }
    }

    fn opened(dir: &Path, dirfd: OwnedFd, header: Header, key: Key, from_backup: bool) -> Vault {
        Vault { dir: dir.to_path_buf(), dirfd, key, no_passphrase: header.no_passphrase, kdf: header.kdf, salt: header.salt, from_backup }
    }

    /// Whether this store has no passphrase (the UI should warn).
    pub fn has_no_passphrase(&self) -> bool {
        self.no_passphrase
    }

    pub fn kdf_params(&self) -> KdfParams {
        self.kdf
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `contents` as the new generation (fresh nonce, same key); the
    /// current one becomes `store.bak`. On any error the store on disk is
    /// the one before this call.
    pub fn save(&mut self, contents: &Contents) -> Result<(), VaultError> {
        let header = Header { no_passphrase: self.no_passphrase, kdf: self.kdf, salt: self.salt, nonce: random::<NONCE_LEN>()?, body_len: 0 };
        let bytes = format::seal(&self.key, header, contents)?;
        self.write_generation(&bytes)
    }

    /// Sets a new passphrase with a fresh salt, keeping the key-derivation
    /// settings (a store that had none gets [`KdfParams::recommended`]), and
    /// writes `contents` under it. The old passphrase opens only the backup.
    pub fn change_passphrase(&mut self, new: &str, contents: &Contents) -> Result<(), VaultError> {
        let params = if self.no_passphrase { KdfParams::recommended() } else { self.kdf };
        self.change_passphrase_with(new, params, contents)
    }

    /// [`Vault::change_passphrase`] with new key-derivation settings.
    pub fn change_passphrase_with(&mut self, new: &str, params: KdfParams, contents: &Contents) -> Result<(), VaultError> {
        if new.is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let salt = random::<SALT_LEN>()?;
        let key = kdf::derive_key(new, &salt, &params)?;
        let header = Header { no_passphrase: false, kdf: params, salt, nonce: random::<NONCE_LEN>()?, body_len: 0 };
        let bytes = format::seal(&key, header, contents)?;
        self.write_generation(&bytes)?;
        self.key = key;
        self.salt = salt;
        self.kdf = params;
        self.no_passphrase = false;
        Ok(())
    }

    /// temp (O_EXCL, 0600) → write → fsync → store becomes store.bak (or,
    /// after opening the backup, store.damaged-TIME) → temp becomes store →
    /// fsync the directory → remove leftover temps.
    fn write_generation(&mut self, bytes: &[u8]) -> Result<(), VaultError> {
        let dir = self.dir.clone();
        let dirfd = &self.dirfd;
        let tag = random::<8>()?;
        let temp = format!("{TEMP_PREFIX}-{}-{}", std::process::id(), tag.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let fd = rustix::fs::openat(
            dirfd,
            temp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o600),
        )
        .map_err(errno("creating a temporary file", &dir))?;
        let mut file = File::from(fd);
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        drop(file);
        if let Err(error) = written {
            let _ = rustix::fs::unlinkat(dirfd, temp.as_str(), AtFlags::empty());
            return Err(io_error("writing the store", &dir, error));
        }
        let undo = |error: VaultError| {
            let _ = rustix::fs::unlinkat(dirfd, temp.as_str(), AtFlags::empty());
            error
        };
        if file_exists(dirfd, &dir, STORE).map_err(undo)? {
            let aside = if self.from_backup { damaged_name(dirfd, &dir).map_err(undo)? } else { BACKUP.to_string() };
            // Swapping the two in one step leaves no moment without a
            // `store`: after it the new generation is in place and the old
            // one under the temporary name, which then becomes the backup.
            // A crash between the two leaves the old one as a leftover temp
            // (removed by the next save) and the older backup.
            match rustix::fs::renameat_with(dirfd, temp.as_str(), dirfd, STORE, RenameFlags::EXCHANGE) {
                Ok(()) => rename(dirfd, &temp, &aside).map_err(errno("keeping the previous store", &dir))?,
                // A filesystem without RENAME_EXCHANGE: the store, then the
                // temporary, each renamed (a moment with only the backup).
                Err(rustix::io::Errno::INVAL) => {
                    rename(dirfd, STORE, &aside).map_err(errno("keeping the previous store", &dir)).map_err(undo)?;
                    rename(dirfd, &temp, STORE).map_err(errno("putting the new store in place", &dir))?;
                }
                Err(error) => return Err(undo(errno("putting the new store in place", &dir)(error))),
            }
        } else {
            rename(dirfd, &temp, STORE).map_err(errno("putting the new store in place", &dir))?;
        }
        rustix::fs::fsync(dirfd).map_err(errno("syncing the store's directory", &dir))?;
        self.from_backup = false;
        remove_leftover_temps(dirfd, &dir);
        Ok(())
    }
}

impl KdfParams {
    /// For a store without a passphrase: its input is empty and known, so
    /// cost protects nothing; the cheapest settings argon2 allows.
    pub const fn no_passphrase() -> Self {
        KdfParams { m_cost_kib: 8, t_cost: 1, p_cost: 1 }
    }
}

fn rename(dirfd: &OwnedFd, from: &str, to: &str) -> rustix::io::Result<()> {
    rustix::fs::renameat_with(dirfd, from, dirfd, to, RenameFlags::empty())
}

fn open_dir(dir: &Path) -> Result<OwnedFd, VaultError> {
    match rustix::fs::openat(CWD, dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::NOENT) => Err(VaultError::NotFound { dir: dir.to_path_buf() }),
        Err(error) => Err(errno("opening the store's directory", dir)(error)),
    }
}

fn file_exists(dirfd: &OwnedFd, dir: &Path, name: &str) -> Result<bool, VaultError> {
    match rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(rustix::io::Errno::NOENT) => Ok(false),
        Err(error) => Err(errno("looking for the store", dir)(error)),
    }
}

/// The file's bytes (ciphertext only), or None if it is not there. A file
/// larger than any store is refused without reading it all.
fn read_file(dirfd: &OwnedFd, dir: &Path, name: &str) -> Result<Option<Vec<u8>>, VaultError> {
    let fd = match rustix::fs::openat(dirfd, name, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(error) => return Err(errno("opening the store", dir)(error)),
    };
    let file = File::from(fd);
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN as u64 + 1).read_to_end(&mut bytes).map_err(|error| io_error("reading the store", dir, error))?;
    Ok(Some(bytes))
}

fn attempt(dirfd: &OwnedFd, dir: &Path, name: &str, passphrase: Option<&str>, derived: &mut Option<(KdfParams, [u8; SALT_LEN], Key)>) -> Result<Attempt, VaultError> {
    let Some(bytes) = read_file(dirfd, dir, name)? else {
        return Ok(Attempt::Missing);
    };
    if bytes.len() > MAX_FILE_LEN {
        return Ok(Attempt::Failed(FormatError::Damaged { reason: "it is larger than any store" }));
    }
    let parsed = match Parsed::parse(&bytes) {
        Ok(parsed) => parsed,
        Err(problem) => return Ok(Attempt::Failed(problem)),
    };
    let header = parsed.header;
    match (header.no_passphrase, passphrase) {
        (true, Some(_)) => return Err(VaultError::HasNoPassphrase),
        (false, None) => return Err(VaultError::NeedsPassphrase),
        _ => {}
    }
    // The store and its backup usually share salt and settings: derive once.
    let key = match derived {
        Some((params, salt, key)) if *params == header.kdf && *salt == header.salt => key.clone(),
        _ => {
            let key = kdf::derive_key(passphrase.unwrap_or(""), &header.salt, &header.kdf)?;
            *derived = Some((header.kdf, header.salt, key.clone()));
            key
        }
    };
    match parsed.open(&key) {
        Ok(contents) => Ok(Attempt::Opened { header, key, contents }),
        Err(problem) => Ok(Attempt::Failed(problem)),
    }
}

fn damaged_name(dirfd: &OwnedFd, dir: &Path) -> Result<String, VaultError> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let base = format!("{DAMAGED_PREFIX}{now}");
    for n in 0..1000u32 {
        let name = if n == 0 { base.clone() } else { format!("{base}-{n}") };
        if !file_exists(dirfd, dir, &name)? {
            return Ok(name);
        }
    }
    Err(VaultError::Io { action: "finding a name for the damaged store", dir: dir.to_path_buf(), source: io::Error::from(io::ErrorKind::AlreadyExists) })
}

/// Temps left by a crash: incomplete or never renamed, ciphertext either way.
fn remove_leftover_temps(dirfd: &OwnedFd, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if let Some(name) = name.to_str() {
            if name.starts_with(TEMP_PREFIX) {
                let _ = rustix::fs::unlinkat(dirfd, name, AtFlags::empty());
            }
        }
    }
}
