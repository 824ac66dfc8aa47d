//! System-Tor mode end to end, through a real Tor network on loopback
//! (tests/src/servers/tor.rs: authorities, relays and exits made here, and a
//! client tor whose SOCKS port stands for the system Tor, found through
//! TOR_SOCKS_HOST/TOR_SOCKS_PORT as in Tails): two accounts with
//! `tor=system` log into the shared Prosody over Tor circuits, each on its
//! own circuit, and net holds no connection but to the SOCKS port; with the
//! SOCKS port closed, the user gets a clear error and nothing connects
//! directly; and Prosody as an onion service, logged into by its address.
//! A counting proxy in front of Prosody sees every connection that reaches it.

use std::time::Duration;

use burrow_tests::chat::LOGIN;
use burrow_tests::proxy::Proxy;
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::servers::tor::TorNetwork;
use burrow_tests::system_tor::{connected_remote_ports, free_port};
use burrow_tests::{pid_of, Burrow, Scratch};

fn options(prosody: &Prosody, port: u16, tor: &str) -> String {
    format!("server=127.0.0.1:{port} tor={tor} policy=manual ca={}", prosody.ca_pem_path().display())
}

/// The command line of a process, as its arguments.
fn command_line(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|byte| *byte == 0).filter(|part| !part.is_empty()).map(|part| String::from_utf8_lossy(part).into_owned()).collect()
}

/// The circuits of the client tor's open streams to 127.0.0.1:`port`.
fn circuits_of_streams_to(network: &TorNetwork, port: u16) -> Vec<String> {
    let status = network.control().expect("the client's control port").getinfo("stream-status").expect("stream-status");
    status
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 4 && fields[1] == "SUCCEEDED" && fields[3] == format!("127.0.0.1:{port}")).then(|| fields[2].to_owned())
        })
        .collect()
}

#[test]
fn two_accounts_log_in_through_tor_each_on_its_own_circuit() {
    let network = TorNetwork::shared();
    let prosody = Prosody::shared();
    let front = Proxy::transparent(prosody.starttls_port());
    let scratch = Scratch::new("tor-system");
    let (first, first_password) = prosody.create_account("torfirst");
    let (second, second_password) = prosody.create_account("torsecond");
    let environment = vec![("TOR_SOCKS_HOST", "127.0.0.1".to_string()), ("TOR_SOCKS_PORT", network.socks_port().to_string())];
    let mut burrow = Burrow::unlocked_with_environment(&scratch.path().join("profile"), &environment);

    // The launcher gave net the Landlock rule: the SOCKS port alone.
    let children = burrow.status();
    let net = children.get("net").unwrap_or_else(|| panic!("no net child in {children:?}"));
    let arguments = command_line(pid_of(net));
    let rule = arguments.windows(2).any(|pair| pair[0] == "--allow-connect" && pair[1] == network.socks_port().to_string());
    assert!(rule, "net runs without --allow-connect {}: {arguments:?}", network.socks_port());

    burrow.add_account(&first, &first_password, &options(prosody, front.port(), "system"));
    burrow.add_account(&second, &second_password, &options(prosody, front.port(), "system"));
    for jid in [&first, &second] {
        let online = burrow.connect_through_tor_ok(jid);
        assert_eq!(online["tor"], "system", "{online}");
        assert_eq!(online["tls"], "TLS 1.3", "{online}");
    }
    assert_eq!(front.connections_accepted(), 2, "Prosody's proxy saw each account's one connection");
    // Tor carried them: each is a stream of the client tor's, and the two
    // accounts' streams ride different circuits (fresh SOCKS credentials per
    // attempt, IsolateSOCKSAuth).
    let circuits = circuits_of_streams_to(network, front.port());
    assert_eq!(circuits.len(), 2, "two Tor streams to Prosody's proxy: {circuits:?}");
    assert_ne!(circuits[0], circuits[1], "the two accounts share a circuit");
    // And net holds no connection to the proxy, only to the SOCKS port.
    let net_ports = connected_remote_ports(pid_of(net));
    assert!(!net_ports.contains(&front.port()), "net connected to Prosody's proxy directly: {net_ports:?}");
    assert!(net_ports.contains(&network.socks_port()), "net holds no connection to the SOCKS port: {net_ports:?}");

    // A reconnection goes through Tor again, on a new circuit.
    burrow.send(&format!("/disconnect {first}"));
    burrow.expect("the disconnection", Duration::from_secs(20), |event| event["event"] == "disconnected" && event["account"] == first.as_str());
    let again = burrow.connect_through_tor_ok(&first);
    assert_eq!(again["tor"], "system");
    assert_eq!(front.connections_accepted(), 3);
}

