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
    burrow.send(&format!("/connect {jid}"));
    // The attempt goes to the domain itself on 5222, as a name for Tor to
    // resolve at the exit: the client tor opens a stream to
    // `prosody.test:5222`. (No exit of the private network can resolve
    // `prosody.test`, so that stream fails in the end, slowly, after the
    // exits' own DNS timeouts; its failure is not what is tested here.)
    // A young Tor network may fail the lookup's own stream now and then;
    // Burrow then falls back to the domain just the same and retries later,
    // so up to three attempts are watched until dnsmasq has been asked for
    // both services.
    let wanted = ["_xmpp-client._tcp.prosody.test", "_xmpps-client._tcp.prosody.test"];
    let mut attempts = Vec::new();
    let asked = loop {
        let deadline = Instant::now() + Duration::from_secs(200);
        let targets = stream_targets(&mut streams, "prosody.test:5222", deadline);
        assert!(targets.iter().any(|target| target == "prosody.test:5222"), "no Tor stream to prosody.test:5222: {targets:?}");
        attempts.push(targets);
        let asked = dns.queries("SRV");
        if wanted.iter().all(|name| asked.iter().any(|asked| asked == name)) || attempts.len() == 3 {
            break asked;
        }
    };
    for name in wanted {
        assert!(asked.iter().any(|asked| asked == name), "dnsmasq was not asked for {name}: {asked:?} (streams: {attempts:?})");
    }
    // dnsmasq answered "no such name" (it holds no record): nothing else
    // was tried but the domain, and nothing reached Prosody.
    assert_eq!(front.connections_accepted(), 0);
}

/// `onion=` on `/account add`: the account connects to that onion service,
/// through Tor even with `tor=auto` (an onion is never dialed directly),
/// without asking any DNS server, and checks the certificate against the
/// JID's domain.
#[test]
fn the_onion_option_goes_through_tor_even_in_auto_mode() {
    let network = TorNetwork::shared();
    let prosody = Prosody::shared();
    let front = Proxy::transparent(prosody.starttls_port());
    let onion = network.add_onion_service(front.port());
    let host = if onion.ends_with(".onion") { onion.clone() } else { format!("{onion}.onion") };
    let dns = Dnsmasq::start(&[]);
    let scratch = Scratch::new("names-onion");
    let (jid, password) = prosody.create_account("onionoption");
    let mut burrow = Burrow::unlocked_with_environment(&scratch.path().join("profile"), &environment(network, &dns));
    // A mistyped onion is refused at once, in words.
    let typo = format!("{}{}", if host.starts_with('a') { 'b' } else { 'a' }, &host[1..]);
    burrow.send(&format!("/account add {jid} {password} onion={typo} tor=auto"));
    let refused = burrow.expect("the refusal of a mistyped onion", Duration::from_secs(20), |event| event["event"] == "error");
    assert!(refused["message"].as_str().unwrap_or_default().contains("onion"), "{refused}");

    burrow.add_account(&jid, &password, &format!("onion={host}:{} tor=auto policy=manual ca={}", front.port(), prosody.ca_pem_path().display()));
    let online = burrow.connect_through_tor_ok(&jid);
    assert_eq!(online["tor"], "system", "{online}");
    assert_eq!(front.connections_accepted(), 1, "the login reached Prosody through the onion service");
    assert!(dns.queries("SRV").is_empty(), "a DNS server was asked although the onion was given");
    let status = network.control().expect("the client's control port").getinfo("stream-status").expect("stream-status");
    assert!(status.lines().any(|line| line.contains("SUCCEEDED") && line.contains(&format!("{host}:{}", front.port()))), "no stream to {host}: {status}");
}
