//! "Data types" of the spec: BYTE, SHORT, INT, MPI, DATA, CTR, MAC, as read
//! from and written to the binary form of an OTR message.
//!
//! Every length read from the wire is checked against what is left before
//! anything is allocated, so a hostile length costs nothing.

use thiserror::Error;
use zeroize::Zeroize;

/// The longest MPI any OTR message carries: DH values and DSA parameters are at
/// most 1536 bits (192 bytes); the cap leaves room without letting a peer make
/// us work on huge numbers.
pub const MAX_MPI_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("the message ends inside its {0}")]
    Truncated(&'static str),
    #[error("an MPI of {0} bytes is longer than any OTR value")]
    MpiTooLong(usize),
    #[error("{0} bytes follow the end of the message")]
    TrailingBytes(usize),
    #[error("the {0} field holds a value OTR does not define")]
    BadValue(&'static str),
}

/// Reads the fields of a binary message in order.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The bytes read so far are `whole[..consumed]`; used where a MAC covers
    /// a prefix of the message.
    pub fn consumed_from(&self, whole: &[u8]) -> usize {
        whole.len() - self.rest.len()
    }

    pub fn fixed(&mut self, length: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < length {
            return Err(DecodeError::Truncated(what));
        }
        let (head, tail) = self.rest.split_at(length);
        self.rest = tail;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.fixed(N, what)?);
        Ok(out)
    }

    pub fn byte(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn short(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub fn int(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// DATA: a 4-byte length and that many bytes.
    pub fn data(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let length = self.int(what)? as usize;
        self.fixed(length, what)
    }

    /// MPI: a 4-byte length and a big-endian magnitude. The spec asks for the
    /// minimum length; leading zero bytes (which some old peers sent) are
    /// accepted and stripped, so the value, not its spelling, is what counts.
    pub fn mpi(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let length = self.int(what)? as usize;
        if length > MAX_MPI_BYTES {
            return Err(DecodeError::MpiTooLong(length));
        }
        let bytes = self.fixed(length, what)?;
        let leading = bytes.iter().take_while(|&&byte| byte == 0).count();
        Ok(&bytes[leading..])
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// The message must end here.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes(extra)),
        }
    }
}

/// Builds the binary form of a message. The buffer is wiped when the writer
/// is dropped, since some encodings (secbytes, the signed X_B) are secret.
#[derive(Default)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer that holds `capacity` bytes without growing: no partial
    /// copy of a secret is left behind in a freed buffer, and no time is
    /// spent reallocating.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self { bytes: Vec::with_capacity(capacity) }
    }

    pub fn byte(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    pub fn short(&mut self, value: u16) -> &mut Self {
        self.raw(&value.to_be_bytes())
    }

    pub fn int(&mut self, value: u32) -> &mut Self {
        self.raw(&value.to_be_bytes())
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// DATA. Lengths come from values this process built, all far below 4 GiB.
    pub fn data(&mut self, bytes: &[u8]) -> &mut Self {
        self.int(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        self.raw(bytes)
    }

    /// MPI of a big-endian magnitude, written at its minimum length.
    pub fn mpi(&mut self, magnitude: &[u8]) -> &mut Self {
        let leading = magnitude.iter().take_while(|&&byte| byte == 0).count();
        self.data(&magnitude[leading..])
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes, for a value that is not secret (it goes on the wire).
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    /// The bytes, for a value that is secret.
    pub fn into_secret(mut self) -> zeroize::Zeroizing<Vec<u8>> {
        zeroize::Zeroizing::new(std::mem::take(&mut self.bytes))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

/// The minimal MPI encoding of a big-endian magnitude, length included.
pub fn mpi(magnitude: &[u8]) -> Vec<u8> {
    let mut writer = Writer::new();
    writer.mpi(magnitude);
    writer.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut writer = Writer::new();
        writer.byte(3).short(0x0003).int(0x0102_0304).data(b"abc").mpi(&[0, 0, 0x80, 1]);
        let bytes = writer.into_bytes();
        assert_eq!(bytes, [3, 0, 3, 1, 2, 3, 4, 0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 2, 0x80, 1]);
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.byte("b").unwrap(), 3);
        assert_eq!(reader.short("s").unwrap(), 3);
        assert_eq!(reader.int("i").unwrap(), 0x0102_0304);
        assert_eq!(reader.data("d").unwrap(), b"abc");
        assert_eq!(reader.mpi("m").unwrap(), [0x80, 1]);
        reader.finish().unwrap();
    }

    #[test]
    fn zero_is_an_empty_mpi() {
        assert_eq!(mpi(&[0, 0]), [0, 0, 0, 0]);
        assert_eq!(Reader::new(&[0, 0, 0, 0]).mpi("m").unwrap(), b"");
    }

    #[test]
    fn padded_mpis_read_as_their_value() {
        assert_eq!(Reader::new(&[0, 0, 0, 3, 0, 0, 7]).mpi("m").unwrap(), [7]);
    }

    #[test]
    fn hostile_lengths_are_refused_before_allocating() {
        assert_eq!(Reader::new(&[0xff, 0xff, 0xff, 0xff]).data("d"), Err(DecodeError::Truncated("d")));
        assert_eq!(Reader::new(&[0, 0, 0x10, 0x00]).mpi("m"), Err(DecodeError::MpiTooLong(4096)));
        assert_eq!(Reader::new(&[0, 0, 0, 5, 1]).mpi("m"), Err(DecodeError::Truncated("m")));
        assert_eq!(Reader::new(&[1]).short("s"), Err(DecodeError::Truncated("s")));
        let mut reader = Reader::new(&[1, 2]);
        reader.byte("b").unwrap();
        assert_eq!(reader.finish(), Err(DecodeError::TrailingBytes(1)));
    }
}
