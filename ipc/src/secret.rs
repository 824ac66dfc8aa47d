//! Secrets that cross a process boundary. They zeroize on drop and never
//! print themselves.

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};
use zeroize::Zeroizing;

/// Text that must not outlive its use or show in a log: the store
/// passphrase, an account password, a SASL message, a message body.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

/// The store passphrase, on its way from the UI to the crypto process.
pub type Passphrase = SecretText;

impl SecretText {
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("<redacted>")
    }
}

impl Encode for SecretText {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.as_str().encode(encoder)
    }
}

impl<Context> Decode<Context> for SecretText {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Ok(Self(Zeroizing::new(String::decode(decoder)?)))
    }
}

impl<'de, Context> BorrowDecode<'de, Context> for SecretText {
    fn borrow_decode<D: BorrowDecoder<'de, Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, DecodeError> {
        Ok(Self(Zeroizing::new(String::borrow_decode(decoder)?)))
    }
}

/// Bytes that must not outlive their use: an imported file, which may hold
/// passwords and private keys.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "<{} bytes redacted>", self.0.len())
    }
}

impl Encode for SecretBytes {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.as_slice().encode(encoder)
    }
}

impl<Context> Decode<Context> for SecretBytes {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Ok(Self(Zeroizing::new(Vec::<u8>::decode(decoder)?)))
    }
}

impl<'de, Context> BorrowDecode<'de, Context> for SecretBytes {
    fn borrow_decode<D: BorrowDecoder<'de, Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Ok(Self(Zeroizing::new(Vec::<u8>::borrow_decode(decoder)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_passphrase() {
        let shown = format!("{:?}", Passphrase::new("hunter2".into()));
        assert!(!shown.contains("hunter2"));
    }
}
