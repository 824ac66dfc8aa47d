//! A bounded XML reader over quick-xml: the whole document into a small tree of elements, with
//! the file size, the nesting depth, the number of elements and the attributes per element capped,
//! and no DTD at all — a DOCTYPE is refused, so no entity is ever defined or expanded; the only
//! references accepted are XML's five predefined entities and character references.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use thiserror::Error;

use super::MAX_FILE_BYTES;

/// Pidgin's files nest about six deep (blist, group, contact, buddy, setting); plists a few more.
pub const MAX_DEPTH: usize = 32;
/// A blist.xml with a few thousand buddies has tens of thousands of elements.
pub const MAX_ELEMENTS: usize = 200_000;
/// Pidgin writes at most three attributes on an element.
pub const MAX_ATTRIBUTES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    #[error("the file is {0} bytes long, more than any such file")]
    TooLarge(usize),
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("the file has a DOCTYPE (a document type definition), which none of these files has; it is refused so that no entity is expanded")]
    Doctype,
    #[error("the file refers to an entity, &{0};, that XML does not define")]
    UnknownEntity(String),
    #[error("the file nests elements more than {MAX_DEPTH} deep")]
    TooDeep,
    #[error("the file has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("an element has more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("the file is not well-formed XML near byte {offset}: {problem}")]
    Syntax { offset: u64, problem: String },
    #[error("the file has no root element")]
    NoRoot,
    #[error("the file has more than one root element")]
    SeveralRoots,
}

/// One element: its name, attributes and text (all text and CDATA directly inside it, joined), and
/// its child elements in order.
#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }

    /// The text of the first child called `name`, trimmed.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|child| child.text.trim())
    }
}

/// Parses a whole document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(XmlError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.trim_text(false);

    // The open elements, innermost last; finished children are attached to their parent at once,
    // so the stack never holds more than MAX_DEPTH elements.
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    let syntax = |reader: &Reader<&[u8]>, problem: String| XmlError::Syntax { offset: reader.buffer_position(), problem };
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => return Err(syntax(&reader, error.to_string())),
        };
        match event {
            Event::Start(start) | Event::Empty(start) if stack.len() >= MAX_DEPTH => {
                let _ = start;
                return Err(XmlError::TooDeep);
            }
            Event::Start(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if root.is_some() && stack.is_empty() {
                    return Err(XmlError::SeveralRoots);
                }
                stack.push(element(&start).map_err(|problem| problem.into_error(&reader))?);
            }
            Event::Empty(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                let finished = element(&start).map_err(|problem| problem.into_error(&reader))?;
                attach(&mut stack, &mut root, finished)?;
            }
            Event::End(_) => {
                let Some(finished) = stack.pop() else {
                    return Err(syntax(&reader, "a closing tag without an opening one".into()));
                };
                attach(&mut stack, &mut root, finished)?;
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                push_text(&mut stack, &content, &reader)?;
            }
            Event::CData(data) => {
                let content = data.xml10_content();
                push_text(&mut stack, &content, &reader)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(character)) => character.to_string(),
                    Ok(None) => {
                        let name = reference.xml10_content();
                        match predefined(&name) {
                            Some(character) => character.to_string(),
                            None => return Err(XmlError::UnknownEntity(super::shown(&name))),
                        }
                    }
                    Err(error) => return Err(syntax(&reader, error.to_string())),
                };
                push_text(&mut stack, &resolved, &reader)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax { offset: reader.buffer_position(), problem: "the file ends inside an element".into() });
    }
    root.ok_or(XmlError::NoRoot)
}

fn predefined(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

fn push_text(stack: &mut [Element], content: &str, reader: &Reader<&[u8]>) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(open) => open.text.push_str(content),
        None if content.trim().is_empty() => {}
        None => {
            return Err(XmlError::Syntax { offset: reader.buffer_position(), problem: "text outside the root element".into() })
        }
    }
    Ok(())
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, finished: Element) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(finished),
        None if root.is_some() => return Err(XmlError::SeveralRoots),
        None => *root = Some(finished),
    }
    Ok(())
}

enum ElementProblem {
    TooManyAttributes,
    Syntax(String),
    Entity(String),
}

impl ElementProblem {
    fn into_error(self, reader: &Reader<&[u8]>) -> XmlError {
        match self {
            ElementProblem::TooManyAttributes => XmlError::TooManyAttributes,
            ElementProblem::Syntax(problem) => XmlError::Syntax { offset: reader.buffer_position(), problem },
            ElementProblem::Entity(name) => XmlError::UnknownEntity(name),
        }
    }
}

fn element(start: &BytesStart<'_>) -> Result<Element, ElementProblem> {
    let name = start.name().as_ref().to_string();
    let mut attributes = Vec::new();
    for attribute in start.attributes().with_checks(true) {
        if attributes.len() >= MAX_ATTRIBUTES {
            return Err(ElementProblem::TooManyAttributes);
        }
        let attribute = attribute.map_err(|error| ElementProblem::Syntax(error.to_string()))?;
        let key = attribute.key.as_ref().to_string();
        let value = attribute.normalized_value(quick_xml::XmlVersion::default()).map_err(|error| match error {
            quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, entity)) => {
                ElementProblem::Entity(super::shown(&entity))
            }
            other => ElementProblem::Syntax(other.to_string()),
        })?;
        attributes.push((key, value.into_owned()));
    }
    Ok(Element { name, attributes, text: String::new(), children: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_document() {
        let root = parse(b"<?xml version='1.0'?><a x='1 &amp; 2'><b>t&lt;&#x41;</b><c/><![CDATA[<z>]]></a>").unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(root.attribute("x"), Some("1 & 2"));
        assert_eq!(root.child_text("b"), Some("t<A"));
        assert!(root.child("c").is_some());
        assert_eq!(root.text, "<z>");
    }

    #[test]
    fn refuses_what_it_must() {
        assert_eq!(parse(b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>").unwrap_err(), XmlError::Doctype);
        assert!(matches!(parse(b"<a>&e;</a>").unwrap_err(), XmlError::UnknownEntity(name) if name == "e"));
        assert!(matches!(parse(b"<a x='&e;'/>").unwrap_err(), XmlError::UnknownEntity(_)));
        assert_eq!(parse(b"<a>\xff</a>").unwrap_err(), XmlError::NotUtf8);
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()).unwrap_err(), XmlError::TooDeep);
        assert!(matches!(parse(b"<a><b></a>").unwrap_err(), XmlError::Syntax { .. }));
        assert!(matches!(parse(b"<a>").unwrap_err(), XmlError::Syntax { .. }));
        assert_eq!(parse(b"<a/><b/>").unwrap_err(), XmlError::SeveralRoots);
        assert_eq!(parse(b"").unwrap_err(), XmlError::NoRoot);
        let many = format!("<a {}/>", (0..=MAX_ATTRIBUTES).map(|i| format!("a{i}='x'")).collect::<Vec<_>>().join(" "));
        assert_eq!(parse(many.as_bytes()).unwrap_err(), XmlError::TooManyAttributes);
    }
}
