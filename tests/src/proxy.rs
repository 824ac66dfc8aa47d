//! A TCP proxy on 127.0.0.1 between a client (Burrow) and a server, run in the
//! test process on `servers::runtime()`.
//!
//! - `cut_all()` closes every current connection abruptly (RST to both sides)
//!   and keeps accepting new ones; `stall_all()` stops forwarding on every
//!   current connection but keeps both sockets open (a silent network).
//! - `ProxyMode::StripStartTls` removes `<starttls/>` (self-closing or with a
//!   body such as `<required/>`, any prefix) from what the server sends in
//!   plaintext, until the server's `<proceed/>`: a STARTTLS-stripping attacker.
//! - Every byte the client sent is recorded (`client_bytes()`), and the server's
//!   bytes as forwarded after rewriting (`server_bytes()`); `reveals()` checks a
//!   recording for a secret, raw or inside base64.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::servers::runtime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward bytes unchanged.
    Transparent,
    /// Remove `<starttls/>` from the server's plaintext features.
    StripStartTls,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Control {
    cuts: u64,
    stalls: u64,
}

struct Shared {
    upstream: SocketAddr,
    mode: ProxyMode,
    accepted: AtomicUsize,
    accepted_at: Mutex<Vec<Instant>>,
    open: AtomicUsize,
    stripped: AtomicUsize,
    control: watch::Sender<Control>,
    client_bytes: Mutex<Vec<Vec<u8>>>,
    server_bytes: Mutex<Vec<Vec<u8>>>,
    /// The address each accepted connection came from, in order.
    peers: Mutex<Vec<SocketAddr>>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

pub struct Proxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: tokio::task::AbortHandle,
}

impl Proxy {
    /// A proxy on 127.0.0.1 (free port) to `upstream`.
    pub fn start(upstream: SocketAddr, mode: ProxyMode) -> Proxy {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("proxy address");
        let listener = {
            let _context = runtime().enter();
            tokio::net::TcpListener::from_std(listener).expect("tokio listener")
        };
        let (control, _) = watch::channel(Control::default());
        let shared = Arc::new(Shared {
            upstream,
            mode,
            accepted: AtomicUsize::new(0),
            accepted_at: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            stripped: AtomicUsize::new(0),
            control,
            client_bytes: Mutex::new(Vec::new()),
            server_bytes: Mutex::new(Vec::new()),
            peers: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
        });
        let accept = runtime().spawn(accept_loop(shared.clone(), listener)).abort_handle();
        Proxy { shared, addr, accept }
    }

    /// A transparent proxy to 127.0.0.1:`port`.
    pub fn transparent(port: u16) -> Proxy {
        Proxy::start(SocketAddr::from(([127, 0, 0, 1], port)), ProxyMode::Transparent)
    }

