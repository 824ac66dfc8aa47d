//! Finding the server by its domain's SRV records, looked up through Tor:
//! a real DNS server (dnsmasq, tests/src/servers/dnsmasq.rs) on 127.0.0.1
//! holds the records for `prosody.test`, and Burrow, with `tor=system` and
//! `BURROW_DNS_RESOLVER` pointing at it, asks it over TCP through the private
//! Tor network (the exit makes the TCP connection, as an exit of the real
//! network would to a public resolver). No `server=` is given: the SRV
//! answer alone leads to Prosody, on the port and with the kind of TLS it
//! names, and the certificate is checked against the JID's domain.

use std::time::{Duration, Instant};

use burrow_tests::proxy::Proxy;
use burrow_tests::servers::dnsmasq::{Dnsmasq, SrvEntry};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::servers::tor::{TorControl, TorNetwork};
use burrow_tests::{Burrow, Scratch};

fn environment(network: &TorNetwork, dns: &Dnsmasq) -> Vec<(&'static str, String)> {
    vec![
        ("TOR_SOCKS_HOST", "127.0.0.1".to_string()),
        ("TOR_SOCKS_PORT", network.socks_port().to_string()),
        ("BURROW_DNS_RESOLVER", format!("127.0.0.1:{}", dns.port())),
    ]
}

/// A control connection that reports every stream of the client tor.
fn watch_streams(network: &TorNetwork) -> TorControl {
    let mut control = network.control().expect("the client's control port");
    control.command("SETEVENTS STREAM").expect("SETEVENTS STREAM");
    control
}

/// The targets (`HOST:PORT`) of the streams reported until `deadline`, or
/// until one to `wanted` has been seen.
fn stream_targets(control: &mut TorControl, wanted: &str, deadline: Instant) -> Vec<String> {
    let mut targets = Vec::new();
    while let Ok(Some(event)) = control.next_event(deadline) {
        // STREAM <id> <status> <circuit> <target> ...
        let fields: Vec<&str> = event.split_whitespace().collect();
        if fields.len() >= 5 && fields[0] == "STREAM" {
            targets.push(fields[4].to_owned());
            if fields[4] == wanted {
                break;
            }
        }
    }
    targets
}

#[test]
fn srv_records_looked_up_through_tor_lead_to_prosody() {
    let network = TorNetwork::shared();
    let prosody = Prosody::shared();
    let direct = Proxy::transparent(prosody.direct_tls_port());
    let starttls = Proxy::transparent(prosody.starttls_port());
    // Direct TLS first by priority (XEP-0368), STARTTLS as the second choice.
    let dns = Dnsmasq::start(&[
        SrvEntry { name: "_xmpps-client._tcp.prosody.test", target: "127.0.0.1", port: direct.port(), priority: 10, weight: 0 },
        SrvEntry { name: "_xmpp-client._tcp.prosody.test", target: "127.0.0.1", port: starttls.port(), priority: 20, weight: 0 },
    ]);
    let scratch = Scratch::new("names-srv");
    let (jid, password) = prosody.create_account("srvfound");
    assert!(jid.ends_with("@prosody.test"), "{jid}");
    let mut burrow = Burrow::unlocked_with_environment(&scratch.path().join("profile"), &environment(network, &dns));
    // No server=: the domain's SRV records say where Prosody is.
    burrow.add_account(&jid, &password, &format!("tor=system policy=manual ca={}", prosody.ca_pem_path().display()));
    let mut streams = watch_streams(network);
    let online = burrow.connect_through_tor_ok(&jid);
    assert_eq!(online["tor"], "system", "{online}");
    assert_eq!(online["tls"], "TLS 1.3", "{online}");

    // dnsmasq was asked for both services.
    let asked = dns.queries("SRV");
    assert!(asked.iter().any(|name| name == "_xmpps-client._tcp.prosody.test"), "dnsmasq was not asked for _xmpps-client: {asked:?}");
    assert!(asked.iter().any(|name| name == "_xmpp-client._tcp.prosody.test"), "dnsmasq was not asked for _xmpp-client: {asked:?}");
    // The login went where the first SRV record points, with TLS from the
    // first byte (the account did not say tls=direct), and nowhere else.
    assert_eq!(direct.connections_accepted(), 1, "the direct-TLS SRV target was not used");
    assert_eq!(starttls.connections_accepted(), 0, "the lower-priority STARTTLS target was used too");
    // Tor carried the DNS question and the login: both were streams of the
    // client tor, to the resolver and to the SRV target.
    let deadline = Instant::now() + Duration::from_secs(10);
    let targets = stream_targets(&mut streams, &format!("127.0.0.1:{}", direct.port()), deadline);
    assert!(targets.contains(&format!("127.0.0.1:{}", dns.port())), "no Tor stream to the resolver: {targets:?}");
    assert!(targets.contains(&format!("127.0.0.1:{}", direct.port())), "no Tor stream to the SRV target: {targets:?}");
}

#[test]
fn without_srv_records_the_domain_is_tried_on_5222_through_tor() {
    let network = TorNetwork::shared();
    let prosody = Prosody::shared();
    let front = Proxy::transparent(prosody.starttls_port());
    // A resolver with no record at all for prosody.test: "no such name".
    let dns = Dnsmasq::start(&[]);
    let scratch = Scratch::new("names-fallback");
    let (jid, password) = prosody.create_account("srvnone");
    let mut burrow = Burrow::unlocked_with_environment(&scratch.path().join("profile"), &environment(network, &dns));
    burrow.add_account(&jid, &password, &format!("tor=system policy=manual ca={}", prosody.ca_pem_path().display()));
    let mut streams = watch_streams(network);
    // A young Tor network may fail the lookup's own stream now and then;
    // then Burrow falls back to the domain just the same, and retries by
    // itself. Each attempt's outcome is looked at until dnsmasq has been
    // asked for both services (a bounded number of attempts).
    burrow.send(&format!("/connect {jid}"));
    let mut outcomes = Vec::new();
    let asked = loop {
        let outcome = burrow.expect_outcome(&jid);
        assert_eq!(outcome["event"], "error", "{outcome}");
        let message = outcome["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains("prosody.test port 5222"), "{message}");
        assert!(message.contains("nothing was sent outside Tor"), "{message}");
        outcomes.push(message);
        let asked = dns.queries("SRV");
        let both = ["_xmpp-client._tcp.prosody.test", "_xmpps-client._tcp.prosody.test"].iter().all(|wanted| asked.iter().any(|name| name == wanted));
        if both || outcomes.len() == 4 {
            break asked;
        }
    };
    assert!(asked.iter().any(|name| name == "_xmpp-client._tcp.prosody.test"), "dnsmasq was not asked: {asked:?} ({outcomes:?})");
    assert!(asked.iter().any(|name| name == "_xmpps-client._tcp.prosody.test"), "dnsmasq was not asked: {asked:?} ({outcomes:?})");
    // Each attempt then went to the domain itself on 5222, as a name for
    // Tor to resolve at the exit (no exit of the private network can
    // resolve `prosody.test`, so it fails, saying where it went), and Tor
    // carried it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let targets = stream_targets(&mut streams, "prosody.test:5222", deadline);
    assert!(targets.iter().any(|target| target == "prosody.test:5222"), "no Tor stream to prosody.test:5222: {targets:?}");
    assert_eq!(front.connections_accepted(), 0);
}
