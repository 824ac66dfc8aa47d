//! Burrow against real ejabberd 23.01 instances on loopback: one per
//! `auth_scram_hash` (each offers one SCRAM hash, with -PLUS) and one with
//! plain password storage (all six SCRAM variants). ejabberd's -PLUS takes
//! only tls-unique, which rustls cannot give, so every login here also
//! exercises Burrow's deliberate, reported fallback to the same hash without
//! -PLUS.

use std::time::Duration;

use burrow_tests::chat::LOGIN;
use burrow_tests::proxy::Proxy;
use burrow_tests::servers::ejabberd::{Ejabberd, ScramHash, Storage};
use burrow_tests::{Burrow, Scratch};

/// These tests are about XMPP, so OTR stays out of the way (`manual`: only
/// when asked); tests/otr_*.rs run the default, `require`.
fn options(server: &Ejabberd, port: u16) -> String {
    format!("server=127.0.0.1:{port} policy=manual ca={}", server.ca_pem_path().display())
}

#[test]
fn every_scram_hash_logs_in_and_the_binding_fallback_is_reported() {
    let servers = Ejabberd::shared_many(&Storage::ALL);
    let scratch = Scratch::new("ejabberd-hashes");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    let expected = |storage: Storage| match storage {
        Storage::Scram(ScramHash::Sha1) => "SCRAM-SHA-1",
        Storage::Scram(ScramHash::Sha256) => "SCRAM-SHA-256",
        Storage::Scram(ScramHash::Sha512) | Storage::Plain => "SCRAM-SHA-512",
    };
    let mut accounts = Vec::new();
    for server in &servers {
        // ejabberd.test on every instance: one profile can hold only one
        // account per address, so each instance gets its own user name.
        let (jid, password) = server.create_account(&format!("{:?}", server.storage()).to_lowercase().replace(['(', ')'], ""));
        let transport = if server.storage() == Storage::Plain { format!("{} tls=direct", options(server, server.direct_tls_port())) } else { options(server, server.starttls_port()) };
        burrow.add_account(&jid, &password, &transport);
        accounts.push((server.storage(), jid));
    }
    for (storage, jid) in &accounts {
        let online = burrow.connect_ok(jid);
        let sasl = online["sasl"].as_str().unwrap();
        assert_eq!(sasl, format!("{} (server refused channel binding tls-exporter)", expected(*storage)), "{storage:?}: {online}");
        eprintln!("mechanism exercised: ejabberd {storage:?}: {sasl} over {}", online["tls"]);
        // Logged in for real: a message to itself goes round.
        burrow.send(&format!("/msg {jid} {jid} round trip"));
        burrow.expect("the echo", LOGIN, |event| event["event"] == "message" && event["account"] == jid.as_str() && event["text"] == "round trip");
    }
}

#[test]
fn a_wrong_password_is_refused_even_after_the_binding_fallback() {
    let server = Ejabberd::shared(ScramHash::Sha256);
    let scratch = Scratch::new("ejabberd-wrong-password");
    let (jid, _) = server.create_account("wrongpw");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    burrow.add_account(&jid, "not-the-password", &options(server, server.starttls_port()));
    let outcome = burrow.connect(&jid);
    assert_eq!(outcome["event"], "error", "{outcome}");
    assert_eq!(outcome["code"], "authentication", "{outcome}");
}

#[test]
fn a_cut_connection_resumes_on_ejabberd_too() {
    let server = Ejabberd::shared(ScramHash::Sha512);
    let scratch = Scratch::new("ejabberd-cut");
    let (alice, alice_password) = server.create_account("cutalice");
    let (bob, bob_password) = server.create_account("cutbob");
    let proxy = Proxy::transparent(server.starttls_port());
    let mut a = Burrow::unlocked(&scratch.path().join("alice"));
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    a.add_account(&alice, &alice_password, &options(server, proxy.port()));
    b.add_account(&bob, &bob_password, &options(server, server.starttls_port()));
    a.connect_ok(&alice);
    b.connect_ok(&bob);
    b.send(&format!("/msg {bob} {alice} before"));
    assert_eq!(a.wait_for_messages(&alice, &bob, 1, LOGIN), vec!["before"]);

    proxy.cut_all();
    a.send(&format!("/msg {alice} {bob} from alice during the cut"));
    b.send(&format!("/msg {bob} {alice} from bob during the cut"));
    a.expect("alice back", LOGIN, |event| event["event"] == "account" && event["account"] == alice.as_str() && event["state"] == "online");
    a.wait_for_messages(&alice, &bob, 2, LOGIN);
    b.wait_for_messages(&bob, &alice, 1, LOGIN);
    a.collect(Duration::from_secs(3));
    let texts = |burrow: &Burrow| -> Vec<String> { burrow.seen.iter().filter(|event| event["event"] == "message").map(|event| event["text"].as_str().unwrap().to_owned()).collect() };
    assert_eq!(texts(&a), vec!["before", "from bob during the cut"]);
    assert_eq!(texts(&b), vec!["from alice during the cut"]);
}
