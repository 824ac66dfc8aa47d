//! The scenarios both interop files run, each against a real peer. What
//! differs between libotr and potr (version, fragment form, how SMP failure
//! shows) is decided on `Kind`, with the reason next to it.

use otr::message::Version;
use otr::policy::Policy;
use otr::session::{Refusal, State};
use otr::smp::SmpEvent;
use serde_json::Value;

use super::*;

pub fn version(kind: Kind) -> u64 {
    match kind {
        Kind::Libotr => 3,
        // potr 1.0.2 has no v3: libotr and Burrow settle on v2 with it.
        Kind::Potr => 2,
    }
}

pub fn burrow_version(kind: Kind) -> Version {
    match kind {
        Kind::Libotr => Version::V3,
        Kind::Potr => Version::V2,
    }
}

pub fn fragment_marker(kind: Kind) -> &'static str {
    match kind {
        Kind::Libotr => "?OTR|",
        Kind::Potr => "?OTR,",
    }
}

/// A link whose AKE has run, started by Burrow (`start()`, a query) or by
/// the peer (`start burrow`); checks both ends are private with the right
/// keys and version.
pub fn private_link(kind: Kind, burrow_starts: bool, max_fragment: Option<usize>) -> Link {
    let mut link = Link::new(kind, "default", settings(Policy::Manual, max_fragment), max_fragment.unwrap_or(0));
    start_ake(&mut link, burrow_starts);
    link
}

pub fn start_ake(link: &mut Link, burrow_starts: bool) {
    let kind = link.peer.kind;
    let secure_before = link.peer_seen("secure").len();
    if burrow_starts {
        link.burrow_start();
    } else {
        link.peer_command(&format!("start {BURROW}"));
    }
    assert_eq!(link.peer_seen("secure").len(), secure_before + 1, "one new secure event: {:?}", link.peer_events);
    link.assert_private(version(kind));
    assert_eq!(link.burrow.report().version, Some(burrow_version(kind)));
    assert!(link.states.last().is_some_and(|report| report.state == State::Private), "Burrow reported going private: {:?}", link.states);
    let (_, _, protocol, msgstate) = link.peer.keys();
    assert_eq!((protocol, msgstate.as_str()), (version(kind), "encrypted"));
}

pub fn ake(kind: Kind, burrow_starts: bool) {
    let link = private_link(kind, burrow_starts, None);
    assert!(link.notices.is_empty(), "no notices in a clean AKE: {:?}", link.notices);
    // Nothing was displayed: the AKE carries no user text.
    assert!(link.shown.is_empty(), "{:?}", link.shown);
}

/// The peer's last `message` event: (text, encrypted).
pub fn last_peer_message(link: &Link) -> Option<(String, bool)> {
    link.peer_seen("message").last().map(|event| {
        (String::from_utf8(unb64(event["b64"].as_str().unwrap())).unwrap(), event["encrypted"].as_bool().unwrap())
    })
}

pub fn burrow_says(link: &mut Link, text: &str) {
    let sent = link.burrow_send_only(text);
    assert!(!sent.transmits.is_empty() && sent.transmits.iter().all(|(_, encrypted)| *encrypted), "Burrow's send left encrypted: {sent:?}");
    link.pump();
    assert_eq!(last_peer_message(link), Some((text.to_owned(), true)), "the peer got Burrow's message intact and encrypted");
}

pub fn peer_says(link: &mut Link, text: &str) {
    link.peer_send(text);
    assert_eq!(link.shown.last(), Some(&(text.to_owned(), true)), "Burrow got the peer's message intact and encrypted; notices {:?}", link.notices);
}

const LIMIT: usize = 150;

pub fn hundred_messages_fragmented(kind: Kind) {
    let mut link = private_link(kind, true, Some(LIMIT));
    let burrow_before = link.burrow.key_ids().unwrap();
    let (peer_our_before, peer_their_before, _, _) = link.peer.keys();
    for index in 0..100 {
        burrow_says(&mut link, &sample_text(index, "burrow"));
        peer_says(&mut link, &sample_text(index, "peer"));
    }
    assert_eq!(link.shown.len(), 100, "Burrow displayed exactly the 100 messages (no heartbeat or TLV shown)");
    assert_eq!(link.peer_seen("message").len(), 100, "the peer displayed exactly the 100 messages");
    let marker = fragment_marker(kind);
    let query = |text: &String| text.starts_with("?OTRv");
    for (direction, wire) in [("Burrow → peer", &link.to_peer), ("peer → Burrow", &link.from_peer)] {
        let fragments = wire.iter().filter(|text| text.starts_with(marker)).count();
        assert!(fragments > 100, "{direction}: fragments ({marker}) on the wire: {fragments}");
        let over: Vec<&String> = wire.iter().filter(|text| text.len() > LIMIT && !query(text)).collect();
        assert!(over.is_empty(), "{direction}: wire messages over {LIMIT} bytes: {over:?}");
        // Whatever is not a fragment is a whole OTR message (short enough) or a query.
        assert!(wire.iter().all(|text| text.starts_with("?OTR")), "{direction}: only OTR messages on the wire");
    }
    assert!(link.notices.is_empty(), "no notices: {:?}", link.notices);
    let burrow_after = link.burrow.key_ids().unwrap();
    assert!(burrow_after.0 > burrow_before.0 && burrow_after.1 > burrow_before.1, "Burrow's keys rotated: {burrow_before:?} → {burrow_after:?}");
    let (peer_our_after, peer_their_after, _, _) = link.peer.keys();
    assert!(
        peer_our_after > peer_our_before && peer_their_after > peer_their_before,
        "the peer's keys rotated: ({peer_our_before}, {peer_their_before}) → ({peer_our_after}, {peer_their_after})"
    );
}

