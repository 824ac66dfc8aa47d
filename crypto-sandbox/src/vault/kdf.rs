//! The store key: argon2id over the passphrase and the file's salt.
//!
//! The crypto process runs single-threaded and the argon2 crate (without
//! its `parallel` feature) computes lanes one after another, so more lanes
//! only cost time: `p_cost` is 1. The defaults ([`KdfParams::recommended`])
//! were measured on the project's 2-core machine in a release build; see
//! `unlock_time` below (`cargo test --release -p crypto-sandbox --lib
//! unlock_time -- --ignored --nocapture`).

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use super::format::{FormatError, SALT_LEN};

pub const KEY_LEN: usize = 32;

/// The 256-bit store key, zeroized on drop.
pub type Key = Zeroizing<[u8; KEY_LEN]>;

/// argon2id's cost settings, as written in the file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over the memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The most memory a file may ask for: 4 GiB.
    pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
    /// The most passes a file may ask for.
    pub const MAX_T_COST: u32 = 100;
    /// The most lanes a file may ask for.
    pub const MAX_P_COST: u32 = 16;

    /// What new stores use: 256 MiB, 3 passes, one lane. Measured on the
    /// project's 2-core machine, release build, best of 3: 0.81–0.95 s (64
    /// MiB×3: 0.17 s; 256 MiB×4: 1.13 s; 256 MiB×3 with 2 lanes: 0.86 s, no
    /// faster, as lanes run one after another here).
    pub const fn recommended() -> Self {
        KdfParams { m_cost_kib: 256 * 1024, t_cost: 3, p_cost: 1 }
    }

    /// The cheapest settings argon2 allows: for tests only, never for a
    /// store holding anything real.
    pub const fn for_tests() -> Self {
        KdfParams { m_cost_kib: 8, t_cost: 1, p_cost: 1 }
    }

    /// Refuses what no Burrow writes, before any memory is allocated: a
    /// hostile file must not make unlocking take hours or all memory.
    pub fn check(&self) -> Result<(), FormatError> {
        if self.p_cost == 0 || self.p_cost > Self::MAX_P_COST {
            return Err(FormatError::ParametersOutOfRange { what: "argon2 lanes not between 1 and 16" });
        }
        if self.m_cost_kib < 8 * self.p_cost || self.m_cost_kib > Self::MAX_M_COST_KIB {
            return Err(FormatError::ParametersOutOfRange { what: "argon2 memory not between 8 KiB per lane and 4 GiB" });
        }
        if self.t_cost == 0 || self.t_cost > Self::MAX_T_COST {
            return Err(FormatError::ParametersOutOfRange { what: "argon2 passes not between 1 and 100" });
        }
        Ok(())
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::recommended()
    }
}

/// Why no key came out (the passphrase never appears).
#[derive(Debug, thiserror::Error)]
pub enum KdfError {
    #[error(transparent)]
    Parameters(#[from] FormatError),
    #[error("the key derivation failed ({0}); there may not be enough free memory")]
    Argon2(argon2::Error),
}

/// argon2id(passphrase, salt) → 32-byte key. A store without passphrase
/// uses the empty string.
pub fn derive_key(passphrase: &str, salt: &[u8; SALT_LEN], params: &KdfParams) -> Result<Key, KdfError> {
    params.check()?;
    let argon2_params = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(KEY_LEN)).map_err(KdfError::Argon2)?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    argon2.hash_password_into(passphrase.as_bytes(), salt, key.as_mut_slice()).map_err(KdfError::Argon2)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_salted() {
        let params = KdfParams::for_tests();
        let a = derive_key("correct horse", &[1; SALT_LEN], &params).unwrap();
        let b = derive_key("correct horse", &[1; SALT_LEN], &params).unwrap();
        let c = derive_key("correct horse", &[2; SALT_LEN], &params).unwrap();
        let d = derive_key("correct horsf", &[1; SALT_LEN], &params).unwrap();
        assert_eq!(*a, *b);
        assert_ne!(*a, *c);
        assert_ne!(*a, *d);
        assert_ne!(*derive_key("", &[1; SALT_LEN], &params).unwrap(), *a);
    }

    /// RFC 9106's argon2id test vector has secret and associated data we do
    /// not use; this pins our use (no secret, no data) against the
    /// reference implementation's output (`argon2` CLI from Debian:
    /// `echo -n password | argon2 somesaltsomesalt -id -t 2 -k 64 -p 1 -l 32 -r`).
    #[test]
    fn known_answer() {
        let key = derive_key("password", b"somesaltsomesalt", &KdfParams { m_cost_kib: 64, t_cost: 2, p_cost: 1 }).unwrap();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, KNOWN_ANSWER);
    }
    const KNOWN_ANSWER: &str = "1a98fba8e6394425c9bdc333a9c750aaf811df070f5fb4a5788e1cf4db5793a1";

    #[test]
    fn refuses_absurd_parameters_before_work() {
        let start = std::time::Instant::now();
        for params in [
            KdfParams { m_cost_kib: u32::MAX, t_cost: 1, p_cost: 1 },
            KdfParams { m_cost_kib: KdfParams::MAX_M_COST_KIB + 1, t_cost: 1, p_cost: 1 },
            KdfParams { m_cost_kib: 65536, t_cost: u32::MAX, p_cost: 1 },
            KdfParams { m_cost_kib: 65536, t_cost: 0, p_cost: 1 },
            KdfParams { m_cost_kib: 65536, t_cost: 1, p_cost: 0 },
            KdfParams { m_cost_kib: 65536, t_cost: 1, p_cost: 0xff_ffff },
            KdfParams { m_cost_kib: 7, t_cost: 1, p_cost: 1 },
        ] {
            assert!(matches!(derive_key("x", &[0; SALT_LEN], &params), Err(KdfError::Parameters(_))), "{params:?}");
        }
        assert!(start.elapsed() < std::time::Duration::from_millis(100));
        KdfParams::recommended().check().unwrap();
        KdfParams::for_tests().check().unwrap();
    }

    /// Measures one unlock with the recommended settings (and a few others
    /// for comparison). Meaningful only in a release build:
    /// `cargo test --release -p crypto-sandbox --lib unlock_time -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, run by hand in release"]
    fn unlock_time() {
        let candidates = [
            KdfParams { m_cost_kib: 64 * 1024, t_cost: 3, p_cost: 1 },
            KdfParams { m_cost_kib: 128 * 1024, t_cost: 3, p_cost: 1 },
            KdfParams { m_cost_kib: 256 * 1024, t_cost: 3, p_cost: 1 },
            KdfParams { m_cost_kib: 256 * 1024, t_cost: 3, p_cost: 2 },
            KdfParams { m_cost_kib: 512 * 1024, t_cost: 2, p_cost: 1 },
            KdfParams { m_cost_kib: 320 * 1024, t_cost: 3, p_cost: 1 },
            KdfParams { m_cost_kib: 256 * 1024, t_cost: 4, p_cost: 1 },
            KdfParams::recommended(),
        ];
        for params in candidates {
            let mut best = std::time::Duration::MAX;
            for _ in 0..3 {
                let start = std::time::Instant::now();
                derive_key("a passphrase of some length", &[9; SALT_LEN], &params).unwrap();
                best = best.min(start.elapsed());
            }
            println!("argon2id m={} KiB t={} p={}: {:.3} s (best of 3)", params.m_cost_kib, params.t_cost, params.p_cost, best.as_secs_f64());
        }
    }
}
