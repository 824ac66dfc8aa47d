//! SASL PLAIN (RFC 4616): the last resort.
//!
//! PLAIN sends the password itself. It therefore passes through the network process (inside
//! TLS, but in that process's memory all the same) and reaches the server in the clear, which
//! can then keep it, log it, or replay it elsewhere. Burrow uses it only when the account has
//! opted in *and* the server offers no SCRAM mechanism at all; the decision is the caller's, and
//! this function only builds the message.

use zeroize::Zeroizing;

use super::error::ScramError;

/// The PLAIN initial response `authzid NUL authcid NUL passwd` (raw bytes; the network process
/// base64-encodes it into `<auth/>`). Burrow passes an empty `authzid`: it logs in as itself.
///
/// Built in one buffer of exactly the final size, so no reallocation leaves a copy of the
/// password behind; the buffer is wiped on drop. A NUL in any field would shift the fields the
/// server sees, so it is refused.
pub fn plain_initial_response(
    authzid: &str,
    username: &str,
    password: &str,
) -> Result<Zeroizing<Vec<u8>>, ScramError> {
    if [authzid, username, password]
        .iter()
        .any(|field| field.contains('\0'))
    {
        return Err(ScramError::PlainNul);
    }
    if username.is_empty() {
        return Err(ScramError::EmptyUsername);
    }
    let mut message = Zeroizing::new(Vec::with_capacity(
        authzid.len() + username.len() + password.len() + 2,
    ));
    message.extend_from_slice(authzid.as_bytes());
    message.push(0);
    message.extend_from_slice(username.as_bytes());
    message.push(0);
    message.extend_from_slice(password.as_bytes());
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_rfc_4616_message() {
        assert_eq!(
            plain_initial_response("", "user", "pencil")
                .unwrap()
                .as_slice(),
            b"\0user\0pencil"
        );
        // RFC 4616 §4 example, with an authzid.
        assert_eq!(
            plain_initial_response("Ursel", "Kurt", "xipj3plmq")
                .unwrap()
                .as_slice(),
            b"Ursel\0Kurt\0xipj3plmq"
        );
        assert_eq!(
            plain_initial_response("", "u", "pässwörd")
                .unwrap()
                .as_slice(),
            "\0u\0pässwörd".as_bytes()
        );
    }

    #[test]
    fn refuses_nul_and_empty_username() {
        assert!(matches!(
            plain_initial_response("", "user", "pen\0cil"),
            Err(ScramError::PlainNul)
        ));
        assert!(matches!(
            plain_initial_response("", "us\0er", "pencil"),
            Err(ScramError::PlainNul)
        ));
        assert!(matches!(
            plain_initial_response("a\0", "user", "pencil"),
            Err(ScramError::PlainNul)
        ));
        assert!(matches!(
            plain_initial_response("", "", "pencil"),
            Err(ScramError::EmptyUsername)
        ));
    }
}
