//! Opening a byte stream to a server. One trait, so that the XMPP code does
//! not know what carries it: the system Tor's SOCKS port (`SocksDialer`), a
//! direct connection to this computer (`LoopbackDialer`), and embedded arti
//! (`EmbeddedDialer`). `Dialers::choose` picks one per connection attempt
//! from the account's Tor mode, and never falls back to a direct connection.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ipc::xmpp::TorMode;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::embedded::{EmbeddedError, EmbeddedTor};
use crate::socks::{self, Authenticated, Credentials, Offer, SocksError};

/// A connected byte stream, whatever carries it.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

pub type BoxedStream = Box<dyn ByteStream>;

/// A dialed stream, and the Tor circuit that carries it when that is known
/// (embedded Tor; the system Tor does not say).
pub struct Dialed {
    pub stream: BoxedStream,
    pub circuit: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("this version of Burrow connects only to servers on this computer (127.0.0.1 or ::1), and {0} is not one; Tor connections are not available yet, so nothing was sent")]
    NotLoopback(String),
    #[error("could not reach {host} port {port}: {source}")]
    Unreachable { host: String, port: u16, source: std::io::Error },
    #[error("no Tor was found ({tried}), and Burrow never connects without Tor, so nothing was sent; start Tor (in Tails: wait until Tor is ready), or set TOR_SOCKS_HOST and TOR_SOCKS_PORT to where its SOCKS port listens")]
    NoTor { tried: String },
    #[error("Tor's SOCKS port at {proxy} did not carry the connection to {host} port {port}: {source}; nothing was sent outside Tor")]
    Socks { proxy: SocketAddr, host: String, port: u16, source: SocksError },
    #[error("Tor's SOCKS port at {proxy} did not answer within {seconds} seconds; nothing was sent outside Tor")]
    SocksTimeout { proxy: SocketAddr, seconds: u64 },
    #[error("the Tor setting in Burrow's environment is wrong ({0}); nothing was sent")]
    BadTorSetting(String),
    #[error("{0}; nothing was sent")]
    NoRandom(String),
    #[error("Burrow found a system Tor, so its network process may reach Tor's SOCKS port and nothing else; a server on this computer ({0}) cannot be reached directly in this mode, and through Tor it would be another computer's; nothing was sent")]
    HeldToSystemTor(String),
    #[error("Burrow's own Tor (tor=embedded) cannot run here: a system Tor was found (TOR_SOCKS_PORT is set, as in Tails, or one answered at 9050 or 9150 when Burrow started), so the network process may connect to that Tor's SOCKS port alone; use tor=system or tor=auto; nothing was sent")]
    EmbeddedConfined,
    #[error("{source}; nothing was sent outside Tor")]
    Embedded { source: EmbeddedError },
}

impl DialError {
    /// Whether the user must act before another attempt can succeed.
    pub fn needs_the_user(&self) -> bool {
        match self {
            DialError::NotLoopback(_) | DialError::BadTorSetting(_) | DialError::EmbeddedConfined | DialError::HeldToSystemTor(_) => true,
            DialError::Embedded { source } => source.needs_the_user(),
            DialError::Socks { source, .. } => matches!(
                source,
                SocksError::NoAcceptableMethod | SocksError::UnofferedMethod(_) | SocksError::AuthRefused(_) | SocksError::BadAuthVersion(_) | SocksError::NotSocks5(_) | SocksError::BadName(_)
            ),
            DialError::Unreachable { .. } | DialError::NoTor { .. } | DialError::SocksTimeout { .. } | DialError::NoRandom(_) => false,
        }
    }
}

pub type DialFuture<'a> = Pin<Box<dyn Future<Output = Result<Dialed, DialError>> + Send + 'a>>;

pub trait Dialer: Send + Sync {
    /// Opens a stream to `host` (a name or an address) and `port`.
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a>;
    /// For the `account` event's `tor` field: `system`, `embedded`, or `none`.
    fn tor(&self) -> &'static str;
}

/// Direct TCP to the loopback interface only. It never resolves a name
/// (DNS outside Tor would reveal what the user connects to): it takes an
/// address literal, or `localhost`, which is 127.0.0.1 by definition
/// (RFC 6761 §6.3).
pub struct LoopbackDialer;

