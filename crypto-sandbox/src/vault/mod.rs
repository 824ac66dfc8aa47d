//! The vault: the encrypted store file, one per profile, beneath the crypto process's
//! own directory. See README.md.

pub mod contents;
