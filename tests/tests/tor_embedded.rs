//! Embedded-Tor mode end to end, through the private Tor network on loopback
//! (tests/src/servers/tor.rs). Burrow's network process runs arti, pointed at
//! that network by `PROFILE/net/arti.toml` (`TorNetwork::write_arti_config`:
//! the network's authorities and relays, and the settings a loopback network
//! needs), the one switch there is, and the same that would point it at
//! bridges. No TOR_SOCKS_* variable is set, so net is not confined to a SOCKS
//! port and arti may reach the relays.
//!
//! Two accounts with `tor=embedded` log into the shared Prosody through arti,
//! on two different circuits (arti's circuit names in the `account` events),
//! their connections reach Prosody's counting proxy from the exit relays'
//! sockets, and net holds no connection to the proxy; the bootstrap progress
//! reaches the UI as `tor` events; and Prosody as an onion service, through
//! arti, for `tor=embedded` and for `tor=auto` without a system Tor.

use std::collections::HashSet;
use std::path::Path;

use burrow_tests::proxy::Proxy;
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::servers::tor::{Role, TorNetwork};
use burrow_tests::system_tor::connected_remote_ports;
use burrow_tests::{pid_of, Burrow, Scratch};
use serde_json::Value;

fn options(prosody: &Prosody, server: &str, tor: &str) -> String {
    format!("server={server} tor={tor} policy=manual ca={}", prosody.ca_pem_path().display())
}

/// The command line of a process, as its arguments.
fn command_line(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|byte| *byte == 0).filter(|part| !part.is_empty()).map(|part| String::from_utf8_lossy(part).into_owned()).collect()
}

/// A Burrow on a fresh profile whose net reads the network's arti.toml.
fn burrow_on(network: &TorNetwork, scratch: &Scratch) -> Burrow {
    let profile = scratch.path().join("profile");
    network.write_arti_config(&profile);
    Burrow::unlocked(&profile)
}

fn circuit_of(online: &Value) -> String {
    let circuit = online["circuit"].as_str().unwrap_or_else(|| panic!("no circuit in {online}"));
    assert!(circuit.starts_with("Circ "), "{online}");
    circuit.to_owned()
}

/// The nicknames of the network's exit relays.
fn exits(network: &TorNetwork) -> HashSet<String> {
    network.fallback_dirs().iter().filter(|relay| relay.role == Role::Exit).map(|relay| relay.nickname.clone()).collect()
}

fn arti_files_exist(profile: &Path) -> bool {
    profile.join("net/arti/state").is_dir() && profile.join("net/arti/cache").is_dir()
}

