//! A raw XMPP client for the tests (tokio + rustls): open a stream, STARTTLS or
//! direct TLS, read the features, and report what a server offers — the SASL
//! mechanisms, the XEP-0440 channel-binding types, the TLS version — and whether
//! its certificate verified against the test CA for the name asked for.
//!
//! The certificate check records its verdict instead of failing the handshake,
//! so a probe can see a server that presents the wrong certificate.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::{features_complete, stream_header};

/// Which TLS versions the probe offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersions {
    /// TLS 1.3 and 1.2 (the server picks; with these servers, 1.3).
    Any,
    Tls12Only,
    Tls13Only,
}

/// The parsed `<stream:features>`.
#[derive(Clone, Debug, Default)]
pub struct Features {
    pub raw: String,
    pub starttls: bool,
    pub starttls_required: bool,
    pub mechanisms: Vec<String>,
    /// XEP-0440 `<sasl-channel-binding>` types, `None` when not advertised.
    pub channel_binding_types: Option<Vec<String>>,
    pub stream_management: bool,
}

impl Features {
    pub fn parse(raw: &str) -> Features {
        let section = match raw.find("<stream:features") {
            Some(start) => &raw[start..],
            None => raw,
        };
        let starttls = element(section, "starttls");
        let channel_binding = element(section, "sasl-channel-binding");
        Features {
            raw: raw.to_string(),
            starttls: starttls.is_some(),
            starttls_required: starttls.is_some_and(|body| body.contains("<required")),
            mechanisms: texts(section, "mechanism"),
            channel_binding_types: channel_binding.map(|body| attribute_values(body, "channel-binding", "type")),
            stream_management: section.contains("urn:xmpp:sm:3"),
        }
    }
}

/// What one probe saw.
#[derive(Clone, Debug)]
pub struct Probe {
    /// Features before TLS (STARTTLS only).
    pub plaintext: Option<Features>,
    /// Features on the encrypted stream.
    pub features: Features,
    /// "TLSv1_3" / "TLSv1_2".
    pub tls_version: String,
    pub cipher_suite: String,
    /// `Ok` when the server's certificate chains to the test CA and names the
    /// domain asked for; otherwise rustls's reason.
    pub certificate_check: Result<(), String>,
    pub peer_certificate: Option<CertificateDer<'static>>,
}

/// The TLS session of a `RawClient`.
#[derive(Clone, Debug)]
pub struct TlsDetails {
    /// "TLSv1_3" / "TLSv1_2".
    pub version: String,
    pub cipher_suite: String,
    /// `Ok` when the certificate chains to the test CA and names the server name asked for.
    pub certificate_check: Result<(), String>,
    pub peer_certificate: Option<CertificateDer<'static>>,
}

/// Async read/write over either plain TCP or TLS.
pub enum Connection {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Closed,
}

impl AsyncRead for Connection {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Connection::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
            Connection::Closed => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Connection::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Connection::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
            Connection::Closed => Poll::Ready(Err(std::io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Connection::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
            Connection::Closed => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Connection::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
            Connection::Closed => Poll::Ready(Ok(())),
        }
    }
}

/// How a read ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The wanted text arrived.
    Found,
    /// The peer closed (EOF, close_notify).
    Closed,
    /// A read error (reset, TLS alert...): its text.
    Error(String),
    TimedOut,
}

/// A raw client connection and everything read on it so far.
pub struct RawClient {
    pub connection: Connection,
    /// Bytes received since the last `take_received()` / stream restart.
    pub received: Vec<u8>,
    verifier: Option<Arc<RecordingVerifier>>,
}

