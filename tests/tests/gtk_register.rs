//! "Create a new account" in the GTK window under Xvfb against a real
//! Prosody that allows registration and asks for a full name
//! (tests/gtk/register.py drives it as a person would: keys through XTest,
//! buttons and the screen through AT-SPI): first run, the add-account form's
//! "Create a new account instead…", another server typed, the server's form
//! answered, the new account with its random name online. A screenshot of
//! every step goes to `$BURROW_GTK_ARTIFACTS`, or
//! `target/<profile>/gtk-artifacts/register`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use burrow_tests::desktop::{desktop_exec, SessionBus, Xvfb};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{binaries_dir, wait_for_exit, Scratch};

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// The launcher, stopped with SIGTERM if the test fails before it quits.
struct Launched(std::process::Child);

impl Drop for Launched {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            if let Some(pid) = rustix::process::Pid::from_raw(self.0.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
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
fn a_new_account_is_created_from_the_window_with_the_server_s_form() {
    let prosody = Prosody::start_with_registration(&["name+"]);
    let scratch = Scratch::new("gtk-register");
    let runtime = scratch.path().join("runtime");
    let home = scratch.path().join("home");
    let config = scratch.path().join("config");
    for dir in [&runtime, &home, &config] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let artifacts = std::env::var_os("BURROW_GTK_ARTIFACTS").map(|dir| PathBuf::from(dir).join("register")).unwrap_or_else(|| binaries_dir().join("gtk-artifacts").join("register"));
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
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
        ("BURROW_ACCOUNT_SPACING", "0-0"),
    ];
    let mut burrow = Launched(
        Command::new(&exec[0]).args(&exec[1..]).env_clear().envs(environment).stdin(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("start burrow"),
    );
    let driver = Command::new("/usr/bin/python3")
        .arg(repo_file("tests/gtk/register.py"))
        .arg(&artifacts)
        .args(["correct horse battery staple", prosody.domain()])
        .arg(format!("127.0.0.1:{}", prosody.starttls_port()))
        .arg(prosody.ca_pem_path())
        .arg("Ann Example")
        .env_clear()
        .envs(environment)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run tests/gtk/register.py (python3-pyatspi, xdotool, imagemagick)");
    let said = String::from_utf8_lossy(&driver.stdout);
    eprintln!("{said}{}", String::from_utf8_lossy(&driver.stderr));
    assert!(driver.status.success(), "the GUI run failed: {}", String::from_utf8_lossy(&driver.stderr));
    assert!(said.lines().any(|line| line == "ok"), "{said}");
    let account = said.lines().find_map(|line| line.strip_prefix("account: ")).expect("the new account's address");
    let user = account.split('@').next().unwrap();
    // The server holds the account and the answer typed into its form.
    let details = prosody.dir().join("data").join("prosody%2etest").join("account_details").join(format!("{user}.dat"));
    let details = std::fs::read_to_string(&details).unwrap_or_else(|error| panic!("{}: {error}", details.display()));
    assert!(details.contains("Ann Example"), "{details}");
    for step in ["add-account", "create-account", "server-chosen", "server-form", "registered-online"] {
        let shot = std::fs::read_dir(&artifacts)
            .unwrap()
            .flatten()
            .find(|entry| entry.file_name().to_string_lossy().ends_with(&format!("-{step}.png")))
            .unwrap_or_else(|| panic!("no screenshot of {step} in {}", artifacts.display()));
        assert!(shot.metadata().unwrap().len() > 1000, "the screenshot {} is empty", shot.path().display());
    }
    // Ctrl+Q, typed into the window, ends every process cleanly.
    let found = Command::new("xdotool").args(["search", "--onlyvisible", "--name", "^Burrow$"]).env("DISPLAY", &xvfb.display).output().expect("xdotool");
    let window = String::from_utf8_lossy(&found.stdout).split_whitespace().last().expect("the Burrow window").to_owned();
    for keys in [&["windowfocus", "--sync", window.as_str()][..], &["key", "ctrl+q"]] {
        assert!(Command::new("xdotool").args(keys).env("DISPLAY", &xvfb.display).status().expect("xdotool").success(), "xdotool {keys:?}");
    }
    let status = wait_for_exit(&mut burrow.0, Duration::from_secs(30));
    assert!(status.success(), "burrow ended with {status:?}");
    eprintln!("screenshots: {}", artifacts.display());
}
