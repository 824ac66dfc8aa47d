//! Creating an account from Burrow (XEP-0077 in-band registration) against
//! real Prosody 0.12 instances on loopback, through the text front end:
//! a server that allows it (the new account logs in, talks to another
//! Burrow, and is still in the store after a restart), a server whose form
//! asks for more (the form is shown, answered, and the answer reaches the
//! server), and a server that does not allow it (a plain refusal, nothing
//! added).

use std::path::Path;
use std::time::Duration;

use burrow_tests::chat::LOGIN;
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{binary, Burrow, Scratch};
use serde_json::Value;

fn options(prosody: &Prosody) -> String {
    format!("server=127.0.0.1:{} ca={} policy=manual", prosody.starttls_port(), prosody.ca_pem_path().display())
}

/// A random name of Burrow's making: 12 lowercase letters and digits,
/// a letter first.
fn is_random_name(jid: &str, domain: &str) -> bool {
    let Some(local) = jid.strip_suffix(&format!("@{domain}")) else { return false };
    local.len() == 12 && local.as_bytes()[0].is_ascii_lowercase() && local.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
}

/// Prosody keeps each account in its data directory, host name escaped.
fn prosody_file(prosody: &Prosody, store: &str, user: &str) -> std::path::PathBuf {
    prosody.dir().join("data").join(prosody.domain().replace('.', "%2e")).join(store).join(format!("{user}.dat"))
}

fn registered(burrow: &mut Burrow) -> Value {
    burrow.expect("the new account or an error", LOGIN, |event| event["event"] == "registered" || event["event"] == "error" || event["event"] == "register")
}

fn online(burrow: &mut Burrow, jid: &str) {
    let outcome = burrow.expect_outcome(jid);
    assert_eq!(outcome["event"], "account", "{jid} did not come online: {outcome}");
    burrow.expect(&format!("{jid}'s own presence"), LOGIN, |event| event["event"] == "presence" && event["account"] == jid && event["peer"] == jid);
}

fn restart_and_unlock(profile: &Path) -> Burrow {
    let mut burrow = Burrow::start(&binary("burrow"), profile);
    burrow.send("/unlock test passphrase");
    burrow.expect_event("unlocked", Duration::from_secs(30));
    burrow
}

#[test]
fn a_new_account_logs_in_talks_and_is_kept_across_a_restart() {
    let prosody = Prosody::start_with_registration(&[]);
    let scratch = Scratch::new("register-prosody");
    let profile = scratch.path().join("new");
    let mut newcomer = Burrow::unlocked(&profile);
    newcomer.send(&format!("/register {} {}", prosody.domain(), options(&prosody)));
    let created = registered(&mut newcomer);
    assert_eq!(created["event"], "registered", "{created}");
    let jid = created["account"].as_str().expect("account").to_owned();
    assert!(is_random_name(&jid, prosody.domain()), "{jid}");
    let user = jid.split('@').next().unwrap();
    assert!(prosody_file(&prosody, "accounts", user).exists(), "Prosody has no account {user}");
    // It logs in by itself, with SCRAM through crypto, like any account.
    let login = newcomer.expect("the login", LOGIN, |event| event["account"] == jid.as_str() && ((event["event"] == "account" && event["state"] == "online") || event["event"] == "error"));
    assert_eq!(login["event"], "account", "{login}");
    assert!(login["sasl"].as_str().unwrap_or("").starts_with("SCRAM-"), "{login}");
    newcomer.expect("its own presence", LOGIN, |event| event["event"] == "presence" && event["account"] == jid.as_str() && event["peer"] == jid.as_str());

    // Another Burrow, with an account made on the server, hears from it.
    let (peer, peer_password) = prosody.create_account("peer");
    let mut other = Burrow::unlocked(&scratch.path().join("other"));
    other.add_account(&peer, &peer_password, &options(&prosody));
    other.connect_ok(&peer);
    newcomer.send(&format!("/msg {jid} {peer} hello from a new account"));
    newcomer.expect("sent", LOGIN, |event| event["event"] == "sent" && event["peer"] == peer.as_str());
    let message = other.expect("the message", LOGIN, |event| event["event"] == "message" && event["peer"] == jid.as_str());
    assert_eq!(message["text"], "hello from a new account");

    // After a restart the account is in the store, and logs in again.
    newcomer.send("/quit");
    assert!(newcomer.wait(Duration::from_secs(30)).success());
    drop(newcomer);
    let mut again = restart_and_unlock(&profile);
    again.send("/status");
    let listed = again.expect("the stored account", Duration::from_secs(20), |event| event["event"] == "account" && event["account"] == jid.as_str());
    assert_eq!(listed["state"], "offline");
    again.send(&format!("/connect {jid}"));
    online(&mut again, &jid);
    again.send("/quit");
    assert!(again.wait(Duration::from_secs(30)).success());
}

