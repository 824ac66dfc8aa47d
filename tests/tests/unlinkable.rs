//! Issue 6, point 4: what could link a user's accounts to each other or to
//! the machine. Two accounts connected together log in apart (a random
//! gap), and nothing Burrow sends in any stanza names the machine, the user
//! or an address: checked on what a real Prosody received, from its debug
//! log, where `mod_stanza_debug` writes every stanza a client sent after
//! TLS, whole.

use std::collections::HashSet;
use std::time::Duration;

use burrow_tests::chat::LOGIN;
use burrow_tests::proxy::Proxy;
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{binary, Burrow, Scratch};

/// This file's Prosody, with `mod_stanza_debug`, which logs every stanza
/// in full.
fn prosody() -> &'static Prosody {
    static PROSODY: std::sync::OnceLock<Prosody> = std::sync::OnceLock::new();
    PROSODY.get_or_init(|| Prosody::start_with_modules(&["stanza_debug"]))
}

fn options(prosody: &Prosody, port: u16) -> String {
    format!("server=127.0.0.1:{port} policy=manual ca={}", prosody.ca_pem_path().display())
}

/// Two accounts connected at once do not log in at once: the second
/// connection starts a random gap (here set to 2–3 s) after the first
/// (net-sandbox/src/spacing.rs), and both still come online.
#[test]
fn two_accounts_connected_together_log_in_apart() {
    let prosody = prosody();
    let front = Proxy::transparent(prosody.starttls_port());
    let scratch = Scratch::new("prosody-spacing");
    let (first, first_password) = prosody.create_account("spacedfirst");
    let (second, second_password) = prosody.create_account("spacedsecond");
    let mut burrow = Burrow::start_with_environment(&binary("burrow"), &scratch.path().join("profile"), &[], &[("BURROW_ACCOUNT_SPACING", "2-3")]);
    burrow.send("/unlock test passphrase");
    burrow.expect_event("unlocked", Duration::from_secs(30));
    burrow.add_account(&first, &first_password, &options(prosody, front.port()));
    burrow.add_account(&second, &second_password, &options(prosody, front.port()));
    burrow.send(&format!("/connect {first}"));
    burrow.send(&format!("/connect {second}"));
    for jid in [&first, &second] {
        let outcome = burrow.expect_outcome(jid);
        assert_eq!(outcome["event"], "account", "{jid}: {outcome}");
    }
    let times = front.accept_times();
    assert_eq!(times.len(), 2, "one connection per account");
    let gap = times[1] - times[0];
    assert!(gap >= Duration::from_secs(2), "the second login began only {gap:?} after the first");
}

/// What would identify this machine or its user: the hostname, the user's
/// name, the machine id, and every address of every interface but loopback.
fn identifying_words() -> Vec<String> {
    let mut words = Vec::new();
    if let Ok(hostname) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        words.push(hostname.trim().to_owned());
    }
    let user = std::process::Command::new("id").arg("-un").output().expect("id -un");
    words.push(String::from_utf8_lossy(&user.stdout).trim().to_owned());
    if let Ok(machine) = std::fs::read_to_string("/etc/machine-id") {
        words.push(machine.trim().to_owned());
    }
    let addresses = std::process::Command::new("ip").args(["-o", "addr", "show"]).output().expect("ip -o addr show");
    for line in String::from_utf8_lossy(&addresses.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(position) = fields.iter().position(|field| *field == "inet" || *field == "inet6") else { continue };
        let Some(address) = fields.get(position + 1).and_then(|cidr| cidr.split('/').next()) else { continue };
        if let Ok(ip) = address.parse::<std::net::IpAddr>() {
            if !ip.is_loopback() {
                words.push(address.to_owned());
            }
        }
    }
    words.retain(|word| !word.is_empty());
    words
}

/// Whether `word` stands in `text` on its own: not inside a longer run of
/// letters, digits, dots or colons (a two-letter hostname is inside many
/// hex ids, but never on its own unless it was put there).
fn stands_alone(text: &str, word: &str) -> bool {
    let part_of_word = |character: char| character.is_ascii_alphanumeric() || character == '.' || character == ':';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part_of_word) && !after.is_some_and(part_of_word)
    })
}