impl LoopbackDialer {
    pub fn address(host: &str, port: u16) -> Result<SocketAddr, DialError> {
        let literal = host.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')).unwrap_or(host);
        let ip = if literal.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            literal.parse::<IpAddr>().map_err(|_| DialError::NotLoopback(host.to_owned()))?
        };
        if !ip.is_loopback() {
            return Err(DialError::NotLoopback(host.to_owned()));
        }
        Ok(SocketAddr::new(ip, port))
    }
}

impl Dialer for LoopbackDialer {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            let address = Self::address(host, port)?;
            let stream = tokio::net::TcpStream::connect(address)
                .await
                .map_err(|source| DialError::Unreachable { host: host.to_owned(), port, source })?;
            // Stanzas are small and interactive.
            let _ = stream.set_nodelay(true);
            Ok(Dialed { stream: Box::new(stream), circuit: None })
        })
    }

    fn tor(&self) -> &'static str {
        "none"
    }
}

/// Where the system Tor's SOCKS port may be: `TOR_SOCKS_HOST` and
/// `TOR_SOCKS_PORT` (Tails sets both), else 127.0.0.1:9050 (tor's default),
/// then 127.0.0.1:9150 (Tor Browser's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemTor {
    pub candidates: Vec<SocketAddr>,
    /// From the environment, rather than the defaults.
    pub configured: bool,
}

impl SystemTor {
    pub const DEFAULT_PORTS: [u16; 2] = [9050, 9150];

    /// From the values of `TOR_SOCKS_HOST` and `TOR_SOCKS_PORT`. The host
    /// must be an address (or `localhost`): a name would need a DNS lookup
    /// outside Tor.
    pub fn from_environment(host: Option<&str>, port: Option<&str>) -> Result<SystemTor, String> {
        if host.is_none() && port.is_none() {
            let candidates = Self::DEFAULT_PORTS.iter().map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), *port)).collect();
            return Ok(SystemTor { candidates, configured: false });
        }
        let host = host.unwrap_or("127.0.0.1");
        let literal = host.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')).unwrap_or(host);
        let ip = if literal.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            literal.parse::<IpAddr>().map_err(|_| format!("TOR_SOCKS_HOST={host:?} is not an IP address"))?
        };
        let port = match port {
            None => Self::DEFAULT_PORTS[0],
            Some(port) => port.parse::<u16>().ok().filter(|port| *port != 0).ok_or_else(|| format!("TOR_SOCKS_PORT={port:?} is not a port number"))?,
        };
        Ok(SystemTor { candidates: vec![SocketAddr::new(ip, port)], configured: true })
    }

    fn tried(&self) -> String {
        let list: Vec<String> = self.candidates.iter().map(|address| address.to_string()).collect();
        let list = list.join(" or ");
        if self.configured {
            format!("nothing answers at {list}, where TOR_SOCKS_HOST and TOR_SOCKS_PORT say it is")
        } else {
            format!("nothing answers at {list}")
        }
    }
}

/// Through the system Tor's SOCKS port: the name goes to Tor unresolved,
/// with fresh random credentials for each attempt, so that Tor
/// (`IsolateSOCKSAuth`) gives each account, and each attempt, a circuit of
/// its own.
pub struct SocksDialer {
    pub tor: SystemTor,
    pub offer: Offer,
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
}

impl SocksDialer {
    pub fn new(tor: SystemTor, offer: Offer) -> Self {
        // Tor itself gives up on a stream after two minutes.
        SocksDialer { tor, offer, connect_timeout: Duration::from_secs(10), handshake_timeout: Duration::from_secs(130) }
    }

    /// Whether a SOCKS port answers (for `tor=auto`). The probe connection
    /// is closed unused.
    pub async fn answers(&self) -> bool {
        self.reach_tor().await.is_ok()
    }

    /// The first candidate that accepts a TCP connection.
    async fn reach_tor(&self) -> Result<(SocketAddr, tokio::net::TcpStream), DialError> {
        for proxy in &self.tor.candidates {
            if let Ok(Ok(stream)) = tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(proxy)).await {
                return Ok((*proxy, stream));
            }
        }
        Err(DialError::NoTor { tried: self.tor.tried() })
    }
}

