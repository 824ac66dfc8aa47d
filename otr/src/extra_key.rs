//! "Extra symmetric key": a 256-bit key both sides derive from the DH
//! keys of one data message (h2(0xFF) of its secbytes, computed in
//! `data.rs` with the session keys), announced with a type 8 TLV whose
//! value is a 4-byte use and use-specific data. The key itself never goes
//! on the wire, and never leaves the crypto process.

use thiserror::Error;
use zeroize::Zeroizing;

use crate::tlv::{self, Tlv};

/// The most use-specific data taken in one TLV (a file name, say).
pub const MAX_USE_DATA: usize = 4096;

/// The key: wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtraKey(Zeroizing<[u8; 32]>);

impl ExtraKey {
    pub fn new(key: Zeroizing<[u8; 32]>) -> Self {
        Self(key)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ExtraKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ExtraKey(..)")
    }
}

/// What the key is for, as the TLV says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub code: u32,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtraKeyError {
    #[error("an extra-symmetric-key record of {0} bytes is shorter than its 4-byte use")]
    TooShort(usize),
    #[error("an extra-symmetric-key record carries {0} bytes of use data; at most {MAX_USE_DATA} are taken")]
    TooLong(usize),
}

impl KeyUse {
    /// The type 8 TLV announcing this use.
    pub fn to_tlv(&self) -> Result<Tlv, ExtraKeyError> {
        if self.data.len() > MAX_USE_DATA {
            return Err(ExtraKeyError::TooLong(self.data.len()));
        }
        let mut value = Vec::with_capacity(4 + self.data.len());
        value.extend_from_slice(&self.code.to_be_bytes());
        value.extend_from_slice(&self.data);
        Ok(Tlv::new(tlv::EXTRA_SYMMETRIC_KEY, value))
    }

    /// Reads a type 8 TLV's value.
    pub fn from_tlv(record: &Tlv) -> Result<Self, ExtraKeyError> {
        let Some((code, data)) = record.value.split_first_chunk::<4>() else {
            return Err(ExtraKeyError::TooShort(record.value.len()));
        };
        if data.len() > MAX_USE_DATA {
            return Err(ExtraKeyError::TooLong(data.len()));
        }
        Ok(Self { code: u32::from_be_bytes(*code), data: data.to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_round_trip_and_bad_records_are_refused() {
        let key_use = KeyUse { code: 1, data: b"notes.txt".to_vec() };
        let record = key_use.to_tlv().unwrap();
        assert_eq!(record.kind, tlv::EXTRA_SYMMETRIC_KEY);
        assert_eq!(&record.value[..4], &[0, 0, 0, 1]);
        assert_eq!(KeyUse::from_tlv(&record).unwrap(), key_use);
        assert_eq!(KeyUse::from_tlv(&Tlv::new(8, vec![1, 2])), Err(ExtraKeyError::TooShort(2)));
        assert_eq!(KeyUse::from_tlv(&Tlv::new(8, vec![0; 4 + MAX_USE_DATA + 1])), Err(ExtraKeyError::TooLong(MAX_USE_DATA + 1)));
        assert!(KeyUse { code: 2, data: vec![0; MAX_USE_DATA + 1] }.to_tlv().is_err());
        assert_eq!(format!("{:?}", ExtraKey::new(Zeroizing::new([7; 32]))), "ExtraKey(..)");
    }
}
