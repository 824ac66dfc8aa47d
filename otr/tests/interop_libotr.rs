//! Burrow's OTR against libotr 4.1.1 (tests/otr-peers/libotr_peer.c), v3.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use otr::extra_key::KeyUse;
use otr::policy::Policy;
use support::scenarios::*;
use support::*;

#[test]
fn ake_started_by_burrow() {
    ake(Kind::Libotr, true);
}

#[test]
fn ake_started_by_libotr() {
    ake(Kind::Libotr, false);
}

#[test]
fn hundred_messages_each_way_fragmented_with_key_rotation() {
    hundred_messages_fragmented(Kind::Libotr);
}

#[test]
fn smp_success_and_failure_with_and_without_question_both_initiators() {
    smp_matrix(Kind::Libotr);
}

#[test]
fn smp_restarted_by_burrow_aborts_first_then_succeeds() {
    smp_restart(Kind::Libotr);
}

#[test]
fn end_and_restart_both_ways() {
    end_and_restart(Kind::Libotr);
}

#[test]
fn require_policy_sends_only_a_query_then_encrypted() {
    require_policy(Kind::Libotr);
}

/// otr_parse's output for one message.
fn otr_parse(message: &str) -> String {
    let mut child = Command::new("otr_parse").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("otr_parse (Debian libotr5-bin)");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{message}").unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "otr_parse failed: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// The message type byte of a whole encoded message.
fn message_type(text: &str) -> u8 {
    let body = text.strip_prefix("?OTR:").and_then(|rest| rest.strip_suffix('.')).unwrap_or_else(|| panic!("not a whole encoded message: {text}"));
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()[2]
}

#[test]
fn every_message_type_burrow_sends_decodes_with_otr_parse() {
    let mut link = Link::new(Kind::Libotr, "default", settings(Policy::Manual, None), 0);
    let mut collected: Vec<(&str, String)> = Vec::new();
    let take = |link: &mut Link, from: usize, want: &[(u8, &'static str)], collected: &mut Vec<(&str, String)>| {
        for text in &link.to_peer[from..] {
            if text.starts_with("?OTRv") {
                continue; // the query is plaintext
            }
            let kind = message_type(text);
            if let Some((_, name)) = want.iter().find(|(byte, _)| *byte == kind) {
                if !collected.iter().any(|(have, _)| have == name) {
                    collected.push((name, text.clone()));
                }
            }
        }
    };
    // libotr starts: Burrow answers with D-H Commit, then Reveal Signature.
    let from = link.to_peer.len();
    start_ake(&mut link, false);
    take(&mut link, from, &[(0x02, "D-H Commit"), (0x11, "Reveal Signature")], &mut collected);
    let from = link.to_peer.len();
    burrow_says(&mut link, "a data message with text, «non-ASCII»");
    take(&mut link, from, &[(0x03, "Data text")], &mut collected);
    let from = link.to_peer.len();
    let out = link.with_burrow(|conversation, env| conversation.smp_start(env, b"secret", Some(b"question?"))).unwrap();
    link.queue(out);
    link.pump();
    take(&mut link, from, &[(0x03, "Data SMP")], &mut collected);
    link.peer_command(&format!("smp-answer {BURROW} {}", b64("secret")));
    let from = link.to_peer.len();
    link.burrow_end();
    take(&mut link, from, &[(0x03, "Data disconnect")], &mut collected);
    // Burrow starts: it sends D-H Key, then Signature.
    link.peer_command(&format!("end {BURROW}"));
    let from = link.to_peer.len();
    start_ake(&mut link, true);
    take(&mut link, from, &[(0x0a, "D-H Key"), (0x12, "Signature")], &mut collected);

    let names: Vec<&str> = collected.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["D-H Commit", "Reveal Signature", "Data text", "Data SMP", "Data disconnect", "D-H Key", "Signature"], "one of each type");
    let peer_tag = link.peer.instag.expect("libotr has an instance tag");
    for (name, text) in &collected {
        let parsed = otr_parse(text);
        let heading = match *name {
            "Data text" | "Data SMP" | "Data disconnect" => "Data",
            other => other,
        };
        // otr_parse prints "<Type> Message:" and the fields, or
        // "Invalid <Type> Message" when the fields do not decode.
        assert!(parsed.starts_with(&format!("{heading} Message:\n")), "{name}: {parsed}");
        assert!(!parsed.contains("Invalid"), "{name}: {parsed}");
        assert!(parsed.contains("\tVersion: 03\n"), "{name}: {parsed}");
        let receiver = if *name == "D-H Commit" { 0 } else { peer_tag };
        assert!(parsed.contains(&format!("\tReceiver instance: {receiver}\n")), "{name}: {parsed}");
        match *name {
            // TLV-only messages carry IGNORE_UNREADABLE, as libotr's do.
            "Data SMP" | "Data disconnect" => assert!(parsed.contains("\tFlags: 1\n"), "{name}: {parsed}"),
            "Data text" => assert!(parsed.contains("\tFlags: 0\n"), "{name}: {parsed}"),
            _ => {}
        }
        // The assertion tells a broken message apart: the same one cut short.
        let cut = format!("{}.", &text[..text.len() / 2]);
        let broken = otr_parse(&cut);
        assert!(broken.contains(&format!("Invalid {heading} Message")), "{name} cut short: {broken}");
    }
}

/// Both users start at once: each side gets the other's query and sends a
/// D-H Commit. libotr answers Burrow's commit from a fresh instance context
/// (Burrow's tag) whatever the hash comparison says, so one exchange always
/// completes; Burrow resolves its side as the spec says (higher hash keeps
/// its commit, lower forgets its own and answers).
#[test]
fn simultaneous_start_settles_on_one_session() {
    for _ in 0..4 {
        let mut link = Link::new(Kind::Libotr, "default", settings(otr::policy::Policy::Manual, Some(150)), 150);
        let query = link.burrow.start();
        link.queue(query);
        link.peer.command(&format!("start {BURROW}"));
        link.pump();
        link.assert_private(3);
        assert_eq!(link.peer_seen("secure").len(), 1);
        burrow_says(&mut link, "after the race");
        peer_says(&mut link, "after the race, too");
    }
}

#[test]
fn the_extra_symmetric_key_announcement_reaches_libotr() {
    let mut link = private_link(Kind::Libotr, true, None);
    let key_use = KeyUse { code: 0x0001_0203, data: b"holiday.jpg".to_vec() };
    let (key, out) = link.with_burrow(|conversation, env| conversation.extra_symmetric_key(env, &key_use)).expect("private");
    link.queue(out);
    link.pump();
    let symkey = link.peer_seen("symkey").last().map(|event| (*event).clone()).expect("libotr's received_symkey");
    assert_eq!(symkey["use"], 0x0001_0203, "{symkey}");
    assert_eq!(unb64(symkey["usedata_b64"].as_str().unwrap()), b"holiday.jpg");
    assert_eq!(unb64(symkey["key_b64"].as_str().unwrap()), key.expose(), "libotr derived the same key");
    assert!(link.shown.is_empty(), "nothing shown to either user");
}
