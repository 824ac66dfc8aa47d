//! Driving Burrow's XMPP commands from a test: accounts, connections, and
//! collecting what arrives.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{binary, Burrow};

/// Long enough for a login on a loaded 2-core machine (PBKDF2 included).
pub const LOGIN: Duration = Duration::from_secs(60);

impl Burrow {
    /// A Burrow on `profile`, its store unlocked.
    pub fn unlocked(profile: &Path) -> Burrow {
        let mut burrow = Burrow::start(&binary("burrow"), profile);
        burrow.send("/unlock test passphrase");
        burrow.expect_event("unlocked", Duration::from_secs(30));
        burrow
    }

    /// `/account add JID PASSWORD OPTIONS`; panics unless it is added.
    pub fn add_account(&mut self, jid: &str, password: &str, options: &str) {
        self.send(&format!("/account add {jid} {password} {options}"));
        let answer = self.expect("the account's addition", Duration::from_secs(20), |event| {
            (event["event"] == "account" && event["account"] == jid) || event["event"] == "error"
        });
        assert_eq!(answer["event"], "account", "adding {jid} failed: {answer}");
    }

    /// `/connect JID` and the first `online` state or error for it.
    pub fn connect(&mut self, jid: &str) -> Value {
        self.send(&format!("/connect {jid}"));
        self.expect_outcome(jid)
    }

    /// The account's next `online` state or error.
    pub fn expect_outcome(&mut self, jid: &str) -> Value {
        self.expect(&format!("{jid} online or an error"), LOGIN, |event| {
            event["account"] == jid && ((event["event"] == "account" && event["state"] == "online") || event["event"] == "error")
        })
    }

    /// `/connect JID`, which must succeed; returns the `account` event. It
    /// also waits for the server to reflect the account's initial presence
    /// back to it (RFC 6121 §4.2.2): from then on the server routes
    /// messages to this resource, so a test's first message cannot race the
    /// presence and bounce.
    pub fn connect_ok(&mut self, jid: &str) -> Value {
        let outcome = self.connect(jid);
        assert_eq!(outcome["event"], "account", "{jid} did not come online: {outcome}");
        self.expect(&format!("{jid}'s own presence"), LOGIN, |event| event["event"] == "presence" && event["account"] == jid && event["peer"] == jid);
        outcome
    }

    /// `/connect JID` through Tor, which must succeed in the end. A young
    /// Tor network (or the real one) may fail a stream now and then; Burrow
    /// says so and retries by itself, so a few `connect` errors that name Tor
    /// are waited through, as a user would. Any other error fails the test.
    pub fn connect_through_tor_ok(&mut self, jid: &str) -> Value {
        // A young test network may not list a usable exit for a minute or
        // two (arti: "could not construct a path"); Burrow's back-off then
        // reaches 32 s (+ up to half again), hence the longer wait per try.
        const TRANSIENT_ERRORS_ACCEPTED: usize = 6;
        const TRY: Duration = Duration::from_secs(120);
        self.send(&format!("/connect {jid}"));
        let mut transient = Vec::new();
        let outcome = loop {
            let outcome = self.expect(&format!("{jid} online or an error"), TRY, |event| {
                event["account"] == jid && ((event["event"] == "account" && event["state"] == "online") || event["event"] == "error")
            });
            let message = outcome["message"].as_str().unwrap_or_default();
            let through_tor = outcome["event"] == "error" && outcome["code"] == "connect" && message.contains("Tor") && message.contains("nothing was sent outside Tor");
            if !through_tor || transient.len() == TRANSIENT_ERRORS_ACCEPTED {
                break outcome;
            }
            transient.push(outcome);
        };
        assert_eq!(outcome["event"], "account", "{jid} did not come online through Tor: {outcome} (after {transient:?})");
        for error in &transient {
            eprintln!("{jid}: waited through a transient Tor error: {}", error["message"]);
        }
        self.expect(&format!("{jid}'s own presence"), LOGIN, |event| event["event"] == "presence" && event["account"] == jid && event["peer"] == jid);
        outcome
    }

    /// Every event that arrives within `window`.
    pub fn collect(&mut self, window: Duration) -> Vec<Value> {
        let deadline = Instant::now() + window;
        let mut collected = Vec::new();
        while let Some(event) = self.next_event(deadline.saturating_duration_since(Instant::now())) {
            collected.push(event);
        }
        collected
    }

    /// Messages with this text received by `account` from `peer` so far,
    /// waiting until `count` have come (or `timeout`).
    pub fn wait_for_messages(&mut self, account: &str, peer: &str, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let matches = |event: &Value| event["event"] == "message" && event["account"] == account && event["peer"] == peer;
        loop {
            let texts: Vec<String> = self.seen.iter().filter(|event| matches(event)).map(|event| event["text"].as_str().unwrap_or_default().to_owned()).collect();
            if texts.len() >= count {
                return texts;
            }
            if self.next_event(deadline.saturating_duration_since(Instant::now())).is_none() {
                return texts;
            }
        }
    }
}

/// The user name and domain of `jid`.
pub fn split(jid: &str) -> (&str, &str) {
    jid.split_once('@').expect("a bare JID")
}
