//! "Type/Length/Value records" of the spec: what rides after the NUL of a
//! data message's plaintext.

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
