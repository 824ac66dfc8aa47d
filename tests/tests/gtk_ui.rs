//! The GTK front end under Xvfb against a real Prosody, driven as a person
//! would (tests/gtk/first_run.py: keys through XTest with xdotool, buttons
//! and the screen through the accessibility bus, AT-SPI): Burrow started from
//! its desktop entry's Exec line, first run, a passphrase, an account added,
//! the account online, a message to a text-mode Burrow, OTR private, the
//! peer's reply shown as plain text, SMP verified; then Burrow started again
//! on the same profile, a wrong passphrase refused, the right one unlocking. A screenshot of every step is kept in
//! `$BURROW_GTK_ARTIFACTS`, or `target/<profile>/gtk-artifacts/first-run`.
//! The same run shows that the confined UI stays visible to screen readers
//! and that it has no network: it sits in a network namespace of its own,
//! under seccomp, and its policy refuses a TCP connection.

use std::ffi::OsStr;

use burrow_tests::desktop::{find_process, quit_through_the_window, repo_file, Desktop};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{binary, proc_status_field, self_test, Outcome, Scratch, EPERM};

#[test]
fn first_run_to_a_verified_private_conversation_from_the_desktop_entry() {
    let prosody = Prosody::shared();
    let (jid, password) = prosody.create_account("gtk");
    let (peer_jid, peer_password) = prosody.create_account("gtkpeer");
    let scratch = Scratch::new("gtk-first-run");
    let desktop = Desktop::start(scratch.path(), "first-run");
    // The desktop entry starts burrow with no option; the display decides
    // that the GTK front end starts.
    assert_eq!(desktop.exec, ["burrow"], "the desktop entry starts burrow with no option");
    let burrow = desktop.launch();
    let server = format!("127.0.0.1:{}", prosody.starttls_port());
    let (peer_profile, peer_binary) = (scratch.path().join("peer-profile"), binary("burrow"));
    let arguments: [&OsStr; 10] = [
        desktop.artifacts.as_os_str(),
        "correct horse battery staple".as_ref(),
        jid.as_ref(),
        password.as_ref(),
        server.as_ref(),
        prosody.ca_pem_path().as_os_str(),
        peer_jid.as_ref(),
        peer_password.as_ref(),
        peer_profile.as_os_str(),
        peer_binary.as_os_str(),
    ];
    desktop.drive("first_run.py", &arguments);
    let profile = desktop.config.join("burrow");
    assert!(profile.join("crypto").join("store").is_file(), "the first run made no store");
    desktop.assert_screenshots(&["first-run", "passphrase-typed", "add-account", "account-filled", "account-added", "online", "conversation-opened", "private", "reply", "smp-question", "verified", "subscription-request", "subscription-approved"]);

    // The UI that drew all this, as the launcher started it, has no network.
    let ui = find_process("burrow-ui", "--gtk").expect("the running burrow-ui --gtk");
    let namespace = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("read a network namespace");
    assert_ne!(namespace(&ui.to_string()), namespace("self"), "the UI shares the test's network namespace");
    assert_eq!(proc_status_field(ui, "Seccomp:").as_deref(), Some("2"));
    assert_eq!(proc_status_field(ui, "NoNewPrivs:").as_deref(), Some("1"));
    // Not one TCP socket exists in its namespace, listening or connected:
    // the files list the header line only.
    for table in ["tcp", "tcp6"] {
        let sockets = std::fs::read_to_string(format!("/proc/{ui}/net/{table}")).expect("read the UI's TCP table");
        assert!(sockets.lines().count() <= 1, "the UI's network namespace has TCP sockets:\n{sockets}");
    }
    assert_eq!(self_test(&binary("burrow-ui"), &[], &profile, &["--gtk"], "tcp-connect", Some(&server)), Outcome::Errno(EPERM));

    // Ctrl+Q, typed into the window, ends every process cleanly.
    quit_through_the_window(&desktop.xvfb.display, burrow);

    // Started again on the same profile: the unlock page; then an import
    // from Pidgin's files and a new passphrase, through their windows.
    let drive = |script: &str, shots_from: &str, arguments: &[&str]| {
        let mut all: Vec<&OsStr> = vec![desktop.artifacts.as_os_str(), shots_from.as_ref()];
        all.extend(arguments.iter().map(|argument| OsStr::new(*argument)));
        desktop.drive(script, &all);
    };
    let unlock = |shots_from: &str, arguments: &[&str], keyboard_audit: bool| {
        let burrow = desktop.launch();
        drive("unlock.py", shots_from, arguments);
        if keyboard_audit {
            drive("keyboard.py", "300", &[&peer_jid]);
        }
        quit_through_the_window(&desktop.xvfb.display, burrow);
    };
    let pidgin = repo_file("crypto-sandbox/tests/fixtures/import/pidgin").canonicalize().expect("the Pidgin fixtures");
    unlock("100", &["correct horse battery staple", &jid, pidgin.to_str().unwrap(), "a new passphrase, longer"], false);
    // Only the new passphrase opens the store now; then every control is
    // tried from the keyboard alone.
    unlock("200", &["a new passphrase, longer", &jid], true);
    desktop.assert_screenshots(&["unlock", "wrong-passphrase", "unlocked", "disconnected", "import-chosen", "imported", "passphrase-change", "passphrase-changed", "keyboard-main", "keyboard-import-open", "keyboard-conversation"]);
    eprintln!("screenshots: {}", desktop.artifacts.display());
}