impl Dialer for SocksDialer {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            let credentials = Credentials::random().map_err(|error| DialError::NoRandom(error.to_string()))?;
            let (proxy, mut stream) = self.reach_tor().await?;
            let _ = stream.set_nodelay(true);
            let handshake = socks::connect(&mut stream, host, port, &credentials, self.offer);
            match tokio::time::timeout(self.handshake_timeout, handshake).await {
                Err(_) => Err(DialError::SocksTimeout { proxy, seconds: self.handshake_timeout.as_secs() }),
                Ok(Err(source)) => Err(DialError::Socks { proxy, host: host.to_owned(), port, source }),
                Ok(Ok(authenticated)) => {
                    if authenticated == Authenticated::None {
                        eprintln!("burrow-net: the SOCKS server at {proxy} took no credentials: this stream is not isolated from others");
                    }
                    Ok(Dialed { stream: Box::new(stream), circuit: None })
                }
            }
        })
    }

    fn tor(&self) -> &'static str {
        "system"
    }
}

/// Through embedded Tor (arti, `embedded.rs`): the name goes to Tor
/// unresolved, each attempt on a circuit of its own.
pub struct EmbeddedDialer {
    pub tor: EmbeddedTor,
}

impl Dialer for EmbeddedDialer {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            let carried = self.tor.connect(host, port).await.map_err(|source| DialError::Embedded { source })?;
            Ok(Dialed { stream: Box::new(carried.stream), circuit: carried.circuit })
        })
    }

    fn tor(&self) -> &'static str {
        "embedded"
    }
}

/// Every dialer of the process, and the rule that picks one:
///
/// - `tor=system`: the system Tor's SOCKS port, always, even for a server
///   on this computer.
/// - `tor=embedded`: embedded arti, always; refused in plain words when
///   net is confined to the system Tor's SOCKS port (`TOR_SOCKS_PORT`).
/// - `tor=auto`: a server on this computer (a loopback address or
///   `localhost`: Tor could not reach it anyway) is dialed directly; any
///   other goes through the system Tor if its SOCKS port answers, else
///   through embedded arti, else (net confined to the SOCKS port) it is the
///   "no Tor" error, never a direct connection.
#[derive(Clone)]
pub struct Dialers {
    pub loopback: Arc<LoopbackDialer>,
    pub system: Result<Arc<SocksDialer>, String>,
    /// `None` when net may connect to the SOCKS port alone.
    pub embedded: Option<Arc<EmbeddedDialer>>,
    /// Landlock lets net reach the system Tor's SOCKS port alone.
    pub held_to_system_tor: bool,
}

impl Dialers {
    pub fn new(system: Result<SystemTor, String>, offer: Offer, embedded: Option<EmbeddedTor>) -> Self {
        Dialers {
            loopback: Arc::new(LoopbackDialer),
            system: system.map(|tor| Arc::new(SocksDialer::new(tor, offer))),
            embedded: embedded.map(|tor| Arc::new(EmbeddedDialer { tor })),
            held_to_system_tor: false,
        }
    }

    /// In system-Tor mode (see net's `policy.rs`), where nothing but the
    /// SOCKS port can be reached: a loopback server in `tor=auto` is a clear
    /// error rather than a connection Landlock refuses.
    pub fn held_to_system_tor(mut self, held: bool) -> Self {
        self.held_to_system_tor = held;
        self
    }

