//! Tests across the reader and the writer: real server streams, every limit, every forbidden
//! construct, STARTTLS hand-over, and write-then-read round trips.
//!
//! Each stream is read twice, whole and one byte per read, and both must agree exactly (events
//! and error messages), since a server controls how its bytes are split.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use super::*;

const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";

const PROSODY_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xml:lang='en' id='b8d3e1a2-5f7c-4a5e-9d1b-3c2f1e0a9b8c' from='example.org' version='1.0' \
    xmlns:stream='http://etherx.jabber.org/streams'>";

const EJABBERD_HEADER: &str = "<?xml version='1.0'?><stream:stream id='6304729842133211536' \
    version='1.0' xml:lang='en' xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' from='example.net'>";

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime").block_on(future)
}

/// A transport that returns at most `chunk` bytes per read.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.chunk.min(self.data.len()).min(out.remaining());
        let (now, later) = self.data.split_at(n);
        out.put_slice(now);
        self.data = later;
        Poll::Ready(Ok(()))
    }
}

/// Everything `input` yields, read `chunk` bytes at a time, up to the close or an error.
fn read_in_chunks(input: &[u8], chunk: usize, limits: Limits) -> (Vec<StreamEvent>, Option<XmlError>) {
    block_on(async {
        let mut reader = StreamReader::new(Chunked { data: input, chunk }, limits);
        let mut events = Vec::new();
        loop {
            match reader.next().await {
                Ok(StreamEvent::StreamClose) => {
                    events.push(StreamEvent::StreamClose);
                    // Closed stays closed, without reading.
                    assert!(matches!(reader.next().await, Ok(StreamEvent::StreamClose)));
                    return (events, None);
                }
                Ok(event) => events.push(event),
                Err(error) => {
                    // Failed stays failed.
                    assert!(matches!(reader.next().await, Err(XmlError::Poisoned)));
                    return (events, Some(error));
                }
            }
        }
    })
}

/// Reads `input` whole and one byte at a time; both must give the same result.
fn read_with(input: &[u8], limits: Limits) -> (Vec<StreamEvent>, Option<XmlError>) {
    let whole = read_in_chunks(input, usize::MAX, limits);
    let bytewise = read_in_chunks(input, 1, limits);
    assert_eq!(whole.0, bytewise.0, "events differ when the input is split");
    assert_eq!(
        whole.1.as_ref().map(ToString::to_string),
        bytewise.1.as_ref().map(ToString::to_string),
        "errors differ when the input is split"
    );
    whole
}

/// The stanzas of a stream that must parse cleanly to its close.
fn stanzas(input: &str) -> Vec<Element> {
    let (events, error) = read_with(input.as_bytes(), Limits::default());
    assert!(error.is_none(), "unexpected error {error:?}");
    assert!(matches!(events.first(), Some(StreamEvent::StreamOpen { .. })), "{events:?}");
    assert_eq!(events.last(), Some(&StreamEvent::StreamClose));
    events
        .into_iter()
        .filter_map(|event| match event {
            StreamEvent::Stanza(element) => Some(element),
            _ => None,
        })
        .collect()
}

/// The error a stream must end with.
fn error_with(input: &[u8], limits: Limits) -> XmlError {
    match read_with(input, limits) {
        (_, Some(error)) => error,
        (events, None) => panic!("expected an error, got {events:?}"),
    }
}

fn error_of(input: &str) -> XmlError {
    error_with(input.as_bytes(), Limits::default())
}

/// `body` inside a Prosody stream header and the stream close.
fn in_stream(body: &str) -> String {
    format!("{PROSODY_HEADER}{body}</stream:stream>")
}

fn text(s: &str) -> Node {
    Node::Text(s.to_owned())
}

// ---- real streams ----

#[test]
fn prosody_starttls_features_and_proceed() {
    let input = format!(
        "{PROSODY_HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
         <required/></starttls></stream:features><proceed xmlns='{TLS}'/></stream:stream>"
    );
    let (events, error) = read_with(input.as_bytes(), Limits::default());
    assert!(error.is_none());
    assert_eq!(
        events[0],
        StreamEvent::StreamOpen {
            attributes: vec![
                ("xml:lang".into(), "en".into()),
                ("id".into(), "b8d3e1a2-5f7c-4a5e-9d1b-3c2f1e0a9b8c".into()),
                ("from".into(), "example.org".into()),
                ("version".into(), "1.0".into()),
            ]
        }
    );
    let features = Element::new("features", NS_STREAMS)
        .with_child(Element::new("starttls", TLS).with_child(Element::new("required", TLS)));
    assert_eq!(events[1], StreamEvent::Stanza(features));
    assert_eq!(events[2], StreamEvent::Stanza(Element::new("proceed", TLS)));
    assert_eq!(events[3], StreamEvent::StreamClose);
    assert_eq!(events.len(), 4);
}

