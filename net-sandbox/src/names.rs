//! Where an account's connection goes, in this order:
//!
//! 1. the account's `server=HOST:PORT`, as the user gave it;
//! 2. the account's `onion=NAME.onion:PORT`;
//! 3. the onion of a known server ([`crate::known_servers`]);
//! 4. the domain's SRV records, `_xmpps-client._tcp` (TLS from the first
//!    byte, XEP-0368) and `_xmpp-client._tcp` (STARTTLS, RFC 6120 §3.2),
//!    looked up through Tor ([`crate::resolve`]);
//! 5. the domain itself on the account's standard port (5222 STARTTLS, or
//!    5223 for `tls=direct`) when the domain announces no SRV record, or
//!    when the lookup failed: a resolver that Tor cannot reach must not
//!    leave the user without a connection when the domain answers on its
//!    standard port anyway (RFC 6120 §3.2.2, the fallback process).
//!
//! Every host goes to the dialer as a name, so Tor resolves it at the exit;
//! the TLS certificate is always checked against the JID's domain, whatever
//! host carried the connection (RFC 6120 §13.7.2.1, XEP-0368 §3).

use std::net::{IpAddr, SocketAddr};

use ipc::xmpp::{ConnectionSettings, TorMode, Transport};

use crate::dialer::{Dialer, Dialers, LoopbackDialer};
use crate::known_servers;
use crate::resolve::{self, ResolveError, SrvAnswer, SrvRecord};

/// Why a target is tried, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    ServerOption,
    OnionOption,
    KnownOnion,
    Srv,
    Domain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    pub origin: Origin,
}

#[derive(Debug, thiserror::Error)]
pub enum NamesError {
    #[error("the domain's DNS says it offers no XMPP service for clients (its SRV records point to \".\"); if the server is elsewhere, give server=HOST:PORT")]
    NotOffered,
    #[error("the onion= address is not valid: {0}")]
    BadOnion(ipc::onion::OnionError),
}

impl Target {
    /// A DNS answer comes from the network: it may not steer a direct
    /// connection to a service on this computer (`tor=auto` dials loopback
    /// directly only for a host the user gave).
    pub fn may_use(&self, dialer: &dyn Dialer) -> bool {
        self.origin != Origin::Srv || dialer.tor() != "none"
    }
}

/// What is needed to plan the connection, without holding the account (the
/// lookup runs while the account still answers a disconnect).
#[derive(Clone)]
pub struct Route {
    pub domain: String,
    pub server: Option<(String, u16)>,
    pub onion: Option<(String, u16)>,
    pub transport: Transport,
    pub tor: TorMode,
    pub dialers: Dialers,
    pub resolver: Result<SocketAddr, String>,
}

impl Route {
    pub fn new(settings: &ConnectionSettings, domain: &str, dialers: Dialers, resolver: Result<SocketAddr, String>) -> Self {
        Route {
            domain: domain.to_owned(),
            server: settings.server.clone(),
            onion: settings.onion.clone(),
            transport: settings.transport,
            tor: settings.tor,
            dialers,
            resolver,
        }
    }

    fn standard_port(&self) -> u16 {
        if self.transport == Transport::DirectTls {
            5223
        } else {
            5222
        }
    }

    /// The target that needs no lookup: steps 1 to 3, or the domain when
    /// SRV makes no sense for it (an address, or `localhost`).
    pub fn fixed(&self) -> Result<Option<Target>, NamesError> {
        if let Some((host, port)) = &self.server {
            return Ok(Some(Target { host: host.clone(), port: *port, transport: self.transport, origin: Origin::ServerOption }));
        }
        if let Some((host, port)) = &self.onion {
            let host = ipc::onion::validate_v3(host).map_err(NamesError::BadOnion)?;
            return Ok(Some(Target { host, port: *port, transport: self.transport, origin: Origin::OnionOption }));
        }
        if let Some(onion) = known_servers::onion_for(&self.domain) {
            let port = if self.transport == Transport::DirectTls { 5223 } else { known_servers::KNOWN_ONION_PORT };
            return Ok(Some(Target { host: onion.to_owned(), port, transport: self.transport, origin: Origin::KnownOnion }));
        }
        let literal = self.domain.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')).unwrap_or(&self.domain);
        if literal.parse::<IpAddr>().is_ok() || LoopbackDialer::address(&self.domain, 0).is_ok() || ipc::onion::is_onion(&self.domain) {
            return Ok(Some(self.domain_target()));
        }
        Ok(None)
    }

