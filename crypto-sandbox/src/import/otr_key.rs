//! The OTR private-key serialisation that python-potr (`.key3`, Gajim's OTR plugin), Go's
//! golang.org/x/crypto/otr (xmpp-client) and coyim/otr3 (CoyIM) write:
//!
//! ```text
//! SHORT key type (0x0000, DSA) || MPI p || MPI q || MPI g || MPI y || MPI x
//! ```
//!
//! with OTR's MPI (4-byte big-endian length, big-endian magnitude). Sources:
//! python-otr/pure-python-otr src/potr/compatcrypto/pycrypto.py (`DSAKey.serializePrivateKey`,
//! `parsePrivateKey`, via common.py's `PK.parsePrivateKey` reading the type SHORT first);
//! golang/crypto otr/otr.go (`PrivateKey.Serialize` = `PublicKey.Serialize` then `appendMPI(X)`;
//! `PrivateKey.Parse`); coyim/otr3 keys.go (`PrivateKey.Parse`: `extractShort`, type must be
//! `dsaKeyTypeValue` 0, then `extractMPI` ×5). The MPIs are read with the otr crate's bounded
//! `encoding::Reader`, and the key is checked whole by `otr::dsa::PrivateKey::from_components`
//! (p of 1024 bits, q of 160, g and y in the subgroup, 0 < x < q, y = g^x mod p).

use otr::dsa::{DsaError, PrivateKey};
use otr::encoding::{DecodeError, Reader};
use thiserror::Error;

/// Why a serialised key was not taken. No variant carries key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("the key is cut short or malformed: {0}")]
    Decode(#[from] DecodeError),
    #[error("the key has type {0}, but OTR keys are DSA keys (type 0)")]
    NotDsa(u16),
    #[error("{0} bytes follow the key, which no client writes")]
    Trailing(usize),
    #[error("the key is unusable: {0}")]
    Dsa(#[from] DsaError),
}

/// Parses one serialised private key.
pub fn parse(bytes: &[u8]) -> Result<PrivateKey, KeyError> {
    let mut reader = Reader::new(bytes);
    let key_type = reader.short("key type")?;
    if key_type != 0 {
        return Err(KeyError::NotDsa(key_type));
    }
    let p = reader.mpi("p")?;
    let q = reader.mpi("q")?;
    let g = reader.mpi("g")?;
    let y = reader.mpi("y")?;
    let x = reader.mpi("x")?;
    let left = reader.remaining();
    if left != 0 {
        return Err(KeyError::Trailing(left));
    }
    Ok(PrivateKey::from_components(p, q, g, y, x)?)
}
