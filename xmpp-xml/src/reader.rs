//! The stream reader: bytes from the server in, [`StreamEvent`]s out.
//!
//! quick-xml splits the input into events (tags, texts, references); everything that decides
//! what is accepted is here: the RFC 6120 §11 restrictions, every limit, namespace resolution
//! (done here rather than by quick-xml's `NsReader` so that the attribute count is enforced
//! before any declaration is processed, and so that Namespaces in XML 1.0 rules quick-xml
//! relaxes, such as `xmlns:p=''`, are refused), entity and character references, and the
//! rules on characters, names and end-of-line handling that make a parsed tree survive a write
//! and a re-read unchanged.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use quick_xml::errors::{Error as QuickXmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use tokio::io::AsyncRead;

use super::bounded::BoundedReader;
use super::chars::{is_name, is_xml_char, is_xml_whitespace, split_qname};
use super::element::{Element, Node};
use super::{Limits, XmlError, NS_STREAMS, NS_XML};

/// What the server's stream holds, in order: one `StreamOpen`, any number of `Stanza`s, one
/// `StreamClose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// `<stream:stream …>` (RFC 6120 §4.7): its attributes (`id`, `from`, `to`, `version`,
    /// `xml:lang`, …) as [`Element::attributes`] would hold them.
    StreamOpen { attributes: Vec<(String, String)> },
    /// A complete child of `<stream:stream>`: a stanza, or `<stream:features>`, `<proceed/>`,
    /// a SASL element, `<stream:error>`. Its namespace is resolved as written, so a stanza
    /// without its own declaration is in the stream's default namespace (`jabber:client`).
    Stanza(Element),
    /// `</stream:stream>` (RFC 6120 §4.4). Later calls return it again without reading.
    StreamClose,
}

/// Reads one XMPP stream from `R`, within [`Limits`].
///
/// [`StreamReader::next`] is not cancellation safe: dropping its future part-way through an
/// element loses the bytes already consumed. The reader notices and answers
/// [`XmlError::Poisoned`] from then on, but the stream is lost, so run it in a task of its own
/// (sending events over a channel) rather than racing it in `select!` against a timer.
pub struct StreamReader<R> {
    xml: Reader<BoundedReader<R>>,
    /// quick-xml's event buffer, reused; no longer than `max_stanza_bytes` plus one read.
    buffer: Vec<u8>,
    tree: TreeBuilder,
    /// Set while `next` runs: found set on entry, it means a previous `next` was dropped.
    busy: bool,
}

impl<R: AsyncRead + Unpin> StreamReader<R> {
    /// A reader for a new stream on `transport`: the initial one, or the one restarted after
    /// STARTTLS or SASL (RFC 6120 §5.3.1, §6.4.6), each on a new `StreamReader`.
    pub fn new(transport: R, limits: Limits) -> Self {
        Self::on(BoundedReader::new(transport, limits.max_stanza_bytes), limits)
    }

    /// The next event of the stream. Every error is final: the stream is over, and the caller
    /// should send [`XmlError::stream_error_condition`] (if any) and close the connection.
    pub async fn next(&mut self) -> Result<StreamEvent, XmlError> {
        if self.busy {
            self.tree.phase = Phase::Failed;
            return Err(XmlError::Poisoned);
        }
        match self.tree.phase {
            Phase::Failed => return Err(XmlError::Poisoned),
            Phase::Closed => return Ok(StreamEvent::StreamClose),
            Phase::ClosingEmptyRoot => {
                self.tree.phase = Phase::Closed;
                return Ok(StreamEvent::StreamClose);
            }
            Phase::Prolog { .. } | Phase::Open => {}
        }
        self.busy = true;
        let result = self.read_until_event().await;
        self.busy = false;
        if result.is_err() {
            self.tree.phase = Phase::Failed;
        }
        result
    }

    /// The transport, to wrap in TLS after `<proceed/>` and start a new `StreamReader` on.
    /// Fails with [`XmlError::BufferedData`] if the server sent bytes that were read but not
    /// yet parsed (after `<proceed/>` it must wait for the client's TLS handshake), and with
    /// [`XmlError::Poisoned`] if a cancelled `next` lost bytes. Either way the connection is to
    /// be closed; dropping the error's reader does that.
    pub fn into_inner(self) -> Result<R, XmlError> {
        if self.busy {
            return Err(XmlError::Poisoned);
        }
        self.xml.into_inner().into_inner()
    }