impl RawClient {
    /// Plain TCP to `addr`.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<RawClient> {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await.map_err(|_| timed_out("connect"))??;
        stream.set_nodelay(true)?;
        Ok(RawClient { connection: Connection::Plain(stream), received: Vec::new(), verifier: None })
    }

    /// TCP then TLS right away (XEP-0368), with SNI `server_name` and ALPN `xmpp-client`.
    pub async fn connect_direct_tls(addr: SocketAddr, server_name: &str, ca: &CertificateDer<'static>, versions: TlsVersions) -> std::io::Result<RawClient> {
        let mut client = RawClient::connect(addr).await?;
        client.start_tls(server_name, ca, versions, true).await?;
        Ok(client)
    }

    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.connection.write_all(bytes).await?;
        self.connection.flush().await
    }

    /// Reads until `done(received)` holds, the peer closes, an error or `timeout`.
    pub async fn read_until(&mut self, timeout: Duration, done: impl Fn(&[u8]) -> bool) -> ReadEnd {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            if done(&self.received) {
                return ReadEnd::Found;
            }
            match tokio::time::timeout_at(deadline, self.connection.read(&mut chunk)).await {
                Err(_) => return ReadEnd::TimedOut,
                Ok(Ok(0)) => return ReadEnd::Closed,
                Ok(Ok(n)) => self.received.extend_from_slice(&chunk[..n]),
                Ok(Err(error)) => return ReadEnd::Error(error.to_string()),
            }
        }
    }

    /// Reads until `text` appears.
    pub async fn read_until_text(&mut self, text: &str, timeout: Duration) -> ReadEnd {
        let wanted = text.as_bytes().to_vec();
        self.read_until(timeout, move |received| contains(received, &wanted)).await
    }

    /// Sends a stream header to `domain` and reads the features.
    pub async fn open_stream(&mut self, domain: &str, timeout: Duration) -> std::io::Result<Features> {
        self.received.clear();
        self.send(stream_header(domain).as_bytes()).await?;
        match self.read_until(timeout, |received| features_complete(&String::from_utf8_lossy(received))).await {
            ReadEnd::Found => Ok(Features::parse(&String::from_utf8_lossy(&self.received))),
            end => Err(std::io::Error::other(format!(
                "no stream features ({end:?}); received {:?}",
                String::from_utf8_lossy(&self.received)
            ))),
        }
    }

    /// Sends `<starttls/>`, waits for `<proceed/>` and does the TLS handshake.
    pub async fn starttls(&mut self, server_name: &str, ca: &CertificateDer<'static>, versions: TlsVersions) -> std::io::Result<()> {
        self.received.clear();
        self.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").await?;
        match self.read_until_text("<proceed", Duration::from_secs(10)).await {
            ReadEnd::Found => {}
            end => {
                return Err(std::io::Error::other(format!(
                    "no <proceed/> ({end:?}); received {:?}",
                    String::from_utf8_lossy(&self.received)
                )))
            }
        }
        self.received.clear();
        self.start_tls(server_name, ca, versions, false).await
    }

    async fn start_tls(&mut self, server_name: &str, ca: &CertificateDer<'static>, versions: TlsVersions, direct: bool) -> std::io::Result<()> {
        let (config, verifier) = client_config(ca, versions, direct);
        let Connection::Plain(tcp) = std::mem::replace(&mut self.connection, Connection::Closed) else {
            return Err(std::io::Error::other("TLS is already on"));
        };
        let name = ServerName::try_from(server_name.to_string()).map_err(|error| std::io::Error::other(error.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp)).await.map_err(|_| timed_out("TLS handshake"))??;
        self.connection = Connection::Tls(Box::new(tls));
        self.verifier = Some(verifier);
        Ok(())
    }

    /// TLS version, cipher suite and certificate verdict, once TLS is on.
    pub fn tls_details(&self) -> Option<TlsDetails> {
        let Connection::Tls(tls) = &self.connection else { return None };
        let (_, session) = tls.get_ref();
        let version = session.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
        let suite = session.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
        let certificate = session.peer_certificates().and_then(|chain| chain.first().cloned()).map(|c| c.into_owned());
        let verdict = self
            .verifier
            .as_ref()
            .and_then(|verifier| verifier.verdict.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or(Err("not checked".into()));
        Some(TlsDetails { version, cipher_suite: suite, certificate_check: verdict, peer_certificate: certificate })
    }

    pub fn received_text(&self) -> String {
        String::from_utf8_lossy(&self.received).to_string()
    }

    /// SASL PLAIN for `user` (local part) and `password`: `Ok(true)` on
    /// `<success/>`, `Ok(false)` on `<failure/>`.
    pub async fn sasl_plain(&mut self, user: &str, password: &str) -> std::io::Result<bool> {
        self.received.clear();
        let credentials = crate::proxy::base64(format!("\0{user}\0{password}").as_bytes());
        self.send(format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{credentials}</auth>").as_bytes()).await?;
        let end = self
            .read_until(Duration::from_secs(10), |received| contains(received, b"<success") || contains(received, b"<failure"))
            .await;
        match end {
            ReadEnd::Found => Ok(contains(&self.received, b"<success")),
            end => Err(std::io::Error::other(format!("no SASL outcome ({end:?}); received {:?}", self.received_text()))),
        }
    }

    /// Sends `</stream:stream>` and shuts the connection down.
    pub async fn close(mut self) {
        let _ = self.send(b"</stream:stream>").await;
        let _ = self.connection.shutdown().await;
    }
}

fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// STARTTLS on 127.0.0.1:`port` for `domain`: the features before and after TLS.
pub async fn probe_starttls(port: u16, domain: &str, ca: &CertificateDer<'static>, versions: TlsVersions) -> std::io::Result<Probe> {
    let mut client = RawClient::connect(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let plaintext = client.open_stream(domain, Duration::from_secs(10)).await?;
    client.starttls(domain, ca, versions).await?;
    let features = client.open_stream(domain, Duration::from_secs(10)).await?;
    let tls = client.tls_details().expect("TLS is on");
    client.close().await;
    Ok(Probe { plaintext: Some(plaintext), features, tls_version: tls.version, cipher_suite: tls.cipher_suite, certificate_check: tls.certificate_check, peer_certificate: tls.peer_certificate })
}

/// Direct TLS (XEP-0368) on 127.0.0.1:`port`, SNI `domain`.
pub async fn probe_direct_tls(port: u16, domain: &str, ca: &CertificateDer<'static>, versions: TlsVersions) -> std::io::Result<Probe> {
    let mut client = RawClient::connect_direct_tls(SocketAddr::from(([127, 0, 0, 1], port)), domain, ca, versions).await?;
    let features = client.open_stream(domain, Duration::from_secs(10)).await?;
    let tls = client.tls_details().expect("TLS is on");
    client.close().await;
    Ok(Probe { plaintext: None, features, tls_version: tls.version, cipher_suite: tls.cipher_suite, certificate_check: tls.certificate_check, peer_certificate: tls.peer_certificate })
}

/// STARTTLS to 127.0.0.1:`port` then SASL PLAIN as `jid` (`user@domain`):
/// whether the server accepted the password.
pub async fn login_plain(port: u16, jid: &str, password: &str, ca: &CertificateDer<'static>) -> std::io::Result<bool> {
    let (user, domain) = jid.split_once('@').ok_or_else(|| std::io::Error::other("a JID needs a domain"))?;
    let mut client = RawClient::connect(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    client.open_stream(domain, Duration::from_secs(10)).await?;
    client.starttls(domain, ca, TlsVersions::Any).await?;
    client.open_stream(domain, Duration::from_secs(10)).await?;
    let accepted = client.sasl_plain(user, password).await?;
    client.close().await;
    Ok(accepted)
}

/// `login_plain` from synchronous code.
pub fn login_plain_blocking(port: u16, jid: &str, password: &str, ca: &CertificateDer<'static>) -> std::io::Result<bool> {
    super::block_on(login_plain(port, jid, password, ca))
}

/// `probe_starttls` from synchronous code.
pub fn probe_starttls_blocking(port: u16, domain: &str, ca: &CertificateDer<'static>, versions: TlsVersions) -> std::io::Result<Probe> {
    super::block_on(probe_starttls(port, domain, ca, versions))
}

/// `probe_direct_tls` from synchronous code.
pub fn probe_direct_tls_blocking(port: u16, domain: &str, ca: &CertificateDer<'static>, versions: TlsVersions) -> std::io::Result<Probe> {
    super::block_on(probe_direct_tls(port, domain, ca, versions))
}

/// A rustls client config trusting only `ca`, whose verifier records its verdict.
pub fn client_config(ca: &CertificateDer<'static>, versions: TlsVersions, direct_tls: bool) -> (Arc<ClientConfig>, Arc<RecordingVerifier>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).expect("test CA is a valid certificate");
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().expect("verifier");
    let verifier = Arc::new(RecordingVerifier { inner, verdict: Mutex::new(None) });
    let protocol_versions: &[&'static rustls::SupportedProtocolVersion] = match versions {
        TlsVersions::Any => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        TlsVersions::Tls13Only => &[&rustls::version::TLS13],
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(protocol_versions)
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    if direct_tls {
        config.alpn_protocols = vec![b"xmpp-client".to_vec()];
    }
    (Arc::new(config), verifier)
}

/// Delegates to webpki but accepts every certificate, keeping webpki's verdict.
#[derive(Debug)]
pub struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pub verdict: Mutex<Option<Result<(), String>>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now).map(|_| ()).map_err(|error| error.to_string());
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window == needle)
}

/// The body of the first `<[prefix:]name ...>...</...name>` (or "" if it is
/// self-closing) in `text`.
fn element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(found) = text[from..].find('<') {
        let start = from + found + 1;
        let tag_end = text[start..].find(['>', ' ', '/', '\t', '\n', '\r']).map(|i| start + i)?;
        let tag = &text[start..tag_end];
        if tag.rsplit(':').next() == Some(name) && !tag.starts_with('/') {
            let open_end = start + text[start..].find('>')?;
            if text[..open_end].ends_with('/') {
                return Some("");
            }
            let close = format!("</{tag}>");
            let body_end = text[open_end..].find(&close).map(|i| open_end + i)?;
            return Some(&text[open_end + 1..body_end]);
        }
        from = start;
    }
    None
}

