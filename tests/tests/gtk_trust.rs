//! Trust in a contact's key, in the GTK front end under Xvfb against a real
//! Prosody, driven as a person would (tests/gtk/trust.py, with the helpers
//! of tests/gtk/window.py): the contact's key verified by comparing it by
//! hand; the contact back from a fresh profile with a new key, and the
//! warning window naming them with both keys, the rating not "verified";
//! the new key compared from the window, "Private and verified" again; the
//! contact's policy set to "never", and a message leaving unencrypted. A
//! screenshot of every step is kept in `$BURROW_GTK_ARTIFACTS`, or
//! `target/<profile>/gtk-artifacts/trust`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use burrow_tests::desktop::{desktop_exec, SessionBus, Xvfb};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{binaries_dir, binary, wait_for_exit, Scratch};

fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("BURROW_GTK_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| binaries_dir().join("gtk-artifacts").join("trust"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// The launcher, stopped with SIGTERM if the test fails before it quits
/// through the window, so that no Burrow outlives the test.
struct Launched(std::process::Child);

impl Drop for Launched {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            if let Some(pid) = rustix::process::Pid::from_raw(self.0.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            // Not wait_for_exit: it panics, and this may run while unwinding.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while self.0.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn a_changed_key_is_warned_about_and_verified_again_from_the_window() {
    let prosody = Prosody::shared();
    let (jid, password) = prosody.create_account("gtktrust");
    let (peer_jid, peer_password) = prosody.create_account("gtktrustpeer");
    let scratch = Scratch::new("gtk-trust");
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

    let exec = desktop_exec(&repo_file("data/im.burrow.Burrow.desktop"));
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
    let mut burrow = Launched(
        Command::new(&exec[0])
            .args(&exec[1..])
            .env_clear()
            .envs(environment)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start burrow from the desktop entry's Exec line"),
    );

    let driver = Command::new("/usr/bin/python3")
        .arg(repo_file("tests/gtk/trust.py"))
        .arg(&artifacts)
        .args(["correct horse battery staple", &jid, &password])
        .arg(format!("127.0.0.1:{}", prosody.starttls_port()))
        .arg(prosody.ca_pem_path())
        .args([&peer_jid, &peer_password])
        .arg(scratch.path().join("peer-profile"))
        .arg(scratch.path().join("peer-profile-reinstalled"))
        .arg(binary("burrow"))
        .env_clear()
        .envs(environment)
        // No __pycache__ left in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run tests/gtk/trust.py (python3-pyatspi, xdotool, imagemagick)");
    let said = String::from_utf8_lossy(&driver.stdout);
    eprintln!("{said}{}", String::from_utf8_lossy(&driver.stderr));
    assert!(driver.status.success(), "the GUI run failed: {}", String::from_utf8_lossy(&driver.stderr));
    assert!(said.lines().any(|line| line == "ok"), "{said}");
    for step in ["online", "private", "compare-keys", "verified-by-hand", "key-changed-warning", "compare-new-key", "new-key-verified", "policy-never", "sent-unencrypted"] {
        let shot = std::fs::read_dir(&artifacts)
            .unwrap()
            .flatten()
            .find(|entry| entry.file_name().to_string_lossy().ends_with(&format!("-{step}.png")))
            .unwrap_or_else(|| panic!("no screenshot of {step} in {}", artifacts.display()));
        assert!(shot.metadata().unwrap().len() > 1000, "the screenshot {} is empty", shot.path().display());
    }

    // Ctrl+Q, typed into the window, ends every process cleanly.
    let window = Command::new("xdotool").args(["search", "--onlyvisible", "--name", "^Burrow$"]).env("DISPLAY", &xvfb.display).output().expect("xdotool");
    let window = String::from_utf8_lossy(&window.stdout).split_whitespace().last().expect("the Burrow window").to_owned();
    for keys in [&["windowfocus", "--sync", window.as_str()][..], &["key", "ctrl+q"]] {
        let done = Command::new("xdotool").args(keys).env("DISPLAY", &xvfb.display).status().expect("xdotool");
        assert!(done.success(), "xdotool {keys:?}");
    }
    let status = wait_for_exit(&mut burrow.0, Duration::from_secs(30));
    assert!(status.success(), "burrow ended with {status:?}");
    eprintln!("screenshots: {}", artifacts.display());
}
