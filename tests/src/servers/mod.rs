//! Real XMPP servers (Prosody, ejabberd) started on 127.0.0.1 for the tests, and
//! what they share: the per-run directory, port reservation, the process
//! supervisor and a background tokio runtime.
//!
//! Lifetime: a server started through `shared()` lives as long as the test
//! process. It is started by `setpriv --pdeathsig KILL` from one long-lived
//! "spawner" thread, so the kernel kills it when the test process ends, however
//! it ends (the parent-death signal follows the thread that forked, hence the
//! dedicated thread: test threads come and go). The crate forbids `unsafe`, so
//! no `pre_exec`/`atexit`; `setpriv` (util-linux, always installed) does the prctl.
//!
//! Files: everything goes under `run_dir()`, a directory per test process
//! inside the cargo target directory (`target/debug/test-servers/PID-NANOS`).
//! A small janitor process removes it when the test process ends (keep it with
//! BURROW_KEEP_TEST_SERVERS=1); directories left by test processes that are gone
//! (say, after a SIGKILL) are removed by the next run.
//!
//! Ports: `reserve_port()` hands out ports below the kernel's ephemeral range,
//! each held by an `flock` on `/tmp/burrow-test-ports/PORT.lock` for the life of
//! the process, so concurrent test binaries never pick the same one.

pub mod dnsmasq;
pub mod ejabberd;
pub mod probe;
pub mod prosody;
pub mod tor;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The directory of this test process, inside the cargo target directory.
pub fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = servers_base_dir();
        std::fs::create_dir_all(&base).expect("test-servers dir");
        remove_stale_run_dirs(&base);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = base.join(format!("{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("run dir");
        if std::env::var_os("BURROW_KEEP_TEST_SERVERS").is_none() {
            start_janitor(&dir);
        }
        dir
    })
}

/// A shell that removes `dir` when the test process ends (its parent-death
/// signal is SIGTERM, which it traps). Set BURROW_KEEP_TEST_SERVERS=1 to keep
/// the directory (configs, logs) for a look after the run.
fn start_janitor(dir: &Path) {
    const SCRIPT: &str = r#"trap 'kill $! 2>/dev/null; rm -rf -- "$0"; exit 0' TERM; while :; do sleep 3600 & wait $!; done"#;
    let dir = dir.display().to_string();
    let started = spawn_with_death_signal("TERM", "sh", &["-c", SCRIPT, &dir], |command| {
        command.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    });
    if let Err(error) = started {
        eprintln!("burrow-tests: no janitor for {dir} ({error}); the next run removes it");
    }
}

/// `target/<profile>/test-servers`, or a temp dir when not run by cargo.
fn servers_base_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    match exe.parent().and_then(|deps| deps.parent()) {
        Some(profile) if exe.parent().is_some_and(|d| d.ends_with("deps")) => profile.join("test-servers"),
        _ => std::env::temp_dir().join("burrow-test-servers"),
    }
}

fn remove_stale_run_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.split('-').next().and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh directory `run_dir()/LABEL-N`.
pub fn instance_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = run_dir().join(format!("{label}-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("instance dir");
    dir
}

/// A free TCP port on 127.0.0.1 that no other test process on this machine will
/// be handed while this one lives (see the module doc).
pub fn reserve_port() -> u16 {
    static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = port_range();
    let span = u32::from(high - low);
    let lock_dir = std::env::temp_dir().join("burrow-test-ports");
    if std::fs::create_dir_all(&lock_dir).is_ok() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&lock_dir, std::fs::Permissions::from_mode(0o1777));
    }
    let seed = std::process::id().wrapping_mul(7919);
    for _ in 0..span {
        let offset = (seed.wrapping_add(NEXT.fetch_add(1, Ordering::SeqCst))) % span;
        let port = low + offset as u16;
        let path = lock_dir.join(format!("{port}.lock"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .or_else(|_| File::open(&path));
        let Ok(file) = file else { continue };
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue; // the lock is released when `file` drops
        }
        HELD.lock().unwrap_or_else(|poison| poison.into_inner()).push(file);
        return port;
    }
    panic!("no free port in {low}..{high}");
}

/// Ports outside the kernel's ephemeral range (which outgoing connections use).
fn port_range() -> (u16, u16) {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut parts = range.split_whitespace().filter_map(|part| part.parse::<u32>().ok());
    let (low, high) = (parts.next().unwrap_or(32768), parts.next().unwrap_or(60999));
    if low >= 20_000 {
        (15_000, low.min(30_000) as u16)
    } else if high <= 55_000 {
        (high as u16 + 1, 65_000)
    } else {
        (20_000, 30_000)
    }
}

struct SpawnRequest {
    command: Command,
    reply: mpsc::Sender<std::io::Result<Child>>,
}

/// Spawns `program` with `args` under `setpriv --pdeathsig KILL`, from a thread
/// that lives as long as the process: the child is SIGKILLed when the test
/// process exits. Set up the rest of the command (env, stdio, cwd) in `configure`.
pub fn spawn_supervised(program: &str, args: &[&str], configure: impl FnOnce(&mut Command)) -> std::io::Result<Child> {
    spawn_with_death_signal("KILL", program, args, configure)
}

