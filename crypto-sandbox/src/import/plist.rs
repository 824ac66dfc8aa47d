//! Apple's XML property lists, as Adium writes `Accounts.plist`, through the bounded XML reader.
//! Binary plists ("bplist00") are not parsed: the importer says how to convert them.
//! Format: Apple's PropertyList-1.0.dtd (plist > dict | array | string | integer | real | true |
//! false | data | date; a dict alternates key and value elements).

use super::xml::{self, Element, XmlError};

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
    #[error("it is a binary plist; convert it with plutil -convert xml1")]
    Binary,
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("it is not a property list: {0}")]
    Shape(&'static str),
}

pub fn parse(bytes: &[u8]) -> Result<Value, PlistError> {
    if bytes.starts_with(b"bplist") {
        return Err(PlistError::Binary);
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