#[test]
fn a_server_form_is_shown_answered_and_its_answer_reaches_the_server() {
    let prosody = Prosody::start_with_registration(&["name+"]);
    let scratch = Scratch::new("register-form");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    burrow.send(&format!("/register {} {}", prosody.domain(), options(&prosody)));
    let form = registered(&mut burrow);
    assert_eq!(form["event"], "register", "the form was not shown: {form}");
    assert_eq!(form["domain"], prosody.domain());
    let fields = form["fields"].as_array().expect("fields");
    // The user name and password are crypto's; only the name is asked for,
    // and the hidden FORM_TYPE is not shown.
    assert_eq!(fields.len(), 1, "{form}");
    assert_eq!(fields[0]["var"], "name");
    assert_eq!(fields[0]["label"], "Full Name");
    assert_eq!(fields[0]["required"], true);
    assert!(form["instructions"].as_array().unwrap().iter().any(|text| text.as_str().unwrap().contains("Choose a username")), "{form}");
    let number = form["registration"].as_u64().expect("registration number");

    // A required answer left out is refused here, and the form stays open.
    burrow.send(&format!("/register-answer {number}"));
    let refused = burrow.expect_event("error", Duration::from_secs(10));
    assert!(refused["message"].as_str().unwrap().contains("requires Full Name"), "{refused}");
    burrow.send(&format!("/register-answer {number} name=Ann Example"));
    let created = registered(&mut burrow);
    assert_eq!(created["event"], "registered", "{created}");
    let jid = created["account"].as_str().unwrap().to_owned();
    assert!(is_random_name(&jid, prosody.domain()), "{jid}");
    online(&mut burrow, &jid);
    let user = jid.split('@').next().unwrap();
    let details = std::fs::read_to_string(prosody_file(&prosody, "account_details", user)).expect("Prosody kept the account's details");
    assert!(details.contains("Ann Example"), "{details}");

    // Cancelling a form creates nothing.
    burrow.send(&format!("/register {} {}", prosody.domain(), options(&prosody)));
    let form = registered(&mut burrow);
    assert_eq!(form["event"], "register", "{form}");
    let number = form["registration"].as_u64().unwrap();
    burrow.send(&format!("/register-cancel {number}"));
    let cancelled = registered(&mut burrow);
    assert_eq!(cancelled["event"], "error", "{cancelled}");
    assert!(cancelled["message"].as_str().unwrap().contains("cancelled"), "{cancelled}");
    let accounts = std::fs::read_dir(prosody.dir().join("data").join("prosody%2etest").join("accounts")).unwrap().count();
    assert_eq!(accounts, 1, "only the first registration made an account");
}

#[test]
fn a_server_without_registration_refuses_plainly_and_nothing_is_added() {
    let prosody = Prosody::shared();
    let scratch = Scratch::new("register-refused");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    burrow.send(&format!("/register {} {}", prosody.domain(), options(prosody)));
    let refused = registered(&mut burrow);
    assert_eq!(refused["event"], "error", "{refused}");
    assert_eq!(refused["code"], "unsupported", "{refused}");
    assert_eq!(refused["domain"], prosody.domain(), "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("No account was created") && message.contains("does not let clients create accounts"), "{message}");
    // The next command is read again, and the store has no account.
    burrow.send("/status");
    let events = burrow.collect(Duration::from_secs(3));
    assert!(!events.iter().any(|event| event["event"] == "account"), "{events:#?}");
    assert!(!burrow.seen.iter().any(|event| event["event"] == "registered"));
}

#[test]
fn a_bad_domain_or_a_locked_store_is_refused_before_anything_is_sent() {
    let scratch = Scratch::new("register-bad");
    let mut burrow = Burrow::start(&binary("burrow"), &scratch.path().join("profile"));
    burrow.send("/register example.org");
    let locked = burrow.expect_event("error", Duration::from_secs(10));
    assert_eq!(locked["code"], "locked", "{locked}");
    burrow.send("/unlock test passphrase");
    burrow.expect_event("unlocked", Duration::from_secs(30));
    burrow.send("/register alice@example.org");
    let bad = burrow.expect_event("error", Duration::from_secs(10));
    assert!(bad["message"].as_str().unwrap().contains("not a server"), "{bad}");
}

#[test]
fn a_new_account_on_ejabberd_logs_in() {
    use burrow_tests::servers::ejabberd::{Ejabberd, ScramHash, Storage};
    let server = Ejabberd::start_with_registration(Storage::Scram(ScramHash::Sha256));
    let scratch = Scratch::new("register-ejabberd");
    let mut burrow = Burrow::unlocked(&scratch.path().join("profile"));
    let options = format!("server=127.0.0.1:{} ca={} policy=manual", server.starttls_port(), server.ca_pem_path().display());
    burrow.send(&format!("/register {} {options}", server.domain()));
    let created = registered(&mut burrow);
    assert_eq!(created["event"], "registered", "{created}");
    let jid = created["account"].as_str().unwrap().to_owned();
    assert!(is_random_name(&jid, server.domain()), "{jid}");
    let login = burrow.expect("the login", LOGIN, |event| event["account"] == jid.as_str() && ((event["event"] == "account" && event["state"] == "online") || event["event"] == "error"));
    assert_eq!(login["event"], "account", "{login}");
    assert!(login["sasl"].as_str().unwrap_or("").starts_with("SCRAM-SHA-256"), "{login}");
}