fn spawn_with_death_signal(signal: &str, program: &str, args: &[&str], configure: impl FnOnce(&mut Command)) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("burrow-test-spawner".into())
            .spawn(move || {
                for mut request in requests {
                    let _ = request.reply.send(request.command.spawn());
                }
            })
            .expect("spawner thread");
        sender
    });
    let mut command = Command::new("setpriv");
    command.args(["--pdeathsig", signal, "--", program]).args(args);
    configure(&mut command);
    let (reply, answer) = mpsc::channel();
    spawner.send(SpawnRequest { command, reply }).expect("spawner alive");
    answer.recv().expect("spawner answers")
}

/// The last `lines` lines of a text file (for panic messages).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).to_string()).unwrap_or_else(|error| format!("({}: {error})", path.display()));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `len` random characters from [a-z0-9] (from /dev/urandom).
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut bytes)).expect("read /dev/urandom");
    bytes.iter().map(|byte| ALPHABET[*byte as usize % ALPHABET.len()] as char).collect()
}

/// The opening of a client stream to `domain`.
pub fn stream_header(domain: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' xml:lang='en' \
         xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    )
}

/// Whether `text` holds a complete `<stream:features>` element.
pub fn features_complete(text: &str) -> bool {
    text.contains("</stream:features>") || text.contains("<stream:features/>")
}

/// One blocking attempt: connect to 127.0.0.1:`port`, open a stream to
/// `domain` and read up to the end of the (plaintext) stream features.
pub fn plaintext_features(port: u16, domain: &str, timeout: Duration) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(stream_header(domain).as_bytes())?;
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        received.extend_from_slice(&chunk[..n]);
        if features_complete(&String::from_utf8_lossy(&received)) {
            let _ = stream.write_all(b"</stream:stream>");
            return Ok(String::from_utf8_lossy(&received).to_string());
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no complete stream features; got {:?}", String::from_utf8_lossy(&received)),
    ))
}

/// Polls `port` until the server answers a stream header with its features;
/// panics with the log tail if `child` exits or `timeout` passes.
pub(crate) fn wait_until_serving(what: &str, child: &mut Child, port: u16, domain: &str, timeout: Duration, logs: &[&Path]) -> String {
    let deadline = Instant::now() + timeout;
    let mut last_error;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited during start-up ({status}); logs:\n{}", tails(logs));
        }
        match plaintext_features(port, domain, Duration::from_secs(2)) {
            Ok(features) => return features,
            Err(error) => last_error = error.to_string(),
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not serve stream features on 127.0.0.1:{port} within {timeout:?} (last: {last_error}); logs:\n{}", tails(logs));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tails(logs: &[&Path]) -> String {
    logs.iter().map(|path| format!("== {}\n{}", path.display(), log_tail(path, 40))).collect::<Vec<_>>().join("\n")
}

/// The addresses a process listens on (TCP, from /proc), to check that a server
/// opened only what it was told to.
pub fn listening_addrs(pid: u32) -> Vec<SocketAddr> {
    let mut inodes = std::collections::HashSet::new();
    if let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in entries.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                let target = target.to_string_lossy().to_string();
                if let Some(inode) = target.strip_prefix("socket:[").and_then(|rest| rest.strip_suffix(']')) {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let mut addrs = Vec::new();
    for (table, v6) in [("tcp", false), ("tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 10 || fields[3] != "0A" || !inodes.contains(fields[9]) {
                continue;
            }
            if let Some(addr) = parse_proc_addr(fields[1], v6) {
                addrs.push(addr);
            }
        }
    }
    addrs.sort();
    addrs
}

fn parse_proc_addr(field: &str, v6: bool) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if !v6 {
        let raw = u32::from_str_radix(ip, 16).ok()?;
        return Some(SocketAddr::from((raw.to_le_bytes(), port)));
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in ip.as_bytes().chunks(8).enumerate() {
        let word = u32::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    Some(SocketAddr::from((bytes, port)))
}

/// The tokio runtime the in-process helpers (proxy, fake server, probes) run
/// on: two worker threads, never shut down.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("burrow-test-io")
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// Runs `future` to completion on `runtime()` from any context, async or not
/// (on a scoped helper thread, so it never nests `block_on`).
pub fn block_on<F>(future: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| scope.spawn(|| runtime().block_on(future)).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn proc_addresses() {
        assert_eq!(super::parse_proc_addr("0100007F:1F90", false), Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(
            super::parse_proc_addr("00000000000000000000000001000000:0050", true),
            Some("[::1]:80".parse().unwrap())
        );
    }

    #[test]
    fn reserved_ports_differ() {
        let a = super::reserve_port();
        let b = super::reserve_port();
        assert_ne!(a, b);
        std::net::TcpListener::bind(("127.0.0.1", a)).expect("reserved port is bindable");
    }
}
