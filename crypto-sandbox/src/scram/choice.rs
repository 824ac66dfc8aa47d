//! Which mechanism to use, and which `gs2-cbind-flag` to send (RFC 5802 §6 "Channel Binding",
//! §7 `gs2-cbind-flag`; XEP-0440 for the server's list of binding types).

use std::fmt;

use super::mechanisms::{Mechanism, PREFERENCE};

pub use ipc::xmpp::{BindingKind, ChannelBinding};

fn refused_reason(kind: BindingKind) -> &'static str {
    match kind {
        BindingKind::TlsExporter => "server refused channel binding tls-exporter",
        BindingKind::TlsServerEndPoint => "server refused channel binding tls-server-end-point",
    }
}

fn not_advertised_reason(kind: BindingKind) -> &'static str {
    match kind {
        BindingKind::TlsExporter => "server does not support channel binding tls-exporter",
        BindingKind::TlsServerEndPoint => "server does not support channel binding tls-server-end-point",
    }
}

/// The `gs2-cbind-flag` of RFC 5802 §7, named as the grammar names its three forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gs2CbindFlag {
    /// `n`: the client does not support channel binding — in Burrow: does not use it in this
    /// exchange (see [`choose`] for why this is also the answer when we could but will not).
    N,
    /// `y`: the client supports channel binding but thinks the server does not.
    Y,
    /// `p=<cb-name>`: the client uses channel binding of this type.
    P(BindingKind),
}

impl Gs2CbindFlag {
    /// The GS2 header for this flag and no authorisation identity: `n,,`, `y,,` or
    /// `p=tls-exporter,,`. Burrow never sends an `a=` authzid: it logs in as itself.
    pub fn gs2_header(self) -> String {
        match self {
            Gs2CbindFlag::N => "n,,".to_owned(),
            Gs2CbindFlag::Y => "y,,".to_owned(),
            Gs2CbindFlag::P(kind) => format!("p={},,", kind.name()),
        }
    }
}

/// What [`choose`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub mechanism: Mechanism,
    pub flag: Gs2CbindFlag,
    /// Why channel binding is not in use although it might have been, in words for the user
    /// (e.g. "server refused channel binding tls-exporter"). `None` when channel binding is in
    /// use, or when neither side could have used it.
    pub fallback_reason: Option<&'static str>,
}

impl fmt::Display for Choice {
    /// "SCRAM-SHA-512-PLUS (channel binding tls-exporter)", "SCRAM-SHA-512 (server refused
    /// channel binding tls-exporter)", or just "SCRAM-SHA-1".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.flag, self.fallback_reason) {
            (Gs2CbindFlag::P(kind), _) => {
                write!(f, "{} (channel binding {})", self.mechanism, kind.name())
            }
            (_, Some(reason)) => write!(f, "{} ({reason})", self.mechanism),
            (_, None) => write!(f, "{}", self.mechanism),
        }
    }
}

const NO_BINDING_DATA: &str = "no channel-binding data from this TLS connection";
const SERVER_OFFERS_NO_BINDING: &str = "server offers no channel binding";
const BINDING_ONLY_WITH_WEAKER_HASH: &str = "server offers channel binding only with a weaker hash";

