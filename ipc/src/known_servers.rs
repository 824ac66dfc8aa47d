//! Public XMPP servers whose operators run an onion service for their
//! clients. An account on one of these domains (with no `server=` or
//! `onion=` of its own) connects to the onion instead of looking the domain
//! up: the connection never leaves Tor, no exit sees it, and no DNS
//! question is asked.
//!
//! A wrong entry cannot impersonate the server: TLS is still checked
//! against the JID's domain. It could only make the account unreachable
//! until the entry is fixed, so every entry here is one that two
//! independent public lists agree on, and each is checked to be a valid v3
//! address by the tests. Sources (both read in 2026):
//!
//! - CoyIM's table (`servers/known.go` in github.com/coyim/coyim, the v3
//!   list written for its issues #743 and #849 from each server's own
//!   pages);
//! - the xmpp-onion-map (`v3-onions-map.lua`, github.com/nyxnor/xmpp-onion-map,
//!   a fork of nickcalyx/xmpp-onion-map), as imported into xmpp.is's own
//!   published Prosody configuration, whose `VirtualHost` is xmpp.is's
//!   onion itself.
//!
//! Left out on purpose: servers whose onion the two lists give differently
//! (jabber.cat), servers with only v2 (16-character) onions, which Tor no
//! longer reaches (jabber.calyxinstitute.org, jabber.ccc.de), and
//! jabber.systemli.org, whose operators announced on their own site that it
//! closed on 31 August 2023.

/// Port 5222, STARTTLS: the port every listed onion serves clients on.
pub const KNOWN_ONION_PORT: u16 = 5222;

/// `(JID domain, onion host)`.
pub const KNOWN_SERVERS: &[(&str, &str)] = &[
    ("dismail.de", "4colmnerbjz3xtsjmqogehtpbt5upjzef57huilibbq3wfgpsylub7yd.onion"),
    ("jabber.de", "uoj2xiqxk25p36wbpufiyuhluvxakhpqum7frembhoiuq7a5735ay3qd.onion"),
    ("jabber.hot-chilli.net", "chillingguw3yu2rmrkqsog4554egiry6fmy264l5wblyadds3c2lnyd.onion"),
    ("jabber.otr.im", "ynnuxkbbiy5gicdydekpihmpbqd4frruax2mqhpc35xqjxp5ayvrjuqd.onion"),
    ("jabber.so36.net", "yxkc2uu3rlwzzhxf2thtnzd7obsdd76vtv7n34zwald76g5ogbvjbbqd.onion"),
    ("jabber.systemausfall.org", "jaswtrycaot3jzkr7znje4ebazzvbxtzkyyox67frgvgemwfbzzi6uqd.onion"),
    ("jabjab.de", "jabjabdea2eewo3gzfurscj2sjqgddptwumlxi3wur57rzf5itje2rid.onion"),
    ("xmpp.is", "6voaf7iamjpufgwoulypzwwecsm2nu7j5jpgadav2rfqixmpl4d65kid.onion"),
];

/// The onion service of a known server, by its JID domain (any case).
pub fn onion_for(domain: &str) -> Option<&'static str> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    KNOWN_SERVERS.iter().find(|(known, _)| known.eq_ignore_ascii_case(domain)).map(|(_, onion)| *onion)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_a_valid_v3_onion_and_listed_once() {
        for (index, (domain, onion)) in KNOWN_SERVERS.iter().enumerate() {
            assert_eq!(crate::onion::validate_v3(onion).as_deref(), Ok(*onion), "{domain}");
            assert_eq!(*domain, domain.to_ascii_lowercase());
            assert!(KNOWN_SERVERS[..index].iter().all(|(other, _)| other != domain), "{domain} twice");
        }
    }

    #[test]
    fn lookup_by_domain() {
        assert_eq!(onion_for("XMPP.is"), Some("6voaf7iamjpufgwoulypzwwecsm2nu7j5jpgadav2rfqixmpl4d65kid.onion"));
        assert_eq!(onion_for("xmpp.is."), Some("6voaf7iamjpufgwoulypzwwecsm2nu7j5jpgadav2rfqixmpl4d65kid.onion"));
        assert_eq!(onion_for("example.org"), None);
        assert_eq!(onion_for("is"), None);
    }
}