/// The decoded text of a SASL `<auth>` or `<response>`, else nothing.
fn sasl_payload(stanza: &str) -> String {
    use base64::Engine;
    if !(stanza.starts_with("<auth") || stanza.starts_with("<response")) {
        return String::new();
    }
    let text = stanza.split_once('>').and_then(|(_, rest)| rest.split_once('<')).map(|(text, _)| text).unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn stands_alone_finds_whole_words_only() {
    assert!(stands_alone("<resource>vm</resource>", "vm"));
    assert!(stands_alone("from='root@x'", "root"));
    assert!(!stands_alone("<resource>9f3a0bvm12</resource>", "vm"));
    assert!(!stands_alone("10.0.0.12", "10.0.0.1"));
    assert!(stands_alone("at 10.0.0.1 now", "10.0.0.1"));
}

#[test]
fn no_stanza_names_the_machine_the_user_or_an_address() {
    let prosody = prosody();
    let scratch = Scratch::new("unlinkable-stanzas");
    let (alice, alice_password) = prosody.create_account("quietalice");
    let (bob, bob_password) = prosody.create_account("quietbob");
    let mut a = Burrow::unlocked(&scratch.path().join("alice"));
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    a.add_account(&alice, &alice_password, &options(prosody, prosody.starttls_port()));
    b.add_account(&bob, &bob_password, &options(prosody, prosody.starttls_port()));
    a.connect_ok(&alice);
    b.connect_ok(&bob);
    // Presence subscriptions both ways, a roster, messages both ways, a
    // disconnection and a second session: every kind of stanza Burrow sends.
    a.send(&format!("/subscribe {alice} {bob}"));
    b.expect("alice's request", LOGIN, |event| event["event"] == "subscription" && event["peer"] == alice.as_str() && event["kind"] == "request");
    b.send(&format!("/approve {bob} {alice}"));
    a.expect("bob's presence", LOGIN, |event| event["event"] == "presence" && event["peer"] == bob.as_str() && event["show"] == "available");
    b.send(&format!("/subscribe {bob} {alice}"));
    a.expect("bob's request", LOGIN, |event| event["event"] == "subscription" && event["peer"] == bob.as_str() && event["kind"] == "request");
    a.send(&format!("/approve {alice} {bob}"));
    b.expect("alice's presence", LOGIN, |event| event["event"] == "presence" && event["peer"] == alice.as_str() && event["show"] == "available");
    a.send(&format!("/roster {alice}"));
    a.expect("the roster", LOGIN, |event| event["event"] == "roster");
    a.send(&format!("/msg {alice} {bob} a plain message"));
    b.expect("alice's message", LOGIN, |event| event["event"] == "message" && event["peer"] == alice.as_str());
    b.send(&format!("/msg {bob} {alice} a plain answer"));
    a.expect("bob's answer", LOGIN, |event| event["event"] == "message" && event["peer"] == bob.as_str());
    a.send(&format!("/disconnect {alice}"));
    a.expect("the disconnection", LOGIN, |event| event["event"] == "disconnected" && event["account"] == alice.as_str());
    a.connect_ok(&alice);
    a.send(&format!("/msg {alice} {bob} from a new session"));
    b.expect("the message from the new session", LOGIN, |event| event["event"] == "message" && event["text"] == "from a new session");
    a.send("/quit");
    b.send("/quit");
    drop((a, b));

    let log = std::fs::read_to_string(prosody.debug_log_path()).expect("Prosody's debug log");
    let stanzas: Vec<&str> = log.lines().filter_map(|line| line.split_once("\tRECV: ").map(|(_, stanza)| stanza)).collect();
    for kind in ["<iq", "<presence", "<message", "<auth", "<enable"] {
        assert!(stanzas.iter().any(|stanza| stanza.starts_with(kind)), "Prosody logged no {kind} from Burrow: is its debug log still complete?");
    }
    let words = identifying_words();
    assert!(words.len() >= 2, "found too little to look for: {words:?}");
    for stanza in &stanzas {
        // SASL messages carry base64: look inside too.
        let decoded = sasl_payload(stanza);
        for word in &words {
            assert!(!stands_alone(stanza, word), "a stanza names {word:?}: {stanza}");
            assert!(!stands_alone(&decoded, word), "a SASL message names {word:?}: {decoded}");
        }
    }
    // Each session bound a random resource of its own: 32 hex digits.
    let resources: Vec<&str> = stanzas
        .iter()
        .filter_map(|stanza| stanza.split_once("<resource>").and_then(|(_, rest)| rest.split_once("</resource>")).map(|(resource, _)| resource))
        .collect();
    assert!(resources.len() >= 3, "three sessions, three bindings: {resources:?}");
    assert!(resources.iter().all(|resource| resource.len() == 32 && resource.chars().all(|c| c.is_ascii_hexdigit())), "{resources:?}");
    let distinct: HashSet<&&str> = resources.iter().collect();
    assert_eq!(distinct.len(), resources.len(), "a resource was used twice: {resources:?}");
}
