//! The input layout of the `xml_stream` fuzz target, shared with `make_seeds`:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0 | how the stream is split into reads ([`Splitter`]) |
//! | 1 | flags: [`TIGHT_LIMITS`], [`PENDING_FIRST`] |
//! | 2.. | the bytes the "server" sends |
//!
//! Keep the meaning of existing bits when adding new ones, so that the seeds and the
//! corpus keep theirs.

use xmpp_xml::Limits;

/// Bytes before the stream.
pub const HEADER_LEN: usize = 2;

/// Flag: read with [`tight_limits`] instead of the defaults, so that short inputs reach
/// every limit.
pub const TIGHT_LIMITS: u8 = 1;
/// Flag: every read first answers `Pending` once (waking itself), so that the parser is
/// suspended in the middle of events as it is on a real socket.
pub const PENDING_FIRST: u8 = 2;

/// A fuzz input taken apart.
pub struct Input<'a> {
    pub split: u8,
    pub flags: u8,
    pub stream: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        match data {
            [split, flags, stream @ ..] => Some(Input { split: *split, flags: *flags, stream }),
            _ => None,
        }
    }

    pub fn limits(&self) -> Limits {
        if self.flags & TIGHT_LIMITS != 0 {
            tight_limits()
        } else {
            Limits::default()
        }
    }
}

/// The bytes of an input: the header, then `stream`.
pub fn encode(split: u8, flags: u8, stream: &[u8]) -> Vec<u8> {
    let mut data = vec![split, flags];
    data.extend_from_slice(stream);
    data
}

/// Limits small enough for a fuzz input to cross, large enough for a real stream header.
pub fn tight_limits() -> Limits {
    Limits {
        max_stanza_bytes: 512,
        max_depth: 6,
        max_attributes_per_element: 6,
        max_attribute_value_bytes: 64,
        max_name_bytes: 24,
        max_nodes_per_stanza: 32,
        max_namespace_declarations: 6,
    }
}

/// The size of each read: the low 3 bits of the split byte choose the largest, 2^n bytes
/// (1 to 128); the high 5 bits seed a generator that picks each read's size from 1 up to it.
pub struct Splitter {
    largest: usize,
    state: u32,
}

impl Splitter {
    pub fn new(split: u8) -> Self {
        Splitter { largest: 1 << (split & 7), state: u32::from(split >> 3) | 0x1000 }
    }

    pub fn next_len(&mut self) -> usize {
        // xorshift32: deterministic, so a crash reproduces from its input alone.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + (self.state as usize) % self.largest
    }
}