    /// A STARTTLS-stripping proxy to 127.0.0.1:`port`.
    pub fn strip_starttls(port: u16) -> Proxy {
        Proxy::start(SocketAddr::from(([127, 0, 0, 1], port)), ProxyMode::StripStartTls)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn mode(&self) -> ProxyMode {
        self.shared.mode
    }

    /// Abruptly closes (RST) both sides of every current connection; new
    /// connections are still accepted.
    pub fn cut_all(&self) {
        self.shared.control.send_modify(|control| control.cuts += 1);
    }

    /// Stops forwarding on every current connection, keeping the sockets open
    /// (until `cut_all()` or the proxy is dropped); new connections work.
    pub fn stall_all(&self) {
        self.shared.control.send_modify(|control| control.stalls += 1);
    }

    /// Connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// When each connection so far was accepted, in order.
    pub fn accept_times(&self) -> Vec<Instant> {
        self.shared.accepted_at.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Where each accepted connection came from (the client's address and
    /// port), in the order they were accepted.
    pub fn peer_addresses(&self) -> Vec<SocketAddr> {
        self.shared.peers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Connections currently being served.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` connections were accepted.
    pub fn wait_for_connections(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.connections_accepted() < count {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// How many `<starttls>` elements were removed.
    pub fn starttls_stripped(&self) -> usize {
        self.shared.stripped.load(Ordering::SeqCst)
    }

    /// Everything every client sent, connection after connection.
    pub fn client_bytes(&self) -> Vec<u8> {
        self.shared.client_bytes.lock().unwrap_or_else(|p| p.into_inner()).concat()
    }

    pub fn client_bytes_per_connection(&self) -> Vec<Vec<u8>> {
        self.shared.client_bytes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Everything the clients were sent (after rewriting).
    pub fn server_bytes(&self) -> Vec<u8> {
        self.shared.server_bytes.lock().unwrap_or_else(|p| p.into_inner()).concat()
    }

    pub fn server_bytes_per_connection(&self) -> Vec<Vec<u8>> {
        self.shared.server_bytes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all();
        // Give the connection tasks a moment to reset their sockets, then stop them.
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.open_connections() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        for task in self.shared.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: tokio::net::TcpListener) {
    loop {
        let Ok((client, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        shared.peers.lock().unwrap_or_else(|p| p.into_inner()).push(peer);
        let index = {
            let mut client_bytes = shared.client_bytes.lock().unwrap_or_else(|p| p.into_inner());
            client_bytes.push(Vec::new());
            shared.server_bytes.lock().unwrap_or_else(|p| p.into_inner()).push(Vec::new());
            client_bytes.len() - 1
        };
        shared.accepted_at.lock().unwrap_or_else(|p| p.into_inner()).push(Instant::now());
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        shared.open.fetch_add(1, Ordering::SeqCst);
        let control = shared.control.subscribe();
        let task = tokio::spawn(serve(shared.clone(), index, client, control));
        let mut tasks = shared.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|task| !task.is_finished());
        tasks.push(task.abort_handle());
    }
}

enum Outcome {
    /// Both directions ended with EOF.
    Done,
    /// An error on one side, or `cut_all()`: reset both.
    Reset,
    Stall,
}

struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(shared: Arc<Shared>, index: usize, mut client: TcpStream, mut control: watch::Receiver<Control>) {
    let _open = OpenGuard(shared.clone());
    let start = *control.borrow_and_update();
    let mut server = match TcpStream::connect(shared.upstream).await {
        Ok(server) => server,
        Err(_) => {
            let _ = client.set_zero_linger();
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let outcome = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let upstream = client_to_server(&shared, index, client_read, server_write);
        let downstream = server_to_client(&shared, index, server_read, client_write);
        tokio::pin!(upstream, downstream);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                result = &mut upstream, if !up_done => {
                    if result.is_err() { break Outcome::Reset; }
                    up_done = true;
                }
                result = &mut downstream, if !down_done => {
                    if result.is_err() { break Outcome::Reset; }
                    down_done = true;
                }
                outcome = changed(&mut control, start) => break outcome,
            }
            if up_done && down_done {
                break Outcome::Done;
            }
        }
    };
    if let Outcome::Stall = outcome {
        // Hold both sockets, forward nothing, until a cut.
        loop {
            if control.changed().await.is_err() || control.borrow().cuts != start.cuts {
                break;
            }
        }
    }
    if !matches!(outcome, Outcome::Done) {
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
}

async fn changed(control: &mut watch::Receiver<Control>, start: Control) -> Outcome {
    loop {
        if control.changed().await.is_err() {
            return Outcome::Reset;
        }
        let now = *control.borrow();
        if now.cuts != start.cuts {
            return Outcome::Reset;
        }
        if now.stalls != start.stalls {
            return Outcome::Stall;
        }
    }
}

async fn client_to_server(
    shared: &Shared,
    index: usize,
    mut from: tokio::net::tcp::ReadHalf<'_>,
    mut to: tokio::net::tcp::WriteHalf<'_>,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        shared.client_bytes.lock().unwrap_or_else(|p| p.into_inner())[index].extend_from_slice(&buffer[..n]);
        to.write_all(&buffer[..n]).await?;
    }
}

async fn server_to_client(
    shared: &Shared,
    index: usize,
    mut from: tokio::net::tcp::ReadHalf<'_>,
    mut to: tokio::net::tcp::WriteHalf<'_>,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut pending = Vec::new();
    let mut plaintext = shared.mode == ProxyMode::StripStartTls;
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            if !pending.is_empty() {
                to.write_all(&pending).await?;
            }
            let _ = to.shutdown().await;
            return Ok(());
        }
        let out = if plaintext {
            pending.extend_from_slice(&buffer[..n]);
            let (mut out, removed) = strip_starttls(&mut pending);
            shared.stripped.fetch_add(removed, Ordering::SeqCst);
            if crate::servers::probe::contains(&out, b"<proceed") {
                // TLS starts now: forward the rest untouched from here on.
                plaintext = false;
                out.append(&mut pending);
            }
            out
        } else {
            buffer[..n].to_vec()
        };
        if out.is_empty() {
            continue;
        }
        shared.server_bytes.lock().unwrap_or_else(|p| p.into_inner())[index].extend_from_slice(&out);
        to.write_all(&out).await?;
    }
}

/// Removes every complete `<[prefix:]starttls ...>` element from `pending` and
/// returns the bytes that can be forwarded now, with the number removed; keeps
/// in `pending` anything that may be the start of such an element.
pub fn strip_starttls(pending: &mut Vec<u8>) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut removed = 0;
    loop {
        match find_open_tag(pending, b"starttls") {
            Some((start, name)) => {
                out.extend(pending.drain(..start));
                match element_end(pending, &name) {
                    Some(end) => {
                        pending.drain(..end);
                        removed += 1;
                    }
                    None => return (out, removed),
                }
            }
            None => {
                // Hold back a trailing tag that is not complete yet.
                let keep_from = match pending.iter().rposition(|&b| b == b'<') {
                    Some(i) if !pending[i..].contains(&b'>') => i,
                    _ => pending.len(),
                };
                out.extend(pending.drain(..keep_from));
                return (out, removed);
            }
        }
    }
}

/// The first `<NAME` or `<prefix:NAME` start tag whose name is complete: its
/// offset and full (prefixed) name.
fn find_open_tag(data: &[u8], local: &[u8]) -> Option<(usize, Vec<u8>)> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b"_.:-".contains(&b);
    for (i, _) in data.iter().enumerate().filter(|(_, b)| **b == b'<') {
        let name_end = data[i + 1..].iter().position(|b| !is_name(*b)).map(|p| i + 1 + p)?;
        let name = &data[i + 1..name_end];
        let local_name = name.rsplit(|b| *b == b':').next().unwrap_or(name);
        if local_name == local {
            return Some((i, name.to_vec()));
        }
    }
    None
}

/// Where the element starting at 0 ends (exclusive), if it is complete.
fn element_end(data: &[u8], name: &[u8]) -> Option<usize> {
    let open_end = data.iter().position(|b| *b == b'>')?;
    if open_end > 0 && data[open_end - 1] == b'/' {
        return Some(open_end + 1);
    }
    let mut close = b"</".to_vec();
    close.extend_from_slice(name);
    close.push(b'>');
    data[open_end..].windows(close.len()).position(|window| window == close.as_slice()).map(|p| open_end + p + close.len())
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether `recorded` shows `secret`: as is, or base64-encoded at any
/// alignment inside a larger base64 blob (as in SASL PLAIN's `\0user\0password`).
/// For secrets shorter than 6 bytes the base64 check only catches aligned copies.
pub fn reveals(recorded: &[u8], secret: &[u8]) -> bool {
    use crate::servers::probe::contains;
    if secret.is_empty() || contains(recorded, secret) {
        return true;
    }
    for offset in 0..3 {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(secret);
        let encoded = base64(&padded);
        let encoded = encoded.as_bytes();
        // Keep only the characters that depend on the secret's bytes alone.
        let first_group = if offset == 0 { 0 } else { 4 };
        let full_groups = padded.len() / 3;
        let end = full_groups * 4;
        if end > first_group && contains(recorded, &encoded[first_group..end]) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{base64, reveals, strip_starttls};

    fn strip_all(chunks: &[&str]) -> (String, usize) {
        let mut pending = Vec::new();
        let mut out = Vec::new();
        let mut removed = 0;
        for chunk in chunks {
            pending.extend_from_slice(chunk.as_bytes());
            let (bytes, n) = strip_starttls(&mut pending);
            out.extend(bytes);
            removed += n;
        }
        out.extend(pending);
        (String::from_utf8(out).unwrap(), removed)
    }

    #[test]
    fn strips_both_forms_across_reads() {
        let features = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><x/></stream:features>";
        for split in 0..features.len() {
            let (out, removed) = strip_all(&[&features[..split], &features[split..]]);
            assert_eq!(out, "<stream:features><x/></stream:features>", "split at {split}");
            assert_eq!(removed, 1);
        }
        let (out, removed) = strip_all(&["<stream:features><tls:starttls xmlns:tls='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"]);
        assert_eq!((out.as_str(), removed), ("<stream:features></stream:features>", 1));
        let (out, removed) = strip_all(&["<stream:features><starttlsx/></stream:features>"]);
        assert_eq!((out.as_str(), removed), ("<stream:features><starttlsx/></stream:features>", 0));
    }

    #[test]
    fn base64_and_reveals() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        let secret = b"correct-horse-battery";
        for prefix in ["", "\0", "\0u", "\0us", "\0user\0"] {
            let mut message = prefix.as_bytes().to_vec();
            message.extend_from_slice(secret);
            message.extend_from_slice(b"\0tail");
            let recorded = format!("<auth mechanism='PLAIN'>{}</auth>", base64(&message));
            assert!(reveals(recorded.as_bytes(), secret), "prefix {prefix:?}");
        }
        assert!(!reveals(b"<auth mechanism='SCRAM-SHA-1'>biwsbj11c2VyLHI9YWJj</auth>", secret));
    }
}