/// The `smp` results the peer reported since the last `clear`.
pub fn peer_smp(link: &Link) -> Vec<String> {
    link.peer_seen("smp").iter().map(|event| event["result"].as_str().unwrap().to_owned()).collect()
}

pub fn peer_smp_question(link: &Link) -> Option<Option<Vec<u8>>> {
    link.peer_seen("smp").iter().find(|event| event["result"] == "asked").map(|event| match &event["question_b64"] {
        Value::Null => None,
        question => Some(unb64(question.as_str().unwrap())),
    })
}

/// One SMP run; returns (Burrow's events, the peer's results).
pub fn smp_run(link: &mut Link, burrow_initiates: bool, question: Option<&str>, secret: &str, answer: &str) -> (Vec<SmpEvent>, Vec<String>) {
    link.clear();
    if burrow_initiates {
        let out = link.with_burrow(|conversation, env| conversation.smp_start(env, secret.as_bytes(), question.map(str::as_bytes))).expect("smp_start in a private session");
        link.queue(out);
        link.pump();
        assert_eq!(peer_smp_question(link), Some(question.map(|text| text.as_bytes().to_vec())), "the peer was asked, with the question: {:?}", link.peer_events);
        link.peer_command(&format!("smp-answer {BURROW} {}", b64(answer)));
    } else {
        let line = match question {
            Some(question) => format!("smp {BURROW} {} {}", b64(secret), b64(question)),
            None => format!("smp {BURROW} {}", b64(secret)),
        };
        link.peer_command(&line);
        assert_eq!(link.smp.first(), Some(&SmpEvent::Asked { question: question.map(|text| text.as_bytes().to_vec()) }), "Burrow was asked: {:?}", link.smp);
        let out = link.with_burrow(|conversation, env| conversation.smp_answer(env, answer.as_bytes())).expect("smp_answer after Asked");
        link.queue(out);
        link.pump();
    }
    assert!(link.notices.is_empty(), "no notices during SMP: {:?}", link.notices);
    (link.smp.clone(), peer_smp(link))
}

/// Burrow ends (the peer sees `finished`); the peer ends (Burrow goes
/// Finished, refuses to send, ends); each time a new AKE works and
/// messages flow again.
pub fn end_and_restart(kind: Kind) {
    let mut link = private_link(kind, true, None);
    burrow_says(&mut link, "before the end");

    link.clear();
    link.burrow_end();
    assert_eq!(link.burrow.state(), State::Plaintext);
    assert_eq!(link.peer_seen("finished").len(), 1, "the peer saw Burrow end: {:?}", link.peer_events);
    assert_eq!(link.peer.keys().3, "finished");
    // The peer ends too, and starts again.
    let ended = link.peer.ask(&format!("end {BURROW}"), "ended");
    assert_eq!(ended["event"], "ended", "{ended}");
    link.pump();
    start_ake(&mut link, false);
    peer_says(&mut link, "after the restart, from the peer");
    burrow_says(&mut link, "after the restart, from Burrow");

    // Now the peer ends.
    link.clear();
    link.peer_command(&format!("end {BURROW}"));
    assert_eq!(link.burrow.state(), State::Finished, "Burrow finished when the peer ended; notices {:?}", link.notices);
    assert!(link.states.last().is_some_and(|report| report.state == State::Finished), "Burrow reported it: {:?}", link.states);
    assert!(link.to_peer.is_empty(), "Burrow answered nothing to the disconnect: {:?}", link.to_peer);
    let sent = link.burrow_send_only("hello? (never sent)");
    assert!(sent.transmits.is_empty(), "nothing leaves in Finished: {sent:?}");
    assert_eq!(sent.refused, vec![Refusal::Finished]);
    link.pump();
    link.burrow_end();
    assert_eq!(link.burrow.state(), State::Plaintext);
    assert!(link.to_peer.is_empty(), "ending a finished session sends nothing: {:?}", link.to_peer);
    assert!(last_peer_message(&link).is_none(), "the refused message never arrived");
    start_ake(&mut link, true);
    burrow_says(&mut link, "third session, from Burrow");
    peer_says(&mut link, "third session, from the peer");
}

