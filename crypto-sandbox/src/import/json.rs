//! Bounded JSON for the Go clients' configuration files (xmpp-client, CoyIM). serde_json parses
//! into a `Value` (it refuses nesting deeper than 128 on its own); the files are capped in size
//! before that, and the helpers below read fields with Go's `encoding/json` rules where they
//! matter: field names match case-insensitively (Go's Unmarshal does), and `[]byte` is standard
//! base64 with padding.

use base64::Engine;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::MAX_FILE_BYTES;

/// Parses a whole file as one JSON value.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!("it is {} bytes long, more than any such file", bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
    // serde_json's errors say where and what, never quote the input.
    serde_json::from_str(text).map_err(|error| format!("it is not valid JSON ({error})"))
}

/// A field of an object, matched as Go matches it: the exact name first, else case-insensitively.
pub fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| object.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value))
}

/// A field that must be a string when present (null counts as absent, as in Go).
pub fn string<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("its {name} is not a string")),
    }
}

pub fn boolean(object: &Map<String, Value>, name: &str) -> Result<bool, String> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(format!("its {name} is not true or false")),
    }
}

pub fn integer(object: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number.as_i64().map(Some).ok_or_else(|| format!("its {name} is not a whole number")),
        Some(_) => Err(format!("its {name} is not a number")),
    }
}

pub fn array<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], String> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(format!("its {name} is not a list")),
    }
}

/// A Go `[]byte` field: standard base64 with padding. The bytes may be a private key.
pub fn bytes_from_base64(text: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(Zeroizing::new)
        .map_err(|_| "it is not base64".to_string())
}

/// 40 hex digits, either case, as Go's hex.EncodeToString writes a SHA-1 fingerprint.
pub fn fingerprint_hex(text: &str) -> Option<[u8; 20]> {
    let text = text.trim().as_bytes();
    if text.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *slot = (high << 4 | low) as u8;
    }
    Some(out)
}

/// Hex as Go's hex.DecodeString reads it (even length, either case), for salts and nonces.
pub fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            Some((high << 4 | low) as u8)
        })
        .collect()
}

/// Overwrites every string in a parsed value (passwords, base64 keys) before it is dropped.
/// serde_json's own scratch buffers are not reached; the file's bytes themselves are wiped by
/// `SourceFiles`. Recursion is bounded by serde_json's nesting limit (128).
pub fn wipe(value: &mut Value) {
    use zeroize::Zeroize;
    match value {
        Value::String(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(object) => object.values_mut().for_each(wipe),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
