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

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use burrow_tests::desktop::{desktop_exec, find_process, quit_through_the_window, Launched, SessionBus, Xvfb};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{binaries_dir, binary, proc_status_field, self_test, Outcome, Scratch, EPERM};

fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("BURROW_GTK_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| binaries_dir().join("gtk-artifacts").join("first-run"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

#[test]
fn first_run_to_a_verified_private_conversation_from_the_desktop_entry() {
    let prosody = Prosody::shared();
    let (jid, password) = prosody.create_account("gtk");
    let (peer_jid, peer_password) = prosody.create_account("gtkpeer");
    let scratch = Scratch::new("gtk-first-run");
    let runtime = scratch.path().join("runtime");
    let home = scratch.path().join("home");
    let config = scratch.path().join("config");
    for dir in [&runtime, &home, &config] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let artifacts = artifacts_dir();
    let xvfb = Xvfb::start();
    let bus = SessionBus::start(&runtime);

    // What a desktop's launcher runs, found on PATH as an installed burrow
    // would be; the display decides that the GTK front end starts.
    let exec = desktop_exec(&repo_file("data/im.burrow.Burrow.desktop"));
    assert_eq!(exec, ["burrow"], "the desktop entry starts burrow with no option");
    let path = format!("{}:{}", binaries_dir().display(), std::env::var("PATH").unwrap_or_default());
    let environment = [
        ("PATH", path.as_str()),
        ("DISPLAY", xvfb.display.as_str()),
        ("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str()),
        ("XDG_RUNTIME_DIR", runtime.to_str().unwrap()),
        ("HOME", home.to_str().unwrap()),
        ("XDG_CONFIG_HOME", config.to_str().unwrap()),
        ("LANG", "C.UTF-8"),
        // Accounts connect without the random gap (net-sandbox/src/spacing.rs).
        ("BURROW_ACCOUNT_SPACING", "0-0"),
    ];
    let launch = || {
        Launched(
            Command::new(&exec[0])
                .args(&exec[1..])
                .env_clear()
                .envs(environment)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start burrow from the desktop entry's Exec line"),
        )
    };
    let burrow = launch();

    let driver = Command::new("/usr/bin/python3")
        .arg(repo_file("tests/gtk/first_run.py"))
        .arg(&artifacts)
        .args(["correct horse battery staple", &jid, &password])
        .arg(format!("127.0.0.1:{}", prosody.starttls_port()))
        .arg(prosody.ca_pem_path())
        .args([&peer_jid, &peer_password])
        .arg(scratch.path().join("peer-profile"))
        .arg(binary("burrow"))
        .env_clear()
        .envs(environment)
        // No __pycache__ left in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run tests/gtk/first_run.py (python3-pyatspi, xdotool, imagemagick)");
    let said = String::from_utf8_lossy(&driver.stdout);
    eprintln!("{said}{}", String::from_utf8_lossy(&driver.stderr));

    assert!(driver.status.success(), "the GUI run failed: {}", String::from_utf8_lossy(&driver.stderr));
    assert!(said.lines().any(|line| line == "ok"), "{said}");
    let profile = config.join("burrow");
    assert!(profile.join("crypto").join("store").is_file(), "the first run made no store");
    for step in ["first-run", "passphrase-typed", "add-account", "account-filled", "account-added", "online", "conversation-opened", "private", "reply", "smp-question", "verified"] {
        let shot = std::fs::read_dir(&artifacts)
            .unwrap()
            .flatten()
            .find(|entry| entry.file_name().to_string_lossy().ends_with(&format!("-{step}.png")))
            .unwrap_or_else(|| panic!("no screenshot of {step} in {}", artifacts.display()));
        assert!(shot.metadata().unwrap().len() > 1000, "the screenshot {} is empty", shot.path().display());
    }

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
    let server = format!("127.0.0.1:{}", prosody.starttls_port());
    assert_eq!(self_test(&binary("burrow-ui"), &[], &profile, &["--gtk"], "tcp-connect", Some(&server)), Outcome::Errno(EPERM));

    // Ctrl+Q, typed into the window, ends every process cleanly.
    quit_through_the_window(&xvfb.display, burrow);

    // Started again on the same profile: the unlock page; then an import
    // from Pidgin's files and a new passphrase, through their windows.
    let drive = |script: &str, shots_from: &str, arguments: &[&str]| {
        let driver = Command::new("/usr/bin/python3")
            .arg(repo_file(&format!("tests/gtk/{script}")))
            .arg(&artifacts)
            .arg(shots_from)
            .args(arguments)
            .env_clear()
            .envs(environment)
            // No __pycache__ left in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("run tests/gtk/{script}: {error}"));
        let said = String::from_utf8_lossy(&driver.stdout);
        eprintln!("{said}{}", String::from_utf8_lossy(&driver.stderr));
        assert!(driver.status.success(), "{script} failed: {}", String::from_utf8_lossy(&driver.stderr));
        assert!(said.lines().any(|line| line == "ok"), "{said}");
    };
    let unlock = |shots_from: &str, arguments: &[&str], keyboard_audit: bool| {
        let burrow = launch();
        drive("unlock.py", shots_from, arguments);
        if keyboard_audit {
            drive("keyboard.py", "300", &[&peer_jid]);
        }
        quit_through_the_window(&xvfb.display, burrow);
    };
    let pidgin = repo_file("crypto-sandbox/tests/fixtures/import/pidgin").canonicalize().expect("the Pidgin fixtures");
    unlock("100", &["correct horse battery staple", &jid, pidgin.to_str().unwrap(), "a new passphrase, longer"], false);
    // Only the new passphrase opens the store now; then every control is
    // tried from the keyboard alone.
    unlock("200", &["a new passphrase, longer", &jid], true);
    for step in ["subscription-request", "subscription-approved", "unlock", "wrong-passphrase", "unlocked", "disconnected", "import-chosen", "imported", "passphrase-change", "passphrase-changed", "keyboard-main", "keyboard-import-open", "keyboard-conversation"] {
        assert!(
            std::fs::read_dir(&artifacts).unwrap().flatten().any(|entry| entry.file_name().to_string_lossy().ends_with(&format!("-{step}.png"))),
            "no screenshot of {step} in {}",
            artifacts.display()
        );
    }
    eprintln!("screenshots: {}", artifacts.display());
}
