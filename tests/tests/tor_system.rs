//! System-Tor mode end to end, with Debian's real SOCKS5 server
//! (`microsocks`) standing in for Tor's SOCKS port, found through
//! TOR_SOCKS_HOST/TOR_SOCKS_PORT as in Tails: an account with `tor=system`
//! logs into the shared Prosody through it, even though Prosody is on this
//! computer; with the SOCKS port closed, the user gets a clear error and
//! nothing connects directly. A counting proxy in front of Prosody sees
//! every connection that reaches it.

use std::time::Duration;

use burrow_tests::chat::LOGIN;
use burrow_tests::proxy::Proxy;
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::socks_server::{connected_remote_ports, free_port, Microsocks};
use burrow_tests::{pid_of, Burrow, Scratch};

fn options(prosody: &Prosody, port: u16, tor: &str) -> String {
    format!("server=127.0.0.1:{port} tor={tor} policy=manual ca={}", prosody.ca_pem_path().display())
}

/// The command line of a process, as its arguments.
fn command_line(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|byte| *byte == 0).filter(|part| !part.is_empty()).map(|part| String::from_utf8_lossy(part).into_owned()).collect()
}

#[test]
fn logs_in_through_the_system_tor_socks_port() {
    let prosody = Prosody::shared();
    let socks = Microsocks::start();
    let front = Proxy::transparent(prosody.starttls_port());
    let scratch = Scratch::new("tor-system");
    let (jid, password) = prosody.create_account("torsystem");
    let mut burrow = Burrow::unlocked_with_environment(&scratch.path().join("profile"), &socks.environment());

    // The launcher gave net the Landlock rule: the SOCKS port alone.
    let children = burrow.status();
    let net = children.get("net").unwrap_or_else(|| panic!("no net child in {children:?}"));
    let arguments = command_line(pid_of(net));
    let rule = arguments.windows(2).any(|pair| pair[0] == "--allow-connect" && pair[1] == socks.port().to_string());
    assert!(rule, "net runs without --allow-connect {}: {arguments:?}", socks.port());

    burrow.add_account(&jid, &password, &options(prosody, front.port(), "system"));
    let online = burrow.connect_ok(&jid);
    assert_eq!(online["tor"], "system", "{online}");
    assert_eq!(online["tls"], "TLS 1.3", "{online}");
    assert_eq!(front.connections_accepted(), 1, "Prosody's proxy should have seen the one connection");
    // The connection Prosody's proxy accepted is microsocks' own: the SOCKS
    // server holds a TCP connection to the proxy's port.
    let carried = connected_remote_ports(socks.pid());
    assert!(carried.contains(&front.port()), "microsocks holds no connection to port {} (it holds {carried:?})", front.port());
    // And net holds none to the proxy, only to the SOCKS port.
    let net_ports = connected_remote_ports(pid_of(net));
    assert!(!net_ports.contains(&front.port()), "net connected to Prosody's proxy directly: {net_ports:?}");
    assert!(net_ports.contains(&socks.port()), "net holds no connection to the SOCKS port: {net_ports:?}");

    // A reconnection goes through the SOCKS server again.
    burrow.send(&format!("/disconnect {jid}"));
    burrow.expect("the disconnection", Duration::from_secs(20), |event| event["event"] == "disconnected" && event["account"] == jid.as_str());
    let again = burrow.connect_ok(&jid);
    assert_eq!(again["tor"], "system");
    assert_eq!(front.connections_accepted(), 2);
    assert!(connected_remote_ports(socks.pid()).contains(&front.port()));
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
    assert!(outcome["message"].as_str().unwrap_or_default().contains("no Tor of its own"), "{outcome}");

    // The system-Tor account keeps retrying (Tor may be starting), through
    // Tor only: after two more attempts, still nothing reached Prosody.
    for _ in 0..2 {
        let retry = burrow.expect("another attempt's error", LOGIN, |event| event["event"] == "error" && event["account"] == jid.as_str());
        assert!(retry["message"].as_str().unwrap_or_default().contains("No Tor was found"), "{retry}");
    }
    assert_eq!(front.connections_accepted(), 0, "something connected to Prosody without Tor");
}