/// Burrow `require`, the peer `manual`: the first send leaves only a
/// query; after the AKE the message arrives encrypted.
pub fn require_policy(kind: Kind) {
    let mut link = Link::new(kind, "manual", settings(Policy::Require, None), 0);
    let secret = "secret plans, for your eyes only";
    let sent = link.burrow_send_only(secret);
    assert_eq!(sent.transmits.len(), 1, "one message leaves: {sent:?}");
    let (query, encrypted) = &sent.transmits[0];
    assert!(query.starts_with("?OTRv") && !encrypted && !query.contains(secret), "it is a query: {query:?}");
    assert!(sent.refused.is_empty());
    link.pump();
    link.assert_private(version(kind));
    assert!(!link.to_peer.iter().any(|text| text.contains(secret) || !text.starts_with("?OTR")), "nothing plaintext on the wire: {:?}", link.to_peer);
    let messages = link.peer_seen("message");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(last_peer_message(&link), Some((secret.to_owned(), true)), "arrived encrypted after the AKE");
    peer_says(&mut link, "got it");
}

/// What each implementation reports in an SMP run:
/// (Burrow's events, the peer's `smp` results).
fn expected_smp(kind: Kind, burrow_initiates: bool, question: bool, success: bool) -> (Vec<SmpEvent>, Vec<&'static str>) {
    let asked = SmpEvent::Asked { question: question.then(|| QUESTION.as_bytes().to_vec()) };
    let outcome = if success { SmpEvent::Success } else { SmpEvent::Failure };
    let result = if success { "success" } else { "failure" };
    match (kind, burrow_initiates) {
        // libotr: the responder is asked (ASK_FOR_SECRET/ANSWER), the
        // initiator sees IN_PROGRESS on SMP2; both then see the outcome.
        (Kind::Libotr, true) => (vec![outcome], vec!["asked", result]),
        (Kind::Libotr, false) => (vec![asked, outcome], vec!["in_progress", result]),
        // potr (no SMP callbacks; potr_peer derives events from its state)
        // reports the same on success. On a mismatch the potr side that finds
        // it sends an SMP abort TLV instead of going on:
        // - potr as responder finds it on SMP3 and answers with an abort, not
        //   SMP4, so Burrow (the initiator) never learns "failure", only
        //   "aborted" (potr itself reports failure).
        (Kind::Potr, true) => (vec![if success { SmpEvent::Success } else { SmpEvent::Aborted }], vec!["asked", result]),
        // - Burrow as responder finds it on SMP3, reports Failure and sends
        //   SMP4 as the spec says; potr finds it again on SMP4 and sends an
        //   abort, which Burrow reports after the failure (libotr reports
        //   OTRL_SMPEVENT_ABORT for an abort in every state, and so does Burrow).
        (Kind::Potr, false) => {
            let mut burrow = vec![asked, outcome];
            if !success {
                burrow.push(SmpEvent::Aborted);
            }
            (burrow, vec!["in_progress", result])
        }
    }
}

pub const QUESTION: &str = "Where did we meet? «ñ»";

/// SMP success and failure, with and without a question, initiated by
/// each side, in one session.
pub fn smp_matrix(kind: Kind) {
    let mut link = private_link(kind, true, None);
    for burrow_initiates in [true, false] {
        for question in [false, true] {
            for success in [true, false] {
                let answer = if success { "swordfish" } else { "sword fish" };
                let got = smp_run(&mut link, burrow_initiates, question.then_some(QUESTION), "swordfish", answer);
                let expected = expected_smp(kind, burrow_initiates, question, success);
                assert_eq!(
                    (got.0, got.1.iter().map(String::as_str).collect::<Vec<_>>()),
                    expected,
                    "SMP burrow_initiates={burrow_initiates} question={question} success={success}"
                );
                assert_eq!(link.burrow.state(), State::Private, "still private after SMP");
            }
        }
    }
    // And the session still carries messages.
    burrow_says(&mut link, "after SMP");
    peer_says(&mut link, "after SMP too");
}

/// SMP started by Burrow, restarted by Burrow before the peer answered: the
/// restart aborts the first exchange and the second one succeeds.
pub fn smp_restart(kind: Kind) {
    let mut link = private_link(kind, true, None);
    link.clear();
    let out = link.with_burrow(|conversation, env| conversation.smp_start(env, b"first secret", None)).unwrap();
    link.queue(out);
    link.pump();
    let out = link.with_burrow(|conversation, env| conversation.smp_start(env, b"second secret", Some(QUESTION.as_bytes()))).unwrap();
    assert_eq!(out.len(), 2, "an abort, then the new SMP1");
    link.queue(out);
    link.pump();
    link.peer_command(&format!("smp-answer {BURROW} {}", b64("second secret")));
    assert_eq!(peer_smp(&link), ["asked", "aborted", "asked", "success"], "the peer saw the restart");
    assert_eq!(link.smp, [SmpEvent::Success]);
    assert!(link.notices.is_empty(), "{:?}", link.notices);
}
