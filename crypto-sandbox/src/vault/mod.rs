//! The vault: the encrypted store file, one per profile, beneath the crypto process's
//! own directory.

pub mod contents;
pub mod format;
pub mod kdf;
