//! "Type/Length/Value records" of the spec: what rides after the NUL of a
//! data message's plaintext.

use thiserror::Error;
use zeroize::Zeroizing;

use crate::encoding::Writer;

/// The TLV types of version 3.
pub const PADDING: u16 = 0;
pub const DISCONNECTED: u16 = 1;
pub const SMP_1: u16 = 2;
pub const SMP_2: u16 = 3;
pub const SMP_3: u16 = 4;
pub const SMP_4: u16 = 5;
pub const SMP_ABORT: u16 = 6;
pub const SMP_1_QUESTION: u16 = 7;
pub const EXTRA_SYMMETRIC_KEY: u16 = 8;

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub kind: u16,
    pub value: Vec<u8>,
}

impl Tlv {
    pub fn new(kind: u16, value: Vec<u8>) -> Self {
        Self { kind, value }
    }
}

/// The most records one plaintext may carry. Real messages carry a handful
/// (padding, an SMP step, disconnect); the cap keeps a flood of empty records
/// from costing an allocation each.
pub const MAX_RECORDS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlvError {
    #[error("a TLV value of {0} bytes does not fit its two-byte length")]
    ValueTooLong(usize),
    #[error("the message carries more than {MAX_RECORDS} TLV records")]
    TooManyRecords,
}

/// The plaintext of a data message taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The human-readable part: everything before the first NUL.
    pub text: Zeroizing<Vec<u8>>,
    pub tlvs: Vec<Tlv>,
}

/// The plaintext of a data message: `text`, then, if there are records, a
/// NUL and each record as SHORT type, SHORT length, value.
pub fn encode_payload(text: &[u8], tlvs: &[Tlv]) -> Result<Zeroizing<Vec<u8>>, TlvError> {
    if tlvs.len() > MAX_RECORDS {
        return Err(TlvError::TooManyRecords);
    }
    let length = text.len() + 1 + tlvs.iter().map(|tlv| 4 + tlv.value.len()).sum::<usize>();
    let mut writer = Writer::with_capacity(length);
    writer.raw(text);
    if !tlvs.is_empty() {
        writer.byte(0);
    }
    for tlv in tlvs {
        let length = u16::try_from(tlv.value.len()).map_err(|_| TlvError::ValueTooLong(tlv.value.len()))?;
        writer.short(tlv.kind).short(length).raw(&tlv.value);
    }
    Ok(writer.into_secret())
}

/// Takes apart a decrypted plaintext. As libotr does, a record whose length
/// runs past the end ends the parse: the records before it are kept and the
/// rest (like any tail shorter than a record header) is ignored, so a peer's
/// malformed tail never costs the user the text in front of it.
pub fn decode_payload(bytes: &[u8]) -> Result<Payload, TlvError> {
    let mut parts = bytes.splitn(2, |&byte| byte == 0);
    let text = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default();
    let tlvs = decode_records(rest)?;
    Ok(Payload { text: Zeroizing::new(text.to_vec()), tlvs })
}

/// The records after the NUL, read as [`decode_payload`] reads them.
pub(crate) fn decode_records(mut rest: &[u8]) -> Result<Vec<Tlv>, TlvError> {
    let mut tlvs = Vec::new();
    while let [kind_high, kind_low, length_high, length_low, after @ ..] = rest {
        let length = usize::from(u16::from_be_bytes([*length_high, *length_low]));
        let Some((value, next)) = after.split_at_checked(length) else {
            break;
        };
        if tlvs.len() == MAX_RECORDS {
            return Err(TlvError::TooManyRecords);
        }
        tlvs.push(Tlv::new(u16::from_be_bytes([*kind_high, *kind_low]), value.to_vec()));
        rest = next;
    }
    Ok(tlvs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_alone_has_no_nul() {
        assert_eq!(encode_payload(b"hi", &[]).unwrap().as_slice(), b"hi");
        let payload = decode_payload(b"hi").unwrap();
        assert_eq!(payload.text.as_slice(), b"hi");
        assert!(payload.tlvs.is_empty());
    }

    #[test]
    fn the_spec_examples_round_trip() {
        let tlvs = [Tlv::new(DISCONNECTED, vec![]), Tlv::new(PADDING, b"hello".to_vec())];
        let bytes = encode_payload(b"", &tlvs).unwrap();
        assert_eq!(bytes.as_slice(), b"\0\x00\x01\x00\x00\x00\x00\x00\x05hello");
        let payload = decode_payload(&bytes).unwrap();
        assert_eq!(payload.text.as_slice(), b"");
        assert_eq!(payload.tlvs, tlvs);
    }

    #[test]
    fn text_ends_at_the_first_nul() {
        let payload = decode_payload(b"a\0\x00\x06\x00\x00").unwrap();
        assert_eq!(payload.text.as_slice(), b"a");
        assert_eq!(payload.tlvs, [Tlv::new(SMP_ABORT, vec![])]);
    }

    #[test]
    fn a_truncated_record_ends_the_parse_as_in_libotr() {
        let payload = decode_payload(b"a\0\x00\x01\x00\x00\x00\x00\x00\x09short").unwrap();
        assert_eq!(payload.text.as_slice(), b"a");
        assert_eq!(payload.tlvs, [Tlv::new(DISCONNECTED, vec![])]);
        let payload = decode_payload(b"a\0\x00\x01\x00").unwrap();
        assert!(payload.tlvs.is_empty());
        let payload = decode_payload(b"a\0\xff\xff\xff\xff").unwrap();
        assert!(payload.tlvs.is_empty());
    }

    #[test]
    fn the_record_count_is_capped() {
        let many = vec![0u8; 1 + 4 * (MAX_RECORDS + 1)];
        assert_eq!(decode_payload(&many), Err(TlvError::TooManyRecords));
        let exactly = vec![0u8; 1 + 4 * MAX_RECORDS];
        assert_eq!(decode_payload(&exactly).unwrap().tlvs.len(), MAX_RECORDS);
        let tlvs = vec![Tlv::new(PADDING, vec![]); MAX_RECORDS + 1];
        assert_eq!(encode_payload(b"", &tlvs), Err(TlvError::TooManyRecords));
    }

    #[test]
    fn a_value_too_long_for_its_length_is_refused() {
        let tlvs = [Tlv::new(PADDING, vec![0; 65536])];
        assert_eq!(encode_payload(b"", &tlvs), Err(TlvError::ValueTooLong(65536)));
        let tlvs = [Tlv::new(PADDING, vec![7; 65535])];
        assert_eq!(decode_payload(&encode_payload(b"", &tlvs).unwrap()).unwrap().tlvs, tlvs);
    }
}