/// The texts of every `<name>TEXT</name>`.
fn texts(text: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + close.len()..];
    }
    out
}

/// The values of `attribute` on every `<name .../>` in `text`.
fn attribute_values(text: &str, name: &str, attribute: &str) -> Vec<String> {
    let mut out = Vec::new();
    let open = format!("<{name}");
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find('>').unwrap_or(after.len());
        let tag = &after[..end];
        for quote in ['\'', '"'] {
            let key = format!("{attribute}={quote}");
            if let Some(position) = tag.find(&key) {
                let value = &tag[position + key.len()..];
                if let Some(stop) = value.find(quote) {
                    out.push(value[..stop].to_string());
                }
            }
        }
        rest = &after[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Features;

    #[test]
    fn parses_features() {
        let raw = "<?xml version='1.0'?><stream:stream from='x'><stream:features>\
            <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
            <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>\
            <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'/><channel-binding type=\"tls-server-end-point\"/></sasl-channel-binding>\
            <sm xmlns='urn:xmpp:sm:3'/></stream:features>";
        let features = Features::parse(raw);
        assert!(features.starttls && features.starttls_required && features.stream_management);
        assert_eq!(features.mechanisms, ["SCRAM-SHA-1", "PLAIN"]);
        assert_eq!(features.channel_binding_types, Some(vec!["tls-exporter".to_string(), "tls-server-end-point".to_string()]));
        let bare = Features::parse("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>");
        assert!(bare.starttls && !bare.starttls_required && bare.channel_binding_types.is_none());
    }
}
