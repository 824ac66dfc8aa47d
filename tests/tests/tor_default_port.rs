//! Issue 6, point 5: a system Tor found at its default port, 9050, puts the
//! network process in system-Tor mode: Landlock lets it reach that port and
//! nothing else, and the accounts go through it. Each run has network
//! namespaces of its own (loopback only), so the host's port 9050 is never
//! used: inside, 9050 is a bridge to Dante, a real SOCKS 5 server standing
//! in for Tor (tests/src/leak.rs).

use std::time::Duration;

use burrow_tests::leak::{Bridge, Dante, NetworkNamespace};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::servers::reserve_port;
use burrow_tests::{binary, self_test_through, Burrow, Outcome, Scratch, EACCES};

const TOR_DEFAULT_PORT: u16 = 9050;

/// net's own self-test (`--sandbox-self-test tcp-connect`) inside `namespace`,
/// under its real policy, decided as in a real start.
fn net_connects_inside(namespace: &NetworkNamespace, scratch: &Scratch, port: u16) -> Outcome {
    let profile = scratch.path().join("self-test-profile");
    std::fs::create_dir_all(profile.join("net")).expect("a profile for the self-test");
    let target = format!("127.0.0.1:{port}");
    self_test_through(&namespace.enter(), &binary("burrow-net"), &[], &profile, &[], "tcp-connect", Some(&target))
}

#[test]
fn a_tor_at_the_default_port_holds_net_to_that_port() {
    let dante = Dante::start();
    let scratch = Scratch::new("tor-default-port");

    // With nothing at 9050 or 9150, net may connect anywhere (its dialers
    // decide): the control.
    let without_tor = NetworkNamespace::new();
    let elsewhere = reserve_port();
    let _other = Bridge::start(&without_tor, elsewhere, dante.port());
    assert_eq!(net_connects_inside(&without_tor, &scratch, elsewhere), Outcome::Allowed, "without a system Tor");

    // With a SOCKS server at 9050: that port alone.
    let with_tor = NetworkNamespace::new();
    let _tor = Bridge::start(&with_tor, TOR_DEFAULT_PORT, dante.port());
    let _other = Bridge::start(&with_tor, elsewhere, dante.port());
    assert_eq!(net_connects_inside(&with_tor, &scratch, TOR_DEFAULT_PORT), Outcome::Allowed, "the SOCKS port");
    assert_eq!(net_connects_inside(&with_tor, &scratch, elsewhere), Outcome::Errno(EACCES), "another port while a system Tor answers");

    // And Burrow itself, with no TOR_SOCKS_* in its environment, finds it.
    let prosody = Prosody::shared();
    let ca = prosody.ca_pem_path().display().to_string();
    let (through_tor, through_tor_password) = prosody.create_account("defaultport");
    let (direct, direct_password) = prosody.create_account("defaultportdirect");
    let mut burrow = Burrow::unlocked_in(&with_tor, &scratch.path().join("profile"), &[]);
    burrow.add_account(&through_tor, &through_tor_password, &format!("server=localhost:{} tor=system policy=manual ca={ca}", prosody.starttls_port()));
    // tor=auto would dial a server on this computer directly, which the
    // mode forbids: a clear error, and nothing sent.
    burrow.add_account(&direct, &direct_password, &format!("server=127.0.0.1:{elsewhere} tor=auto policy=manual ca={ca}"));
    let passed_before = dante.connections_passed().len();
    let online = burrow.connect_through_tor_ok(&through_tor);
    assert_eq!(online["tor"], "system", "{online}");
    assert!(dante.connections_passed().len() > passed_before, "the login did not go through the SOCKS server at 9050: {}", dante.logs());

    let refused = burrow.connect(&direct);
    assert_eq!(refused["event"], "error", "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("found a system Tor") && message.contains("nothing was sent"), "{message}");
    // It is final: no retry comes.
    let retry = burrow.collect(Duration::from_secs(3)).into_iter().find(|event| event["event"] == "error" && event["account"] == direct.as_str());
    assert!(retry.is_none(), "retried: {retry:?}");
}
