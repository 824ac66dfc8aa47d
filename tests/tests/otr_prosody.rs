//! OTR end to end, through all four processes and a real Prosody on
//! loopback: two Burrows with the default policy (`require`), and Burrow
//! with libotr 4.1.1 on the other end (the reference peer, its messages
//! carried over a second account whose Burrow has OTR off, so that libotr,
//! not Burrow, does that side's protocol).

use std::time::Duration;

use burrow_tests::otr_peer::{b64, unb64, LibotrPeer};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{Burrow, Scratch};
use serde_json::Value;

const STEP: Duration = Duration::from_secs(60);

fn options(prosody: &Prosody) -> String {
    format!("server=127.0.0.1:{} ca={}", prosody.starttls_port(), prosody.ca_pem_path().display())
}

fn otr_state(burrow: &mut Burrow, account: &str, peer: &str, state: &str) -> Value {
    burrow.expect(&format!("{account}'s conversation with {peer} {state}"), STEP, |event| {
        event["event"] == "otr" && event["account"] == account && event["peer"] == peer && event["state"] == state
    })
}

fn fingerprint_of(burrow: &mut Burrow, account: &str) -> String {
    burrow.send(&format!("/fingerprint {account}"));
    let event = burrow.expect("our fingerprint", STEP, |event| event["event"] == "fingerprint" && event["account"] == account && event.get("peer").is_none());
    event["fingerprint"].as_str().expect("fingerprint").to_owned()
}

fn smp_result(burrow: &mut Burrow, account: &str) -> Value {
    burrow.expect("an SMP outcome", STEP, |event| event["event"] == "smp" && event["account"] == account && event["result"] != "asked")
}

#[test]
fn two_burrows_talk_privately_by_default_verify_with_smp_and_end() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("otr-two");
    let (alice, alice_password) = prosody.create_account("otralice");
    let (bob, bob_password) = prosody.create_account("otrbob");
    let mut a = Burrow::unlocked(&scratch.path().join("alice"));
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    a.add_account(&alice, &alice_password, &options(prosody));
    b.add_account(&bob, &bob_password, &options(prosody));
    let alice_fingerprint = fingerprint_of(&mut a, &alice);
    let bob_fingerprint = fingerprint_of(&mut b, &bob);
    a.connect_ok(&alice);
    b.connect_ok(&bob);

    // Under `require` the message waits for the private conversation that
    // its sending starts, then leaves encrypted.
    a.send(&format!("/msg {alice} {bob} meet at the usual place"));
    let private = otr_state(&mut a, &alice, &bob, "private");
    assert_eq!(private["fingerprint"], bob_fingerprint.as_str());
    assert_eq!(private["verified"], false);
    let private = otr_state(&mut b, &bob, &alice, "private");
    assert_eq!(private["fingerprint"], alice_fingerprint.as_str());
    let message = b.expect("alice's message", STEP, |event| event["event"] == "message");
    assert_eq!((message["text"].as_str(), message["encrypted"].as_bool()), (Some("meet at the usual place"), Some(true)));
    let sent = a.expect("sent", STEP, |event| event["event"] == "sent");
    assert_eq!(sent["encrypted"], true);
    b.send(&format!("/msg {bob} {alice} agreed"));
    let reply = a.expect("bob's reply", STEP, |event| event["event"] == "message");
    assert_eq!((reply["text"].as_str(), reply["encrypted"].as_bool()), (Some("agreed"), Some(true)));
    b.send(&format!("/fingerprint {bob} {alice}"));
    let seen = b.expect("alice's fingerprint", STEP, |event| event["event"] == "fingerprint" && event["peer"] == alice.as_str());
    assert_eq!(seen["fingerprint"], alice_fingerprint.as_str());

    // SMP with a question: both sides learn the outcome, and the
    // fingerprint becomes verified.
    a.send(&format!("/smp {alice} {bob} Where did we first meet? ? the old harbour"));
    let asked = b.expect("the SMP question", STEP, |event| event["event"] == "smp" && event["result"] == "asked");
    assert_eq!(asked["question"], "Where did we first meet?");
    b.send(&format!("/smp-answer {bob} {alice} the old harbour"));
    assert_eq!(smp_result(&mut b, &bob)["result"], "success");
    assert_eq!(smp_result(&mut a, &alice)["result"], "success");
    let verified = a.expect("verified", STEP, |event| event["event"] == "otr" && event["verified"] == true);
    assert_eq!(verified["fingerprint"], bob_fingerprint.as_str());
    // Bob only answered Alice's question: that proves him to her, not her
    // to him (anyone may ask what they know), so he is told and trusts nothing.
    b.expect("the answerer's notice", STEP, |event| event["event"] == "otr-notice" && event["peer"] == alice.as_str());
    let trusted = b.seen.iter().filter(|event| event["event"] == "otr" && event["peer"] == alice.as_str() && event["verified"] == true).count();
    assert_eq!(trusted, 0, "bob trusted alice for answering her question");

    // A wrong answer fails on both sides.
    b.send(&format!("/smp {bob} {alice} swordfish"));
    a.expect("the SMP request", STEP, |event| event["event"] == "smp" && event["result"] == "asked");
    a.send(&format!("/smp-answer {alice} {bob} marlin"));
    assert_eq!(smp_result(&mut a, &alice)["result"], "failure");
    assert_eq!(smp_result(&mut b, &bob)["result"], "failure");

    // Alice ends it: Bob's side is finished and refuses to send until he
    // ends it too.
    a.send(&format!("/otr end {alice} {bob}"));
    otr_state(&mut a, &alice, &bob, "plaintext");
    otr_state(&mut b, &bob, &alice, "finished");
    b.send(&format!("/msg {bob} {alice} are you there?"));
    let refused = b.expect("refused", STEP, |event| event["event"] == "refused");
    assert_eq!(refused["peer"], alice.as_str());
    assert!(!a.collect(Duration::from_secs(2)).iter().any(|event| event["event"] == "message"), "a refused message arrived");
}