#[test]
fn without_tor_the_user_is_told_and_nothing_connects_directly() {
    let prosody = Prosody::shared();
    let front = Proxy::transparent(prosody.starttls_port());
    let scratch = Scratch::new("tor-system-closed");
    let (jid, password) = prosody.create_account("tornone");
    let (embedded_jid, embedded_password) = prosody.create_account("torembedded");
    let closed = free_port();
    let environment = vec![("TOR_SOCKS_HOST", "127.0.0.1".to_string()), ("TOR_SOCKS_PORT", closed.to_string())];
    let mut burrow = Burrow::unlocked_with_environment(&scratch.path().join("profile"), &environment);
    burrow.add_account(&jid, &password, &options(prosody, front.port(), "system"));
    burrow.add_account(&embedded_jid, &embedded_password, &options(prosody, front.port(), "embedded"));

    let outcome = burrow.connect(&jid);
    assert_eq!(outcome["event"], "error", "{outcome}");
    let message = outcome["message"].as_str().unwrap_or_default();
    assert!(message.contains("No Tor was found"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{closed}")), "{message}");
    assert!(message.contains("start Tor"), "{message}");
    assert!(message.contains("nothing was sent"), "{message}");

    let outcome = burrow.connect(&embedded_jid);
    assert_eq!(outcome["event"], "error", "{outcome}");
    // TOR_SOCKS_PORT confines net to that port (Landlock): arti could reach
    // no relay, and the user is told why.
    let message = outcome["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot run here") && message.contains("a system Tor was found"), "{outcome}");

    // The system-Tor account keeps retrying (Tor may be starting), through
    // Tor only: after two more attempts, still nothing reached Prosody.
    for _ in 0..2 {
        let retry = burrow.expect("another attempt's error", LOGIN, |event| event["event"] == "error" && event["account"] == jid.as_str());
        assert!(retry["message"].as_str().unwrap_or_default().contains("No Tor was found"), "{retry}");
    }
    assert_eq!(front.connections_accepted(), 0, "something connected to Prosody without Tor");
}

#[test]
fn logs_in_by_an_onion_address() {
    let network = TorNetwork::shared();
    let prosody = Prosody::shared();
    let front = Proxy::transparent(prosody.starttls_port());
    // Prosody, behind the counting proxy, as an onion service of the network.
    let onion = network.add_onion_service(front.port());
    let host = if onion.ends_with(".onion") { onion.clone() } else { format!("{onion}.onion") };
    let accepted_before = front.connections_accepted();
    let scratch = Scratch::new("tor-onion");
    let (jid, password) = prosody.create_account("toronion");
    let environment = vec![("TOR_SOCKS_HOST", "127.0.0.1".to_string()), ("TOR_SOCKS_PORT", network.socks_port().to_string())];
    let mut burrow = Burrow::unlocked_with_environment(&scratch.path().join("profile"), &environment);
    let options = format!("server={host}:{} tor=system policy=manual ca={}", front.port(), prosody.ca_pem_path().display());
    burrow.add_account(&jid, &password, &options);
    let online = burrow.connect_through_tor_ok(&jid);
    assert_eq!(online["tor"], "system", "{online}");
    assert_eq!(online["tls"], "TLS 1.3", "{online}");
    assert_eq!(front.connections_accepted(), accepted_before + 1, "the login reached Prosody through the onion service");
    // The client tor carried it as a stream to the onion address, not to an
    // exit: the name went to Tor as a name.
    let status = network.control().expect("the client's control port").getinfo("stream-status").expect("stream-status");
    assert!(status.lines().any(|line| line.contains("SUCCEEDED") && line.contains(&format!("{host}:{}", front.port()))), "no stream to {host}: {status}");
}
