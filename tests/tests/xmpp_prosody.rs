//! Burrow against a real Prosody 0.12 on loopback, every process running:
//! login over STARTTLS and direct TLS, refusals (wrong password, wrong
//! certificate name, a STARTTLS-stripping proxy, hostile servers), two
//! Burrows talking, and a connection cut in the middle of a conversation.

use std::time::Duration;

use burrow_tests::chat::{split, LOGIN};
use burrow_tests::fake_server::{FakeServer, Hostility};
use burrow_tests::proxy::{reveals, Proxy};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{Burrow, Scratch};
use serde_json::Value;

/// These tests are about XMPP, so OTR stays out of the way (`manual`: only
/// when asked); tests/otr_*.rs run the default, `require`.
fn options(prosody: &Prosody, port: u16) -> String {
    format!("server=127.0.0.1:{port} policy=manual ca={}", prosody.ca_pem_path().display())
}

#[test]
fn logs_in_with_scram_over_starttls_and_direct_tls() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("prosody-login");
    let (starttls_jid, starttls_password) = prosody.create_account("starttls");
    let (direct_jid, direct_password) = prosody.create_account("direct");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    burrow.add_account(&starttls_jid, &starttls_password, &options(prosody, prosody.starttls_port()));
    burrow.add_account(&direct_jid, &direct_password, &format!("{} tls=direct", options(prosody, prosody.direct_tls_port())));
    for jid in [&starttls_jid, &direct_jid] {
        let online = burrow.connect_ok(jid);
        // Prosody 0.12 offers SCRAM-SHA-1 (and -PLUS with tls-unique only, on
        // TLS 1.2), so the gs2 flag says "y": we could bind, the server can't.
        assert_eq!(online["sasl"], "SCRAM-SHA-1 (server offers no channel binding)", "{online}");
        assert_eq!(online["tls"], "TLS 1.3");
        assert_eq!(online["tor"], "none");
        eprintln!("mechanism exercised: prosody {jid}: {} over {}", online["sasl"], online["tls"]);
    }
    // The roster answers (empty, for new accounts) and /status shows both online.
    burrow.send(&format!("/roster {starttls_jid}"));
    burrow.send("/status");
    for _ in 0..2 {
        let account = burrow.expect("an account line", Duration::from_secs(20), |event| event["event"] == "account" && event["state"] == "online" && burrow_is_status(event));
        assert!(account["account"] == starttls_jid.as_str() || account["account"] == direct_jid.as_str());
    }
    burrow.send(&format!("/disconnect {direct_jid}"));
    let gone = burrow.expect("the disconnection", Duration::from_secs(20), |event| event["event"] == "disconnected" && event["account"] == direct_jid.as_str());
    assert_eq!(gone["reason"], "you disconnected");
}

fn burrow_is_status(event: &Value) -> bool {
    event["sasl"].is_string()
}

#[test]
fn a_wrong_password_is_a_clear_error_and_no_retry() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("prosody-wrong-password");
    let (jid, _) = prosody.create_account("wrongpw");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    burrow.add_account(&jid, "not-the-password", &options(prosody, prosody.starttls_port()));
    let outcome = burrow.connect(&jid);
    assert_eq!(outcome["event"], "error", "{outcome}");
    assert_eq!(outcome["code"], "authentication", "{outcome}");
    assert!(outcome["message"].as_str().unwrap().contains("password"), "{outcome}");
    // It gives up rather than hammer the server with a wrong password.
    burrow.expect("offline", Duration::from_secs(10), |event| event["event"] == "account" && event["account"] == jid.as_str() && event["state"] == "offline");
    let later = burrow.collect(Duration::from_secs(3));
    assert!(!later.iter().any(|event| event["state"] == "connecting"), "it retried: {later:#?}");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("prosody-wrong-name");
    let (jid, password) = prosody.create_account_on(prosody.wrong_domain(), "named");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    burrow.add_account(&jid, &password, &options(prosody, prosody.starttls_port()));
    let outcome = burrow.connect(&jid);
    assert_eq!(outcome["code"], "tls", "{outcome}");
    let message = outcome["message"].as_str().unwrap();
    assert!(message.contains("another name") && message.contains(prosody.wrong_domain()), "{message}");
}