/// Bob verified by hand, then Bob's Burrow on a fresh profile for the
/// same address (a reinstall, a new device, or someone in the middle): it
/// makes a new key, and Alice's Burrow says the key changed, that the one
/// before was verified, and that this one is not.
#[test]
fn a_new_key_for_a_verified_contact_is_reported_as_changed_and_not_verified() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("otr-key-change");
    let (alice, alice_password) = prosody.create_account("otrchangea");
    let (bob, bob_password) = prosody.create_account("otrchangeb");
    let mut a = Burrow::unlocked(&scratch.path().join("alice"));
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    a.add_account(&alice, &alice_password, &options(prosody));
    b.add_account(&bob, &bob_password, &options(prosody));
    let old_fingerprint = fingerprint_of(&mut b, &bob);
    a.connect_ok(&alice);
    b.connect_ok(&bob);

    a.send(&format!("/msg {alice} {bob} first contact"));
    let private = otr_state(&mut a, &alice, &bob, "private");
    assert_eq!(private["fingerprint"], old_fingerprint.as_str());
    assert_eq!(private["fingerprint_changed"], false, "the first key seen is no change: {private}");
    b.expect("alice's message", STEP, |event| event["event"] == "message");
    a.send(&format!("/trust {alice} {bob} {old_fingerprint}"));
    let verified = a.expect("bob verified", STEP, |event| event["event"] == "otr" && event["verified"] == true);
    assert_eq!(verified["fingerprint_changed"], false);

    // Alice ends the conversation while the old Bob is there to hear it,
    // then the old Bob quits.
    a.send(&format!("/otr end {alice} {bob}"));
    otr_state(&mut a, &alice, &bob, "plaintext");
    otr_state(&mut b, &bob, &alice, "finished");
    b.close_stdin();
    assert!(b.wait(Duration::from_secs(30)).success(), "the old Bob did not quit cleanly");

    // The same address on a fresh profile: a new key.
    let mut b = Burrow::unlocked(&scratch.path().join("bob-again"));
    b.add_account(&bob, &bob_password, &options(prosody));
    let new_fingerprint = fingerprint_of(&mut b, &bob);
    assert_ne!(new_fingerprint, old_fingerprint);
    b.connect_ok(&bob);
    b.send(&format!("/msg {bob} {alice} it is me, on a new laptop"));
    let private = otr_state(&mut a, &alice, &bob, "private");
    assert_eq!(private["fingerprint"], new_fingerprint.as_str());
    assert_eq!(private["verified"], false, "the old key's trust must not carry over: {private}");
    assert_eq!(private["fingerprint_changed"], true, "{private}");
    assert_eq!(private["earlier_verified"], true, "{private}");
    assert_eq!(private["earlier_fingerprints"], serde_json::json!([{ "fingerprint": old_fingerprint, "verified": true }]));
    let message = a.expect("the new Bob's message", STEP, |event| event["event"] == "message");
    assert_eq!(message["encrypted"], true);

    // Verified again, the warning is over.
    a.send(&format!("/trust {alice} {bob} {new_fingerprint}"));
    let verified = a.expect("the new key verified", STEP, |event| event["event"] == "otr" && event["verified"] == true);
    assert_eq!((verified["fingerprint"].as_str(), verified["fingerprint_changed"].as_bool()), (Some(new_fingerprint.as_str()), Some(false)));
}

