//! Checking the JIDs a user types or a server sends, the same way in every
//! process.
//!
//! This is RFC 7622's structure with a deliberately small profile: no
//! PRECIS mapping beyond lowercasing the domain and the local part (as
//! servers do for ASCII names); characters RFC 7622 forbids in a local part
//! are refused, and so are spaces and controls anywhere.

/// Each part of a JID is at most 1023 bytes (RFC 7622 §3).
const MAX_PART: usize = 1023;
const FORBIDDEN_IN_LOCAL: &[char] = &['"', '&', '\'', '/', ':', '<', '>', '@'];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BareJid {
    pub local: String,
    pub domain: String,
}

impl BareJid {
    /// A bare JID `local@domain`; a resource is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (jid, resource) = split_full(text)?;
        if resource.is_some() {
            return Err(format!("{text} has a resource (the part after /); give the bare address"));
        }
        jid.local.is_empty().then(|| Err(format!("{text} has no user name before @"))).unwrap_or(Ok(jid))
    }

    /// A peer's address as a server sends it: bare, full, or a server.
    /// Returns the bare part (local part may be empty) and the resource.
    pub fn parse_full(text: &str) -> Result<(Self, Option<String>), String> {
        split_full(text)
    }

    pub fn as_string(&self) -> String {
        if self.local.is_empty() {
            self.domain.clone()
        } else {
            format!("{}@{}", self.local, self.domain)
        }
    }
}

impl std::fmt::Display for BareJid {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.as_string())
    }
}

fn split_full(text: &str) -> Result<(BareJid, Option<String>), String> {
    if text.chars().any(|character| character.is_whitespace() || character.is_control()) {
        return Err("an address may not hold spaces or control characters".into());
    }
    let (bare, resource) = match text.split_once('/') {
        Some((bare, resource)) => (bare, Some(resource)),
        None => (text, None),
    };
    let (local, domain) = match bare.split_once('@') {
        Some((local, domain)) => (local, domain),
        None => ("", bare),
    };
    if domain.is_empty() || domain.len() > MAX_PART || domain.contains('@') {
        return Err(format!("{text} is not a valid address"));
    }
    if !domain.chars().all(|character| character.is_alphanumeric() || "-._[]:".contains(character)) {
        return Err(format!("{text} has characters not allowed in a domain"));
    }
    if local.len() > MAX_PART || local.contains(FORBIDDEN_IN_LOCAL) {
        return Err(format!("{text} has characters not allowed before the @"));
    }
    if let Some(resource) = resource {
        if resource.is_empty() || resource.len() > MAX_PART {
            return Err(format!("{text} has an empty or overlong resource"));
        }
    }
    let domain = domain.trim_end_matches('.').to_lowercase();
    Ok((BareJid { local: local.to_lowercase(), domain }, resource.map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_jids_are_checked_and_lowercased() {
        let jid = BareJid::parse("Alice@Example.ORG").unwrap();
        assert_eq!(jid.as_string(), "alice@example.org");
        assert!(BareJid::parse("example.org").is_err());
        assert!(BareJid::parse("alice@example.org/phone").is_err());
        assert!(BareJid::parse("a b@example.org").is_err());
        assert!(BareJid::parse("a<b@example.org").is_err());
        assert!(BareJid::parse("alice@").is_err());
        assert!(BareJid::parse(&format!("{}@example.org", "a".repeat(1024))).is_err());
    }

    #[test]
    fn full_jids_keep_their_resource() {
        let (jid, resource) = BareJid::parse_full("bob@example.org/x/y").unwrap();
        assert_eq!((jid.as_string().as_str(), resource.as_deref()), ("bob@example.org", Some("x/y")));
        let (server, none) = BareJid::parse_full("example.org").unwrap();
        assert_eq!((server.local.as_str(), none), ("", None));
    }
}
