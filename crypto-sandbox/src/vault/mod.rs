//! The vault: the encrypted store file, one per profile, beneath the crypto
//! process's own directory (`PROFILE/crypto/`).
//!
//! **What it holds** ([`contents::Contents`]): the accounts with their
//! passwords, each account's OTR key, the fingerprints seen and how far each
//! is trusted, per-peer OTR policies, bookmarks and UI preferences. Only this
//! process ever sees them in the clear; on disk they exist only encrypted.
//!
//! **The format** ([`format`]): a 65-byte header — magic `BURROW-STORE\0`,
//! format version (u16), a flags byte (bit 0: no passphrase), the key
//! derivation (argon2id v0x13) with its m_cost (KiB), t_cost, p_cost and
//! output length (32), a 16-byte random salt, a 12-byte random nonce and the
//! body's length — then the AES-256-GCM ciphertext and tag of: contents
//! version (u16) ‖ bincode (2.0.1, standard, limit 16 MiB, no trailing
//! bytes) of the contents. The whole header is the associated data, so no
//! byte of it can change unnoticed; it is checked before any key is derived,
//! so a hostile file cannot ask for absurd memory or time. Wrong passphrase
//! and damage are one error, because AES-GCM cannot tell them apart; the
//! message says so and points to the backup. Contents are versioned:
//! [`format::decode_contents`] dispatches on the version and migrates older
//! shapes to the current one. The key ([`kdf`]) is argon2id over the
//! passphrase and the salt (256 MiB, 3 passes, 1 lane, about one second
//! here; the process is single-threaded, so more lanes would only add time);
//! a store without a passphrase derives it from the empty string and says so
//! in its header, and opening it needs the matching call, so a planted
//! passphrase-less file is never opened in place of the user's store.
//!
//! **The write sequence** ([`file`]): seal with a fresh random nonce (a fresh
//! salt too when the passphrase changes); create `store.tmp-PID-RANDOM` in
//! the same directory with `O_EXCL`, mode 0600; write; fsync; swap it with
//! `store` in one `renameat2(RENAME_EXCHANGE)`, then rename the swapped-out
//! old generation to `store.bak` (the previous generation is kept); fsync
//! the directory (0700); remove leftover temps. Only ciphertext is ever
//! written, to any file. A crash at any point leaves the old or the new
//! `store` in place. (On a filesystem without RENAME_EXCHANGE: `store` to
//! `store.bak`, then the temp to `store`; between the two there is no
//! `store`, and the old generation opens as the backup.) Opening never falls back to
//! the backup by itself and never writes: it reports that a backup exists
//! (`VaultError::backup_available`), and the UI may offer
//! [`Vault::open_backup`]; the first save after that sets the failed store
//! aside as `store.damaged-UNIXTIME` instead of overwriting the backup.
//! Everything is done relative to a descriptor of the directory with the
//! system calls of the crypto process's seccomp list, and nothing is chmod-ed.

pub mod contents;
pub mod file;
pub mod format;
pub mod kdf;

pub use contents::{Contents, CONTENTS_VERSION};
pub use file::{Vault, VaultError};
pub use format::FormatError;
pub use kdf::{KdfError, KdfParams, Key};
