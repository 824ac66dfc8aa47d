//! The stanzas and nonzas Burrow writes, built as elements so that the
//! writer escapes every value that came from a user or a server.

use crate::xml::Element;

pub mod ns {
    pub const CLIENT: &str = "jabber:client";
    pub const STREAMS_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
    pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
    pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
    pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
    pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
    pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
    pub const SASL_CHANNEL_BINDING: &str = "urn:xmpp:sasl-cb:0";
    pub const SM: &str = "urn:xmpp:sm:3";
    pub const ROSTER: &str = "jabber:iq:roster";
    pub const PING: &str = "urn:xmpp:ping";
    pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
}

fn to_xml(element: Element) -> String {
    element.to_xml(ns::CLIENT)
}

/// 16 random bytes, hex: stanza ids and resources that say nothing of the
/// client, the machine or the user.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // Without the kernel's randomness nothing about this connection is safe.
    getrandom::fill(&mut bytes).expect("the kernel gives random numbers");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub fn chat_message(peer: &str, body: &str) -> Element {
    Element::new("message", ns::CLIENT)
        .with_attr("to", peer)
        .with_attr("type", "chat")
        .with_attr("id", random_id())
        .with_child(Element::new("body", ns::CLIENT).with_text(body))
}

pub fn starttls() -> String {
    to_xml(Element::new("starttls", ns::TLS))
}

pub fn sasl_auth(mechanism: &str, initial: &[u8]) -> String {
    // RFC 6120 §6.4.2: an empty initial response is sent as "=".
    let text = if initial.is_empty() { "=".to_owned() } else { base64_encode(initial) };
    to_xml(Element::new("auth", ns::SASL).with_attr("mechanism", mechanism).with_text(text))
}

pub fn sasl_response(data: &[u8]) -> String {
    to_xml(Element::new("response", ns::SASL).with_text(base64_encode(data)))
}

pub fn sasl_abort() -> String {
    to_xml(Element::new("abort", ns::SASL))
}

pub fn bind(id: &str, resource: &str) -> String {
    to_xml(
        Element::new("iq", ns::CLIENT)
            .with_attr("type", "set")
            .with_attr("id", id)
            .with_child(Element::new("bind", ns::BIND).with_child(Element::new("resource", ns::BIND).with_text(resource))),
    )
}

pub fn session(id: &str) -> String {
    to_xml(Element::new("iq", ns::CLIENT).with_attr("type", "set").with_attr("id", id).with_child(Element::new("session", ns::SESSION)))
}

pub fn roster_get(id: &str) -> String {
    to_xml(Element::new("iq", ns::CLIENT).with_attr("type", "get").with_attr("id", id).with_child(Element::new("query", ns::ROSTER)))
}

/// Initial presence: no capabilities hash, no client name, no priority
/// games; nothing that tells this client apart.
pub fn initial_presence() -> String {
    to_xml(Element::new("presence", ns::CLIENT))
}

pub fn enable_stream_management() -> String {
    to_xml(Element::new("enable", ns::SM).with_attr("resume", "true"))
}

pub fn resume(previous_id: &str, handled: u32) -> String {
    to_xml(Element::new("resume", ns::SM).with_attr("previd", previous_id).with_attr("h", handled.to_string()))
}

pub fn ack_request() -> String {
    to_xml(Element::new("r", ns::SM))
}

pub fn ack_answer(handled: u32) -> String {
    to_xml(Element::new("a", ns::SM).with_attr("h", handled.to_string()))
}

pub fn ping(domain: &str, id: &str) -> String {
    to_xml(Element::new("iq", ns::CLIENT).with_attr("type", "get").with_attr("to", domain).with_attr("id", id).with_child(Element::new("ping", ns::PING)))
}

pub fn iq_result(to: Option<&str>, id: &str, payload: Option<Element>) -> String {
    let mut iq = Element::new("iq", ns::CLIENT).with_attr("type", "result").with_attr("id", id);
    if let Some(to) = to {
        iq = iq.with_attr("to", to);
    }
    if let Some(payload) = payload {
        iq = iq.with_child(payload);
    }
    to_xml(iq)
}

pub fn iq_error(to: Option<&str>, id: &str, kind: &str, condition: &str) -> String {
    let mut iq = Element::new("iq", ns::CLIENT).with_attr("type", "error").with_attr("id", id);
    if let Some(to) = to {
        iq = iq.with_attr("to", to);
    }
    to_xml(iq.with_child(Element::new("error", ns::CLIENT).with_attr("type", kind).with_child(Element::new(condition, ns::STANZAS))))
}

/// XEP-0030, minimally: a client, answering disco and ping. No name, so as
/// not to say which client.
pub fn disco_info() -> Element {
    Element::new("query", ns::DISCO_INFO)
        .with_child(Element::new("identity", ns::DISCO_INFO).with_attr("category", "client").with_attr("type", "pc"))
        .with_child(Element::new("feature", ns::DISCO_INFO).with_attr("var", ns::DISCO_INFO))
        .with_child(Element::new("feature", ns::DISCO_INFO).with_attr("var", ns::PING))
}

/// A stream error and the end of our stream. The condition is always one of
/// Burrow's own constants, never text from the network.
pub fn stream_error(condition: &'static str) -> String {
    debug_assert!(condition.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'-'));
    format!("<stream:error><{condition} xmlns='{}'/></stream:error>{}", ns::STREAMS_ERRORS, crate::xml::STREAM_CLOSE)
}

/// The defined condition of a stanza error, for the user.
pub fn error_condition(stanza: &Element) -> String {
    stanza
        .find("error", ns::CLIENT)
        .and_then(|error| error.elements().find(|child| child.namespace == ns::STANZAS && child.name != "text"))
        .map(|condition| condition.name.replace('-', " "))
        .unwrap_or_else(|| "the server gave no reason".into())
}

pub fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Base64 as SASL carries it: `=` alone is empty (RFC 6120 §6.4.2).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let text: String = text.chars().filter(|character| !character.is_ascii_whitespace()).collect();
    if text.is_empty() || text == "=" {
        return Some(Vec::new());
    }
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let message = chat_message("bob@example.org", "<b>&'\"").to_xml(ns::CLIENT);
        assert!(message.contains("&lt;b&gt;&amp;"), "{message}");
        assert!(!message.contains("<b>"));
        let auth = sasl_auth("SCRAM-SHA-1", b"");
        assert!(auth.contains(">=</auth>"), "{auth}");
    }

    #[test]
    fn stream_errors_use_the_stream_prefix() {
        let error = stream_error("policy-violation");
        assert!(error.starts_with("<stream:error><policy-violation "), "{error}");
        assert!(error.contains("urn:ietf:params:xml:ns:xmpp-streams"));
        assert!(error.ends_with("</stream:stream>"), "{error}");
    }

    #[test]
    fn sasl_base64() {
        assert_eq!(base64_decode("="), Some(vec![]));
        assert_eq!(base64_decode("aGk=\n"), Some(b"hi".to_vec()));
        assert_eq!(base64_decode("!!"), None);
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(random_id(), random_id());
        assert_eq!(random_id().len(), 32);
    }
}
