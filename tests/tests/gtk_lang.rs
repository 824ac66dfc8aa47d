//! The GTK front end speaks the language of the environment, as gettext
//! would choose it: Burrow is started from its desktop entry's Exec line
//! under Xvfb on a fresh profile with LANG=es_ES.UTF-8, LANG=sv_SE.UTF-8,
//! LANG=C, and LANGUAGE=sv:es over a Spanish LANG; tests/gtk/lang.py reads the
//! first-run page over AT-SPI, as a screen reader would, and checks that its
//! controls carry the Spanish, Swedish or English names, and that a refusal
//! made while it runs is in the same language. The launcher clears the UI's
//! environment to an allow-list, so this also shows that the locale
//! variables reach the confined UI. Screenshots: `$BURROW_GTK_ARTIFACTS`, or
//! `target/<profile>/gtk-artifacts/lang`.

use std::process::{Command, Stdio};

use burrow_tests::desktop::{artifacts_dir, desktop_exec, quit_through_the_window, repo_file, Launched, SessionBus, Xvfb};
use burrow_tests::{binaries_dir, Scratch};

/// One run: its name (for the screenshots), the locale variables it sets,
/// and the language whose words the page must show.
struct Run {
    name: &'static str,
    locale: &'static [(&'static str, &'static str)],
    expected: &'static str,
}

const RUNS: [Run; 4] = [
    Run { name: "es", locale: &[("LANG", "es_ES.UTF-8")], expected: "es" },
    Run { name: "sv", locale: &[("LANG", "sv_SE.UTF-8")], expected: "sv" },
    Run { name: "c", locale: &[("LANG", "C")], expected: "en" },
    Run { name: "language-list", locale: &[("LANG", "es_ES.UTF-8"), ("LANGUAGE", "sv:es")], expected: "sv" },
];

#[test]
fn the_first_run_page_follows_lang_in_spanish_swedish_and_english() {
    let scratch = Scratch::new("gtk-lang");
    let runtime = scratch.path().join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let artifacts = artifacts_dir("lang");
    let xvfb = Xvfb::start();
    let bus = SessionBus::start(&runtime);
    let exec = desktop_exec(&repo_file("data/im.burrow.Burrow.desktop"));
    let path = format!("{}:{}", binaries_dir().display(), std::env::var("PATH").unwrap_or_default());

    for (index, run) in RUNS.iter().enumerate() {
        // A fresh profile each time: the first-run page.
        let home = scratch.path().join(run.name).join("home");
        let config = scratch.path().join(run.name).join("config");
        for dir in [&home, &config] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let mut environment = vec![
            ("PATH", path.as_str()),
            ("DISPLAY", xvfb.display.as_str()),
            ("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str()),
            ("XDG_RUNTIME_DIR", runtime.to_str().unwrap()),
            ("HOME", home.to_str().unwrap()),
            ("XDG_CONFIG_HOME", config.to_str().unwrap()),
        ];
        environment.extend_from_slice(run.locale);
        let burrow = Launched(
            Command::new(&exec[0])
                .args(&exec[1..])
                .env_clear()
                .envs(environment.iter().copied())
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start burrow from the desktop entry's Exec line"),
        );
        // The driver reads the screen in the test's own locale: what it
        // checks is what Burrow drew, not how Python decodes it.
        let driver = Command::new("/usr/bin/python3")
            .arg(repo_file("tests/gtk/lang.py"))
            .arg(&artifacts)
            .args([run.expected, run.name, &(index * 10).to_string()])
            .env_clear()
            .envs(environment.iter().filter(|(name, _)| !name.starts_with("LANG")).copied())
            .env("LANG", "C.UTF-8")
            // No __pycache__ left in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run tests/gtk/lang.py (python3-pyatspi, xdotool, imagemagick)");
        let said = String::from_utf8_lossy(&driver.stdout);
        eprintln!("{}: {said}{}", run.name, String::from_utf8_lossy(&driver.stderr));
        assert!(driver.status.success(), "the {} run failed: {}", run.name, String::from_utf8_lossy(&driver.stderr));
        assert!(said.lines().any(|line| line == "ok"), "{said}");
        quit_through_the_window(&xvfb.display, burrow);
        for step in ["first-run", "passphrases-differ"] {
            let wanted = format!("-{}-{step}.png", run.name);
            let shot = std::fs::read_dir(&artifacts)
                .unwrap()
                .flatten()
                .find(|entry| entry.file_name().to_string_lossy().ends_with(&wanted))
                .unwrap_or_else(|| panic!("no screenshot *{wanted} in {}", artifacts.display()));
            assert!(shot.metadata().unwrap().len() > 1000, "the screenshot {} is empty", shot.path().display());
        }
    }
    eprintln!("screenshots: {}", artifacts.display());
}