/// Carries libotr's messages over Bob's account (OTR off there) and
/// Alice's to libotr, until both sides are quiet.
struct Carrier {
    bob: Burrow,
    bob_jid: String,
    alice_jid: String,
    peer: LibotrPeer,
    /// Bob's events before this index have been carried.
    carried: usize,
}

impl Carrier {
    /// libotr → Bob's Burrow → Prosody → Alice.
    fn carry_from_libotr(&mut self) -> usize {
        let bodies = self.peer.drain_wire();
        for body in &bodies {
            // One line per /msg: only libotr's query text has line breaks,
            // and a query is recognised by its "?OTRv23?" start alone.
            let line = body.replace('\n', " ");
            self.bob.send(&format!("/msg {} {} {line}", self.bob_jid, self.alice_jid));
            self.bob.expect("sent", STEP, |event| event["event"] == "sent" || event["event"] == "error");
        }
        bodies.len()
    }

    /// Alice → Prosody → Bob's Burrow → libotr: what has arrived, waiting
    /// up to `first` for something and then until a short lull.
    fn carry_to_libotr(&mut self, first: Duration) -> usize {
        let mut wait = first;
        while self.bob.next_event(wait).is_some() {
            wait = Duration::from_millis(300);
        }
        let arrived: Vec<String> = self.bob.seen[self.carried..]
            .iter()
            .filter(|event| event["event"] == "message" && event["peer"] == self.alice_jid.as_str())
            .map(|event| event["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        self.carried = self.bob.seen.len();
        for body in &arrived {
            self.peer.receive(&self.alice_jid, body);
        }
        arrived.len()
    }

    /// Carries both ways until a round moves nothing (bounded).
    fn settle(&mut self) {
        for _ in 0..40 {
            let moved = self.carry_from_libotr() + self.carry_to_libotr(Duration::from_millis(1500));
            if moved == 0 {
                return;
            }
        }
        panic!("the conversation never settled");
    }
}

#[test]
fn burrow_and_libotr_talk_privately_through_prosody() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("otr-libotr");
    let (alice, alice_password) = prosody.create_account("libotralice");
    let (bob, bob_password) = prosody.create_account("libotrbob");
    let mut a = Burrow::unlocked(&scratch.path().join("alice"));
    a.add_account(&alice, &alice_password, &options(prosody));
    let alice_fingerprint = fingerprint_of(&mut a, &alice);
    let mut bob_burrow = Burrow::unlocked(&scratch.path().join("bob"));
    bob_burrow.add_account(&bob, &bob_password, &format!("{} policy=never", options(prosody)));
    a.connect_ok(&alice);
    bob_burrow.connect_ok(&bob);
    let peer = LibotrPeer::start(&scratch.path().join("libotr"), &bob, "manual");
    let mut carrier = Carrier { bob: bob_burrow, bob_jid: bob.clone(), alice_jid: alice.clone(), peer, carried: 0 };

    // Burrow starts; libotr answers the query with the AKE.
    a.send(&format!("/otr start {alice} {bob}"));
    carrier.settle();
    let private = otr_state(&mut a, &alice, &bob, "private");
    assert_eq!(private["fingerprint"], carrier.peer.fingerprint.as_str(), "Burrow sees libotr's key");
    let secure = carrier.peer.seen.iter().find(|event| event["event"] == "secure").cloned().expect("libotr went secure");
    assert_eq!(secure["fingerprint"], alice_fingerprint.as_str(), "libotr sees Burrow's key");
    assert_eq!(secure["version"], 3);

    // Messages both ways, encrypted.
    for n in 0..5 {
        let text = format!("to libotr {n}: ünïcode & <tags>");
        a.send(&format!("/msg {alice} {bob} {text}"));
        carrier.settle();
        let got = carrier.peer.expect("Burrow's message", STEP, |event| event["event"] == "message");
        assert_eq!(String::from_utf8(unb64(got["b64"].as_str().unwrap())).unwrap(), text);
        assert_eq!(got["encrypted"], true);
        let reply = format!("to Burrow {n}");
        carrier.peer.command(&format!("send {alice} {}", b64(reply.as_bytes())));
        carrier.settle();
        let message = a.expect("libotr's message", STEP, |event| event["event"] == "message");
        assert_eq!((message["text"].as_str(), message["encrypted"].as_bool()), (Some(reply.as_str()), Some(true)));
    }
    // No plaintext of either side's messages crossed Prosody: Bob's
    // Burrow, which carried everything, saw only OTR messages.
    let carried: Vec<&Value> = carrier.bob.seen.iter().filter(|event| event["event"] == "message").collect();
    assert!(carried.iter().all(|event| event["text"].as_str().unwrap().starts_with("?OTR")), "plaintext crossed: {carried:#?}");

    // libotr verifies Burrow with SMP and a question.
    carrier.peer.command(&format!("smp {alice} {} {}", b64(b"blue"), b64(b"Favourite colour?")));
    carrier.settle();
    let asked = a.expect("libotr's question", STEP, |event| event["event"] == "smp" && event["result"] == "asked");
    assert_eq!(asked["question"], "Favourite colour?");
    a.send(&format!("/smp-answer {alice} {bob} blue"));
    carrier.settle();
    assert_eq!(smp_result(&mut a, &alice)["result"], "success");
    carrier.peer.expect("libotr's SMP success", STEP, |event| event["event"] == "smp" && event["result"] == "success");

    // libotr ends the conversation: Burrow's side is finished.
    carrier.peer.command(&format!("end {alice}"));
    carrier.settle();
    otr_state(&mut a, &alice, &bob, "finished");
}

/// `/trust`, `/policy` for one contact, and the key's making, through all
/// four processes: a contact set to `never` gets plaintext while the
/// account stays at `require`; back at `require` the next message goes
/// private; a fingerprint trusted by hand shows as verified.
#[test]
fn trust_by_hand_and_a_contacts_own_policy_work_end_to_end() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("otr-trust-policy");
    let (carol, carol_password) = prosody.create_account("otrcarol");
    let (dave, dave_password) = prosody.create_account("otrdave");
    let mut c = Burrow::unlocked(&scratch.path().join("carol"));
    let mut d = Burrow::unlocked(&scratch.path().join("dave"));
    c.add_account(&carol, &carol_password, &options(prosody));
    // The key is made in the crypto process, and the UI is told while it is.
    c.expect("the key being made", STEP, |event| event["event"] == "otr-key" && event["account"] == carol.as_str() && event["state"] == "generating");
    let ready = c.expect("the key made", STEP, |event| event["event"] == "otr-key" && event["account"] == carol.as_str() && event["state"] == "ready");
    assert_eq!(ready["fingerprint"], fingerprint_of(&mut c, &carol).as_str());
    d.add_account(&dave, &dave_password, &options(prosody));
    let dave_fingerprint = fingerprint_of(&mut d, &dave);
    c.connect_ok(&carol);
    d.connect_ok(&dave);