    /// A reader for the new stream on the same transport, for the restart after SASL success
    /// (RFC 6120 §6.4.6), where no TLS handshake intervenes: bytes already read belong to the
    /// new stream and are kept. Fails with [`XmlError::Poisoned`] if this stream had failed.
    pub fn restart(self) -> Result<Self, XmlError> {
        if self.busy || self.tree.phase == Phase::Failed {
            return Err(XmlError::Poisoned);
        }
        let limits = self.tree.limits;
        let mut source = self.xml.into_inner();
        source.restart_stream();
        Ok(Self::on(source, limits))
    }

    fn on(source: BoundedReader<R>, limits: Limits) -> Self {
        let mut xml = Reader::from_reader(source);
        let config = xml.config_mut();
        // Strict XML: end tags must match, a lone `&` is an error, `<a/>` stays one event so the
        // tree knows it had no content, and text is kept exactly as sent.
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
        StreamReader { xml, buffer: Vec::new(), tree: TreeBuilder::new(limits), busy: false }
    }

    async fn read_until_event(&mut self) -> Result<StreamEvent, XmlError> {
        loop {
            self.buffer.clear();
            let event = match self.xml.read_event_into_async(&mut self.buffer).await {
                Ok(event) => event,
                Err(error) => return Err(self.explain(error)),
            };
            if let Some(cut_short) = cut_short(self.xml.get_ref(), &self.tree.limits) {
                return Err(cut_short);
            }
            let at = self.xml.get_ref().consumed();
            match self.tree.handle(event, at)? {
                Step::Continue => {}
                Step::ContinueWithNewBudget => self.xml.get_mut().reset_budget(),
                Step::Emit(event) => {
                    if !matches!(event, StreamEvent::StreamClose) {
                        self.xml.get_mut().reset_budget();
                    }
                    return Ok(event);
                }
            }
        }
    }
}

impl<R> StreamReader<R> {
    /// The error to report for one of quick-xml's.
    fn explain(&self, error: QuickXmlError) -> XmlError {
        if let Some(what) = refused_from_its_start(&self.buffer) {
            return XmlError::Forbidden(what);
        }
        if let Some(cut_short) = cut_short(self.xml.get_ref(), &self.tree.limits) {
            return cut_short;
        }
        from_quick_xml(error, self.xml.get_ref().consumed())
    }
}

/// The error for an event that met the end of the budget or of the input: it was cut short,
/// and that, not whatever quick-xml made of the truncated bytes, is the error.
fn cut_short<R>(source: &BoundedReader<R>, limits: &Limits) -> Option<XmlError> {
    if source.refused() {
        Some(XmlError::TooLarge { limit: limits.max_stanza_bytes })
    } else if source.eof() {
        Some(XmlError::UnexpectedEof)
    } else {
        None
    }
}

/// Where in the stream the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before `<stream:stream>`; `seen_anything` once any event has been read, after which an
    /// XML declaration is no longer allowed.
    Prolog {
        seen_anything: bool,
    },
    /// Inside `<stream:stream>`.
    Open,
    /// The server sent `<stream:stream …/>`: the next call reports the close.
    ClosingEmptyRoot,
    Closed,
    Failed,
}

enum Step {
    Continue,
    /// Whitespace between stanzas ended: it does not count against the next stanza.
    ContinueWithNewBudget,
    Emit(StreamEvent),
}

/// A namespace declaration in scope.
struct Binding {
    /// `None` for the default namespace.
    prefix: Option<String>,
    /// `""` undeclares the default namespace.
    uri: String,
    /// The depth of the element that declared it (the stream root is 1).
    depth: usize,
}

/// Builds elements from events, within limits.
struct TreeBuilder {
    limits: Limits,
    phase: Phase,
    /// Innermost last.
    bindings: Vec<Binding>,
    /// The stanza being read, outermost first; empty between stanzas.
    open: Vec<Element>,
    /// Nodes of the current stanza so far.
    nodes: usize,
    /// Bytes of namespace URI copied into the current stanza's elements so far.
    namespace_bytes: usize,
}

impl TreeBuilder {
    fn new(limits: Limits) -> Self {
        TreeBuilder {
            limits,
            phase: Phase::Prolog { seen_anything: false },
            bindings: Vec::new(),
            open: Vec::new(),
            nodes: 0,
            namespace_bytes: 0,
        }
    }

    /// The depth of the current stanza's innermost open element; 1 between stanzas.
    fn depth(&self) -> usize {
        1 + self.open.len()
    }

