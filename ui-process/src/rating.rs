//! One security rating per conversation, derived only from what the other
//! processes report (net: the account's TLS and Tor; crypto: the OTR state
//! and whether the fingerprint is verified), with its reasons in plain words.

use ipc::otr::ConversationState;
use ipc::xmpp::{AccountStatus, ConnectionState};

use crate::i18n::{tr, tr_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    PrivateVerified,
    PrivateUnverified,
    NotPrivate,
}

impl Level {
    pub fn title(self) -> String {
        match self {
            Level::PrivateVerified => tr("Private and verified"),
            Level::PrivateUnverified => tr("Private, not verified"),
            Level::NotPrivate => tr("Not private"),
        }
    }
}

/// What crypto last said about one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtrView {
    pub state: ConversationState,
    pub verified: bool,
    /// Crypto said the peer's key differs from one seen before (and is
    /// not verified); `earlier_verified` when the user had verified that one.
    pub key_changed: bool,
    pub earlier_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub level: Level,
    pub reasons: Vec<String>,
}

/// `connection` is the account's last status from net, `otr` crypto's last
/// word on this peer (none before the first).
pub fn rate(connection: Option<&AccountStatus>, otr: Option<OtrView>) -> Rating {
    let mut reasons = Vec::new();
    let otr_level = match otr {
        // A changed key is never "verified", whatever else was said.
        Some(OtrView { state: ConversationState::Private, verified: true, key_changed: false, .. }) => {
            reasons.push(tr("Messages are encrypted end to end with OTR: only this contact can read them."));
            reasons.push(tr("You have verified this contact's identity."));
            Level::PrivateVerified
        }
        Some(OtrView { state: ConversationState::Private, key_changed: true, earlier_verified, .. }) => {
            reasons.push(tr("Messages are encrypted end to end with OTR."));
            reasons.push(if earlier_verified {
                tr("This contact's security key changed since you verified it. It may be a new device, or someone pretending to be them: verify the new key before you write anything sensitive.")
            } else {
                tr("This contact's security key is not the one seen before. It may be a new device, or someone pretending to be them: verify it before you write anything sensitive.")
            });
            Level::PrivateUnverified
        }
        Some(OtrView { state: ConversationState::Private, verified: false, .. }) => {
            reasons.push(tr("Messages are encrypted end to end with OTR."));
            reasons.push(tr("You have not verified this contact's identity, so someone could be pretending to be them. Verify it with a question only the two of you can answer."));
            Level::PrivateUnverified
        }
        Some(OtrView { state: ConversationState::Finished, .. }) => {
            reasons.push(tr("The contact ended the private conversation. Start it again before you write."));
            Level::NotPrivate
        }
        Some(OtrView { state: ConversationState::Plaintext, .. }) | None => {
            reasons.push(tr("Messages are not encrypted end to end: the server could read them. Start a private conversation."));
            Level::NotPrivate
        }
    };
    let connection_safe = match connection {
        Some(status) if status.state == ConnectionState::Online => {
            let tls_safe = match &status.tls {
                Some(version) => {
                    reasons.push(tr_with("The connection to the server is encrypted ({version}).", &[("version", version)]));
                    true
                }
                None => {
                    reasons.push(tr("The connection to the server is not encrypted."));
                    false
                }
            };
            let tor_safe = match status.tor.as_str() {
                "system" | "embedded" => {
                    reasons.push(tr("The connection goes through Tor, so the server does not learn where you are."));
                    true
                }
                // Net dials without Tor only a server on this computer.
                "none" => {
                    reasons.push(tr("The server is on this computer, so no Tor is needed to hide where you are."));
                    true
                }
                _ => {
                    reasons.push(tr("It is not known whether the connection goes through Tor."));
                    false
                }
            };
            tls_safe && tor_safe
        }
        Some(status) if status.state == ConnectionState::Connecting => {
            reasons.push(tr("The account is connecting."));
            false
        }
        _ => {
            reasons.push(tr("The account is offline: nothing can be sent."));
            false
        }
    };
    // A verified OTR conversation over a connection that is not protected
    // still hides the text, but not who talks to whom.
    let level = match otr_level {
        Level::PrivateVerified if !connection_safe => Level::PrivateUnverified,
        level => level,
    };
    Rating { level, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online(tor: &str, tls: Option<&str>) -> AccountStatus {
        AccountStatus { account: "me@example.org".into(), state: ConnectionState::Online, tor: tor.into(), tls: tls.map(str::to_owned), circuit: None, sasl: None }
    }

    #[test]
    fn private_and_verified_needs_otr_verification_and_a_protected_connection() {
        let verified = Some(OtrView { state: ConversationState::Private, verified: true, key_changed: false, earlier_verified: false });
        let rating = rate(Some(&online("system", Some("TLS 1.3"))), verified);
        assert_eq!(rating.level, Level::PrivateVerified);
        assert!(rating.reasons.iter().any(|reason| reason.contains("TLS 1.3")), "{rating:?}");
        assert!(rating.reasons.iter().any(|reason| reason.contains("Tor")), "{rating:?}");
        assert_eq!(rate(Some(&online("system", None)), verified).level, Level::PrivateUnverified);
        assert_eq!(rate(None, verified).level, Level::PrivateUnverified);
    }

    #[test]
    fn unverified_otr_is_private_but_not_verified() {
        let rating = rate(Some(&online("none", Some("TLS 1.3"))), Some(OtrView { state: ConversationState::Private, verified: false, key_changed: false, earlier_verified: false }));
        assert_eq!(rating.level, Level::PrivateUnverified);
        assert_eq!(rating.level.title(), "Private, not verified");
        assert!(rating.reasons.iter().any(|reason| reason.contains("not verified")), "{rating:?}");
    }

    #[test]
    fn a_changed_key_is_never_private_and_verified_and_says_why() {
        let status = online("system", Some("TLS 1.3"));
        for verified in [false, true] {
            let changed = OtrView { state: ConversationState::Private, verified, key_changed: true, earlier_verified: true };
            let rating = rate(Some(&status), Some(changed));
            assert_eq!(rating.level, Level::PrivateUnverified, "{rating:?}");
            assert!(rating.reasons.iter().any(|reason| reason.contains("security key changed since you verified it")), "{rating:?}");
        }
        let never_verified = OtrView { state: ConversationState::Private, verified: false, key_changed: true, earlier_verified: false };
        assert!(rate(Some(&status), Some(never_verified)).reasons.iter().any(|reason| reason.contains("not the one seen before")));
    }

    #[test]
    fn plaintext_finished_or_unknown_is_not_private() {
        let status = online("embedded", Some("TLS 1.2"));
        for otr in [None, Some(OtrView { state: ConversationState::Plaintext, verified: true, key_changed: false, earlier_verified: false }), Some(OtrView { state: ConversationState::Finished, verified: true, key_changed: false, earlier_verified: false })] {
            let rating = rate(Some(&status), otr);
            assert_eq!(rating.level, Level::NotPrivate, "{otr:?}");
            assert_eq!(rating.level.title(), "Not private");
        }
        let offline = AccountStatus { state: ConnectionState::Offline, ..status };
        assert!(rate(Some(&offline), None).reasons.iter().any(|reason| reason.contains("offline")));
    }
}
