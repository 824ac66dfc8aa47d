//! Why a stream was refused, in words a user can read, and the RFC 6120 §4.9.3 stream error
//! condition to send the server before closing.
//!
//! No message here ever contains text the server sent: these strings reach the user interface,
//! and a server must not be able to choose what it shows (or inject terminal control sequences).

use std::fmt;

/// Why [`super::StreamReader`] stopped. Every error ends the stream: after one, the reader only
/// answers [`XmlError::Poisoned`].
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// An element (or the stream header, or a run of whitespace between stanzas) went past
    /// [`super::Limits::max_stanza_bytes`].
    #[error("the server sent an XML element larger than {}", Size(*.limit))]
    TooLarge { limit: usize },
    /// Elements nested deeper than [`super::Limits::max_depth`].
    #[error("the server sent XML nested more than {limit} levels deep")]
    TooDeep { limit: usize },
    /// An element with more than [`super::Limits::max_attributes_per_element`] attributes.
    #[error("the server sent an XML element with more than {limit} attributes")]
    TooManyAttributes { limit: usize },
    /// A stanza with more than [`super::Limits::max_nodes_per_stanza`] elements and texts.
    #[error("the server sent an XML element made of more than {limit} parts")]
    TooManyNodes { limit: usize },
    /// More than [`super::Limits::max_namespace_declarations`] namespaces in scope.
    #[error("the server declared more than {limit} XML namespaces at once")]
    TooManyNamespaces { limit: usize },
    /// A name longer than [`super::Limits::max_name_bytes`].
    #[error("the server sent an XML name longer than {}", Size(*.limit))]
    NameTooLong { limit: usize },
    /// An attribute value or namespace URI longer than
    /// [`super::Limits::max_attribute_value_bytes`].
    #[error("the server sent an XML attribute longer than {}", Size(*.limit))]
    ValueTooLong { limit: usize },
    /// XML that RFC 6120 §11.1 forbids in a stream: a comment, a processing instruction, a
    /// document type declaration, or an entity reference other than the five predefined ones.
    /// The text names which, as "a comment" and so on.
    #[error("the server sent {0}, which XMPP does not allow")]
    Forbidden(&'static str),
    /// Not well-formed XML. The text says what was wrong and where (a byte offset in the
    /// stream), never what the server sent.
    #[error("the server sent malformed XML: {0}")]
    Malformed(String),
    /// An element or attribute whose prefix no `xmlns:` declaration in scope binds.
    #[error("the server used an XML namespace prefix it had not declared")]
    UndeclaredPrefix,
    /// The first element was not `<stream:stream>` in the streams namespace.
    #[error("the server did not open an XMPP stream")]
    BadRoot,
    /// Bytes that are not UTF-8, or an XML declaration naming another encoding.
    #[error("the server sent text that is not UTF-8")]
    UnsupportedEncoding,
    /// The transport failed.
    #[error("could not read from the server: {0}")]
    Io(#[from] std::io::Error),
    /// The transport ended before `</stream:stream>`.
    #[error("the server closed the connection in the middle of the XMPP stream")]
    UnexpectedEof,
    /// [`super::StreamReader::into_inner`] found bytes read from the transport but not yet
    /// parsed. After `<proceed/>` the server must wait for the client's TLS handshake, so this is
    /// a server sending plaintext where only TLS may come (RFC 6120 §5.4.3.3).
    #[error("the server sent {bytes} unexpected bytes before the TLS handshake")]
    BufferedData { bytes: usize },
    /// The reader already failed, or a call to `next` was cancelled part-way through an element
    /// (so the bytes it had consumed are lost and the stream is out of step).
    #[error("the XMPP stream cannot be read after an earlier error")]
    Poisoned,
}

/// A defined condition of RFC 6120 §4.9.3, to send as
/// `<stream:error><CONDITION xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamErrorCondition {
    /// §4.9.3.2: a prefix that is not declared.
    BadNamespacePrefix,
    /// §4.9.3.10: the stream element's name or namespace is wrong.
    InvalidNamespace,
    /// §4.9.3.13: the XML is not well-formed.
    NotWellFormed,
    /// §4.9.3.14: a local limit was exceeded.
    PolicyViolation,
    /// §4.9.3.18: a comment, processing instruction, DTD or entity reference.
    RestrictedXml,
    /// §4.9.3.22: not UTF-8.
    UnsupportedEncoding,
}

