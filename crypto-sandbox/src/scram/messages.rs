//! The wire syntax of RFC 5802 §7 ("Formal Syntax") and the `saslname` escaping of §5.1.
//!
//! Everything parsed here came from the server through the network process: nothing is indexed,
//! nothing unwrapped, and every refusal names what was wrong.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::error::ScramError;

/// The `saslname` for `username` (RFC 5802 §5.1): `=` becomes `=3D` and `,` becomes `=2C`.
///
/// This is *not* SASLprep (RFC 4013): no Unicode normalisation or mapping is applied. Control
/// characters are refused outright, since no XMPP account name holds one and a server that
/// SASLpreps would refuse them too; an empty name is refused as meaningless.
pub fn saslname(username: &str) -> Result<String, ScramError> {
    if username.is_empty() {
        return Err(ScramError::EmptyUsername);
    }
    if username.chars().any(char::is_control) {
        return Err(ScramError::UsernameControlCharacter);
    }
    let mut escaped = String::with_capacity(username.len());
    for c in username.chars() {
        match c {
            '=' => escaped.push_str("=3D"),
            ',' => escaped.push_str("=2C"),
            other => escaped.push(other),
        }
    }
    Ok(escaped)
}

/// RFC 5802 `printable`: `%x21-2B / %x2D-7E`, i.e. visible ASCII except `,`. Nonces are made of
/// these.
pub fn is_printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, 0x21..=0x2B | 0x2D..=0x7E))
}

/// One `attr-val`: a single ASCII letter, `=`, and the value.
fn attribute(part: &str) -> Option<(u8, &str)> {
    let (name, value) = part.split_at_checked(1)?;
    let name = *name.as_bytes().first()?;
    let value = value.strip_prefix('=')?;
    name.is_ascii_alphabetic().then_some((name, value))
}

/// The next attribute of a message, which must be `expected`.
fn expect<'a>(
    parts: &mut impl Iterator<Item = &'a str>,
    expected: u8,
    missing: &'static str,
) -> Result<&'a str, ScramError> {
    match parts.next().and_then(attribute) {
        Some((name, value)) if name == expected => Ok(value),
        _ => Err(ScramError::Malformed(missing)),
    }
}

/// `server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]`
#[derive(Debug, PartialEq, Eq)]
pub struct ServerFirst<'a> {
    /// The whole nonce: ours followed by the server's.
    pub nonce: &'a str,
    pub salt: Vec<u8>,
    pub iterations: u32,
}

pub fn parse_server_first(message: &str) -> Result<ServerFirst<'_>, ScramError> {
    let mut parts = message.split(',').peekable();
    match parts.peek().copied().and_then(attribute) {
        // RFC 5802 §5.1: "m" is reserved, and "its presence in a client or a server message
        // MUST cause authentication failure when the attribute is parsed by the other end."
        Some((b'm', _)) => return Err(ScramError::UnknownMandatoryExtension),
        // Not in the grammar here, but a server that fails early may say why this way.
        Some((b'e', value)) => return Err(ScramError::from_server_error_value(value)),
        _ => {}
    }
    let nonce = expect(
        &mut parts,
        b'r',
        "the server-first message does not start with r=",
    )?;
    if !is_printable(nonce) {
        return Err(ScramError::Malformed(
            "the server's nonce has characters a nonce may not hold",
        ));
    }
    let salt = expect(
        &mut parts,
        b's',
        "the server-first message has no s= after r=",
    )?;
    let salt = BASE64
        .decode(salt)
        .map_err(|_| ScramError::Malformed("the salt is not valid base64"))?;
    if salt.is_empty() {
        return Err(ScramError::Malformed("the salt is empty"));
    }
    let iterations = expect(
        &mut parts,
        b'i',
        "the server-first message has no i= after s=",
    )?;
    if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScramError::Malformed("the iteration count is not a number"));
    }
    // All digits, so the only failure left is overflow: a count beyond any cap.
    let iterations = iterations.parse::<u32>().unwrap_or(u32::MAX);
    // Optional extensions may follow. Only a leading m= obliges us to understand anything, so
    // unknown ones are ignored — but they must at least be attributes.
    if parts.any(|p| attribute(p).is_none()) {
        return Err(ScramError::Malformed(
            "the server-first message ends in something that is not an attribute",
        ));
    }
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

/// `server-final-message = (server-error / verifier) ["," extensions]`
#[derive(Debug, PartialEq, Eq)]
pub enum ServerFinal<'a> {
    /// `v=`: the decoded ServerSignature.
    Verifier(Vec<u8>),
    /// `e=`: the server's `server-error-value`, not yet sanitised.
    Error(&'a str),
}