    c.send(&format!("/policy {carol} {dave} never"));
    let policy = c.expect("the contact's policy", STEP, |event| event["event"] == "policy" && event["peer"] == dave.as_str());
    assert_eq!(policy["policy"], "never");
    c.send(&format!("/msg {carol} {dave} in the clear, as asked"));
    let sent = c.expect("sent", STEP, |event| event["event"] == "sent" || event["event"] == "refused");
    assert_eq!((sent["event"].as_str(), sent["encrypted"].as_bool()), (Some("sent"), Some(false)), "{sent}");
    let received = d.expect("the plaintext", STEP, |event| event["event"] == "message");
    assert_eq!((received["text"].as_str(), received["encrypted"].as_bool()), (Some("in the clear, as asked"), Some(false)));

    c.send(&format!("/policy {carol} {dave} require"));
    c.expect("the contact's policy", STEP, |event| event["event"] == "policy" && event["peer"] == dave.as_str() && event["policy"] == "require");
    c.send(&format!("/msg {carol} {dave} now privately"));
    let private = otr_state(&mut c, &carol, &dave, "private");
    assert_eq!((private["fingerprint"].as_str(), private["verified"].as_bool()), (Some(dave_fingerprint.as_str()), Some(false)));
    let received = d.expect("the private message", STEP, |event| event["event"] == "message" && event["text"] == "now privately");
    assert_eq!(received["encrypted"], true);

    // Compared over another channel, and trusted by hand (with spaces, as
    // libotr shows a fingerprint).
    let spaced: Vec<String> = dave_fingerprint.as_bytes().chunks(8).map(|group| String::from_utf8_lossy(group).into_owned()).collect();
    c.send(&format!("/trust {carol} {dave} {}", spaced.join(" ")));
    let trusted = c.expect("trusted", STEP, |event| event["event"] == "trusted" && event["peer"] == dave.as_str());
    assert_eq!(trusted["fingerprint"], dave_fingerprint.as_str());
    c.send(&format!("/otr end {carol} {dave}"));
    otr_state(&mut c, &carol, &dave, "plaintext");
    c.send(&format!("/otr start {carol} {dave}"));
    let private = otr_state(&mut c, &carol, &dave, "private");
    assert_eq!(private["verified"], true, "the fingerprint trusted by hand: {private}");
}
