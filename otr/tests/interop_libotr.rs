//! Burrow's OTR against libotr 4.1.1 (tests/otr-peers/libotr_peer.c), v3.

mod support;

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

/// The other way: libotr announces a use of the extra symmetric key
/// (TLV 8), and Burrow derives the same key and is told the use.
#[test]
fn libotrs_extra_symmetric_key_announcement_reaches_burrow() {
    let mut link = private_link(Kind::Libotr, true, None);
    link.peer_command(&format!("symkey {BURROW} 66051 {}", b64("report.pdf")));
    let sent = link.peer_seen("symkey-sent").last().map(|event| (*event).clone()).expect("libotr's otrl_message_symkey");
    link.pump();
    let (key_use, key) = link.extra_keys.last().expect("Burrow saw the announcement");
    assert_eq!((key_use.code, key_use.data.as_slice()), (66051, b"report.pdf".as_slice()));
    assert_eq!(key.expose(), unb64(sent["key_b64"].as_str().unwrap()).as_slice(), "Burrow derived the same key");
    assert!(link.shown.is_empty(), "nothing shown to either user");
}

/// Burrow's fragments are as libotr's: `?OTR|sender|receiver,k,n,piece,`
/// with both instance tags, in order; put together they are one Data
/// Message that otr_parse decodes (otr_parse reads whole messages only).
#[test]
fn burrows_fragments_carry_both_tags_and_put_together_decode_with_otr_parse() {
    let mut link = Link::new(Kind::Libotr, "default", settings(Policy::Manual, Some(150)), 0);
    start_ake(&mut link, true);
    let from = link.to_peer.len();
    burrow_says(&mut link, &"a long message in many pieces; ".repeat(20));
    let peer_tag = link.peer.instag.expect("libotr has an instance tag");
    let fragments: Vec<&String> = link.to_peer[from..].iter().filter(|text| text.starts_with("?OTR|")).collect();
    assert!(fragments.len() > 3, "fragmented: {:?}", &link.to_peer[from..]);
    let mut whole = String::new();
    let mut messages = Vec::new();
    for fragment in fragments {
        let fields: Vec<&str> = fragment.strip_prefix("?OTR|").and_then(|rest| rest.strip_suffix(',')).expect("fragment form").splitn(4, ',').collect();
        let tags: Vec<&str> = fields[0].split('|').collect();
        assert_eq!(u32::from_str_radix(tags[1], 16).unwrap(), peer_tag, "{fragment}");
        assert_ne!(u32::from_str_radix(tags[0], 16).unwrap(), 0, "{fragment}");
        let (index, count): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        assert!(index >= 1 && index <= count && fields[1].len() == 5 && fields[2].len() == 5, "{fragment}");
        if index == 1 {
            whole.clear();
        }
        whole.push_str(fields[3]);
        if index == count {
            messages.push(std::mem::take(&mut whole));
        }
    }
    assert!(!messages.is_empty());
    for message in messages {
        let parsed = otr_parse(&message);
        assert!(parsed.starts_with("Data Message:\n") && !parsed.contains("Invalid"), "{parsed}");
        assert!(parsed.contains("\tVersion: 03\n") && parsed.contains(&format!("\tReceiver instance: {peer_tag}\n")), "{parsed}");
    }
}
