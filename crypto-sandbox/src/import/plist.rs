//! Apple's property lists, as Adium writes `Accounts.plist`: binary ("bplist00", what Adium
//! normally writes) through the `plist` crate's event reader, and XML through the bounded XML
//! reader. Format: Apple's PropertyList-1.0.dtd (plist > dict | array | string | integer | real |
//! true | false | data | date; a dict alternates key and value elements), and CoreFoundation's
//! binary layout (CFBinaryPList.c), the one `plist::stream::BinaryReader` reads.
//!
//! The binary reader allocates no more than the input's length and refuses reference cycles; this
//! module bounds the rest: the input's size, the nesting depth, and the number of values (a binary
//! plist may point at one object from many places, which would otherwise expand without limit).

use std::io::Cursor;

use plist::stream::{BinaryReader, Event};

use super::xml::{self, Element, XmlError};

/// No Accounts.plist comes near this; a larger binary plist is refused unread.
pub const MAX_BINARY_BYTES: usize = 1 << 20;
/// The most values one plist may hold, counted as the binary reader yields them.
pub const MAX_VALUES: usize = xml::MAX_ELEMENTS;

#[derive(Debug)]
pub enum Value {
    Dict(Vec<(String, Value)>),
    Array(Vec<Value>),
    String(String),
    Integer(i64),
    Bool,
    /// real, data and date: nothing we import is one.
    Other,
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(entries) => entries.iter().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    /// A string, or an integer written as one (Adium has written ObjectIDs both ways).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::String(text) => Some(text.clone()),
            Value::Integer(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlistError {
    #[error("it is a binary property list of {0} bytes, more than the {MAX_BINARY_BYTES} bytes any Accounts.plist holds")]
    TooLarge(usize),
    #[error("it is not a valid binary property list ({0})")]
    Binary(String),
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("it is not a property list: {0}")]
    Shape(&'static str),
}

pub fn parse(bytes: &[u8]) -> Result<Value, PlistError> {
    if bytes.starts_with(b"bplist") {
        return parse_binary(bytes);
    }
    let root = xml::parse(bytes)?;
    if root.name != "plist" {
        return Err(PlistError::Shape("its root element is not <plist>"));
    }
    let mut values = root.children.iter();
    let value = values.next().ok_or(PlistError::Shape("<plist> is empty"))?;
    if values.next().is_some() {
        return Err(PlistError::Shape("<plist> holds more than one value"));
    }
    value_of(value)
}

// The XML reader caps the depth, so this recursion is bounded by xml::MAX_DEPTH.
fn value_of(element: &Element) -> Result<Value, PlistError> {
    Ok(match element.name.as_str() {
        "dict" => {
            let mut entries = Vec::new();
            let mut children = element.children.iter();
            while let Some(key) = children.next() {
                if key.name != "key" {
                    return Err(PlistError::Shape("a <dict> holds a value where a <key> belongs"));
                }
                let value = children.next().ok_or(PlistError::Shape("a <dict> ends with a <key> and no value"))?;
                entries.push((key.text.clone(), value_of(value)?));
            }
            Value::Dict(entries)
        }
        "array" => Value::Array(element.children.iter().map(value_of).collect::<Result<_, _>>()?),
        "string" => Value::String(element.text.clone()),
        "integer" => Value::Integer(element.text.trim().parse().map_err(|_| PlistError::Shape("an <integer> is not a whole number"))?),
        "true" | "false" => Value::Bool,
        "real" | "data" | "date" => Value::Other,
        _ => return Err(PlistError::Shape("it holds an element that is not a plist value")),
    })
}

/// A collection being filled while the binary reader's events arrive.
enum Open {
    Array(Vec<Value>),
    /// Entries, and the key read whose value is still to come.
    Dict(Vec<(String, Value)>, Option<String>),
}

fn parse_binary(bytes: &[u8]) -> Result<Value, PlistError> {
    if bytes.len() > MAX_BINARY_BYTES {
        return Err(PlistError::TooLarge(bytes.len()));
    }
    // An explicit stack, never recursion: the depth is bounded by xml::MAX_DEPTH.
    let mut open: Vec<Open> = Vec::new();
    for (count, event) in BinaryReader::new(Cursor::new(bytes)).enumerate() {
        if count >= MAX_VALUES {
            return Err(PlistError::Shape("it holds more values than any Accounts.plist"));
        }
        let event = event.map_err(|error| PlistError::Binary(error.to_string()))?;
        let value = match event {
            Event::StartArray(_) | Event::StartDictionary(_) if open.len() >= xml::MAX_DEPTH => {
                return Err(PlistError::Shape("its values are nested too deeply"));
            }
            Event::StartArray(_) => {
                open.push(Open::Array(Vec::new()));
                continue;
            }
            Event::StartDictionary(_) => {
                open.push(Open::Dict(Vec::new(), None));
                continue;
            }
            Event::EndCollection => match open.pop() {
                Some(Open::Array(items)) => Value::Array(items),
                Some(Open::Dict(entries, None)) => Value::Dict(entries),
                Some(Open::Dict(_, Some(_))) => return Err(PlistError::Shape("a dictionary ends with a key and no value")),
                None => return Err(PlistError::Shape("a collection ends that never began")),
            },
            Event::String(text) => Value::String(text.into_owned()),
            Event::Integer(number) => number.as_signed().map_or(Value::Other, Value::Integer),
            Event::Boolean(_) => Value::Bool,
            Event::Data(_) | Event::Date(_) | Event::Real(_) | Event::Uid(_) => Value::Other,
            // The event list is not exhaustive in the crate's API.
            _ => Value::Other,
        };
        match open.last_mut() {
            // The root value is whole: nothing after it is read.
            None => return Ok(value),
            Some(Open::Array(items)) => items.push(value),
            Some(Open::Dict(entries, key)) => match key.take() {
                Some(name) => entries.push((name, value)),
                None => match value {
                    Value::String(name) => *key = Some(name),
                    _ => return Err(PlistError::Shape("a dictionary's key is not a string")),
                },
            },
        }
    }
    Err(PlistError::Shape("it ends before its value does"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `plistlib.dumps({"Accounts": [{"ObjectID": "1", "UID": "a@b.org", "n": 7, "t": True}], "TopAccountID": 2}, fmt=plistlib.FMT_BINARY)` (Debian's python3).
    const SMALL_BINARY: &str = "62706c6973743030d20102030d584163636f756e74735c546f704163636f756e744944a104d405060708090a0b0c584f626a656374494453554944516e51745131576140622e6f72671007091002080d1623252e373b3d3f41494b4c0000000000000101000000000000000e0000000000000000000000000000004e";

    fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap()).collect()
    }

    #[test]
    fn a_binary_plist_reads_as_the_xml_one_would() {
        let root = parse(&bytes(SMALL_BINARY)).unwrap();
        let Some(Value::Array(accounts)) = root.get("Accounts") else { panic!("{root:?}") };
        assert_eq!(accounts[0].get("ObjectID").and_then(Value::as_text).as_deref(), Some("1"));
        assert_eq!(accounts[0].get("UID").and_then(Value::as_text).as_deref(), Some("a@b.org"));
        assert_eq!(accounts[0].get("n").and_then(Value::as_text).as_deref(), Some("7"));
        assert!(matches!(root.get("TopAccountID"), Some(Value::Integer(2))));
    }

    #[test]
    fn damaged_binary_plists_are_refused_in_words() {
        let good = bytes(SMALL_BINARY);
        for cut in [8, 20, good.len() - 1] {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        for at in 8..good.len() {
            let mut flipped = good.clone();
            flipped[at] ^= 0xff;
            let _ = parse(&flipped);
        }
        let mut huge = b"bplist00".to_vec();
        huge.resize(MAX_BINARY_BYTES + 1, 0);
        assert!(matches!(parse(&huge), Err(PlistError::TooLarge(_))));
    }
}
