//! Writes what the client sends: the stream header, elements, the stream close.
//!
//! Whatever strings an [`Element`] holds (a JID, a message body, a name), the output is
//! well-formed XML that the reader parses back into an equal element: values are escaped,
//! characters XML 1.0 cannot carry are replaced, names are made valid, and namespaces are
//! declared where they change. A server therefore never sees markup that a user, a contact or a
//! bug put inside a string.

use std::fmt::Write as _;

use super::chars::{is_xml_char, sanitize_ncname};
use super::element::{Element, Node};

/// Closes the stream opened by [`stream_header`] (RFC 6120 §4.4).
pub const STREAM_CLOSE: &str = "</stream:stream>";

/// The client's stream header (RFC 6120 §4.7) to `domain`, with the XML declaration before it.
pub fn stream_header(domain: &str) -> String {
    let mut header = String::from(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='",
    );
    push_escaped(&mut header, domain, Context::Attribute);
    header.push_str("' version='1.0' xml:lang='en'>");
    header
}

impl Element {
    /// This element as XML, to be written where `default_ns_in_scope` is the default namespace
    /// (`"jabber:client"` for a stanza inside a client stream). An `xmlns='…'` is written on
    /// each element whose namespace differs from its parent's, and only there.
    ///
    /// Names are written unprefixed. A name that is not a valid XML name without a colon has
    /// each offending character replaced with `_`, except attribute names `xml:…` (for
    /// `xml:lang`). Attributes called `xmlns` or `xmlns:…` are left out (the namespace is
    /// `self.namespace`), and so is any attribute whose name repeats an earlier one's, which
    /// [`Element::attr`] could not see either.
    pub fn to_xml(&self, default_ns_in_scope: &str) -> String {
        let mut out = String::new();
        write_element(&mut out, self, default_ns_in_scope);
        out
    }
}

/// Recursive: the trees it is given are the client's own, a few levels deep, or the reader's,
/// which `Limits::max_depth` keeps shallow.
fn write_element(out: &mut String, element: &Element, parent_ns: &str) {
    let name = sanitize_ncname(&element.name);
    out.push('<');
    out.push_str(&name);
    if element.namespace != parent_ns {
        out.push_str(" xmlns='");
        push_escaped(out, &element.namespace, Context::Attribute);
        out.push('\'');
    }
    let mut written: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(element.attributes.len());
    for (key, value) in &element.attributes {
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let key = match key.strip_prefix("xml:") {
            Some(local) if super::chars::is_ncname(local) => std::borrow::Cow::Borrowed(key.as_str()),
            _ => sanitize_ncname(key),
        };
        if written.contains(&key) {
            continue;
        }
        out.push(' ');
        out.push_str(&key);
        out.push_str("='");
        push_escaped(out, value, Context::Attribute);
        out.push('\'');
        written.push(key);
    }
    if element.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for child in &element.children {
        match child {
            Node::Element(child) => write_element(out, child, &element.namespace),
            Node::Text(text) => push_escaped(out, text, Context::Text),
        }
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Text,
    Attribute,
}

/// Appends `s` escaped for `context`:
/// - `&`, `<`, `>` always, and `"` and `'` in attributes, as the predefined entities (RFC 6120
///   §11.1 forbids sending any of them unescaped);
/// - in attributes, tab, line feed and carriage return as character references, since a parser
///   turns literal ones into spaces (XML 1.0 §3.3.3); in text, carriage return likewise, since a
///   parser turns it into a line feed (§2.11);
/// - a character XML 1.0 cannot carry at all (C0 controls other than those three, U+FFFE,
///   U+FFFF) as U+FFFD. Replaced rather than refused, because the text is often a user's (a
///   message pasted from a terminal) and failing the send would lose it over an invisible
///   character; replaced rather than dropped, so that the change shows and cannot silently join
///   two words or identifiers. Sending it raw would make the server end the stream as
///   not-well-formed.
fn push_escaped(out: &mut String, s: &str, context: Context) {
    let attribute = context == Context::Attribute;
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\t' | '\n' if attribute => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_header_escapes_the_domain() {
        assert_eq!(
            stream_header("example.org"),
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0' \
             xml:lang='en'>"
        );
        let evil = stream_header("x' from='y'><iq/>");
        assert!(evil.contains("to='x&apos; from=&apos;y&apos;&gt;&lt;iq/&gt;'"), "{evil}");
        assert_eq!(STREAM_CLOSE, "</stream:stream>");
    }

    #[test]
    fn xmlns_is_written_only_where_the_namespace_changes() {
        let iq = Element::new("iq", "jabber:client").with_attr("type", "set").with_child(
            Element::new("bind", "urn:ietf:params:xml:ns:xmpp-bind")
                .with_child(Element::new("resource", "urn:ietf:params:xml:ns:xmpp-bind").with_text("r")),
        );
        assert_eq!(
            iq.to_xml("jabber:client"),
            "<iq type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <resource>r</resource></bind></iq>"
        );
        assert_eq!(Element::new("a", "").to_xml(""), "<a/>");
        assert_eq!(Element::new("a", "").to_xml("jabber:client"), "<a xmlns=''/>");
        assert_eq!(Element::new("a", "jabber:client").to_xml(""), "<a xmlns='jabber:client'/>");
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        let message = Element::new("message", "jabber:client")
            .with_attr("to", "a&b<c>\"d'")
            .with_attr("x", "tab\tnl\ncr\r")
            .with_text("1 < 2 && 3 > 2 ]]> \"q\" 'a'\r\n");
        assert_eq!(
            message.to_xml("jabber:client"),
            "<message to='a&amp;b&lt;c&gt;&quot;d&apos;' x='tab&#9;nl&#10;cr&#13;'>\
             1 &lt; 2 &amp;&amp; 3 &gt; 2 ]]&gt; \"q\" 'a'&#13;\n</message>"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_become_u_fffd() {
        let element = Element::new("body", "jabber:client")
            .with_attr("a", "x\u{0}y\u{FFFF}")
            .with_text("bell\u{7}\u{1B}[31m\u{FFFE}ok\u{85}");
        assert_eq!(
            element.to_xml("jabber:client"),
            "<body a='x\u{FFFD}y\u{FFFD}'>bell\u{FFFD}\u{FFFD}[31m\u{FFFD}ok\u{85}</body>"
        );
    }

    #[test]
    fn bad_names_are_sanitized_and_declarations_and_repeats_dropped() {
        let element = Element::new("a><b", "urn:x")
            .with_attr("xmlns", "urn:evil")
            .with_attr("xmlns:p", "urn:evil")
            .with_attr("xml:lang", "en")
            .with_attr("p:q", "1")
            .with_attr("id", "first")
            .with_attr("id", "second")
            .with_attr("x y", "2")
            .with_attr("", "3");
        assert_eq!(element.to_xml("urn:x"), "<a__b xml:lang='en' p_q='1' id='first' x_y='2' _='3'/>");
    }
}