#[test]
fn two_accounts_log_in_through_embedded_tor_each_on_its_own_circuit() {
    let network = TorNetwork::shared();
    let prosody = Prosody::shared();
    let front = Proxy::transparent(prosody.starttls_port());
    let server = format!("127.0.0.1:{}", front.port());
    let scratch = Scratch::new("tor-embedded");
    let profile = scratch.path().join("profile");
    let (first, first_password) = prosody.create_account("artifirst");
    let (second, second_password) = prosody.create_account("artisecond");
    let mut burrow = burrow_on(network, &scratch);

    // No SOCKS port given, so no Landlock port rule that would keep arti
    // from the relays.
    let children = burrow.status();
    let net = children.get("net").unwrap_or_else(|| panic!("no net child in {children:?}"));
    let arguments = command_line(pid_of(net));
    assert!(!arguments.iter().any(|argument| argument == "--allow-connect"), "{arguments:?}");

    burrow.add_account(&first, &first_password, &options(prosody, &server, "embedded"));
    burrow.add_account(&second, &second_password, &options(prosody, &server, "embedded"));
    // Nothing needed embedded Tor yet, so it has not started.
    assert!(!arti_files_exist(&profile), "arti started before an account needed it");
    assert!(!burrow.seen.iter().any(|event| event["event"] == "tor"), "{:?}", burrow.seen);

    let mut circuits = Vec::new();
    for jid in [&first, &second] {
        let online = burrow.connect_through_tor_ok(jid);
        assert_eq!(online["tor"], "embedded", "{online}");
        assert_eq!(online["tls"], "TLS 1.3", "{online}");
        circuits.push(circuit_of(&online));
    }
    assert_ne!(circuits[0], circuits[1], "the two accounts share a circuit");
    assert!(arti_files_exist(&profile), "arti keeps no state in PROFILE/net/arti");

    // The bootstrap progress reached the UI, up to 100%.
    let progress: Vec<&Value> = burrow.seen.iter().filter(|event| event["event"] == "tor").collect();
    assert!(!progress.is_empty(), "no tor event: {:?}", burrow.seen);
    assert!(progress.iter().all(|event| event["source"] == "embedded" && event["summary"].is_string()), "{progress:?}");
    assert!(progress.iter().any(|event| event["progress"] == 100), "{progress:?}");

    // Prosody's proxy saw the two connections, each from a socket of an
    // exit relay of the network: Tor carried them.
    assert_eq!(front.connections_accepted(), 2, "Prosody's proxy saw each account's one connection");
    let exits = exits(network);
    for peer in front.peer_addresses() {
        let owner = network.owner_of_connection(peer).unwrap_or_else(|| panic!("no tor of the network holds the connection from {peer}"));
        assert!(exits.contains(owner), "the connection from {peer} belongs to {owner}, not an exit");
        eprintln!("the connection from {peer} belongs to {owner}");
    }
    eprintln!("the two accounts' circuits: {circuits:?}");
    // And net holds no connection to the proxy, only to relays' ORPorts.
    let net_ports = connected_remote_ports(pid_of(net));
    assert!(!net_ports.contains(&front.port()), "net connected to Prosody's proxy directly: {net_ports:?}");
    let or_ports: HashSet<u16> = network.fallback_dirs().iter().map(|relay| relay.or_port).collect();
    assert!(net_ports.iter().any(|port| or_ports.contains(port)), "net holds no connection to a relay: {net_ports:?}");

    // A reconnection goes through embedded Tor again, on a new circuit.
    burrow.send(&format!("/disconnect {first}"));
    burrow.expect("the disconnection", std::time::Duration::from_secs(20), |event| event["event"] == "disconnected" && event["account"] == first.as_str());
    let again = burrow.connect_through_tor_ok(&first);
    assert_eq!(again["tor"], "embedded", "{again}");
    let circuit = circuit_of(&again);
    assert!(!circuits.contains(&circuit), "the reconnection reused a circuit: {circuit} in {circuits:?}");
    assert_eq!(front.connections_accepted(), 3);
}

/// Prosody as an onion service, logged into through arti by an account with
/// `tor=embedded`, and by one with `tor=auto`: no system Tor answers here
/// (nothing listens on 9050 or 9150, as tor_system.rs relies on too), and an
/// onion address is no loopback server, so auto takes embedded Tor.
#[test]
fn logs_in_by_an_onion_address_through_embedded_tor() {
    let network = TorNetwork::shared();
    let prosody = Prosody::shared();
    let front = Proxy::transparent(prosody.starttls_port());
    let onion = network.add_onion_service(front.port());
    let host = if onion.ends_with(".onion") { onion.clone() } else { format!("{onion}.onion") };
    let server = format!("{host}:{}", front.port());
    let scratch = Scratch::new("tor-embedded-onion");
    let (embedded, embedded_password) = prosody.create_account("artionion");
    let (auto, auto_password) = prosody.create_account("artionionauto");
    let mut burrow = burrow_on(network, &scratch);
    burrow.add_account(&embedded, &embedded_password, &options(prosody, &server, "embedded"));
    burrow.add_account(&auto, &auto_password, &options(prosody, &server, "auto"));
    for jid in [&embedded, &auto] {
        let accepted_before = front.connections_accepted();
        let online = burrow.connect_through_tor_ok(jid);
        assert_eq!(online["tor"], "embedded", "{jid} (is a system Tor listening on 9050 or 9150?): {online}");
        assert_eq!(online["tls"], "TLS 1.3", "{online}");
        circuit_of(&online);
        assert_eq!(front.connections_accepted(), accepted_before + 1, "the login reached Prosody through the onion service");
        // The onion service's host tor, not an exit, made the connection.
        let peer = *front.peer_addresses().last().expect("a peer");
        assert_eq!(network.owner_of_connection(peer), Some("hs"), "the connection from {peer} did not come from the onion service");
    }
}