#[test]
fn a_starttls_stripping_proxy_gets_no_credentials() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("prosody-strip");
    let (jid, password) = prosody.create_account("stripped");
    let proxy = Proxy::strip_starttls(prosody.starttls_port());
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    burrow.add_account(&jid, &password, &options(prosody, proxy.port()));
    let outcome = burrow.connect(&jid);
    assert_eq!(outcome["code"], "no-tls", "{outcome}");
    assert!(proxy.starttls_stripped() >= 1, "the proxy did not strip anything");
    let sent = proxy.client_bytes();
    let (user, _) = split(&jid);
    assert!(!sent.is_empty());
    assert!(!reveals(&sent, user.as_bytes()), "the user name crossed: {}", String::from_utf8_lossy(&sent));
    assert!(!reveals(&sent, password.as_bytes()), "the password crossed");
    let text = String::from_utf8_lossy(&sent);
    assert!(!text.contains("<auth") && !text.contains("mechanism"), "SASL began in plaintext: {text}");
}

#[test]
fn two_burrows_exchange_presence_and_messages() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("prosody-two");
    let (alice, alice_password) = prosody.create_account("alice");
    let (bob, bob_password) = prosody.create_account("bob");
    let mut a = Burrow::unlocked(&scratch.path().join("alice"));
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    a.add_account(&alice, &alice_password, &options(prosody, prosody.starttls_port()));
    b.add_account(&bob, &bob_password, &options(prosody, prosody.direct_tls_port()).replace("ca=", "tls=direct ca="));
    a.connect_ok(&alice);
    b.connect_ok(&bob);

    a.send(&format!("/subscribe {alice} {bob}"));
    b.expect("alice's request", LOGIN, |event| event["event"] == "subscription" && event["peer"] == alice.as_str() && event["kind"] == "request");
    b.send(&format!("/approve {bob} {alice}"));
    a.expect("bob's approval", LOGIN, |event| event["event"] == "subscription" && event["peer"] == bob.as_str() && event["kind"] == "approved");
    a.expect("bob's presence", LOGIN, |event| event["event"] == "presence" && event["peer"] == bob.as_str() && event["show"] == "available");
    b.send(&format!("/subscribe {bob} {alice}"));
    a.expect("bob's request", LOGIN, |event| event["event"] == "subscription" && event["peer"] == bob.as_str() && event["kind"] == "request");
    a.send(&format!("/approve {alice} {bob}"));
    b.expect("alice's presence", LOGIN, |event| event["event"] == "presence" && event["peer"] == alice.as_str() && event["show"] == "available");

    // The roster push for Alice's approval may trail the presence: ask
    // until it has come (bounded).
    let mut entry = Value::Null;
    for _ in 0..40 {
        a.send(&format!("/roster {alice}"));
        entry = a.expect("the roster", LOGIN, |event| event["event"] == "roster" && event["peer"] == bob.as_str());
        if entry["subscription"] == "both" {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(entry["subscription"], "both");
    assert_eq!(entry["presence"], "available");

    a.send(&format!("/msg {alice} {bob} hello bob, <b>&amp; spaces  kept</b>"));
    let sent = a.expect("sent", LOGIN, |event| event["event"] == "sent");
    assert_eq!((sent["peer"].as_str(), sent["encrypted"].as_bool()), (Some(bob.as_str()), Some(false)));
    let message = b.expect("alice's message", LOGIN, |event| event["event"] == "message");
    assert_eq!(message["peer"], alice.as_str());
    assert_eq!(message["text"], "hello bob, <b>&amp; spaces  kept</b>");
    assert_eq!(message["encrypted"], false);
    b.send(&format!("/msg {bob} {alice} hi alice"));
    let reply = a.expect("bob's reply", LOGIN, |event| event["event"] == "message");
    assert_eq!((reply["peer"].as_str(), reply["text"].as_str()), (Some(bob.as_str()), Some("hi alice")));

    // Bob leaves: Alice sees it.
    b.send(&format!("/disconnect {bob}"));
    a.expect("bob unavailable", LOGIN, |event| event["event"] == "presence" && event["peer"] == bob.as_str() && event["show"] == "unavailable");
}

#[test]
fn a_cut_connection_resumes_and_nothing_is_lost_or_doubled() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("prosody-cut");
    let (alice, alice_password) = prosody.create_account("cutalice");
    let (bob, bob_password) = prosody.create_account("cutbob");
    let proxy = Proxy::transparent(prosody.starttls_port());
    let mut a = Burrow::unlocked(&scratch.path().join("alice"));
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    a.add_account(&alice, &alice_password, &options(prosody, proxy.port()));
    b.add_account(&bob, &bob_password, &options(prosody, prosody.starttls_port()));
    a.connect_ok(&alice);
    b.connect_ok(&bob);
    a.send(&format!("/msg {alice} {bob} before the cut"));
    assert_eq!(b.wait_for_messages(&bob, &alice, 1, LOGIN), vec!["before the cut"]);

    proxy.cut_all();
    // Both directions while Alice's link is down (or dying).
    a.send(&format!("/msg {alice} {bob} sent during the cut"));
    for n in 1..=3 {
        b.send(&format!("/msg {bob} {alice} to alice during the cut {n}"));
    }
    a.expect("alice back online", LOGIN, |event| event["event"] == "account" && event["account"] == alice.as_str() && event["state"] == "online");
    assert!(proxy.connections_accepted() >= 2, "alice did not reconnect through the proxy");

    let first_wait = b.wait_for_messages(&bob, &alice, 2, LOGIN);
    let to_alice = a.wait_for_messages(&alice, &bob, 3, LOGIN);
    // Time for any duplicate to show up.
    a.collect(Duration::from_secs(3));
    b.collect(Duration::from_secs(1));
    let to_bob: Vec<String> = b.seen.iter().filter(|event| event["event"] == "message").map(|event| event["text"].as_str().unwrap().to_owned()).collect();
    let to_alice_all: Vec<String> = a.seen.iter().filter(|event| event["event"] == "message").map(|event| event["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(to_bob, vec!["before the cut", "sent during the cut"], "(first wait saw {first_wait:?})");
    assert_eq!(to_alice_all, vec!["to alice during the cut 1", "to alice during the cut 2", "to alice during the cut 3"], "(first wait saw {to_alice:?})");
    let sent_during: Vec<&Value> = a.seen.iter().filter(|event| event["event"] == "sent").collect();
    assert_eq!(sent_during.len(), 2, "each message reported sent once: {sent_during:#?}");
    // The session was resumed (XEP-0198), not replaced: no fresh initial
    // presence means Bob saw Alice neither leave nor come back.
    assert!(!b.seen.iter().any(|event| event["event"] == "presence" && event["peer"] == alice.as_str() && event["show"] == "unavailable"));
}

#[test]
fn hostile_servers_get_a_clean_error_and_other_accounts_carry_on() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("prosody-hostile");
    let (jid, password) = prosody.create_account("steady");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    burrow.add_account(&jid, &password, &options(prosody, prosody.starttls_port()));
    burrow.connect_ok(&jid);
    let hostilities = [Hostility::MalformedXml, Hostility::Oversized, Hostility::DeepNesting, Hostility::Dtd, Hostility::Garbage];
    for (n, hostility) in hostilities.into_iter().enumerate() {
        let label = format!("{hostility:?}");
        let server = FakeServer::start(hostility);
        let fake = format!("victim{n}@{}", server.domain());
        burrow.add_account(&fake, "secret-never-sent", &format!("server=127.0.0.1:{} ca={}", server.port(), server.ca_pem_path().display()));
        let outcome = burrow.connect(&fake);
        assert_eq!(outcome["code"], "protocol", "{label}: {outcome}");
        burrow.send(&format!("/disconnect {fake}"));
        let record = server.wait_finished(1, Duration::from_secs(20)).into_iter().next().expect("a connection");
        assert!(record.client_closed, "{label}: Burrow kept the connection open");
        assert!(!reveals(&record.client_bytes_after, b"secret-never-sent"));
        // The other account is untouched: a message to itself goes round.
        burrow.send(&format!("/msg {jid} {jid} still here {n}"));
        let echo = burrow.expect("the echo", LOGIN, |event| event["event"] == "message" && event["account"] == jid.as_str() && event["text"] == format!("still here {n}").as_str());
        assert_eq!(echo["peer"], jid.as_str(), "{label}");
    }
    let children = burrow.status();
    assert_eq!(children["net"]["restarts"], 0, "the network process crashed");
    let online = burrow.expect("the steady account", Duration::from_secs(10), |event| event["event"] == "account" && event["account"] == jid.as_str());
    assert_eq!(online["state"], "online");
}