    fn handle(&mut self, event: Event<'_>, at: u64) -> Result<Step, XmlError> {
        match self.phase {
            Phase::Prolog { seen_anything } => {
                self.phase = Phase::Prolog { seen_anything: true };
                self.handle_prolog(event, seen_anything, at)
            }
            Phase::Open if self.open.is_empty() => self.handle_between_stanzas(event, at),
            Phase::Open => self.handle_in_stanza(event, at),
            // `next` does not read in these phases.
            Phase::ClosingEmptyRoot | Phase::Closed | Phase::Failed => Err(XmlError::Poisoned),
        }
    }

    fn handle_prolog(&mut self, event: Event<'_>, seen_anything: bool, at: u64) -> Result<Step, XmlError> {
        match event {
            Event::Decl(declaration) if !seen_anything => {
                check_declaration(&declaration, at)?;
                Ok(Step::Continue)
            }
            Event::Text(text) if is_xml_whitespace(&text) => Ok(Step::Continue),
            Event::Start(start) => {
                let attributes = self.open_root(&start, at)?;
                self.phase = Phase::Open;
                Ok(Step::Emit(StreamEvent::StreamOpen { attributes }))
            }
            Event::Empty(start) => {
                let attributes = self.open_root(&start, at)?;
                self.bindings.clear();
                self.phase = Phase::ClosingEmptyRoot;
                Ok(Step::Emit(StreamEvent::StreamOpen { attributes }))
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                Err(malformed("text before the stream header", at))
            }
            other => forbidden_or_end(other, at),
        }
    }

    fn open_root(&mut self, start: &BytesStart<'_>, at: u64) -> Result<Vec<(String, String)>, XmlError> {
        let root = self.open_element(start, 1, at)?;
        if !root.is("stream", NS_STREAMS) {
            return Err(XmlError::BadRoot);
        }
        Ok(root.attributes)
    }

