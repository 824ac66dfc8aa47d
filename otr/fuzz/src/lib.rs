//! The input layout of the `otr_message` fuzz target, shared with `make_seeds`:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0 | the fragment size to split the text at ([`Input::max_fragment_len`]) |
//! | 1 | flags: [`TIGHT_LIMITS`] |
//! | 2.. | the bytes a peer sends: read as a binary message, as a plaintext with TLVs, and (lossily) as text |
//!
//! Keep the meaning of existing bits when adding new ones, so that the seeds and the
//! corpus keep theirs.

use otr::fragment::Limits;

/// Bytes before the data.
pub const HEADER_LEN: usize = 2;

/// Flag: reassemble with [`tight_limits`] instead of the defaults, so that short inputs
/// reach every cap.
pub const TIGHT_LIMITS: u8 = 1;

/// A fuzz input taken apart.
pub struct Input<'a> {
    pub fragment: u8,
    pub flags: u8,
    pub data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        match data {
            [fragment, flags, data @ ..] => Some(Input { fragment: *fragment, flags: *flags, data }),
            _ => None,
        }
    }

    /// From just too short for any fragment (a v2 header is 18 bytes) up to 273 bytes,
    /// so that both versions' headers, and pieces of one character, are crossed.
    pub fn max_fragment_len(&self) -> usize {
        18 + usize::from(self.fragment)
    }

    pub fn limits(&self) -> Limits {
        if self.flags & TIGHT_LIMITS != 0 {
            tight_limits()
        } else {
            Limits::default()
        }
    }
}

/// The bytes of an input: the header, then `data`.
pub fn encode(fragment: u8, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut input = vec![fragment, flags];
    input.extend_from_slice(data);
    input
}

/// Caps small enough for a fuzz input to cross.
pub fn tight_limits() -> Limits {
    Limits { max_bytes: 64, max_pieces: 6, max_senders: 2 }
}