pub fn parse_server_final(message: &str) -> Result<ServerFinal<'_>, ScramError> {
    let first = message.split(',').next().and_then(attribute);
    match first {
        Some((b'v', value)) => BASE64
            .decode(value)
            .map(ServerFinal::Verifier)
            .map_err(|_| ScramError::Malformed("the server signature is not valid base64")),
        Some((b'e', value)) => Ok(ServerFinal::Error(value)),
        _ => Err(ScramError::Malformed(
            "the server-final message is neither v= nor e=",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslname_escapes_equals_and_comma_only() {
        assert_eq!(saslname("user").unwrap(), "user");
        assert_eq!(saslname("us=er,1").unwrap(), "us=3Der=2C1");
        assert_eq!(saslname("==,").unwrap(), "=3D=3D=2C");
        assert_eq!(saslname("Ünïcödé").unwrap(), "Ünïcödé");
    }

    #[test]
    fn saslname_refuses_control_characters_and_emptiness() {
        for bad in ["us\u{0}er", "user\n", "\u{7f}", "a\u{85}b", "\u{1b}[31m"] {
            assert!(
                matches!(saslname(bad), Err(ScramError::UsernameControlCharacter)),
                "{bad:?}"
            );
        }
        assert!(matches!(saslname(""), Err(ScramError::EmptyUsername)));
    }

    #[test]
    fn printable_excludes_comma_space_and_non_ascii() {
        assert!(is_printable("fyko+d2lbbFgONRv9qkxdawL%hvYD)$"));
        for bad in ["", "a,b", "a b", "é", "a\tb"] {
            assert!(!is_printable(bad), "{bad:?}");
        }
    }

    #[test]
    fn server_first_parses_and_ignores_optional_extensions() {
        let sf = parse_server_first("r=abcDEF,s=QSXCR+Q6sek8bf92,i=4096,x=whatever").unwrap();
        assert_eq!(
            sf,
            ServerFirst {
                nonce: "abcDEF",
                salt: vec![0x41, 0x25, 0xc2, 0x47, 0xe4, 0x3a, 0xb1, 0xe9, 0x3c, 0x6d, 0xff, 0x76],
                iterations: 4096,
            }
        );
        assert_eq!(
            parse_server_first("r=a,s=QQ==,i=99999999999")
                .unwrap()
                .iterations,
            u32::MAX
        );
    }

    #[test]
    fn server_first_refusals() {
        let malformed = [
            "",
            "s=QQ==,r=a,i=4096",
            "r=a,i=4096,s=QQ==",
            "r=a,s=QQ==",
            "r=a b,s=QQ==,i=4096",
            "r=,s=QQ==,i=4096",
            "r=a,s=,i=4096",
            "r=a,s=!!!!,i=4096",
            "r=a,s=QQ==,i=",
            "r=a,s=QQ==,i=-1",
            "r=a,s=QQ==,i=+4096",
            "r=a,s=QQ==,i=4096,junk",
            "r=a,s=QQ==,i=4096,",
            "rx=a,s=QQ==,i=4096",
        ];
        for m in malformed {
            assert!(
                matches!(parse_server_first(m), Err(ScramError::Malformed(_))),
                "{m:?}"
            );
        }
        assert!(matches!(
            parse_server_first("m=must-know,r=a,s=QQ==,i=4096"),
            Err(ScramError::UnknownMandatoryExtension)
        ));
        assert!(matches!(
            parse_server_first("e=unknown-user"),
            Err(ScramError::ServerRejected(code)) if code == "unknown-user"
        ));
    }

    #[test]
    fn server_final_forms() {
        assert_eq!(
            parse_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,ext=1").unwrap(),
            ServerFinal::Verifier(vec![
                0xae, 0x61, 0x7d, 0xa6, 0xa5, 0x7c, 0x4b, 0xbb, 0x2e, 0x02, 0x86, 0x56, 0x8d, 0xae,
                0x1d, 0x25, 0x19, 0x05, 0xb0, 0xa4,
            ])
        );
        assert_eq!(
            parse_server_final("e=invalid-proof").unwrap(),
            ServerFinal::Error("invalid-proof")
        );
        for m in ["", "x=1", "v=%%%", "r=abc"] {
            assert!(
                matches!(parse_server_final(m), Err(ScramError::Malformed(_))),
                "{m:?}"
            );
        }
    }
}