/// Picks the mechanism and `gs2-cbind-flag` for a login.
///
/// - `offered`: the mechanism names in the server's `<mechanisms/>` (others than SCRAM ignored).
/// - `advertised_binding_types`: the server's XEP-0440 `<sasl-channel-binding/>` list, if it sent
///   one. When present and lacking our binding type, no `-PLUS` mechanism is used.
/// - `binding`: this connection's channel-binding data, if the network process could get any.
/// - `refused_binding`: an earlier `-PLUS` attempt on this server was refused because of our
///   binding type (e.g. ejabberd 23.01 accepts only `tls-unique`).
///
/// Takes the first mechanism of [`PREFERENCE`] that the server offers and that we can use;
/// `-PLUS` is usable only with binding data, not refused, and not excluded by XEP-0440. Returns
/// `None` when the server offers no usable SCRAM mechanism.
pub fn choose(
    offered: &[String],
    advertised_binding_types: Option<&[String]>,
    binding: Option<&ChannelBinding>,
    refused_binding: bool,
) -> Option<Choice> {
    let offered: Vec<Mechanism> = offered
        .iter()
        .filter_map(|name| Mechanism::parse(name.trim()))
        .collect();
    let server_offers_plus = offered.iter().any(|m| m.plus);
    // Empty data would bind to nothing; treat it as no data.
    let binding = binding.filter(|b| !b.data.is_empty());

    // What, if anything, keeps us from any -PLUS mechanism.
    let obstacle: Option<&'static str> = match binding {
        None => Some(NO_BINDING_DATA),
        Some(b) if refused_binding => Some(refused_reason(b.kind)),
        Some(b)
            if advertised_binding_types
                .is_some_and(|types| !types.iter().any(|t| t.trim() == b.kind.name())) =>
        {
            Some(not_advertised_reason(b.kind))
        }
        Some(_) => None,
    };

    let mechanism = PREFERENCE
        .into_iter()
        .find(|m| offered.contains(m) && (!m.plus || obstacle.is_none()))?;

    // RFC 5802 §6: "y" means "I support channel binding but think the server does not", and a
    // server that does support it "MUST fail authentication" on seeing "y", taking it for an
    // attacker having stripped the -PLUS names from its offer. So:
    // - "y" only when we have binding data and the offer holds no -PLUS at all: a server that
    //   really supports binding then catches the downgrade.
    // - "n" when the offer does hold -PLUS but we deliberately do not use it (the server refused
    //   our binding type, its XEP-0440 list lacks our type, or a stronger hash came first): "y"
    //   would be false, and an honest server would fail every login. Such a fallback is a
    //   downgrade we accept knowingly, so it always carries a `fallback_reason` for the user.
    // - "n" when we have no binding data at all, which is what "n" literally says.
    let (flag, fallback_reason) = match binding {
        Some(b) if mechanism.plus => (Gs2CbindFlag::P(b.kind), None),
        None => (
            Gs2CbindFlag::N,
            server_offers_plus.then_some(NO_BINDING_DATA),
        ),
        Some(_) if !server_offers_plus => (Gs2CbindFlag::Y, Some(SERVER_OFFERS_NO_BINDING)),
        Some(_) => (
            Gs2CbindFlag::N,
            Some(obstacle.unwrap_or(BINDING_ONLY_WITH_WEAKER_HASH)),
        ),
    };
    Some(Choice {
        mechanism,
        flag,
        fallback_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scram::mechanisms::Hash;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn exporter() -> ChannelBinding {
        ChannelBinding {
            kind: BindingKind::TlsExporter,
            data: vec![7; 32],
        }
    }

    const SHA512_PLUS: Mechanism = Mechanism {
        hash: Hash::Sha512,
        plus: true,
    };
    const SHA512: Mechanism = Mechanism {
        hash: Hash::Sha512,
        plus: false,
    };
    const SHA1_PLUS: Mechanism = Mechanism {
        hash: Hash::Sha1,
        plus: true,
    };
    const SHA1: Mechanism = Mechanism {
        hash: Hash::Sha1,
        plus: false,
    };

    /// ejabberd 23.01 with `auth_scram_hash: sha512`.
    fn ejabberd_sha512() -> Vec<String> {
        names(&["PLAIN", "SCRAM-SHA-512-PLUS", "SCRAM-SHA-512"])
    }

    /// Prosody 0.12.3 with -PLUS available.
    fn prosody() -> Vec<String> {
        names(&["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "PLAIN"])
    }

    #[test]
    fn ejabberd_sha512_first_attempt_uses_plus() {
        let b = exporter();
        let c = choose(&ejabberd_sha512(), None, Some(&b), false).unwrap();
        assert_eq!(c.mechanism, SHA512_PLUS);
        assert_eq!(c.flag, Gs2CbindFlag::P(BindingKind::TlsExporter));
        assert_eq!(c.flag.gs2_header(), "p=tls-exporter,,");
        assert_eq!(c.fallback_reason, None);
        assert_eq!(
            c.to_string(),
            "SCRAM-SHA-512-PLUS (channel binding tls-exporter)"
        );
    }

    #[test]
    fn ejabberd_sha512_after_refusal_falls_back_visibly_with_n() {
        let b = exporter();
        let c = choose(&ejabberd_sha512(), None, Some(&b), true).unwrap();
        assert_eq!(c.mechanism, SHA512);
        assert_eq!(c.flag, Gs2CbindFlag::N);
        assert_eq!(c.flag.gs2_header(), "n,,");
        assert_eq!(
            c.fallback_reason,
            Some("server refused channel binding tls-exporter")
        );
        assert_eq!(
            c.to_string(),
            "SCRAM-SHA-512 (server refused channel binding tls-exporter)"
        );
    }

    #[test]
    fn prosody_with_binding_uses_sha1_plus() {
        let b = ChannelBinding {
            kind: BindingKind::TlsServerEndPoint,
            data: vec![1; 32],
        };
        let c = choose(&prosody(), None, Some(&b), false).unwrap();
        assert_eq!(c.mechanism, SHA1_PLUS);
        assert_eq!(c.flag, Gs2CbindFlag::P(BindingKind::TlsServerEndPoint));
        assert_eq!(c.flag.gs2_header(), "p=tls-server-end-point,,");
        assert_eq!(c.fallback_reason, None);
    }

    #[test]
    fn prosody_without_binding_data_sends_n_and_says_why() {
        let c = choose(&prosody(), None, None, false).unwrap();
        assert_eq!(c.mechanism, SHA1);
        assert_eq!(c.flag, Gs2CbindFlag::N);
        assert_eq!(
            c.fallback_reason,
            Some("no channel-binding data from this TLS connection")
        );
    }

    #[test]
    fn prosody_refused_binding_picks_same_hash_without_plus() {
        let b = exporter();
        let c = choose(&prosody(), None, Some(&b), true).unwrap();
        assert_eq!(c.mechanism, SHA1);
        assert_eq!(c.flag, Gs2CbindFlag::N);
        assert_eq!(
            c.to_string(),
            "SCRAM-SHA-1 (server refused channel binding tls-exporter)"
        );
    }

    #[test]
    fn no_plus_on_offer_but_binding_data_sends_y_for_downgrade_detection() {
        let b = exporter();
        let c = choose(&names(&["SCRAM-SHA-1", "PLAIN"]), None, Some(&b), false).unwrap();
        assert_eq!(c.mechanism, SHA1);
        assert_eq!(c.flag, Gs2CbindFlag::Y);
        assert_eq!(c.flag.gs2_header(), "y,,");
        assert_eq!(c.fallback_reason, Some("server offers no channel binding"));
    }

    #[test]
    fn no_plus_on_offer_and_no_binding_data_sends_n_without_reason() {
        let c = choose(&names(&["SCRAM-SHA-256", "SCRAM-SHA-1"]), None, None, false).unwrap();
        assert_eq!(
            c.mechanism,
            Mechanism {
                hash: Hash::Sha256,
                plus: false
            }
        );
        assert_eq!(c.flag, Gs2CbindFlag::N);
        assert_eq!(c.fallback_reason, None);
        assert_eq!(c.to_string(), "SCRAM-SHA-256");
    }

    #[test]
    fn xep_0440_list_lacking_our_type_forbids_plus() {
        let b = exporter();
        let only_unique = names(&["tls-unique"]);
        let c = choose(&ejabberd_sha512(), Some(&only_unique), Some(&b), false).unwrap();
        assert_eq!(c.mechanism, SHA512);
        assert_eq!(c.flag, Gs2CbindFlag::N);
        assert_eq!(
            c.fallback_reason,
            Some("server does not support channel binding tls-exporter")
        );

        let with_exporter = names(&["tls-unique", "tls-exporter"]);
        let c = choose(&ejabberd_sha512(), Some(&with_exporter), Some(&b), false).unwrap();
        assert_eq!(c.mechanism, SHA512_PLUS);
        assert_eq!(c.flag, Gs2CbindFlag::P(BindingKind::TlsExporter));
    }

    #[test]
    fn all_six_offered_takes_sha512_plus_or_sha512() {
        let all = names(&[
            "SCRAM-SHA-1",
            "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-256",
            "SCRAM-SHA-256-PLUS",
            "SCRAM-SHA-512",
            "SCRAM-SHA-512-PLUS",
            "PLAIN",
            "X-OAUTH2",
            "DIGEST-MD5",
        ]);
        let b = exporter();
        assert_eq!(
            choose(&all, None, Some(&b), false).unwrap().mechanism,
            SHA512_PLUS
        );
        let c = choose(&all, None, None, false).unwrap();
        assert_eq!((c.mechanism, c.flag), (SHA512, Gs2CbindFlag::N));
    }

    #[test]
    fn stronger_hash_without_binding_beats_weaker_hash_with_it_and_says_so() {
        let b = exporter();
        let offer = names(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-512"]);
        let c = choose(&offer, None, Some(&b), false).unwrap();
        assert_eq!(c.mechanism, SHA512);
        assert_eq!(c.flag, Gs2CbindFlag::N);
        assert_eq!(
            c.fallback_reason,
            Some("server offers channel binding only with a weaker hash")
        );
    }

    #[test]
    fn nothing_usable_gives_none() {
        let b = exporter();
        assert_eq!(
            choose(&names(&["PLAIN", "DIGEST-MD5"]), None, Some(&b), false),
            None
        );
        assert_eq!(choose(&[], None, None, false), None);
        // Only -PLUS on offer, and our binding was refused: nothing left.
        assert_eq!(
            choose(&names(&["SCRAM-SHA-512-PLUS"]), None, Some(&b), true),
            None
        );
        // Only -PLUS on offer, and no binding data.
        assert_eq!(
            choose(&names(&["SCRAM-SHA-512-PLUS"]), None, None, false),
            None
        );
    }

    #[test]
    fn empty_binding_data_counts_as_none() {
        let empty = ChannelBinding {
            kind: BindingKind::TlsExporter,
            data: Vec::new(),
        };
        let c = choose(&ejabberd_sha512(), None, Some(&empty), false).unwrap();
        assert_eq!((c.mechanism, c.flag), (SHA512, Gs2CbindFlag::N));
        assert_eq!(
            c.fallback_reason,
            Some("no channel-binding data from this TLS connection")
        );
    }
}
