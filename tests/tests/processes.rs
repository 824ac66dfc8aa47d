//! The whole of Burrow, started as a user starts it: every process confined
//! as `/status` says, checked against the kernel's own view in /proc; a
//! clean exit that leaves nothing behind; clear errors for a broken install;
//! a crashed child restarted without disturbing the others.

use std::time::Duration;

use burrow_tests::{alive, binary, install_with, pid_of, proc_status_field, run_to_end, wait_for_exit, Burrow, Scratch};

const TIMEOUT: Duration = Duration::from_secs(20);

fn net_namespace(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("read ns link").display().to_string()
}

#[test]
fn status_reports_every_process_confined_as_the_kernel_shows_it() {
    let scratch = Scratch::new("status");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    let children = burrow.status();
    for name in ["broker", "net", "crypto", "ui"] {
        let child = &children[name];
        assert_eq!(child["seccomp"], true, "{name}: {child}");
        assert_eq!(child["landlock"], "full", "{name}: {child}");
        let pid = pid_of(child);
        assert_eq!(proc_status_field(pid, "Seccomp:").as_deref(), Some("2"), "{name}");
        assert_eq!(proc_status_field(pid, "NoNewPrivs:").as_deref(), Some("1"), "{name}");
    }
    for name in ["crypto", "ui", "broker"] {
        assert_eq!(children[name]["netns"], "isolated", "{name}");
    }
    assert_eq!(children["net"]["netns"], "shared");
    let launcher_namespace = net_namespace(burrow.child.id());
    assert_eq!(net_namespace(pid_of(&children["net"])), launcher_namespace);
    for name in ["crypto", "ui", "broker"] {
        let namespace = net_namespace(pid_of(&children[name]));
        assert_ne!(namespace, launcher_namespace, "{name} shares the launcher's network namespace");
        assert_ne!(namespace, net_namespace(std::process::id()), "{name} shares the host's network namespace");
    }
}

#[test]
fn unlock_ping_and_quit_leave_no_process_behind() {
    let scratch = Scratch::new("quit");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    let children = burrow.status();
    burrow.send("/unlock correct horse battery staple");
    burrow.expect_event("unlocked", TIMEOUT);
    burrow.send("/unlock again");
    let error = burrow.expect_event("error", TIMEOUT);
    assert_eq!(error["code"], "already-unlocked");
    burrow.send("/ping 50 128");
    let ping = burrow.expect_event("ping", TIMEOUT);
    assert_eq!(ping["count"], 50);
    assert!(ping["p50_us"].as_u64().unwrap() > 0);
    burrow.send("/quit");
    assert!(burrow.wait(TIMEOUT).success());
    let mut pids: Vec<u32> = children.values().map(pid_of).collect();
    pids.push(burrow.child.id());
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived /quit");
    }
}

#[test]
fn end_of_input_quits_like_quit() {
    let scratch = Scratch::new("eof");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    let children = burrow.status();
    burrow.close_stdin();
    assert!(burrow.wait(TIMEOUT).success());
    for child in children.values() {
        assert!(!alive(pid_of(child)));
    }
}

#[test]
fn sigterm_shuts_everything_down_cleanly() {
    let scratch = Scratch::new("sigterm");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    let children = burrow.status();
    let launcher = rustix::process::Pid::from_raw(burrow.child.id() as i32).unwrap();
    rustix::process::kill_process(launcher, rustix::process::Signal::TERM).unwrap();
    assert!(burrow.wait(TIMEOUT).success());
    for child in children.values() {
        assert!(!alive(pid_of(child)), "{child} outlived SIGTERM");
    }
}

/// The launcher killed outright (no chance to clean up): the broker sees its
/// socket close, and every child has PR_SET_PDEATHSIG; nothing is left.
#[test]
fn a_killed_launcher_leaves_no_process_behind() {
    let scratch = Scratch::new("launcher-killed");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    burrow.send("/unlock a passphrase");
    burrow.expect_event("unlocked", TIMEOUT);
    let children = burrow.status();
    let launcher = rustix::process::Pid::from_raw(burrow.child.id() as i32).unwrap();
    rustix::process::kill_process(launcher, rustix::process::Signal::KILL).unwrap();
    let _ = burrow.wait(TIMEOUT);
    let deadline = std::time::Instant::now() + TIMEOUT;
    for (name, child) in &children {
        // Not our children: gone from /proc once their parent reaps them.
        while alive(pid_of(child)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(pid_of(child)), "the {name} outlived its launcher: {child}");
    }
}