    fn domain_target(&self) -> Target {
        Target { host: self.domain.clone(), port: self.standard_port(), transport: self.transport, origin: Origin::Domain }
    }

    /// The host the first attempt dials (for the `tor` field of the
    /// `account` event, before any lookup).
    pub fn first_host(&self) -> String {
        match self.fixed() {
            Ok(Some(target)) => target.host,
            _ => self.domain.clone(),
        }
    }

    /// Every target to try, best first.
    pub async fn targets(&self) -> Result<Vec<Target>, NamesError> {
        if let Some(target) = self.fixed()? {
            return Ok(vec![target]);
        }
        let resolver = match &self.resolver {
            Ok(resolver) => *resolver,
            Err(problem) => {
                eprintln!("burrow-net: {problem}; SRV records were not looked up, trying the domain on its standard port");
                return Ok(vec![self.domain_target()]);
            }
        };
        let direct_name = format!("_xmpps-client._tcp.{}.", self.domain);
        let starttls_name = format!("_xmpp-client._tcp.{}.", self.domain);
        let (direct, starttls) = tokio::join!(self.lookup(resolver, &direct_name), self.lookup(resolver, &starttls_name));
        let mut not_offered = false;
        let mut failures = Vec::new();
        let mut records = |answer: Result<SrvAnswer, ResolveError>| match answer {
            Ok(SrvAnswer::Records(records)) => records,
            Ok(SrvAnswer::NotOffered) => {
                not_offered = true;
                Vec::new()
            }
            Ok(SrvAnswer::None) => Vec::new(),
            Err(error) => {
                failures.push(error.to_string());
                Vec::new()
            }
        };
        let (direct, starttls) = (records(direct), records(starttls));
        if direct.is_empty() && starttls.is_empty() {
            if not_offered {
                return Err(NamesError::NotOffered);
            }
            if !failures.is_empty() {
                eprintln!("burrow-net: the SRV lookup failed ({}); trying the domain on its standard port", failures.join("; "));
            }
            return Ok(vec![self.domain_target()]);
        }
        Ok(order(direct, starttls, &mut random_below))
    }

    async fn lookup(&self, resolver: SocketAddr, name: &str) -> Result<SrvAnswer, ResolveError> {
        let dialer = self.dialers.choose(self.tor, &resolver.ip().to_string()).await?;
        resolve::lookup_srv(dialer.as_ref(), resolver, name).await
    }
}

/// A uniform number in `0..=max`, from the system's generator (the modulo
/// bias over a u64 is far below anything a weight could express).
fn random_below(max: u32) -> u32 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0;
    }
    (u64::from_le_bytes(bytes) % (u64::from(max) + 1)) as u32
}

/// RFC 2782's order: by priority, lowest first; within one priority, a
/// weighted random draw. XEP-0368 §3 merges the two services by priority
/// and prefers direct TLS where they tie, so within a priority the direct
/// TLS records come first. A target listed twice is tried once.
pub fn order(direct: Vec<SrvRecord>, starttls: Vec<SrvRecord>, random: &mut dyn FnMut(u32) -> u32) -> Vec<Target> {
    let mut priorities: Vec<u16> = direct.iter().chain(&starttls).map(|record| record.priority).collect();
    priorities.sort_unstable();
    priorities.dedup();
    let mut targets: Vec<Target> = Vec::new();
    for priority in priorities {
        for (records, transport) in [(&direct, Transport::DirectTls), (&starttls, Transport::StartTls)] {
            let group: Vec<&SrvRecord> = records.iter().filter(|record| record.priority == priority).collect();
            for record in weighted(group, random) {
                let target = Target { host: record.target.clone(), port: record.port, transport, origin: Origin::Srv };
                if !targets.iter().any(|seen| seen.host == target.host && seen.port == target.port && seen.transport == target.transport) {
                    targets.push(target);
                }
            }
        }
    }
    targets
}

