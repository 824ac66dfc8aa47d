//! A hostile XMPP server on 127.0.0.1 (tokio + rustls, in the test process).
//!
//! It behaves until TLS is up — reads the client's stream header, offers
//! STARTTLS (required), answers `<proceed/>` and completes the handshake with a
//! leaf for its domain (default `fake.test`) from `Pki::shared()` — or starts
//! with TLS right away (`Transport::DirectTls`). Then, right after the client's
//! stream header on the encrypted stream, it sends what its `Hostility` says,
//! before or instead of the stream features, and records what the client did:
//! every byte it sent, and whether (and how soon) it closed the connection.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pki::Pki;
use crate::servers::runtime;

pub const DOMAIN: &str = "fake.test";
/// Size of the `Oversized` stanza's body.
pub const OVERSIZED_BYTES: usize = 1024 * 1024;
/// Depth of the `DeepNesting` element.
pub const NESTING_DEPTH: usize = 10_000;

/// What the server sends after the client's post-TLS stream header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hostility {
    /// A well-behaved header and features offering SCRAM-SHA-1 and PLAIN, then
    /// silence: a baseline, and a way to record what a client sends next.
    Benign,
    /// Header, then features with mismatched tags and a broken attribute.
    MalformedXml,
    /// Header, then a `<message>` whose body is `OVERSIZED_BYTES` long, then features.
    Oversized,
    /// Header, then `NESTING_DEPTH` nested elements inside the features.
    DeepNesting,
    /// An XML prolog with a DTD defining nested entities (billion laughs) before
    /// the header, and a feature that uses them.
    Dtd,
    /// 4 KiB of binary garbage instead of a stream header.
    Garbage,
    /// Header and the start of the features, which never end.
    EndlessFeatures,
    /// Header, then `</stream:stream>`: the stream stops before SASL is offered.
    CloseBeforeSasl,
    /// Header and empty features: no SASL mechanism at all.
    NoMechanisms,
    /// These exact bytes.
    Custom(Vec<u8>),
}

impl Hostility {
    /// The bytes sent after the client's post-TLS stream header.
    pub fn bytes(&self, domain: &str) -> Vec<u8> {
        let header = server_header(domain, "hostile");
        let mechanisms = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>";
        match self {
            Hostility::Benign => format!("{header}<stream:features>{mechanisms}</stream:features>").into_bytes(),
            Hostility::MalformedXml => format!(
                "{header}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                 <mechanism>SCRAM-SHA-1</mechanisms></mechanism><broken attr=unquoted <<>>&nonentity;</stream:feature>"
            )
            .into_bytes(),
            Hostility::Oversized => {
                let mut bytes = format!("{header}<message xmlns='jabber:client' from='{domain}' type='chat'><body>").into_bytes();
                bytes.resize(bytes.len() + OVERSIZED_BYTES, b'A');
                bytes.extend_from_slice(format!("</body></message><stream:features>{mechanisms}</stream:features>").as_bytes());
                bytes
            }
            Hostility::DeepNesting => {
                let mut text = format!("{header}<stream:features>");
                text.push_str(&"<a>".repeat(NESTING_DEPTH));
                text.push_str(&"</a>".repeat(NESTING_DEPTH));
                text.push_str(mechanisms);
                text.push_str("</stream:features>");
                text.into_bytes()
            }
            Hostility::Dtd => {
                let mut dtd = String::from("<!ENTITY lol0 \"lol\">");
                for level in 1..=9 {
                    let previous = format!("&lol{};", level - 1);
                    dtd.push_str(&format!("<!ENTITY lol{level} \"{}\">", previous.repeat(10)));
                }
                format!(
                    "<?xml version='1.0'?><!DOCTYPE stream:stream [{dtd}]>{}<stream:features>\
                     <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>&lol9;</mechanism></mechanisms></stream:features>",
                    header.trim_start_matches("<?xml version='1.0'?>")
                )
                .into_bytes()
            }
            Hostility::Garbage => {
                let mut state: u32 = 0x2545_f491;
                let mut bytes: Vec<u8> = (0..4096)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        (state >> 24) as u8
                    })
                    .collect();
                bytes[..4].copy_from_slice(&[0x00, 0xff, 0xfe, b'<']);
                bytes
            }
            Hostility::EndlessFeatures => format!(
                "{header}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>"
            )
            .into_bytes(),
            Hostility::CloseBeforeSasl => format!("{header}</stream:stream>").into_bytes(),
            Hostility::NoMechanisms => format!("{header}<stream:features/>").into_bytes(),
            Hostility::Custom(bytes) => bytes.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plaintext stream, STARTTLS required, then TLS.
    StartTls,
    /// TLS from the first byte (XEP-0368).
    DirectTls,
}