#[test]
fn prosody_sasl_features_with_pretty_printing() {
    let features = &stanzas(&in_stream(&format!(
        "<stream:features>\n  <mechanisms xmlns='{SASL}'>\n    \
         <mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism>\
         <mechanism>PLAIN</mechanism></mechanisms>\n  \
         <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://prosody.im' \
         ver='Xb8zWnSBMgEqCrn7Z9fD3xGhZTc='/>\n</stream:features>"
    )))[0];
    assert!(features.is("features", NS_STREAMS));
    assert_eq!(features.children[0], text("\n  "), "whitespace inside a stanza is kept");
    let mechanisms = features.find("mechanisms", SASL).expect("mechanisms");
    let names: Vec<String> = mechanisms.find_all("mechanism", SASL).map(Element::text).collect();
    assert_eq!(names, ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"]);
    let caps = features.find("c", "http://jabber.org/protocol/caps").expect("caps");
    assert_eq!(caps.attr("ver"), Some("Xb8zWnSBMgEqCrn7Z9fD3xGhZTc="));
    assert_eq!(caps.attr("hash"), Some("sha-1"));
}

#[test]
fn ejabberd_session_with_keepalives_bind_and_message() {
    let input = format!(
        "{EJABBERD_HEADER}<stream:features><bind xmlns='{BIND}'/>\
         <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>\
         <sm xmlns='urn:xmpp:sm:3'/><csi xmlns='urn:xmpp:csi:0'/></stream:features>\n \n\
         <iq id='bind_1' type='result'><bind xmlns='{BIND}'><jid>romeo@example.net/orchard</jid>\
         </bind></iq>\r\n\t \
         <message from='juliet@example.com/balcony' to='romeo@example.net/orchard' \
         type='chat' id='ktx72v49' xml:lang='en'><body>Art thou not Romeo, and a Montague?</body>\
         </message> </stream:stream>"
    );
    let got = stanzas(&input);
    assert_eq!(got.len(), 3);
    assert!(got[0].find("bind", BIND).is_some());
    assert!(got[0].find("session", "urn:ietf:params:xml:ns:xmpp-session").is_some());
    let iq = &got[1];
    assert!(iq.is("iq", NS_CLIENT), "stanzas inherit jabber:client");
    assert_eq!(iq.attr("type"), Some("result"));
    let jid = iq.find("bind", BIND).and_then(|b| b.find("jid", BIND)).map(Element::text);
    assert_eq!(jid.as_deref(), Some("romeo@example.net/orchard"));
    let message = &got[2];
    assert!(message.is("message", NS_CLIENT));
    assert_eq!(message.attr("xml:lang"), Some("en"));
    assert_eq!(message.attr("id"), Some("ktx72v49"));
    assert_eq!(
        message.find("body", NS_CLIENT).map(Element::text).as_deref(),
        Some("Art thou not Romeo, and a Montague?")
    );
}

#[test]
fn escaped_text_references_and_cdata_become_one_text() {
    let got = stanzas(&in_stream(
        "<message to='a&amp;b@x' id='&quot;1&apos;&#x27;&lt;&gt;'><body>1 &lt; 2 &amp;&amp; \
         &quot;q&quot; &apos;a&apos; &#233;&#xE9;&#x1F600; <![CDATA[<not a tag> & ]]>tail\
         </body></message>",
    ));
    let message = &got[0];
    assert_eq!(message.attr("to"), Some("a&b@x"));
    assert_eq!(message.attr("id"), Some("\"1''<>"));
    let body = message.find("body", NS_CLIENT).expect("body");
    assert_eq!(body.children, vec![text("1 < 2 && \"q\" 'a' éé😀 <not a tag> & tail")]);
}

#[test]
fn line_ends_and_attribute_whitespace_are_normalized_as_xml_says() {
    let got = stanzas(&in_stream(
        "<message a='x\ty\r\nz\rw\n' b='&#9;&#10;&#13;'><body>l1\r\nl2\rl3&#13;\n</body></message>",
    ));
    assert_eq!(got[0].attr("a"), Some("x y z w "));
    assert_eq!(got[0].attr("b"), Some("\t\n\r"));
    assert_eq!(got[0].find("body", NS_CLIENT).map(Element::text).as_deref(), Some("l1\nl2\nl3\r\n"));
}

#[test]
fn namespaces_resolve_by_prefix_and_default_and_undeclaration() {
    let got = stanzas(&in_stream(
        "<iq type='get'><p:query xmlns:p='urn:x' xmlns='urn:d'><p:item/><plain/>\
         <none xmlns=''><deeper/></none></p:query><stream:error/></iq>",
    ));
    let iq = &got[0];
    let query = iq.find("query", "urn:x").expect("prefixed element resolved");
    assert_eq!(
        query.elements().map(|e| (e.name.as_str(), e.namespace.as_str())).collect::<Vec<_>>(),
        [("item", "urn:x"), ("plain", "urn:d"), ("none", "")]
    );
    assert!(query.find("none", "").and_then(|n| n.find("deeper", "")).is_some());
    assert!(iq.find("error", NS_STREAMS).is_some(), "the stream prefix stays in scope");
    assert!(query.attributes.is_empty(), "namespace declarations are not attributes");
}

#[test]
fn declarations_end_with_their_element() {
    let error = error_of(&in_stream("<iq><a xmlns:p='urn:p'/><p:b/></iq>"));
    assert!(matches!(error, XmlError::UndeclaredPrefix), "{error:?}");
    let error = error_of(&in_stream("<p:iq xmlns:p='urn:p'/><p:iq/>"));
    assert!(matches!(error, XmlError::UndeclaredPrefix), "{error:?}");
}

#[test]
fn prefixed_attributes_other_than_xml_are_left_out_not_confused() {
    let got = stanzas(&in_stream("<message to='real@x' p:to='fake@y' xmlns:p='urn:p' xml:lang='de'/>"));
    assert_eq!(
        got[0].attributes,
        vec![("to".to_owned(), "real@x".to_owned()), ("xml:lang".to_owned(), "de".to_owned())]
    );
    let error = error_of(&in_stream("<m q:to='1' xmlns:q='urn:q' xmlns:r='urn:q' r:to='2'/>"));
    assert!(matches!(error, XmlError::Malformed(_)), "the same attribute under two prefixes: {error:?}");
    let error = error_of(&in_stream("<m q:to='1'/>"));
    assert!(matches!(error, XmlError::UndeclaredPrefix), "{error:?}");
}

#[test]
fn bad_namespace_declarations_are_refused() {
    for body in [
        "<m xmlns:p=''/>",
        "<m xmlns:xml='urn:other'/>",
        "<m xmlns:xmlns='urn:x'/>",
        "<m xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
        "<m xmlns='http://www.w3.org/2000/xmlns/'/>",
        "<xmlns:m/>",
        "<xml:m/>",
    ] {
        let error = error_of(&in_stream(body));
        assert!(matches!(error, XmlError::Malformed(_) | XmlError::UndeclaredPrefix), "{body}: {error:?}");
    }
    // Binding `xml` to its own URI is allowed and changes nothing.
    let got = stanzas(&in_stream("<m xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>"));
    assert_eq!(got[0].attr("xml:lang"), Some("en"));
}

#[test]
fn an_empty_stream_element_opens_and_closes() {
    let input = "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
        xmlns='jabber:client' id='x'/>";
    let (events, error) = read_with(input.as_bytes(), Limits::default());
    assert!(error.is_none());
    assert_eq!(
        events,
        [StreamEvent::StreamOpen { attributes: vec![("id".into(), "x".into())] }, StreamEvent::StreamClose]
    );
}

#[test]
fn a_byte_order_mark_and_no_declaration_are_accepted() {
    let input = format!("\u{FEFF}{}", in_stream("<a/>").replace("<?xml version='1.0'?>", ""));
    assert_eq!(stanzas(&input), [Element::new("a", NS_CLIENT)]);
    let input =
        in_stream("<a/>").replace("<?xml version='1.0'?>", "<?xml version='1.0' encoding='UTF-8'?>\n");
    assert_eq!(stanzas(&input), [Element::new("a", NS_CLIENT)]);
    // One mark only, and only at the start (inside text it is a character like any other).
    let input = format!("\u{FEFF}\u{FEFF}{}", in_stream("<a/>"));
    assert!(matches!(error_of(&input), XmlError::Malformed(_)));
    let input = format!(" \u{FEFF}{}", in_stream("<a/>"));
    assert!(matches!(error_of(&input), XmlError::Malformed(_)));
    assert_eq!(stanzas(&in_stream("<a>\u{FEFF}</a>"))[0].text(), "\u{FEFF}");
}

// ---- what RFC 6120 §11.1 forbids ----

#[test]
fn billion_laughs_is_refused_at_the_dtd() {
    let mut dtd = String::from("<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let previous = if i == 1 { "lol".to_owned() } else { format!("lol{}", i - 1) };
        dtd.push_str(&format!("<!ENTITY lol{i} \"{}\">", format!("&{previous};").repeat(10)));
    }
    dtd.push_str("]>");
    let input = format!(
        "<?xml version='1.0'?>{dtd}{}",
        in_stream("<message><body>&lol9;</body></message>").trim_start_matches("<?xml version='1.0'?>")
    );
    let error = error_of(&input);
    assert!(matches!(error, XmlError::Forbidden("a document type declaration (DTD)")), "{error:?}");
    assert_eq!(error.stream_error_condition(), Some(StreamErrorCondition::RestrictedXml));
}

#[test]
fn a_dtd_or_comment_is_refused_however_it_ends_or_does_not() {
    // Found by the fuzzer: quick-xml's DTD scanner ended this internal subset at different
    // places depending on how the bytes were split.
    let dtd = b"<!D[\x01<!-->-\xF9->]>";
    let error = error_with(dtd, Limits::default());
    assert!(matches!(error, XmlError::Forbidden("a document type declaration (DTD)")), "{error:?}");
    for input in [
        "<!DOCTYPE x [".to_owned(),
        format!("<!DOCTYPE x [{}", "<!ENTITY a 'b'>".repeat(10_000)),
        format!("<!DOCTYPE x [{}", "<!ENTITY a 'b'>".repeat(20_000)),
        "<!doctype".to_owned(),
        format!("{PROSODY_HEADER}<m><!DOCTYPE"),
    ] {
        let error = error_of(&input);
        assert!(matches!(error, XmlError::Forbidden("a document type declaration (DTD)")), "{error:?}");
    }
    for input in [
        format!("{PROSODY_HEADER}<!--"),
        format!("{PROSODY_HEADER}<!-x>"),
        "<!-- -- -->".to_owned(),
        format!("<!--{}", "a".repeat(300_000)),
    ] {
        let error = error_of(&input);
        assert!(matches!(error, XmlError::Forbidden("a comment")), "{input}: {error:?}");
    }
}

#[test]
fn entity_references_are_refused_never_expanded() {
    for body in ["<m>&lol9;</m>", "<m a='&nbsp;'/>", "<m>&ent:x;</m>"] {
        let error = error_of(&in_stream(body));
        assert!(matches!(error, XmlError::Forbidden("an entity reference")), "{body}: {error:?}");
        assert_eq!(error.stream_error_condition(), Some(StreamErrorCondition::RestrictedXml));
    }
    // `&` not forming a reference is malformed, in text and in attributes.
    for body in
        ["<m>a & b</m>", "<m a='a & b'/>", "<m a='&amp'/>", "<m>&#;</m>", "<m>&#X41;</m>", "<m>&#x-1;</m>"]
    {
        let error = error_of(&in_stream(body));
        assert!(matches!(error, XmlError::Malformed(_)), "{body}: {error:?}");
    }
}

#[test]
fn comments_processing_instructions_and_late_declarations_are_refused() {
    let cases = [
        (in_stream("<!-- hi -->"), "a comment"),
        (in_stream("<m><!-- hi --></m>"), "a comment"),
        (
            format!("<!-- before -->{}", in_stream("").trim_start_matches("<?xml version='1.0'?>")),
            "a comment",
        ),
        (in_stream("<?php evil()?>"), "a processing instruction"),
        (in_stream("<m><?pi x?></m>"), "a processing instruction"),
        (in_stream("<?xml version='1.0'?>"), "a processing instruction"),
        (format!("<?xml-stylesheet href='x'?>{PROSODY_HEADER}"), "a processing instruction"),
        (format!(" <?xml version='1.0'?>{}", &PROSODY_HEADER[21..]), "a processing instruction"),
        (in_stream("<m><!DOCTYPE x></m>"), "a document type declaration (DTD)"),
    ];
    for (input, what) in cases {
        let error = error_of(&input);
        match error {
            XmlError::Forbidden(got) => assert_eq!(got, what, "{input}"),
            other => panic!("{input}: expected Forbidden({what}), got {other:?}"),
        }
    }
}

#[test]
fn characters_xml_forbids_are_refused_literal_or_referenced() {
    for body in [
        "<m>&#0;</m>",
        "<m>&#x1;</m>",
        "<m>&#xFFFE;</m>",
        "<m>&#xFFFF;</m>",
        "<m>&#xD800;</m>",
        "<m>&#x110000;</m>",
        "<m>&#99999999999999999999;</m>",
        "<m a='&#x1B;'/>",
        "<m>\u{1}</m>",
        "<m>\u{1B}[31m</m>",
        "<m a='\u{0}'/>",
        "<m><![CDATA[\u{7}]]></m>",
        "<m>]]></m>",
        "<m a='<'/>",
    ] {
        let error = error_of(&in_stream(body));
        assert!(matches!(error, XmlError::Malformed(_)), "{body:?}: {error:?}");
        assert_eq!(error.stream_error_condition(), Some(StreamErrorCondition::NotWellFormed));
    }
    // Leading zeros are fine.
    let got = stanzas(&in_stream("<m>&#0000000000000065;&#x000041;</m>"));
    assert_eq!(got[0].text(), "AA");
}

#[test]
fn non_utf8_input_or_declared_encoding_is_refused() {
    let mut input = format!("{PROSODY_HEADER}<m>caf").into_bytes();
    input.extend_from_slice(b"\xe9</m></stream:stream>");
    let error = error_with(&input, Limits::default());
    assert!(matches!(error, XmlError::UnsupportedEncoding), "{error:?}");
    assert_eq!(error.stream_error_condition(), Some(StreamErrorCondition::UnsupportedEncoding));
    let input = in_stream("").replace("version='1.0'?>", "version='1.0' encoding='ISO-8859-1'?>");
    assert!(matches!(error_of(&input), XmlError::UnsupportedEncoding));
    let input = in_stream("").replace("<?xml version='1.0'?>", "<?xml version='1.1'?>");
    assert!(matches!(error_of(&input), XmlError::Malformed(_)));
}

#[test]
fn the_root_must_be_stream_in_the_streams_namespace() {
    for input in [
        "<html><body>captive portal</body></html>".to_owned(),
        "<?xml version='1.0'?><stream xmlns='jabber:client'>".to_owned(),
        "<stream:stream xmlns:stream='http://etherx.jabber.org/STREAMS'>".to_owned(),
        "<s:features xmlns:s='http://etherx.jabber.org/streams'>".to_owned(),
    ] {
        let error = error_of(&input);
        assert!(matches!(error, XmlError::BadRoot), "{input}: {error:?}");
        assert_eq!(error.stream_error_condition(), Some(StreamErrorCondition::InvalidNamespace));
    }
    assert!(matches!(error_of("<stream:stream>"), XmlError::UndeclaredPrefix));
}

#[test]
fn text_outside_stanzas_must_be_whitespace() {
    for input in [
        in_stream("hello"),
        in_stream(" <a/> x"),
        in_stream("&#32;"),
        in_stream("<![CDATA[ ]]>"),
        format!("junk{PROSODY_HEADER}"),
        format!("\u{A0}{PROSODY_HEADER}"),
    ] {
        assert!(matches!(error_of(&input), XmlError::Malformed(_)), "{input}");
    }
}

#[test]
fn well_formedness_errors_do_not_quote_the_server() {
    for body in [
        "<a></bSECRET>",
        "<a SECRET></a>",
        "<a x='1' x='2' SECRET='3'/>",
        "<a SECRET=x/>",
        "<1SECRET/>",
        "<a><b></a></b>",
        "<!SECRET>",
    ] {
        let error = error_of(&in_stream(body));
        assert!(matches!(error, XmlError::Malformed(_)), "{body}: {error:?}");
        assert!(!error.to_string().contains("SECRET"), "{body}: {error}");
    }
}

#[test]
fn end_of_input_before_the_close_is_unexpected_eof() {
    for input in [
        String::new(),
        "<?xml version='1.0'?>".to_owned(),
        PROSODY_HEADER[..60].to_owned(),
        PROSODY_HEADER.to_owned(),
        format!("{PROSODY_HEADER}<message><body>hi"),
        format!("{PROSODY_HEADER}<message to='x"),
        format!("{PROSODY_HEADER}<message/>  "),
        format!("{PROSODY_HEADER}<m>&am"),
    ] {
        let error = error_of(&input);
        assert!(matches!(error, XmlError::UnexpectedEof), "{input}: {error:?}");
        assert_eq!(error.stream_error_condition(), None);
    }
}

// ---- limits ----

/// Small limits so that the tests can reach them.
fn small() -> Limits {
    Limits {
        max_stanza_bytes: 1024,
        max_depth: 4,
        max_attributes_per_element: 3,
        max_attribute_value_bytes: 40,
        max_name_bytes: 13,
        max_nodes_per_stanza: 10,
        max_namespace_declarations: 4,
    }
}

/// `body` in a short stream header that fits `small()`.
fn small_stream(body: &str) -> String {
    format!("<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}'>{body}</stream:stream>")
}

fn small_error(body: &str) -> XmlError {
    error_with(small_stream(body).as_bytes(), small())
}

fn small_ok(body: &str) -> Vec<StreamEvent> {
    let (events, error) = read_with(small_stream(body).as_bytes(), small());
    assert!(error.is_none(), "{body}: {error:?}");
    events
}

#[test]
fn the_default_limits_are_the_documented_ones() {
    let limits = Limits::default();
    assert_eq!(limits.max_stanza_bytes, 256 * 1024);
    assert_eq!(limits.max_depth, 32);
    assert_eq!(limits.max_attributes_per_element, 64);
    assert_eq!(limits.max_nodes_per_stanza, 4096);
    assert_eq!(
        XmlError::TooLarge { limit: limits.max_stanza_bytes }.to_string(),
        "the server sent an XML element larger than 256 KiB"
    );
}

#[test]
fn a_stanza_of_exactly_the_byte_cap_passes_and_one_more_byte_fails() {
    let exact = format!("<m>{}</m>", "x".repeat(1024 - 7));
    assert_eq!(exact.len(), 1024);
    // Whitespace before it does not count against it.
    let events = small_ok(&format!("   {exact}\n{exact}"));
    assert_eq!(events.len(), 4);
    let over = format!("<m>{}</m>", "x".repeat(1024 - 6));
    let error = small_error(&over);
    assert!(matches!(error, XmlError::TooLarge { limit: 1024 }), "{error:?}");
    assert_eq!(error.stream_error_condition(), Some(StreamErrorCondition::PolicyViolation));
}

#[test]
fn the_byte_cap_cuts_off_what_never_ends() {
    // An unterminated start tag, an endless attribute, endless text, endless whitespace, an
    // endless reference or CDATA section: each stops at the cap, not at end of input. (An
    // endless comment or DTD is refused as such: see the test above.)
    for endless in [
        format!("<message{}", " ".repeat(100_000)),
        format!("<message to='{}", "a".repeat(100_000)),
        format!("<m>{}", "a".repeat(100_000)),
        " ".repeat(100_000),
        format!("<m>&{}", "a".repeat(100_000)),
        format!("<m><![CDATA[{}", "a".repeat(100_000)),
    ] {
        let input = format!("<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAMS}'>{endless}");
        let error = error_with(input.as_bytes(), small());
        assert!(matches!(error, XmlError::TooLarge { limit: 1024 }), "{:?}: {error:?}", &endless[..20]);
    }
    // The stream header too.
    let input = format!("<?xml version='1.0'?>{}", " ".repeat(2000));
    assert!(matches!(error_with(input.as_bytes(), small()), XmlError::TooLarge { .. }));
    let input = format!("<stream:stream a='{}'>", "b".repeat(2000));
    assert!(matches!(error_with(input.as_bytes(), small()), XmlError::TooLarge { .. }));
}

#[test]
fn nesting_beyond_max_depth_fails() {
    // The stream is depth 1, so with max_depth 4 a stanza may nest 3 deep.
    small_ok("<a><b><c/></b></a>");
    let error = small_error("<a><b><c><d/></c></b></a>");
    assert!(matches!(error, XmlError::TooDeep { limit: 4 }), "{error:?}");
    let deep = "<a>".repeat(10_000);
    assert!(matches!(error_of(&in_stream(&deep)), XmlError::TooDeep { limit: 32 }));
}

#[test]
fn too_many_attributes_fails_declarations_included() {
    small_ok("<a x='1' y='2' z='3'/>");
    for body in ["<a w='0' x='1' y='2' z='3'/>", "<a xmlns='urn:a' x='1' y='2' z='3'/>"] {
        let error = small_error(body);
        assert!(matches!(error, XmlError::TooManyAttributes { limit: 3 }), "{body}: {error:?}");
    }
    let many: String = (0..10_000).map(|i| format!(" a{i}=''")).collect();
    assert!(matches!(
        error_of(&in_stream(&format!("<m{many}/>"))),
        XmlError::TooManyAttributes { limit: 64 }
    ));
}

#[test]
fn long_names_and_values_fail() {
    let name = "abcdefghijklm";
    let value = "0123456789".repeat(4);
    small_ok(&format!("<{name} {name}='{value}'/>"));
    assert!(matches!(small_error(&format!("<{name}m/>")), XmlError::NameTooLong { limit: 13 }));
    assert!(matches!(small_error(&format!("<a {name}m='1'/>")), XmlError::NameTooLong { limit: 13 }));
    assert!(matches!(small_error(&format!("<a x='{value}x'/>")), XmlError::ValueTooLong { limit: 40 }));
    assert!(matches!(
        small_error(&format!("<a xmlns='urn:{value}'/>")),
        XmlError::ValueTooLong { limit: 40 }
    ));
}

#[test]
fn too_many_nodes_fails() {
    // The stanza itself, then alternating texts and elements.
    small_ok(&format!("<a>{}t</a>", "t<b/>".repeat(4)));
    let error = small_error(&format!("<a>{}</a>", "t<b/>".repeat(5)));
    assert!(matches!(error, XmlError::TooManyNodes { limit: 10 }), "{error:?}");
    let error = small_error(&format!("<a>{}</a>", "<b/>".repeat(10)));
    assert!(matches!(error, XmlError::TooManyNodes { limit: 10 }), "{error:?}");
    // Counted per stanza.
    small_ok(&"<a><b/><b/><b/><b/><b/></a>".repeat(5));
}

#[test]
fn too_many_namespaces_in_scope_fails() {
    // The stream header declared two.
    small_ok("<a xmlns:p='urn:p'><b xmlns:q='urn:q'/><c xmlns:r='urn:r'/></a>");
    let error = small_error("<a xmlns:p='urn:p'><b xmlns:q='urn:q'><c xmlns:r='urn:r'/></b></a>");
    assert!(matches!(error, XmlError::TooManyNamespaces { limit: 4 }), "{error:?}");
}

#[test]
fn namespace_uris_copied_into_many_elements_count_against_the_cap() {
    // 700 bytes of input would expand to 100 copies of a 15-byte URI in the tree.
    let limits = Limits { max_nodes_per_stanza: 1000, ..small() };
    let body = format!("<a xmlns='urn:0123456789ab'>{}</a>", "<b/>".repeat(100));
    let error = error_with(small_stream(&body).as_bytes(), limits);
    assert!(matches!(error, XmlError::TooLarge { limit: 1024 }), "{error:?}");
}

// ---- STARTTLS hand-over ----

#[test]
fn into_inner_after_proceed_returns_the_transport_unread() {
    block_on(async {
        let (mut server, client) = tokio::io::duplex(64 * 1024);
        server
            .write_all(format!("{PROSODY_HEADER}<stream:features/><proceed xmlns='{TLS}'/>").as_bytes())
            .await
            .expect("write");
        let mut reader = StreamReader::new(client, Limits::default());
        assert!(matches!(reader.next().await, Ok(StreamEvent::StreamOpen { .. })));
        assert!(
            matches!(reader.next().await, Ok(StreamEvent::Stanza(ref e)) if e.is("features", NS_STREAMS))
        );
        assert!(matches!(reader.next().await, Ok(StreamEvent::Stanza(ref e)) if e.is("proceed", TLS)));
        let mut transport = reader.into_inner().expect("nothing after <proceed/>");
        // What the server sends next (its TLS handshake) is still there to read.
        server.write_all(b"\x16\x03\x03TLS").await.expect("write");
        let mut next = [0u8; 6];
        transport.read_exact(&mut next).await.expect("read");
        assert_eq!(&next, b"\x16\x03\x03TLS");
    });
}

#[test]
fn into_inner_with_bytes_after_proceed_is_an_error() {
    block_on(async {
        let input = format!("{PROSODY_HEADER}<proceed xmlns='{TLS}'/><injected/>");
        let mut reader = StreamReader::new(input.as_bytes(), Limits::default());
        assert!(matches!(reader.next().await, Ok(StreamEvent::StreamOpen { .. })));
        assert!(matches!(reader.next().await, Ok(StreamEvent::Stanza(_))));
        match reader.into_inner() {
            Err(XmlError::BufferedData { bytes: 11 }) => {}
            Err(other) => panic!("expected BufferedData, got {other:?}"),
            Ok(_) => panic!("leftover bytes were not reported"),
        }
        // Even a single byte of whitespace.
        let input = format!("{PROSODY_HEADER}<proceed xmlns='{TLS}'/> ");
        let mut reader = StreamReader::new(input.as_bytes(), Limits::default());
        let _ = reader.next().await;
        let _ = reader.next().await;
        assert!(matches!(reader.into_inner(), Err(XmlError::BufferedData { bytes: 1 })));
    });
}

#[test]
fn restart_keeps_bytes_already_read_for_the_new_stream() {
    block_on(async {
        let input = format!(
            "{EJABBERD_HEADER}<success xmlns='{SASL}'/>{EJABBERD_HEADER}<stream:features/></stream:stream>"
        );
        let mut reader = StreamReader::new(input.as_bytes(), Limits::default());
        assert!(matches!(reader.next().await, Ok(StreamEvent::StreamOpen { .. })));
        assert!(matches!(reader.next().await, Ok(StreamEvent::Stanza(ref e)) if e.is("success", SASL)));
        let mut reader = reader.restart().expect("restart");
        assert!(matches!(reader.next().await, Ok(StreamEvent::StreamOpen { .. })));
        assert!(
            matches!(reader.next().await, Ok(StreamEvent::Stanza(ref e)) if e.is("features", NS_STREAMS))
        );
        assert!(matches!(reader.next().await, Ok(StreamEvent::StreamClose)));
    });
}

#[test]
fn a_cancelled_next_poisons_the_reader() {
    block_on(async {
        let (mut server, client) = tokio::io::duplex(1024);
        server.write_all(format!("{PROSODY_HEADER}<message><bo").as_bytes()).await.expect("write");
        let mut reader = StreamReader::new(client, Limits::default());
        assert!(matches!(reader.next().await, Ok(StreamEvent::StreamOpen { .. })));
        let timed_out = tokio::time::timeout(Duration::from_millis(20), reader.next()).await;
        assert!(timed_out.is_err(), "the element is incomplete, so next() waits");
        server.write_all(b"dy>hi</body></message>").await.expect("write");
        assert!(matches!(reader.next().await, Err(XmlError::Poisoned)));
        assert!(matches!(reader.into_inner(), Err(XmlError::Poisoned)));
    });
}

#[test]
fn a_transport_error_is_reported_as_io() {
    struct Failing;
    impl AsyncRead for Failing {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")))
        }
    }
    let error = block_on(async { StreamReader::new(Failing, Limits::default()).next().await });
    match error {
        Err(XmlError::Io(error)) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("expected Io, got {other:?}"),
    }
}