#[test]
fn commands_need_an_unlocked_store_or_a_known_account() {
    let scratch = Scratch::new("unsupported");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    for command in ["/import pidgin", "/passphrase new one"] {
        burrow.send(command);
        let error = burrow.expect_event("error", TIMEOUT);
        assert_eq!(error["code"], "locked", "{command}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    // OTR commands are there, and name an account the store must know.
    for command in [
        "/otr start a@example.org b@example.org", "/fingerprint a@example.org", "/trust a@example.org b@example.org ABCD",
        "/smp a@example.org b@example.org s", "/smp-answer a@example.org b@example.org s", "/policy a@example.org require",
    ] {
        burrow.send(command);
        assert_eq!(burrow.expect_event("error", TIMEOUT)["code"], "unknown-account", "{command}");
    }
    burrow.send("/frobnicate");
    assert_eq!(burrow.expect_event("error", TIMEOUT)["code"], "bad-command");
}

#[test]
fn account_commands_need_an_unlocked_store_and_a_known_account() {
    let scratch = Scratch::new("account-commands");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    burrow.send("/account add a@example.org pw");
    assert_eq!(burrow.expect_event("error", TIMEOUT)["code"], "locked");
    burrow.send("/unlock pass");
    burrow.expect_event("unlocked", TIMEOUT);
    for command in ["/connect a@example.org", "/roster a@example.org", "/msg a@example.org b@example.org hi"] {
        burrow.send(command);
        let error = burrow.expect_event("error", TIMEOUT);
        assert_eq!(error["code"], "unknown-account", "{command}");
        assert_eq!(error["account"], "a@example.org");
    }
    // A ca= file must hold certificates only: the launcher will not pass on anything else.
    let not_a_certificate = scratch.path().join("id_ed25519");
    std::fs::write(&not_a_certificate, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n").unwrap();
    burrow.send(&format!("/account add a@example.org pw ca={}", not_a_certificate.display()));
    let refused = burrow.expect_event("error", TIMEOUT);
    assert_eq!(refused["code"], "bad-file");
    assert!(!refused["message"].as_str().unwrap().contains("b3BlbnNzaC1rZXkt"));
    burrow.send("/account add a@example.org pw server=127.0.0.1:5222");
    assert_eq!(burrow.expect_event("account", TIMEOUT)["state"], "offline");
    burrow.send("/account add A@Example.org other");
    assert_eq!(burrow.expect_event("error", TIMEOUT)["code"], "account-exists");
    // A server elsewhere goes through Tor only; with no system Tor running, tor=system is refused
    // in plain words, saying where Tor was looked for, and nothing is dialled directly
    // (tests/tor_system.rs has more). (tor=auto would start embedded Tor, which would reach for
    // the real Tor network: tests/tor_embedded.rs points it at the private one.)
    burrow.send("/account add b@example.org pw tor=system");
    burrow.expect_event("account", TIMEOUT);
    burrow.send("/connect b@example.org");
    let refused = burrow.expect("the refusal", TIMEOUT, |event| event["event"] == "error" && event["account"] == "b@example.org");
    assert_eq!(refused["code"], "connect");
    assert!(refused["message"].as_str().unwrap().contains("No Tor was found (nothing answers at 127.0.0.1:9050 or 127.0.0.1:9150)"), "{refused}");
}

#[test]
fn a_missing_child_binary_is_a_clear_error() {
    let scratch = Scratch::new("missing");
    std::fs::copy(binary("burrow"), scratch.path().join("burrow")).unwrap();
    let output = run_to_end(&scratch.path().join("burrow"), &scratch.path().join("profile"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot find burrow-") && stderr.contains("Reinstall"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing may reach stdout: {:?}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn a_child_binary_that_cannot_start_is_a_clear_error() {
    let scratch = Scratch::new("broken");
    let broken = scratch.path().join("broken-net");
    std::fs::write(&broken, "#!/bin/sh\necho 'pretending to be burrow-net' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let install = scratch.path().join("bin");
    std::fs::create_dir(&install).unwrap();
    install_with(&install, Some(("burrow-net", &broken)));
    let output = run_to_end(&install.join("burrow"), &scratch.path().join("profile"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("network process (burrow-net) failed to start"), "{stderr}");
    assert!(stderr.contains("exited with status 3"), "{stderr}");
}

#[test]
fn a_crashed_child_is_restarted_and_the_others_carry_on() {
    let scratch = Scratch::new("crash");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    burrow.send("/unlock first passphrase");
    burrow.expect_event("unlocked", TIMEOUT);
    let before = burrow.status();
    let crypto = rustix::process::Pid::from_raw(pid_of(&before["crypto"]) as i32).unwrap();
    rustix::process::kill_process(crypto, rustix::process::Signal::KILL).unwrap();
    let restarted = burrow.expect(
        "the restarted crypto process",
        TIMEOUT,
        |event| event["event"] == "child" && event["name"] == "crypto",
    );
    assert_eq!(restarted["restarts"], 1);
    assert_ne!(pid_of(&restarted), pid_of(&before["crypto"]));
    assert_eq!(restarted["seccomp"], true);
    // A new crypto process starts locked.
    burrow.expect("the locked notice", TIMEOUT, |event| event["event"] == "error" && event["code"] == "locked");
    burrow.send("/unlock first passphrase");
    burrow.expect_event("unlocked", TIMEOUT);
    let after = burrow.status();
    for name in ["broker", "net", "ui"] {
        assert_eq!(pid_of(&after[name]), pid_of(&before[name]), "{name} was disturbed");
    }
    burrow.send("/ping 10");
    burrow.expect_event("ping", TIMEOUT);
}

#[test]
fn a_restarted_front_end_is_told_the_open_store_and_its_accounts() {
    let scratch = Scratch::new("ui-crash");
    let mut burrow = Burrow::start(&binary("burrow"), scratch.path());
    burrow.send("/unlock first passphrase");
    burrow.expect_event("unlocked", TIMEOUT);
    burrow.send("/account add someone@example.org a-password server=127.0.0.1:9");
    burrow.expect("the account", TIMEOUT, |event| event["event"] == "account" && event["account"] == "someone@example.org");
    let before = burrow.status();
    let ui = rustix::process::Pid::from_raw(pid_of(&before["ui"]) as i32).unwrap();
    rustix::process::kill_process(ui, rustix::process::Signal::KILL).unwrap();
    // The new front end has never seen an unlock: crypto, still open, tells it.
    let unlocked = burrow.expect_event("unlocked", TIMEOUT);
    assert_eq!(unlocked["accounts"], serde_json::json!(["someone@example.org"]));
    let after = burrow.status();
    assert_ne!(pid_of(&after["ui"]), pid_of(&before["ui"]));
    for name in ["broker", "net", "crypto"] {
        assert_eq!(pid_of(&after[name]), pid_of(&before[name]), "{name} was disturbed");
    }
    // The store is still open: no second unlock is needed, or taken.
    burrow.send("/unlock first passphrase");
    assert_eq!(burrow.expect_event("error", TIMEOUT)["code"], "already-unlocked");
}

#[test]
fn ctrl_c_at_the_terminal_shuts_down_cleanly() {
    use std::os::unix::process::CommandExt;
    let scratch = Scratch::new("ctrl-c");
    // A process group of its own, as a shell gives a foreground job.
    let mut burrow = std::process::Command::new(binary("burrow"))
        .args(["--ui", "text", "--json", "--profile"])
        .arg(scratch.path())
        .process_group(0)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(burrow.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(line.contains("\"ready\""), "{line}");
    let group = rustix::process::Pid::from_raw(burrow.id() as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    let status = wait_for_exit(&mut burrow, TIMEOUT);
    assert!(status.success(), "{status:?}");
}
