//! What can go wrong in a SCRAM or PLAIN login, in words the user can act on, with a short
//! [`ScramError::code`] for the front end's `error.code`.

/// A failed login step. After any of these the [`super::ScramClient`] is finished: a new login
/// needs a new client.
#[derive(Debug, thiserror::Error)]
pub enum ScramError {
    #[error("the account name is empty")]
    EmptyUsername,
    #[error("the account name contains a control character; Burrow will not send it to a server")]
    UsernameControlCharacter,
    #[error("the operating system gave no random numbers for the login nonce: {0}")]
    Random(getrandom::Error),
    #[error("internal error: the SCRAM mechanism and the channel-binding setting do not agree")]
    BindingMismatch,
    #[error(
        "internal error: the SCRAM step \"{0}\" came out of order; this login attempt is over"
    )]
    OutOfOrder(&'static str),
    #[error("internal error: {0}")]
    Internal(&'static str),
    #[error("the server sent a malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error(
        "the server's nonce does not begin with ours: the reply belongs to another login, or \
         someone is tampering with this one"
    )]
    NonceMismatch,
    #[error(
        "the server asked for too few iterations ({0}); at least 4096 are required (RFC 7677), \
         so that a stolen password database is slow to crack"
    )]
    TooFewIterations(u32),
    #[error(
        "the server asked for too many iterations ({0}); Burrow stops at 10000000 so that a \
         server cannot keep this computer busy for minutes"
    )]
    TooManyIterations(u32),
    #[error("the server requires a SCRAM extension that Burrow does not know")]
    UnknownMandatoryExtension,
    #[error(
        "the server's signature did not match: it does not know this account's password, or \
         someone is in the middle"
    )]
    ServerSignatureMismatch,
    /// The server turned down our channel binding; the caller may retry with
    /// `refused_binding = true` (see [`super::choose`]), which the user is then shown.
    #[error("the server refused our channel binding ({0})")]
    ChannelBindingRejected(String),
    #[error("the server refused the login: {}", explain_server_error(.0))]
    ServerRejected(String),
    #[error(
        "the account name or password contains a NUL character, which SASL PLAIN cannot carry"
    )]
    PlainNul,
}

/// The `server-error-value`s of RFC 5802 §7 that say the server would not take our channel
/// binding, as opposed to refusing us for any other reason.
const CHANNEL_BINDING_REFUSALS: [&str; 3] = [
    "channel-bindings-dont-match",
    "channel-binding-not-supported",
    "unsupported-channel-binding-type",
];

/// The longest server error text kept; the rest is the server's business, not the screen's.
const MAX_SERVER_TEXT: usize = 200;

impl ScramError {
    /// The error for an `e=` attribute, from the raw value the server sent. The value is
    /// sanitised: control characters (terminal escapes among them) removed, length capped.
    pub fn from_server_error_value(value: &str) -> ScramError {
        let text: String = value
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_SERVER_TEXT)
            .collect();
        if CHANNEL_BINDING_REFUSALS.contains(&text.as_str()) {
            ScramError::ChannelBindingRejected(text)
        } else {
            ScramError::ServerRejected(text)
        }
    }

    /// True when the server refused our channel binding, so a retry without `-PLUS` makes sense.
    pub fn is_channel_binding_rejection(&self) -> bool {
        matches!(self, ScramError::ChannelBindingRejected(_))
    }

    /// A short stable code for the front end's `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ScramError::EmptyUsername | ScramError::UsernameControlCharacter => "bad-username",
            ScramError::PlainNul => "bad-credentials",
            ScramError::Random(_) => "no-randomness",
            ScramError::BindingMismatch | ScramError::OutOfOrder(_) | ScramError::Internal(_) => {
                "internal"
            }
            ScramError::Malformed(_) => "server-malformed",
            ScramError::NonceMismatch => "server-nonce",
            ScramError::TooFewIterations(_) | ScramError::TooManyIterations(_) => {
                "server-iterations"
            }
            ScramError::UnknownMandatoryExtension => "server-extension",
            ScramError::ServerSignatureMismatch => "server-signature",
            ScramError::ChannelBindingRejected(_) => "channel-binding-refused",
            ScramError::ServerRejected(_) => "auth-failed",
        }
    }
}

/// Plain words for the other `server-error-value`s of RFC 5802 §7; anything else is quoted.
fn explain_server_error(value: &str) -> String {
    let words = match value {
        "invalid-proof" => "the password is wrong",
        "unknown-user" => "it does not know this account",
        "invalid-username-encoding" | "invalid-encoding" => "it could not read our message",
        "extensions-not-supported" => "it does not support an extension we used",
        "server-does-support-channel-binding" => {
            "it does support channel binding, which Burrow did not see on offer: someone may \
             have removed it from the server's list"
        }
        "no-resources" => "it is out of resources; try again later",
        "other-error" => "it gave no reason",
        other => return format!("it said \"{other}\""),
    };
    format!("{words} ({value})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_refusals_are_told_apart() {
        for code in CHANNEL_BINDING_REFUSALS {
            let e = ScramError::from_server_error_value(code);
            assert!(e.is_channel_binding_rejection(), "{code}");
            assert_eq!(e.code(), "channel-binding-refused");
            assert_eq!(
                e.to_string(),
                format!("the server refused our channel binding ({code})")
            );
        }
        let e = ScramError::from_server_error_value("server-does-support-channel-binding");
        assert!(!e.is_channel_binding_rejection());
        assert_eq!(e.code(), "auth-failed");
    }

    #[test]
    fn server_errors_read_as_plain_words() {
        assert_eq!(
            ScramError::from_server_error_value("invalid-proof").to_string(),
            "the server refused the login: the password is wrong (invalid-proof)"
        );
        assert_eq!(
            ScramError::from_server_error_value("custom trouble").to_string(),
            "the server refused the login: it said \"custom trouble\""
        );
    }

    #[test]
    fn server_text_loses_control_characters_and_is_capped() {
        let e = ScramError::from_server_error_value("bad\u{1b}[2Jthing\n");
        assert!(matches!(&e, ScramError::ServerRejected(t) if t == "bad[2Jthing"));
        let long = "x".repeat(1000);
        assert!(matches!(ScramError::from_server_error_value(&long),
            ScramError::ServerRejected(t) if t.len() == MAX_SERVER_TEXT));
    }
}