#[derive(Clone, Debug)]
pub struct FakeOptions {
    pub hostility: Hostility,
    pub transport: Transport,
    pub domain: String,
    /// How long to wait, after the hostile bytes, for the client to close.
    pub hold: Duration,
}

impl FakeOptions {
    pub fn new(hostility: Hostility) -> FakeOptions {
        FakeOptions { hostility, transport: Transport::StartTls, domain: DOMAIN.to_string(), hold: Duration::from_secs(30) }
    }
}

/// What happened on one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnectionRecord {
    pub index: usize,
    /// The client's first (plaintext) stream header, for STARTTLS.
    pub plaintext_header: Option<String>,
    pub starttls_requested: bool,
    pub tls_established: bool,
    pub tls_version: Option<String>,
    /// The SNI the client sent.
    pub sni: Option<String>,
    /// The client's stream header on the encrypted stream.
    pub tls_header: Option<String>,
    /// How many of the hostile bytes were written to the socket before the
    /// client stopped reading or closed. Written is not read: on loopback the
    /// kernel buffers a few MiB, so a client that hangs up after the first
    /// kilobytes of the 1 MiB stanza still usually shows all of it "sent";
    /// `client_closed` and `closed_after` are what tell.
    pub hostile_bytes_sent: usize,
    pub hostile_bytes_total: usize,
    pub write_error: Option<String>,
    /// Bytes the client sent on the encrypted stream after its stream header.
    pub client_bytes_after: Vec<u8>,
    /// The client closed the connection (EOF, close_notify, reset) within `hold`.
    pub client_closed: bool,
    /// How long after the hostile bytes were sent (or failed) it closed.
    pub closed_after: Option<Duration>,
    /// The client sent `</stream:stream>`.
    pub client_sent_stream_close: bool,
    /// Why the exchange stopped before the hostile bytes, if it did.
    pub error: Option<String>,
    /// The connection is over (client closed, `hold` elapsed, or an error).
    pub finished: bool,
}

struct State {
    records: Mutex<Vec<ConnectionRecord>>,
    changed: Condvar,
}

pub struct FakeServer {
    addr: SocketAddr,
    options: FakeOptions,
    state: Arc<State>,
    accept: tokio::task::AbortHandle,
    tasks: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl FakeServer {
    /// STARTTLS, domain `fake.test`, hold 30 s.
    pub fn start(hostility: Hostility) -> FakeServer {
        FakeServer::start_with(FakeOptions::new(hostility))
    }

    pub fn start_with(options: FakeOptions) -> FakeServer {
        let tls = Pki::shared().leaf(&[options.domain.as_str()]).rustls_server_config();
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind fake server");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let listener = {
            let _context = runtime().enter();
            tokio::net::TcpListener::from_std(listener).expect("tokio listener")
        };
        let state = Arc::new(State { records: Mutex::new(Vec::new()), changed: Condvar::new() });
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (state, tasks, options) = (state.clone(), tasks.clone(), options.clone());
            runtime()
                .spawn(async move {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        let index = {
                            let mut records = state.records.lock().unwrap_or_else(|p| p.into_inner());
                            let index = records.len();
                            records.push(ConnectionRecord { index, ..Default::default() });
                            records.len() - 1
                        };
                        let task = tokio::spawn(serve(state.clone(), index, stream, options.clone(), tls.clone()));
                        tasks.lock().unwrap_or_else(|p| p.into_inner()).push(task.abort_handle());
                    }
                })
                .abort_handle()
        };
        FakeServer { addr, options, state, accept, tasks }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn domain(&self) -> &str {
        &self.options.domain
    }

    pub fn hostility(&self) -> &Hostility {
        &self.options.hostility
    }

    /// The test CA, which signed this server's certificate.
    pub fn ca_pem_path(&self) -> &std::path::Path {
        Pki::shared().ca_pem_path()
    }

    /// A snapshot of every connection so far.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.state.records.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until `count` connections are finished; returns them all (finished
    /// or not) when that happens or `timeout` passes.
    pub fn wait_finished(&self, count: usize, timeout: Duration) -> Vec<ConnectionRecord> {
        let deadline = Instant::now() + timeout;
        let mut records = self.state.records.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if records.iter().filter(|record| record.finished).count() >= count {
                return records.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return records.clone();
            }
            records = self.state.changed.wait_timeout(records, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Waits for the first connection to finish and returns it.
    pub fn first_connection(&self, timeout: Duration) -> Option<ConnectionRecord> {
        self.wait_finished(1, timeout).into_iter().find(|record| record.finished)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
    }
}

fn server_header(domain: &str, id: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream from='{domain}' id='{id}' version='1.0' xml:lang='en' \
         xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    )
}

