//! Hostile IPC: a child that sends garbage, oversized frames, messages it
//! may not send, or a flood. The broker must survive, drop what came,
//! restart the offender, and leave the other processes untouched.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use burrow_tests::{binary, install_with, pid_of, run_to_end, wait_for_exit, Burrow, Scratch};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(30);

/// An install where `child` is the hostile binary, in `mode`.
fn hostile_install(scratch: &Scratch, child: &str, mode: &str) -> std::path::PathBuf {
    let install = scratch.path().join("bin");
    std::fs::create_dir_all(&install).unwrap();
    install_with(&install, Some((child, &binary("hostile-child"))));
    std::fs::write(install.join("hostile-mode"), mode).unwrap();
    install
}

/// Net or crypto misbehaves once the store is unlocked; afterwards the
/// restarted instance behaves.
fn misbehaving_backend(child: &str, name: &str, mode: &str) {
    let scratch = Scratch::new(&format!("hostile-{name}-{mode}"));
    let install = hostile_install(&scratch, child, mode);
    let mut burrow = Burrow::start(&install.join("burrow"), &scratch.path().join("profile"));
    let before = burrow.status();
    assert_eq!(before[name]["restarts"], 0);
    // Unlocking sends net and crypto their first message, which sets the
    // hostile child off.
    burrow.send("/unlock passphrase");
    let restarted = burrow.expect(
        &format!("a restarted {name}"),
        TIMEOUT,
        |event| event["event"] == "child" && event["name"] == name,
    );
    assert_eq!(restarted["restarts"], 1);
    assert_ne!(pid_of(&restarted), pid_of(&before[name]));
    assert!(burrow.seen.iter().any(|event| event["event"] == "error" && event["code"] == "child-restarted"));
    if name == "crypto" {
        // It died answering the unlock: the new one starts locked.
        burrow.expect("the locked notice", TIMEOUT, |event| event["event"] == "error" && event["code"] == "locked");
        burrow.send("/unlock passphrase");
        burrow.expect_event("unlocked", TIMEOUT);
    } else if !burrow.seen.iter().any(|event| event["event"] == "unlocked") {
        burrow.expect_event("unlocked", TIMEOUT);
    }
    let after = burrow.status();
    for other in ["broker", "net", "crypto", "ui"].into_iter().filter(|other| *other != name) {
        assert_eq!(pid_of(&after[other]), pid_of(&before[other]), "{other} was disturbed by a hostile {name}");
        assert_eq!(after[other]["restarts"], 0, "{other}");
    }
    assert_eq!(after[name]["restarts"], 1);
    if mode == "forbidden" {
        assert_eq!(after[name]["dropped"], 1, "the forbidden message is counted");
    }
    // The whole chain works again.
    burrow.send("/ping 20");
    burrow.expect_event("ping", TIMEOUT);
    burrow.send("/quit");
    assert!(burrow.wait(TIMEOUT).success());
}

#[test]
fn net_sending_garbage_is_restarted() {
    misbehaving_backend("burrow-net", "net", "garbage");
}

#[test]
fn net_sending_an_oversized_frame_is_restarted() {
    misbehaving_backend("burrow-net", "net", "oversized");
}

#[test]
fn net_answering_a_probe_nobody_sent_is_restarted() {
    misbehaving_backend("burrow-net", "net", "forbidden");
}

#[test]
fn crypto_sending_garbage_is_restarted() {
    misbehaving_backend("burrow-crypto", "crypto", "garbage");
}

#[test]
fn crypto_answering_what_was_not_asked_is_restarted() {
    misbehaving_backend("burrow-crypto", "crypto", "forbidden");
}

#[test]
fn a_child_that_fails_its_first_handshake_stops_burrow_with_a_clear_error() {
    let scratch = Scratch::new("hostile-handshake");
    let install = hostile_install(&scratch, "burrow-net", "bad-handshake");
    let output = run_to_end(&install.join("burrow"), &scratch.path().join("profile"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("network process (burrow-net) failed to start: handshake failed"), "{stderr}");
}

fn phase(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
}

fn pids(report: &Value) -> std::collections::HashMap<String, (u64, u64)> {
    report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|process| {
            (
                process["name"].as_str().unwrap().to_string(),
                (process["pid"].as_u64().unwrap(), process["restarts"].as_u64().unwrap()),
            )
        })
        .collect()
}

#[test]
fn a_flooding_front_end_is_restarted_and_the_others_carry_on() {
    let scratch = Scratch::new("hostile-flood");
    let install = hostile_install(&scratch, "burrow-ui", "flood");
    let mut burrow = Command::new(install.join("burrow"))
        .args(["--ui", "text", "--json", "--profile"])
        .arg(scratch.path().join("profile"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(burrow.stdout.take().unwrap()).lines();
    let first = phase(&lines.next().expect("phase 1 report").unwrap());
    let second = phase(&lines.next().expect("phase 2 report after the restart").unwrap());
    assert_eq!(first["phase"], 1);
    assert_eq!(second["phase"], 2);
    let (before, after) = (pids(&first), pids(&second));
    for name in ["broker", "net", "crypto"] {
        assert_eq!(after[name], before[name], "{name} was disturbed by the flood");
    }
    assert_ne!(after["ui"].0, before["ui"].0);
    assert_eq!(after["ui"].1, 1, "the front end was restarted once");
    let status = wait_for_exit(&mut burrow, TIMEOUT);
    assert!(status.success(), "burrow ended with {status:?}");
}