    /// The dialer for one attempt. In `tor=auto` this asks whether the
    /// system Tor answers, every time: it may have started or stopped.
    pub async fn choose(&self, mode: TorMode, host: &str) -> Result<Arc<dyn Dialer>, DialError> {
        let system = || match &self.system {
            Ok(dialer) => Ok(dialer.clone()),
            Err(problem) => Err(DialError::BadTorSetting(problem.clone())),
        };
        match mode {
            TorMode::Auto if LoopbackDialer::address(host, 0).is_ok() => match self.held_to_system_tor {
                true => Err(DialError::HeldToSystemTor(host.to_owned())),
                false => Ok(self.loopback.clone()),
            },
            TorMode::System => Ok(system()?),
            TorMode::Embedded => match &self.embedded {
                Some(dialer) => Ok(dialer.clone()),
                None => Err(DialError::EmbeddedConfined),
            },
            TorMode::Auto => {
                let socks = system()?;
                match &self.embedded {
                    Some(embedded) if !socks.answers().await => Ok(embedded.clone()),
                    // The SOCKS dialer then says that no Tor was found.
                    _ => Ok(socks),
                }
            }
        }
    }

    /// For the `account` event before an attempt has chosen: what the mode
    /// will most likely use (`tor=auto` prefers the system Tor).
    pub fn expected(&self, mode: TorMode, host: &str) -> &'static str {
        match mode {
            TorMode::Auto if LoopbackDialer::address(host, 0).is_ok() && !self.held_to_system_tor => "none",
            TorMode::Auto | TorMode::System => "system",
            TorMode::Embedded => "embedded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_pass() {
        assert_eq!(LoopbackDialer::address("127.0.0.1", 5222).unwrap(), "127.0.0.1:5222".parse().unwrap());
        assert_eq!(LoopbackDialer::address("127.8.9.10", 1).unwrap(), "127.8.9.10:1".parse().unwrap());
        assert_eq!(LoopbackDialer::address("[::1]", 5223).unwrap(), "[::1]:5223".parse().unwrap());
        assert_eq!(LoopbackDialer::address("::1", 5223).unwrap(), "[::1]:5223".parse().unwrap());
        assert_eq!(LoopbackDialer::address("LocalHost", 5).unwrap(), "127.0.0.1:5".parse().unwrap());
        for refused in ["10.0.0.1", "192.168.1.1", "0.0.0.0", "::", "::ffff:127.0.0.1", "example.org", "localhost.example.org", "8.8.8.8"] {
            assert!(matches!(LoopbackDialer::address(refused, 5222), Err(DialError::NotLoopback(_))), "{refused}");
        }
    }

