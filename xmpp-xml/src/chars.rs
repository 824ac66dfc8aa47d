//! XML's character classes: which characters a document may contain (XML 1.0 Fifth Edition
//! §2.2 `Char`), which may form a name (§2.3 `NameStartChar`, `NameChar`), and the
//! colon-free names of Namespaces in XML 1.0 §3 (`NCName`). The reader refuses what falls
//! outside them; the writer replaces it.

/// XML 1.0 §2.2 `Char`. A Rust `char` is never a surrogate, so what this refuses is the C0
/// controls other than tab, line feed and carriage return, and U+FFFE and U+FFFF.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// XML 1.0 §2.3 `NameStartChar`, without `:` (which Namespaces in XML reserves for prefixes).
pub(crate) fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}'
        | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}'
        | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 §2.3 `NameChar`, without `:`.
pub(crate) fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c,
            '-' | '.' | '0'..='9'
            | '\u{B7}'
            | '\u{300}'..='\u{36F}'
            | '\u{203F}'..='\u{2040}')
}

/// Namespaces in XML 1.0 §3 `NCName`: a name without a colon.
pub(crate) fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

/// XML 1.0 §2.3 `Name` (colons allowed anywhere): what an entity reference may be called.
pub(crate) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == ':' || is_name_start_char(c))
        && chars.all(|c| c == ':' || is_name_char(c))
}

/// Splits a Namespaces in XML 1.0 §4 `QName` into its prefix and local part, or `None` if
/// `s` is not one (empty, two colons, or a character no name may hold).
pub(crate) fn split_qname(s: &str) -> Option<(Option<&str>, &str)> {
    match s.split_once(':') {
        None => is_ncname(s).then_some((None, s)),
        Some((prefix, local)) => (is_ncname(prefix) && is_ncname(local)).then_some((Some(prefix), local)),
    }
}

/// The four characters XML 1.0 §2.3 `S` counts as white space (Unicode's other spaces are
/// text).
pub(crate) fn is_xml_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Makes `name` an `NCName` by replacing each character a name may not hold with `_`, for the
/// writer: an element or attribute name built by our own code is never attacker-chosen, but a
/// mistake there must not be able to inject markup.
pub(crate) fn sanitize_ncname(name: &str) -> std::borrow::Cow<'_, str> {
    if is_ncname(name) {
        return std::borrow::Cow::Borrowed(name);
    }
    if name.is_empty() {
        return std::borrow::Cow::Borrowed("_");
    }
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let allowed = if i == 0 { is_name_start_char(c) } else { is_name_char(c) };
        out.push(if allowed { c } else { '_' });
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_chars_exclude_controls_and_nonchars_but_not_tab_newline_return() {
        for c in ['\t', '\n', '\r', ' ', 'a', '\u{85}', '\u{D7FF}', '\u{E000}', '\u{FFFD}'] {
            assert!(is_xml_char(c), "{c:?} is allowed");
        }
        assert!(is_xml_char('\u{10FFFF}'));
        for c in ['\0', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{E}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!is_xml_char(c), "{c:?} is forbidden");
        }
    }

    #[test]
    fn qnames_split_into_prefix_and_local_part() {
        assert_eq!(split_qname("stream:features"), Some((Some("stream"), "features")));
        assert_eq!(split_qname("message"), Some((None, "message")));
        assert_eq!(split_qname("xml:lang"), Some((Some("xml"), "lang")));
        assert_eq!(split_qname("é-1.x"), Some((None, "é-1.x")));
        for bad in ["", ":a", "a:", "a:b:c", "1a", "-a", "a b", "a/", "a\"", "a=b", "a>"] {
            assert_eq!(split_qname(bad), None, "{bad:?} is not a QName");
        }
    }

    #[test]
    fn sanitized_names_are_always_ncnames() {
        assert_eq!(sanitize_ncname("body"), "body");
        assert_eq!(sanitize_ncname(""), "_");
        assert_eq!(sanitize_ncname("a b"), "a_b");
        assert_eq!(sanitize_ncname("1x"), "_x");
        assert_eq!(sanitize_ncname("x:y"), "x_y");
        assert_eq!(sanitize_ncname("a><script"), "a__script");
        for name in ["", "<", "1", "a:b", "\u{0}", "-."] {
            assert!(is_ncname(&sanitize_ncname(name)), "{name:?}");
        }
    }

    #[test]
    fn whitespace_is_only_the_four_xml_spaces() {
        assert!(is_xml_whitespace(" \t\r\n"));
        assert!(is_xml_whitespace(""));
        assert!(!is_xml_whitespace("\u{A0}"));
        assert!(!is_xml_whitespace(" x "));
    }
}
