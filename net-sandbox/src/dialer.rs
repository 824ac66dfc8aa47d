//! Opening a byte stream to a server. One trait, so that the Tor issue can
//! add its dialers (system Tor's SOCKS port, embedded arti) without touching
//! the XMPP code; today the only dialer reaches servers on this computer.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// A connected byte stream, whatever carries it.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

pub type BoxedStream = Box<dyn ByteStream>;

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("this version of Burrow connects only to servers on this computer (127.0.0.1 or ::1), and {0} is not one; Tor connections are not available yet, so nothing was sent")]
    NotLoopback(String),
    #[error("could not reach {host} port {port}: {source}")]
    Unreachable { host: String, port: u16, source: std::io::Error },
}

pub type DialFuture<'a> = Pin<Box<dyn Future<Output = Result<BoxedStream, DialError>> + Send + 'a>>;

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
            Ok(Box::new(stream) as BoxedStream)
        })
    }

    fn tor(&self) -> &'static str {
        "none"
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
}