    fn handle_between_stanzas(&mut self, event: Event<'_>, at: u64) -> Result<Step, XmlError> {
        match event {
            // Whitespace keepalives (RFC 6120 §4.6.1).
            Event::Text(text) if is_xml_whitespace(&text) => Ok(Step::ContinueWithNewBudget),
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                Err(malformed("text between stanzas", at))
            }
            Event::Start(start) => {
                self.nodes = 0;
                self.namespace_bytes = 0;
                let element = self.open_element(&start, 2, at)?;
                self.open.push(element);
                Ok(Step::Continue)
            }
            Event::Empty(start) => {
                self.nodes = 0;
                self.namespace_bytes = 0;
                let element = self.open_element(&start, 2, at)?;
                self.close_scope(2);
                Ok(Step::Emit(StreamEvent::Stanza(element)))
            }
            Event::End(_) => {
                // quick-xml checked that it closes `<stream:stream>` as written.
                self.bindings.clear();
                self.phase = Phase::Closed;
                Ok(Step::Emit(StreamEvent::StreamClose))
            }
            other => forbidden_or_end(other, at),
        }
    }

    fn handle_in_stanza(&mut self, event: Event<'_>, at: u64) -> Result<Step, XmlError> {
        match event {
            Event::Start(start) => {
                let element = self.open_element(&start, self.depth() + 1, at)?;
                self.open.push(element);
                Ok(Step::Continue)
            }
            Event::Empty(start) => {
                let depth = self.depth() + 1;
                let element = self.open_element(&start, depth, at)?;
                self.close_scope(depth);
                self.append(Node::Element(element));
                Ok(Step::Continue)
            }
            Event::End(_) => {
                // quick-xml checked that the end tag matches, so something is open.
                let depth = self.depth();
                self.close_scope(depth);
                let Some(element) = self.open.pop() else {
                    return Err(malformed("an end tag with no start tag", at));
                };
                if self.open.is_empty() {
                    return Ok(Step::Emit(StreamEvent::Stanza(element)));
                }
                self.append(Node::Element(element));
                Ok(Step::Continue)
            }
            Event::Text(text) => {
                if text.contains("]]>") {
                    return Err(malformed("']]>' in text", at));
                }
                let text = normalize_text(&text, at)?;
                self.append_text(&text)
            }
            Event::CData(cdata) => {
                let text = normalize_text(&cdata, at)?;
                self.append_text(&text)
            }
            Event::GeneralRef(reference) => {
                let c = resolve_reference(&reference, at)?;
                self.append_text(c.encode_utf8(&mut [0; 4]))
            }
            other => forbidden_or_end(other, at),
        }
    }

    /// Appends a finished child to the innermost open element (the caller counted it).
    fn append(&mut self, node: Node) {
        if let Some(parent) = self.open.last_mut() {
            parent.children.push(node);
        }
    }

    fn append_text(&mut self, text: &str) -> Result<Step, XmlError> {
        if text.is_empty() {
            return Ok(Step::Continue);
        }
        let Some(parent) = self.open.last_mut() else {
            return Ok(Step::Continue);
        };
        if let Some(Node::Text(last)) = parent.children.last_mut() {
            last.push_str(text);
            return Ok(Step::Continue);
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes_per_stanza {
            return Err(XmlError::TooManyNodes { limit: self.limits.max_nodes_per_stanza });
        }
        parent.children.push(Node::Text(text.to_owned()));
        Ok(Step::Continue)
    }

    /// Checks a start tag at `depth` and makes its element (without children), declaring its
    /// namespaces: they stay in scope until [`TreeBuilder::close_scope`] for that depth.
    fn open_element(&mut self, start: &BytesStart<'_>, depth: usize, at: u64) -> Result<Element, XmlError> {
        let limits = self.limits;
        if depth > limits.max_depth {
            return Err(XmlError::TooDeep { limit: limits.max_depth });
        }
        if depth > 1 {
            self.nodes += 1;
            if self.nodes > limits.max_nodes_per_stanza {
                return Err(XmlError::TooManyNodes { limit: limits.max_nodes_per_stanza });
            }
        }
        let qname = start.name();
        let (prefix, local) = check_name(qname.as_ref(), &limits, at)?;
        if prefix == Some("xml") {
            // Legal XML but meaningless (the namespace is for attributes such as `xml:lang`),
            // and not expressible without a prefix, so the writer could not reproduce it.
            return Err(malformed("an element in the reserved xml namespace", at));
        }

        // First every attribute, counted before anything else is done with them.
        let mut raw: Vec<(&str, Option<&str>, &str, String)> = Vec::new();
        for attribute in start.attributes() {
            if raw.len() >= limits.max_attributes_per_element {
                return Err(XmlError::TooManyAttributes { limit: limits.max_attributes_per_element });
            }
            let attribute = attribute.map_err(|_| malformed("a badly written attribute", at))?;
            let key = attribute.key.0;
            let (key_prefix, key_local) = check_name(key, &limits, at)?;
            if attribute.value.len() > limits.max_attribute_value_bytes {
                return Err(XmlError::ValueTooLong { limit: limits.max_attribute_value_bytes });
            }
            let value = normalize_attribute(&attribute.value, at)?;
            raw.push((key, key_prefix, key_local, value));
        }

        // Then the namespace declarations among them.
        for (_, key_prefix, key_local, value) in &raw {
            let declared = match (key_prefix, key_local) {
                (None, &"xmlns") => None,
                (Some("xmlns"), prefix) => Some(*prefix),
                _ => continue,
            };
            self.declare(declared, value, depth, at)?;
        }

        // Then names resolved in that scope.
        let namespace = self.resolve(prefix)?.to_owned();
        self.namespace_bytes = self.namespace_bytes.saturating_add(namespace.len());
        if depth > 1 && self.namespace_bytes > limits.max_stanza_bytes {
            return Err(XmlError::TooLarge { limit: limits.max_stanza_bytes });
        }
        let mut attributes = Vec::with_capacity(raw.len());
        let mut qualified: Vec<(&str, &str)> = Vec::new();
        for (key, key_prefix, key_local, value) in raw {
            match key_prefix {
                None if key_local == "xmlns" => {}
                Some("xmlns") => {}
                None => attributes.push((key_local.to_owned(), value)),
                Some("xml") => attributes.push((key.to_owned(), value)),
                // In a namespace the tree cannot name: left out, so that `p:to` cannot pass
                // for `to`. Still checked, as Namespaces in XML requires.
                Some(other) => {
                    let uri = self.resolve(Some(other))?;
                    if qualified.iter().any(|&(u, l)| u == uri && l == key_local) {
                        return Err(malformed("the same attribute twice", at));
                    }
                    qualified.push((uri, key_local));
                }
            }
        }
        Ok(Element { name: local.to_owned(), namespace, attributes, children: Vec::new() })
    }

    fn declare(&mut self, prefix: Option<&str>, uri: &str, depth: usize, at: u64) -> Result<(), XmlError> {
        // Namespaces in XML 1.0 §3: `xml` may only be (re)bound to its own URI, `xmlns` never,
        // neither URI to any other prefix, and a prefix cannot be undeclared.
        match prefix {
            Some("xml") if uri == NS_XML => return Ok(()),
            Some("xml") | Some("xmlns") => return Err(malformed("a reserved namespace prefix declared", at)),
            Some(_) if uri.is_empty() => return Err(malformed("a namespace prefix bound to nothing", at)),
            _ if uri == NS_XML || uri == "http://www.w3.org/2000/xmlns/" => {
                return Err(malformed("a reserved namespace declared", at));
            }
            _ => {}
        }
        if self.bindings.len() >= self.limits.max_namespace_declarations {
            return Err(XmlError::TooManyNamespaces { limit: self.limits.max_namespace_declarations });
        }
        self.bindings.push(Binding { prefix: prefix.map(str::to_owned), uri: uri.to_owned(), depth });
        Ok(())
    }

    /// The namespace URI `prefix` names here: `None` asks for the default, `""` if none.
    fn resolve(&self, prefix: Option<&str>) -> Result<&str, XmlError> {
        if prefix == Some("xml") {
            return Ok(NS_XML);
        }
        match self.bindings.iter().rev().find(|binding| binding.prefix.as_deref() == prefix) {
            Some(binding) => Ok(&binding.uri),
            None if prefix.is_none() => Ok(""),
            None => Err(XmlError::UndeclaredPrefix),
        }
    }

    /// Ends the scope of the element at `depth`.
    fn close_scope(&mut self, depth: usize) {
        while self.bindings.last().is_some_and(|binding| binding.depth >= depth) {
            self.bindings.pop();
        }
    }
}