/// RFC 2782's selection within one priority: zero weights first in the
/// list, then repeatedly draw a number in 0..=sum of the remaining weights
/// and take the first record whose running sum reaches it.
fn weighted<'a>(mut group: Vec<&'a SrvRecord>, random: &mut dyn FnMut(u32) -> u32) -> Vec<&'a SrvRecord> {
    group.sort_by_key(|record| record.weight != 0);
    let mut ordered = Vec::with_capacity(group.len());
    while !group.is_empty() {
        let total: u32 = group.iter().map(|record| u32::from(record.weight)).sum();
        let draw = random(total).min(total);
        let mut running = 0u32;
        let mut chosen = group.len() - 1;
        for (index, record) in group.iter().enumerate() {
            running += u32::from(record.weight);
            if running >= draw {
                chosen = index;
                break;
            }
        }
        ordered.push(group.remove(chosen));
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialer::SystemTor;
    use crate::socks::Offer;

    fn record(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord { priority, weight, port, target: target.into() }
    }

    fn hosts(targets: &[Target]) -> Vec<(String, u16, Transport)> {
        targets.iter().map(|target| (target.host.clone(), target.port, target.transport)).collect()
    }

    #[test]
    fn priority_first_then_direct_tls_where_they_tie() {
        let direct = vec![record(20, 0, 5223, "b.example.org"), record(10, 0, 5223, "a.example.org")];
        let starttls = vec![record(10, 0, 5222, "a.example.org"), record(5, 0, 5222, "c.example.org")];
        let ordered = order(direct, starttls, &mut |_| 0);
        assert_eq!(
            hosts(&ordered),
            [
                ("c.example.org".into(), 5222, Transport::StartTls),
                ("a.example.org".into(), 5223, Transport::DirectTls),
                ("a.example.org".into(), 5222, Transport::StartTls),
                ("b.example.org".into(), 5223, Transport::DirectTls),
            ]
        );
    }

    #[test]
    fn weights_follow_the_draw() {
        let records = vec![record(1, 10, 1, "ten"), record(1, 0, 2, "zero"), record(1, 30, 3, "thirty")];
        // Zero weight first in the list: a draw of 0 takes it.
        let low = order(vec![], records.clone(), &mut |_| 0);
        assert_eq!(low[0].host, "zero");
        // A draw of the total takes the last running sum: "thirty".
        let high = order(vec![], records.clone(), &mut |total| total);
        assert_eq!(high[0].host, "thirty");
        // A draw of 5 of 40 falls in "ten"'s share (1..=10).
        let mut draws = vec![5u32, 0, 0].into_iter();
        let middle = order(vec![], records, &mut |_| draws.next().unwrap());
        assert_eq!(middle.iter().map(|target| target.host.as_str()).collect::<Vec<_>>(), ["ten", "zero", "thirty"]);
    }

    #[test]
    fn weighted_draws_favour_heavier_records() {
        // Over many real random draws, weight 90 comes first far more often
        // than weight 10 (a bounded loop; the bound on the count is loose).
        let records = vec![record(1, 10, 1, "light"), record(1, 90, 2, "heavy")];
        let heavy_first = (0..400).filter(|_| order(vec![], records.clone(), &mut random_below)[0].host == "heavy").count();
        assert!(heavy_first > 250, "{heavy_first} of 400");
        assert!(heavy_first < 400, "light never came first");
    }

    fn settings(server: Option<(&str, u16)>, onion: Option<(&str, u16)>, transport: Transport) -> ConnectionSettings {
        ConnectionSettings {
            jid: "alice@example.org".into(),
            server: server.map(|(host, port)| (host.into(), port)),
            onion: onion.map(|(host, port)| (host.into(), port)),
            transport,
            extra_anchors_pem: None,
            spki_pin: None,
            tor: TorMode::System,
        }
    }

    fn route(settings: &ConnectionSettings, domain: &str) -> Route {
        let dialers = Dialers::new(SystemTor::from_environment(Some("127.0.0.1"), Some("9")), Offer::UsernameOnly, None);
        Route::new(settings, domain, dialers, Ok("127.0.0.1:53".parse().unwrap()))
    }

    const ONION: &str = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion";

    #[tokio::test]
    async fn options_and_known_servers_come_before_any_lookup() {
        let server = route(&settings(Some(("xmpp.example.org", 5999)), Some((ONION, 5222)), Transport::StartTls), "example.org").fixed().unwrap().unwrap();
        assert_eq!((server.host.as_str(), server.port, server.origin), ("xmpp.example.org", 5999, Origin::ServerOption));
        let onion = route(&settings(None, Some((ONION, 15222)), Transport::DirectTls), "xmpp.is").fixed().unwrap().unwrap();
        assert_eq!((onion.host.as_str(), onion.port, onion.transport, onion.origin), (ONION, 15222, Transport::DirectTls, Origin::OnionOption));
        let known = route(&settings(None, None, Transport::StartTls), "XMPP.IS").fixed().unwrap().unwrap();
        assert_eq!((known.host.as_str(), known.port, known.origin), (known_servers::onion_for("xmpp.is").unwrap(), 5222, Origin::KnownOnion));
        let bad = route(&settings(None, Some(("jabber63t4r2qi57.onion", 5222)), Transport::StartTls), "example.org").fixed();
        assert!(matches!(bad, Err(NamesError::BadOnion(_))));
        for literal in ["127.0.0.1", "localhost", "[::1]", "10.1.2.3"] {
            let target = route(&settings(None, None, Transport::StartTls), literal).fixed().unwrap().unwrap();
            assert_eq!((target.port, target.origin), (5222, Origin::Domain), "{literal}");
        }
        assert_eq!(route(&settings(None, None, Transport::StartTls), "example.org").fixed().unwrap(), None);
        // An onion is never this computer: even tor=auto takes Tor to it,
        // and the loopback dialer refuses it outright.
        let plan = route(&settings(None, Some((ONION, 5222)), Transport::StartTls), "example.org");
        assert_eq!(plan.dialers.choose(TorMode::Auto, &plan.first_host()).await.unwrap().tor(), "system");
        assert!(LoopbackDialer::address(ONION, 5222).is_err());
    }

    #[tokio::test]
    async fn an_srv_record_never_leads_to_a_direct_connection() {
        let plan = route(&settings(None, None, Transport::StartTls), "example.org");
        let srv = Target { host: "127.0.0.1".into(), port: 5222, transport: Transport::StartTls, origin: Origin::Srv };
        let given = Target { origin: Origin::ServerOption, ..srv.clone() };
        let direct = plan.dialers.choose(TorMode::Auto, "127.0.0.1").await.unwrap();
        assert_eq!(direct.tor(), "none");
        assert!(!srv.may_use(direct.as_ref()));
        assert!(given.may_use(direct.as_ref()));
        let through_tor = plan.dialers.choose(TorMode::System, "127.0.0.1").await.unwrap();
        assert!(srv.may_use(through_tor.as_ref()));
    }

    /// With no Tor to carry the lookup, the plan falls back to the domain
    /// (and the dial then fails for want of Tor, never going direct).
    #[tokio::test]
    async fn an_unreachable_resolver_falls_back_to_the_domain() {
        let plan = route(&settings(None, None, Transport::DirectTls), "example.org");
        let targets = plan.targets().await.unwrap();
        assert_eq!(hosts(&targets), [("example.org".into(), 5223, Transport::DirectTls)]);
        assert_eq!(targets[0].origin, Origin::Domain);
    }
}
