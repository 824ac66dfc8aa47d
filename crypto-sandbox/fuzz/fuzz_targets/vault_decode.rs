//! Feeds arbitrary bytes to the store file's decoders (crypto_sandbox::vault::format).
//!
//! The same bytes are read as a whole store file (`Parsed::parse`, then, if the header
//! passes, `open` with the fixed key of the seeds, so that sealed seeds reach the
//! contents decoder through the AEAD) and as a decrypted body (`decode_plaintext`:
//! contents version ‖ bincode, and `decode_contents` with each version), bypassing the
//! AEAD so that the bincode decoder sees every byte. Checked:
//! - nothing panics, overflows, or allocates without bound (an `Err` is the expected
//!   answer to garbage), and every error has a message;
//! - a header that parses re-encodes to the same 65 bytes;
//! - contents that decode re-encode to a plaintext that decodes to the same contents,
//!   and seal, under the fixed key, into a file that parses and opens to them.
#![no_main]

use crypto_sandbox::vault::format::{self, Parsed, HEADER_LEN};
use crypto_sandbox::vault::Contents;
use crypto_sandbox_fuzz::fixed_key;
use libfuzzer_sys::fuzz_target;

fn check_error(error: &dyn std::error::Error) {
    assert!(!error.to_string().is_empty(), "an error without a message: {error:?}");
}

fn round_trip(contents: &Contents, header: format::Header) {
    let plaintext = format::encode_plaintext(contents).expect("decoded contents encode");
    assert_eq!(format::decode_plaintext(&plaintext).as_ref(), Ok(contents));
    let key = fixed_key();
    let file = format::seal(&key, header, contents).expect("decoded contents seal");
    let parsed = Parsed::parse(&file).expect("a sealed file parses");
    assert_eq!(parsed.open(&key).as_ref(), Ok(contents));
}

fn default_header() -> format::Header {
    format::Header {
        no_passphrase: false,
        kdf: crypto_sandbox::vault::KdfParams::for_tests(),
        salt: [1; format::SALT_LEN],
        nonce: [2; format::NONCE_LEN],
        body_len: 0,
    }
}

fuzz_target!(|data: &[u8]| {
    // As a store file.
    match Parsed::parse(data) {
        Ok(parsed) => {
            assert_eq!(&parsed.header.encode()[..], &data[..HEADER_LEN]);
            match parsed.open(&fixed_key()) {
                Ok(contents) => round_trip(&contents, parsed.header),
                Err(error) => check_error(&error),
            }
        }
        Err(error) => check_error(&error),
    }
    // As a decrypted body.
    match format::decode_plaintext(data) {
        Ok(contents) => round_trip(&contents, default_header()),
        Err(error) => check_error(&error),
    }
    // As version-N contents without the version bytes.
    for version in [0u16, 1, 2] {
        match format::decode_contents(version, data) {
            Ok(contents) => round_trip(&contents, default_header()),
            Err(error) => check_error(&error),
        }
    }
});
