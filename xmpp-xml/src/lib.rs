#![forbid(unsafe_code)]
//! The XMPP stream parser and writer: the code that reads bytes a hostile server chose.
//!
//! - [`StreamReader`] turns a transport into [`StreamEvent`]s: the stream header, then each
//!   top-level element ("stanza", RFC 6120 §4.1) as an [`Element`] tree, then the close. It
//!   accepts only what RFC 6120 §11 allows: no comments, processing instructions, DTDs or
//!   entities beyond the five predefined ones, UTF-8 only. Every resource it spends is capped by
//!   [`Limits`], and the byte cap is enforced on the raw input it consumes (`bounded.rs`), so an
//!   unterminated tag or endless text is cut off at the cap rather than buffered.
//! - [`Element::to_xml`], [`stream_header`] and [`STREAM_CLOSE`] write what the client sends; the
//!   writer escapes everything and replaces characters XML cannot carry, so no string it is given
//!   can break out of its element or attribute.
//!
//! Files: `element.rs` the tree, `reader.rs` the stream reader, `bounded.rs` the byte budget,
//! `writer.rs` the writer, `chars.rs` XML's character classes, `error.rs` errors and the RFC 6120
//! stream error each maps to, `tests.rs` the tests that cross files.

mod bounded;
mod chars;
mod element;
mod error;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use element::{Element, Node};
pub use error::{StreamErrorCondition, XmlError};
pub use reader::{StreamEvent, StreamReader};
pub use writer::{stream_header, STREAM_CLOSE};

/// The namespace of `<stream:stream>`, `<stream:features>` and `<stream:error>` (RFC 6120 §4.8.1).
pub const NS_STREAMS: &str = "http://etherx.jabber.org/streams";
/// The default namespace of a client-to-server stream: stanzas inherit it (RFC 6120 §4.8.3).
pub const NS_CLIENT: &str = "jabber:client";
/// The namespace bound to the `xml` prefix by definition (Namespaces in XML 1.0 §3), used by
/// `xml:lang`.
pub const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// What one stream may cost. A stream that goes past any of these ends with the matching
/// [`XmlError`] (RFC 6120 condition `policy-violation`).
///
/// The defaults bound the memory of one stanza to roughly `max_stanza_bytes` of input held while
/// it is parsed, plus a tree no larger than twice that (text and attribute values are never
/// longer than their escaped input; namespace URIs, which are copied into every element, are
/// counted against `max_stanza_bytes` once more), plus a fixed overhead per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Raw input bytes one top-level element may take, from its `<` to the `>` of its end tag.
    /// The same budget caps the stream header (with the XML declaration and whitespace before
    /// it) and each run of whitespace between stanzas, and separately the namespace URIs copied
    /// into a stanza's elements. Default 256 KiB: chat stanzas are a few KiB at most; the
    /// largest common ones, vCards carrying a base64 avatar, usually fit.
    pub max_stanza_bytes: usize,
    /// Elements open at once, counting `<stream:stream>` as 1 (so a stanza is at depth 2).
    /// Default 32: XMPP payloads nest a handful of levels.
    pub max_depth: usize,
    /// Attributes on one element, namespace declarations included. Default 64.
    pub max_attributes_per_element: usize,
    /// Bytes of one attribute value or namespace URI as sent (escaped). Default 16 KiB: a
    /// full-length JID (3071 bytes) fits even when heavily escaped.
    pub max_attribute_value_bytes: usize,
    /// Bytes of one element or attribute name, prefix included. Default 256.
    pub max_name_bytes: usize,
    /// Elements and text nodes in one stanza, itself included. Default 4096.
    pub max_nodes_per_stanza: usize,
    /// Namespace declarations in scope at once (stream header included). Default 64. Each
    /// element's namespace is found by searching them, so this also caps that work.
    pub max_namespace_declarations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stanza_bytes: 256 * 1024,
            max_depth: 32,
            max_attributes_per_element: 64,
            max_attribute_value_bytes: 16 * 1024,
            max_name_bytes: 256,
            max_nodes_per_stanza: 4096,
            max_namespace_declarations: 64,
        }
    }
}