/// A DOCTYPE or comment that quick-xml has begun to read (its event buffer then starts with
/// the markup): refused as soon as it begins, whatever it holds. quick-xml scans either to
/// its end before reporting it (within the byte budget), and where its DTD scanner finds the
/// end of an internal subset can depend on how the input was split (the fuzzer found this with
/// a comment inside the subset); refusing at the start makes the outcome the same however the
/// server splits its bytes, and never depends on that scanner's view of the content.
fn refused_from_its_start(buffer: &[u8]) -> Option<&'static str> {
    match buffer {
        [b'<', b'!', b'D' | b'd', ..] => Some(DTD),
        [b'<', b'!', b'-', ..] => Some(COMMENT),
        _ => None,
    }
}

const DTD: &str = "a document type declaration (DTD)";
const COMMENT: &str = "a comment";

/// `<?xml version='1.0'?>`, optionally with `encoding` (which must be UTF-8, RFC 6120 §11.6)
/// and `standalone`.
fn check_declaration(declaration: &quick_xml::events::BytesDecl<'_>, at: u64) -> Result<(), XmlError> {
    match declaration.version() {
        Ok(version) if version == "1.0" => {}
        _ => return Err(malformed("an XML declaration without version 1.0", at)),
    }
    match declaration.encoding() {
        None => Ok(()),
        Some(Ok(encoding)) if encoding.eq_ignore_ascii_case("utf-8") => Ok(()),
        Some(Ok(_)) => Err(XmlError::UnsupportedEncoding),
        Some(Err(_)) => Err(malformed("a badly written XML declaration", at)),
    }
}

/// An element or attribute name: short enough, and a valid `QName`.
fn check_name<'a>(name: &'a str, limits: &Limits, at: u64) -> Result<(Option<&'a str>, &'a str), XmlError> {
    if name.len() > limits.max_name_bytes {
        return Err(XmlError::NameTooLong { limit: limits.max_name_bytes });
    }
    split_qname(name).ok_or_else(|| malformed("an invalid element or attribute name", at))
}

/// The error for an event that has no place in a stream at all.
fn forbidden_or_end(event: Event<'_>, at: u64) -> Result<Step, XmlError> {
    Err(match event {
        Event::Comment(_) => XmlError::Forbidden(COMMENT),
        Event::PI(_) | Event::Decl(_) => XmlError::Forbidden("a processing instruction"),
        Event::DocType(_) => XmlError::Forbidden(DTD),
        Event::Eof => XmlError::UnexpectedEof,
        _ => malformed("XML out of place", at),
    })
}

/// Text or CDATA content: checks every character is one XML allows and applies XML 1.0 §2.11
/// end-of-line handling (`\r\n` and a lone `\r` become `\n`).
fn normalize_text<'a>(raw: &'a str, at: u64) -> Result<Cow<'a, str>, XmlError> {
    if !raw.chars().all(is_xml_char) {
        return Err(malformed("a character XML does not allow", at));
    }
    if !raw.contains('\r') {
        return Ok(Cow::Borrowed(raw));
    }
    Ok(Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n")))
}