    #[tokio::test]
    async fn dials_a_loopback_listener_and_refuses_the_rest() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
        assert!(LoopbackDialer.dial("127.0.0.1", port).await.is_ok());
        accepted.await.unwrap().unwrap();
        assert!(matches!(LoopbackDialer.dial("example.org", 5222).await, Err(DialError::NotLoopback(_))));
    }

    #[test]
    fn the_system_tor_is_found_where_the_environment_says() {
        let defaults = SystemTor::from_environment(None, None).unwrap();
        assert_eq!(defaults.candidates, ["127.0.0.1:9050".parse::<SocketAddr>().unwrap(), "127.0.0.1:9150".parse().unwrap()]);
        assert!(!defaults.configured);
        let tails = SystemTor::from_environment(Some("127.0.0.1"), Some("9050")).unwrap();
        assert_eq!(tails.candidates, ["127.0.0.1:9050".parse::<SocketAddr>().unwrap()]);
        assert!(tails.configured);
        assert_eq!(SystemTor::from_environment(Some("[::1]"), Some("9999")).unwrap().candidates, ["[::1]:9999".parse::<SocketAddr>().unwrap()]);
        assert_eq!(SystemTor::from_environment(None, Some("9150")).unwrap().candidates, ["127.0.0.1:9150".parse::<SocketAddr>().unwrap()]);
        assert!(SystemTor::from_environment(Some("tor.example"), Some("9050")).unwrap_err().contains("not an IP address"));
        assert!(SystemTor::from_environment(Some("127.0.0.1"), Some("0")).unwrap_err().contains("not a port"));
        assert!(SystemTor::from_environment(Some("127.0.0.1"), Some("nine")).unwrap_err().contains("not a port"));
    }

    /// Dialers whose system Tor is at 127.0.0.1:`port`, with or without
    /// embedded Tor (never started here: nothing dials through it).
    fn dialers(port: u16, embedded: bool) -> Dialers {
        let (progress, _) = tokio::sync::mpsc::channel(1);
        let embedded = embedded.then(|| EmbeddedTor::new(std::env::temp_dir().join("burrow-dialer-test-unused"), progress));
        Dialers::new(SystemTor::from_environment(Some("127.0.0.1"), Some(&port.to_string())), Offer::UsernameOnly, embedded)
    }

    fn dialers_to(port: u16) -> Dialers {
        dialers(port, false)
    }

    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    async fn chosen(dialers: &Dialers, mode: TorMode, host: &str) -> &'static str {
        dialers.choose(mode, host).await.unwrap_or_else(|error| panic!("{error}")).tor()
    }

    #[tokio::test]
    async fn the_mode_picks_the_dialer() {
        let tor = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let answering = tor.local_addr().unwrap().port();
        let closed = closed_port();
        for embedded in [false, true] {
            let with_tor = dialers(answering, embedded);
            assert_eq!(chosen(&with_tor, TorMode::Auto, "127.0.0.1").await, "none");
            assert_eq!(chosen(&with_tor, TorMode::Auto, "localhost").await, "none");
            assert_eq!(chosen(&with_tor, TorMode::Auto, "chat.example.org").await, "system");
            assert_eq!(chosen(&with_tor, TorMode::Auto, "10.0.0.1").await, "system");
            assert_eq!(chosen(&with_tor, TorMode::System, "127.0.0.1").await, "system");
            assert_eq!(chosen(&with_tor, TorMode::System, "chat.example.org").await, "system");
            let without_tor = dialers(closed, embedded);
            assert_eq!(chosen(&without_tor, TorMode::Auto, "::1").await, "none");
            assert_eq!(chosen(&without_tor, TorMode::System, "chat.example.org").await, "system");
            // No system Tor: auto takes embedded Tor if net may reach relays,
            // else the SOCKS dialer, which says no Tor was found.
            let auto = chosen(&without_tor, TorMode::Auto, "chat.example.org").await;
            assert_eq!(auto, if embedded { "embedded" } else { "system" });
        }
        assert_eq!(chosen(&dialers(answering, true), TorMode::Embedded, "chat.example.org").await, "embedded");
        assert_eq!(chosen(&dialers(answering, true), TorMode::Embedded, "127.0.0.1").await, "embedded");
        let confined = match dialers(answering, false).choose(TorMode::Embedded, "chat.example.org").await {
            Err(error) => error,
            Ok(dialer) => panic!("chose {} though net may reach the SOCKS port alone", dialer.tor()),
        };
        assert!(matches!(confined, DialError::EmbeddedConfined), "{confined}");
        assert!(confined.needs_the_user());
        assert!(confined.to_string().contains("TOR_SOCKS_PORT"), "{confined}");
        let broken = Dialers::new(SystemTor::from_environment(Some("tor.example"), None), Offer::UsernameOnly, None);
        assert!(matches!(broken.choose(TorMode::System, "127.0.0.1").await, Err(DialError::BadTorSetting(_))));
        // A wrong Tor setting is said, not passed over for embedded Tor.
        let broken_with_embedded = {
            let (progress, _) = tokio::sync::mpsc::channel(1);
            let embedded = EmbeddedTor::new(std::env::temp_dir().join("burrow-dialer-test-unused"), progress);
            Dialers::new(SystemTor::from_environment(Some("tor.example"), None), Offer::UsernameOnly, Some(embedded))
        };
        assert!(matches!(broken_with_embedded.choose(TorMode::Auto, "chat.example.org").await, Err(DialError::BadTorSetting(_))));
        // A broken Tor setting does not stop a loopback server in auto mode.
        assert!(broken.choose(TorMode::Auto, "::1").await.is_ok());
        // Choosing never starts embedded Tor.
        let auto = dialers(closed, true);
        let _ = auto.choose(TorMode::Auto, "chat.example.org").await;
        assert!(!auto.embedded.as_ref().unwrap().tor.started().await);
    }

    #[tokio::test]
    async fn the_expected_dialer_follows_the_mode() {
        let dialers = dialers_to(9050);
        assert_eq!(dialers.expected(TorMode::Auto, "127.0.0.1"), "none");
        assert_eq!(dialers.expected(TorMode::Auto, "chat.example.org"), "system");
        assert_eq!(dialers.expected(TorMode::System, "::1"), "system");
        assert_eq!(dialers.expected(TorMode::Embedded, "chat.example.org"), "embedded");
        // Held to the system Tor's port, a loopback server is a clear error.
        let held = dialers_to(9050).held_to_system_tor(true);
        let refused = held.choose(TorMode::Auto, "127.0.0.1").await.err().expect("a loopback server while held to Tor");
        assert!(matches!(refused, DialError::HeldToSystemTor(_)) && refused.needs_the_user(), "{refused}");
        assert_eq!(held.choose(TorMode::System, "127.0.0.1").await.unwrap().tor(), "system");
        assert_eq!(held.expected(TorMode::Auto, "127.0.0.1"), "system");
    }

    #[tokio::test]
    async fn no_tor_is_an_error_and_no_direct_connection() {
        // A port that is closed, and a server that must not be reached.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_port = server.local_addr().unwrap().port();
        let dialers = dialers_to(closed_port);
        for mode in [TorMode::System, TorMode::Auto] {
            let dialer = dialers.choose(mode, "chat.example.org").await.unwrap();
            let error = match dialer.dial("chat.example.org", server_port).await {
                Err(error) => error,
                Ok(_) => panic!("dialed without Tor"),
            };
            assert!(matches!(error, DialError::NoTor { .. }), "{error}");
            assert!(error.to_string().contains("start Tor"), "{error}");
            assert!(!error.needs_the_user());
        }
        let dialer = dialers.choose(TorMode::System, "127.0.0.1").await.unwrap();
        assert!(matches!(dialer.dial("127.0.0.1", server_port).await, Err(DialError::NoTor { .. })));
        let accepted = tokio::time::timeout(std::time::Duration::from_millis(200), server.accept()).await;
        assert!(accepted.is_err(), "something connected to the server directly");
    }

    #[tokio::test]
    async fn the_socks_dialer_carries_the_stream_with_fresh_credentials() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_port = proxy.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut stream, _) = proxy.accept().await.unwrap();
                let mut greeting = [0u8; 3];
                stream.read_exact(&mut greeting).await.unwrap();
                assert_eq!(greeting, [5, 1, 2]);
                stream.write_all(&[5, 2]).await.unwrap();
                let mut auth = [0u8; 2 + 32 + 1 + 32];
                stream.read_exact(&mut auth).await.unwrap();
                stream.write_all(&[1, 0]).await.unwrap();
                let mut request = [0u8; 5 + 16 + 2];
                stream.read_exact(&mut request).await.unwrap();
                assert_eq!(&request[..5], [5, 1, 0, 3, 16]);
                assert_eq!(&request[5..21], b"chat.example.org");
                stream.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0, b'h', b'i']).await.unwrap();
                seen.push(auth.to_vec());
            }
            seen
        });
        let dialers = dialers_to(proxy_port);
        for _ in 0..2 {
            let dialer = dialers.choose(TorMode::Auto, "chat.example.org").await.unwrap();
            let mut stream = dialer.dial("chat.example.org", 5222).await.unwrap_or_else(|error| panic!("{error}")).stream;
            let mut greeting = [0u8; 2];
            stream.read_exact(&mut greeting).await.unwrap();
            assert_eq!(&greeting, b"hi");
        }
        let seen = server.await.unwrap();
        assert_ne!(seen[0], seen[1], "the second attempt reused the first one's credentials");
    }

    #[tokio::test]
    async fn a_silent_socks_port_times_out() {
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_port = proxy.local_addr().unwrap().port();
        let _held = tokio::spawn(async move {
            let (stream, _) = proxy.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(stream);
        });
        let mut dialer = SocksDialer::new(SystemTor::from_environment(None, Some(&proxy_port.to_string())).unwrap(), Offer::UsernameOnly);
        dialer.handshake_timeout = Duration::from_millis(300);
        let error = match dialer.dial("chat.example.org", 5222).await {
            Err(error) => error,
            Ok(_) => panic!("a silent proxy connected"),
        };
        assert!(matches!(error, DialError::SocksTimeout { .. }), "{error}");
    }
}
