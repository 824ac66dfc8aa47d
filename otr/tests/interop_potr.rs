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
