//! The only place that turns messages into bytes and back.
//!
//! bincode 2 is used with a fixed configuration: little-endian varints and a
//! decode limit equal to the frame cap, so that no length prefix inside a
//! frame can make the decoder reserve more memory than the frame could hold.

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};
use bincode::{Decode, Encode};

/// No frame may be larger than this, in either direction. Checked before any
/// decoding starts.
pub const FRAME_CAP: usize = 1024 * 1024;

type WireConfig = Configuration<LittleEndian, Varint, Limit<FRAME_CAP>>;

const fn wire_config() -> WireConfig {
    config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<FRAME_CAP>()
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("frame of {0} bytes exceeds the {FRAME_CAP}-byte cap")]
    Oversized(usize),
    #[error("empty frame")]
    Empty,
    #[error("frame does not decode: {0}")]
    Malformed(String),
    #[error("frame has {0} trailing bytes after the message")]
    TrailingBytes(usize),
    #[error("message does not encode: {0}")]
    Unencodable(String),
}

/// Encodes `message` into `out` (cleared first). Fails rather than produce a
/// frame over the cap, so a sender learns of its own bug instead of being
/// killed by the receiver.
pub fn encode_into<T: Encode>(message: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.clear();
    bincode::encode_into_std_write(message, out, wire_config())
        .map_err(|error| CodecError::Unencodable(error.to_string()))?;
    if out.len() > FRAME_CAP {
        return Err(CodecError::Oversized(out.len()));
    }
    Ok(())
}

pub fn encode<T: Encode>(message: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(message, &mut out)?;
    Ok(out)
}

/// Decodes exactly one message from exactly one frame.
pub fn decode<T: Decode<()>>(frame: &[u8]) -> Result<T, CodecError> {
    if frame.len() > FRAME_CAP {
        return Err(CodecError::Oversized(frame.len()));
    }
    if frame.is_empty() {
        return Err(CodecError::Empty);
    }
    let (message, consumed) = bincode::decode_from_slice::<T, _>(frame, wire_config())
        .map_err(|error| CodecError::Malformed(error.to_string()))?;
    if consumed != frame.len() {
        return Err(CodecError::TrailingBytes(frame.len() - consumed));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::{FromUi, ToUi};
    use crate::types::Probe;

    #[test]
    fn round_trip_keeps_the_message() {
        let sent = FromUi::Ping(Probe { seq: 7, payload: vec![1, 2, 3] });
        let frame = encode(&sent).unwrap();
        let received: FromUi = decode(&frame).unwrap();
        assert_eq!(received, sent);
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut frame = encode(&FromUi::Status).unwrap();
        frame.push(0);
        assert!(matches!(decode::<FromUi>(&frame), Err(CodecError::TrailingBytes(1))));
    }

    #[test]
    fn oversized_frame_is_rejected_before_decoding() {
        let frame = vec![0u8; FRAME_CAP + 1];
        assert!(matches!(decode::<FromUi>(&frame), Err(CodecError::Oversized(_))));
    }

    #[test]
    fn empty_frame_is_rejected() {
        assert!(matches!(decode::<FromUi>(&[]), Err(CodecError::Empty)));
    }

    #[test]
    fn unknown_variant_is_malformed() {
        assert!(matches!(decode::<FromUi>(&[200]), Err(CodecError::Malformed(_))));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // Variant "Ping", seq 1, then a payload claiming u64::MAX bytes.
        let mut frame = encode(&FromUi::Ping(Probe { seq: 1, payload: vec![] })).unwrap();
        frame.pop();
        frame.push(255);
        frame.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(decode::<FromUi>(&frame), Err(CodecError::Malformed(_))));
    }

    #[test]
    fn a_message_over_the_cap_is_not_encoded() {
        let huge = ToUi::Pong(Probe { seq: 0, payload: vec![0; FRAME_CAP] });
        assert!(matches!(encode(&huge), Err(CodecError::Oversized(_))));
    }

    #[test]
    fn every_truncation_of_a_valid_frame_fails_cleanly() {
        let frame = encode(&FromUi::Ping(Probe { seq: 300, payload: vec![9; 40] })).unwrap();
        for cut in 0..frame.len() {
            assert!(decode::<FromUi>(&frame[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
    }
}
