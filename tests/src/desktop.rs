//! A desktop for the GTK front end's tests: an Xvfb display and a D-Bus
//! session bus (which starts the accessibility bus on demand), both killed
//! with the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::servers::spawn_supervised;

const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    /// The first free display from :60 on; `-nolisten tcp`, so only the
    /// Unix socket exists.
    pub fn start() -> Xvfb {
        for number in 60..120 {
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
            if (socket.exists() || lock.exists()) && !abandoned(&lock) {
                continue;
            }
            let display = format!(":{number}");
            let mut child = spawn_supervised("Xvfb", &[&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], |command| {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            })
            .expect("start Xvfb (test.sh installs the xvfb package)");
            let begun = Instant::now();
            while begun.elapsed() < START_TIMEOUT {
                if socket.exists() {
                    return Xvfb { child, display };
                }
                // Another display server took the number first.
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no free X display between :60 and :119 for Xvfb");
    }
}

/// A display whose server is gone: a test killed before its `Drop` leaves
/// its lock and socket behind. Xvfb itself replaces a lock whose process is
/// dead, so such a number is free.
fn abandoned(lock: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(lock) else { return false };
    match text.trim().parse::<u32>() {
        Ok(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

impl Drop for Xvfb {
    /// SIGTERM first: a killed Xvfb leaves its /tmp/.X*-lock behind, and
    /// after sixty such runs no display number is left.
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A session bus on a pathname socket: the UI's network namespace has
/// abstract sockets of its own, so an abstract bus address would not reach.
pub struct SessionBus {
    child: Child,
    pub address: String,
}

impl SessionBus {
    pub fn start(runtime_dir: &Path) -> SessionBus {
        let socket = runtime_dir.join("bus");
        let address = format!("unix:path={}", socket.display());
        let runtime = runtime_dir.display().to_string();
        let child = spawn_supervised("dbus-daemon", &["--session", "--nofork", &format!("--address={address}")], |command| {
            command.env("XDG_RUNTIME_DIR", &runtime).stdout(Stdio::null()).stderr(Stdio::null());
        })
        .expect("start dbus-daemon (test.sh installs dbus)");
        let begun = Instant::now();
        while !socket.exists() {
            assert!(begun.elapsed() < START_TIMEOUT, "the session bus did not come up at {}", socket.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        SessionBus { child, address }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `Exec=` line of a desktop entry, split into words (Burrow's has no
/// field codes or quoting).
pub fn desktop_exec(entry: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(entry).unwrap_or_else(|error| panic!("read {}: {error}", entry.display()));
    let line = text.lines().find_map(|line| line.strip_prefix("Exec=")).unwrap_or_else(|| panic!("{} has no Exec= line", entry.display()));
    line.split_whitespace().map(str::to_owned).collect()
}

/// The pid of the process whose command line starts with `program` and
/// holds `argument`.
pub fn find_process(program: &str, argument: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let words: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
        let first = String::from_utf8_lossy(words.first()?);
        let holds = words.contains(&argument.as_bytes());
        (first.ends_with(program) && holds).then_some(pid)
    })
}

/// Burrow started as a desktop would start it, stopped in order (SIGTERM,
/// as a session logout would) if the test fails before it quits through the
/// window, so that no Burrow outlives the test.
pub struct Launched(pub Child);

impl Drop for Launched {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            if let Some(pid) = rustix::process::Pid::from_raw(self.0.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            // Not wait_for_exit: it panics, and this may run while unwinding.
            let deadline = Instant::now() + Duration::from_secs(30);
            while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Ctrl+Q typed into the Burrow window on `display`; every process must end
/// cleanly.
pub fn quit_through_the_window(display: &str, mut burrow: Launched) {
    let window = std::process::Command::new("xdotool").args(["search", "--onlyvisible", "--name", "^Burrow$"]).env("DISPLAY", display).output().expect("xdotool");
    let window = String::from_utf8_lossy(&window.stdout).split_whitespace().last().expect("the Burrow window").to_owned();
    for keys in [&["windowfocus", "--sync", window.as_str()][..], &["key", "ctrl+q"]] {
        let done = std::process::Command::new("xdotool").args(keys).env("DISPLAY", display).status().expect("xdotool");
        assert!(done.success(), "xdotool {keys:?}");
    }
    let status = crate::wait_for_exit(&mut burrow.0, Duration::from_secs(30));
    assert!(status.success(), "burrow ended with {status:?}");
}

/// A file of the source tree.
pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// `$BURROW_GTK_ARTIFACTS/NAME`, or `target/<profile>/gtk-artifacts/NAME`,
/// emptied: where a test's screenshots go.
pub fn artifacts_dir(name: &str) -> PathBuf {
    let dir = std::env::var_os("BURROW_GTK_ARTIFACTS")
        .map(|dir| PathBuf::from(dir).join(name))
        .unwrap_or_else(|| crate::binaries_dir().join("gtk-artifacts").join(name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// One profile's desktop: Xvfb, a session bus, a fresh HOME and config
/// directory under `scratch`, the desktop entry's `Exec` line, and the
/// screenshots' directory.
pub struct Desktop {
    pub xvfb: Xvfb,
    _bus: SessionBus,
    bus_address: String,
    runtime: String,
    pub home: PathBuf,
    pub config: PathBuf,
    pub artifacts: PathBuf,
    pub exec: Vec<String>,
    path: String,
}

impl Desktop {
    pub fn start(scratch: &Path, artifacts: &str) -> Desktop {
        let runtime = scratch.join("runtime");
        let home = scratch.join("home");
        let config = scratch.join("config");
        for dir in [&runtime, &home, &config] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let artifacts = artifacts_dir(artifacts);
        let xvfb = Xvfb::start();
        let bus = SessionBus::start(&runtime);
        let bus_address = bus.address.clone();
        // What a desktop's launcher runs, found on PATH as an installed
        // burrow would be.
        let exec = desktop_exec(&repo_file("data/im.burrow.Burrow.desktop"));
        let path = format!("{}:{}", crate::binaries_dir().display(), std::env::var("PATH").unwrap_or_default());
        Desktop { xvfb, _bus: bus, bus_address, runtime: runtime.to_str().unwrap().to_owned(), home, config, artifacts, exec, path }
    }

    /// The whole environment Burrow and the drivers get, and nothing else.
    pub fn environment(&self) -> Vec<(&str, &str)> {
        vec![
            ("PATH", self.path.as_str()),
            ("DISPLAY", self.xvfb.display.as_str()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address.as_str()),
            ("XDG_RUNTIME_DIR", self.runtime.as_str()),
            ("HOME", self.home.to_str().unwrap()),
            ("XDG_CONFIG_HOME", self.config.to_str().unwrap()),
            ("LANG", "C.UTF-8"),
            // Accounts connect without the random gap (net-sandbox/src/spacing.rs).
            ("BURROW_ACCOUNT_SPACING", "0-0"),
        ]
    }

    /// Burrow started from the desktop entry's `Exec` line.
    pub fn launch(&self) -> Launched {
        Launched(
            std::process::Command::new(&self.exec[0])
                .args(&self.exec[1..])
                .env_clear()
                .envs(self.environment())
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start burrow from the desktop entry's Exec line"),
        )
    }

    /// Runs `tests/gtk/SCRIPT` (Debian's python3 with pyatspi, xdotool,
    /// ImageMagick) with `arguments`; it must end well and say "ok". Returns
    /// what it printed.
    pub fn drive(&self, script: &str, arguments: &[&std::ffi::OsStr]) -> String {
        let driver = std::process::Command::new("/usr/bin/python3")
            .arg(repo_file(&format!("tests/gtk/{script}")))
            .args(arguments)
            .env_clear()
            .envs(self.environment())
            // No __pycache__ left in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("run tests/gtk/{script}: {error}"));
        let said = String::from_utf8_lossy(&driver.stdout).into_owned();
        eprintln!("{said}{}", String::from_utf8_lossy(&driver.stderr));
        assert!(driver.status.success(), "{script} failed: {}", String::from_utf8_lossy(&driver.stderr));
        assert!(said.lines().any(|line| line == "ok"), "{said}");
        said
    }

    /// A screenshot, not empty, of each step.
    pub fn assert_screenshots(&self, steps: &[&str]) {
        for step in steps {
            let shot = std::fs::read_dir(&self.artifacts)
                .unwrap()
                .flatten()
                .find(|entry| entry.file_name().to_string_lossy().ends_with(&format!("-{step}.png")))
                .unwrap_or_else(|| panic!("no screenshot of {step} in {}", self.artifacts.display()));
            assert!(shot.metadata().unwrap().len() > 1000, "the screenshot {} is empty", shot.path().display());
        }
    }
}
