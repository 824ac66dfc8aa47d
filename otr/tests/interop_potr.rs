//! Burrow's OTR against python3-potr 1.0.2 (tests/otr-peers/potr_peer.py),
//! which speaks only version 2.

mod support;

use support::scenarios::*;
use support::*;

#[test]
fn ake_started_by_burrow() {
    ake(Kind::Potr, true);
}

#[test]
fn ake_started_by_potr() {
    ake(Kind::Potr, false);
}

#[test]
fn hundred_messages_each_way_fragmented_with_key_rotation() {
    hundred_messages_fragmented(Kind::Potr);
}

#[test]
fn smp_restarted_by_burrow_aborts_first_then_succeeds() {
    smp_restart(Kind::Potr);
}

#[test]
fn end_and_restart_both_ways() {
    end_and_restart(Kind::Potr);
}

#[test]
fn require_policy_sends_only_a_query_then_encrypted() {
    require_policy(Kind::Potr);
}

#[test]
fn smp_success_and_failure_with_and_without_question_both_initiators() {
    smp_matrix(Kind::Potr);
}

/// Every message type Burrow sends in version 2 (to potr, which has no
/// other) decodes with libotr's otr_parse: no instance tags, version 02.
#[test]
fn burrows_version_2_messages_decode_with_otr_parse() {
    let mut link = Link::new(Kind::Potr, "default", settings(otr::policy::Policy::Manual, None), 0);
    start_ake(&mut link, false);
    burrow_says(&mut link, "version two, «non-ASCII»");
    link.peer_command(&format!("end {BURROW}"));
    start_ake(&mut link, true);
    let mut kinds = std::collections::BTreeSet::new();
    for text in link.to_peer.iter().filter(|text| text.starts_with("?OTR:")) {
        let kind = message_type(text);
        kinds.insert(kind);
        let heading = match kind {
            0x02 => "D-H Commit",
            0x0a => "D-H Key",
            0x11 => "Reveal Signature",
            0x12 => "Signature",
            0x03 => "Data",
            other => panic!("an unexpected type {other:#x}: {text}"),
        };
        let parsed = otr_parse(text);
        assert!(parsed.starts_with(&format!("{heading} Message:\n")) && !parsed.contains("Invalid"), "{parsed}");
        assert!(parsed.contains("\tVersion: 02\n") && !parsed.contains("instance"), "{parsed}");
    }
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), vec![0x02, 0x03, 0x0a, 0x11, 0x12], "one of each type");
}