fn update(state: &State, index: usize, change: impl FnOnce(&mut ConnectionRecord)) {
    let mut records = state.records.lock().unwrap_or_else(|p| p.into_inner());
    change(&mut records[index]);
    state.changed.notify_all();
}

async fn serve(state: Arc<State>, index: usize, mut tcp: TcpStream, options: FakeOptions, tls: Arc<rustls::ServerConfig>) {
    let _ = tcp.set_nodelay(true);
    let result = exchange(&state, index, &mut tcp, &options, tls).await;
    update(&state, index, |record| {
        if let Err(error) = result {
            record.error = Some(error);
        }
        record.finished = true;
    });
}

async fn exchange(state: &State, index: usize, tcp: &mut TcpStream, options: &FakeOptions, tls: Arc<rustls::ServerConfig>) -> Result<(), String> {
    let step = Duration::from_secs(15);
    if options.transport == Transport::StartTls {
        let mut received = Vec::new();
        let header = read_stream_header(tcp, &mut received, step).await?;
        update(state, index, |record| record.plaintext_header = Some(header));
        let offer = format!(
            "{}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
            server_header(&options.domain, "plain")
        );
        tcp.write_all(offer.as_bytes()).await.map_err(|e| format!("write features: {e}"))?;
        read_until(tcp, &mut received, step, |data| {
            let text = String::from_utf8_lossy(data);
            text.find("<starttls").is_some_and(|start| text[start..].contains('>'))
        })
        .await
        .map_err(|e| format!("no <starttls/>: {e}"))?;
        update(state, index, |record| record.starttls_requested = true);
        tcp.write_all(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").await.map_err(|e| format!("write proceed: {e}"))?;
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut stream = tokio::time::timeout(step, acceptor.accept(&mut *tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let (_, session) = stream.get_ref();
    let version = session.protocol_version().map(|v| format!("{v:?}"));
    let sni = session.server_name().map(str::to_string);
    update(state, index, |record| {
        record.tls_established = true;
        record.tls_version = version;
        record.sni = sni;
    });
    let mut received = Vec::new();
    let header = read_stream_header(&mut stream, &mut received, step).await?;
    update(state, index, |record| record.tls_header = Some(header));

    // The hostile part, written while the client's bytes are read, so that a
    // client closing on a 1 MiB stanza is seen as soon as it does.
    let payload = options.hostility.bytes(&options.domain);
    let total = payload.len();
    update(state, index, |record| record.hostile_bytes_total = total);
    let (mut reader, mut writer) = tokio::io::split(stream);
    let reads = async {
        let mut after = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return after,
                Ok(n) => {
                    after.extend_from_slice(&chunk[..n]);
                    let snapshot = after.clone();
                    update(state, index, |record| record.client_bytes_after = snapshot);
                }
            }
        }
    };
    let writes = async {
        let mut sent = 0;
        while sent < total {
            let end = (sent + 64 * 1024).min(total);
            if let Err(error) = writer.write_all(&payload[sent..end]).await {
                return (sent, Some(error.to_string()));
            }
            sent = end;
            update(state, index, |record| record.hostile_bytes_sent = sent);
        }
        match writer.flush().await {
            Ok(()) => (sent, None),
            Err(error) => (sent, Some(error.to_string())),
        }
    };
    tokio::pin!(reads, writes);
    let mut closed_with: Option<Vec<u8>> = None;
    let (sent, write_error) = tokio::select! {
        written = &mut writes => written,
        after = &mut reads => {
            closed_with = Some(after);
            (0, Some("client closed while the hostile bytes were being sent".to_string()))
        }
        _ = tokio::time::sleep(options.hold) => (0, Some("client stopped reading".to_string())),
    };
    let sent = if closed_with.is_some() || write_error.as_deref() == Some("client stopped reading") {
        state.records.lock().unwrap_or_else(|p| p.into_inner())[index].hostile_bytes_sent
    } else {
        sent
    };
    let sent_at = Instant::now();
    update(state, index, |record| {
        record.hostile_bytes_sent = sent;
        record.write_error = write_error.clone();
    });
    let (after, client_closed) = match closed_with {
        Some(after) => (after, true),
        None => match tokio::time::timeout(options.hold, &mut reads).await {
            Ok(after) => (after, true),
            Err(_) => (state.records.lock().unwrap_or_else(|p| p.into_inner())[index].client_bytes_after.clone(), false),
        },
    };
    let closed_after = client_closed.then(|| sent_at.elapsed());
    let stream_close = crate::servers::probe::contains(&after, b"</stream:stream>") || crate::servers::probe::contains(&after, b"</stream>");
    update(state, index, |record| {
        record.client_bytes_after = after;
        record.client_closed = client_closed;
        record.closed_after = closed_after;
        record.client_sent_stream_close = stream_close;
    });
    Ok(())
}

async fn read_until<S: AsyncRead + Unpin>(stream: &mut S, received: &mut Vec<u8>, timeout: Duration, done: impl Fn(&[u8]) -> bool) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut chunk = [0u8; 4096];
    while !done(received) {
        if received.len() > 64 * 1024 {
            return Err("client sent over 64 KiB without what was expected".into());
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Err(format!("timed out; got {:?}", String::from_utf8_lossy(received))),
            Ok(Ok(0)) => return Err(format!("client closed; got {:?}", String::from_utf8_lossy(received))),
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Ok(Err(error)) => return Err(format!("read: {error}")),
        }
    }
    Ok(())
}

/// Reads up to the end of the client's `<stream:stream ...>` open tag (after an
/// optional `<?xml ...?>`) and returns it; leaves nothing of it in `received`.
async fn read_stream_header<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, received: &mut Vec<u8>, timeout: Duration) -> Result<String, String> {
    read_until(stream, received, timeout, |data| header_end(data).is_some()).await.map_err(|e| format!("no stream header: {e}"))?;
    let end = header_end(received).expect("checked");
    let header = String::from_utf8_lossy(&received[..end]).to_string();
    received.drain(..end);
    Ok(header)
}