/// An attribute value as sent, unescaped and normalized as XML 1.0 §3.3.3 says for CDATA
/// attributes: references resolved (only the five predefined entities and character
/// references), each literal tab, line feed, carriage return or `\r\n` pair becoming one space.
fn normalize_attribute(raw: &str, at: u64) -> Result<String, XmlError> {
    let mut value = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '<' => return Err(malformed("'<' in an attribute value", at)),
            '&' => {
                let Some((reference, after)) = chars.as_str().split_once(';') else {
                    return Err(malformed("an unterminated reference", at));
                };
                value.push(resolve_reference(reference, at)?);
                chars = after.chars();
            }
            '\r' => {
                if chars.as_str().starts_with('\n') {
                    chars.next();
                }
                value.push(' ');
            }
            '\n' | '\t' => value.push(' '),
            c if !is_xml_char(c) => return Err(malformed("a character XML does not allow", at)),
            c => value.push(c),
        }
    }
    Ok(value)
}

/// The character `&name;` stands for: one of the five predefined entities or a character
/// reference to a character XML allows. Any other entity is refused, never expanded.
fn resolve_reference(name: &str, at: u64) -> Result<char, XmlError> {
    match name {
        "lt" => return Ok('<'),
        "gt" => return Ok('>'),
        "amp" => return Ok('&'),
        "apos" => return Ok('\''),
        "quot" => return Ok('"'),
        _ => {}
    }
    let Some(number) = name.strip_prefix('#') else {
        return Err(if is_name(name) {
            XmlError::Forbidden("an entity reference")
        } else {
            malformed("a badly written reference", at)
        });
    };
    // XML 1.0 §4.1: `&#` digits `;` or `&#x` hex digits `;` (lower-case x only).
    let (digits, radix) = match number.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(malformed("a badly written character reference", at));
    }
    // Leading zeros are allowed, so the length is not bounded; fold with a cap instead.
    let mut code: u32 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(radix).unwrap_or(0);
        code = code.saturating_mul(radix).saturating_add(digit).min(0x11_0000);
    }
    match char::from_u32(code) {
        Some(c) if is_xml_char(c) => Ok(c),
        _ => Err(malformed("a character reference to a character XML does not allow", at)),
    }
}

fn malformed(what: &str, at: u64) -> XmlError {
    XmlError::Malformed(format!("{what}, by byte {at} of the stream"))
}

/// quick-xml's errors, described without the names and text it quotes from the input.
fn from_quick_xml(error: QuickXmlError, at: u64) -> XmlError {
    let what = match error {
        QuickXmlError::Io(error) => {
            return XmlError::Io(
                Arc::try_unwrap(error)
                    .unwrap_or_else(|shared| io::Error::new(shared.kind(), shared.to_string())),
            );
        }
        QuickXmlError::Encoding(_) => return XmlError::UnsupportedEncoding,
        QuickXmlError::Syntax(SyntaxError::InvalidBangMarkup) => "unknown markup after '<!'",
        QuickXmlError::Syntax(_) => "markup that is not closed",
        QuickXmlError::IllFormed(IllFormedError::MissingDeclVersion(_)) => {
            "an XML declaration without version 1.0"
        }
        QuickXmlError::IllFormed(IllFormedError::UnknownVersion) => "an XML declaration without version 1.0",
        QuickXmlError::IllFormed(IllFormedError::MissingDoctypeName) => {
            return XmlError::Forbidden(DTD);
        }
        QuickXmlError::IllFormed(IllFormedError::MismatchedEndTag { .. }) => {
            "an end tag that does not match its start tag"
        }
        QuickXmlError::IllFormed(IllFormedError::UnmatchedEndTag(_)) => "an end tag with no start tag",
        QuickXmlError::IllFormed(IllFormedError::MissingEndTag(_)) => "a start tag that is never closed",
        QuickXmlError::IllFormed(IllFormedError::DoubleHyphenInComment) => {
            return XmlError::Forbidden(COMMENT);
        }
        QuickXmlError::IllFormed(IllFormedError::UnclosedReference) => {
            "an '&' that does not start a reference"
        }
        QuickXmlError::InvalidAttr(_) => "a badly written attribute",
        QuickXmlError::Escape(_) => "a badly written reference",
        QuickXmlError::Namespace(_) => "a badly written namespace",
    };
    malformed(what, at)
}
