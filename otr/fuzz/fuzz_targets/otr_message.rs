//! Feeds arbitrary bytes, as a peer would send them, to the otr crate's message layer.
//!
//! Input layout (see src/lib.rs): a byte choosing a fragment size, a flags byte (tight
//! reassembly limits), then the data.
//!
//! The data goes, whole, to `message::decode` and `tlv::decode_payload`, and, read as
//! (lossy) UTF-8, to `message::classify` and, line by line, to a `Reassembler`. Checked:
//! - nothing panics, overflows, or allocates without bound, whatever the bytes (an `Err`
//!   is the expected answer to garbage), and every error has a message;
//! - whatever decodes re-encodes to something that decodes to the same value: binary
//!   messages, their text form, data-message MAC input, TLV payloads, query, error and
//!   fragment texts;
//! - the reassembler never holds more than its byte cap, and a text split by `fragment`
//!   (at the input's size, in both versions) reassembles to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr::fragment::{self, Limits, Piece, Reassembler};
use otr::message::{self, Body, Classified, Version};
use otr::tlv;
use otr_fuzz::Input;

fn check_error(error: &dyn std::error::Error) {
    assert!(!error.to_string().is_empty(), "an error without a message: {error:?}");
}

fn check_binary(bytes: &[u8]) {
    let message = match message::decode(bytes) {
        Ok(message) => message,
        Err(error) => return check_error(&error),
    };
    let encoded = message::encode(&message);
    assert_eq!(message::decode(&encoded).as_ref(), Ok(&message), "re-encoded as {encoded:02x?}");
    if let Body::Data(data) = &message.body {
        let mac_input = data.mac_input(&message.header);
        assert_eq!(message::received_mac_input(&encoded), Ok(&mac_input[..]));
        let received = message::received_mac_input(bytes).expect("a data message has MAC input");
        assert!(bytes.starts_with(received));
    }
    assert_eq!(message::classify(&message::to_text(&encoded)), Ok(Classified::Encoded(encoded)));
}

fn check_payload(bytes: &[u8]) {
    let payload = match tlv::decode_payload(bytes) {
        Ok(payload) => payload,
        Err(error) => return check_error(&error),
    };
    let encoded = tlv::encode_payload(&payload.text, &payload.tlvs).expect("decoded records re-encode");
    assert_eq!(tlv::decode_payload(&encoded), Ok(payload));
}

fn check_text(text: &str) {
    match message::classify(text) {
        Err(error) => check_error(&error),
        Ok(Classified::Query(versions)) => {
            let query = message::query_message(versions, "fuzz@example.org");
            assert_eq!(message::classify(&query), Ok(Classified::Query(versions)));
        }
        Ok(Classified::Error(error)) => {
            assert_eq!(message::classify(&message::error_message(&error)), Ok(Classified::Error(error)));
        }
        Ok(Classified::Fragment(piece)) => {
            assert_eq!(message::classify(&piece.to_text()), Ok(Classified::Fragment(piece)));
        }
        Ok(Classified::Encoded(bytes)) => {
            check_binary(&bytes);
            assert_eq!(message::classify(&message::to_text(&bytes)), Ok(Classified::Encoded(bytes)));
        }
        Ok(Classified::Plaintext { text: shown, tag }) => {
            assert!(shown.len() <= text.len());
            if tag.is_none() {
                assert_eq!(shown, text);
            }
        }
    }
}

fn check_reassembly(text: &str, limits: Limits) {
    let mut reassembler = Reassembler::new(limits);
    for line in text.split('\n') {
        match Piece::parse(line) {
            Ok(piece) => match reassembler.push(piece) {
                Ok(Some(whole)) => {
                    assert!(!whole.is_empty() && whole.len() <= limits.max_bytes);
                    check_text(&whole);
                }
                Ok(None) => {}
                Err(error) => check_error(&error),
            },
            Err(error) => check_error(&error),
        }
        assert!(reassembler.held_bytes() <= limits.max_bytes);
    }
}

fn check_fragmenting(text: &str, max_fragment_len: usize) {
    for version in [Version::V2, Version::V3] {
        let fragments = match fragment::fragment(text, max_fragment_len, version, 0x100, 0x101) {
            Ok(fragments) => fragments,
            Err(error) => {
                check_error(&error);
                continue;
            }
        };
        if text.len() <= max_fragment_len {
            assert_eq!(fragments, [text]);
            continue;
        }
        assert!(fragments.iter().all(|fragment| fragment.len() <= max_fragment_len));
        let mut reassembler =
            Reassembler::new(Limits { max_bytes: usize::MAX, max_pieces: u16::MAX, max_senders: 1 });
        let mut whole = None;
        for fragment in &fragments {
            assert_eq!(whole, None, "complete before the last of {fragments:?}");
            let piece = Piece::parse(fragment).expect("our own fragment parses");
            whole = reassembler.push(piece).expect("our own fragments reassemble");
        }
        assert_eq!(whole.as_deref(), Some(text), "{version:?} fragments {fragments:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    check_binary(input.data);
    check_payload(input.data);
    let text = String::from_utf8_lossy(input.data);
    check_text(&text);
    check_reassembly(&text, input.limits());
    check_fragmenting(&text, input.max_fragment_len());
});