// ---- writer round trips ----

/// Writes `element` into a stream made by `stream_header` and reads it back.
fn round_trip(element: &Element) -> Element {
    let input = format!("{}{}{STREAM_CLOSE}", stream_header("example.org"), element.to_xml(NS_CLIENT));
    let mut got = stanzas(&input);
    assert_eq!(got.len(), 1, "{input}");
    got.remove(0)
}

#[test]
fn the_stream_header_reads_back() {
    let (events, _) = read_with(stream_header("ex'ample.org").as_bytes(), Limits::default());
    assert_eq!(
        events,
        [StreamEvent::StreamOpen {
            attributes: vec![
                ("to".into(), "ex'ample.org".into()),
                ("version".into(), "1.0".into()),
                ("xml:lang".into(), "en".into()),
            ]
        }]
    );
}

#[test]
fn written_elements_read_back_equal() {
    let nasty = "a&b<c>d\"e'f]]>g\th\ni\rj\r\nk 😀 é \u{85} \u{FFFD}";
    let element = Element::new("message", NS_CLIENT)
        .with_attr("to", nasty)
        .with_attr("xml:lang", "fr")
        .with_attr("id", "\t\n\r")
        .with_child(Element::new("body", NS_CLIENT).with_text(nasty))
        .with_child(
            Element::new("x", "urn:other")
                .with_child(Element::new("y", "urn:other").with_text(" "))
                .with_child(Element::new("z", ""))
                .with_child(Element::new("w", NS_CLIENT)),
        )
        .with_text("\r")
        .with_child(Element::new("empty", "urn:x"));
    assert_eq!(round_trip(&element), element);
}

#[test]
fn parsed_stanzas_written_and_read_again_are_equal() {
    let input = in_stream(
        "<p:iq xmlns:p='jabber:client' type='set'><q:query xmlns:q='jabber:iq:roster' ver='v&amp;1'>\
         <q:item jid='a@b' name='&lt;Al&gt;'><q:group>F &amp; F</q:group></q:item>\
         <r:x xmlns:r='urn:r' xmlns=''><plain a='&#10;'/>\r\n<![CDATA[<&>]]></r:x></q:query></p:iq>",
    );
    for stanza in stanzas(&input) {
        assert_eq!(round_trip(&stanza), stanza);
        let written = stanza.to_xml(NS_CLIENT);
        assert!(!written.contains("xmlns='jabber:client'"), "no redundant xmlns: {written}");
        assert_eq!(written.matches("xmlns='jabber:iq:roster'").count(), 1, "{written}");
    }
}

#[test]
fn writing_replaces_what_cannot_be_read() {
    let element = Element::new("body", NS_CLIENT).with_text("a\u{0}b\u{1B}c\u{FFFF}");
    let back = round_trip(&element);
    assert_eq!(back.text(), "a\u{FFFD}b\u{FFFD}c\u{FFFD}");
}