impl StreamErrorCondition {
    /// The element name of the condition.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamErrorCondition::BadNamespacePrefix => "bad-namespace-prefix",
            StreamErrorCondition::InvalidNamespace => "invalid-namespace",
            StreamErrorCondition::NotWellFormed => "not-well-formed",
            StreamErrorCondition::PolicyViolation => "policy-violation",
            StreamErrorCondition::RestrictedXml => "restricted-xml",
            StreamErrorCondition::UnsupportedEncoding => "unsupported-encoding",
        }
    }
}

impl fmt::Display for StreamErrorCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl XmlError {
    /// The stream error to send the server before closing, or `None` when nothing should be
    /// sent: the connection failed or ended, or (for [`XmlError::BufferedData`]) it is waiting
    /// for a TLS handshake and plaintext XML would be meaningless to it.
    pub fn stream_error_condition(&self) -> Option<StreamErrorCondition> {
        match self {
            XmlError::TooLarge { .. }
            | XmlError::TooDeep { .. }
            | XmlError::TooManyAttributes { .. }
            | XmlError::TooManyNodes { .. }
            | XmlError::TooManyNamespaces { .. }
            | XmlError::NameTooLong { .. }
            | XmlError::ValueTooLong { .. } => Some(StreamErrorCondition::PolicyViolation),
            XmlError::Forbidden(_) => Some(StreamErrorCondition::RestrictedXml),
            XmlError::Malformed(_) => Some(StreamErrorCondition::NotWellFormed),
            XmlError::UndeclaredPrefix => Some(StreamErrorCondition::BadNamespacePrefix),
            XmlError::BadRoot => Some(StreamErrorCondition::InvalidNamespace),
            XmlError::UnsupportedEncoding => Some(StreamErrorCondition::UnsupportedEncoding),
            XmlError::Io(_)
            | XmlError::UnexpectedEof
            | XmlError::BufferedData { .. }
            | XmlError::Poisoned => None,
        }
    }
}

/// A byte count as a person would say it: "256 KiB", "3000 bytes".
struct Size(usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 byte"),
            n if n >= 1024 * 1024 && n % (1024 * 1024) == 0 => write!(f, "{} MiB", n / (1024 * 1024)),
            n if n >= 1024 && n % 1024 == 0 => write!(f, "{} KiB", n / 1024),
            n => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_plain_english_with_the_limit() {
        assert_eq!(
            XmlError::TooLarge { limit: 256 * 1024 }.to_string(),
            "the server sent an XML element larger than 256 KiB"
        );
        assert_eq!(
            XmlError::TooLarge { limit: 3000 }.to_string(),
            "the server sent an XML element larger than 3000 bytes"
        );
        assert_eq!(
            XmlError::ValueTooLong { limit: 1024 * 1024 }.to_string(),
            "the server sent an XML attribute longer than 1 MiB"
        );
        assert_eq!(
            XmlError::Forbidden("a comment").to_string(),
            "the server sent a comment, which XMPP does not allow"
        );
    }

    #[test]
    fn each_error_maps_to_its_rfc_6120_condition() {
        let cases: [(XmlError, Option<&str>); 8] = [
            (XmlError::TooDeep { limit: 32 }, Some("policy-violation")),
            (XmlError::Forbidden("a comment"), Some("restricted-xml")),
            (XmlError::Malformed("x".into()), Some("not-well-formed")),
            (XmlError::UndeclaredPrefix, Some("bad-namespace-prefix")),
            (XmlError::BadRoot, Some("invalid-namespace")),
            (XmlError::UnsupportedEncoding, Some("unsupported-encoding")),
            (XmlError::UnexpectedEof, None),
            (XmlError::BufferedData { bytes: 3 }, None),
        ];
        for (error, condition) in cases {
            assert_eq!(error.stream_error_condition().map(StreamErrorCondition::as_str), condition);
        }
    }
}
