//! Helpers shared by the end-to-end tests: where the real binaries are, a
#![forbid(unsafe_code)]
//! scratch directory, and a running `burrow --ui text --json` to talk to.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod chat;
pub mod desktop;
pub mod fake_server;
pub mod leak;
pub mod otr_peer;
pub mod pki;
pub mod proxy;
pub mod servers;
pub mod system_tor;

/// target/debug (or release), where cargo put the workspace binaries.
pub fn binaries_dir() -> PathBuf {
    let test_binary = std::env::current_exe().expect("test binary path");
    let deps = test_binary.parent().expect("deps dir");
    let dir = deps.parent().expect("profile dir").to_path_buf();
    for name in ["burrow", "burrow-net", "burrow-crypto", "burrow-ui"] {
        assert!(
            dir.join(name).exists(),
            "{} is missing: build the binaries first (cargo build --workspace --bins)",
            dir.join(name).display()
        );
    }
    dir
}

pub fn binary(name: &str) -> PathBuf {
    binaries_dir().join(name)
}

/// A directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(label: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let unique = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("burrow-test-{label}-{}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("scratch dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How a self-test action ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Errno(i32),
    Signal(i32),
    /// The process failed in some other way: its stderr.
    Other(String),
}

pub const SIGSYS: i32 = 31;
pub const EACCES: i32 = 13;
pub const EPERM: i32 = 1;

/// Runs `binary` under its real policy with `--sandbox-self-test`.
pub fn self_test(program: &Path, leading: &[&str], profile: &Path, extra: &[&str], action: &str, argument: Option<&str>) -> Outcome {
    self_test_through(&[], program, leading, profile, extra, action, argument)
}

/// `program` run through `launcher` (a command and its arguments that exec
/// the program they are given, such as `nsenter --net=…`), or directly.
fn command_through(launcher: &[String], program: &Path) -> Command {
    match launcher.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// As `self_test`, run through `launcher` (such as `nsenter --net=…`).
pub fn self_test_through(launcher: &[String], program: &Path, leading: &[&str], profile: &Path, extra: &[&str], action: &str, argument: Option<&str>) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let mut command = command_through(launcher, program);
    command.args(leading).arg("--profile").arg(profile).args(extra).arg("--sandbox-self-test").arg(action);
    if let Some(argument) = argument {
        command.arg(argument);
    }
    let output = command.stdin(Stdio::null()).output().expect("run self-test");
    if let Some(signal) = output.status.signal() {
        return Outcome::Signal(signal);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.trim() {
        "ok" => Outcome::Allowed,
        line if line.starts_with("error ") => Outcome::Errno(line[6..].trim().parse().unwrap_or(-1)),
        _ => Outcome::Other(format!("{}{}", stdout, String::from_utf8_lossy(&output.stderr))),
    }
}

/// A running `burrow --ui text --json`.
pub struct Burrow {
    pub child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
}

impl Burrow {
    pub fn start(program: &Path, profile: &Path) -> Self {
        Self::start_with(program, profile, &[])
    }

    pub fn start_with(program: &Path, profile: &Path, extra: &[&str]) -> Self {
        Self::start_with_environment(program, profile, extra, &[])
    }

    /// As `start_with`, with these variables added to Burrow's environment.
    pub fn start_with_environment(program: &Path, profile: &Path, extra: &[&str], environment: &[(&str, &str)]) -> Self {
        Self::start_through(&[], program, profile, extra, environment)
    }

    /// As `start_with_environment`, run through `launcher` (a command and
    /// its arguments that exec the program they are given, such as
    /// `nsenter --net=..`): the child is then Burrow itself, its pipes the
    /// harness's own.
    pub fn start_through(launcher: &[String], program: &Path, profile: &Path, extra: &[&str], environment: &[(&str, &str)]) -> Self {
        let mut command = command_through(launcher, program);
        let mut child = command
            // Accounts of one Burrow connect without the random gap between
            // them (net-sandbox/src/spacing.rs), unless a test sets it.
            .env("BURROW_ACCOUNT_SPACING", "0-0")
            .envs(environment.iter().copied())
            .args(["--ui", "text", "--json", "--profile"])
            .arg(profile)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start burrow");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|error| panic!("stdout line is not JSON ({error}): {line}"));
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut burrow = Self { child, stdin, events, seen: Vec::new() };
        burrow.expect_event("ready", Duration::from_secs(30));
        burrow
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write command");
        stdin.flush().expect("flush");
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the next event matching `wanted`; keeps the others in `seen`.
    pub fn expect(&mut self, what: &str, timeout: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if wanted(&event) {
                        return event;
                    }
                }
                Err(_) => panic!("no {what} within {timeout:?}; events so far: {:#?}", self.seen),
            }
        }
    }

    /// The next event, kept in `seen` too; `None` after `timeout`.
    pub fn next_event(&mut self, timeout: Duration) -> Option<Value> {
        let event = self.events.recv_timeout(timeout).ok()?;
        self.seen.push(event.clone());
        Some(event)
    }

    pub fn expect_event(&mut self, name: &str, timeout: Duration) -> Value {
        self.expect(name, timeout, |event| event["event"] == name)
    }

    /// `/status`: the four `child` events, by name.
    pub fn status(&mut self) -> std::collections::HashMap<String, Value> {
        self.send("/status");
        let mut children = std::collections::HashMap::new();
        while children.len() < 4 {
            let event = self.expect_event("child", Duration::from_secs(20));
            children.insert(event["name"].as_str().expect("name").to_string(), event);
        }
        children
    }

    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        wait_for_exit(&mut self.child, timeout)
    }
}

impl Drop for Burrow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit; kills it and fails the test after `timeout`.
pub fn wait_for_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("burrow did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `burrow --ui text --json` from `program` with no input, to the end.
pub fn run_to_end(program: &Path, profile: &Path) -> std::process::Output {
    Command::new(program)
        .args(["--ui", "text", "--json", "--profile"])
        .arg(profile)
        .stdin(Stdio::null())
        .output()
        .expect("run burrow")
}

/// Whether a process with this pid is still alive (zombies count as gone).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// The `Name:` value lines of /proc/PID/status.
pub fn proc_status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix(field).map(|value| value.trim().to_string()))
}

pub fn pid_of(event: &Value) -> u32 {
    event["pid"].as_u64().expect("pid") as u32
}

/// A copy of the real binaries in a fresh directory, with `replace` (child
/// binary name) swapped for `substitute`.
pub fn install_with(dir: &Path, replace: Option<(&str, &Path)>) {
    for name in ["burrow", "burrow-net", "burrow-crypto", "burrow-ui"] {
        let source = match replace {
            Some((replaced, substitute)) if replaced == name => substitute.to_path_buf(),
            _ => binary(name),
        };
        std::fs::copy(&source, dir.join(name)).expect("copy binary");
    }
}