/// The end (exclusive) of the first start tag that is not a `<?...?>` declaration.
fn header_end(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let start = from + data[from..].iter().position(|b| *b == b'<')?;
        let end = start + data[start..].iter().position(|b| *b == b'>')? + 1;
        if data.get(start + 1) == Some(&b'?') {
            from = end;
            continue;
        }
        return Some(end);
    }
}

#[cfg(test)]
mod tests {
    use super::{header_end, Hostility, NESTING_DEPTH, OVERSIZED_BYTES};

    #[test]
    fn stream_header_end() {
        let header = b"<?xml version='1.0'?><stream:stream to='x' version='1.0'>rest";
        assert_eq!(header_end(header), Some(header.len() - 4));
        assert_eq!(header_end(b"<?xml version='1.0'?><stream:str"), None);
    }

    #[test]
    fn payload_sizes() {
        assert!(Hostility::Oversized.bytes("fake.test").len() > OVERSIZED_BYTES);
        let nested = String::from_utf8(Hostility::DeepNesting.bytes("fake.test")).unwrap();
        assert_eq!(nested.matches("<a>").count(), NESTING_DEPTH);
        let dtd = String::from_utf8(Hostility::Dtd.bytes("fake.test")).unwrap();
        assert!(dtd.starts_with("<?xml version='1.0'?><!DOCTYPE") && dtd.contains("&lol9;"));
        assert_eq!(Hostility::Garbage.bytes("fake.test").len(), 4096);
    }
}
