//! The element tree: what one stanza parses into and what the client builds to send.

/// An XML element with its namespace resolved.
///
/// As the reader makes them: `name` is the local name (no prefix); `namespace` is the namespace
/// URI in scope, `""` for none; `attributes` holds the element's unprefixed attributes and its
/// `xml:` ones (as `xml:lang`), in document order, with values unescaped and namespace
/// declarations left out; `children` never holds two texts in a row nor an empty text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub namespace: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Node>,
}

/// A child of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data, unescaped (CDATA sections become text too).
    Text(String),
}

impl Element {
    /// An element with no attributes and no children.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            namespace: namespace.into(),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Builder: adds an attribute. (Named `with_` because [`Element::attr`] reads one.)
    #[must_use]
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Builder: appends a child element.
    #[must_use]
    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: appends text, joined to a text just before it so that the tree stays as the
    /// reader would make it.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        if text.is_empty() {
            return self;
        }
        match self.children.last_mut() {
            Some(Node::Text(last)) => last.push_str(&text),
            _ => self.children.push(Node::Text(text)),
        }
        self
    }

    /// The value of the first attribute called `name` (`"xml:lang"` for the language).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Whether this element is `name` in `namespace`.
    pub fn is(&self, name: &str, namespace: &str) -> bool {
        self.name == name && self.namespace == namespace
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The first child element `name` in `namespace`.
    pub fn find(&self, name: &str, namespace: &str) -> Option<&Element> {
        self.elements().find(|child| child.is(name, namespace))
    }

    /// Every child element `name` in `namespace`, in order.
    pub fn find_all<'a>(
        &'a self,
        name: &'a str,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |child| child.is(name, namespace))
    }

    /// The direct text children joined (text inside child elements is not included).
    pub fn text(&self) -> String {
        let mut text = String::new();
        for node in &self.children {
            if let Node::Text(part) = node {
                text.push_str(part);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";

    fn sample() -> Element {
        Element::new("iq", "jabber:client")
            .with_attr("type", "result")
            .with_attr("id", "b1")
            .with_text("a")
            .with_child(Element::new("bind", BIND).with_child(Element::new("jid", BIND).with_text("me@x/r")))
            .with_text("b")
            .with_child(Element::new("bind", "other"))
            .with_child(Element::new("bind", BIND).with_attr("n", "2"))
            .with_text("c")
            .with_text("")
            .with_text("d")
    }

    #[test]
    fn accessors_find_attributes_children_and_text() {
        let iq = sample();
        assert!(iq.is("iq", "jabber:client"));
        assert!(!iq.is("iq", ""));
        assert_eq!(iq.attr("type"), Some("result"));
        assert_eq!(iq.attr("to"), None);
        let bind = iq.find("bind", BIND).expect("bind child");
        assert_eq!(bind.find("jid", BIND).map(Element::text).as_deref(), Some("me@x/r"));
        assert_eq!(iq.find_all("bind", BIND).count(), 2);
        assert_eq!(iq.find_all("bind", BIND).nth(1).and_then(|b| b.attr("n")), Some("2"));
        assert!(iq.find("jid", BIND).is_none(), "find looks at direct children only");
        assert_eq!(iq.elements().count(), 3);
        assert_eq!(iq.text(), "abcd", "direct text only");
    }

    #[test]
    fn with_text_joins_adjacent_texts_and_skips_empty_ones() {
        let iq = sample();
        assert_eq!(iq.children.last(), Some(&Node::Text("cd".into())));
        assert_eq!(Element::new("a", "").with_text("").children, Vec::new());
    }
}
